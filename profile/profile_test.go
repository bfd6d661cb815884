package profile_test

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/profile"
)

const (
	entraTenant = "6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90"
	entraApp    = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
)

func TestNewPresets(t *testing.T) {
	tests := []struct {
		provider profile.Provider
		monitor  bool
		logout   string
		display  string
	}{
		{profile.EntraID, true, "", "Microsoft Entra ID"},
		{profile.JumpCloud, false, "https://console.jumpcloud.com/userconsole/", "JumpCloud"},
		{profile.Okta, true, "", "Okta"},
		{profile.ADFS, true, "", "Active Directory Federation Services"},
		{profile.Google, false, "", "Google Workspace"},
		{profile.Other, false, "", "SAML 2.0 identity provider"},
	}
	require.Len(t, profile.Providers(), len(tests))
	for i, tt := range tests {
		t.Run(string(tt.provider), func(t *testing.T) {
			assert.Equal(t, tt.provider, profile.Providers()[i])
			assert.True(t, tt.provider.Valid())
			assert.Equal(t, tt.display, tt.provider.DisplayName())
			p := profile.New(tt.provider)
			assert.Equal(t, tt.provider, p.Provider)
			assert.Equal(t, tt.display+" single sign-on", p.Description)
			assert.Equal(t, tt.monitor, p.MonitorMetadataURL)
			assert.Equal(t, tt.logout, p.LogoutURL)
			assert.False(t, p.UsePasswordProtectedContext)
			assert.False(t, p.UseIntegratedAuthContext)
			assert.False(t, p.SAMLEnforced(), "a preset enforces nothing until configured")
			assert.False(t, p.AllowSingleSignOn, "IdP-initiated sign-on is off by default")
			assert.Equal(t, profile.DomainAuthNone, p.DomainAuthentication)
			err := p.Validate()
			if tt.monitor {
				// Monitoring needs a metadata URL: the one problem of the preset.
				assert.Equal(t, []string{"monitorMetadataURL"}, fieldsOf(err))
			} else {
				assert.NoError(t, err)
			}
		})
	}
	assert.False(t, profile.Provider("azure").Valid())
	bad := profile.New("azure")
	assert.Contains(t, fieldsOf(bad.Validate()), "provider")
}

