package ldapsync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cacheRig runs a Syncer on synthetic reads and records the watermark
// every read starts from.
type cacheRig struct {
	s      *Syncer
	target *MemoryTarget
	full   *readResult
	res    *readResult
	from   []Watermark
}

func newCacheRig(t *testing.T, store StateStore) *cacheRig {
	t.Helper()
	r := &cacheRig{target: NewMemoryTarget(), full: syntheticRead(300)}
	s, err := NewSyncer(Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 5}, r.target, store)
	require.NoError(t, err)
	s.readFn = func(_ context.Context, wm Watermark, _ func(string) bool) (*readResult, string, error) {
		r.from = append(r.from, wm)
		return r.res, "h", nil
	}
	r.s = s
	r.res = r.full
	_, err = s.Run(context.Background())
	require.NoError(t, err)
	return r
}

// reused runs once more with 3 changed users and reports whether the run
// planned from the kept state (not decoded from the store).
func (r *cacheRig) reused(t *testing.T, round int) bool {
	t.Helper()
	r.res = syntheticChanges(r.full, round, 3)
	p, err := r.s.prepare(context.Background())
	require.NoError(t, err)
	_, err = r.s.commit(context.Background(), p, r.s.clock(), "")
	require.NoError(t, err)
	return p.base != nil && !p.base.decoded
}

func TestSavedStateReusedWhileMemoryStoreHoldsIt(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	r := newCacheRig(t, store)
	assert.True(t, r.reused(t, 1), "the state saved last is planned from without loading")
	assert.True(t, r.reused(t, 2))

	// Another writer replaces the state: it is loaded, not the kept one.
	other := State{Version: StateVersion, Watermark: Watermark{Source: "usn", USN: 99}}
	require.NoError(t, store.Save(ctx, other))
	assert.False(t, r.reused(t, 3))
	assert.Equal(t, int64(99), r.from[len(r.from)-1].USN, "the read starts from the stored watermark")
	loaded, err := store.Load(ctx)
	require.NoError(t, err)
	require.Equal(t, loaded, keptState(t, r.s), "the state saved after decoding is the one kept")
	assert.True(t, r.reused(t, 4), "and the state saved then is kept again")
}

func TestSavedStateReusedWhileFileHoldsIt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state")
	r := newCacheRig(t, NewFileStore(path))
	for round := 1; round <= 5; round++ {
		require.True(t, r.reused(t, round), "round %d", round)
		loaded, err := NewFileStore(path).Load(ctx)
		require.NoError(t, err)
		require.Equal(t, loaded, keptState(t, r.s), "round %d: the file holds the kept state", round)
	}

	// Replaced by another writer (same length is likely: one object's
	// fingerprint differs): loaded.
	loaded, err := NewFileStore(path).Load(ctx)
	require.NoError(t, err)
	loaded.Watermark.USN = 77
	require.NoError(t, NewFileStore(path).Save(ctx, loaded))
	assert.False(t, r.reused(t, 6))
	assert.Equal(t, int64(77), r.from[len(r.from)-1].USN)
	loaded, err = NewFileStore(path).Load(ctx)
	require.NoError(t, err)
	require.Equal(t, loaded, keptState(t, r.s))

	// Damaged in place, length kept: refused as before, nothing written.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x40
	require.NoError(t, os.WriteFile(path, b, 0o600))
	writes := r.target.Writes()
	r.res = syntheticChanges(r.full, 7, 3)
	_, err = r.s.Run(ctx)
	require.ErrorIs(t, err, ErrState)
	assert.Equal(t, writes, r.target.Writes())

	// Truncated: refused too.
	require.NoError(t, os.WriteFile(path, b[:len(b)-10], 0o600))
	_, err = r.s.Run(ctx)
	require.ErrorIs(t, err, ErrState)
}

