package saml_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// signAssertionWith signs the Assertion of an unsigned response with the
// fuzz IdP's key, enveloped or not, after edit has changed the SignedInfo:
// the SignatureValue is computed over the edited SignedInfo, as goxmldsig
// computes it, so the signature itself verifies and only the checks on
// what it signs can refuse it.
func signAssertionWith(t *testing.T, doc []byte, enveloped bool, edit func(signedInfo *etree.Element)) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/fuzz-idp.pem")
	require.NoError(t, err)
	keyBlock, _ := pem.Decode(data)
	require.NotNil(t, keyBlock)
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	require.NoError(t, err)
	signer := key.(crypto.Signer)
	ctx := fuzzSigningContext(t, dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(""))

	d := etree.NewDocument()
	require.NoError(t, d.ReadFromBytes(doc))
	a := d.Root().FindElement("./Assertion")
	require.NotNil(t, a)
	sig, err := ctx.ConstructSignature(a, enveloped)
	require.NoError(t, err)
	si := sig.FindElement("./SignedInfo")
	require.NotNil(t, si)
	if edit != nil {
		edit(si)
		// The SignatureValue again, over the edited SignedInfo in the
		// namespace context it will have.
		rootCtx, err := etreeutils.NSBuildParentContext(a)
		require.NoError(t, err)
		aCtx, err := rootCtx.SubContext(a)
		require.NoError(t, err)
		sigCtx, err := aCtx.SubContext(sig)
		require.NoError(t, err)
		detached, err := etreeutils.NSDetatch(sigCtx, si)
		require.NoError(t, err)
		canonical, err := ctx.Canonicalizer.Canonicalize(detached)
		require.NoError(t, err)
		h := crypto.SHA256.New()
		h.Write(canonical)
		raw, err := signer.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
		require.NoError(t, err)
		sig.FindElement("./SignatureValue").SetText(base64.StdEncoding.EncodeToString(raw))
	}
	a.AddChild(sig)
	out, err := d.WriteToBytes()
	require.NoError(t, err)
	return out
}

// The Reference's transforms are checked on a signature that verifies:
// only the enveloped-signature transform and one exclusive
// canonicalization are accepted, each once.
func TestVerifyRefusesOtherTransforms(t *testing.T) {
	idp, sp, _ := fuzzSetupT(t)
	doc := idp.ResponseXML(samltest.WithInResponseTo(reqID), samltest.WithSigning(samltest.SignNone))
	verify := func(b []byte) error {
		_, err := sp.Verify(context.Background(), base64.StdEncoding.EncodeToString(b), reqID)
		return err
	}
	transforms := func(si *etree.Element) *etree.Element {
		ts := si.FindElement("./Reference/Transforms")
		require.NotNil(t, ts)
		return ts
	}

	// The re-signing itself is sound: an unchanged SignedInfo, signed
	// again, verifies.
	require.NoError(t, verify(signAssertionWith(t, doc, true, func(*etree.Element) {})))

	for _, tc := range []struct {
		name      string
		enveloped bool
		edit      func(si *etree.Element)
	}{
		{"no enveloped-signature transform", false, nil},
		{"an XPath transform", true, func(si *etree.Element) {
			x := transforms(si).CreateElement("ds:Transform")
			x.CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
			x.CreateElement("ds:XPath").SetText("not(ancestor-or-self::ds:Signature)")
		}},
		{"the enveloped-signature transform twice", true, func(si *etree.Element) {
			ts := transforms(si)
			ts.InsertChildAt(0, ts.ChildElements()[0].Copy())
		}},
		{"two exclusive canonicalizations", true, func(si *etree.Element) {
			ts := transforms(si)
			ts.AddChild(ts.ChildElements()[1].Copy())
		}},
		{"no canonicalization transform", true, func(si *etree.Element) {
			ts := transforms(si)
			ts.RemoveChild(ts.ChildElements()[1])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(signAssertionWith(t, doc, tc.enveloped, tc.edit))
			requireOnly(t, err, saml.ErrSignature)
			require.ErrorContains(t, err, "enveloped-signature transform and one exclusive canonicalization")
		})
	}
}
