package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/saml"
)

// metadataParser parses one document and returns the entity ID of the
// IdP it picked.
type metadataParser struct {
	name  string
	parse func(data []byte, entityID string) (string, error)
}

var metadataParsers = []metadataParser{
	{"gatehouse", func(data []byte, entityID string) (string, error) {
		opts := []saml.MetadataOption{saml.WithNow(now), saml.WithMaxBytes(256 << 20), saml.WithMaxTokens(64 << 20)}
		if entityID != "" {
			opts = append(opts, saml.WithEntityID(entityID))
		}
		md, err := saml.ParseMetadata(data, opts...)
		if err != nil {
			return "", err
		}
		if len(md.SSO) == 0 || len(md.SigningCerts) == 0 {
			return "", fmt.Errorf("gatehouse: %d SSO endpoints, %d signing certificates", len(md.SSO), len(md.SigningCerts))
		}
		return md.EntityID, nil
	}},
	{"crewjam", CrewjamPick},
}

// BenchmarkMetadata parses the Entra ID federation metadata document and
// a 20,000-entity aggregate picking one entity, with gatehouse's
// saml.ParseMetadata and with crewjam/saml's metadata types.
// peak-heap/file is the highest heap growth during one parse divided by
// the document size (see [PeakHeapGrowth]).
func BenchmarkMetadata(b *testing.B) {
	entra, err := os.ReadFile(filepath.Join("..", "saml", "testdata", "metadata", "entra-id.xml"))
	if err != nil {
		b.Fatal(err)
	}
	agg, err := Aggregate(20000)
	if err != nil {
		b.Fatal(err)
	}
	docs := []struct {
		name, pick, want string
		data             []byte
	}{
		{"entra-id", "", "https://sts.windows.net/6b2f6c4e-1d9a-4c8b-9f0e-3a7d5c2b1e90/", entra},
		{"aggregate-20000", AggregateEntityID(13333), AggregateEntityID(13333), agg},
	}
	for _, d := range docs {
		for _, p := range metadataParsers {
			got, err := p.parse(d.data, d.pick)
			if err != nil || got != d.want {
				b.Fatalf("%s on %s: got %q, %v", p.name, d.name, got, err)
			}
			b.Run(fmt.Sprintf("doc=%s/size=%dKB/impl=%s", d.name, len(d.data)>>10, p.name), func(b *testing.B) {
				peak := PeakHeapGrowth(200*time.Microsecond, func() { _, _ = p.parse(d.data, d.pick) })
				b.SetBytes(int64(len(d.data)))
				b.ReportAllocs()
				b.ResetTimer()
				cpu := CPUTime()
				for b.Loop() {
					if _, err := p.parse(d.data, d.pick); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(peak)/float64(len(d.data)), "peak-heap/file")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			})
		}
	}
}
