package profile

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/region"
	"github.com/gatehouse-id/gatehouse/saml"
)

// Authentication context classes requested by the profile switches.
const (
	// AuthnContextPasswordProtected is requested when
	// UsePasswordProtectedContext is on.
	AuthnContextPasswordProtected = saml.AuthnContextPasswordProtectedTransport
	// AuthnContextIntegrated is requested when UseIntegratedAuthContext is on.
	AuthnContextIntegrated = saml.AuthnContextWindows
)

// RequestedAuthnContext returns the authentication context classes the
// profile asks the IdP for: PasswordProtectedTransport when
// UsePasswordProtectedContext is on, integrated Windows authentication when
// UseIntegratedAuthContext is on; nil when neither is.
func (p Profile) RequestedAuthnContext() []string {
	var out []string
	if p.UsePasswordProtectedContext {
		out = append(out, AuthnContextPasswordProtected)
	}
	if p.UseIntegratedAuthContext {
		out = append(out, AuthnContextIntegrated)
	}
	return out
}

// Enforced reports whether the profile makes app sign in with SAML.
func (p Profile) Enforced(app region.App) bool {
	switch app {
	case region.Applications:
		return p.EnforceSAMLApplications
	case region.PersonalPortal:
		return p.EnforceSAMLPersonalPortal
	case region.AdminConsole:
		return p.EnforceSAMLAdminConsole
	}
	return false
}

// Option changes the service provider [Profile.ServiceProvider] builds.
type Option func(*spOptions)

type spOptions struct {
	legacyEntityID bool
	idp            *saml.IdPMetadata
	edits          []func(*saml.Config)
}

// WithLegacyEntityID uses the older entity ID form "<api-host>.<ACCOUNT>"
// ([region.Region.LegacyEntityID]) for accounts set up with it.
func WithLegacyEntityID() Option { return func(o *spOptions) { o.legacyEntityID = true } }

// WithReplayCache shares a replay cache between service providers (and,
// with a shared implementation, between processes). Without it each
// service provider has its own in-memory cache.
func WithReplayCache(c saml.ReplayCache) Option {
	return WithConfig(func(cfg *saml.Config) { cfg.ReplayCache = c })
}

// WithClock sets the service provider's clock (saml.Config.Now).
func WithClock(now func() time.Time) Option {
	return WithConfig(func(cfg *saml.Config) { cfg.Now = now })
}

// WithSigningKey signs AuthnRequests with key and publishes cert in the SP
// metadata.
func WithSigningKey(key crypto.Signer, cert *x509.Certificate) Option {
	return WithConfig(func(cfg *saml.Config) { cfg.SigningKey, cfg.SigningCert = key, cert })
}

// WithIdPMetadata uses md for the identity provider instead of the
// profile's IssuerURL, LoginURL and IdPCertificates, for example the
// current copy from a [Monitor].
func WithIdPMetadata(md *saml.IdPMetadata) Option {
	return func(o *spOptions) { o.idp = md }
}

// WithConfig edits the saml.Config after the profile has filled it in, for
// settings the profile does not hold (ClockSkew, NameIDFormat, ForceAuthn,
// ...). The result is still checked by saml.NewServiceProvider. A nil
// edit does nothing.
func WithConfig(edit func(*saml.Config)) Option {
	return func(o *spOptions) { o.edits = append(o.edits, edit) }
}

// Config returns the saml.Config for account's service provider on grid r
// for app: the entity ID from r and account, the ACS URL of app on r, the
// IdP from the profile (issuer, login URL, certificates),
// AllowIdPInitiated from AllowSingleSignOn and RequestedAuthnContext from
// the two context switches. The profile is validated first; every problem
// is reported, joined.
func (p Profile) Config(r region.Region, account string, app region.App, opts ...Option) (saml.Config, error) {
	var o spOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	var errs []error
	if err := p.Validate(); err != nil {
		errs = append(errs, err)
	}
	var entityID string
	var err error
	if o.legacyEntityID {
		entityID, err = r.LegacyEntityID(account)
	} else {
		entityID, err = r.EntityID(account)
	}
	if err != nil {
		errs = append(errs, err)
	}
	acs := r.ACSURL(app)
	if acs == "" && !r.IsZero() {
		errs = append(errs, fmt.Errorf("profile: app %v: %w", app, region.ErrUnknownApp))
	}
	idp := o.idp
	if idp == nil {
		idp, err = p.idpMetadata()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return saml.Config{}, errors.Join(errs...)
	}
	cfg := saml.Config{
		EntityID:              entityID,
		ACSURL:                acs,
		IdP:                   idp,
		AllowIdPInitiated:     p.AllowSingleSignOn,
		RequestedAuthnContext: p.RequestedAuthnContext(),
	}
	for _, edit := range o.edits {
		if edit != nil {
			edit(&cfg)
		}
	}
	return cfg, nil
}

