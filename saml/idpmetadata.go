package saml

import (
	"crypto/x509"
	"time"
)

// Endpoint is a SAML protocol endpoint: a binding URI and the URL it is served at.
type Endpoint struct {
	// Binding is the SAML binding URI, for example [BindingHTTPRedirect].
	Binding string
	// Location is the endpoint's absolute http(s) URL.
	Location string
}

// IdPMetadata is what a service provider needs to know about an identity
// provider: its entity ID, endpoints and signing certificates.
type IdPMetadata struct {
	// EntityID is the IdP's entity ID (the entityID attribute).
	EntityID string
	// SSO lists the SingleSignOnService endpoints and SLO the
	// SingleLogoutService endpoints, in document order without duplicates.
	SSO, SLO []Endpoint
	// SigningCerts are the certificates of KeyDescriptors with use
	// "signing" or no use; expired ones are kept (see [IdPMetadata.ExpiredCerts]).
	SigningCerts []*x509.Certificate
	// NameIDFormats lists the NameIDFormat values the IdP supports.
	NameIDFormats []string
	// ValidUntil is the earliest validUntil on the IDPSSODescriptor, its
	// EntityDescriptor and enclosing EntitiesDescriptors, in UTC; zero if none.
	ValidUntil time.Time
	// CacheDuration is the shortest cacheDuration on those same elements,
	// or 0 if none.
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
