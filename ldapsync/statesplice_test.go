package ldapsync

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSaveBeyondSpliceLimit: an incremental run whose state grows past
// what record spans can locate saves the whole state instead (and keeps
// nothing), rather than failing the save after its writes were applied.
func TestSaveBeyondSpliceLimit(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	r := newCacheRig(t, store)
	old := maxEncoding
	t.Cleanup(func() { maxEncoding = old })
	maxEncoding = len(store.state) + 64

	res := &readResult{records: map[string]*Record{}, watermark: Watermark{Source: "usn", USN: 2}}
	for i := range 5 {
		id := fmt.Sprintf("%08x-2222-4000-8000-000000000000", i)
		res.records[id] = &Record{Kind: KindUser, DN: fmt.Sprintf("CN=N%d,DC=x", i), Email: fmt.Sprintf("n%d@example.com", i), DisplayName: "N"}
	}
	r.res = res
	before, err := store.Load(ctx)
	require.NoError(t, err)
	p, err := r.s.prepare(ctx)
	require.NoError(t, err)
	require.NotNil(t, p.out.base, "planned incrementally from the kept state")
	ref := compute(r.s.cfg, before, res, nil)

	_, err = r.s.commit(ctx, p, r.s.clock(), "")
	require.NoError(t, err)
	after, err := store.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, ref.next, after, "the whole next state is saved")
	assert.Nil(t, r.s.saved, "beyond the limit nothing is kept")

	// The next run loads the state and goes on.
	r.res = &readResult{records: map[string]*Record{}, watermark: Watermark{Source: "usn", USN: 3}}
	_, err = r.s.Run(ctx)
	require.NoError(t, err)
}
