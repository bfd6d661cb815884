package ldapsync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// conflictsOverWholeStates finds the addresses claimed by linked objects of
// more than one integration by looking at every object of every next
// state: what Multi.conflicts must find from the address indexes.
func conflictsOverWholeStates(names []string, cfgs []Config, nexts []State) []AddressConflict {
	claims := map[string][]AddressClaim{}
	for i, next := range nexts {
		for _, id := range sortedKeys(next.Objects) {
			o := next.Objects[id]
			if o.Applied == "" || o.Source == nil {
				continue
			}
			addrs := []string{o.Source.Email}
			if o.AddressHeld { // a group keeping the address it had
				addrs = []string{o.AppliedEmail}
			}
			if o.AppliedKind != KindGroup {
				addrs = append(addrs, o.Source.Aliases...)
			}
			for _, a := range addrs {
				if a != "" && domainAllowed(cfgs[i], a) {
					claims[a] = append(claims[a], AddressClaim{Integration: names[i], ID: id, DN: o.Source.DN})
				}
			}
		}
	}
	var out []AddressConflict
	for _, a := range sortedKeys(claims) {
		c := claims[a]
		seen := map[string]bool{}
		for _, cl := range c {
			seen[cl.Integration] = true
		}
		if len(seen) < 2 {
			continue
		}
		sort.SliceStable(c, func(i, j int) bool { return c[i].Integration < c[j].Integration })
		out = append(out, AddressConflict{Address: a, Claims: c})
	}
	return out
}

// TestMultiConflictsMatchWholeStates: over random directories sharing an
// address pool, rounds planned in full and incrementally, the conflicts
// found from the address indexes are those a look at every object finds.
func TestMultiConflictsMatchWholeStates(t *testing.T) {
	ctx := context.Background()
	found, incremental := 0, 0
	for seed := range uint64(12) {
		r := rand.New(rand.NewPCG(seed, 11))
		n := 2 + int(seed%2)
		m := &Multi{}
		dirs := make([]*randomDirectory, n)
		reads := make([]*readResult, n)
		cfgs := make([]Config, n)
		for i := range n {
			d := &randomDirectory{r: r, recs: map[string]*Record{}, pool: 40, next: i << 20}
			full := &readResult{full: true, records: map[string]*Record{}, watermark: Watermark{Source: "usn", USN: 1}}
			for range 30 + r.IntN(30) {
				id, rec := d.id(), d.user()
				d.uniqueDN(id, rec)
				d.recs[id], full.records[id] = rec, rec
			}
			for range 2 + r.IntN(4) {
				id, rec := d.id(), d.group()
				d.uniqueDN(id, rec)
				d.recs[id], full.records[id] = rec, rec
			}
			dirs[i], reads[i] = d, full
			cfgs[i] = randomConfig(r)
			cfgs[i].Name = fmt.Sprintf("i%d", i)
			s, err := NewSyncer(cfgs[i], NewMemoryTarget(), NewMemoryStore())
			require.NoError(t, err)
			s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
				return reads[i], "h", nil
			}
			m.syncers = append(m.syncers, s)
			m.names = append(m.names, cfgs[i].Name)
		}
		for round := range 12 {
			prepared := make([]*prepared, n)
			nexts := make([]State, n)
			for i, s := range m.syncers {
				if round > 0 {
					reads[i] = dirs[i].changes(round)
				}
				p, err := s.prepare(ctx)
				require.NoError(t, err)
				prepared[i] = p
				nexts[i] = wholeNextOf(t, p.out)
				if p.out.base != nil {
					incremental++
				}
			}
			want := conflictsOverWholeStates(m.names, cfgs, nexts)
			got := m.conflicts(prepared)
			require.Equal(t, want, got, "seed %d round %d", seed, round)
			found += len(got)
			for i, s := range m.syncers {
				if _, err := s.commit(ctx, prepared[i], s.clock(), ""); err != nil {
					require.ErrorIs(t, err, ErrDeletionLimit)
				}
			}
		}
	}
	assert.Greater(t, found, 100, "conflicts are found")
	assert.Greater(t, incremental, 100, "in incremental rounds too")
}

// BenchmarkMultiConflicts measures finding the address conflicts of a
// round of two integrations of 50,000 users each (10 users holding their
// two addresses in both),
// after a full round and after a round naming 10 changes in each.
func BenchmarkMultiConflicts(b *testing.B) {
	const n = 50000
	ctx := context.Background()
	fullA := syntheticRead(n)
	fullB := &readResult{full: true, records: map[string]*Record{}, watermark: fullA.watermark}
	for id, rec := range fullA.records {
		c := *rec
		if c.Kind == KindUser && c.DisplayName == "U" {
			var i int
			if _, err := fmt.Sscanf(c.DN, "CN=U%d,", &i); err == nil && i%(n/10) != 0 {
				c.Email, c.Aliases = "b"+c.Email, nil
			}
		}
		fullB.records[id] = &c
	}
	m := &Multi{}
	reads := []*readResult{fullA, fullB}
	for i, name := range []string{"a", "b"} {
		s, err := NewSyncer(Config{Name: name, Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 5}, NewMemoryTarget(), NewMemoryStore())
		if err != nil {
			b.Fatal(err)
		}
		s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
			return reads[i], "h", nil
		}
		m.syncers, m.names = append(m.syncers, s), append(m.names, name)
	}
	prepare := func(b *testing.B) []*prepared {
		var ps []*prepared
		for _, s := range m.syncers {
			p, err := s.prepare(ctx)
			if err != nil {
				b.Fatal(err)
			}
			ps = append(ps, p)
		}
		return ps
	}
	bench := func(b *testing.B, ps []*prepared) {
		b.ReportAllocs()
		for b.Loop() {
			if c := m.conflicts(ps); len(c) != 20 {
				b.Fatalf("%d conflicts", len(c))
			}
		}
	}
	ps := prepare(b)
	b.Run("full", func(b *testing.B) { bench(b, ps) })
	for i, s := range m.syncers {
		if _, err := s.commit(ctx, ps[i], s.clock(), ""); err != nil {
			b.Fatal(err)
		}
	}
	reads[0], reads[1] = syntheticChanges(fullA, 1, 10), syntheticChanges(fullB, 1, 10)
	ps = prepare(b)
	if ps[0].out.base == nil {
		b.Fatal("not planned incrementally")
	}
	b.Run("incremental", func(b *testing.B) { bench(b, ps) })
}
