package profile

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
	"unicode/utf8"
)

// DomainAuthentication is how users prove their identity with a password
// when they do not use SAML (or SAML is not enforced for the application).
type DomainAuthentication string

// Domain authentication mechanisms.
const (
	// DomainAuthNone: no password mechanism besides the service's own cloud
	// password, which is always available unless SAML is enforced.
	DomainAuthNone DomainAuthentication = "none"
	// DomainAuthCloudPassword: passwords kept by the service itself.
	DomainAuthCloudPassword DomainAuthentication = "cloud-password"
	// DomainAuthLDAPDirectory: passwords checked against Active Directory
	// or another LDAP directory through the directory connector.
	DomainAuthLDAPDirectory DomainAuthentication = "ldap-directory"
	// DomainAuthOffice365: passwords checked against Microsoft 365.
	DomainAuthOffice365 DomainAuthentication = "office365"
	// DomainAuthExchangeWebServices: passwords checked against an
	// on-premises Exchange server's web services.
	DomainAuthExchangeWebServices DomainAuthentication = "exchange-web-services"
)

// DomainAuthentications returns every DomainAuthentication in a stable order.
func DomainAuthentications() []DomainAuthentication {
	return []DomainAuthentication{DomainAuthNone, DomainAuthCloudPassword, DomainAuthLDAPDirectory, DomainAuthOffice365, DomainAuthExchangeWebServices}
}

// Valid reports whether d is one of the defined mechanisms. The empty
// value is valid and means [DomainAuthNone].
func (d DomainAuthentication) Valid() bool {
	if d == "" {
		return true
	}
	for _, x := range DomainAuthentications() {
		if d == x {
			return true
		}
	}
	return false
}

// Profile is an authentication profile as an administrator fills it in:
// which identity provider signs users in, where it lives, the certificates
// its signatures are checked with, and which applications must use it.
//
// The zero Profile enforces nothing and is refused by [Profile.Validate]
// (no provider). Start from [New]. Read profiles from JSON with
// [Decode] or [json.Unmarshal]: unknown fields and wrong types are refused
// with the field named.
type Profile struct {
	// Description names the profile for administrators.
	Description string `json:"description"`
	// Provider is the identity provider.
	Provider Provider `json:"provider"`
	// MetadataURL is where the IdP publishes its SAML metadata (https).
	MetadataURL string `json:"metadataURL,omitempty"`
	// IssuerURL is the IdP's entity ID, the Issuer of its responses. It
	// is an identifier, often but not always a URL.
	IssuerURL string `json:"issuerURL,omitempty"`
	// LoginURL is the IdP's single sign-on URL, where AuthnRequests go.
	LoginURL string `json:"loginURL,omitempty"`
	// LogoutURL is where users are sent after signing out.
	LogoutURL string `json:"logoutURL,omitempty"`
	// IdPCertificates holds the IdP's signing certificates, PEM encoded,
	// one CERTIFICATE block each. Several are allowed during a rollover.
	IdPCertificates string `json:"idpCertificates,omitempty"`

	// EnforceSAMLAdminConsole makes the Administration Console use SAML.
	EnforceSAMLAdminConsole bool `json:"enforceSAMLAdminConsole"`
	// EnforceSAMLPersonalPortal makes the Personal Portal use SAML.
	EnforceSAMLPersonalPortal bool `json:"enforceSAMLPersonalPortal"`
	// EnforceSAMLApplications makes the end-user applications use SAML.
	EnforceSAMLApplications bool `json:"enforceSAMLApplications"`
	// UsePasswordProtectedContext requests the PasswordProtectedTransport
	// authentication context from the IdP.
	UsePasswordProtectedContext bool `json:"usePasswordProtectedContext"`
	// UseIntegratedAuthContext requests integrated Windows authentication
	// (urn:federation:authentication:windows) from the IdP.
	UseIntegratedAuthContext bool `json:"useIntegratedAuthContext"`
	// AllowSingleSignOn accepts IdP-initiated sign-on (unsolicited
	// responses), for example from the IdP's application portal.
	AllowSingleSignOn bool `json:"allowSingleSignOn"`
	// MonitorMetadataURL keeps the IdP details current from MetadataURL
	// (see [NewMonitor]), so rolled-over certificates are picked up.
	MonitorMetadataURL bool `json:"monitorMetadataURL"`
	// DomainAuthentication is the password mechanism besides SAML.
	DomainAuthentication DomainAuthentication `json:"domainAuthentication,omitempty"`
}

