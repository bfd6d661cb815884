package profile_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/region"
	"github.com/gatehouse-id/gatehouse/saml"
)

func regionEU() region.Region { return region.EU() }
func appAdmin() region.App    { return region.AdminConsole }

func TestServiceProviderEveryRegionAndApp(t *testing.T) {
	p := configured(t, profile.Okta)
	for _, r := range region.All() {
		for _, app := range region.Apps() {
			sp, err := p.ServiceProvider(r, " cuk123abc ", app)
			require.NoError(t, err, "%s %s", r, app)
			assert.Equal(t, "https://"+r.APIHost()+"/sso/CUK123ABC", sp.EntityID())
			assert.Equal(t, "https://"+r.APIHost()+app.Path(), sp.ACSURL())
			idp := sp.IdP()
			assert.Equal(t, p.IssuerURL, idp.EntityID)
			certs, _ := p.Certificates()
			require.Len(t, idp.SigningCerts, len(certs))
			assert.True(t, idp.SigningCerts[0].Equal(certs[0]))

			legacy, err := p.ServiceProvider(r, "CUK123ABC", app, profile.WithLegacyEntityID())
			require.NoError(t, err)
			assert.Equal(t, r.APIHost()+".CUK123ABC", legacy.EntityID())
		}
	}
}

func TestServiceProviderSwitches(t *testing.T) {
	tests := []struct {
		name       string
		provider   profile.Provider
		password   bool
		integrated bool
		sso        bool
		contexts   []string
	}{
		{"none", profile.ADFS, false, false, false, nil},
		{"password", profile.ADFS, true, false, false, []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}},
		{"integrated", profile.ADFS, false, true, true, []string{"urn:federation:authentication:windows"}},
		{"both", profile.Other, true, true, true, []string{
			"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", "urn:federation:authentication:windows"}},
		{"entra", profile.EntraID, false, false, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := configured(t, tt.provider)
			p.UsePasswordProtectedContext = tt.password
			p.UseIntegratedAuthContext = tt.integrated
			p.AllowSingleSignOn = tt.sso
			cfg, err := p.Config(region.US(), "CUSA1", region.Applications)
			require.NoError(t, err)
			assert.Equal(t, tt.sso, cfg.AllowIdPInitiated)
			assert.Equal(t, tt.contexts, cfg.RequestedAuthnContext)
			assert.Equal(t, "https://us-api.mimecast.com/sso/CUSA1", cfg.EntityID)
			assert.Equal(t, "https://us-api.mimecast.com/login/saml", cfg.ACSURL)

			// The AuthnRequest really carries the contexts.
			sp, err := p.ServiceProvider(region.US(), "CUSA1", region.Applications)
			require.NoError(t, err)
			req, err := sp.AuthnRequest("relay")
			require.NoError(t, err)
			xml := string(req.XML(p.LoginURL))
			assert.Contains(t, xml, `AssertionConsumerServiceURL="https://us-api.mimecast.com/login/saml"`)
			assert.Contains(t, xml, "https://us-api.mimecast.com/sso/CUSA1")
			for _, c := range tt.contexts {
				assert.Contains(t, xml, c)
			}
			if len(tt.contexts) == 0 {
				assert.NotContains(t, xml, "RequestedAuthnContext")
			}
		})
	}
}

func TestServiceProviderRefusesBadInput(t *testing.T) {
	p := configured(t, profile.Okta)

	_, err := p.ServiceProvider(region.EU(), "CUK-1", region.Applications)
	require.ErrorIs(t, err, region.ErrInvalidAccount)
	_, err = p.ServiceProvider(region.Region{}, "CUK1", region.Applications)
	require.ErrorIs(t, err, region.ErrUnknownRegion)
	_, err = p.ServiceProvider(region.EU(), "CUK1", region.App(9))
	require.ErrorIs(t, err, region.ErrUnknownApp)

	// Everything wrong at once is reported at once.
	bad := p
	bad.LoginURL = "http://idp.example.com/sso"
	bad.IdPCertificates = ""
	_, err = bad.ServiceProvider(region.EU(), "CUK 1", region.Applications)
	require.ErrorIs(t, err, profile.ErrInvalid)
	require.ErrorIs(t, err, region.ErrInvalidAccount)
	assert.Subset(t, fieldsOf(err), []string{"idpCertificates", "loginURL"})

	// A profile that enforces nothing still needs an IdP to build an SP.
	empty := profile.New(profile.Other)
	_, err = empty.ServiceProvider(region.EU(), "CUK1", region.Applications)
	require.ErrorIs(t, err, profile.ErrInvalid)
	assert.Equal(t, []string{"idpCertificates", "issuerURL", "loginURL"}, fieldsOf(err))
	assert.Contains(t, err.Error(), "import the IdP metadata")

	// Options reach the saml config, and saml still checks the result.
	_, err = p.ServiceProvider(region.EU(), "CUK1", region.Applications, profile.WithConfig(func(c *saml.Config) { c.ClockSkew = -1 }))
	require.ErrorIs(t, err, saml.ErrConfig)
	assert.Contains(t, err.Error(), "ClockSkew")
}

func TestEnforced(t *testing.T) {
	p := profile.New(profile.Other)
	p.EnforceSAMLPersonalPortal = true
	assert.False(t, p.Enforced(region.Applications))
	assert.True(t, p.Enforced(region.PersonalPortal))
	assert.False(t, p.Enforced(region.AdminConsole))
	assert.False(t, p.Enforced(region.App(5)))
	assert.True(t, p.SAMLEnforced())
}

func TestServiceProviderMetadataForIdPAdmin(t *testing.T) {
	p := configured(t, profile.EntraID)
	sp, err := p.ServiceProvider(region.AU(), "CAU77", region.PersonalPortal)
	require.NoError(t, err)
	md, err := sp.Metadata()
	require.NoError(t, err)
	s := string(md)
	assert.Contains(t, s, `entityID="https://au-api.mimecast.com/sso/CAU77"`)
	assert.True(t, strings.Contains(s, `Location="https://au-api.mimecast.com/login/sso/mpp"`), s)
}

func TestServiceProviderNilOptions(t *testing.T) {
	p := configured(t, profile.Okta)
	sp, err := p.ServiceProvider(region.EU(), "CUK123ABC", region.Applications, nil, profile.WithConfig(nil),
		profile.WithConfig(func(c *saml.Config) { c.ForceAuthn = true }))
	require.NoError(t, err)
	assert.Equal(t, "https://eu-api.mimecast.com/sso/CUK123ABC", sp.EntityID())
	req, err := sp.AuthnRequest("")
	require.NoError(t, err)
	assert.Contains(t, string(req.XML("https://idp.example.com/sso")), `ForceAuthn="true"`, "the edit after the nil one applies")
}
