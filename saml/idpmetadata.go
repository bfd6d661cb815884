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
}
