package saml_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"html"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

func inflateRequest(t *testing.T, u *url.URL) *etree.Element {
	t.Helper()
	z, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	require.NoError(t, err)
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	require.NoError(t, err)
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(raw))
	return doc.Root()
}

func spKeyPair(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	cert, err := samltest.NewCertificate(key, "sp")
	require.NoError(t, err)
	return key, cert
}

func TestAuthnRequestRedirect(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	req, err := sp.AuthnRequest("state-1")
	require.NoError(t, err)
	require.Regexp(t, `^id-[0-9a-f]{40}$`, req.ID)
	other, err := sp.AuthnRequest("")
	require.NoError(t, err)
	require.NotEqual(t, req.ID, other.ID)

	s, err := req.RedirectURL()
	require.NoError(t, err)
	u, err := url.Parse(s)
	require.NoError(t, err)
	assert.Equal(t, idp.SSOURL(), u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, "state-1", u.Query().Get("RelayState"))
	assert.Empty(t, u.Query().Get("Signature"), "no signature without a SigningKey")
	assert.Empty(t, u.Query().Get("SigAlg"))

	root := inflateRequest(t, u)
	assert.Equal(t, "AuthnRequest", root.Tag)
	assert.Equal(t, saml.NamespaceProtocol, root.NamespaceURI())
	assert.Equal(t, req.ID, root.SelectAttrValue("ID", ""))
	assert.Equal(t, "2.0", root.SelectAttrValue("Version", ""))
	assert.Equal(t, idp.SSOURL(), root.SelectAttrValue("Destination", ""))
	assert.Equal(t, samltest.DefaultACSURL, root.SelectAttrValue("AssertionConsumerServiceURL", ""))
	assert.Equal(t, saml.BindingHTTPPost, root.SelectAttrValue("ProtocolBinding", ""))
	assert.Equal(t, samltest.DefaultSPEntityID, root.SelectElement("Issuer").Text())
	assert.Nil(t, root.SelectElement("RequestedAuthnContext"), "none when the config asks for none")
	assert.Nil(t, root.SelectElement("Signature"), "the Redirect binding never embeds an XML signature")
}

func TestAuthnRequestRequestedAuthnContext(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp, func(c *saml.Config) {
		c.RequestedAuthnContext = []string{saml.AuthnContextPasswordProtectedTransport, saml.AuthnContextWindows}
		c.ForceAuthn = true
		c.NameIDFormat = saml.NameIDFormatEmailAddress
	})
	req, err := sp.AuthnRequest("")
	require.NoError(t, err)
	s, err := req.RedirectURL()
	require.NoError(t, err)
	u, _ := url.Parse(s)
	root := inflateRequest(t, u)
	rac := root.SelectElement("RequestedAuthnContext")
	require.NotNil(t, rac)
	assert.Equal(t, "exact", rac.SelectAttrValue("Comparison", ""))
	var refs []string
	for _, r := range rac.SelectElements("AuthnContextClassRef") {
		refs = append(refs, r.Text())
	}
	assert.Equal(t, []string{saml.AuthnContextPasswordProtectedTransport, saml.AuthnContextWindows}, refs)
	assert.Equal(t, "true", root.SelectAttrValue("ForceAuthn", ""))
	assert.Equal(t, saml.NameIDFormatEmailAddress, root.SelectElement("NameIDPolicy").SelectAttrValue("Format", ""))
}

// signedOctets rebuilds the octets the Redirect binding signs from the
// raw query, in the order SAMLRequest, RelayState, SigAlg.
func signedOctets(rawQuery string) []byte {
	var parts []string
	for _, name := range []string{"SAMLRequest", "RelayState", "SigAlg"} {
		for _, p := range strings.Split(rawQuery, "&") {
			if strings.HasPrefix(p, name+"=") {
				parts = append(parts, p)
			}
		}
	}
	return []byte(strings.Join(parts, "&"))
}

