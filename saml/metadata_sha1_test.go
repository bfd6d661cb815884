package saml

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mdSignWithHashes signs el in place (Signature first) with goxmldsig:
// digestHash for the Reference and sigHash for the RSA signature method.
// When they differ, the SignedInfo is re-signed with sigHash after its
// SignatureMethod is changed, so both are real.
func mdSignWithHashes(tb testing.TB, el *etree.Element, key *rsa.PrivateKey, cert *x509.Certificate, sigHash, digestHash crypto.Hash, c14n dsig.Canonicalizer) {
	tb.Helper()
	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	require.NoError(tb, err)
	ctx.Hash = digestHash
	ctx.Prefix = "ds"
	ctx.Canonicalizer = c14n
	sig, err := ctx.ConstructSignature(el, true)
	require.NoError(tb, err)
	if sigHash != digestHash {
		methods := map[crypto.Hash]string{crypto.SHA1: dsig.RSASHA1SignatureMethod, crypto.SHA256: dsig.RSASHA256SignatureMethod}
		si := sig.SelectElement("SignedInfo")
		require.NotNil(tb, si)
		sm := si.SelectElement("SignatureMethod")
		require.NotNil(tb, sm)
		sm.CreateAttr("Algorithm", methods[sigHash])
		// The namespaces in scope where the Signature will stand, as
		// goxmldsig collects them for inclusive canonicalization.
		nsCtx, err := etreeutils.NSBuildParentContext(el)
		require.NoError(tb, err)
		nsCtx, err = nsCtx.SubContext(el)
		require.NoError(tb, err)
		nsCtx, err = nsCtx.SubContext(sig)
		require.NoError(tb, err)
		detached, err := etreeutils.NSDetatch(nsCtx, si)
		require.NoError(tb, err)
		canonical, err := c14n.Canonicalize(detached)
		require.NoError(tb, err)
		h := sigHash.New()
		h.Write(canonical)
		raw, err := rsa.SignPKCS1v15(rand.Reader, key, sigHash, h.Sum(nil))
		require.NoError(tb, err)
		sig.SelectElement("SignatureValue").SetText(base64.StdEncoding.EncodeToString(raw))
	}
	el.InsertChildAt(0, sig)
}

func mdSignDocWithHashes(tb testing.TB, doc []byte, key *rsa.PrivateKey, cert *x509.Certificate, sigHash, digestHash crypto.Hash, c14n dsig.Canonicalizer) []byte {
	tb.Helper()
	d := etree.NewDocument()
	require.NoError(tb, d.ReadFromBytes(doc))
	mdSignWithHashes(tb, d.Root(), key, cert, sigHash, digestHash, c14n)
	out, err := d.WriteToBytes()
	require.NoError(tb, err)
	return out
}

