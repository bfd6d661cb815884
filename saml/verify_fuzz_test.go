package saml_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// fuzzSetup returns an IdP, a service provider that trusts it (fixed
// clock, no replay memory, so the same input verifies each time), and the
// seed responses as XML.
//
// The IdP key, certificate and entity ID are fixed (testdata/fuzz-idp.pem),
// so that inputs signed in one fuzzing process verify in the others.
func fuzzSetup(f *testing.F) (*samltest.IdP, *saml.ServiceProvider, [][]byte) { return fuzzSetupT(f) }

func fuzzSetupT(f testing.TB) (*samltest.IdP, *saml.ServiceProvider, [][]byte) {
	data, err := os.ReadFile("testdata/fuzz-idp.pem")
	require.NoError(f, err)
	keyBlock, rest := pem.Decode(data)
	certBlock, _ := pem.Decode(rest)
	require.NotNil(f, keyBlock)
	require.NotNil(f, certBlock)
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	require.NoError(f, err)
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	require.NoError(f, err)
	idp := newTestIdP(f, samltest.WithSigningKey(key.(crypto.Signer), cert), samltest.WithEntityID("https://idp.example.com/fuzz"))
	sp := newSP(f, idp, func(c *saml.Config) { c.ReplayCache = noReplay{} })
	// Fixed IDs make the seeds identical in every process.
	fixed := func(opts ...samltest.ResponseOption) []byte {
		return idp.ResponseXML(append([]samltest.ResponseOption{
			samltest.WithInResponseTo(reqID), samltest.WithAssertionID("_a1"), samltest.WithResponseID("_r1"),
			samltest.WithSessionIndex("_s1"),
		}, opts...)...)
	}
	var seeds [][]byte
	for _, s := range []samltest.Signing{samltest.SignAssertion, samltest.SignResponse, samltest.SignBoth} {
		seeds = append(seeds, fixed(samltest.WithSigning(s), samltest.WithAttributes(benchAttributes())))
	}
	seeds = append(seeds,
		fixed(samltest.WithNameID("user@evil.example.corp.example"), samltest.WithNameIDComment(17)),
		fixed(samltest.WithAttack(samltest.XSW3)),
		fixed(samltest.WithAttack(samltest.XSW1)),
		fixed(samltest.WithSigning(samltest.SignNone)),
	)
	return idp, sp, seeds
}

// signedAssertions returns every assertion the IdP signed in the seeds,
// including the genuine ones inside the attack shapes.
func signedAssertions(t testing.TB, sp *saml.ServiceProvider, seeds [][]byte, idp *samltest.IdP) []*saml.Assertion {
	fixed := func(opts ...samltest.ResponseOption) []byte {
		return idp.ResponseXML(append([]samltest.ResponseOption{
			samltest.WithInResponseTo(reqID), samltest.WithAssertionID("_a1"), samltest.WithResponseID("_r1"),
			samltest.WithSessionIndex("_s1"),
		}, opts...)...)
	}
	var out []*saml.Assertion
	for _, s := range append(seeds, fixed(), fixed(samltest.WithNameID("user@evil.example.corp.example"))) {
		if a, err := sp.Verify(context.Background(), base64.StdEncoding.EncodeToString(s), reqID); err == nil {
			out = append(out, a)
		}
	}
	require.Len(t, out, 6, "the valid seeds and references verify")
	return out
}

// FuzzVerify mutates signed responses. Verify must never panic, and when
// it accepts a mutated document the assertion must be exactly the one the
// IdP signed: a mutation may only touch what the signature does not cover
// or what canonicalization erases.
func FuzzVerify(f *testing.F) {
	idp, sp, seeds := fuzzSetup(f)
	signed := signedAssertions(f, sp, seeds, idp)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkOnlySigned(t, sp, signed, data) })
}

func checkOnlySigned(t *testing.T, sp *saml.ServiceProvider, signed []*saml.Assertion, data []byte) {
	t.Helper()
	a, err := sp.Verify(context.Background(), base64.StdEncoding.EncodeToString(data), reqID)
	if err != nil {
		if !isSentinel(err) {
			t.Fatalf("error matches no sentinel: %v", err)
		}
		return
	}
	for _, s := range signed {
		if equalAssertion(a, s) {
			return
		}
	}
	t.Fatalf("accepted an assertion the IdP never signed: %+v", a)
}