func TestAuthnRequestRedirectSignature(t *testing.T) {
	key, cert := spKeyPair(t)
	idp := newTestIdP(t)
	sp := newSP(t, idp, func(c *saml.Config) { c.SigningKey, c.SigningCert = key, cert })
	req, err := sp.AuthnRequest("relay & state")
	require.NoError(t, err)
	s, err := req.RedirectURL()
	require.NoError(t, err)
	u, err := url.Parse(s)
	require.NoError(t, err)
	q := u.Query()
	require.Equal(t, dsig.RSASHA256SignatureMethod, q.Get("SigAlg"))
	sig, err := base64.StdEncoding.DecodeString(q.Get("Signature"))
	require.NoError(t, err)
	h := sha256.Sum256(signedOctets(u.RawQuery))
	require.NoError(t, rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig))

	// Any change to a signed parameter breaks the signature.
	tampered := strings.Replace(u.RawQuery, "RelayState=relay", "RelayState=evil", 1)
	require.NotEqual(t, u.RawQuery, tampered)
	h2 := sha256.Sum256(signedOctets(tampered))
	require.Error(t, rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h2[:], sig))
	assert.Nil(t, inflateRequest(t, u).SelectElement("Signature"))
}

func TestAuthnRequestRelayStateLimit(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	_, err := sp.AuthnRequest(strings.Repeat("r", saml.MaxRelayStateBytes))
	require.NoError(t, err)
	_, err = sp.AuthnRequest(strings.Repeat("r", saml.MaxRelayStateBytes+1))
	require.ErrorIs(t, err, saml.ErrConfig)
	assert.Contains(t, err.Error(), "relayState")
}

func TestAuthnRequestPostForm(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	const evil = `"><script>alert(1)</script>`
	req, err := sp.AuthnRequest(evil)
	require.NoError(t, err)
	page, err := req.PostForm()
	require.NoError(t, err)
	body := string(page)
	assert.NotContains(t, body, "<script>alert(1)", "RelayState is escaped")
	assert.Contains(t, body, `action="`+idp.SSOURL()+`"`)
	assert.Contains(t, body, "document.forms[0].submit()")
	m := regexp.MustCompile(`name="SAMLRequest" value="([^"]+)"`).FindStringSubmatch(body)
	require.Len(t, m, 2)
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	require.NoError(t, err)
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(raw))
	assert.Equal(t, req.ID, doc.Root().SelectAttrValue("ID", ""))
	assert.Equal(t, idp.SSOURL(), doc.Root().SelectAttrValue("Destination", ""))
	assert.Nil(t, doc.Root().SelectElement("Signature"))
}

func TestAuthnRequestPostFormRelayStateRoundTrip(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	const state = `"><script>x</script>&a=b'`
	req, err := sp.AuthnRequest(state)
	require.NoError(t, err)
	page, err := req.PostForm()
	require.NoError(t, err)
	m := regexp.MustCompile(`name="RelayState" value="([^"]*)"`).FindStringSubmatch(string(page))
	require.Len(t, m, 2, "RelayState is posted")
	assert.Equal(t, state, html.UnescapeString(m[1]))
	assert.NotContains(t, string(page), "<script>x")

	// Without one, no RelayState field.
	req, err = sp.AuthnRequest("")
	require.NoError(t, err)
	page, err = req.PostForm()
	require.NoError(t, err)
	assert.NotContains(t, string(page), `name="RelayState"`)
}

func TestAuthnRequestRedirectEscaping(t *testing.T) {
	idp := newTestIdP(t)
	const entityID = `https://sp.example/?a=1&b=<2>"`
	sp := newSP(t, idp, func(c *saml.Config) { c.EntityID = entityID })
	const state = "a&b=c d#e?f+g%"
	req, err := sp.AuthnRequest(state)
	require.NoError(t, err)
	s, err := req.RedirectURL()
	require.NoError(t, err)
	u, err := url.Parse(s)
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, state, q.Get("RelayState"))
	assert.ElementsMatch(t, []string{"SAMLRequest", "RelayState"}, keys(q), "nothing leaks into other parameters")
	assert.Empty(t, u.Fragment)
	root := inflateRequest(t, u)
	assert.Equal(t, entityID, root.SelectElement("Issuer").Text(), "the Issuer is XML-escaped and reads back whole")
}