// TestPlanCannotChangeTheKeptState: what Plan returns is the caller's; a
// caller changing it changes neither the next run nor the state.
func TestPlanCannotChangeTheKeptState(t *testing.T) {
	ctx := context.Background()
	r := newCacheRig(t, NewMemoryStore())
	id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", 5)
	c := *r.full.records[id]
	c.DisplayName = "New"
	c.Attributes = map[string][]string{"title": {"Chef"}}
	c.Aliases = []string{"x5@example.com"}
	r.res = &readResult{records: map[string]*Record{id: &c}, watermark: Watermark{Source: "usn", USN: 5}}
	plan, err := r.s.Plan(ctx)
	require.NoError(t, err)
	require.Len(t, plan.Changes, 1)
	u := plan.Changes[0].User
	u.Attributes["title"][0] = "Changed"
	u.Attributes["other"] = []string{"x"}
	u.Aliases[0] = "changed@example.com"

	rep, err := r.s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{id}, rep.Updated)
	got := r.target.users[id]
	assert.Equal(t, map[string][]string{"title": {"Chef"}}, got.Attributes)
	assert.Equal(t, []string{"x5@example.com"}, got.Aliases)
	assert.Equal(t, map[string][]string{"title": {"Chef"}}, keptState(t, r.s).Objects[id].Source.Attributes)
}

// wrappedStore embeds a MemoryStore and counts its own Load and Save.
type wrappedStore struct {
	*MemoryStore
	loads, saves int
}

func (w *wrappedStore) Load(ctx context.Context) (State, error) {
	w.loads++
	return w.MemoryStore.Load(ctx)
}

func (w *wrappedStore) Save(ctx context.Context, s State) error {
	w.saves++
	return w.MemoryStore.Save(ctx, s)
}

// TestWrappedStoreKeepsItsLoadAndSave: a store embedding one of this
// package's stores is loaded and saved through its own methods on every
// run, never around them.
func TestWrappedStoreKeepsItsLoadAndSave(t *testing.T) {
	w := &wrappedStore{MemoryStore: NewMemoryStore()}
	r := newCacheRig(t, w)
	assert.False(t, r.reused(t, 1))
	assert.False(t, r.reused(t, 2))
	assert.Equal(t, 3, w.loads)
	assert.Equal(t, 3, w.saves)
}

// TestOwnedUserIsACopy: the user handed to a target equals the original
// (empty lists as nil, as before), shares nothing a target could change
// with it, and one attribute's values cannot grow into another's.
func TestOwnedUserIsACopy(t *testing.T) {
	u := &User{ID: "id", DN: "CN=A", Email: "a@example.com", DisplayName: "A", Aliases: []string{},
		Groups: []string{"g"}, Attributes: map[string][]string{"a": {}, "b": nil, "c": {"x", "y"}, "d": {"z"}}}
	c := ownedUser(u)
	assert.Equal(t, User{ID: "id", DN: "CN=A", Email: "a@example.com", DisplayName: "A", Groups: []string{"g"},
		Attributes: map[string][]string{"a": nil, "b": nil, "c": {"x", "y"}, "d": {"z"}}}, c)
	c.Attributes["c"][0] = "changed"
	c.Attributes["c"] = append(c.Attributes["c"], "grown")
	c.Groups[0] = "changed"
	assert.Equal(t, []string{"x", "y"}, u.Attributes["c"])
	assert.Equal(t, []string{"z"}, c.Attributes["d"])
	assert.Equal(t, []string{"g"}, u.Groups)
}

