package samltest_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

var clock = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func now() time.Time { return clock }

func decode(t *testing.T, resp string) *etree.Element {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(resp)
	require.NoError(t, err)
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(raw))
	return doc.Root()
}

func TestMetadataServedAndParsed(t *testing.T) {
	idp := samltest.NewIdP(t)
	res, err := idp.Client().Get(idp.MetadataURL())
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, res.Body.Close())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, idp.Metadata(), body)

	md, err := saml.ParseMetadata(body)
	require.NoError(t, err)
	want := idp.IdPMetadata()
	assert.Equal(t, want.EntityID, md.EntityID)
	assert.Equal(t, idp.MetadataURL(), md.EntityID)
	require.Len(t, md.SigningCerts, 1)
	assert.True(t, md.SigningCerts[0].Equal(idp.Certificate()))
	assert.ElementsMatch(t, want.SSO, md.SSO)

	fetched, err := saml.FetchMetadata(context.Background(), idp.MetadataURL(), saml.WithHTTPClient(idp.Client()))
	require.NoError(t, err)
	assert.Equal(t, md.EntityID, fetched.EntityID)
}

func TestIdPsDoNotTrustEachOther(t *testing.T) {
	a := samltest.NewIdP(t, samltest.WithClock(now))
	b := samltest.NewIdP(t, samltest.WithClock(now), samltest.WithEntityID(a.EntityID()))
	require.False(t, a.Certificate().Equal(b.Certificate()))
	sp, err := saml.NewServiceProvider(a.SPConfig())
	require.NoError(t, err)
	_, err = sp.Verify(context.Background(), b.Response(samltest.WithInResponseTo("id-1")), "id-1")
	require.ErrorIs(t, err, saml.ErrSignature)
}

func TestResponseShape(t *testing.T) {
	idp := samltest.NewIdP(t, samltest.WithClock(now))
	root := decode(t, idp.Response(
		samltest.WithInResponseTo("id-9"),
		samltest.WithNameID("carol@example.com"),
		samltest.WithAttribute("role", "a", "b"),
		samltest.WithAudience("https://aud.example"),
		samltest.WithRecipient("https://rcpt.example/acs"),
		samltest.WithDestination("https://dest.example/acs"),
		samltest.WithAssertionID("_aid"),
		samltest.WithResponseID("_rid"),
	))
	assert.Equal(t, "Response", root.Tag)
	assert.Equal(t, "_rid", root.SelectAttrValue("ID", ""))
	assert.Equal(t, "id-9", root.SelectAttrValue("InResponseTo", ""))
	assert.Equal(t, "https://dest.example/acs", root.SelectAttrValue("Destination", ""))
	assert.Equal(t, "2026-05-06T07:08:09Z", root.SelectAttrValue("IssueInstant", ""))
	a := root.SelectElement("Assertion")
	require.NotNil(t, a)
	assert.Equal(t, "_aid", a.SelectAttrValue("ID", ""))
	assert.Equal(t, "carol@example.com", a.FindElement(".//NameID").Text())
	assert.Equal(t, "https://aud.example", a.FindElement(".//Audience").Text())
	scd := a.FindElement(".//SubjectConfirmationData")
	assert.Equal(t, "https://rcpt.example/acs", scd.SelectAttrValue("Recipient", ""))
	assert.Equal(t, "id-9", scd.SelectAttrValue("InResponseTo", ""))
	assert.Equal(t, "2026-05-06T07:13:09Z", scd.SelectAttrValue("NotOnOrAfter", ""))
	var role []string
	for _, at := range a.FindElements(".//Attribute") {
		if at.SelectAttrValue("Name", "") == "role" {
			for _, v := range at.SelectElements("AttributeValue") {
				role = append(role, v.Text())
			}
		}
	}
	assert.Equal(t, []string{"a", "b"}, role)

	// Signed for real: goxmldsig verifies the assertion with the IdP cert.
	require.NotNil(t, a.SelectElement("Signature"))
	assert.Nil(t, root.SelectElement("Signature"))
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{idp.Certificate()}})
	vc.Clock = dsig.NewFakeClockAt(clock)
	nsctx, err := etreeutils.NSBuildParentContext(a)
	require.NoError(t, err)
	detached, err := etreeutils.NSDetatch(nsctx, a)
	require.NoError(t, err)
	_, err = vc.Validate(detached)
	require.NoError(t, err)
}

func TestSigningModes(t *testing.T) {
	idp := samltest.NewIdP(t, samltest.WithClock(now))
	for _, tc := range []struct {
		sign                samltest.Signing
		response, assertion bool
	}{
		{samltest.SignAssertion, false, true},
		{samltest.SignResponse, true, false},
		{samltest.SignBoth, true, true},
		{samltest.SignNone, false, false},
	} {
		root := decode(t, idp.Response(samltest.WithSigning(tc.sign)))
		assert.Equal(t, tc.response, root.SelectElement("Signature") != nil)
		assert.Equal(t, tc.assertion, root.SelectElement("Assertion").SelectElement("Signature") != nil)
	}
	root := decode(t, idp.Response(samltest.WithSignatureMethod(dsig.RSASHA1SignatureMethod)))
	assert.Equal(t, dsig.RSASHA1SignatureMethod, root.FindElement(".//SignatureMethod").SelectAttrValue("Algorithm", ""))
}

func TestStatusResponseHasNoAssertion(t *testing.T) {
	idp := samltest.NewIdP(t)
	root := decode(t, idp.Response(samltest.WithStatus("urn:oasis:names:tc:SAML:2.0:status:Responder", "", "down")))
	assert.Nil(t, root.SelectElement("Assertion"))
	assert.Equal(t, "down", root.FindElement(".//StatusMessage").Text())
}

func TestSSOEndpointRefusesGarbage(t *testing.T) {
	idp := samltest.NewIdP(t)
	for _, target := range []string{
		idp.SSOURL(),
		idp.SSOURL() + "?SAMLRequest=%%%",
		idp.SSOURL() + "?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("not deflate"))),
	} {
		res, err := idp.Client().Get(target)
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, target)
	}
	res, err := idp.Client().Post(idp.SSOURL(), "application/x-www-form-urlencoded", strings.NewReader("SAMLRequest=PGE%2BPC9hPg%3D%3D"))
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Empty(t, idp.AuthnRequests())
}

func TestSSOEndpointChecksRequestSignature(t *testing.T) {
	key, _ := samltest.ForeignKey()
	cert, err := samltest.NewCertificate(key, "sp")
	require.NoError(t, err)
	idp := samltest.NewIdP(t, samltest.WithClock(now), samltest.WithSPCertificate(cert))

	unsigned, err := saml.NewServiceProvider(idp.SPConfig())
	require.NoError(t, err)
	cfg := idp.SPConfig()
	cfg.SigningKey, cfg.SigningCert = key, cert
	signed, err := saml.NewServiceProvider(cfg)
	require.NoError(t, err)

	for _, tc := range []struct {
		sp   *saml.ServiceProvider
		want int
	}{{unsigned, http.StatusForbidden}, {signed, http.StatusOK}} {
		req, err := tc.sp.AuthnRequest("")
		require.NoError(t, err)
		target, err := req.RedirectURL()
		require.NoError(t, err)
		res, err := idp.Client().Get(target)
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, tc.want, res.StatusCode)
	}
	got := idp.AuthnRequests()
	require.Len(t, got, 2)
	assert.False(t, got[0].Signed)
	assert.True(t, got[1].Signed)
	assert.True(t, got[1].SignatureValid)
}
