package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"html"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"time"
)

// ServerCertificate returns a TLS certificate for hosts (and 127.0.0.1),
// signed by a fresh CA, and that CA.
func ServerCertificate(hosts ...string) (tls.Certificate, *x509.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gatehouse example CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca, nil
}

// RootCAs returns the root pool of an *http.Client built by httptest (as
// samltest's IdP.Client is).
func RootCAs(c *http.Client) (*x509.CertPool, error) {
	tr, ok := c.Transport.(*http.Transport)
	if !ok || tr.TLSClientConfig == nil || tr.TLSClientConfig.RootCAs == nil {
		return nil, errors.New("client has no TLS root pool")
	}
	return tr.TLSClientConfig.RootCAs, nil
}

// Browser returns an HTTP client that behaves like a browser for these
// demonstrations: it keeps cookies, follows redirects, trusts roots, and
// connects to routes[host:port] instead of resolving host, so a service can
// answer for a public host name on loopback. Other hosts are dialled
// normally.
func Browser(routes map[string]string, roots *x509.CertPool) *http.Client {
	jar, _ := cookiejar.New(nil)
	var d net.Dialer
	return &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if to, ok := routes[addr]; ok {
					addr = to
				}
				return d.DialContext(ctx, network, addr)
			},
		},
	}
}

var (
	formRE  = regexp.MustCompile(`(?is)<form[^>]*\baction="([^"]*)"`)
	inputRE = regexp.MustCompile(`(?is)<input[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"`)
)

// ParsePostForm reads the auto-posting form of the SAML HTTP-POST binding:
// its action URL and hidden fields.
func ParsePostForm(page []byte) (action string, fields url.Values, err error) {
	m := formRE.FindSubmatch(page)
	if m == nil {
		return "", nil, fmt.Errorf("no form in the page")
	}
	fields = url.Values{}
	for _, in := range inputRE.FindAllSubmatch(page, -1) {
		fields.Add(html.UnescapeString(string(in[1])), html.UnescapeString(string(in[2])))
	}
	return html.UnescapeString(string(m[1])), fields, nil
}
