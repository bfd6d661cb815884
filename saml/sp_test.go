package saml_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

func newSP(t testing.TB, idp *samltest.IdP, mod ...func(*saml.Config)) *saml.ServiceProvider {
	t.Helper()
	cfg := idp.SPConfig()
	for _, m := range mod {
		m(&cfg)
	}
	sp, err := saml.NewServiceProvider(cfg)
	require.NoError(t, err)
	return sp
}

func TestConfigValidate(t *testing.T) {
	idp := newTestIdP(t)
	rsaKey, rsaCert := spKeyPair(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cases := []struct {
		name   string
		mod    func(*saml.Config)
		fields []string
	}{
		{"valid", func(*saml.Config) {}, nil},
		{"valid with keys", func(c *saml.Config) { c.SigningKey, c.SigningCert = rsaKey, rsaCert }, nil},
		{"empty", func(c *saml.Config) { *c = saml.Config{} }, []string{"EntityID", "ACSURL", "IdP"}},
		{"relative ACS", func(c *saml.Config) { c.ACSURL = "/saml/acs" }, []string{"ACSURL"}},
		{"ACS scheme", func(c *saml.Config) { c.ACSURL = "javascript:alert(1)" }, []string{"ACSURL"}},
		{"IdP without certs", func(c *saml.Config) { c.IdP.SigningCerts = nil }, []string{"IdP.SigningCerts"}},
		{"IdP without entity ID", func(c *saml.Config) { c.IdP.EntityID = "" }, []string{"IdP.EntityID"}},
		{"negative skew", func(c *saml.Config) { c.ClockSkew = -time.Second }, []string{"ClockSkew"}},
		{"empty authn context", func(c *saml.Config) { c.RequestedAuthnContext = []string{""} }, []string{"RequestedAuthnContext[0]"}},
		{"key without cert", func(c *saml.Config) { c.SigningKey = rsaKey }, []string{"SigningCert"}},
		{"cert without key", func(c *saml.Config) { c.SigningCert = rsaCert }, []string{"SigningKey"}},
		{"key and cert mismatch", func(c *saml.Config) { c.SigningKey, c.SigningCert = ecKey, rsaCert }, []string{"SigningCert"}},
		{"ECDSA encryption key", func(c *saml.Config) { c.EncryptionKey = ecKey }, []string{"EncryptionKey"}},
		{"nil RSA signing key", func(c *saml.Config) { c.SigningKey, c.SigningCert = (*rsa.PrivateKey)(nil), rsaCert }, []string{"SigningKey"}},
		{"nil ECDSA signing key", func(c *saml.Config) { c.SigningKey, c.SigningCert = (*ecdsa.PrivateKey)(nil), rsaCert }, []string{"SigningKey"}},
		{"nil encryption key", func(c *saml.Config) { c.EncryptionKey, c.EncryptionCert = (*rsa.PrivateKey)(nil), rsaCert }, []string{"EncryptionKey"}},
		{"nil encryption key alone", func(c *saml.Config) { c.EncryptionKey = (*rsa.PrivateKey)(nil) }, []string{"EncryptionKey"}},
		{"nil IdP certificate", func(c *saml.Config) { c.IdP.SigningCerts = append(c.IdP.SigningCerts, nil) }, []string{"IdP.SigningCerts[1]"}},
		{"nil IdP", func(c *saml.Config) { c.IdP = nil }, []string{"IdP"}},
		{"script SSO location", func(c *saml.Config) {
			c.IdP.SSO = append(c.IdP.SSO, saml.Endpoint{Binding: saml.BindingHTTPRedirect, Location: "javascript:alert(1)"})
		}, []string{"IdP.SSO[2].Location"}},
		{"relative SLO location", func(c *saml.Config) {
			c.IdP.SLO = []saml.Endpoint{{Binding: saml.BindingHTTPRedirect, Location: "/logout"}}
		}, []string{"IdP.SLO[0].Location"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := idp.SPConfig()
			tc.mod(&cfg)
			err := cfg.Validate()
			if tc.fields == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, saml.ErrConfig)
			for _, f := range tc.fields {
				assert.Contains(t, err.Error(), "config "+f+":")
			}
			_, err = saml.NewServiceProvider(cfg)
			require.ErrorIs(t, err, saml.ErrConfig)
		})
	}
}

