package profile_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/region"
	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

const account = "CUK123ABC"

// TestProfileFromSamltestIdP goes the administrator's way with a real
// signing IdP: import its metadata from its URL, build the service
// provider, and verify what the IdP signs.
func TestProfileFromSamltestIdP(t *testing.T) {
	r := region.EU()
	entityID, err := r.EntityID(account)
	require.NoError(t, err)
	acs := r.ACSURL(region.AdminConsole)
	idp := samltest.NewIdP(t, samltest.WithServiceProvider(entityID, acs))

	p := profile.New(profile.Other)
	p.MetadataURL = idp.MetadataURL()
	require.NoError(t, p.Import(context.Background(), saml.WithHTTPClient(idp.Client())))
	assert.Equal(t, idp.EntityID(), p.IssuerURL)
	assert.Equal(t, idp.SSOURL(), p.LoginURL)
	certs, err := p.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 1)
	assert.True(t, certs[0].Equal(idp.Certificate()))
	p.EnforceSAMLAdminConsole = true
	p.UsePasswordProtectedContext = true
	require.NoError(t, p.Validate())

	sp, err := p.ServiceProvider(r, account, region.AdminConsole)
	require.NoError(t, err)
	assert.Equal(t, entityID, sp.EntityID())
	assert.Equal(t, acs, sp.ACSURL())

	// SP-initiated: the AuthnRequest reaches the IdP over HTTP with the
	// requested context, and the IdP's answer verifies.
	req, err := sp.AuthnRequest("state")
	require.NoError(t, err)
	to, err := req.RedirectURL()
	require.NoError(t, err)
	resp, err := idp.Client().Get(to)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := idp.AuthnRequests()
	require.Len(t, got, 1)
	assert.Equal(t, entityID, got[0].Issuer)
	assert.Equal(t, acs, got[0].ACSURL)
	assert.Equal(t, []string{saml.AuthnContextPasswordProtectedTransport}, got[0].RequestedAuthnContext)

	a, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo(req.ID)), req.ID)
	require.NoError(t, err)
	assert.Equal(t, samltest.DefaultNameID, a.NameID)
	assert.Equal(t, idp.EntityID(), a.Issuer)

	// IdP-initiated sign-on follows AllowSingleSignOn.
	_, err = sp.Verify(context.Background(), idp.Response())
	require.ErrorIs(t, err, saml.ErrUnsolicited)
	p.AllowSingleSignOn = true
	sp, err = p.ServiceProvider(r, account, region.AdminConsole)
	require.NoError(t, err)
	_, err = sp.Verify(context.Background(), idp.Response())
	require.NoError(t, err)

	// A response for another application of the same account is refused:
	// the ACS URLs differ.
	other, err := p.ServiceProvider(r, account, region.PersonalPortal)
	require.NoError(t, err)
	_, err = other.Verify(context.Background(), idp.Response())
	require.ErrorIs(t, err, saml.ErrDestination)

	// Attacks are refused through the profile-built SP as well.
	for _, atk := range samltest.Attacks() {
		_, err := sp.Verify(context.Background(), idp.Response(samltest.WithAttack(atk)))
		require.Error(t, err, atk.String())
	}
	_, err = sp.Verify(context.Background(), idp.Response(samltest.WithForeignKey()))
	require.ErrorIs(t, err, saml.ErrSignature)
}

// TestMonitorFollowsRealRollover: the IdP moves to a new signing key. A
// profile imported once keeps trusting only the old key; a Monitor picks up
// the new one from the metadata URL.
func TestMonitorFollowsRealRollover(t *testing.T) {
	r := region.EU()
	entityID, _ := r.EntityID(account)
	acs := r.ACSURL(region.Applications)
	idp := samltest.NewIdP(t, samltest.WithServiceProvider(entityID, acs))

	newKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	newCert, err := samltest.NewCertificate(newKey, "rolled over")
	require.NoError(t, err)

	var doc atomic.Value
	doc.Store(metadataDoc(idp.EntityID(), idp.SSOURL(), "", idp.Certificate()))
	srv := metadataServer(t, &doc)

	p := profile.New(profile.Okta)
	p.MetadataURL = srv.URL + "/metadata"
	require.NoError(t, p.Import(context.Background(), saml.WithHTTPClient(srv.Client())))
	p.EnforceSAMLApplications = true
	p.AllowSingleSignOn = true // unsolicited responses keep the test short
	static, err := p.ServiceProvider(r, account, region.Applications)
	require.NoError(t, err)

	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	m, err := profile.NewMonitor(p, saml.MetadataCacheConfig{
		Options: []saml.MetadataOption{saml.WithHTTPClient(srv.Client())},
		Now:     func() time.Time { return time.Unix(0, clock.Load()) },
		Refresh: 10 * time.Minute,
	})
	require.NoError(t, err)
	ctx := context.Background()
	signedNew := func() string { return idp.Response(samltest.WithSigner(newKey, newCert)) }

	sp, err := m.ServiceProvider(ctx, r, account, region.Applications)
	require.NoError(t, err)
	_, err = sp.Verify(ctx, signedNew())
	require.ErrorIs(t, err, saml.ErrSignature, "the new key is not trusted yet")

	// The IdP publishes the new certificate; after the refresh interval the
	// Monitor trusts it.
	doc.Store(metadataDoc(idp.EntityID(), idp.SSOURL(), "", newCert))
	clock.Store(start.Add(11 * time.Minute).UnixNano())
	sp, err = m.ServiceProvider(ctx, r, account, region.Applications)
	require.NoError(t, err)
	a, err := sp.Verify(ctx, signedNew())
	require.NoError(t, err)
	assert.Equal(t, samltest.DefaultNameID, a.NameID)
	_, err = sp.Verify(ctx, idp.Response())
	require.ErrorIs(t, err, saml.ErrSignature, "the retired key is no longer trusted")

	// The profile imported once still knows only the old key.
	_, err = static.Verify(ctx, signedNew())
	require.ErrorIs(t, err, saml.ErrSignature)
}
