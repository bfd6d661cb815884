package saml_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
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

var testClock = time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)

func fixedClock() time.Time { return testClock }

func newTestIdP(t testing.TB, opts ...samltest.Option) *samltest.IdP {
	return samltest.NewIdP(t, append([]samltest.Option{samltest.WithClock(fixedClock)}, opts...)...)
}

const reqID = "id-4f1c2b"

// sentinels lists every verification sentinel, to check that an error
// matches exactly one.
var sentinels = []error{
	saml.ErrSignature, saml.ErrIssuer, saml.ErrDestination, saml.ErrRecipient, saml.ErrAudience,
	saml.ErrExpired, saml.ErrNotYetValid, saml.ErrInResponseTo, saml.ErrUnsolicited, saml.ErrReplay,
	saml.ErrStatus, saml.ErrMalformed,
}

func requireOnly(t *testing.T, err, want error) {
	t.Helper()
	require.Error(t, err)
	for _, s := range sentinels {
		if s == want {
			require.ErrorIs(t, err, s, "error %q", err)
		} else {
			require.NotErrorIs(t, err, s, "error %q must match only %v", err, want)
		}
	}
}

type verifyCase struct {
	name     string
	opts     []samltest.ResponseOption
	cfg      func(*saml.Config)
	ids      []string // request IDs passed to Verify; nil means {reqID}
	noIDs    bool
	want     error
	element  string // substring the error must contain
	response func(t *testing.T, idp *samltest.IdP) string
	check    func(t *testing.T, a *saml.Assertion)
}

func runVerifyCases(t *testing.T, cases []verifyCase) {
	t.Helper()
	idp := newTestIdP(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := newSP(t, idp, func(c *saml.Config) {
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			var resp string
			if tc.response != nil {
				resp = tc.response(t, idp)
			} else {
				resp = idp.Response(append([]samltest.ResponseOption{samltest.WithInResponseTo(reqID)}, tc.opts...)...)
			}
			ids := tc.ids
			if ids == nil && !tc.noIDs {
				ids = []string{reqID}
			}
			a, err := sp.Verify(context.Background(), resp, ids...)
			if tc.want == nil {
				require.NoError(t, err)
				require.NotNil(t, a)
				if tc.check != nil {
					tc.check(t, a)
				}
				return
			}
			require.Nil(t, a)
			requireOnly(t, err, tc.want)
			if tc.element != "" {
				assert.Contains(t, err.Error(), tc.element)
			}
		})
	}
}

