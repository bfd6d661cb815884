package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/region"
	"github.com/gatehouse-id/gatehouse/saml"
)

// Paths served besides the application's ACS path.
const (
	loginPath    = "/login"
	logoutPath   = "/logout"
	metadataPath = "/metadata"
	cookieName   = "gatehouse_session"
	// loginCookie ties an outstanding sign-in to the browser that started
	// it, so a response for someone else's sign-in (login CSRF) is refused.
	loginCookie = "gatehouse_login"
)

// config is what the server needs to run.
type config struct {
	Profile profile.Profile
	Region  region.Region
	Account string
	App     region.App
	// BaseURL, when set, replaces https://<api-host> in the entity ID and
	// ACS URL, so the service can run on a host of one's own while keeping
	// the grid's paths. Empty: the grid's own URLs.
	BaseURL string
	// SessionTTL is how long a sign-in lasts (default 8h).
	SessionTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Monitor, when set, supplies current IdP metadata (profiles with
	// MonitorMetadataURL on).
	Monitor *profile.Monitor
}

// server is an HTTP service protected by SAML single sign-on.
type server struct {
	cfg     config
	opts    []profile.Option
	replay  saml.ReplayCache
	static  *saml.ServiceProvider
	mux     *http.ServeMux
	secure  bool
	mu      sync.Mutex
	pending map[string]pendingLogin // RelayState -> outstanding AuthnRequest
	session map[string]session      // session ID -> signed-in user
}

type pendingLogin struct {
	browser   string // value of loginCookie in the browser that started it
	requestID string
	returnTo  string
	expires   time.Time
}

type session struct {
	assertion *saml.Assertion
	expires   time.Time
}

// pendingTTL bounds how long a user may take at the IdP.
const pendingTTL = 10 * time.Minute

// maxPending bounds outstanding logins, so unauthenticated requests cannot
// grow memory without limit.
const maxPending = 10000

func newServer(cfg config) (*server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	s := &server{
		cfg:     cfg,
		replay:  saml.NewMemoryReplayCache(0),
		pending: map[string]pendingLogin{},
		session: map[string]session{},
	}
	s.opts = []profile.Option{profile.WithReplayCache(s.replay), profile.WithClock(cfg.Now)}
	if cfg.BaseURL != "" {
		base, err := url.Parse(cfg.BaseURL)
		if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || (base.Path != "" && base.Path != "/") {
			return nil, fmt.Errorf("base URL %q: want scheme://host[:port]", cfg.BaseURL)
		}
		root := base.Scheme + "://" + base.Host
		acct, err := region.NormalizeAccount(cfg.Account)
		if err != nil {
			return nil, err
		}
		s.opts = append(s.opts, profile.WithConfig(func(c *saml.Config) {
			c.EntityID = root + "/sso/" + acct
			c.ACSURL = root + cfg.App.Path()
		}))
		s.secure = base.Scheme == "https"
	} else {
		s.secure = true
	}
	// Build once now, so a bad profile fails at start-up.
	sp, err := s.provider(context.Background())
	if err != nil {
		return nil, err
	}
	if cfg.Monitor == nil {
		s.static = sp
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("GET "+loginPath, s.login)
	s.mux.HandleFunc("POST "+logoutPath, s.logout)
	s.mux.HandleFunc("GET "+metadataPath, s.metadata)
	s.mux.HandleFunc("POST "+cfg.App.Path(), s.acs)
	return s, nil
}

// provider returns the service provider, built from current metadata when
// the profile is monitored.
func (s *server) provider(ctx context.Context) (*saml.ServiceProvider, error) {
	if s.static != nil {
		return s.static, nil
	}
	if s.cfg.Monitor != nil {
		return s.cfg.Monitor.ServiceProvider(ctx, s.cfg.Region, s.cfg.Account, s.cfg.App, s.opts...)
	}
	return s.cfg.Profile.ServiceProvider(s.cfg.Region, s.cfg.Account, s.cfg.App, s.opts...)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

var homePage = template.Must(template.New("home").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Signed in</title></head><body>
<h1>Hello, {{.NameID}}</h1>
<p>Signed in through {{.Issuer}} until {{.Until}}.</p>
<table>{{range .Attributes}}<tr><th>{{.Name}}</th><td>{{.Values}}</td></tr>{{end}}</table>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</body></html>
`))

func (s *server) home(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.currentSession(r)
	if !ok {
		http.Redirect(w, r, loginPath+"?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return
	}
	a := sess.assertion
	type attr struct{ Name, Values string }
	var attrs []attr
	for n, v := range a.Attributes {
		attrs = append(attrs, attr{n, strings.Join(v, ", ")})
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name < attrs[j].Name })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = homePage.Execute(w, map[string]any{
		"NameID": a.NameID, "Issuer": a.Issuer, "Until": sess.expires.UTC().Format(time.RFC1123), "Attributes": attrs,
	})
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	sp, err := s.provider(r.Context())
	if err != nil {
		http.Error(w, "identity provider unavailable", http.StatusServiceUnavailable)
		return
	}
	relay := randomID()
	req, err := sp.AuthnRequest(relay)
	if err != nil {
		http.Error(w, "cannot start sign-in", http.StatusInternalServerError)
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	s.expireLocked(now)
	if len(s.pending) >= maxPending {
		s.mu.Unlock()
		http.Error(w, "too many sign-ins in progress", http.StatusServiceUnavailable)
		return
	}
	browser := randomID()
	s.pending[relay] = pendingLogin{browser: browser, requestID: req.ID, returnTo: localPath(r.URL.Query().Get("return")), expires: now.Add(pendingTTL)}
	s.mu.Unlock()
	// The IdP posts back cross-site, so SameSite=Lax would keep this cookie
	// away from the ACS: None (which browsers require to be Secure) over
	// https; over plain http on loopback the attribute is left out.
	lc := &http.Cookie{Name: loginCookie, Value: browser, Path: "/", MaxAge: int(pendingTTL / time.Second), HttpOnly: true, Secure: s.secure}
	if s.secure {
		lc.SameSite = http.SameSiteNoneMode
	}
	http.SetCookie(w, lc)

	if to, err := req.RedirectURL(); err == nil {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	page, err := req.PostForm() // IdPs with an HTTP-POST endpoint only
	if err != nil {
		http.Error(w, "cannot start sign-in", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}

func (s *server) acs(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	sp, err := s.provider(r.Context())
	if err != nil {
		http.Error(w, "identity provider unavailable", http.StatusServiceUnavailable)
		return
	}
	relay := r.PostForm.Get("RelayState")
	s.mu.Lock()
	p, known := s.pending[relay]
	delete(s.pending, relay)
	s.mu.Unlock()

	var ids []string
	returnTo := "/"
	if known && s.cfg.Now().Before(p.expires) {
		c, err := r.Cookie(loginCookie)
		if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(p.browser)) != 1 {
			http.Error(w, "sign-in refused: it was started in another browser", http.StatusForbidden)
			return
		}
		ids = []string{p.requestID}
		returnTo = p.returnTo
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	// With no outstanding request the response is unsolicited; Verify
	// accepts it only when the profile allows IdP-initiated sign-on.
	a, err := sp.Verify(r.Context(), r.PostForm.Get("SAMLResponse"), ids...)
	if err != nil {
		http.Error(w, "sign-in refused: "+reason(err), http.StatusForbidden)
		return
	}
	id := randomID()
	expires := s.cfg.Now().Add(s.cfg.SessionTTL)
	s.mu.Lock()
	s.expireLocked(s.cfg.Now()) // IdP-initiated sign-ins never pass through login
	s.session[id] = session{assertion: a, expires: expires}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/", Expires: expires,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// reason names the failed check without echoing attacker-controlled text.
func reason(err error) string {
	for _, e := range []error{saml.ErrSignature, saml.ErrIssuer, saml.ErrDestination, saml.ErrRecipient, saml.ErrAudience,
		saml.ErrExpired, saml.ErrNotYetValid, saml.ErrInResponseTo, saml.ErrUnsolicited, saml.ErrReplay, saml.ErrStatus, saml.ErrMalformed} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), "saml: ")
		}
	}
	return "invalid response"
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		delete(s.session, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	if to := s.cfg.Profile.LogoutURL; to != "" {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "signed out")
}

func (s *server) metadata(w http.ResponseWriter, r *http.Request) {
	sp, err := s.provider(r.Context())
	if err != nil {
		http.Error(w, "identity provider unavailable", http.StatusServiceUnavailable)
		return
	}
	md, err := sp.Metadata()
	if err != nil {
		http.Error(w, "metadata unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(md)
}

func (s *server) currentSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.session[c.Value]
	if !ok || !now.Before(sess.expires) {
		delete(s.session, c.Value)
		return session{}, false
	}
	return sess, true
}

func (s *server) expireLocked(now time.Time) {
	for k, p := range s.pending {
		if !now.Before(p.expires) {
			delete(s.pending, k)
		}
	}
	for k, sess := range s.session {
		if !now.Before(sess.expires) {
			delete(s.session, k)
		}
	}
}

// localPath keeps only same-site paths, so the return parameter cannot send
// users to another site after sign-in.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

func randomID() string { return rand.Text() }
