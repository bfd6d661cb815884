package ldapsynctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// RSA key generation is the slow part of setting up TLS; keys are made once
// per size per test binary and every directory signs its own certificates.
var (
	keysMu sync.Mutex
	keys   = map[int][2]*rsa.PrivateKey{}
)

func testKeys(bits int) (*rsa.PrivateKey, *rsa.PrivateKey, error) {
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[bits]; ok {
		return k[0], k[1], nil
	}
	ca, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, err
	}
	keys[bits] = [2]*rsa.PrivateKey{ca, leaf}
	return ca, leaf, nil
}

// newTLS makes a CA and a server certificate for 127.0.0.1, ::1 and
// localhost (plus the DC's DNS name), valid from notBefore to notAfter.
func newTLS(dcDNSName string, bits int, notBefore, notAfter time.Time) (*tls.Config, *x509.CertPool, *x509.Certificate, error) {
	ck, lk, err := testKeys(bits)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating keys: %w", err)
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		return n.Add(n, big.NewInt(1))
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ldapsynctest CA", Organization: []string{"gatehouse test"}},
		NotBefore:             notBefore.Add(-time.Minute),
		NotAfter:              notAfter.Add(time.Minute),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &ck.PublicKey, ck)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: dcDNSName},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{dcDNSName, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &lk.PublicKey, ck)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("server certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: lk}},
	}
	return cfg, pool, ca, nil
}
