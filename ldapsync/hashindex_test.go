package ldapsync

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMultimapMatchesModel: over random listings and removals, through
// the overlay and its merges, a multimap lists what a plain map of lists
// lists.
func TestMultimapMatchesModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 3))
		set := seed%2 == 0
		model := map[uint64][]uint64{}
		x := newMultimap(set, 0)
		for range r.IntN(300) {
			k, v := uint64(r.IntN(40)), uint64(r.IntN(6))
			if set && slices.Contains(model[k], v) {
				continue
			}
			x.put(k, v)
			model[k] = append(model[k], v)
		}
		x.freeze()
		check := func(step int) {
			t.Helper()
			got := map[uint64][]uint64{}
			for k := range x.keys {
				if v := x.values(nil, k); len(v) > 0 {
					slices.Sort(v)
					got[k] = v
				}
			}
			want := map[uint64][]uint64{}
			var multi []uint64
			for k, v := range model {
				if len(v) > 0 {
					want[k] = slices.Sorted(slices.Values(v))
				}
				if len(v) > 1 {
					multi = append(multi, k)
				}
			}
			slices.Sort(multi)
			require.Equal(t, want, got, "seed %d step %d", seed, step)
			require.Equal(t, multi, append([]uint64(nil), x.multiKeys()...), "seed %d step %d", seed, step)
			for k := range uint64(42) {
				require.Equal(t, len(model[k]) > 0, x.has(k), "seed %d step %d key %d", seed, step, k)
			}
		}
		check(-1)
		for step := range 2000 {
			k, v := uint64(r.IntN(42)), uint64(r.IntN(6))
			if r.IntN(2) == 0 {
				x.add(k, v)
				if !set || !slices.Contains(model[k], v) {
					model[k] = append(model[k], v)
				}
			} else {
				x.remove(k, v)
				if i := slices.Index(model[k], v); i >= 0 {
					model[k] = slices.Delete(model[k], i, i+1)
				}
			}
			if step%50 == 0 || step > 1990 {
				check(step)
			}
		}
	}
}
