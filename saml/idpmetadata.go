package saml

import (
	"crypto/x509"
	"time"
)

// Endpoint is a SAML protocol endpoint: a binding URI and the URL it is served at.
type Endpoint struct {
	Binding  string
	Location string
}

// IdPMetadata is what a service provider needs to know about an identity
// provider: its entity ID, endpoints and signing certificates.
type IdPMetadata struct {
	EntityID      string
	SSO, SLO      []Endpoint
	SigningCerts  []*x509.Certificate
	NameIDFormats []string
	ValidUntil    time.Time
	CacheDuration time.Duration

	// WantAuthnRequestsSigned is the IdP's WantAuthnRequestsSigned flag.
	WantAuthnRequestsSigned bool
}

// ExpiredCerts returns the signing certificates that are not valid at t
// (expired, or not yet valid). Metadata import keeps them, since IdPs
// publish old and new certificates side by side during a key rollover;
// this reports which ones an administrator should look at.
func (m *IdPMetadata) ExpiredCerts(t time.Time) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range m.SigningCerts {
		if c == nil {
			continue
		}
		if t.After(c.NotAfter) || t.Before(c.NotBefore) {
			out = append(out, c)
		}
	}
	return out
}
