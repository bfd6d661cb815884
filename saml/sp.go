package saml

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"time"
)

// Authentication context classes commonly requested with
// [Config.RequestedAuthnContext].
const (
	// AuthnContextPasswordProtectedTransport is password login over TLS.
	AuthnContextPasswordProtectedTransport = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	// AuthnContextWindows is integrated Windows authentication (Kerberos),
	// as understood by ADFS and Microsoft Entra ID.
	AuthnContextWindows = "urn:federation:authentication:windows"
)

// Name ID formats.
const (
	NameIDFormatEmailAddress = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDFormatUnspecified  = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDFormatPersistent   = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDFormatTransient    = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	// NameIDFormatEntity is the format of an entity ID: the only Format
	// an Issuer of a Response or Assertion may carry (SAML core 2.3.3,
	// 3.2.2).
	NameIDFormatEntity = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
)

// Defaults applied by [NewServiceProvider].
const (
	// DefaultClockSkew is the tolerance applied to every time check.
	DefaultClockSkew = 3 * time.Minute
	// DefaultMaxResponseBytes caps the decoded (and, if deflated, inflated)
	// size of a SAMLResponse.
	DefaultMaxResponseBytes = 512 << 10
	// DefaultMaxResponseTokens caps the number of XML tokens of a response.
	DefaultMaxResponseTokens = 50000
	// MaxResponseDepth is the deepest element nesting accepted in a response.
	MaxResponseDepth = 48
	// MaxRelayStateBytes is the longest RelayState the SAML bindings allow.
	MaxRelayStateBytes = 80
)

// Config configures a [ServiceProvider]. EntityID, ACSURL and IdP are
// required; every other field has a secure default.
type Config struct {
	// EntityID is this service provider's entity ID (the audience the IdP
	// puts in assertions).
	EntityID string
	// ACSURL is the assertion consumer service URL: where the IdP posts
	// responses. Destination and Recipient must equal it.
	ACSURL string
	// IdP is the identity provider: entity ID, SSO endpoints and the
	// certificates its signatures are checked against.
	IdP *IdPMetadata

	// AllowIdPInitiated accepts unsolicited responses (no InResponseTo),
	// as sent by IdP-initiated single sign-on. Off by default.
	AllowIdPInitiated bool
	// ClockSkew is the tolerance of every time check. Zero means
	// [DefaultClockSkew]; negative is an error.
	ClockSkew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ReplayCache remembers accepted assertion IDs. Nil means a
	// [NewMemoryReplayCache] of [DefaultReplayCacheSize] entries owned by
	// this service provider. Share one cache between the service providers
	// (and processes) that consume the same IdP's assertions.
	ReplayCache ReplayCache
	// RequestedAuthnContext lists the authentication context classes put in
	// AuthnRequests with Comparison "exact", for example
	// [AuthnContextPasswordProtectedTransport]. Empty: none requested.
	RequestedAuthnContext []string
	// NameIDFormat, when set, is requested in the AuthnRequest's
	// NameIDPolicy and listed in the SP metadata.
	NameIDFormat string
	// ForceAuthn asks the IdP to authenticate the user again even when it
	// has a session.
	ForceAuthn bool

	// SigningKey signs AuthnRequests (RSA or ECDSA). Optional; when set,
	// SigningCert is required and must hold its public key.
	SigningKey crypto.Signer
	// SigningCert is published in the SP metadata with SigningKey.
	SigningCert *x509.Certificate
	// EncryptionKey decrypts EncryptedAssertions (RSA only). When nil and
	// SigningKey is an RSA key, SigningKey is used.
	EncryptionKey crypto.Signer
	// EncryptionCert is published in the SP metadata for encryption. When
	// nil, SigningCert is published for both uses if SigningKey is RSA and
	// EncryptionKey is nil (the signing key then decrypts).
	EncryptionCert *x509.Certificate

	// MaxResponseBytes caps the decoded size of a response. Zero means
	// [DefaultMaxResponseBytes].
	MaxResponseBytes int
	// InsecureAllowSHA1 accepts RSA-SHA1 and ECDSA-SHA1 signatures and SHA-1
	// digests. SHA-1 is broken for signatures; enable it only for an IdP
	// that cannot be configured otherwise.
	InsecureAllowSHA1 bool
}