func isSentinel(err error) bool {
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	return n == 1
}

func equalAssertion(a, b *saml.Assertion) bool {
	if a.Issuer != b.Issuer || a.NameID != b.NameID || a.NameIDFormat != b.NameIDFormat ||
		a.SessionIndex != b.SessionIndex || !a.AuthnInstant.Equal(b.AuthnInstant) ||
		!a.NotOnOrAfter.Equal(b.NotOnOrAfter) || a.InResponseTo != b.InResponseTo ||
		a.AuthnContext != b.AuthnContext || len(a.Attributes) != len(b.Attributes) {
		return false
	}
	for k, v := range a.Attributes {
		w, ok := b.Attributes[k]
		if !ok || strings.Join(v, "\x00") != strings.Join(w, "\x00") || len(v) != len(w) {
			return false
		}
	}
	return true
}

// gosaml2Verdict runs gosaml2 with every warning it reports turned into a
// refusal, as Verify does.
func gosaml2Verdict(sp *saml2.SAMLServiceProvider, encoded string) (string, error) {
	info, err := sp.RetrieveAssertionInfo(encoded)
	if err != nil {
		return "", err
	}
	if info.WarningInfo.InvalidTime {
		return "", errors.New("gosaml2 warning: invalid time")
	}
	if info.WarningInfo.NotInAudience {
		return "", errors.New("gosaml2 warning: not in audience")
	}
	return info.NameID, nil
}

// FuzzVerifyDifferential checks that Verify and gosaml2 (warnings made
// errors) agree on accept or reject for the same input, except where
// Verify is deliberately stricter (listed in stricterThanGosaml2), and
// that they read the same NameID when both accept.
func FuzzVerifyDifferential(f *testing.F) {
	idp, _, seeds := fuzzSetup(f)
	sp, g := differentialSPs(f, idp)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkAgreesWithGosaml2(t, sp, g, data) })
}

func differentialSPs(t testing.TB, idp *samltest.IdP) (*saml.ServiceProvider, *saml2.SAMLServiceProvider) {
	sp := newSP(t, idp, func(c *saml.Config) { c.ReplayCache = noReplay{}; c.ClockSkew = 1 })
	g := gosaml2SP(idp)
	g.Clock = dsig.NewFakeClockAt(testClock)
	return sp, g
}

func checkAgreesWithGosaml2(t *testing.T, sp *saml.ServiceProvider, g *saml2.SAMLServiceProvider, data []byte) {
	t.Helper()
	encoded := base64.StdEncoding.EncodeToString(data)
	a, err := sp.Verify(context.Background(), encoded, reqID)
	nameID, gerr := gosaml2Verdict(g, encoded)
	switch {
	case err == nil && gerr == nil:
		if a.NameID != nameID {
			t.Fatalf("NameID: Verify %q, gosaml2 %q", a.NameID, nameID)
		}
	case err == nil && gerr != nil:
		if !gosaml2StricterOn(gerr) {
			t.Fatalf("Verify accepted what gosaml2 refuses: %v", gerr)
		}
	case err != nil && gerr == nil:
		if !stricterThanGosaml2(err) {
			t.Fatalf("Verify refused what gosaml2 accepts (NameID %q): %v", nameID, err)
		}
	}
}

// mutations returns deterministic single-byte and single-token mutations
// of doc, a bounded sample spread over the whole document.
func mutations(doc []byte, n int) [][]byte {
	var out [][]byte
	step := max(1, len(doc)/n)
	for i := 0; i < len(doc); i += step {
		for _, c := range []byte{'x', ' ', '<', '"', '0'} {
			if doc[i] == c {
				continue
			}
			m := append([]byte(nil), doc...)
			m[i] = c
			out = append(out, m)
			break
		}
		// Drop one byte.
		out = append(out, append(append([]byte(nil), doc[:i]...), doc[i+1:]...))
	}
	return out
}

