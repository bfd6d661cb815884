package profile_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/saml"
)

func pemCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readTestdata(t, name))
	require.NotNil(t, block, name)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

func TestImportMetadataRealDocuments(t *testing.T) {
	tests := []struct {
		file     string
		provider profile.Provider
		issuer   string
		login    string
		logout   string
		certs    int
	}{
		{"entra-id.xml", profile.EntraID, "https://sts.windows.net/6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90/",
			"https://login.microsoftonline.com/6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90/saml2",
			"https://login.microsoftonline.com/6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90/saml2", 2},
		{"jumpcloud.xml", profile.JumpCloud, "JumpCloud", "https://sso.jumpcloud.com/saml2/mimecast",
			"https://console.jumpcloud.com/userconsole/", 1},
		{"okta.xml", profile.Okta, "http://www.okta.com/exk9q2w7nrLkQhP3D5d7",
			"https://dev-48213957.okta.com/app/dev-48213957_mimecast_1/exk9q2w7nrLkQhP3D5d7/sso/saml", "", 1},
		{"google.xml", profile.Google, "https://accounts.google.com/o/saml2?idpid=C03q8x2mf",
			"https://accounts.google.com/o/saml2/idp?idpid=C03q8x2mf", "", 1},
		{"adfs.xml", profile.ADFS, "http://adfs.contoso.com/adfs/services/trust", "https://adfs.contoso.com/adfs/ls/",
			"https://adfs.contoso.com/adfs/ls/", 2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := profile.New(tt.provider)
			require.NoError(t, p.ImportMetadata(readTestdata(t, tt.file)))
			assert.Equal(t, tt.issuer, p.IssuerURL)
			assert.Equal(t, tt.login, p.LoginURL)
			assert.Equal(t, tt.logout, p.LogoutURL)
			certs, err := p.Certificates()
			require.NoError(t, err)
			assert.Len(t, certs, tt.certs)
			p.MonitorMetadataURL = false
			p.EnforceSAMLApplications = true
			assert.NoError(t, p.Validate())
		})
	}

	// Entra ID: both SAML signing certificates (a rollover) are imported,
	// the WS-Federation one (in a RoleDescriptor) is not.
	p := profile.New(profile.EntraID)
	require.NoError(t, p.ImportMetadata(readTestdata(t, "entra-id.xml")))
	certs, err := p.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 2)
	assert.True(t, certs[0].Equal(pemCert(t, "entra-id-signing.pem")))
	for _, c := range certs {
		assert.False(t, c.Equal(pemCert(t, "entra-id-wsfed.pem")))
	}

	// ADFS: the signing certificates, not the encryption one.
	p = profile.New(profile.ADFS)
	require.NoError(t, p.ImportMetadata(readTestdata(t, "adfs.xml")))
	certs, err = p.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 2)
	assert.True(t, certs[0].Equal(pemCert(t, "adfs-signing.pem")))
	for _, c := range certs {
		assert.False(t, c.Equal(pemCert(t, "adfs-encryption.pem")))
	}
}

func TestImportMetadataKeepsEveryCertificate(t *testing.T) {
	oldC, newC := newCert(t, "old"), newCert(t, "new")
	p := profile.New(profile.Other)
	require.NoError(t, p.ImportMetadata(metadataDoc("urn:idp", "https://idp.example.com/sso", "https://idp.example.com/slo", oldC, newC)))
	certs, err := p.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 2)
	assert.True(t, certs[0].Equal(oldC))
	assert.True(t, certs[1].Equal(newC))
	assert.Equal(t, "https://idp.example.com/sso", p.LoginURL, "HTTP-Redirect endpoint preferred")
	assert.Equal(t, "https://idp.example.com/slo", p.LogoutURL)
	assert.Equal(t, "urn:idp", p.IssuerURL)
}

func TestImportMetadataErrorsLeaveProfileUnchanged(t *testing.T) {
	p := configured(t, profile.Okta)
	before := p
	for _, doc := range [][]byte{
		[]byte("<html>not metadata</html>"),
		[]byte(""),
		[]byte(`<!DOCTYPE x [<!ENTITY a "b">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`),
		readTestdata(t, "entra-id.xml")[:500],
	} {
		err := p.ImportMetadata(doc)
		require.ErrorIs(t, err, profile.ErrImport)
		require.ErrorIs(t, err, saml.ErrMalformed)
		var ie *profile.ImportError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, before, p)
	}
	// A pinned entity ID that is not in the document.
	err := p.ImportMetadata(readTestdata(t, "okta.xml"), saml.WithEntityID("urn:other"))
	require.ErrorIs(t, err, profile.ErrImport)
	assert.Equal(t, before, p)
}

