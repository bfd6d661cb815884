package ldapsync_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// largeUsers is above the size from which a run encodes its next state
// while it applies its changes.
const largeUsers = 5000

func largeDirectory(t *testing.T) (*ldapsynctest.Directory, []ldapsynctest.Entry) {
	t.Helper()
	dir := ldapsynctest.Start(t)
	users := make([]ldapsynctest.Entry, 0, largeUsers)
	dns := make([]string, 0, largeUsers)
	for i := range largeUsers {
		u, err := dir.AddUser(ldapsynctest.User{CN: fmt.Sprintf("Large%05d", i),
			ProxyAddresses: []string{fmt.Sprintf("SMTP:large%05d@example.com", i)}})
		require.NoError(t, err)
		users = append(users, u)
		dns = append(dns, u.DN)
	}
	for g := range 10 {
		_, err := dir.AddGroup(fmt.Sprintf("Large group %d", g), dns[g*100:(g+1)*100]...)
		require.NoError(t, err)
	}
	return dir, users
}

// cancelTarget cancels the run's context after a number of upserts.
type cancelTarget struct {
	*ldapsync.MemoryTarget
	after  int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelTarget) Upsert(ctx context.Context, u ldapsync.User) error {
	if c.n.Add(1) == c.after {
		c.cancel()
	}
	return c.MemoryTarget.Upsert(ctx, u)
}

// TestLargeRunSavesWhatItApplied: a run large enough to encode its state
// while applying saves exactly the state of what it applied, saves
// nothing when a write fails or the run is cancelled mid-way, and the
// state it saves carries the next runs.
func TestLargeRunSavesWhatItApplied(t *testing.T) {
	dir, users := largeDirectory(t)
	cfg := dir.Config()
	cfg.MaxSyncDeletions = 10
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state")

	// A write failing half-way: nothing saved.
	target := ldapsync.NewMemoryTarget()
	target.FailAfter(largeUsers / 2)
	s, err := ldapsync.NewSyncer(cfg, target, ldapsync.NewFileStore(path))
	require.NoError(t, err)
	_, err = s.Run(ctx)
	var te *ldapsync.TargetError
	require.ErrorAs(t, err, &te)
	st, err := ldapsync.NewFileStore(path).Load(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Version, "no state saved after a failed write")

	// Cancelled half-way: nothing saved.
	cctx, cancel := context.WithCancel(ctx)
	ct := &cancelTarget{MemoryTarget: ldapsync.NewMemoryTarget(), after: largeUsers / 2, cancel: cancel}
	s, err = ldapsync.NewSyncer(cfg, ct, ldapsync.NewFileStore(path))
	require.NoError(t, err)
	_, err = s.Run(cctx)
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
	st, err = ldapsync.NewFileStore(path).Load(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Version, "no state saved after a cancelled run")

	// The whole run, then the state it saved, read by a new Syncer.
	target.FailAfter(-1)
	s, err = ldapsync.NewSyncer(cfg, target, ldapsync.NewFileStore(path))
	require.NoError(t, err)
	rep, err := s.Run(ctx)
	require.NoError(t, err)
	// The users written before the failed write are in the target
	// already, and the full read's snapshot of the target sees them.
	require.Equal(t, largeUsers+10-largeUsers/2, len(rep.Added), "objects added")
	snap, err := target.Snapshot(ctx)
	require.NoError(t, err)
	require.Equal(t, largeUsers, len(snap), "users in the target")
	require.Len(t, target.Groups(), 10)
	st, err = ldapsync.NewFileStore(path).Load(ctx)
	require.NoError(t, err)
	// Every object in the target is linked in the state, with its record.
	linked := 0
	for _, o := range st.Objects {
		if o.Applied != "" {
			linked++
		}
	}
	assert.Equal(t, largeUsers+10, linked, "objects linked in the state")
	for id := range snap {
		o := st.Objects[id]
		require.NotNil(t, o, id)
		require.NotNil(t, o.Source, id)
		assert.NotEmpty(t, o.Applied, id)
	}
	for id := range target.Groups() {
		assert.Equal(t, ldapsync.KindGroup, st.Objects[id].AppliedKind, id)
	}
	for _, u := range []ldapsynctest.Entry{users[0], users[largeUsers-1]} {
		assert.Equal(t, u.DN, st.Objects[u.ID].Source.DN)
	}

	require.NoError(t, dir.SetAttribute(users[7].DN, "displayName", "Renamed Seven"))
	s, err = ldapsync.NewSyncer(cfg, target, ldapsync.NewFileStore(path))
	require.NoError(t, err)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{users[7].ID}, rep.Updated)
	assert.Empty(t, rep.Added)
	snap, err = target.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Renamed Seven", snap[users[7].ID].DisplayName)

	// Full reads over the state kept: no write, then the one change.
	s, err = ldapsync.NewSyncer(cfg, target, ldapsync.NewFileStore(path), ldapsync.WithFullSyncEvery(1))
	require.NoError(t, err)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.Empty(t, rep.Added)
	assert.Empty(t, rep.Updated)
	require.NoError(t, dir.SetAttribute(users[9].DN, "title", "Changed title"))
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.Equal(t, []string{users[9].ID}, rep.Updated)
	snap, err = target.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"Changed title"}, snap[users[9].ID].Attributes["title"])
	assert.Equal(t, "Renamed Seven", snap[users[7].ID].DisplayName)
}

// TestLargeRunWritesWhatItPlanned: the users a full run writes (made
// again from the encoded state, see Syncer.Run) are those its plan holds.
func TestLargeRunWritesWhatItPlanned(t *testing.T) {
	dir, users := largeDirectory(t)
	require.NoError(t, dir.SetAttribute(users[3].DN, "title", "Chef"))
	require.NoError(t, dir.Disable(users[4].DN))
	cfg := dir.Config()
	cfg.AcknowledgeDisabledAccounts = true
	ctx := context.Background()

	s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
	require.NoError(t, err)
	plan, err := s.Plan(ctx)
	require.NoError(t, err)
	planned := map[string]ldapsync.User{}
	for _, c := range plan.Changes {
		if c.User != nil {
			planned[c.ID] = *c.User
		}
	}
	require.Len(t, planned, largeUsers)

	target := &upsertRecorder{MemoryTarget: ldapsync.NewMemoryTarget(), got: map[string]ldapsync.User{}}
	s, err = ldapsync.NewSyncer(cfg, target, ldapsync.NewMemoryStore())
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.NoError(t, err)
	require.Len(t, target.got, largeUsers)
	for id, u := range planned {
		require.Equal(t, u, target.got[id], id) // Groups included, which a MemoryTarget recomputes
	}
	snap, err := target.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"Chef"}, snap[users[3].ID].Attributes["title"])
	assert.True(t, snap[users[4].ID].Disabled)
	assert.NotEmpty(t, snap[users[150].ID].Groups, "a member of a group")
}

// upsertRecorder keeps the users written to it as they were written.
type upsertRecorder struct {
	*ldapsync.MemoryTarget
	mu  sync.Mutex
	got map[string]ldapsync.User
}

func (r *upsertRecorder) Upsert(ctx context.Context, u ldapsync.User) error {
	r.mu.Lock()
	r.got[u.ID] = u
	r.mu.Unlock()
	return r.MemoryTarget.Upsert(ctx, u)
}
