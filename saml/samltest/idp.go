package samltest

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // verifying SHA-1 redirect signatures of tests that ask for them
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/saml"
)

// Service provider the IdP answers by default.
const (
	DefaultSPEntityID = "https://sp.example.com/saml/metadata"
	DefaultACSURL     = "https://sp.example.com/saml/acs"
	// DefaultNameID is the user the IdP signs in by default.
	DefaultNameID = "alice@example.com"
)

// Option configures [NewIdP].
type Option func(*IdP)

// WithEntityID sets the IdP entity ID (default: the server URL followed by
// "/metadata").
func WithEntityID(entityID string) Option { return func(p *IdP) { p.entityID = entityID } }

// WithSigningKey makes the IdP sign with key (RSA or ECDSA) and publish
// cert. By default the IdP signs with an RSA-2048 key and a self-signed
// certificate of its own.
func WithSigningKey(key crypto.Signer, cert *x509.Certificate) Option {
	return func(p *IdP) { p.key, p.cert = key, cert }
}

// WithServiceProvider sets the SP entity ID (the audience) and ACS URL (the
// Destination and Recipient) used by [IdP.Response] and [IdP.SPConfig].
func WithServiceProvider(entityID, acsURL string) Option {
	return func(p *IdP) { p.spEntityID, p.acsURL = entityID, acsURL }
}

// WithClock sets the IdP clock; responses are issued at its time.
func WithClock(now func() time.Time) Option { return func(p *IdP) { p.now = now } }

// WithUser sets the user that the SSO endpoint signs in.
func WithUser(nameID string, attributes map[string][]string) Option {
	return func(p *IdP) { p.nameID, p.attrs = nameID, attributes }
}

// WithResponseOptions applies opts to every response, including those the
// SSO endpoint sends; options given to [IdP.Response] come after them.
func WithResponseOptions(opts ...ResponseOption) Option {
	return func(p *IdP) { p.defaults = append(p.defaults, opts...) }
}

// WithSPCertificate lets the SSO endpoint check AuthnRequest signatures
// made with the SP key of cert; see [AuthnRequestInfo.SignatureValid].
func WithSPCertificate(cert *x509.Certificate) Option { return func(p *IdP) { p.spCert = cert } }

// WithPlainHTTP serves metadata and SSO over http instead of https.
func WithPlainHTTP() Option { return func(p *IdP) { p.plain = true } }

// IdP is a SAML identity provider for tests: it serves its metadata and an
// SSO endpoint on a loopback httptest server, and signs responses for real
// with goxmldsig (RSA-2048, RSA-SHA256, exclusive canonicalization).
type IdP struct {
	tb         testing.TB
	srv        *httptest.Server
	entityID   string
	key        crypto.Signer
	cert       *x509.Certificate
	spEntityID string
	acsURL     string
	spCert     *x509.Certificate
	now        func() time.Time
	nameID     string
	attrs      map[string][]string
	defaults   []ResponseOption
	plain      bool
	metadata   []byte

	mu       sync.Mutex
	requests []AuthnRequestInfo
}

// NewIdP starts an IdP on 127.0.0.1 and registers its shutdown with
// tb.Cleanup. It fails the test if the IdP cannot start.
func NewIdP(tb testing.TB, opts ...Option) *IdP {
	tb.Helper()
	p, err := Start(opts...)
	if err != nil {
		tb.Fatalf("samltest: %v", err)
	}
	p.tb = tb
	tb.Cleanup(p.Close)
	return p
}

