package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/examples/internal/harness"
	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/region"
	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// demoUser is the user the test IdP signs in; the test directory holds
// the same person.
const demoUser = "alice@example.com"

// demoSSO configures a profile from an identity provider's metadata and,
// with the test IdP, signs a user in. It returns the verified NameID ("" with
// a real IdP, where the sign-in happens in a browser).
func demoSSO(ctx context.Context, out *printer, acct string, r region.Region, app region.App, metadataURL string) (string, error) {
	if metadataURL != "" {
		return "", realIdP(ctx, out, acct, r, app, metadataURL)
	}
	idp, err := samltest.Start(samltest.WithUser(demoUser, map[string][]string{
		"email":       {demoUser},
		"displayName": {"Alice Example"},
		"groups":      {"Staff"},
	}))
	if err != nil {
		return "", err
	}
	defer idp.Close()
	return testIdPSignIn(ctx, out, idp, acct, r, app)
}

func testIdPSignIn(ctx context.Context, out *printer, idp *samltest.IdP, acct string, r region.Region, app region.App) (string, error) {
	// The administrator's side: a profile filled from the IdP's metadata.
	p := profile.New(profile.Other)
	p.Description = "Quickstart test IdP"
	p.MetadataURL = idp.MetadataURL()
	if err := p.Import(ctx, saml.WithHTTPClient(idp.Client())); err != nil {
		return "", err
	}
	p.EnforceSAMLAdminConsole = true
	p.EnforceSAMLPersonalPortal = true
	p.EnforceSAMLApplications = true
	if err := p.Validate(); err != nil {
		return "", err
	}
	showProfile(out, "Authentication profile (metadata from the test IdP)", p)

	sp, err := p.ServiceProvider(r, acct, app)
	if err != nil {
		return "", err
	}
	out.section("Service provider for " + app.String())
	out.kv("Entity ID", sp.EntityID())
	out.kv("ACS URL", sp.ACSURL())
	if err := out.flush(); err != nil {
		return "", err
	}

	// The service provider's web server answers for the grid's API host on
	// loopback; the "browser" below is routed to it.
	cert, ca, err := harness.ServerCertificate(r.APIHost())
	if err != nil {
		return "", err
	}
	srv := newSPServer(sp, app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	hs := &http.Server{
		Handler:           srv,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = hs.ServeTLS(ln, "", "") }()
	defer hs.Close()

	idpRoots, err := harness.RootCAs(idp.Client())
	if err != nil {
		return "", err
	}
	roots := idpRoots.Clone()
	roots.AddCert(ca)
	browser := harness.Browser(map[string]string{r.APIHost() + ":443": ln.Addr().String()}, roots)

	// 1. The user opens the service; it redirects to the IdP with an
	//    AuthnRequest, and the IdP answers with a form that posts the signed
	//    response to the ACS.
	resp, err := browser.Get("https://" + r.APIHost() + loginPath)
	if err != nil {
		return "", fmt.Errorf("sign-in: %w", err)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("sign-in: IdP answered %s", resp.Status)
	}
	action, fields, err := harness.ParsePostForm(page)
	if err != nil {
		return "", fmt.Errorf("sign-in: IdP page: %w", err)
	}
	reqs := idp.AuthnRequests()
	if len(reqs) != 1 {
		return "", fmt.Errorf("sign-in: the IdP received %d AuthnRequests", len(reqs))
	}
	got := reqs[0]

	// 2. The browser posts the response to the ACS, which verifies it.
	resp, err = browser.PostForm(action, fields)
	if err != nil {
		return "", fmt.Errorf("sign-in: post to ACS: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("sign-in: ACS answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	a := srv.assertion()
	if a == nil {
		return "", errors.New("sign-in: the ACS kept no assertion")
	}

	out.section("Sign-in over HTTP (SP-initiated)")
	out.kv("1. AuthnRequest", fmt.Sprintf("%s via %s to %s", got.ID, bindingName(got.Binding), idp.SSOURL()))
	out.kv("   requested by", got.Issuer)
	out.kv("2. IdP response", fmt.Sprintf("HTTP-POST form to %s", action))
	out.kv("3. ACS", "verified: signature, issuer, destination, recipient, audience, validity, InResponseTo, one-time use")

	// The same response again is refused: assertions are single-use.
	_, replayErr := sp.Verify(ctx, fields.Get("SAMLResponse"), got.ID)
	switch {
	case errors.Is(replayErr, saml.ErrReplay):
		out.kv("   replayed", "refused ("+replayErr.Error()+")")
	case replayErr == nil:
		return "", errors.New("sign-in: a replayed response was accepted")
	default:
		return "", fmt.Errorf("sign-in: replay check: %w", replayErr)
	}

	showAssertion(out, a)
	return a.NameID, out.flush()
}

const loginPath = "/quickstart/login"

// spServer is the service provider's HTTP side: a login endpoint that
// starts SP-initiated sign-in and the ACS.
type spServer struct {
	sp  *saml.ServiceProvider
	app region.App

	mu      sync.Mutex
	pending map[string]string // RelayState -> AuthnRequest ID
	last    *saml.Assertion
}

func newSPServer(sp *saml.ServiceProvider, app region.App) *spServer {
	return &spServer{sp: sp, app: app, pending: map[string]string{}}
}

func (s *spServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == loginPath && r.Method == http.MethodGet:
		s.login(w, r)
	case r.URL.Path == s.app.Path() && r.Method == http.MethodPost:
		s.acs(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *spServer) login(w http.ResponseWriter, r *http.Request) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	relay := hex.EncodeToString(b[:])
	req, err := s.sp.AuthnRequest(relay)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	to, err := req.RedirectURL()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.pending[relay] = req.ID
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

func (s *spServer) acs(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	relay := r.PostForm.Get("RelayState")
	s.mu.Lock()
	id, ok := s.pending[relay]
	delete(s.pending, relay)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "unknown or used RelayState", http.StatusBadRequest)
		return
	}
	a, err := s.sp.Verify(r.Context(), r.PostForm.Get("SAMLResponse"), id)
	if err != nil {
		http.Error(w, "sign-in refused: "+err.Error(), http.StatusForbidden)
		return
	}
	s.mu.Lock()
	s.last = a
	s.mu.Unlock()
	fmt.Fprintf(w, "signed in as %s\n", a.NameID)
}

func (s *spServer) assertion() *saml.Assertion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func bindingName(b string) string {
	switch b {
	case saml.BindingHTTPRedirect:
		return "HTTP-Redirect"
	case saml.BindingHTTPPost:
		return "HTTP-POST"
	}
	return b
}

func showProfile(out *printer, title string, p profile.Profile) {
	out.section(title)
	out.kv("Provider", p.Provider.DisplayName())
	out.kv("Metadata URL", p.MetadataURL)
	out.kv("Issuer", p.IssuerURL)
	out.kv("Login URL", p.LoginURL)
	if p.LogoutURL != "" {
		out.kv("Logout URL", p.LogoutURL)
	}
	certs, err := p.Certificates()
	if err == nil {
		var lines []string
		for _, c := range certs {
			lines = append(lines, fmt.Sprintf("%s (valid until %s)", c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02")))
		}
		out.kv("Certificates", strings.Join(lines, "\n"))
	}
	var enforced []string
	for _, app := range region.Apps() {
		if p.Enforced(app) {
			enforced = append(enforced, app.String())
		}
	}
	if len(enforced) == 0 {
		enforced = []string{"none yet"}
	}
	out.kv("SAML enforced for", strings.Join(enforced, ", "))
	idpInit := "off"
	if p.AllowSingleSignOn {
		idpInit = "on"
	}
	out.kv("IdP-initiated", idpInit)
}

func showAssertion(out *printer, a *saml.Assertion) {
	out.section("Verified assertion")
	out.kv("NameID", a.NameID)
	if a.NameIDFormat != "" {
		out.kv("NameID format", a.NameIDFormat)
	}
	out.kv("Issuer", a.Issuer)
	out.kv("Authn context", a.AuthnContext)
	out.kv("Authenticated at", a.AuthnInstant.UTC().Format(time.RFC3339))
	out.kv("Valid until", a.NotOnOrAfter.UTC().Format(time.RFC3339))
	out.kv("In response to", a.InResponseTo)
	if a.SessionIndex != "" {
		out.kv("Session index", a.SessionIndex)
	}
	names := make([]string, 0, len(a.Attributes))
	for n := range a.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	var lines []string
	for _, n := range names {
		lines = append(lines, n+" = "+strings.Join(a.Attributes[n], ", "))
	}
	if len(lines) > 0 {
		out.kv("Attributes", strings.Join(lines, "\n"))
	}
}

// realIdP imports a real identity provider's metadata and prints the
// sign-in URL: the IdP posts its response to the grid's ACS, so the
// sign-in itself happens in a browser.
func realIdP(ctx context.Context, out *printer, acct string, r region.Region, app region.App, metadataURL string) error {
	provider := profile.Other
	if _, _, err := profile.ParseEntraMetadataURL(metadataURL); err == nil {
		provider = profile.EntraID
	}
	p := profile.New(provider)
	p.MetadataURL = metadataURL
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.Import(ctx); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	showProfile(out, "Authentication profile (metadata from "+hostOf(metadataURL)+")", p)
	sp, err := p.ServiceProvider(r, acct, app)
	if err != nil {
		return err
	}
	req, err := sp.AuthnRequest("")
	if err != nil {
		return err
	}
	to, err := req.RedirectURL()
	if err != nil {
		return err
	}
	out.section("Service provider for " + app.String())
	out.kv("Entity ID", sp.EntityID())
	out.kv("ACS URL", sp.ACSURL())
	out.kv("AuthnRequest", req.ID)
	out.kv("Sign-in URL", to)
	return out.flush()
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}
