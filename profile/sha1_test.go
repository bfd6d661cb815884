package profile_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"sync/atomic"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// Metadata signed with RSA-SHA1 is refused when a signer is pinned, on
// import from bytes and from the metadata URL alike, unless the caller
// passes saml.WithInsecureSHA1 through.
func TestImportSHA1SignedMetadata(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	signer, err := samltest.NewCertificate(key, "metadata signer")
	require.NoError(t, err)
	idpCert := newCert(t, "idp")

	d := etree.NewDocument()
	require.NoError(t, d.ReadFromBytes(metadataDoc("https://idp.example.com/entity", "https://idp.example.com/sso", "", idpCert)))
	d.Root().CreateAttr("ID", "_md")
	sc, err := dsig.NewSigningContext(key, [][]byte{signer.Raw})
	require.NoError(t, err)
	sc.Hash = crypto.SHA1
	sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	sig, err := sc.ConstructSignature(d.Root(), true)
	require.NoError(t, err)
	d.Root().InsertChildAt(0, sig)
	doc, err := d.WriteToBytes()
	require.NoError(t, err)
	require.Contains(t, string(doc), dsig.RSASHA1SignatureMethod)

	p := profile.New(profile.Okta)
	before := p
	err = p.ImportMetadata(doc, saml.WithMetadataSigner(signer))
	require.ErrorIs(t, err, profile.ErrImport)
	require.ErrorIs(t, err, saml.ErrSignature)
	assert.Contains(t, err.Error(), "SHA-1")
	assert.Equal(t, before, p, "a refused import changes nothing")
	require.NoError(t, p.ImportMetadata(doc, saml.WithMetadataSigner(signer), saml.WithInsecureSHA1()))
	assert.Equal(t, "https://idp.example.com/entity", p.IssuerURL)

	var served atomic.Value
	served.Store(doc)
	srv := metadataServer(t, &served)
	q := profile.New(profile.Okta)
	q.MetadataURL = srv.URL + "/metadata"
	ctx := context.Background()
	err = q.Import(ctx, saml.WithHTTPClient(srv.Client()), saml.WithMetadataSigner(signer))
	require.ErrorIs(t, err, saml.ErrSignature)
	assert.Empty(t, q.IssuerURL)
	require.NoError(t, q.Import(ctx, saml.WithHTTPClient(srv.Client()), saml.WithMetadataSigner(signer), saml.WithInsecureSHA1()))
	assert.Equal(t, "https://idp.example.com/entity", q.IssuerURL)
	certs, err := q.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 1)
	assert.True(t, certs[0].Equal(idpCert))
}