// Start starts an IdP outside a test (for example programs and
// quickstarts); call [IdP.Close] when done. Its [IdP.Response] panics on
// error; [IdP.NewResponse] returns the error instead.
func Start(opts ...Option) (*IdP, error) {
	p := &IdP{
		spEntityID: DefaultSPEntityID,
		acsURL:     DefaultACSURL,
		now:        time.Now,
		nameID:     DefaultNameID,
		attrs: map[string][]string{
			"email":       {DefaultNameID},
			"displayName": {"Alice Example"},
			"groups":      {"staff", "admins"},
		},
	}
	for _, o := range opts {
		o(p)
	}
	if p.key == nil {
		var err error
		p.key, p.cert, err = newKeyPair(defaultKey(), "gatehouse samltest IdP")
		if err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metadata", p.serveMetadata)
	mux.HandleFunc("/sso", p.serveSSO)
	if p.plain {
		p.srv = httptest.NewServer(mux)
	} else {
		p.srv = httptest.NewTLSServer(mux)
	}
	if p.entityID == "" {
		p.entityID = p.srv.URL + "/metadata"
	}
	p.metadata = p.buildMetadata()
	return p, nil
}

// Close shuts the server down.
func (p *IdP) Close() { p.srv.Close() }

// URL is the base URL of the IdP's server.
func (p *IdP) URL() string { return p.srv.URL }

// MetadataURL is where the IdP serves its metadata.
func (p *IdP) MetadataURL() string { return p.srv.URL + "/metadata" }

// SSOURL is the IdP's single sign-on endpoint (HTTP-Redirect and HTTP-POST).
func (p *IdP) SSOURL() string { return p.srv.URL + "/sso" }

// Client returns an HTTP client that trusts the IdP's TLS certificate.
func (p *IdP) Client() *http.Client { return p.srv.Client() }

// EntityID is the IdP entity ID (the Issuer of its responses).
func (p *IdP) EntityID() string { return p.entityID }

// Certificate is the IdP's signing certificate.
func (p *IdP) Certificate() *x509.Certificate { return p.cert }

// Metadata returns the IdP's SAML metadata XML, as served at MetadataURL.
func (p *IdP) Metadata() []byte { return bytes.Clone(p.metadata) }

// IdPMetadata returns the IdP's metadata as a saml.IdPMetadata, the same
// as parsing [IdP.Metadata].
func (p *IdP) IdPMetadata() *saml.IdPMetadata {
	return &saml.IdPMetadata{
		EntityID: p.entityID,
		SSO: []saml.Endpoint{
			{Binding: saml.BindingHTTPRedirect, Location: p.SSOURL()},
			{Binding: saml.BindingHTTPPost, Location: p.SSOURL()},
		},
		SigningCerts:  []*x509.Certificate{p.cert},
		NameIDFormats: []string{saml.NameIDFormatEmailAddress, saml.NameIDFormatUnspecified},
	}
}

// SPConfig returns a saml.Config for the service provider this IdP
// answers, trusting this IdP and sharing its clock.
func (p *IdP) SPConfig() saml.Config {
	return saml.Config{
		EntityID: p.spEntityID,
		ACSURL:   p.acsURL,
		IdP:      p.IdPMetadata(),
		Now:      p.now,
	}
}

// AuthnRequestInfo describes an AuthnRequest received by the SSO endpoint.
type AuthnRequestInfo struct {
	// ID, Issuer, ACSURL and Destination are the request's ID and Issuer
	// (both required), AssertionConsumerServiceURL and Destination ("" when
	// absent); RelayState is the RelayState parameter sent with it.
	ID, Issuer, ACSURL, Destination, RelayState string
	// Binding is saml.BindingHTTPRedirect or saml.BindingHTTPPost.
	Binding string
	// RequestedAuthnContext lists the requested context class refs, and
	// Comparison their comparison.
	RequestedAuthnContext []string
	Comparison            string
	// ForceAuthn reports whether the request has ForceAuthn="true".
	ForceAuthn bool
	// Signed reports a query-string (Redirect) or XML (POST) signature;
	// SignatureValid whether it verified against the certificate given
	// with WithSPCertificate.
	Signed, SignatureValid bool
	// XML is the request document.
	XML []byte
}

// AuthnRequests returns the requests received so far.
func (p *IdP) AuthnRequests() []AuthnRequestInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]AuthnRequestInfo(nil), p.requests...)
}

func (p *IdP) serveMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(p.metadata)
}