// SAMLEnforced reports whether any application must sign in with SAML.
func (p Profile) SAMLEnforced() bool {
	return p.EnforceSAMLAdminConsole || p.EnforceSAMLPersonalPortal || p.EnforceSAMLApplications
}

// Certificates parses IdPCertificates. Every PEM block must be a
// CERTIFICATE holding a valid X.509 certificate, and nothing but PEM blocks
// and white space may appear; the error names the block at fault. An empty
// field gives no certificates and no error.
func (p Profile) Certificates() ([]*x509.Certificate, error) {
	return parseCertificates(p.IdPCertificates)
}

func parseCertificates(s string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(s)
	for n := 1; ; n++ {
		if len(bytes.TrimSpace(rest)) == 0 {
			return certs, nil
		}
		if !bytes.HasPrefix(bytes.TrimSpace(rest), []byte("-----BEGIN ")) {
			if n == 1 {
				return nil, fieldErr("idpCertificates", "not PEM (expected -----BEGIN CERTIFICATE-----)")
			}
			return nil, fieldErr("idpCertificates", "text after PEM block %d", n-1)
		}
		block, next := pem.Decode(rest)
		if block == nil {
			return nil, fieldErr("idpCertificates", "block %d: broken PEM (bad base64 or missing END line)", n)
		}
		if block.Type != "CERTIFICATE" {
			return nil, fieldErr("idpCertificates", "block %d is %q, not CERTIFICATE", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fieldErr("idpCertificates", "block %d: %v", n, err)
		}
		certs = append(certs, c)
		rest = next
	}
}

// EncodeCertificates returns certs as PEM, the form of IdPCertificates.
func EncodeCertificates(certs []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// maxFieldLen bounds every text field except IdPCertificates.
const maxFieldLen = 2048

// maxCertsLen bounds IdPCertificates.
const maxCertsLen = 256 << 10

// Validate reports every problem with the profile at once, joined with
// [errors.Join]; each is a [*FieldError] naming the field by its JSON name,
// and the whole matches [ErrInvalid]. It checks:
//
//   - provider is defined, description present, domainAuthentication is a
//     defined mechanism;
//   - metadataURL, loginURL and logoutURL are https URLs without user info;
//     an Entra ID metadata URL has the form [EntraMetadataURL] builds and a
//     JumpCloud login URL the form [JumpCloudIdPURL] builds;
//   - monitorMetadataURL has a metadataURL to monitor;
//   - idpCertificates holds only valid certificates;
//   - when SAML is enforced for any application or IdP-initiated sign-on is
//     allowed: issuerURL, loginURL and at least one certificate are present;
//   - Entra ID profiles request no authentication context (Entra ID fails
//     sign-ins that ask for one).
func (p Profile) Validate() error {
	var errs []error
	add := func(e *FieldError) { errs = append(errs, e) }

	if p.Provider == "" {
		add(fieldErr("provider", "required (one of %s)", providerList()))
	} else if !p.Provider.Valid() {
		add(fieldErr("provider", "unknown provider %q (one of %s)", string(p.Provider), providerList()))
	}
	if strings.TrimSpace(p.Description) == "" {
		add(fieldErr("description", "required"))
	}
	if !p.DomainAuthentication.Valid() {
		add(fieldErr("domainAuthentication", "unknown mechanism %q (one of %s)", string(p.DomainAuthentication), domainAuthList()))
	}
	for _, f := range []struct{ name, val string }{
		{"description", p.Description}, {"metadataURL", p.MetadataURL}, {"issuerURL", p.IssuerURL},
		{"loginURL", p.LoginURL}, {"logoutURL", p.LogoutURL},
	} {
		if len(f.val) > maxFieldLen {
			add(fieldErr(f.name, "%d bytes long, at most %d allowed", len(f.val), maxFieldLen))
		} else if !utf8.ValidString(f.val) {
			add(fieldErr(f.name, "not valid UTF-8"))
		}
	}

	if p.MetadataURL != "" {
		if e := checkHTTPS("metadataURL", p.MetadataURL); e != nil {
			add(e)
		} else if p.Provider == EntraID {
			if _, _, err := ParseEntraMetadataURL(p.MetadataURL); err != nil {
				add(fieldErr("metadataURL", "not an Entra ID federation metadata URL: %v", err))
			}
		}
	} else if p.MonitorMetadataURL {
		add(fieldErr("monitorMetadataURL", "on, but metadataURL is empty: set metadataURL, or turn monitoring off for metadata imported from a file (the EntraID, Okta and ADFS presets turn it on)"))
	}
	if p.LoginURL != "" {
		if e := checkHTTPS("loginURL", p.LoginURL); e != nil {
			add(e)
		} else if p.Provider == JumpCloud {
			if _, err := ParseJumpCloudIdPURL(p.LoginURL); err != nil {
				add(fieldErr("loginURL", "not a JumpCloud IdP URL: %v", err))
			}
		}
	}
	if p.LogoutURL != "" {
		if e := checkHTTPS("logoutURL", p.LogoutURL); e != nil {
			add(e)
		}
	}
	if p.IssuerURL != "" && strings.TrimSpace(p.IssuerURL) != p.IssuerURL {
		add(fieldErr("issuerURL", "has surrounding white space; it must match the IdP's Issuer exactly"))
	}

	var certs []*x509.Certificate
	certsBad := false
	if len(p.IdPCertificates) > maxCertsLen {
		certsBad = true
		add(fieldErr("idpCertificates", "%d bytes long, at most %d allowed", len(p.IdPCertificates), maxCertsLen))
	} else if cs, err := p.Certificates(); err != nil {
		certsBad = true
		var fe *FieldError
		if errors.As(err, &fe) {
			add(fe)
		}
	} else {
		certs = cs
	}

	if p.SAMLEnforced() || p.AllowSingleSignOn {
		why := "SAML is enforced"
		if !p.SAMLEnforced() {
			why = "allowSingleSignOn is on"
		}
		if p.IssuerURL == "" {
			add(fieldErr("issuerURL", "required when %s", why))
		}
		if p.LoginURL == "" {
			add(fieldErr("loginURL", "required when %s", why))
		}
		if p.IdPCertificates == "" {
			add(fieldErr("idpCertificates", "required when %s: without the IdP's certificate no response can be verified", why))
		} else if len(certs) == 0 && !certsBad {
			add(fieldErr("idpCertificates", "holds no certificate"))
		}
	}

	if p.Provider == EntraID {
		if p.UsePasswordProtectedContext {
			add(fieldErr("usePasswordProtectedContext", "must be off for Entra ID, which fails sign-ins that request an authentication context"))
		}
		if p.UseIntegratedAuthContext {
			add(fieldErr("useIntegratedAuthContext", "must be off for Entra ID, which fails sign-ins that request an authentication context"))
		}
	}
	return errors.Join(errs...)
}

func domainAuthList() string {
	var names []string
	for _, d := range DomainAuthentications() {
		names = append(names, string(d))
	}
	return strings.Join(names, ", ")
}

func checkHTTPS(field, raw string) *FieldError {
	if strings.TrimSpace(raw) != raw {
		return fieldErr(field, "has surrounding white space")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fieldErr(field, "not a URL: %v", unwrapURLError(err))
	}
	if u.Scheme != "https" {
		if u.Scheme == "" {
			return fieldErr(field, "%q is not an absolute URL; expected https://...", redact(raw))
		}
		return fieldErr(field, "scheme is %s; only https is allowed", u.Scheme)
	}
	if u.Host == "" {
		return fieldErr(field, "no host")
	}
	if u.User != nil {
		return fieldErr(field, "carries user info (credentials do not belong in a URL)")
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact removes any password from a URL for display.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(raw, "@") {
			return "(unparsable URL)"
		}
		return raw
	}
	return u.Redacted()
}

// jsonProfile has Profile's fields without its methods.
type jsonProfile Profile

// MarshalJSON encodes the profile with any password in its URLs replaced by
// "xxxxx". Valid profiles have none, so they round-trip unchanged.
func (p Profile) MarshalJSON() ([]byte, error) {
	q := jsonProfile(p)
	q.MetadataURL = redact(q.MetadataURL)
	q.LoginURL = redact(q.LoginURL)
	q.LogoutURL = redact(q.LogoutURL)
	q.IssuerURL = redact(q.IssuerURL)
	return json.Marshal(q)
}

// UnmarshalJSON reads a profile strictly: the document must be one JSON
// object whose keys are exactly the field names (case matters, no
// duplicates, nothing unknown) with values of the right type and, for
// provider and domainAuthentication, a defined value. The error is a
// [*FieldError] naming the field. On error p is unchanged. Decoding does
// not run [Profile.Validate]. JSON null is accepted and changes nothing.
func (p *Profile) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil // the encoding/json convention: null changes nothing
	}
	var out jsonProfile
	fields := jsonFields(&out)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fieldErr("", "not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fieldErr("", "a profile is a JSON object, not %s", describeToken(tok))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fieldErr("", "not JSON: %v", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fieldErr(key, "not JSON: %v", err)
		}
		target, ok := fields[key]
		if !ok {
			for k := range fields {
				if strings.EqualFold(k, key) {
					return fieldErr(key, "unknown field (did you mean %q? names are case-sensitive)", k)
				}
			}
			return fieldErr(key, "unknown field")
		}
		if seen[key] {
			return fieldErr(key, "given twice")
		}
		seen[key] = true
		if err := json.Unmarshal(raw, target.Addr().Interface()); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return fieldErr(key, "expected %s, got JSON %s", jsonKind(target.Type()), te.Value)
			}
			return fieldErr(key, "%v", err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fieldErr("", "not JSON: %v", err)
	}
	if out.Provider != "" && !out.Provider.Valid() {
		return fieldErr("provider", "unknown provider %q (one of %s)", string(out.Provider), providerList())
	}
	if !out.DomainAuthentication.Valid() {
		return fieldErr("domainAuthentication", "unknown mechanism %q (one of %s)", string(out.DomainAuthentication), domainAuthList())
	}
	*p = Profile(out)
	return nil
}

