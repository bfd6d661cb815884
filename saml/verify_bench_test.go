package saml_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// noReplay is a ReplayCache that remembers nothing, so that a benchmark
// can verify the same response b.N times. Never use it outside tests.
type noReplay struct{}

func (noReplay) Seen(context.Context, string, time.Time) (bool, error) { return false, nil }

// benchAttributes are ten attributes of a typical enterprise IdP; the
// signed response is about 4 KB.
func benchAttributes() map[string][]string {
	return map[string][]string{
		"email":       {"alice@example.com"},
		"firstName":   {"Alice"},
		"lastName":    {"Example"},
		"displayName": {"Alice Example"},
		"department":  {"Engineering"},
		"title":       {"Staff Engineer"},
		"employeeID":  {"E-104729"},
		"objectGUID":  {"1c9d3c7e-6d0a-4a8e-9d6e-0a8f5f7d2b11"},
		"upn":         {"alice@corp.example.com"},
		"groups":      {"staff", "admins"},
	}
}

type benchCase struct {
	name    string
	signing samltest.Signing
}

var benchCases = []benchCase{
	{"assertion-signed", samltest.SignAssertion},
	{"response-signed", samltest.SignResponse},
}

func benchResponse(b *testing.B, idp *samltest.IdP, s samltest.Signing) string {
	return idp.Response(samltest.WithSigning(s), samltest.WithAttributes(benchAttributes()), samltest.WithInResponseTo("id-bench"))
}

// BenchmarkVerify measures (*ServiceProvider).Verify on an RSA-2048
// SHA-256 signed response with ten attributes.
func BenchmarkVerify(b *testing.B) {
	idp := samltest.NewIdP(b)
	for _, bc := range benchCases {
		resp := benchResponse(b, idp, bc.signing)
		sp := newSP(b, idp, func(c *saml.Config) { c.ReplayCache = noReplay{} })
		ctx := context.Background()
		_, err := sp.Verify(ctx, resp, "id-bench")
		require.NoError(b, err)
		raw, _ := base64.StdEncoding.DecodeString(resp)
		b.Run(fmt.Sprintf("%s/%dB", bc.name, len(raw)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sp.Verify(ctx, resp, "id-bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// roundCache hands Seen to a MemoryReplayCache that is replaced after each
// round of a benchmark, so that the same responses can be verified again.
type roundCache struct{ c *saml.MemoryReplayCache }

func (r *roundCache) Seen(ctx context.Context, id string, until time.Time) (bool, error) {
	return r.c.Seen(ctx, id, until)
}

// BenchmarkVerifyWithReplayCache is BenchmarkVerify (assertion-signed)
// with the default in-memory replay cache at work: 256 distinct responses
// are verified in turn, each remembered, with a fresh cache every round.
func BenchmarkVerifyWithReplayCache(b *testing.B) {
	idp := samltest.NewIdP(b)
	rc := &roundCache{}
	sp := newSP(b, idp, func(c *saml.Config) { c.ReplayCache = rc })
	resps := make([]string, 256)
	for i := range resps {
		resps[i] = benchResponse(b, idp, samltest.SignAssertion)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(resps) == 0 {
			rc.c = saml.NewMemoryReplayCache(0)
		}
		if _, err := sp.Verify(ctx, resps[i%len(resps)], "id-bench"); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGosaml2RetrieveAssertionInfo measures gosaml2 called directly on
// the same responses, for comparison.
func BenchmarkGosaml2RetrieveAssertionInfo(b *testing.B) {
	idp := samltest.NewIdP(b)
	for _, bc := range benchCases {
		resp := benchResponse(b, idp, bc.signing)
		sp := gosaml2SP(idp)
		_, err := sp.RetrieveAssertionInfo(resp)
		require.NoError(b, err)
		raw, _ := base64.StdEncoding.DecodeString(resp)
		b.Run(fmt.Sprintf("%s/%dB", bc.name, len(raw)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sp.RetrieveAssertionInfo(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func gosaml2SP(idp *samltest.IdP) *saml2.SAMLServiceProvider {
	return &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:      idp.SSOURL(),
		IdentityProviderIssuer:      idp.EntityID(),
		AssertionConsumerServiceURL: samltest.DefaultACSURL,
		ServiceProviderIssuer:       samltest.DefaultSPEntityID,
		AudienceURI:                 samltest.DefaultSPEntityID,
		IDPCertificateStore:         &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{idp.Certificate()}},
		AllowMissingAttributes:      true,
	}
}
