package bench

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/url"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// clock is the fixed time of every benchmark: responses are issued at it
// and every verifier reads it, so a long run never crosses NotOnOrAfter.
var clock = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func now() time.Time { return clock }

const requestID = "id-bench-request"

// noReplay remembers nothing, so that one response can be verified b.N
// times. gosaml2 and crewjam/saml keep no replay cache either, so every
// verifier does the same work.
type noReplay struct{}

func (noReplay) Seen(context.Context, string, time.Time) (bool, error) { return false, nil }

// attributes are ten attributes of a typical enterprise IdP (Entra ID
// style); with them the signed response is about 4 KB.
func attributes() map[string][]string {
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

// verifier is one library's way of accepting a base64 SAMLResponse as
// posted to the ACS.
type verifier struct {
	name   string
	verify func(encoded string) error
}

func gatehouseVerifier(tb testing.TB, idp *samltest.IdP) verifier {
	cfg := idp.SPConfig()
	cfg.Now = now
	cfg.ReplayCache = noReplay{}
	sp, err := saml.NewServiceProvider(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	return verifier{"gatehouse", func(encoded string) error {
		a, err := sp.Verify(ctx, encoded, requestID)
		if err == nil && len(a.Attributes) != 10 {
			err = fmt.Errorf("gatehouse: %d attributes", len(a.Attributes))
		}
		return err
	}}
}

func gosaml2Verifier(idp *samltest.IdP) verifier {
	sp := &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:      idp.SSOURL(),
		IdentityProviderIssuer:      idp.EntityID(),
		AssertionConsumerServiceURL: samltest.DefaultACSURL,
		ServiceProviderIssuer:       samltest.DefaultSPEntityID,
		AudienceURI:                 samltest.DefaultSPEntityID,
		IDPCertificateStore:         &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{idp.Certificate()}},
		Clock:                       dsig.NewFakeClockAt(clock),
	}
	return verifier{"gosaml2", func(encoded string) error {
		info, err := sp.RetrieveAssertionInfo(encoded)
		if err != nil {
			return err
		}
		if info.WarningInfo.InvalidTime || info.WarningInfo.NotInAudience {
			return fmt.Errorf("gosaml2: warnings %+v", *info.WarningInfo)
		}
		if len(info.Values) != 10 {
			return fmt.Errorf("gosaml2: %d attributes", len(info.Values))
		}
		return nil
	}}
}

func crewjamVerifier(tb testing.TB, idp *samltest.IdP) verifier {
	var md crewjam.EntityDescriptor
	if err := xml.Unmarshal(idp.Metadata(), &md); err != nil {
		tb.Fatal(err)
	}
	acs, err := url.Parse(samltest.DefaultACSURL)
	if err != nil {
		tb.Fatal(err)
	}
	meta, err := url.Parse(samltest.DefaultSPEntityID)
	if err != nil {
		tb.Fatal(err)
	}
	crewjam.TimeNow = now
	sp := &crewjam.ServiceProvider{
		EntityID:    samltest.DefaultSPEntityID,
		MetadataURL: *meta,
		AcsURL:      *acs,
		IDPMetadata: &md,
	}
	ids := []string{requestID}
	return verifier{"crewjam", func(encoded string) error {
		raw, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return err
		}
		a, err := sp.ParseXMLResponse(raw, ids, *acs)
		if err != nil {
			if ire, ok := err.(*crewjam.InvalidResponseError); ok {
				return fmt.Errorf("crewjam: %v", ire.PrivateErr)
			}
			return err
		}
		n := 0
		for _, s := range a.AttributeStatements {
			n += len(s.Attributes)
		}
		if n != 10 {
			return fmt.Errorf("crewjam: %d attributes", n)
		}
		return nil
	}}
}

// BenchmarkVerify verifies the same RSA-2048 SHA-256 signed responses
// with gatehouse's (*saml.ServiceProvider).Verify, gosaml2's
// RetrieveAssertionInfo and crewjam/saml's ParseXMLResponse. Every
// verifier starts from the same base64 string and must accept it with its
// ten attributes (checked before timing). cpu-ns/op is the process' CPU
// time (user+system, GC included) per verification and verifs/cpu-s its
// inverse: with -cpu 1 that is verifications per second per core, and,
// unlike ns/op, it does not grow when other processes share the cores.
func BenchmarkVerify(b *testing.B) {
	idp := samltest.NewIdP(b, samltest.WithClock(now))
	verifiers := []verifier{gatehouseVerifier(b, idp), gosaml2Verifier(idp), crewjamVerifier(b, idp)}
	for _, sc := range []struct {
		name    string
		signing samltest.Signing
	}{
		{"assertion-signed", samltest.SignAssertion},
		{"response-signed", samltest.SignResponse},
	} {
		resp := idp.Response(samltest.WithSigning(sc.signing), samltest.WithAttributes(attributes()),
			samltest.WithInResponseTo(requestID))
		raw, _ := base64.StdEncoding.DecodeString(resp)
		size := len(raw)
		for _, v := range verifiers {
			if err := v.verify(resp); err != nil {
				b.Fatalf("%s refuses the %s response: %v", v.name, sc.name, err)
			}
			b.Run(fmt.Sprintf("case=%s/size=%dB/impl=%s", sc.name, size, v.name), func(b *testing.B) {
				b.ReportAllocs()
				cpu := CPUTime()
				for b.Loop() {
					if err := v.verify(resp); err != nil {
						b.Fatal(err)
					}
				}
				cpuPerOp := float64(CPUTime()-cpu) / float64(b.N)
				b.ReportMetric(cpuPerOp, "cpu-ns/op")
				b.ReportMetric(1e9/cpuPerOp, "verifs/cpu-s")
			})
		}
	}
}