func TestParseProvider(t *testing.T) {
	tests := map[string]profile.Provider{
		"entra-id": profile.EntraID, "Entra ID": profile.EntraID, "Azure AD": profile.EntraID, " MICROSOFT ENTRA ID ": profile.EntraID,
		"jumpcloud": profile.JumpCloud, "JumpCloud": profile.JumpCloud,
		"okta": profile.Okta, "AD FS": profile.ADFS, "adfs": profile.ADFS,
		"Google Workspace": profile.Google, "other": profile.Other,
	}
	for in, want := range tests {
		got, err := profile.ParseProvider(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := profile.ParseProvider("pingfederate")
	require.ErrorIs(t, err, profile.ErrInvalid)
	assert.Contains(t, err.Error(), `profile: provider: unknown provider "pingfederate"`)
}

func TestEntraMetadataURL(t *testing.T) {
	u := profile.EntraMetadataURL(entraTenant, entraApp)
	assert.Equal(t, "https://login.microsoftonline.com/"+entraTenant+"/federationmetadata/2007-06/federationmetadata.xml?appid="+entraApp, u)
	tenant, app, err := profile.ParseEntraMetadataURL(u)
	require.NoError(t, err)
	assert.Equal(t, entraTenant, tenant)
	assert.Equal(t, entraApp, app)

	good := []string{
		"https://login.microsoftonline.com/contoso.onmicrosoft.com/federationmetadata/2007-06/federationmetadata.xml?appid=" + entraApp,
		"https://LOGIN.microsoftonline.com/" + entraTenant + "/FederationMetadata/2007-06/FederationMetadata.xml?appid=" + entraApp,
		"https://login.microsoftonline.us/" + entraTenant + "/federationmetadata/2007-06/federationmetadata.xml?appId=" + entraApp,
		" " + u + " ",
	}
	for _, s := range good {
		_, _, err := profile.ParseEntraMetadataURL(s)
		assert.NoError(t, err, s)
	}
	bad := map[string]string{
		"http://login.microsoftonline.com/" + entraTenant + "/federationmetadata/2007-06/federationmetadata.xml?appid=" + entraApp:                         "not https",
		"https://login.microsoftonline.com.evil.example/" + entraTenant + "/federationmetadata/2007-06/federationmetadata.xml?appid=" + entraApp:           "is not login.microsoftonline.com",
		"https://login.microsoftonline.com/" + entraTenant + "/federationmetadata/2007-06/federationmetadata.xml":                                          "appid query parameter missing",
		"https://login.microsoftonline.com/" + entraTenant + "/federationmetadata/2007-06/federationmetadata.xml?appid=mimecast":                           `appid "mimecast" is not an application ID`,
		"https://login.microsoftonline.com/" + entraTenant + "/saml2":                                                                                      "is not /<tenant>/federationmetadata",
		"https://login.microsoftonline.com/bad_tenant!/federationmetadata/2007-06/federationmetadata.xml?appid=" + entraApp:                                "neither a tenant ID",
		"https://login.microsoftonline.com/" + entraTenant + "/federationmetadata/2007-06/federationmetadata.xml?appid=" + entraApp + "&appid=" + entraApp: "appid given 2 times",
		"login.microsoftonline.com/x": "not a URL",
	}
	for s, msg := range bad {
		_, _, err := profile.ParseEntraMetadataURL(s)
		require.Error(t, err, s)
		assert.Contains(t, err.Error(), msg, s)
	}
}

func TestJumpCloudIdPURL(t *testing.T) {
	assert.Equal(t, "https://sso.jumpcloud.com/saml2/mimecast", profile.JumpCloudIdPURL("mimecast"))
	app, err := profile.ParseJumpCloudIdPURL("https://sso.jumpcloud.com/saml2/mimecast")
	require.NoError(t, err)
	assert.Equal(t, "mimecast", app)
	for _, s := range []string{
		"http://sso.jumpcloud.com/saml2/mimecast",
		"https://sso.jumpcloud.com.evil.example/saml2/mimecast",
		"https://sso.jumpcloud.com/saml/mimecast",
		"https://sso.jumpcloud.com/saml2/",
		"https://sso.jumpcloud.com/saml2/a/b",
		"https://sso.jumpcloud.com/saml2/app?x=1",
	} {
		_, err := profile.ParseJumpCloudIdPURL(s)
		assert.Error(t, err, s)
	}
}

// configured returns a valid, SAML-enforcing profile for provider with a
// fresh certificate.
func configured(t *testing.T, provider profile.Provider) profile.Profile {
	t.Helper()
	p := profile.New(provider)
	sso := "https://idp.example.com/sso"
	switch provider {
	case profile.EntraID:
		p.MetadataURL = profile.EntraMetadataURL(entraTenant, entraApp)
		sso = "https://login.microsoftonline.com/" + entraTenant + "/saml2"
	case profile.JumpCloud:
		sso = profile.JumpCloudIdPURL("mimecast")
	case profile.Okta, profile.ADFS:
		p.MetadataURL = "https://idp.example.com/metadata"
	}
	require.NoError(t, p.ImportMetadata(metadataDoc("https://idp.example.com/entity", sso, "", newCert(t, "idp signing"))))
	p.EnforceSAMLAdminConsole = true
	p.EnforceSAMLPersonalPortal = true
	p.EnforceSAMLApplications = true
	return p
}

func TestValidateAcceptsConfiguredProfiles(t *testing.T) {
	for _, pr := range profile.Providers() {
		p := configured(t, pr)
		require.NoError(t, p.Validate(), pr)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := profile.New(profile.EntraID)
	p.Description = "  "
	p.MetadataURL = "http://login.microsoftonline.com/" + entraTenant + "/federationmetadata/2007-06/federationmetadata.xml?appid=" + entraApp
	p.LoginURL = "http://login.microsoftonline.com/" + entraTenant + "/saml2"
	p.LogoutURL = "https://user:secret@idp.example.com/logout"
	p.UsePasswordProtectedContext = true
	p.UseIntegratedAuthContext = true
	p.EnforceSAMLAdminConsole = true
	p.DomainAuthentication = "kerberos"

	err := p.Validate()
	require.ErrorIs(t, err, profile.ErrInvalid)
	assert.Equal(t, []string{
		"description", "domainAuthentication", "idpCertificates", "issuerURL", "loginURL", "logoutURL",
		"metadataURL", "useIntegratedAuthContext", "usePasswordProtectedContext",
	}, fieldsOf(err))
	msg := err.Error()
	for _, want := range []string{
		"profile: metadataURL: scheme is http; only https is allowed",
		"profile: loginURL: scheme is http; only https is allowed",
		"profile: idpCertificates: required when SAML is enforced",
		"profile: issuerURL: required when SAML is enforced",
		"profile: usePasswordProtectedContext: must be off for Entra ID",
		"profile: useIntegratedAuthContext: must be off for Entra ID",
		"profile: logoutURL: carries user info",
		`profile: domainAuthentication: unknown mechanism "kerberos"`,
		"profile: description: required",
	} {
		assert.Contains(t, msg, want)
	}
	assert.NotContains(t, msg, "secret", "errors never repeat a password")
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*profile.Profile)
		fields []string
		msg    string
	}{
		{"zero profile", func(p *profile.Profile) { *p = profile.Profile{} }, []string{"description", "provider"}, "provider: required"},
		{"entra metadata URL of wrong shape", func(p *profile.Profile) {
			p.MetadataURL = "https://login.microsoftonline.com/" + entraTenant + "/federationmetadata/2007-06/federationmetadata.xml"
		}, []string{"metadataURL"}, "appid query parameter missing"},
		{"monitor without URL", func(p *profile.Profile) { p.MetadataURL = "" }, []string{"monitorMetadataURL"}, "on, but metadataURL is empty"},
		{"login URL relative", func(p *profile.Profile) { p.LoginURL = "/saml2" }, []string{"loginURL"}, "not an absolute URL"},
		{"login URL with spaces", func(p *profile.Profile) { p.LoginURL = " " + p.LoginURL }, []string{"loginURL"}, "white space"},
		{"issuer with spaces", func(p *profile.Profile) { p.IssuerURL += " " }, []string{"issuerURL"}, "white space"},
		{"certificates garbage", func(p *profile.Profile) { p.IdPCertificates = "MIIB..." }, []string{"idpCertificates"}, "not PEM"},
		{"certificate of wrong type", func(p *profile.Profile) {
			p.IdPCertificates = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, []string{"idpCertificates"}, `block 1 is "PRIVATE KEY", not CERTIFICATE`},
		{"broken certificate", func(p *profile.Profile) {
			p.IdPCertificates += "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, []string{"idpCertificates"}, "block 2:"},
		{"text after certificate", func(p *profile.Profile) { p.IdPCertificates += "trailing" }, []string{"idpCertificates"}, "text after PEM block 1"},
		{"white space only certificates", func(p *profile.Profile) { p.IdPCertificates = "\n  \n" }, []string{"idpCertificates"}, "holds no certificate"},
		{"IdP-initiated without IdP", func(p *profile.Profile) {
			p.EnforceSAMLAdminConsole, p.EnforceSAMLPersonalPortal, p.EnforceSAMLApplications = false, false, false
			p.AllowSingleSignOn = true
			p.IssuerURL, p.LoginURL, p.IdPCertificates = "", "", ""
		}, []string{"idpCertificates", "issuerURL", "loginURL"}, "required when allowSingleSignOn is on"},
		{"description too long", func(p *profile.Profile) { p.Description = strings.Repeat("x", 3000) }, []string{"description"}, "at most 2048"},
		{"provider unknown", func(p *profile.Profile) { p.Provider = "ping" }, []string{"provider"}, `unknown provider "ping"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := configured(t, profile.EntraID)
			tt.edit(&p)
			err := p.Validate()
			require.ErrorIs(t, err, profile.ErrInvalid)
			assert.Equal(t, tt.fields, fieldsOf(err))
			assert.Contains(t, err.Error(), tt.msg)
		})
	}

	jc := configured(t, profile.JumpCloud)
	jc.LoginURL = "https://idp.example.com/sso"
	err := jc.Validate()
	assert.Equal(t, []string{"loginURL"}, fieldsOf(err))
	assert.Contains(t, err.Error(), "not a JumpCloud IdP URL")

	// Not enforcing SAML: an IdP is not needed and its absence is fine.
	p := profile.New(profile.Other)
	p.DomainAuthentication = profile.DomainAuthLDAPDirectory
	assert.NoError(t, p.Validate())
	p.DomainAuthentication = ""
	assert.NoError(t, p.Validate(), "empty means none")
}

func TestDomainAuthentication(t *testing.T) {
	want := []profile.DomainAuthentication{"none", "cloud-password", "ldap-directory", "office365", "exchange-web-services"}
	assert.Equal(t, want, profile.DomainAuthentications())
	for _, d := range want {
		assert.True(t, d.Valid())
		p := profile.New(profile.Other)
		p.DomainAuthentication = d
		b, err := json.Marshal(p)
		require.NoError(t, err)
		var back profile.Profile
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, d, back.DomainAuthentication)
	}
	assert.False(t, profile.DomainAuthentication("Cloud Password").Valid())
}

func TestJSONRoundTrip(t *testing.T) {
	for _, pr := range profile.Providers() {
		p := configured(t, pr)
		p.AllowSingleSignOn = true
		p.DomainAuthentication = profile.DomainAuthCloudPassword
		b, err := json.Marshal(p)
		require.NoError(t, err)
		var back profile.Profile
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, p, back, string(b))
		dec, err := profile.Decode(strings.NewReader(string(b)))
		require.NoError(t, err)
		assert.Equal(t, p, dec)
	}
	p := profile.New(profile.JumpCloud)
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"description": "JumpCloud single sign-on",
		"provider": "jumpcloud",
		"logoutURL": "https://console.jumpcloud.com/userconsole/",
		"enforceSAMLAdminConsole": false,
		"enforceSAMLPersonalPortal": false,
		"enforceSAMLApplications": false,
		"usePasswordProtectedContext": false,
		"useIntegratedAuthContext": false,
		"allowSingleSignOn": false,
		"monitorMetadataURL": false,
		"domainAuthentication": "none"
	}`, string(b))
}

func TestJSONStrict(t *testing.T) {
	base := `"description":"d","provider":"okta"`
	tests := []struct {
		doc   string
		field string
		msg   string
	}{
		{`{` + base + `,"colour":"blue"}`, "colour", "unknown field"},
		{`{` + base + `,"LoginURL":"https://x"}`, "LoginURL", `did you mean "loginURL"`},
		{`{` + base + `,"provider":"okta"}`, "provider", "given twice"},
		{`{` + base + `,"enforceSAMLAdminConsole":"yes"}`, "enforceSAMLAdminConsole", "expected true or false, got JSON string"},
		{`{` + base + `,"allowSingleSignOn":1}`, "allowSingleSignOn", "expected true or false, got JSON number"},
		{`{` + base + `,"loginURL":["https://x"]}`, "loginURL", "expected a string, got JSON array"},
		{`{` + base + `,"idpCertificates":{}}`, "idpCertificates", "expected a string, got JSON object"},
		{`{"description":"d","provider":"azure"}`, "provider", `unknown provider "azure"`},
		{`{` + base + `,"domainAuthentication":"kerberos"}`, "domainAuthentication", `unknown mechanism "kerberos"`},
		{`[]`, "", "a profile is a JSON object, not an array"},
		{`true`, "", "a profile is a JSON object, not a boolean"},
		{`"okta"`, "", "not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			p := profile.New(profile.Google)
			before := p
			err := json.Unmarshal([]byte(tt.doc), &p)
			require.ErrorIs(t, err, profile.ErrInvalid)
			var fe *profile.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
			if tt.msg != "not a string" {
				assert.Contains(t, err.Error(), tt.msg)
			}
			assert.Equal(t, before, p, "a refused document changes nothing")

			_, err = profile.Decode(strings.NewReader(tt.doc))
			require.ErrorIs(t, err, profile.ErrInvalid)
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
		})
	}
	_, err := profile.Decode(strings.NewReader(`{` + base + `} trailing`))
	require.ErrorIs(t, err, profile.ErrInvalid)
	_, err = profile.Decode(strings.NewReader(`{` + base + `,"metadataURL":"http://idp.example.com/md"}`))
	assert.Equal(t, []string{"metadataURL"}, fieldsOf(err), "Decode validates")
	_, err = profile.Decode(strings.NewReader(strings.Repeat(" ", 2<<20)))
	require.ErrorIs(t, err, profile.ErrInvalid)
}

func TestSecretsNeverShown(t *testing.T) {
	p := configured(t, profile.Okta)
	p.MetadataURL = "https://admin:hunter2@idp.example.com/metadata"
	p.LogoutURL = "https://admin:hunter2@idp.example.com/logout"
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "hunter2")
	assert.Contains(t, string(b), "admin:xxxxx@idp.example.com")
	s := p.String()
	assert.NotContains(t, s, "hunter2")
	assert.NotContains(t, s, "BEGIN CERTIFICATE")
	assert.NotContains(t, s, strings.Split(p.IdPCertificates, "\n")[1], "no certificate body")
	assert.Contains(t, s, `provider=okta`)
	assert.Contains(t, s, `"idp signing" until`)
	assert.Contains(t, s, "on=[enforce-admin-console enforce-personal-portal enforce-applications monitor-metadata]")
	assert.NotContains(t, p.Validate().Error(), "hunter2")
}

func TestCertificatesRoundTrip(t *testing.T) {
	a, b := newCert(t, "a"), newCert(t, "b")
	pemText := profile.EncodeCertificates([]*x509.Certificate{a, b})
	p := profile.Profile{IdPCertificates: pemText}
	got, err := p.Certificates()
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.True(t, got[0].Equal(a))
	assert.True(t, got[1].Equal(b))
	none, err := profile.Profile{}.Certificates()
	require.NoError(t, err)
	assert.Empty(t, none)
	_, err = profile.Profile{IdPCertificates: "junk"}.Certificates()
	require.True(t, errors.Is(err, profile.ErrInvalid))
}
