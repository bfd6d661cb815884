package ldapsync

import (
	"context"
	"runtime"
	"testing"
)

// BenchmarkRetained reports what a Syncer keeps between runs at 100,000
// users beyond its target and its store: where the records of the saved
// state lie in the store's encoding (no decoded record), and the index
// for incremental plans.
func BenchmarkRetained(b *testing.B) {
	const n = 100000
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for b.Loop() {
		store := NewMemoryStore()
		s, err := NewSyncer(Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 5}, NewMemoryTarget(), store)
		if err != nil {
			b.Fatal(err)
		}
		full := syntheticRead(n)
		for round := range 2 {
			res := full
			if round > 0 {
				res = syntheticChanges(full, round, 10)
				full = nil // the records live on in the state only
			}
			s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) { return res, "h", nil }
			if _, err := s.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		objects := float64(len(s.saved.enc.spans))
		with := heap()
		s.saved.idx = nil
		noIdx := heap()
		s.saved.enc = nil
		noEnc := heap()
		s.saved = nil
		without := heap()
		b.ReportMetric(float64(with-without)/objects, "cache-B/object")
		b.ReportMetric(float64(with-noIdx)/objects, "index-B/object")
		b.ReportMetric(float64(noIdx-noEnc)/objects, "spans-B/object")
		b.ReportMetric(float64(len(store.state))/objects, "store-B/object")
		runtime.KeepAlive(s)
	}
}