// metadataServer serves whatever doc holds over TLS on loopback.
func metadataServer(t *testing.T, doc *atomic.Value) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metadata" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = w.Write(doc.Load().([]byte))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-client test fails its handshake on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestImportFetches(t *testing.T) {
	c := newCert(t, "fetched")
	var doc atomic.Value
	doc.Store(metadataDoc("https://idp.example.com/entity", "https://idp.example.com/sso", "", c))
	srv := metadataServer(t, &doc)

	p := profile.New(profile.Okta)
	p.MetadataURL = srv.URL + "/metadata"
	ctx := context.Background()
	require.NoError(t, p.Import(ctx, saml.WithHTTPClient(srv.Client())))
	assert.Equal(t, "https://idp.example.com/entity", p.IssuerURL)
	certs, err := p.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 1)
	assert.True(t, certs[0].Equal(c))

	// Failures: status, untrusted TLS, cancelled context. Nothing changes.
	before := p
	p.MetadataURL = srv.URL + "/missing"
	before.MetadataURL = p.MetadataURL
	err = p.Import(ctx, saml.WithHTTPClient(srv.Client()))
	require.ErrorIs(t, err, profile.ErrImport)
	require.ErrorIs(t, err, saml.ErrFetch)
	assert.Contains(t, err.Error(), "/missing")
	assert.Equal(t, before, p)

	p.MetadataURL = srv.URL + "/metadata"
	before.MetadataURL = p.MetadataURL
	err = p.Import(ctx) // default client does not trust the test CA
	require.ErrorIs(t, err, profile.ErrImport)
	assert.Equal(t, before, p)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = p.Import(cctx, saml.WithHTTPClient(srv.Client()))
	require.ErrorIs(t, err, profile.ErrImport)
	assert.Equal(t, before, p)

	p.MetadataURL = strings.Replace(srv.URL, "https://", "http://", 1) + "/metadata"
	before.MetadataURL = p.MetadataURL
	err = p.Import(ctx)
	require.ErrorIs(t, err, profile.ErrImport)
	assert.Equal(t, before, p, "plain http is refused unless asked for")

	p.MetadataURL = ""
	err = p.Import(ctx)
	require.ErrorIs(t, err, profile.ErrInvalid)
	assert.Contains(t, err.Error(), "metadataURL")
}

func TestMonitorPicksUpRollover(t *testing.T) {
	oldC, newC := newCert(t, "old"), newCert(t, "new")
	var doc atomic.Value
	doc.Store(metadataDoc("https://idp.example.com/entity", "https://idp.example.com/sso", "", oldC))
	srv := metadataServer(t, &doc)

	p := profile.New(profile.Okta)
	p.MetadataURL = srv.URL + "/metadata"
	require.NoError(t, p.Import(context.Background(), saml.WithHTTPClient(srv.Client())))
	p.EnforceSAMLApplications = true

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	nowFn := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	m, err := profile.NewMonitor(p, saml.MetadataCacheConfig{
		Options: []saml.MetadataOption{saml.WithHTTPClient(srv.Client())},
		Now:     nowFn,
		Refresh: 10 * time.Minute,
	})
	require.NoError(t, err)

	ctx := context.Background()
	sp, err := m.ServiceProvider(ctx, regionEU(), "CUK123ABC", appAdmin())
	require.NoError(t, err)
	idp := sp.IdP()
	require.Len(t, idp.SigningCerts, 1)
	assert.True(t, idp.SigningCerts[0].Equal(oldC))

	// The IdP rolls over: old and new side by side, later new only.
	doc.Store(metadataDoc("https://idp.example.com/entity", "https://idp.example.com/sso", "", oldC, newC))
	clock.Store(now.Add(11 * time.Minute).UnixNano())
	cur, err := m.Profile(ctx)
	require.NoError(t, err)
	certs, err := cur.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 2)

	doc.Store(metadataDoc("https://idp.example.com/entity", "https://idp.example.com/sso", "", newC))
	clock.Store(now.Add(22 * time.Minute).UnixNano())
	sp, err = m.ServiceProvider(ctx, regionEU(), "CUK123ABC", appAdmin())
	require.NoError(t, err)
	idp = sp.IdP()
	require.Len(t, idp.SigningCerts, 1)
	assert.True(t, idp.SigningCerts[0].Equal(newC))
	assert.True(t, m.Status().FetchedAt.Equal(now.Add(22*time.Minute)))

	// Refresh fetches at once, whatever the schedule.
	doc.Store(metadataDoc("https://idp.example.com/entity", "https://idp.example.com/sso", "", oldC, newC))
	md, err := m.Refresh(ctx)
	require.NoError(t, err)
	require.Len(t, md.SigningCerts, 2)
	doc.Store(metadataDoc("https://idp.example.com/entity", "https://idp.example.com/sso", "", newC))
	_, err = m.Refresh(ctx)
	require.NoError(t, err)

	// The IdP breaks: the last good copy is served.
	doc.Store([]byte("<garbage"))
	clock.Store(now.Add(33 * time.Minute).UnixNano())
	cur, err = m.Profile(ctx)
	require.NoError(t, err)
	certs, err = cur.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 1)
	assert.True(t, certs[0].Equal(newC))
	assert.Error(t, m.Status().LastError)
	_, err = m.Refresh(ctx)
	require.ErrorIs(t, err, profile.ErrImport)
	require.ErrorIs(t, err, saml.ErrMalformed)
	cur, err = m.Profile(ctx)
	require.NoError(t, err)
	certs, err = cur.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 1, "a failed refresh keeps the last good copy")
}

func TestNewMonitorRefusesUnmonitoredProfiles(t *testing.T) {
	p := configured(t, profile.Google)
	_, err := profile.NewMonitor(p, saml.MetadataCacheConfig{})
	require.ErrorIs(t, err, profile.ErrInvalid)
	assert.Equal(t, []string{"metadataURL", "monitorMetadataURL"}, fieldsOf(err))

	p = configured(t, profile.Okta)
	_, err = profile.NewMonitor(p, saml.MetadataCacheConfig{URL: "https://elsewhere.example/md"})
	assert.Equal(t, []string{"metadataURL"}, fieldsOf(err))
}
