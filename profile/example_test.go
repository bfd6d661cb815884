package profile_test

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/region"
)

func Example() {
	// An administrator downloads the IdP's metadata and imports it.
	metadata, err := os.ReadFile("testdata/okta.xml")
	if err != nil {
		panic(err)
	}
	p := profile.New(profile.Okta)
	p.MonitorMetadataURL = false // a downloaded document, not a URL
	if err := p.ImportMetadata(metadata); err != nil {
		panic(err)
	}
	p.EnforceSAMLAdminConsole = true

	// The grid comes from the account code; the SP is ready to use.
	account := "CUK123ABC"
	r, _ := region.ForAccount(account)
	sp, err := p.ServiceProvider(r, account, region.AdminConsole)
	if err != nil {
		panic(err)
	}
	fmt.Println("IdP:      ", p.IssuerURL)
	fmt.Println("entity ID:", sp.EntityID())
	fmt.Println("ACS URL:  ", sp.ACSURL())
	// Output:
	// IdP:       http://www.okta.com/exk9q2w7nrLkQhP3D5d7
	// entity ID: https://eu-api.mimecast.com/sso/CUK123ABC
	// ACS URL:   https://eu-api.mimecast.com/login/sso/adcon
}

func ExampleNew() {
	p := profile.New(profile.JumpCloud)
	fmt.Println(p.Description)
	fmt.Println(p.LogoutURL)
	fmt.Println(profile.JumpCloudIdPURL("mimecast"))
	// Output:
	// JumpCloud single sign-on
	// https://console.jumpcloud.com/userconsole/
	// https://sso.jumpcloud.com/saml2/mimecast
}

func ExampleProfile_Validate() {
	p := profile.New(profile.EntraID)
	p.MetadataURL = "http://login.microsoftonline.com/contoso.onmicrosoft.com/federationmetadata/2007-06/federationmetadata.xml"
	p.UsePasswordProtectedContext = true
	p.EnforceSAMLApplications = true

	err := p.Validate()
	fmt.Println(errors.Is(err, profile.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// profile: metadataURL: scheme is http; only https is allowed
	// profile: issuerURL: required when SAML is enforced
	// profile: loginURL: required when SAML is enforced
	// profile: idpCertificates: required when SAML is enforced: without the IdP's certificate no response can be verified
	// profile: usePasswordProtectedContext: must be off for Entra ID, which fails sign-ins that request an authentication context
}

func ExampleDecode() {
	_, err := profile.Decode(strings.NewReader(`{"description": "Okta", "provider": "okta", "enforceSAMLAdminConsole": "yes"}`))
	fmt.Println(err)
	_, err = profile.Decode(strings.NewReader(`{"description": "Okta", "provider": "okta", "loginUrl": "https://idp.example.com/sso"}`))
	fmt.Println(err)
	// Output:
	// profile: enforceSAMLAdminConsole: expected true or false, got JSON string
	// profile: loginUrl: unknown field (did you mean "loginURL"? names are case-sensitive)
}

func ExampleParseEntraMetadataURL() {
	tenant, app, err := profile.ParseEntraMetadataURL("https://login.microsoftonline.com/contoso.onmicrosoft.com/federationmetadata/2007-06/federationmetadata.xml?appid=0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6")
	fmt.Println(tenant, app, err)
	_, _, err = profile.ParseEntraMetadataURL("https://login.microsoftonline.com/contoso.onmicrosoft.com/federationmetadata/2007-06/federationmetadata.xml")
	fmt.Println(err)
	// Output:
	// contoso.onmicrosoft.com 0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6 <nil>
	// appid query parameter missing; without it Entra ID serves the tenant's metadata with the wrong signing certificate
}

func ExampleProfile_RequestedAuthnContext() {
	p := profile.New(profile.ADFS)
	p.UseIntegratedAuthContext = true
	fmt.Println(p.RequestedAuthnContext())
	// Output:
	// [urn:federation:authentication:windows]
}