// Validate reports every problem of the configuration, joined; each is a
// [*ConfigError] and matches [ErrConfig].
func (c Config) Validate() error {
	var errs []error
	bad := func(field, reason string) { errs = append(errs, &ConfigError{Field: field, Reason: reason}) }
	if c.EntityID == "" {
		bad("EntityID", "required")
	}
	if c.ACSURL == "" {
		bad("ACSURL", "required")
	} else if u, err := url.Parse(c.ACSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("ACSURL", fmt.Sprintf("%q is not an absolute http(s) URL", c.ACSURL))
	}
	if c.IdP == nil {
		bad("IdP", "required (use ParseMetadata or FetchMetadata)")
	} else {
		if c.IdP.EntityID == "" {
			bad("IdP.EntityID", "required")
		}
		if len(c.IdP.SigningCerts) == 0 {
			bad("IdP.SigningCerts", "at least one IdP signing certificate is required")
		}
		for i, cert := range c.IdP.SigningCerts {
			if cert == nil {
				bad(fmt.Sprintf("IdP.SigningCerts[%d]", i), "nil certificate")
			}
		}
		// Browsers are sent to these: only absolute http(s) URLs, as
		// ParseMetadata accepts them.
		for _, list := range []struct {
			name string
			eps  []Endpoint
		}{{"IdP.SSO", c.IdP.SSO}, {"IdP.SLO", c.IdP.SLO}} {
			for i, e := range list.eps {
				if u, err := url.Parse(e.Location); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					bad(fmt.Sprintf("%s[%d].Location", list.name, i), fmt.Sprintf("%q is not an absolute http(s) URL", e.Location))
				}
			}
		}
	}
	if c.ClockSkew < 0 {
		bad("ClockSkew", "negative")
	}
	if c.MaxResponseBytes < 0 {
		bad("MaxResponseBytes", "negative")
	}
	for i, ac := range c.RequestedAuthnContext {
		if ac == "" {
			bad(fmt.Sprintf("RequestedAuthnContext[%d]", i), "empty")
		}
	}
	if isNilPointer(c.SigningKey) {
		bad("SigningKey", "nil key")
		c.SigningKey = nil
		c.SigningCert = nil
	}
	if isNilPointer(c.EncryptionKey) {
		bad("EncryptionKey", "nil key")
		c.EncryptionKey = nil
		c.EncryptionCert = nil
	}
	switch {
	case c.SigningKey != nil && c.SigningCert == nil:
		bad("SigningCert", "required with SigningKey")
	case c.SigningKey == nil && c.SigningCert != nil:
		bad("SigningKey", "required with SigningCert")
	case c.SigningKey != nil:
		switch c.SigningKey.Public().(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			if !publicKeyEqual(c.SigningKey.Public(), c.SigningCert.PublicKey) {
				bad("SigningCert", "does not hold the public key of SigningKey")
			}
		default:
			bad("SigningKey", fmt.Sprintf("unsupported key type %T (RSA or ECDSA)", c.SigningKey.Public()))
		}
	}
	if c.EncryptionKey != nil {
		if _, ok := c.EncryptionKey.(*rsa.PrivateKey); !ok {
			bad("EncryptionKey", fmt.Sprintf("must be an *rsa.PrivateKey, not %T", c.EncryptionKey))
		} else if c.EncryptionCert != nil && !publicKeyEqual(c.EncryptionKey.Public(), c.EncryptionCert.PublicKey) {
			bad("EncryptionCert", "does not hold the public key of EncryptionKey")
		}
	} else if c.EncryptionCert != nil {
		bad("EncryptionKey", "required with EncryptionCert")
	}
	return errors.Join(errs...)
}

// isNilPointer reports whether v is an interface holding a nil pointer,
// such as a crypto.Signer set to a nil *rsa.PrivateKey.
func isNilPointer(v any) bool {
	if v == nil {
		return false
	}
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}

func publicKeyEqual(a crypto.PublicKey, b any) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// Verifier verifies SAML responses posted to an assertion consumer
// service. [*ServiceProvider] implements it; depend on this interface in
// code that only consumes assertions.
type Verifier interface {
	Verify(ctx context.Context, encodedResponse string, requestIDs ...string) (*Assertion, error)
}

