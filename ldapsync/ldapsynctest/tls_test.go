package ldapsynctest_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

func TestLDAPS(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithTLS(ldapsynctest.TLSLDAPS))
	cfg := d.Config()
	assert.Equal(t, ldapsync.EncryptionLDAPS, cfg.Encryption)
	require.NotNil(t, cfg.RootCAs)
	assert.Equal(t, "127.0.0.1", cfg.Host)
	require.NoError(t, cfg.Validate())

	c, err := ldap.DialURL(d.URL(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: cfg.RootCAs, ServerName: "127.0.0.1"}))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Bind(cfg.BindDN, string(cfg.BindPassword)))
	got := search(t, c, cfg.RootDN, "(sAMAccountName=Administrator)")
	assert.Len(t, got, 1)

	// Without the CA the handshake fails verification.
	_, err = ldap.DialURL(d.URL(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"}))
	require.Error(t, err)
	var uerr x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &uerr)

	// A plain LDAP client gets nowhere on the LDAPS port.
	plain, err := ldap.DialURL("ldap://" + d.Host() + ":" + itoa(d.Port()))
	if err == nil {
		plain.SetTimeout(2 * time.Second)
		err = plain.Bind(cfg.BindDN, string(cfg.BindPassword))
		plain.Close()
	}
	require.Error(t, err)
}

func TestStartTLS(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithTLS(ldapsynctest.TLSStartTLS))
	cfg := d.Config()
	assert.Equal(t, ldapsync.EncryptionStartTLS, cfg.Encryption)
	c, err := ldap.DialURL(d.URL())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.StartTLS(&tls.Config{RootCAs: d.CertPool(), ServerName: "localhost"}))
	state, ok := c.TLSConnectionState()
	require.True(t, ok)
	assert.True(t, state.HandshakeComplete)
	require.NoError(t, c.Bind(cfg.BindDN, string(cfg.BindPassword)))
	assert.Len(t, search(t, c, cfg.RootDN, "(sAMAccountName=Administrator)"), 1)

	// A client that does not trust the CA fails the handshake.
	c2, err := ldap.DialURL(d.URL())
	require.NoError(t, err)
	defer c2.Close()
	err = c2.StartTLS(&tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown authority")
}

func TestStartTLSRefusedWithoutTLS(t *testing.T) {
	d := ldapsynctest.Start(t)
	assert.Nil(t, d.CertPool())
	c := dial(t, d)
	err := c.StartTLS(&tls.Config{ServerName: "localhost"})
	require.Error(t, err)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailable), "%v", err)
	// go-ldap gives up the connection after a refused StartTLS; the
	// directory itself keeps serving.
	bind(t, d)
}

func TestCertificateOptions(t *testing.T) {
	past := time.Now().Add(-48 * time.Hour)
	d := ldapsynctest.Start(t, ldapsynctest.WithTLS(ldapsynctest.TLSLDAPS),
		ldapsynctest.WithCertificateValidity(past, past.Add(time.Hour)), ldapsynctest.WithKeyBits(1024))
	_, err := ldap.DialURL(d.URL(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: d.CertPool(), ServerName: "127.0.0.1"}))
	var cerr x509.CertificateInvalidError
	require.ErrorAs(t, err, &cerr)
	assert.Equal(t, x509.Expired, cerr.Reason)

	c, err := ldap.DialURL(d.URL(), ldap.DialWithTLSConfig(&tls.Config{InsecureSkipVerify: true})) //nolint:gosec // inspecting the served certificate
	require.NoError(t, err)
	defer c.Close()
	state, ok := c.TLSConnectionState()
	require.True(t, ok)
	assert.Equal(t, 1024, state.PeerCertificates[0].PublicKey.(interface{ Size() int }).Size()*8)
}

func TestCACertificate(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithTLS(ldapsynctest.TLSStartTLS))
	ca := d.CACertificate()
	require.NotNil(t, ca)
	assert.True(t, ca.IsCA)
	// The pool is a copy: changing it does not change the directory's.
	p := d.CertPool()
	p.AddCert(&x509.Certificate{Raw: []byte("x")})
	assert.True(t, d.CertPool().Equal(d.CertPool()))
	assert.False(t, p.Equal(d.CertPool()))
	assert.Nil(t, ldapsynctest.Start(t).CACertificate())
}