// jsonFields maps each JSON key of jsonProfile to its field.
func jsonFields(p *jsonProfile) map[string]reflect.Value {
	v := reflect.ValueOf(p).Elem()
	t := v.Type()
	m := make(map[string]reflect.Value, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = v.Field(i)
	}
	return m
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

func describeToken(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}

// Decode reads one profile from r strictly (see [Profile.UnmarshalJSON]) and
// validates it. At most 1 MiB is read.
func Decode(r io.Reader) (Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return Profile{}, fmt.Errorf("profile: read: %w", err)
	}
	if len(data) > 1<<20 {
		return Profile{}, fieldErr("", "document larger than 1 MiB")
	}
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return Profile{}, fe
		}
		return Profile{}, fieldErr("", "not JSON: %v", err)
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// String describes the profile in one line for logs and support: the
// provider, the URLs (passwords removed), the certificates by subject,
// expiry and SHA-256 fingerprint (never the PEM) and the switches that are
// on.
func (p Profile) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "profile %q provider=%s", p.Description, orNone(string(p.Provider)))
	for _, f := range []struct{ name, val string }{
		{"metadataURL", p.MetadataURL}, {"issuer", p.IssuerURL}, {"login", p.LoginURL}, {"logout", p.LogoutURL},
	} {
		if f.val != "" {
			fmt.Fprintf(&b, " %s=%s", f.name, redact(f.val))
		}
	}
	if p.IdPCertificates != "" {
		certs, err := p.Certificates()
		if err != nil {
			b.WriteString(" certificates=invalid")
		} else {
			var list []string
			for _, c := range certs {
				sum := sha256.Sum256(c.Raw)
				list = append(list, fmt.Sprintf("%q until %s sha256:%s", c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02"), hex.EncodeToString(sum[:8])))
			}
			fmt.Fprintf(&b, " certificates=[%s]", strings.Join(list, ", "))
		}
	}
	var on []string
	for _, s := range []struct {
		name string
		on   bool
	}{
		{"enforce-admin-console", p.EnforceSAMLAdminConsole},
		{"enforce-personal-portal", p.EnforceSAMLPersonalPortal},
		{"enforce-applications", p.EnforceSAMLApplications},
		{"password-protected-context", p.UsePasswordProtectedContext},
		{"integrated-auth-context", p.UseIntegratedAuthContext},
		{"idp-initiated", p.AllowSingleSignOn},
		{"monitor-metadata", p.MonitorMetadataURL},
	} {
		if s.on {
			on = append(on, s.name)
		}
	}
	fmt.Fprintf(&b, " on=[%s] domainAuthentication=%s", strings.Join(on, " "), orNone(string(p.DomainAuthentication)))
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
