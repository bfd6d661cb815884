package saml_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// The signature check is goxmldsig's Validate taken apart (see
// verify_dsig.go). These tests hold it to the verification it replaced —
// the same surrounding checks with goxmldsig's ValidationContext.Validate —
// on valid, attacked and mutated documents: it never accepts what that
// refuses, it refuses what that accepts only for its listed extra checks,
// and when both accept, the elements they return have the same canonical
// bytes.

// dsigStricter lists the refusals the replacement adds to goxmldsig's.
func dsigStricter(err error) bool {
	msg := err.Error()
	for _, s := range []string{
		"an earlier Signature in the element",
		"enveloped-signature transform and one exclusive canonicalization",
		"exactly one Reference",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

var dsigTargets = []string{"Response", "Response/Assertion"}

// checkDsigAgrees compares both verifications on each signed element of
// doc and reports how many elements both accepted.
func checkDsigAgrees(t testing.TB, sp *saml.ServiceProvider, doc []byte, now time.Time) int {
	t.Helper()
	accepted := 0
	for _, target := range dsigTargets {
		c := sp.CompareWithGoxmldsig(doc, target, now)
		if !c.Applicable {
			continue
		}
		switch {
		case c.Err == nil && c.RefErr == nil:
			if !bytes.Equal(c.C14N, c.RefC14N) {
				t.Fatalf("%s: verified elements differ:\n%s\ngoxmldsig:\n%s", target, c.C14N, c.RefC14N)
			}
			accepted++
		case c.Err == nil:
			t.Fatalf("%s: accepted what goxmldsig refuses: %v", target, c.RefErr)
		case c.RefErr == nil:
			if !dsigStricter(c.Err) {
				t.Fatalf("%s: refused what goxmldsig accepts: %v", target, c.Err)
			}
		default:
			if !errors.Is(c.Err, saml.ErrSignature) && !errors.Is(c.Err, saml.ErrMalformed) {
				t.Fatalf("%s: refusal matches neither ErrSignature nor ErrMalformed: %v", target, c.Err)
			}
			if errors.Is(c.Err, saml.ErrSignature) != errors.Is(c.RefErr, saml.ErrSignature) {
				t.Fatalf("%s: different sentinels: %v / goxmldsig path: %v", target, c.Err, c.RefErr)
			}
		}
	}
	return accepted
}

func TestVerifySignatureMatchesGoxmldsig(t *testing.T) {
	idp, sp, seeds := fuzzSetupT(t)
	for _, a := range samltest.Attacks() {
		seeds = append(seeds, idp.ResponseXML(samltest.WithInResponseTo(reqID), samltest.WithAttack(a)))
	}
	seeds = append(seeds,
		idp.ResponseXML(samltest.WithSigning(samltest.SignBoth), samltest.WithSignedComments()),
		idp.ResponseXML(samltest.WithForeignKey()),
	)
	valid, accepted := 0, 0
	for _, s := range seeds {
		valid += checkDsigAgrees(t, sp, s, testClock)
		for _, m := range mutations(s, 120) {
			accepted += checkDsigAgrees(t, sp, m, testClock)
		}
	}
	// The genuine signatures: three signing modes (both counts twice),
	// the commented NameID, the signed assertions inside the attacks.
	assert.GreaterOrEqual(t, valid, 6)
	t.Logf("%d signed elements verified in the seeds, %d in mutations (with identical canonical bytes)", valid, accepted)
}

func TestVerifySignatureMatchesGoxmldsigOnCrewjamFixtures(t *testing.T) {
	onelogin := crewjamSP(t, oneloginMetadata, oneloginClock, true)
	names := []string{"TestSPCanHandleOneloginResponse_response"}
	for _, n := range []string{"One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"} {
		names = append(names, "TestXswPermutation"+n+"IsRejected_response")
	}
	valid := 0
	for _, name := range names {
		raw, err := base64.StdEncoding.DecodeString(crewjamResponse(t, name))
		require.NoError(t, err)
		valid += checkDsigAgrees(t, onelogin, raw, oneloginClock)
		for _, m := range mutations(raw, 40) {
			checkDsigAgrees(t, onelogin, m, oneloginClock)
		}
	}
	// The genuine OneLogin assertion verifies in its own response and in
	// the permutations that keep it in place.
	assert.GreaterOrEqual(t, valid, 1)

	google := crewjamSP(t, googleMetadata, googleClock, false)
	raw, err := base64.StdEncoding.DecodeString(crewjamResponse(t, "TestSPRejectsInjectedComment_response"))
	require.NoError(t, err)
	checkDsigAgrees(t, google, raw, googleClock)
	for _, m := range mutations(raw, 40) {
		checkDsigAgrees(t, google, m, googleClock)
	}
}

// TestVerifyRefusesInclusiveTransform: goxmldsig accepts a Reference
// canonicalized with inclusive C14N; Verify takes only exclusive
// canonicalization for the signed element.
func TestVerifyRefusesInclusiveTransform(t *testing.T) {
	idp, sp, _ := fuzzSetupT(t)
	doc := idp.ResponseXML(samltest.WithInResponseTo(reqID), samltest.WithSigning(samltest.SignNone))
	signed := resignAssertion(t, doc, dsig.MakeC14N10RecCanonicalizer())

	c := sp.CompareWithGoxmldsig(signed, "Response/Assertion", testClock)
	require.True(t, c.Applicable)
	require.NoError(t, c.RefErr, "goxmldsig accepts the inclusive transform")
	require.ErrorIs(t, c.Err, saml.ErrSignature)
	require.True(t, dsigStricter(c.Err), c.Err.Error())

	_, err := sp.Verify(context.Background(), base64.StdEncoding.EncodeToString(signed), reqID)
	requireOnly(t, err, saml.ErrSignature)

	// The same document signed with exclusive canonicalization verifies.
	ok := resignAssertion(t, doc, dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(""))
	_, err = sp.Verify(context.Background(), base64.StdEncoding.EncodeToString(ok), reqID)
	require.NoError(t, err)
	require.Equal(t, 1, checkDsigAgrees(t, sp, ok, testClock))
}

// resignAssertion signs the Assertion of an unsigned response through
// goxmldsig with the fuzz IdP's key (testdata/fuzz-idp.pem), using canon
// for SignedInfo and the Reference.
func resignAssertion(t *testing.T, doc []byte, canon dsig.Canonicalizer) []byte {
	t.Helper()
	d := etree.NewDocument()
	require.NoError(t, d.ReadFromBytes(doc))
	a := d.Root().FindElement("./Assertion")
	require.NotNil(t, a)
	signedA, err := fuzzSigningContext(t, canon).SignEnveloped(a)
	require.NoError(t, err)
	d.Root().InsertChildAt(a.Index(), signedA)
	d.Root().RemoveChild(a)
	out, err := d.WriteToBytes()
	require.NoError(t, err)
	return out
}

// fuzzSigningContext signs with the fuzz IdP's key through goxmldsig.
func fuzzSigningContext(t *testing.T, canon dsig.Canonicalizer) *dsig.SigningContext {
	t.Helper()
	data, err := os.ReadFile("testdata/fuzz-idp.pem")
	require.NoError(t, err)
	keyBlock, rest := pem.Decode(data)
	certBlock, _ := pem.Decode(rest)
	require.NotNil(t, keyBlock)
	require.NotNil(t, certBlock)
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	require.NoError(t, err)
	ctx, err := dsig.NewSigningContext(key.(crypto.Signer), [][]byte{certBlock.Bytes})
	require.NoError(t, err)
	ctx.Canonicalizer = canon
	return ctx
}

// FuzzVerifySignatureDifferential checks the same properties as
// TestVerifySignatureMatchesGoxmldsig on fuzzed documents.
func FuzzVerifySignatureDifferential(f *testing.F) {
	_, sp, seeds := fuzzSetup(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDsigAgrees(t, sp, data, testClock) })
}

// TestVerifyConcurrentPooledBuffers verifies different responses from
// several goroutines at once: the pooled decode and canonicalization
// buffers must never leak one response's content into another's result.
func TestVerifyConcurrentPooledBuffers(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp, func(c *saml.Config) { c.ReplayCache = noReplay{} })
	const n = 16
	resps := make([]string, n)
	for i := range resps {
		s := samltest.SignAssertion
		if i%2 == 1 {
			s = samltest.SignResponse
		}
		resps[i] = idp.Response(samltest.WithInResponseTo(reqID), samltest.WithSigning(s),
			samltest.WithNameID(fmt.Sprintf("user%02d@example.com", i)),
			samltest.WithAttribute("padding", strings.Repeat("x", 200*i)))
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			var err error
			for k := range 3 * n {
				i := (k + g*5) % n
				a, verr := sp.Verify(context.Background(), resps[i], reqID)
				switch {
				case verr != nil:
					err = verr
				case a.NameID != fmt.Sprintf("user%02d@example.com", i) || len(a.Attributes["padding"][0]) != 200*i:
					err = fmt.Errorf("response %d came back as %q", i, a.NameID)
				}
				if err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
}

// TestVerifySignatureEarlierSignatures: goxmldsig validates the first
// Signature in document order that references the element, skipping
// others and failing on a malformed one. The replacement verifies the
// element's own enveloped signature, skips the same others and refuses
// where goxmldsig would have picked (or failed on) another.
func TestVerifySignatureEarlierSignatures(t *testing.T) {
	idp, sp, _ := fuzzSetupT(t)
	exc := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	unsigned := idp.ResponseXML(samltest.WithInResponseTo(reqID), samltest.WithSigning(samltest.SignNone), samltest.WithAssertionID("_a1"))
	// A well-formed signature from another signed assertion.
	decoy := func(assertionID string) *etree.Element {
		other := resignAssertion(t, idp.ResponseXML(samltest.WithInResponseTo(reqID), samltest.WithSigning(samltest.SignNone), samltest.WithAssertionID(assertionID)), exc)
		od := etree.NewDocument()
		require.NoError(t, od.ReadFromBytes(other))
		d := od.Root().FindElement("./Assertion/Signature")
		require.NotNil(t, d)
		return d.Copy()
	}
	// withDecoy puts sig inside the Assertion's Issuer, before the
	// Assertion's own signature, and signs the Assertion.
	withDecoy := func(sig *etree.Element) []byte {
		d := etree.NewDocument()
		require.NoError(t, d.ReadFromBytes(unsigned))
		d.Root().FindElement("./Assertion/Issuer").AddChild(sig)
		doc, err := d.WriteToBytes()
		require.NoError(t, err)
		return resignAssertion(t, doc, exc)
	}

	t.Run("earlier signature of another element", func(t *testing.T) {
		c := sp.CompareWithGoxmldsig(withDecoy(decoy("_other")), "Response/Assertion", testClock)
		require.True(t, c.Applicable)
		require.NoError(t, c.RefErr)
		require.NoError(t, c.Err)
		require.Equal(t, c.RefC14N, c.C14N)
	})
	t.Run("earlier signature naming the element", func(t *testing.T) {
		c := sp.CompareWithGoxmldsig(withDecoy(decoy("_a1")), "Response/Assertion", testClock)
		require.True(t, c.Applicable)
		require.Error(t, c.RefErr)
		require.ErrorIs(t, c.Err, saml.ErrSignature)
		require.Contains(t, c.Err.Error(), "an earlier Signature in the element")
	})
	t.Run("earlier malformed signature", func(t *testing.T) {
		d := decoy("_other")
		d.RemoveChild(d.SelectElement("SignatureValue"))
		c := sp.CompareWithGoxmldsig(withDecoy(d), "Response/Assertion", testClock)
		require.True(t, c.Applicable)
		require.Error(t, c.RefErr)
		require.ErrorIs(t, c.Err, saml.ErrSignature)
		require.Contains(t, c.Err.Error(), "an earlier Signature in the element")
	})
}

// TestVerifyGoxmldsigSignaturePlacement: goxmldsig's SignEnveloped
// appends the signature as the last child, so an IdP built on it that
// signs the Assertion and then the Response puts the Response's signature
// after the Assertion and its signature. Verify accepts that order.
func TestVerifyGoxmldsigSignaturePlacement(t *testing.T) {
	idp, sp, _ := fuzzSetupT(t)
	exc := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	doc := resignAssertion(t, idp.ResponseXML(samltest.WithInResponseTo(reqID), samltest.WithSigning(samltest.SignNone)), exc)
	d := etree.NewDocument()
	require.NoError(t, d.ReadFromBytes(doc))
	require.NotNil(t, d.Root().FindElement("./Assertion/Signature"))
	signed, err := fuzzSigningContext(t, exc).SignEnveloped(d.Root())
	require.NoError(t, err)
	require.Equal(t, "Signature", signed.ChildElements()[len(signed.ChildElements())-1].Tag, "signature last")
	out := etree.NewDocument()
	out.SetRoot(signed)
	both, err := out.WriteToBytes()
	require.NoError(t, err)

	c := sp.CompareWithGoxmldsig(both, "Response", testClock)
	require.True(t, c.Applicable)
	require.NoError(t, c.RefErr)
	require.NoError(t, c.Err)
	require.Equal(t, c.RefC14N, c.C14N)
	a, err := sp.Verify(context.Background(), base64.StdEncoding.EncodeToString(both), reqID)
	require.NoError(t, err)
	require.Equal(t, reqID, a.InResponseTo)
}
