package saml

import (
	"crypto/rsa"
	"crypto/x509"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkParseMetadata measures ParseMetadata on the Entra ID document
// and on generated federation aggregates, picking one entity by ID.
//
//	go test -run '^$' -bench BenchmarkParseMetadata -benchmem ./saml
//
// The aggregate cases also report peak-heap/file: the highest heap growth
// seen while parsing once, divided by the size of the document. Only the
// picked EntityDescriptor is read again (as a tree only when it must be
// verified), and a signed aggregate is verified child by child, so it
// stays well under 4x even for 20,000 entities (below a few MiB the
// runtime's minimum heap target dominates the ratio).
func BenchmarkParseMetadata(b *testing.B) {
	now := WithNow(func() time.Time { return mdNow })
	entra := mdFixture(b, "entra-id.xml")
	signer := mdPEMCert(b, "entra-id-signing.pem")
	b.Run("entra-id", func(b *testing.B) {
		benchParse(b, entra, false, now)
	})
	b.Run("entra-id-signed", func(b *testing.B) {
		benchParse(b, entra, false, now, WithMetadataSigner(signer))
	})

	_, idpCert := mdNewCert(b, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	big := []MetadataOption{now, WithMaxBytes(128 << 20), WithMaxTokens(8 << 20)}
	for _, n := range []int{2000, 20000} {
		// The documents are made on first use, so only the selected
		// sub-benchmarks pay for generating and signing them, once.
		var (
			agg, signed []byte
			opts        []MetadataOption
			fedSigner   *x509.Certificate
		)
		aggregate := func(b *testing.B) {
			if agg == nil {
				var ids []string
				agg, ids = buildAggregate(b, n, idpCert)
				opts = append(append([]MetadataOption(nil), big...), WithEntityID(ids[n*2/3]))
			}
		}
		b.Run("aggregate-"+strconv.Itoa(n), func(b *testing.B) {
			aggregate(b)
			benchParse(b, agg, true, opts...)
		})
		b.Run("aggregate-"+strconv.Itoa(n)+"-signed", func(b *testing.B) {
			aggregate(b)
			if signed == nil {
				var key *rsa.PrivateKey
				key, fedSigner = mdNewCert(b, "federation", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
				signed = mdSignDocument(b, agg, key, fedSigner, "ds", true)
			}
			benchParse(b, signed, true, append(opts, WithMetadataSigner(fedSigner))...)
		})
	}
}

func benchParse(b *testing.B, data []byte, peak bool, opts ...MetadataOption) {
	b.Helper()
	if _, err := ParseMetadata(data, opts...); err != nil {
		b.Fatal(err)
	}
	var growth float64
	if peak {
		growth = peakHeapGrowth(func() { _, _ = ParseMetadata(data, opts...) })
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ParseMetadata(data, opts...); err != nil {
			b.Fatal(err)
		}
	}
	if peak {
		b.ReportMetric(growth/float64(len(data)), "peak-heap/file")
		b.ReportMetric(float64(len(data))/(1<<20), "file-MiB")
	}
}

// peakHeapGrowth runs f once and returns the largest growth of the live
// heap seen while it ran, sampled every half millisecond.
func peakHeapGrowth(f func()) float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s runtime.MemStats
		t := time.NewTicker(500 * time.Microsecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&s)
			if s.HeapAlloc > max.Load() {
				max.Store(s.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > max.Load() {
		max.Store(ms.HeapAlloc)
	}
	if max.Load() < base {
		return 0
	}
	return float64(max.Load() - base)
}