func TestNewServiceProviderCopiesConfig(t *testing.T) {
	idp := newTestIdP(t)
	cfg := idp.SPConfig()
	sp, err := saml.NewServiceProvider(cfg)
	require.NoError(t, err)
	// Changing the caller's metadata afterwards changes nothing.
	cfg.IdP.EntityID = "https://evil.example"
	cfg.IdP.SigningCerts[0] = nil
	a, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo(reqID)), reqID)
	require.NoError(t, err)
	assert.Equal(t, idp.EntityID(), a.Issuer)
	assert.Equal(t, idp.EntityID(), sp.IdP().EntityID)
}

func TestServiceProviderIdPIsACopy(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	_, foreign := samltest.ForeignKey()
	// Changing what IdP returns, slices included, changes nothing in the
	// service provider: the foreign certificate is not trusted.
	md := sp.IdP()
	require.NotEmpty(t, md.SSO)
	md.SigningCerts[0] = foreign
	md.SSO[0].Location = "https://evil.example/sso"
	assert.True(t, sp.IdP().SigningCerts[0].Equal(idp.Certificate()))
	assert.NotEqual(t, "https://evil.example/sso", sp.IdP().SSO[0].Location)
	_, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo(reqID), samltest.WithForeignKey()), reqID)
	require.ErrorIs(t, err, saml.ErrSignature)
	a, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo(reqID)), reqID)
	require.NoError(t, err)
	assert.Equal(t, idp.EntityID(), a.Issuer)
}

func TestMetadataSeparateEncryptionKeyWithoutCert(t *testing.T) {
	// With its own EncryptionKey the SP does not decrypt with the signing
	// key, so the signing certificate is not offered for encryption.
	idp := newTestIdP(t)
	signKey, signCert := spKeyPair(t)
	encKey, _ := spKeyPair(t)
	sp := newSP(t, idp, func(c *saml.Config) {
		c.SigningKey, c.SigningCert = signKey, signCert
		c.EncryptionKey = encKey
	})
	md, err := sp.Metadata()
	require.NoError(t, err)
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(md))
	keys := doc.FindElements("//KeyDescriptor")
	require.Len(t, keys, 1)
	assert.Equal(t, "signing", keys[0].SelectAttrValue("use", ""))
}

func TestMetadataWithoutKey(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	md, err := sp.Metadata()
	require.NoError(t, err)
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(md))
	root := doc.Root()
	assert.Equal(t, "EntityDescriptor", root.Tag)
	assert.Equal(t, saml.NamespaceMetadata, root.NamespaceURI())
	assert.Equal(t, samltest.DefaultSPEntityID, root.SelectAttrValue("entityID", ""))
	spd := root.SelectElement("SPSSODescriptor")
	require.NotNil(t, spd)
	assert.Equal(t, saml.ProtocolSAML20, spd.SelectAttrValue("protocolSupportEnumeration", ""))
	assert.Equal(t, "false", spd.SelectAttrValue("AuthnRequestsSigned", ""))
	assert.Empty(t, spd.SelectElements("KeyDescriptor"))
	acs := spd.SelectElement("AssertionConsumerService")
	require.NotNil(t, acs)
	assert.Equal(t, saml.BindingHTTPPost, acs.SelectAttrValue("Binding", ""))
	assert.Equal(t, samltest.DefaultACSURL, acs.SelectAttrValue("Location", ""))
}