func TestAuthnRequestRedirectEndpointQueryAndFragment(t *testing.T) {
	idp := newTestIdP(t)
	key, cert := spKeyPair(t)
	sp := newSP(t, idp, func(c *saml.Config) {
		c.IdP.SSO = []saml.Endpoint{{Binding: saml.BindingHTTPRedirect, Location: "https://idp.example.com/sso?tenant=a%20b#start"}}
		c.SigningKey, c.SigningCert = key, cert
	})
	req, err := sp.AuthnRequest("state")
	require.NoError(t, err)
	s, err := req.RedirectURL()
	require.NoError(t, err)
	u, err := url.Parse(s)
	require.NoError(t, err)
	assert.Equal(t, "https://idp.example.com/sso", u.Scheme+"://"+u.Host+u.Path)
	assert.Empty(t, u.Fragment, "a fragment would hide the query from the IdP")
	q := u.Query()
	assert.Equal(t, "a b", q.Get("tenant"))
	assert.Equal(t, "state", q.Get("RelayState"))
	assert.NotEmpty(t, q.Get("SAMLRequest"))
	assert.NotEmpty(t, q.Get("Signature"))
	// The signature covers SAMLRequest, RelayState and SigAlg only, in
	// that order, as the binding specifies.
	raw := u.RawQuery
	signed := raw[strings.Index(raw, "SAMLRequest="):strings.Index(raw, "&Signature=")]
	sig, err := base64.StdEncoding.DecodeString(q.Get("Signature"))
	require.NoError(t, err)
	h := sha256.Sum256([]byte(signed))
	require.NoError(t, rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig))
}

func keys(v url.Values) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	return out
}

func TestAuthnRequestNotFromServiceProvider(t *testing.T) {
	var req saml.AuthnRequest
	_, err := req.RedirectURL()
	require.ErrorIs(t, err, saml.ErrConfig)
	_, err = req.PostForm()
	require.ErrorIs(t, err, saml.ErrConfig)
	assert.Nil(t, req.XML("https://idp.example/sso"))
}

func TestAuthnRequestPostFormSigned(t *testing.T) {
	key, cert := spKeyPair(t)
	idp := newTestIdP(t)
	sp := newSP(t, idp, func(c *saml.Config) { c.SigningKey, c.SigningCert = key, cert })
	req, err := sp.AuthnRequest("")
	require.NoError(t, err)
	page, err := req.PostForm()
	require.NoError(t, err)
	m := regexp.MustCompile(`name="SAMLRequest" value="([^"]+)"`).FindStringSubmatch(string(page))
	require.Len(t, m, 2)
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	require.NoError(t, err)
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(raw))
	root := doc.Root()
	require.Equal(t, "Signature", root.ChildElements()[1].Tag, "signature right after Issuer")
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	_, err = vc.Validate(root)
	require.NoError(t, err)
}

func TestAuthnRequestNeedsEndpoint(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp, func(c *saml.Config) {
		c.IdP.SSO = []saml.Endpoint{{Binding: saml.BindingHTTPPost, Location: idp.SSOURL()}}
	})
	req, err := sp.AuthnRequest("")
	require.NoError(t, err)
	_, err = req.RedirectURL()
	require.ErrorIs(t, err, saml.ErrConfig)
	assert.Contains(t, err.Error(), saml.BindingHTTPRedirect)
	_, err = req.PostForm()
	require.NoError(t, err)
}

func TestAuthnRequestECDSASignatureAcceptedByIdP(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := samltest.NewCertificate(key, "sp-ecdsa")
	require.NoError(t, err)
	idp := newTestIdP(t, samltest.WithSPCertificate(cert))
	sp := newSP(t, idp, func(c *saml.Config) { c.SigningKey, c.SigningCert = key, cert })
	req, err := sp.AuthnRequest("x")
	require.NoError(t, err)
	s, err := req.RedirectURL()
	require.NoError(t, err)
	res, err := idp.Client().Get(s)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	got := idp.AuthnRequests()
	require.Len(t, got, 1)
	assert.True(t, got[0].Signed)
	assert.True(t, got[0].SignatureValid)
	assert.Equal(t, dsig.ECDSASHA256SignatureMethod, mustURL(t, s).Query().Get("SigAlg"))
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	v, err := url.Parse(s)
	require.NoError(t, err)
	return v
}
