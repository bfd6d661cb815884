package harness

import (
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
)

func TestParsePostFormReadsTheBindingsForm(t *testing.T) {
	page, err := saml.PostFormHTML(saml.PostFormData{
		URL: "https://eu-api.mimecast.com/login/saml?a=1&b=2", Name: "SAMLResponse", Value: "PD94+bWw/=", RelayState: `"<x>&`,
	})
	require.NoError(t, err)
	action, fields, err := ParsePostForm(page)
	require.NoError(t, err)
	assert.Equal(t, "https://eu-api.mimecast.com/login/saml?a=1&b=2", action)
	assert.Equal(t, "PD94+bWw/=", fields.Get("SAMLResponse"))
	assert.Equal(t, `"<x>&`, fields.Get("RelayState"))

	_, _, err = ParsePostForm([]byte("<html>no form</html>"))
	require.Error(t, err)
}

func TestServerCertificateCoversHost(t *testing.T) {
	cert, ca, err := ServerCertificate("eu-api.mimecast.com")
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "eu-api.mimecast.com"})
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "evil.example"})
	require.Error(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "eu-api.mimecast.com"})
	require.Error(t, err, "trusted only through the returned CA")
}