func TestMetadataWithKey(t *testing.T) {
	idp := newTestIdP(t)
	key, cert := spKeyPair(t)
	sp := newSP(t, idp, func(c *saml.Config) {
		c.SigningKey, c.SigningCert = key, cert
		c.NameIDFormat = saml.NameIDFormatPersistent
	})
	md, err := sp.Metadata()
	require.NoError(t, err)
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(md))
	spd := doc.Root().SelectElement("SPSSODescriptor")
	assert.Equal(t, "true", spd.SelectAttrValue("AuthnRequestsSigned", ""))
	kds := spd.SelectElements("KeyDescriptor")
	require.Len(t, kds, 1)
	x := kds[0].FindElement("./KeyInfo/X509Data/X509Certificate")
	require.NotNil(t, x)
	assert.Equal(t, base64.StdEncoding.EncodeToString(cert.Raw), x.Text())
	assert.Equal(t, saml.NamespaceXMLDSig, x.NamespaceURI())
	assert.Equal(t, saml.NameIDFormatPersistent, spd.SelectElement("NameIDFormat").Text())
}

// postedForm extracts the action and fields of an auto-posting form.
func postedForm(t *testing.T, page []byte) (string, url.Values) {
	t.Helper()
	action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(page)
	require.NotNil(t, action)
	fields := url.Values{}
	for _, m := range regexp.MustCompile(`name="([^"]+)" value="([^"]*)"`).FindAllSubmatch(page, -1) {
		fields.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	return html.UnescapeString(string(action[1])), fields
}

// TestSPInitiatedLoginOverHTTP runs a whole SP-initiated login against the
// test IdP over HTTP: the SP metadata comes from the IdP's URL, the browser
// follows the Redirect binding, and the IdP's form is posted back.
func TestSPInitiatedLoginOverHTTP(t *testing.T) {
	for _, binding := range []string{saml.BindingHTTPRedirect, saml.BindingHTTPPost} {
		t.Run(binding, func(t *testing.T) {
			idp := newTestIdP(t, samltest.WithUser("bob@example.com", map[string][]string{"role": {"admin"}}))
			md, err := saml.FetchMetadata(context.Background(), idp.MetadataURL(), saml.WithHTTPClient(idp.Client()))
			require.NoError(t, err)
			sp, err := saml.NewServiceProvider(saml.Config{
				EntityID:              samltest.DefaultSPEntityID,
				ACSURL:                samltest.DefaultACSURL,
				IdP:                   md,
				Now:                   fixedClock,
				RequestedAuthnContext: []string{saml.AuthnContextPasswordProtectedTransport},
			})
			require.NoError(t, err)
			req, err := sp.AuthnRequest("/after-login")
			require.NoError(t, err)

			var res *http.Response
			if binding == saml.BindingHTTPRedirect {
				target, err := req.RedirectURL()
				require.NoError(t, err)
				res, err = idp.Client().Get(target)
				require.NoError(t, err)
			} else {
				page, err := req.PostForm()
				require.NoError(t, err)
				action, fields := postedForm(t, page)
				require.Equal(t, idp.SSOURL(), action)
				res, err = idp.Client().PostForm(action, fields)
				require.NoError(t, err)
			}
			body, err := io.ReadAll(res.Body)
			require.NoError(t, res.Body.Close())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode, string(body))

			action, fields := postedForm(t, body)
			assert.Equal(t, samltest.DefaultACSURL, action)
			assert.Equal(t, "/after-login", fields.Get("RelayState"))
			a, err := sp.Verify(context.Background(), fields.Get("SAMLResponse"), req.ID)
			require.NoError(t, err)
			assert.Equal(t, "bob@example.com", a.NameID)
			assert.Equal(t, []string{"admin"}, a.Attributes["role"])
			assert.Equal(t, req.ID, a.InResponseTo)

			got := idp.AuthnRequests()
			require.Len(t, got, 1)
			assert.Equal(t, req.ID, got[0].ID)
			assert.Equal(t, binding, got[0].Binding)
			assert.Equal(t, "exact", got[0].Comparison)
			assert.Equal(t, []string{saml.AuthnContextPasswordProtectedTransport}, got[0].RequestedAuthnContext)

			// The same response posted twice is a replay.
			_, err = sp.Verify(context.Background(), fields.Get("SAMLResponse"), req.ID)
			require.True(t, errors.Is(err, saml.ErrReplay))
		})
	}
}