// serveSSO accepts an AuthnRequest (HTTP-Redirect or HTTP-POST) and answers
// with an auto-posting form carrying a signed response for the configured
// user to the request's ACS URL.
func (p *IdP) serveSSO(w http.ResponseWriter, r *http.Request) {
	info, status, err := p.readRequest(r)
	if err != nil {
		http.Error(w, "samltest: "+err.Error(), status)
		return
	}
	p.mu.Lock()
	p.requests = append(p.requests, info)
	p.mu.Unlock()
	if p.spCert != nil && !info.SignatureValid {
		http.Error(w, "samltest: AuthnRequest signature missing or invalid", http.StatusForbidden)
		return
	}
	opts := []ResponseOption{
		WithNameID(p.nameID),
		WithAttributes(p.attrs),
		WithInResponseTo(info.ID),
		WithAudience(info.Issuer),
	}
	if info.ACSURL != "" {
		opts = append(opts, WithRecipient(info.ACSURL), WithDestination(info.ACSURL))
	}
	acs := info.ACSURL
	if acs == "" {
		acs = p.acsURL
	}
	encoded, err := p.response(opts)
	if err != nil {
		http.Error(w, "samltest: "+err.Error(), http.StatusInternalServerError)
		return
	}
	page, err := saml.PostFormHTML(saml.PostFormData{URL: acs, Name: "SAMLResponse", Value: encoded, RelayState: info.RelayState})
	if err != nil {
		http.Error(w, "samltest: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(page)
}

func (p *IdP) readRequest(r *http.Request) (AuthnRequestInfo, int, error) {
	var info AuthnRequestInfo
	var raw []byte
	switch r.Method {
	case http.MethodGet:
		info.Binding = saml.BindingHTTPRedirect
		q := r.URL.Query()
		info.RelayState = q.Get("RelayState")
		z, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
		if err != nil || len(z) == 0 {
			return info, http.StatusBadRequest, fmt.Errorf("SAMLRequest: not base64")
		}
		raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), 1<<20))
		if err != nil {
			return info, http.StatusBadRequest, fmt.Errorf("SAMLRequest: not DEFLATE: %v", err)
		}
		if sig := q.Get("Signature"); sig != "" {
			info.Signed = true
			info.SignatureValid = p.checkRedirectSignature(r.URL.RawQuery, q.Get("SigAlg"), sig)
		}
	case http.MethodPost:
		info.Binding = saml.BindingHTTPPost
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			return info, http.StatusBadRequest, err
		}
		info.RelayState = r.PostForm.Get("RelayState")
		var err error
		raw, err = base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLRequest"))
		if err != nil || len(raw) == 0 {
			return info, http.StatusBadRequest, fmt.Errorf("SAMLRequest: not base64")
		}
	default:
		return info, http.StatusMethodNotAllowed, fmt.Errorf("method %s", r.Method)
	}
	info.XML = raw
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return info, http.StatusBadRequest, fmt.Errorf("SAMLRequest: %v", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "AuthnRequest" || root.NamespaceURI() != saml.NamespaceProtocol {
		return info, http.StatusBadRequest, fmt.Errorf("SAMLRequest: not an AuthnRequest")
	}
	info.ID = root.SelectAttrValue("ID", "")
	info.ACSURL = root.SelectAttrValue("AssertionConsumerServiceURL", "")
	info.Destination = root.SelectAttrValue("Destination", "")
	info.ForceAuthn = root.SelectAttrValue("ForceAuthn", "") == "true"
	if iss := root.SelectElement("Issuer"); iss != nil {
		info.Issuer = strings.TrimSpace(iss.Text())
	}
	if rac := root.SelectElement("RequestedAuthnContext"); rac != nil {
		info.Comparison = rac.SelectAttrValue("Comparison", "")
		for _, ref := range rac.SelectElements("AuthnContextClassRef") {
			info.RequestedAuthnContext = append(info.RequestedAuthnContext, strings.TrimSpace(ref.Text()))
		}
	}
	if sig := root.SelectElement("Signature"); sig != nil && info.Binding == saml.BindingHTTPPost {
		info.Signed = true
		if p.spCert != nil {
			vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{p.spCert}})
			vc.Clock = dsig.NewFakeClockAt(p.now())
			_, err := vc.Validate(root)
			info.SignatureValid = err == nil
		}
	}
	if info.ID == "" || info.Issuer == "" {
		return info, http.StatusBadRequest, fmt.Errorf("AuthnRequest: ID and Issuer are required")
	}
	return info, 0, nil
}

// checkRedirectSignature verifies the HTTP-Redirect binding signature over
// the query parameters exactly as sent.
func (p *IdP) checkRedirectSignature(rawQuery, sigAlg, sig string) bool {
	if p.spCert == nil {
		return false
	}
	var signed []string
	for _, name := range []string{"SAMLRequest", "RelayState", "SigAlg"} {
		for _, part := range strings.Split(rawQuery, "&") {
			if strings.HasPrefix(part, name+"=") {
				signed = append(signed, part)
			}
		}
	}
	octets := []byte(strings.Join(signed, "&"))
	value, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	switch pub := p.spCert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch sigAlg {
		case dsig.RSASHA256SignatureMethod:
			h := sha256.Sum256(octets)
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], value) == nil
		case dsig.RSASHA1SignatureMethod:
			h := sha1.Sum(octets) //nolint:gosec
			return rsa.VerifyPKCS1v15(pub, crypto.SHA1, h[:], value) == nil
		}
	case *ecdsa.PublicKey:
		if sigAlg == dsig.ECDSASHA256SignatureMethod && len(value)%2 == 0 {
			h := sha256.Sum256(octets)
			n := len(value) / 2
			return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(value[:n]), new(big.Int).SetBytes(value[n:]))
		}
	}
	return false
}