// ServiceProvider builds a ready *saml.ServiceProvider for account on grid
// r and application app from the profile; see [Profile.Config] for what
// goes where. Errors from the profile are [*FieldError]s (matching
// [ErrInvalid]), from the region package for a bad grid or account, and
// from saml.NewServiceProvider (saml.ErrConfig).
func (p Profile) ServiceProvider(r region.Region, account string, app region.App, opts ...Option) (*saml.ServiceProvider, error) {
	cfg, err := p.Config(r, account, app, opts...)
	if err != nil {
		return nil, err
	}
	return saml.NewServiceProvider(cfg)
}

// idpMetadata builds IdP metadata from the profile's own fields.
func (p Profile) idpMetadata() (*saml.IdPMetadata, error) {
	var errs []error
	if p.IssuerURL == "" {
		errs = append(errs, fieldErr("issuerURL", "required for a service provider (import the IdP metadata)"))
	}
	if p.LoginURL == "" {
		errs = append(errs, fieldErr("loginURL", "required for a service provider (import the IdP metadata)"))
	}
	certs, err := p.Certificates()
	if err != nil {
		errs = append(errs, err)
	} else if len(certs) == 0 {
		errs = append(errs, fieldErr("idpCertificates", "required for a service provider (import the IdP metadata)"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &saml.IdPMetadata{
		EntityID: p.IssuerURL,
		SSO: []saml.Endpoint{
			{Binding: saml.BindingHTTPRedirect, Location: p.LoginURL},
			{Binding: saml.BindingHTTPPost, Location: p.LoginURL},
		},
		SigningCerts: certs,
	}, nil
}

// Monitor keeps a profile's identity-provider details current from its
// metadata URL, so certificates the IdP rolls over are picked up without an
// administrator. It is backed by a saml.MetadataCache and is safe for
// concurrent use.
type Monitor struct {
	base   Profile
	cache  *saml.MetadataCache
	replay saml.ReplayCache
}

// NewMonitor returns a Monitor for p, which must be valid, have
// MonitorMetadataURL on and a MetadataURL. cfg configures the metadata
// cache (clock, refresh intervals, fetch options such as
// saml.WithHTTPClient); its URL is taken from the profile when empty and
// must otherwise equal it. Nothing is fetched until the first call that
// needs metadata.
func NewMonitor(p Profile, cfg saml.MetadataCacheConfig) (*Monitor, error) {
	var errs []error
	if err := p.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !p.MonitorMetadataURL {
		errs = append(errs, fieldErr("monitorMetadataURL", "off; turn it on to monitor the metadata URL"))
	}
	if p.MetadataURL == "" {
		errs = append(errs, fieldErr("metadataURL", "required to monitor metadata"))
	}
	if cfg.URL == "" {
		cfg.URL = p.MetadataURL
	} else if cfg.URL != p.MetadataURL {
		errs = append(errs, fieldErr("metadataURL", "differs from the cache URL %q", redact(cfg.URL)))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cache, err := saml.NewMetadataCache(cfg)
	if err != nil {
		return nil, err
	}
	return &Monitor{base: p, cache: cache, replay: saml.NewMemoryReplayCache(0)}, nil
}

// Metadata returns the current IdP metadata (see saml.MetadataCache.Get).
func (m *Monitor) Metadata(ctx context.Context) (*saml.IdPMetadata, error) {
	md, err := m.cache.Get(ctx)
	if err != nil {
		return nil, &ImportError{URL: redact(m.base.MetadataURL), Err: err}
	}
	return md, nil
}

// Refresh fetches the metadata now, whatever the cache schedule says (for
// example when a response fails with a signature error right after the IdP
// announced a new certificate). On failure the last good copy stays.
func (m *Monitor) Refresh(ctx context.Context) (*saml.IdPMetadata, error) {
	md, err := m.cache.Refresh(ctx)
	if err != nil {
		return nil, &ImportError{URL: redact(m.base.MetadataURL), Err: err}
	}
	return md, nil
}

// Profile returns the profile with IssuerURL, LoginURL, LogoutURL and
// IdPCertificates from the current metadata.
func (m *Monitor) Profile(ctx context.Context) (Profile, error) {
	md, err := m.Metadata(ctx)
	if err != nil {
		return Profile{}, err
	}
	p := m.base
	p.apply(md)
	return p, nil
}

// ServiceProvider builds a service provider from the current metadata, as
// [Profile.ServiceProvider] does. Build a new one whenever the metadata
// may have changed (for example per login); all service providers of one
// Monitor share one replay cache unless opts give another.
func (m *Monitor) ServiceProvider(ctx context.Context, r region.Region, account string, app region.App, opts ...Option) (*saml.ServiceProvider, error) {
	p, err := m.Profile(ctx)
	if err != nil {
		return nil, err
	}
	all := append([]Option{WithReplayCache(m.replay)}, opts...)
	return p.ServiceProvider(r, account, app, all...)
}

// Status reports the state of the metadata cache.
func (m *Monitor) Status() saml.MetadataCacheStatus { return m.cache.Status() }
