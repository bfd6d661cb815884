package ldapsync

import (
	"context"
	"fmt"
	"testing"
)

// syntheticChanges is an incremental read naming n changed users of a
// syntheticRead directory (a new display name each round), as a content
// sync or DirSync read returns them.
func syntheticChanges(full *readResult, round, n int) *readResult {
	res := &readResult{records: map[string]*Record{}, watermark: Watermark{Source: "usn", USN: int64(round + 1)}}
	users := len(full.records) * 100 / 101
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", (round*n+i*7919)%users)
		c := *full.records[id]
		c.DisplayName = fmt.Sprintf("U round %d", round)
		res.records[id] = &c
	}
	return res
}

// BenchmarkRun measures whole runs (plan, target writes, state save)
// without a directory: a full run of n users, and an incremental run
// naming 10 changed users after it.
func BenchmarkRun(b *testing.B) {
	const n = 100000
	ctx := context.Background()
	full := syntheticRead(n)
	newSyncer := func(b *testing.B, store StateStore) *Syncer {
		s, err := NewSyncer(Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 5}, NewMemoryTarget(), store)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	run := func(b *testing.B, s *Syncer, res *readResult) *Report {
		s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
			return res, "synthetic", nil
		}
		rep, err := s.Run(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return rep
	}
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rep := run(b, newSyncer(b, NewMemoryStore()), full)
			if len(rep.Added) != n+n/100 {
				b.Fatalf("added %d", len(rep.Added))
			}
		}
	})
	for _, st := range []struct {
		name  string
		store func(b *testing.B) StateStore
	}{
		{"memory", func(*testing.B) StateStore { return NewMemoryStore() }},
		{"file", func(b *testing.B) StateStore { return NewFileStore(b.TempDir() + "/state") }},
	} {
		b.Run("restart-10-changes/"+st.name, func(b *testing.B) {
			// A new Syncer on a store holding the state: decoded, planned
			// in full, saved copying the records of unchanged objects.
			store := st.store(b)
			run(b, newSyncer(b, store), full)
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				round++
				rep := run(b, newSyncer(b, store), syntheticChanges(full, round, 10))
				if len(rep.Updated) != 10 {
					b.Fatalf("%s run updated %d", rep.Mode, len(rep.Updated))
				}
			}
		})
		b.Run("incremental-10-changes/"+st.name, func(b *testing.B) {
			s := newSyncer(b, st.store(b))
			run(b, s, full)
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				round++
				rep := run(b, s, syntheticChanges(full, round, 10))
				if len(rep.Updated) != 10 || rep.Mode != SyncIncremental {
					b.Fatalf("%s run updated %d", rep.Mode, len(rep.Updated))
				}
			}
		})
	}
}

// BenchmarkComputeFull measures the whole pass over a full read of
// 100,000 users in 1,000 groups into an empty target.
func BenchmarkComputeFull(b *testing.B) {
	full := syntheticRead(100000)
	cfg := Config{MaxSyncDeletions: 5}
	b.ReportAllocs()
	for b.Loop() {
		out := compute(cfg, State{}, full, map[string]User{})
		if len(out.changes) != 101000 {
			b.Fatalf("%d changes", len(out.changes))
		}
	}
}

// BenchmarkPlanChanges measures planning an incremental read naming 10
// changed users over the objects they affect, at 100,000 users.
func BenchmarkPlanChanges(b *testing.B) {
	full := syntheticRead(100000)
	cfg := Config{MaxSyncDeletions: 5}
	st := compute(cfg, State{}, full, map[string]User{}).next
	_, enc, err := encodeStateReusing(st, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	base := &savedState{wm: st.Watermark, enc: enc, idx: buildIndex(cfg, st)}
	res := syntheticChanges(full, 1, 10)
	b.ReportAllocs()
	for b.Loop() {
		base.objs = nil // decoded again by every run
		out := computeIncremental(cfg, State{Version: StateVersion, Watermark: st.Watermark}, base, res, nil)
		if out == nil || len(out.changes) != 10 {
			b.Fatal("not planned incrementally")
		}
	}
}