// Assertion is what a verified response says about the user.
type Assertion struct {
	// Issuer is the IdP entity ID.
	Issuer string
	// NameID is the subject's name identifier, the full canonical text.
	NameID string
	// NameIDFormat is the NameID Format attribute, if any.
	NameIDFormat string
	// SessionIndex identifies the IdP session (for single logout).
	SessionIndex string
	// Attributes maps each attribute Name to its values.
	Attributes map[string][]string
	// AuthnInstant is when the IdP authenticated the user.
	AuthnInstant time.Time
	// NotOnOrAfter is the end of the assertion's validity: the earlier of
	// Conditions@NotOnOrAfter and SubjectConfirmationData@NotOnOrAfter.
	NotOnOrAfter time.Time
	// InResponseTo is the AuthnRequest ID answered, "" when unsolicited.
	InResponseTo string
	// AuthnContext is the AuthnContextClassRef of the AuthnStatement.
	AuthnContext string
}

// ServiceProvider is a SAML 2.0 service provider bound to one IdP. It is
// safe for concurrent use.
type ServiceProvider struct {
	cfg        Config
	now        func() time.Time
	skew       time.Duration
	maxBytes   int
	certs      []*x509.Certificate
	certsB64   []string // base64 of each IdP certificate
	replay     ReplayCache
	decryptKey *tls.Certificate
}

var _ Verifier = (*ServiceProvider)(nil)

// errNotMade is the error of a ServiceProvider that NewServiceProvider
// did not make (a zero value, or a nil pointer): it has no IdP to trust.
var errNotMade = &ConfigError{Field: "ServiceProvider", Reason: "not made by NewServiceProvider (a zero ServiceProvider trusts no IdP)"}

// made reports whether sp was made by NewServiceProvider.
func (sp *ServiceProvider) made() bool { return sp != nil && sp.now != nil && sp.cfg.IdP != nil }

// NewServiceProvider validates cfg, copies it and applies the defaults.
func NewServiceProvider(cfg Config) (*ServiceProvider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.IdP = cloneMetadata(cfg.IdP)
	idp := cfg.IdP
	cfg.RequestedAuthnContext = append([]string(nil), cfg.RequestedAuthnContext...)

	sp := &ServiceProvider{
		cfg:      cfg,
		now:      cfg.Now,
		skew:     cfg.ClockSkew,
		maxBytes: cfg.MaxResponseBytes,
		certs:    idp.SigningCerts,
		replay:   cfg.ReplayCache,
	}
	for _, c := range idp.SigningCerts {
		sp.certsB64 = append(sp.certsB64, base64.StdEncoding.EncodeToString(c.Raw))
	}
	if sp.now == nil {
		sp.now = time.Now
	}
	if sp.skew == 0 {
		sp.skew = DefaultClockSkew
	}
	if sp.maxBytes == 0 {
		sp.maxBytes = DefaultMaxResponseBytes
	}
	if sp.replay == nil {
		sp.replay = NewMemoryReplayCache(DefaultReplayCacheSize, WithReplayClock(sp.now))
	}
	key := cfg.EncryptionKey
	cert := cfg.EncryptionCert
	if key == nil {
		if k, ok := cfg.SigningKey.(*rsa.PrivateKey); ok {
			key, cert = k, cfg.SigningCert
		}
	}
	if key != nil {
		tc := &tls.Certificate{PrivateKey: key}
		if cert != nil {
			tc.Certificate = [][]byte{cert.Raw}
		}
		sp.decryptKey = tc
	}
	return sp, nil
}

// EntityID returns the service provider's entity ID.
func (sp *ServiceProvider) EntityID() string {
	if sp == nil {
		return ""
	}
	return sp.cfg.EntityID
}

// ACSURL returns the assertion consumer service URL.
func (sp *ServiceProvider) ACSURL() string {
	if sp == nil {
		return ""
	}
	return sp.cfg.ACSURL
}

// IdP returns a copy of the identity provider's metadata in use. Changing
// it (its slices included) does not change the service provider.
func (sp *ServiceProvider) IdP() IdPMetadata {
	if !sp.made() {
		return IdPMetadata{}
	}
	return *cloneMetadata(sp.cfg.IdP)
}