// TestWithoutKeptState: nothing is kept between runs, every run decodes
// the stored state, and the runs do what they do with the state kept.
func TestWithoutKeptState(t *testing.T) {
	ctx := context.Background()
	kept, plain := newCacheRig(t, NewMemoryStore()), newCacheRig(t, NewMemoryStore())
	WithoutKeptState()(&plain.s.opts)
	for round := 1; round <= 4; round++ {
		assert.True(t, kept.reused(t, round))
		assert.False(t, plain.reused(t, round), "round %d", round)
		assert.Nil(t, plain.s.saved, "nothing kept after the run")
	}
	a, err := kept.target.Snapshot(ctx)
	require.NoError(t, err)
	b, err := plain.target.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

// TestKeptStateHoldsNoDecodedRecords: between runs a Syncer keeps the
// encoding, where its records lie and the index, never a decoded object,
// whether the run planned incrementally, in full from the kept state, or
// from a state it decoded from the store, and after Plan.
func TestKeptStateHoldsNoDecodedRecords(t *testing.T) {
	ctx := context.Background()
	for _, store := range []StateStore{NewMemoryStore(), NewFileStore(filepath.Join(t.TempDir(), "state"))} {
		r := newCacheRig(t, store)
		assert.Zero(t, keptDecoded(r.s), "after the first run")
		require.True(t, r.reused(t, 1))
		assert.Zero(t, keptDecoded(r.s), "after an incremental run")
		require.NotNil(t, r.s.saved.idx)

		// Planned, not applied: what the plan decoded is dropped too.
		r.res = syntheticChanges(r.full, 2, 3)
		plan, err := r.s.Plan(ctx)
		require.NoError(t, err)
		require.Len(t, plan.Changes, 3)
		assert.Zero(t, keptDecoded(r.s), "after Plan")

		// A read listing what is present: planned in full from the kept
		// encoding, decoded whole for that run only.
		r.res = syntheticChanges(r.full, 3, 3)
		r.res.present = map[string]string{}
		for id := range r.full.records {
			r.res.present[id] = ""
		}
		rep, err := r.s.Run(ctx)
		require.NoError(t, err)
		assert.Len(t, rep.Updated, 3)
		assert.Zero(t, keptDecoded(r.s), "after a run planned in full")

		// A read naming no change: the state is saved whole again.
		before := keptState(t, r.s)
		r.res = &readResult{records: map[string]*Record{}, watermark: Watermark{Source: "usn", USN: 50}}
		rep, err = r.s.Run(ctx)
		require.NoError(t, err)
		require.Equal(t, SyncIncremental, rep.Mode)
		after := keptState(t, r.s)
		assert.Equal(t, int64(50), after.Watermark.USN)
		assert.Equal(t, before.Objects, after.Objects)
		loaded, err := store.Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, loaded, after)

		// A run whose target write fails saves nothing and keeps
		// nothing it decoded either.
		r.target.FailAfter(0)
		r.res = syntheticChanges(r.full, 6, 3)
		_, err = r.s.Run(ctx)
		require.Error(t, err)
		r.target.FailAfter(-1)
		assert.Zero(t, keptDecoded(r.s), "after a failed run")

		// After a restart: decoded from the store, then kept lean.
		s2, err := NewSyncer(r.s.cfg, r.target, store)
		require.NoError(t, err)
		s2.readFn = r.s.readFn
		r.s = s2
		require.False(t, r.reused(t, 4), "decoded from the store")
		assert.Zero(t, keptDecoded(r.s), "after a run on a decoded state")
		require.True(t, r.reused(t, 5))
		assert.Zero(t, keptDecoded(r.s))
	}
}

// TestKeptStateRetainsLittle: what a Syncer keeps between runs beyond its
// store, measured on the live heap, stays far below the decoded state's
// size (about 1 KiB per object with its records).
func TestKeptStateRetainsLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 20,000 users")
	}
	const n = 20000
	store := NewMemoryStore()
	s, err := NewSyncer(Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 5}, NewMemoryTarget(), store)
	require.NoError(t, err)
	full := syntheticRead(n)
	for round := range 2 {
		res := full
		if round > 0 {
			res = syntheticChanges(full, round, 10)
		}
		s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) { return res, "h", nil }
		rep, err := s.Run(context.Background())
		require.NoError(t, err)
		if round > 0 {
			require.Equal(t, SyncIncremental, rep.Mode)
		}
	}
	full = nil
	objects := float64(len(s.saved.enc.spans))
	require.Greater(t, objects, float64(n))
	with := liveHeap()
	s.saved = nil
	without := liveHeap()
	perObject := (float64(with) - float64(without)) / objects
	t.Logf("kept state: %.0f B/object beyond the store's %d B/object", perObject, len(store.state)/int(objects))
	assert.Less(t, perObject, 150.0, "spans and index only")
	runtime.KeepAlive(s) // (and its target)
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
