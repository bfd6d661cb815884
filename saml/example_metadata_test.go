package saml_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/gatehouse-id/gatehouse/saml"
)

// Import the federation metadata an administrator downloaded from Microsoft
// Entra ID. WS-Federation sections and their keys are skipped; every SAML
// signing certificate is kept.
func ExampleParseMetadata() {
	data, err := os.ReadFile("testdata/metadata/entra-id.xml")
	if err != nil {
		log.Fatal(err)
	}
	md, err := saml.ParseMetadata(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("entity ID:", md.EntityID)
	for _, e := range md.SSO {
		fmt.Println("SSO:", e.Binding, e.Location)
	}
	for _, e := range md.SLO {
		fmt.Println("SLO:", e.Binding, e.Location)
	}
	fmt.Println("signing certificates:", len(md.SigningCerts))
	// Output:
	// entity ID: https://sts.windows.net/6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90/
	// SSO: urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect https://login.microsoftonline.com/6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90/saml2
	// SSO: urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST https://login.microsoftonline.com/6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90/saml2
	// SLO: urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect https://login.microsoftonline.com/6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90/saml2
	// signing certificates: 2
}

// Pick one identity provider from a federation aggregate. Without
// WithEntityID the error lists the identity providers to choose from.
func ExampleParseMetadata_aggregate() {
	data, err := os.ReadFile("testdata/metadata/federation.xml")
	if err != nil {
		log.Fatal(err)
	}
	now := saml.WithNow(func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) })

	_, err = saml.ParseMetadata(data, now)
	var sel *saml.EntitySelectionError
	if errors.Is(err, saml.ErrEntityAmbiguous) && errors.As(err, &sel) {
		fmt.Println("choose one of:")
		for _, id := range sel.IdPs {
			fmt.Println(" ", id)
		}
	}

	md, err := saml.ParseMetadata(data, now, saml.WithEntityID("https://idp.uni-b.example/idp/shibboleth"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("picked:", md.EntityID, "refresh every", md.CacheDuration)
	// Output:
	// choose one of:
	//   https://idp.uni-a.example/idp/shibboleth
	//   https://idp.uni-b.example/idp/shibboleth
	//   https://idp.college-c.example/idp
	// picked: https://idp.uni-b.example/idp/shibboleth refresh every 6h0m0s
}

// Check the metadata's own XML signature against a certificate obtained
// out of band. Any change to the signed document fails with ErrSignature.
func ExampleWithMetadataSigner() {
	data, err := os.ReadFile("testdata/metadata/adfs.xml")
	if err != nil {
		log.Fatal(err)
	}
	pemData, err := os.ReadFile("testdata/metadata/adfs-signing.pem")
	if err != nil {
		log.Fatal(err)
	}
	block, _ := pem.Decode(pemData)
	signer, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		log.Fatal(err)
	}
	now := saml.WithNow(func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) })

	md, err := saml.ParseMetadata(data, saml.WithMetadataSigner(signer), now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", md.EntityID)

	// Certificates past their NotAfter are kept (key rollover) and reported.
	for _, c := range md.ExpiredCerts(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		fmt.Println("expired:", c.Subject.CommonName, c.NotAfter.Format(time.DateOnly))
	}
	// Output:
	// verified: http://adfs.contoso.com/adfs/services/trust
	// expired: ADFS Signing - adfs.contoso.com 2025-01-01
}

// Fetch metadata from the IdP's metadata URL. Here a local TLS server
// stands in for the IdP; its client trusts the server's certificate.
func ExampleFetchMetadata() {
	data, err := os.ReadFile("testdata/metadata/okta.xml")
	if err != nil {
		log.Fatal(err)
	}
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(data)
	}))
	defer idp.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := saml.FetchMetadata(ctx, idp.URL+"/app/exk9q2w7nrLkQhP3D5d7/sso/saml/metadata", saml.WithHTTPClient(idp.Client()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(md.EntityID)
	fmt.Println(md.NameIDFormats)

	// Failures say which step failed.
	_, err = saml.FetchMetadata(ctx, idp.URL+"/metadata") // default client: certificate not trusted
	var fe *saml.FetchError
	if errors.As(err, &fe) {
		fmt.Println("failed at:", fe.Stage)
	}
	// Output:
	// http://www.okta.com/exk9q2w7nrLkQhP3D5d7
	// [urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress]
	// failed at: tls
}

// Keep an IdP's metadata current: Get fetches when cacheDuration (or the
// default refresh interval) says so and serves the last good copy while the
// IdP is unreachable.
func ExampleMetadataCache() {
	data, err := os.ReadFile("testdata/metadata/jumpcloud.xml")
	if err != nil {
		log.Fatal(err)
	}
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(data)
	}))
	defer idp.Close()

	cache, err := saml.NewMetadataCache(saml.MetadataCacheConfig{
		URL:     idp.URL + "/saml2/metadata",
		Options: []saml.MetadataOption{saml.WithHTTPClient(idp.Client())},
		Refresh: 30 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	md, err := cache.Get(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	st := cache.Status()
	fmt.Println(md.EntityID, md.SSO[0].Location)
	fmt.Println("next refresh in", st.RefreshAt.Sub(st.FetchedAt))
	// Output:
	// JumpCloud https://sso.jumpcloud.com/saml2/mimecast
	// next refresh in 30m0s
}

// Errors name the element at fault and match a sentinel.
func ExampleMetadataError() {
	doc := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/sso"/>
  </IDPSSODescriptor>
</EntityDescriptor>`
	_, err := saml.ParseMetadata([]byte(doc))
	fmt.Println(err)
	fmt.Println(errors.Is(err, saml.ErrMalformed))
	var me *saml.MetadataError
	if errors.As(err, &me) {
		fmt.Println(me.Element)
	}

	_, err = saml.ParseMetadata([]byte(`<!DOCTYPE x [<!ENTITY a "a">]>` + doc))
	fmt.Println(err)
	// Output:
	// saml: metadata EntityDescriptor/IDPSSODescriptor: no signing certificate (KeyDescriptor with use="signing" or no use, holding ds:X509Certificate)
	// true
	// EntityDescriptor/IDPSSODescriptor
	// saml: metadata document: DOCTYPE and ENTITY declarations are not accepted
}