// TestVerifyMutations runs the fuzz properties over a fixed set of
// mutations in every test run: only signed content is ever accepted, and
// Verify agrees with gosaml2 except where it is deliberately stricter.
func TestVerifyMutations(t *testing.T) {
	idp, sp, seeds := fuzzSetupT(t)
	dsp, g := differentialSPs(t, idp)
	signed := signedAssertions(t, sp, seeds, idp)
	accepted := 0
	for _, s := range seeds {
		for _, m := range mutations(s, 150) {
			checkOnlySigned(t, sp, signed, m)
			checkAgreesWithGosaml2(t, dsp, g, m)
			if _, err := sp.Verify(context.Background(), base64.StdEncoding.EncodeToString(m), reqID); err == nil {
				accepted++
			}
		}
	}
	t.Logf("%d mutations accepted (all with the signed values)", accepted)
}

// stricterThanGosaml2 lists the checks Verify makes that gosaml2 does not.
func stricterThanGosaml2(err error) bool {
	msg := err.Error()
	for _, s := range []string{
		"signature wrapping",            // one assertion, unique IDs, no nested Response
		"Destination",                   // required on a signed Response
		"SessionNotOnOrAfter",           // session end
		"comment",                       // comments inside values are refused
		"markup where text is expected", // structured Issuer or NameID
		"Reference",                     // exactly one Reference, naming the element
		"appears more than once",        // repeated singletons
		"AuthnStatement",                // required for web SSO
		"Subject/NameID",                // required
		"InResponseTo",                  // Response and assertion must agree
		"AllowIdPInitiated",             // unsolicited
		"Version",                       // checked on both signed and unsigned Responses
		"Issuer",                        // gosaml2 reads the first of several Issuers
		"Audience",                      // gosaml2 accepts an assertion without AudienceRestriction
		"NotBefore",                     // gosaml2 ignores SubjectConfirmationData@NotBefore
		"Recipient",
		"xs:dateTime", // gosaml2 ignores an unparsable optional time
		"DOCTYPE",
		"SAMLResponse",
		"not well-formed",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// gosaml2StricterOn lists gosaml2 refusals that Verify does not share:
// its round-trip validator for encoding/xml (Verify never unmarshals with
// encoding/xml what it reads), its required Conditions@NotBefore, and its
// required Response Issuer (optional in SAML core 3.2.2; Verify checks it
// when present and always checks the signed Assertion's Issuer).
func gosaml2StricterOn(err error) bool {
	msg := err.Error()
	for _, s := range []string{"roundtrip", "round trip", "validator", "NotBefore", "AttributeStatement", "token", "<Issuer>", "missing Issuer"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// TestVerifyAgreesWithGosaml2 runs both verifiers over the shapes of the
// security tests: valid responses in every signing mode, each attack, and
// each single check broken.
func TestVerifyAgreesWithGosaml2(t *testing.T) {
	idp := newTestIdP(t)
	sp, g := differentialSPs(t, idp)
	now := testClock
	shapes := map[string][]samltest.ResponseOption{
		"assertion signed": {samltest.WithSigning(samltest.SignAssertion)},
		"response signed":  {samltest.WithSigning(samltest.SignResponse)},
		"both signed":      {samltest.WithSigning(samltest.SignBoth)},
		"unsigned":         {samltest.WithSigning(samltest.SignNone)},
		"foreign key":      {samltest.WithForeignKey()},
		"wrong issuer":     {samltest.WithIssuer("https://evil.example")},
		"wrong recipient":  {samltest.WithRecipient("https://evil.example/acs")},
		"wrong audience":   {samltest.WithAudience("https://evil.example")},
		"wrong dest":       {samltest.WithDestination("https://evil.example/acs")},
		"expired":          {samltest.At(now.Add(-time.Hour))},
		"not yet valid":    {samltest.At(now.Add(time.Hour))},
		"status":           {samltest.WithStatus("urn:oasis:names:tc:SAML:2.0:status:Responder", "", "")},
		"comment":          {samltest.WithNameID("user@evil.example.corp.example"), samltest.WithNameIDComment(17)},
	}
	for _, a := range samltest.Attacks() {
		shapes[a.String()] = []samltest.ResponseOption{samltest.WithAttack(a)}
	}
	for name, opts := range shapes {
		t.Run(name, func(t *testing.T) {
			checkAgreesWithGosaml2(t, sp, g, idp.ResponseXML(append([]samltest.ResponseOption{samltest.WithInResponseTo(reqID)}, opts...)...))
		})
	}
}