func TestParseMetadataSHA1RefusedByDefault(t *testing.T) {
	key, signer := mdNewCert(t, "metadata signer", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), true)
	_, idpCert := mdNewCert(t, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	exc := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	entity := []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_sha1" entityID="https://idp.example.com">` +
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		keyDescriptor("signing", mdCertB64(idpCert)) + ssoRedirect + `</md:IDPSSODescriptor></md:EntityDescriptor>`)
	agg, ids := buildAggregate(t, 3, idpCert)

	// An unsigned aggregate holding one entity signed on its own.
	signedEntity := func(sigHash, digestHash crypto.Hash) []byte {
		d := etree.NewDocument()
		require.NoError(t, d.ReadFromBytes(agg))
		ent := d.Root().ChildElements()[1]
		ent.CreateAttr("xmlns:md", NamespaceMetadata)
		ent.CreateAttr("xmlns:ds", NamespaceXMLDSig)
		mdSignWithHashes(t, ent, key, signer, sigHash, digestHash, exc)
		out, err := d.WriteToBytes()
		require.NoError(t, err)
		return out
	}

	const (
		rsaSHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
		sha1    = "http://www.w3.org/2000/09/xmldsig#sha1"
	)
	cases := []struct {
		name     string
		doc      []byte
		entityID string
		element  string // the element the error names
		alg      string
	}{
		{"entity RSA-SHA1", mdSignDocWithHashes(t, entity, key, signer, crypto.SHA1, crypto.SHA1, exc), "",
			"EntityDescriptor/Signature/SignedInfo/SignatureMethod", rsaSHA1},
		{"entity SHA-1 digest only", mdSignDocWithHashes(t, entity, key, signer, crypto.SHA256, crypto.SHA1, exc), "",
			"EntityDescriptor/Signature/SignedInfo/Reference/DigestMethod", sha1},
		{"entity SHA-1 signature method only", mdSignDocWithHashes(t, entity, key, signer, crypto.SHA1, crypto.SHA256, exc), "",
			"EntityDescriptor/Signature/SignedInfo/SignatureMethod", rsaSHA1},
		{"aggregate RSA-SHA1, streamed", mdSignDocWithHashes(t, agg, key, signer, crypto.SHA1, crypto.SHA1, exc), ids[1],
			"EntitiesDescriptor/Signature/SignedInfo/SignatureMethod", rsaSHA1},
		{"aggregate SHA-1 digest, streamed", mdSignDocWithHashes(t, agg, key, signer, crypto.SHA256, crypto.SHA1, exc), ids[1],
			"EntitiesDescriptor/Signature/SignedInfo/Reference/DigestMethod", sha1},
		{"aggregate RSA-SHA1, full tree", mdSignDocWithHashes(t, agg, key, signer, crypto.SHA1, crypto.SHA1, dsig.MakeC14N11Canonicalizer()), ids[1],
			"EntitiesDescriptor/Signature/SignedInfo/SignatureMethod", rsaSHA1},
		{"aggregate SHA-1 digest, full tree", mdSignDocWithHashes(t, agg, key, signer, crypto.SHA256, crypto.SHA1, dsig.MakeC14N11Canonicalizer()), ids[1],
			"EntitiesDescriptor/Signature/SignedInfo/Reference/DigestMethod", sha1},
		{"signed entity in aggregate RSA-SHA1", signedEntity(crypto.SHA1, crypto.SHA1), ids[1],
			"/Signature/SignedInfo/SignatureMethod", rsaSHA1},
		{"signed entity in aggregate SHA-1 digest", signedEntity(crypto.SHA256, crypto.SHA1), ids[1],
			"/Signature/SignedInfo/Reference/DigestMethod", sha1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := []MetadataOption{WithNow(func() time.Time { return mdNow }), WithMetadataSigner(signer)}
			if tc.entityID != "" {
				opts = append(opts, WithEntityID(tc.entityID))
			}
			_, err := ParseMetadata(tc.doc, opts...)
			require.ErrorIs(t, err, ErrSignature)
			var me *MetadataError
			require.ErrorAs(t, err, &me)
			assert.True(t, strings.HasSuffix(me.Element, tc.element), "element %q", me.Element)
			assert.Equal(t, "Algorithm", me.Attr)
			assert.Contains(t, err.Error(), tc.alg)
			assert.Contains(t, err.Error(), "WithInsecureSHA1")

			// The signature itself is good: with the switch on it verifies...
			md, err := ParseMetadata(tc.doc, append(opts, WithInsecureSHA1())...)
			require.NoError(t, err)
			assert.True(t, md.SigningCerts[0].Equal(idpCert))
			// ...and the switch does not turn the check off.
			_, otherSigner := mdNewCert(t, "other", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
			onlyOther := []MetadataOption{WithNow(func() time.Time { return mdNow }), WithMetadataSigner(otherSigner), WithInsecureSHA1()}
			if tc.entityID != "" {
				onlyOther = append(onlyOther, WithEntityID(tc.entityID))
			}
			_, err = ParseMetadata(tc.doc, onlyOther...)
			require.ErrorIs(t, err, ErrSignature)
			tampered := bytes.Replace(tc.doc, []byte("/sso\""), []byte("/evil\""), 1)
			if bytes.Equal(tampered, tc.doc) {
				tampered = bytes.Replace(tc.doc, []byte("idp00001.example.edu/idp/profile/SAML2/POST/SSO"), []byte("idp00001.example.edu/idp/profile/SAML2/POST/EVIL"), 1)
			}
			require.NotEqual(t, tc.doc, tampered)
			_, err = ParseMetadata(tampered, append(opts, WithInsecureSHA1())...)
			require.ErrorIs(t, err, ErrSignature)

			// Unsigned parsing does not look at signatures at all.
			_, err = ParseMetadata(tc.doc, opts[:1]...)
			if tc.entityID != "" {
				_, err = ParseMetadata(tc.doc, opts[0], WithEntityID(tc.entityID))
			}
			require.NoError(t, err)
		})
	}
}

// The streamed check of a signed aggregate refuses SHA-1 itself rather
// than handing the document to the full-tree check.
func TestVerifyAggregateStreamedSHA1(t *testing.T) {
	key, signer := mdNewCert(t, "federation", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), true)
	_, idpCert := mdNewCert(t, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	agg, _ := buildAggregate(t, 3, idpCert)
	for _, hashes := range [][2]crypto.Hash{{crypto.SHA1, crypto.SHA1}, {crypto.SHA256, crypto.SHA1}, {crypto.SHA1, crypto.SHA256}} {
		signed := mdSignDocWithHashes(t, agg, key, signer, hashes[0], hashes[1], dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(""))
		sc, err := scanMetadata(signed, DefaultMaxMetadataTokens)
		require.NoError(t, err)
		_, _, err = verifyAggregateStreamed(signed, sc, &sc.entities[1], []*x509.Certificate{signer}, mdNow, false)
		require.ErrorIs(t, err, ErrSignature)
		require.NotErrorIs(t, err, errC14nFallback)
		el, _, err := verifyAggregateStreamed(signed, sc, &sc.entities[1], []*x509.Certificate{signer}, mdNow, true)
		require.NoError(t, err)
		assert.Equal(t, sc.entities[1].entityID, el.SelectAttrValue("entityID", ""))
	}
}