func (p *IdP) buildMetadata() []byte {
	type keyDescriptor struct {
		Use  string `xml:"use,attr"`
		Cert string `xml:"ds:KeyInfo>ds:X509Data>ds:X509Certificate"`
	}
	type endpoint struct {
		Binding  string `xml:"Binding,attr"`
		Location string `xml:"Location,attr"`
	}
	type idpDescriptor struct {
		WantSigned    bool            `xml:"WantAuthnRequestsSigned,attr"`
		Protocol      string          `xml:"protocolSupportEnumeration,attr"`
		Keys          []keyDescriptor `xml:"md:KeyDescriptor"`
		SLO           []endpoint      `xml:"md:SingleLogoutService"`
		NameIDFormats []string        `xml:"md:NameIDFormat"`
		SSO           []endpoint      `xml:"md:SingleSignOnService"`
	}
	type entity struct {
		XMLName  xml.Name      `xml:"md:EntityDescriptor"`
		MD       string        `xml:"xmlns:md,attr"`
		DS       string        `xml:"xmlns:ds,attr"`
		EntityID string        `xml:"entityID,attr"`
		IdP      idpDescriptor `xml:"md:IDPSSODescriptor"`
	}
	md := p.IdPMetadata()
	e := entity{
		MD: saml.NamespaceMetadata, DS: saml.NamespaceXMLDSig, EntityID: p.entityID,
		IdP: idpDescriptor{
			WantSigned:    p.spCert != nil,
			Protocol:      saml.ProtocolSAML20,
			Keys:          []keyDescriptor{{Use: "signing", Cert: base64.StdEncoding.EncodeToString(p.cert.Raw)}},
			NameIDFormats: md.NameIDFormats,
		},
	}
	for _, ep := range md.SSO {
		e.IdP.SSO = append(e.IdP.SSO, endpoint{Binding: ep.Binding, Location: ep.Location})
	}
	out, err := xml.MarshalIndent(e, "", "  ")
	if err != nil {
		panic(err) // static types: cannot fail
	}
	return append([]byte(xml.Header), append(out, '\n')...)
}

var (
	keyOnce            sync.Once
	sharedKey          *rsa.PrivateKey
	foreignOnce        sync.Once
	foreignKey         crypto.Signer
	foreignCert        *x509.Certificate
	errKey, errForeign error
)

// defaultKey is one RSA-2048 key shared by the IdPs of a test binary; each
// IdP still has its own certificate, and signatures are trusted by
// certificate, so IdPs do not trust each other.
func defaultKey() *rsa.PrivateKey {
	keyOnce.Do(func() { sharedKey, errKey = rsa.GenerateKey(rand.Reader, 2048) })
	if errKey != nil {
		panic(errKey)
	}
	return sharedKey
}

// ForeignKey returns an RSA-2048 key and certificate that no IdP of this
// package trusts, for "signed by someone else" tests.
func ForeignKey() (crypto.Signer, *x509.Certificate) {
	foreignOnce.Do(func() {
		var k *rsa.PrivateKey
		k, errForeign = rsa.GenerateKey(rand.Reader, 2048)
		if errForeign == nil {
			foreignKey, foreignCert, errForeign = newKeyPair(k, "samltest foreign signer")
		}
	})
	if errForeign != nil {
		panic(errForeign)
	}
	return foreignKey, foreignCert
}

var serial struct {
	sync.Mutex
	n int64
}

// NewCertificate returns a self-signed certificate for key, valid from
// 2000 to 2099 so that tests with fixed clocks can use it.
func NewCertificate(key crypto.Signer, commonName string) (*x509.Certificate, error) {
	serial.Lock()
	serial.n++
	sn := big.NewInt(time.Now().UnixNano() + serial.n)
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"gatehouse samltest"}},
		NotBefore:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func newKeyPair(key crypto.Signer, cn string) (crypto.Signer, *x509.Certificate, error) {
	cert, err := NewCertificate(key, cn)
	return key, cert, err
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