func TestVerifySentinels(t *testing.T) {
	now := testClock
	runVerifyCases(t, []verifyCase{
		{name: "valid, assertion signed", check: func(t *testing.T, a *saml.Assertion) {
			assert.Equal(t, samltest.DefaultNameID, a.NameID)
			assert.Equal(t, saml.NameIDFormatEmailAddress, a.NameIDFormat)
			assert.Equal(t, reqID, a.InResponseTo)
			assert.Equal(t, []string{"staff", "admins"}, a.Attributes["groups"])
			assert.Equal(t, saml.AuthnContextPasswordProtectedTransport, a.AuthnContext)
			assert.Equal(t, now.Add(5*time.Minute), a.NotOnOrAfter)
			assert.Equal(t, now.Add(-time.Second), a.AuthnInstant)
			assert.NotEmpty(t, a.SessionIndex)
		}},
		{name: "valid, response signed", opts: []samltest.ResponseOption{samltest.WithSigning(samltest.SignResponse)}},
		{name: "valid, both signed", opts: []samltest.ResponseOption{samltest.WithSigning(samltest.SignBoth)}},
		{name: "valid, RSA-SHA512", opts: []samltest.ResponseOption{samltest.WithSignatureMethod(dsig.RSASHA512SignatureMethod)}},
		{name: "valid, RSA-SHA384 response", opts: []samltest.ResponseOption{samltest.WithSignatureMethod(dsig.RSASHA384SignatureMethod), samltest.WithSigning(samltest.SignResponse)}},
		{name: "valid, deflated", opts: []samltest.ResponseOption{samltest.Deflated()}},
		{name: "valid, no Destination on an unsigned response", opts: []samltest.ResponseOption{samltest.WithoutDestination()}},
		{name: "valid, several audiences", opts: []samltest.ResponseOption{samltest.WithAudience("https://other.example", samltest.DefaultSPEntityID)}},
		{name: "valid, one of several request IDs", ids: []string{"id-other", reqID}},

		{name: "unsigned", opts: []samltest.ResponseOption{samltest.WithSigning(samltest.SignNone)}, want: saml.ErrSignature, element: "neither the Response nor the Assertion is signed"},
		{name: "RSA-SHA1 refused", opts: []samltest.ResponseOption{samltest.WithSignatureMethod(dsig.RSASHA1SignatureMethod)}, want: saml.ErrSignature, element: "SignatureMethod"},
		{name: "RSA-SHA1 refused on response", opts: []samltest.ResponseOption{samltest.WithSignatureMethod(dsig.RSASHA1SignatureMethod), samltest.WithSigning(samltest.SignResponse)}, want: saml.ErrSignature, element: "Response/Signature/SignedInfo/SignatureMethod"},
		{name: "RSA-SHA1 with InsecureAllowSHA1", opts: []samltest.ResponseOption{samltest.WithSignatureMethod(dsig.RSASHA1SignatureMethod)}, cfg: func(c *saml.Config) { c.InsecureAllowSHA1 = true }},
		{name: "signed by a key not in metadata", opts: []samltest.ResponseOption{samltest.WithForeignKey()}, want: saml.ErrSignature, element: "not one of the IdP's signing certificates"},
		{name: "response signed by a key not in metadata", opts: []samltest.ResponseOption{samltest.WithForeignKey(), samltest.WithSigning(samltest.SignResponse)}, want: saml.ErrSignature, element: "Response/Signature"},
		{name: "KeyInfo certificate differs from the trusted one", response: func(t *testing.T, idp *samltest.IdP) string {
			_, foreign := samltest.ForeignKey()
			return idp.Response(samltest.WithInResponseTo(reqID), samltest.WithKeyInfoCertificate(foreign))
		}, want: saml.ErrSignature, element: "KeyInfo"},
		{name: "foreign key presenting the trusted certificate", response: func(t *testing.T, idp *samltest.IdP) string {
			return idp.Response(samltest.WithInResponseTo(reqID), samltest.WithForeignKey(), samltest.WithKeyInfoCertificate(idp.Certificate()))
		}, want: saml.ErrSignature, element: "does not verify"},
		{name: "NameID changed after signing", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) {
			r.FindElement("//NameID").SetText("admin@example.com")
		})}, want: saml.ErrSignature},
		{name: "attribute added after response signing", opts: []samltest.ResponseOption{samltest.WithSigning(samltest.SignResponse), samltest.WithTamper(func(r *etree.Element) {
			r.FindElement("//AttributeStatement").CreateElement("saml:Attribute").CreateAttr("Name", "role")
		})}, want: saml.ErrSignature},
		{name: "reference to another ID", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) {
			r.FindElement("//Reference").CreateAttr("URI", "#other")
		})}, want: saml.ErrSignature, element: "Reference@URI"},
		{name: "reference to the whole document", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) {
			r.FindElement("//Reference").CreateAttr("URI", "")
		})}, want: saml.ErrSignature, element: "Reference@URI"},
		{name: "EncryptedAssertion beside the signed Assertion", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) {
			r.CreateElement("saml:EncryptedAssertion").CreateElement("xenc:EncryptedData").CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
		})}, want: saml.ErrSignature, element: "signature wrapping"},
		{name: "two Signatures on the Response", opts: []samltest.ResponseOption{samltest.WithSigning(samltest.SignResponse), samltest.WithTamper(func(r *etree.Element) {
			r.InsertChildAt(1, r.SelectElement("Signature").Copy())
		})}, want: saml.ErrSignature, element: "Response/Signature"},

		{name: "Response Issuer", opts: []samltest.ResponseOption{samltest.WithIssuer("https://evil.example/idp")}, want: saml.ErrIssuer, element: "Response/Issuer"},
		{name: "Assertion Issuer", opts: []samltest.ResponseOption{samltest.WithAssertionIssuer("https://evil.example/idp")}, want: saml.ErrIssuer, element: "Response/Assertion/Issuer"},
		{name: "Response Issuer Format not entity", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) {
			r.SelectElement("Issuer").CreateAttr("Format", saml.NameIDFormatEmailAddress)
		})}, want: saml.ErrIssuer, element: "Response/Issuer@Format"},
		{name: "valid, Response Issuer Format entity", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) {
			r.SelectElement("Issuer").CreateAttr("Format", saml.NameIDFormatEntity)
		})}},
		{name: "Destination", opts: []samltest.ResponseOption{samltest.WithDestination("https://evil.example/acs")}, want: saml.ErrDestination, element: "Response@Destination"},
		{name: "Destination missing on a signed response", opts: []samltest.ResponseOption{samltest.WithoutDestination(), samltest.WithSigning(samltest.SignResponse)}, want: saml.ErrDestination, element: "missing on a signed Response"},
		{name: "Recipient", opts: []samltest.ResponseOption{samltest.WithRecipient("https://evil.example/acs")}, want: saml.ErrRecipient, element: "SubjectConfirmationData@Recipient"},
		{name: "Recipient missing", opts: []samltest.ResponseOption{samltest.WithRecipient("")}, want: saml.ErrRecipient},
		{name: "Audience", opts: []samltest.ResponseOption{samltest.WithAudience("https://other.example")}, want: saml.ErrAudience, element: "Audience"},
		{name: "no AudienceRestriction", opts: []samltest.ResponseOption{samltest.WithAudience()}, want: saml.ErrAudience, element: "AudienceRestriction"},

		{name: "expired", opts: []samltest.ResponseOption{samltest.At(now.Add(-10 * time.Minute))}, want: saml.ErrExpired, element: "NotOnOrAfter"},
		{name: "expired only in SubjectConfirmationData", opts: []samltest.ResponseOption{samltest.WithSubjectConfirmationNotOnOrAfter(now.Add(-4 * time.Minute))}, want: saml.ErrExpired, element: "SubjectConfirmationData@NotOnOrAfter"},
		{name: "expired only in Conditions", opts: []samltest.ResponseOption{samltest.WithValidity(now.Add(-time.Hour), now.Add(-4*time.Minute)), samltest.WithSubjectConfirmationNotOnOrAfter(now.Add(time.Minute))}, want: saml.ErrExpired, element: "Conditions@NotOnOrAfter"},
		{name: "session ended", opts: []samltest.ResponseOption{samltest.WithSessionNotOnOrAfter(now.Add(-4 * time.Minute))}, want: saml.ErrExpired, element: "SessionNotOnOrAfter"},
		{name: "expired within clock skew", opts: []samltest.ResponseOption{samltest.At(now.Add(-7 * time.Minute))}},
		{name: "expired 2m59s ago: within the default 3m skew", opts: []samltest.ResponseOption{samltest.At(now.Add(-7*time.Minute - 59*time.Second))}},
		{name: "expired 3m ago: beyond the default 3m skew", opts: []samltest.ResponseOption{samltest.At(now.Add(-8 * time.Minute))}, want: saml.ErrExpired},
		{name: "valid 3m from now: not yet valid", opts: []samltest.ResponseOption{samltest.WithValidity(now.Add(3*time.Minute+time.Second), now.Add(10*time.Minute))}, want: saml.ErrNotYetValid},
		{name: "valid 3m from now: within the default skew", opts: []samltest.ResponseOption{samltest.WithValidity(now.Add(3*time.Minute), now.Add(10*time.Minute))}},
		{name: "expired beyond a smaller clock skew", opts: []samltest.ResponseOption{samltest.At(now.Add(-7 * time.Minute))}, cfg: func(c *saml.Config) { c.ClockSkew = time.Minute }, want: saml.ErrExpired},
		{name: "not yet valid", opts: []samltest.ResponseOption{samltest.At(now.Add(10 * time.Minute))}, want: saml.ErrNotYetValid, element: "Conditions@NotBefore"},
		{name: "not yet valid within clock skew", opts: []samltest.ResponseOption{samltest.At(now.Add(2 * time.Minute))}},

		{name: "status Responder", opts: []samltest.ResponseOption{samltest.WithStatus("urn:oasis:names:tc:SAML:2.0:status:Responder", "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", "wrong password")}, want: saml.ErrStatus, element: "AuthnFailed: wrong password"},

		{name: "InResponseTo another request", ids: []string{"id-other"}, want: saml.ErrInResponseTo, element: "not an outstanding request ID"},
		{name: "InResponseTo without request IDs", noIDs: true, want: saml.ErrInResponseTo, element: "no outstanding request IDs"},
		{name: "unsolicited", response: func(t *testing.T, idp *samltest.IdP) string { return idp.Response() }, want: saml.ErrUnsolicited, element: "AllowIdPInitiated"},
		{name: "unsolicited with request IDs", response: func(t *testing.T, idp *samltest.IdP) string { return idp.Response() }, want: saml.ErrUnsolicited},
		{name: "unsolicited allowed", response: func(t *testing.T, idp *samltest.IdP) string { return idp.Response() }, noIDs: true, cfg: func(c *saml.Config) { c.AllowIdPInitiated = true }, check: func(t *testing.T, a *saml.Assertion) {
			assert.Empty(t, a.InResponseTo)
		}},
		{name: "unsolicited assertion made solicited in the unsigned Response", response: func(t *testing.T, idp *samltest.IdP) string {
			return idp.Response(samltest.WithTamper(func(r *etree.Element) { r.CreateAttr("InResponseTo", reqID) }))
		}, want: saml.ErrInResponseTo, element: "Response@InResponseTo"},
		{name: "InResponseTo changed in the unsigned Response", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) { r.CreateAttr("InResponseTo", "id-other") })}, ids: []string{"id-other"}, want: saml.ErrInResponseTo},

		{name: "Version", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) { r.CreateAttr("Version", "1.1") })}, want: saml.ErrMalformed, element: "Response@Version"},
		{name: "not a Response", response: func(t *testing.T, idp *samltest.IdP) string {
			return base64.StdEncoding.EncodeToString([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x"/>`))
		}, want: saml.ErrMalformed},
		{name: "not base64", response: func(t *testing.T, idp *samltest.IdP) string { return "%%%not base64%%%" }, want: saml.ErrMalformed, element: "base64"},
		{name: "empty", response: func(t *testing.T, idp *samltest.IdP) string { return "" }, want: saml.ErrMalformed},
		{name: "not XML", response: func(t *testing.T, idp *samltest.IdP) string {
			return base64.StdEncoding.EncodeToString([]byte("hello, world"))
		}, want: saml.ErrMalformed},
		{name: "truncated XML", response: func(t *testing.T, idp *samltest.IdP) string {
			x := idp.ResponseXML(samltest.WithInResponseTo(reqID))
			return base64.StdEncoding.EncodeToString(x[:len(x)/2])
		}, want: saml.ErrMalformed},
		{name: "oversized", response: func(t *testing.T, idp *samltest.IdP) string {
			x := idp.ResponseXML(samltest.WithInResponseTo(reqID))
			x = append(x, bytes.Repeat([]byte(" "), saml.DefaultMaxResponseBytes)...)
			return base64.StdEncoding.EncodeToString(x)
		}, want: saml.ErrMalformed, element: "limit"},
		{name: "smaller MaxResponseBytes", cfg: func(c *saml.Config) { c.MaxResponseBytes = 1024 }, want: saml.ErrMalformed, element: "limit"},
		{name: "deflate bomb", response: func(t *testing.T, idp *samltest.IdP) string {
			var b bytes.Buffer
			w, _ := flate.NewWriter(&b, flate.BestCompression)
			_, _ = w.Write([]byte("<samlp:Response>"))
			zeros := make([]byte, 1<<20)
			for i := 0; i < 64; i++ { // 64 MiB inflated
				_, _ = w.Write(zeros)
			}
			require.NoError(t, w.Close())
			require.Less(t, b.Len(), 200<<10)
			return base64.StdEncoding.EncodeToString(b.Bytes())
		}, want: saml.ErrMalformed, element: "inflates to more than"},
		{name: "DOCTYPE", response: func(t *testing.T, idp *samltest.IdP) string {
			x := idp.ResponseXML(samltest.WithInResponseTo(reqID))
			return base64.StdEncoding.EncodeToString(append([]byte(`<!DOCTYPE Response>`), x...))
		}, want: saml.ErrMalformed, element: "DOCTYPE"},
		{name: "entity expansion", response: func(t *testing.T, idp *samltest.IdP) string {
			x := string(idp.ResponseXML(samltest.WithInResponseTo(reqID)))
			x = strings.Replace(x, samltest.DefaultNameID, "&lol9;", 1)
			dtd := `<!DOCTYPE r [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol9 "&lol2;&lol2;&lol2;">]>`
			return base64.StdEncoding.EncodeToString([]byte(dtd + x))
		}, want: saml.ErrMalformed, element: "DOCTYPE"},
		{name: "external entity", response: func(t *testing.T, idp *samltest.IdP) string {
			x := string(idp.ResponseXML(samltest.WithInResponseTo(reqID)))
			x = strings.Replace(x, samltest.DefaultNameID, "&xxe;", 1)
			return base64.StdEncoding.EncodeToString([]byte(`<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + x))
		}, want: saml.ErrMalformed},
		{name: "too deep", response: func(t *testing.T, idp *samltest.IdP) string {
			deep := strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200)
			return base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` + deep + `</samlp:Response>`))
		}, want: saml.ErrMalformed},
		{name: "too many tokens", response: func(t *testing.T, idp *samltest.IdP) string {
			many := strings.Repeat("<a/>", saml.DefaultMaxResponseTokens)
			return base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` + many + `</samlp:Response>`))
		}, want: saml.ErrMalformed, element: "tokens"},
		{name: "no Status", opts: []samltest.ResponseOption{samltest.WithSigning(samltest.SignAssertion), samltest.WithTamper(func(r *etree.Element) { r.RemoveChild(r.SelectElement("Status")) })}, want: saml.ErrMalformed, element: "Response/Status"},
		{name: "no assertion", opts: []samltest.ResponseOption{samltest.WithTamper(func(r *etree.Element) { r.RemoveChild(r.SelectElement("Assertion")) })}, want: saml.ErrMalformed, element: "Response/Assertion"},
	})
}

func TestVerifyECDSA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := samltest.NewCertificate(key, "ecdsa idp")
	require.NoError(t, err)
	idp := newTestIdP(t, samltest.WithSigningKey(key, cert))
	sp := newSP(t, idp)
	for _, s := range []samltest.Signing{samltest.SignAssertion, samltest.SignResponse} {
		a, err := sp.Verify(context.Background(), idp.Response(samltest.WithSigning(s), samltest.WithInResponseTo(reqID)), reqID)
		require.NoError(t, err)
		assert.Equal(t, samltest.DefaultNameID, a.NameID)
	}
	_, err = sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo(reqID), samltest.WithSignatureMethod(dsig.ECDSASHA1SignatureMethod)), reqID)
	requireOnly(t, err, saml.ErrSignature)
}

func TestVerifyStatusError(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	_, err := sp.Verify(context.Background(), idp.Response(samltest.WithStatus("urn:oasis:names:tc:SAML:2.0:status:Requester", "urn:oasis:names:tc:SAML:2.0:status:RequestDenied", "  denied by policy ")), reqID)
	var se *saml.StatusError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "urn:oasis:names:tc:SAML:2.0:status:Requester", se.Code)
	assert.Equal(t, "urn:oasis:names:tc:SAML:2.0:status:RequestDenied", se.SubCode)
	assert.Equal(t, "denied by policy", se.Message)
}

func TestVerifyReplay(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	resp := idp.Response(samltest.WithInResponseTo(reqID))
	_, err := sp.Verify(context.Background(), resp, reqID)
	require.NoError(t, err)
	_, err = sp.Verify(context.Background(), resp, reqID)
	requireOnly(t, err, saml.ErrReplay)

	// The same assertion re-wrapped in a new response is still a replay.
	resp2 := idp.Response(samltest.WithInResponseTo(reqID), samltest.WithSigning(samltest.SignResponse))
	_, err = sp.Verify(context.Background(), resp2, reqID)
	require.NoError(t, err)

	// A refused response does not burn its ID.
	idp2 := newTestIdP(t)
	sp2 := newSP(t, idp2)
	resp3 := idp2.Response(samltest.WithInResponseTo(reqID), samltest.WithAssertionID("_fixed-id"))
	_, err = sp2.Verify(context.Background(), resp3, "id-other")
	requireOnly(t, err, saml.ErrInResponseTo)
	_, err = sp2.Verify(context.Background(), resp3, reqID)
	require.NoError(t, err)
	resp4 := idp2.Response(samltest.WithInResponseTo(reqID), samltest.WithAssertionID("_fixed-id"))
	_, err = sp2.Verify(context.Background(), resp4, reqID)
	requireOnly(t, err, saml.ErrReplay)
}

func TestVerifySharedReplayCache(t *testing.T) {
	idp := newTestIdP(t)
	cache := saml.NewMemoryReplayCache(10, saml.WithReplayClock(fixedClock))
	sp1 := newSP(t, idp, func(c *saml.Config) { c.ReplayCache = cache })
	sp2 := newSP(t, idp, func(c *saml.Config) { c.ReplayCache = cache })
	resp := idp.Response(samltest.WithInResponseTo(reqID))
	_, err := sp1.Verify(context.Background(), resp, reqID)
	require.NoError(t, err)
	_, err = sp2.Verify(context.Background(), resp, reqID)
	requireOnly(t, err, saml.ErrReplay)
}

func TestVerifyContextCanceled(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sp.Verify(ctx, idp.Response(samltest.WithInResponseTo(reqID)), reqID)
	require.ErrorIs(t, err, context.Canceled)
}

func TestVerifyCommentInNameID(t *testing.T) {
	const full = "user@evil.example.corp.example"
	idp := newTestIdP(t)
	for _, s := range []samltest.Signing{samltest.SignAssertion, samltest.SignResponse, samltest.SignBoth} {
		sp := newSP(t, idp)
		resp := idp.Response(samltest.WithSigning(s), samltest.WithInResponseTo(reqID), samltest.WithNameID(full),
			samltest.WithNameIDComment(len("user@evil.example")))
		raw, err := base64.StdEncoding.DecodeString(resp)
		require.NoError(t, err)
		require.Contains(t, string(raw), "user@evil.example<!---->.corp.example")
		a, err := sp.Verify(context.Background(), resp, reqID)
		require.NoError(t, err)
		assert.Equal(t, full, a.NameID, "never truncated at the comment")
	}
}

// With a canonicalization that keeps comments, a comment inside the NameID
// is signed and survives verification: the value is refused rather than
// read around the comment.
func TestVerifySignedCommentInNameIDRefused(t *testing.T) {
	const full = "user@evil.example.corp.example"
	idp := newTestIdP(t)
	for _, s := range []samltest.Signing{samltest.SignAssertion, samltest.SignResponse} {
		sp := newSP(t, idp)
		resp := idp.Response(samltest.WithSigning(s), samltest.WithInResponseTo(reqID), samltest.WithNameID(full),
			samltest.WithNameIDComment(len("user@evil.example")), samltest.WithSignedComments())
		_, err := sp.Verify(context.Background(), resp, reqID)
		requireOnly(t, err, saml.ErrMalformed)
		assert.Contains(t, err.Error(), "NameID: contains an XML comment")

		// Without the comment, the same canonicalization is accepted.
		a, err := sp.Verify(context.Background(), idp.Response(samltest.WithSigning(s), samltest.WithInResponseTo(reqID),
			samltest.WithNameID(full), samltest.WithSignedComments()), reqID)
		require.NoError(t, err)
		assert.Equal(t, full, a.NameID)
	}
}

func TestVerifyDuplicateIDs(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	for name, opts := range map[string][]samltest.ResponseOption{
		"Response and Assertion share an ID": {samltest.WithAssertionID("_same"), samltest.WithResponseID("_same")},
		"another element carries the assertion ID": {samltest.WithAssertionID("_a"), samltest.WithTamper(func(r *etree.Element) {
			ext := etree.NewElement("samlp:Extensions")
			ext.CreateAttr("ID", "_a")
			r.InsertChildAt(1, ext)
		})},
		"two ID attributes on the assertion": {samltest.WithTamper(func(r *etree.Element) {
			r.SelectElement("Assertion").CreateAttr("x:ID", "_other")
			r.SelectElement("Assertion").CreateAttr("xmlns:x", "urn:x")
		})},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sp.Verify(context.Background(), idp.Response(append([]samltest.ResponseOption{samltest.WithInResponseTo(reqID)}, opts...)...), reqID)
			requireOnly(t, err, saml.ErrSignature)
			assert.Contains(t, err.Error(), "duplicate ID")
		})
	}
}

func TestVerifyNestedResponseRefused(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	resp := idp.Response(samltest.WithInResponseTo(reqID), samltest.WithTamper(func(r *etree.Element) {
		ext := etree.NewElement("samlp:Extensions")
		ext.CreateElement("samlp:Response").CreateAttr("ID", "_inner")
		r.InsertChildAt(1, ext)
	}))
	_, err := sp.Verify(context.Background(), resp, reqID)
	requireOnly(t, err, saml.ErrSignature)
	assert.Contains(t, err.Error(), "nested")
}

func TestVerifyMultipleIdPCertificates(t *testing.T) {
	idp := newTestIdP(t)
	_, foreign := samltest.ForeignKey()
	sp := newSP(t, idp, func(c *saml.Config) {
		c.IdP.SigningCerts = []*x509.Certificate{foreign, idp.Certificate()}
	})
	_, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo(reqID)), reqID)
	require.NoError(t, err)
}

func TestVerifyEncryptedAssertion(t *testing.T) {
	key, cert := spKeyPair(t)
	idp := newTestIdP(t)
	for _, s := range []samltest.Signing{samltest.SignAssertion, samltest.SignResponse, samltest.SignBoth} {
		sp := newSP(t, idp, func(c *saml.Config) { c.EncryptionKey, c.EncryptionCert = key, cert })
		resp := idp.Response(samltest.WithSigning(s), samltest.WithInResponseTo(reqID), samltest.WithEncryption(cert))
		raw, err := base64.StdEncoding.DecodeString(resp)
		require.NoError(t, err)
		require.Contains(t, string(raw), "EncryptedAssertion")
		require.NotContains(t, string(raw), samltest.DefaultNameID, "the assertion travels encrypted")
		a, err := sp.Verify(context.Background(), resp, reqID)
		require.NoError(t, err)
		assert.Equal(t, samltest.DefaultNameID, a.NameID)
	}

	// The signing key decrypts when no separate encryption key is set.
	sp := newSP(t, idp, func(c *saml.Config) { c.SigningKey, c.SigningCert = key, cert })
	_, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo(reqID), samltest.WithEncryption(cert)), reqID)
	require.NoError(t, err)

	// No key, another key, or an unsigned encrypted assertion: refused.
	_, other := spKeyPair(t)
	otherKey, _ := spKeyPair(t)
	cases := []struct {
		name string
		cfg  func(*saml.Config)
		opts []samltest.ResponseOption
		want error
	}{
		{"no SP key", nil, nil, saml.ErrMalformed},
		{"wrong SP key", func(c *saml.Config) { c.EncryptionKey = otherKey }, nil, saml.ErrMalformed},
		{"encrypted for someone else", func(c *saml.Config) { c.EncryptionKey, c.EncryptionCert = key, cert }, []samltest.ResponseOption{samltest.WithEncryption(other)}, saml.ErrMalformed},
		{"unsigned", func(c *saml.Config) { c.EncryptionKey, c.EncryptionCert = key, cert }, []samltest.ResponseOption{samltest.WithSigning(samltest.SignNone)}, saml.ErrSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := newSP(t, idp, func(c *saml.Config) {
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			opts := append([]samltest.ResponseOption{samltest.WithInResponseTo(reqID), samltest.WithEncryption(cert)}, tc.opts...)
			_, err := sp.Verify(context.Background(), idp.Response(opts...), reqID)
			requireOnly(t, err, tc.want)
		})
	}
}

func TestVerifyKeyInfoVariants(t *testing.T) {
	idp := newTestIdP(t)
	_, foreign := samltest.ForeignKey()
	// Two trusted certificates (a rollover), so that a signature without a
	// certificate in KeyInfo has to be tried against each.
	sp := newSP(t, idp, func(c *saml.Config) { c.IdP.SigningCerts = []*x509.Certificate{foreign, idp.Certificate()} })
	for name, tc := range map[string]struct {
		tamper func(*etree.Element)
		want   error
	}{
		"no KeyInfo": {func(r *etree.Element) {
			sig := r.FindElement("./Assertion/Signature")
			sig.RemoveChild(sig.SelectElement("KeyInfo"))
		}, nil},
		"KeyName only": {func(r *etree.Element) {
			ki := r.FindElement("./Assertion/Signature/KeyInfo")
			ki.RemoveChild(ki.SelectElement("X509Data"))
			ki.CreateElement("ds:KeyName").SetText("idp")
		}, nil},
		"certificate split over lines": {func(r *etree.Element) {
			c := r.FindElement(".//X509Certificate")
			text := c.Text()
			c.SetText(text[:64] + "\n" + text[64:128] + "\r\n  " + text[128:])
		}, nil},
		"two KeyInfo": {func(r *etree.Element) {
			sig := r.FindElement("./Assertion/Signature")
			sig.AddChild(sig.SelectElement("KeyInfo").Copy())
		}, saml.ErrSignature},
		"certificate not base64": {func(r *etree.Element) {
			r.FindElement(".//X509Certificate").SetText("!!!")
		}, saml.ErrSignature},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo(reqID), samltest.WithTamper(tc.tamper)), reqID)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				requireOnly(t, err, tc.want)
			}
		})
	}
}
