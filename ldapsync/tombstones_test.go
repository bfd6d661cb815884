package ldapsync_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// runWith syncs with ctx and requires success.
func (e *env) runWith(ctx context.Context) *ldapsync.Report {
	e.t.Helper()
	rep, err := e.syncer().Run(ctx)
	require.NoError(e.t, err)
	require.NotNil(e.t, rep)
	return rep
}

func (e *env) source() string {
	e.t.Helper()
	st, err := e.store.Load(context.Background())
	require.NoError(e.t, err)
	return st.Watermark.Source
}

// isTombstoneSearch reports whether a search is the tombstone read.
func isTombstoneSearch(s ldapsynctest.SearchInfo) bool {
	return strings.Contains(strings.ToLower(s.Filter), "isdeleted=true")
}

// TestTombstonesReadByPolling deletes a user and moves another out of
// RootDN: an incremental uSNChanged run reads the deletion from the
// tombstone (show-deleted control) and the move from the ID enumeration.
func TestTombstonesReadByPolling(t *testing.T) {
	for _, deleteUsers := range []bool{false, true} {
		t.Run(map[bool]string{false: "unlink", true: "delete"}[deleteUsers], func(t *testing.T) {
			e := newEnv(t)
			in := e.addOU("In")
			outside := e.addOU("Out")
			e.cfg.RootDN = in
			e.cfg.MaxSyncDeletions = 10
			e.cfg.DeleteUsers = deleteUsers
			keep := e.addUserIn(in, "Keep", "keep@example.com")
			gone := e.addUserIn(in, "Gone", "gone@example.com")
			mover := e.addUserIn(in, "Mover", "mover@example.com")
			// Deleted before the first run: its tombstone is older than
			// the watermark and must not be reported again.
			old := e.addUserIn(outside, "Old", "old@example.com")
			require.NoError(t, e.dir.Delete(old.DN))

			ctx, reads := ldapsync.WithTombstoneReads(ldapsync.WithoutDirSync(context.Background()))
			rep := e.runWith(ctx)
			require.Equal(t, ldapsync.SyncFull, rep.Mode)
			assert.Empty(t, reads.Outcomes(), "a full read needs no tombstones")
			require.Equal(t, "usn", e.source())

			require.NoError(t, e.dir.Delete(gone.DN))
			_, err := e.dir.Move(mover.DN, outside)
			require.NoError(t, err)
			rep = e.runWith(ctx)
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Equal(t, "usn", e.source())
			assert.Equal(t, []string{"read"}, reads.Outcomes())
			assert.Equal(t, []string{gone.ID}, reads.IDs(), "the deletion, not the move, comes from a tombstone")
			removed := rep.Unlinked
			if deleteUsers {
				removed = rep.Deleted
				assert.Empty(t, rep.Unlinked)
			} else {
				assert.Empty(t, rep.Deleted)
			}
			assert.Equal(t, sorted(gone.ID, mover.ID), sortedCopy(removed))
			assert.Empty(t, rep.Warnings)
			linked := e.linked()
			assert.Contains(t, linked, keep.ID)
			assert.NotContains(t, linked, gone.ID)
			assert.NotContains(t, linked, mover.ID)

			// Nothing new: the next run writes nothing and reads no tombstone again.
			writes := e.target.Writes()
			require.NoError(t, e.dir.SetMail(keep.DN, "keep2@example.com"))
			rep = e.runWith(ctx)
			assert.Equal(t, []string{keep.ID}, rep.Updated)
			assert.Empty(t, rep.Unlinked)
			assert.Empty(t, rep.Deleted)
			assert.Equal(t, []string{"read", "read"}, reads.Outcomes())
			assert.Equal(t, []string{gone.ID}, reads.IDs())
			assert.Equal(t, writes+1, e.target.Writes())
		})
	}
}

// TestTombstonesDeletionDuringRun deletes a user after the ID enumeration
// saw it and before the tombstones are read: only the tombstone tells the
// run, which removes the user at once instead of one run later.
func TestTombstonesDeletionDuringRun(t *testing.T) {
	e := newEnv(t)
	e.cfg.MaxSyncDeletions = 10
	u := e.addUser("Alice", "alice@example.com")
	v := e.addUser("Bob", "bob@example.com")
	ctx, reads := ldapsync.WithTombstoneReads(ldapsync.WithoutDirSync(context.Background()))
	e.runWith(ctx)

	var once sync.Once
	var delErr error
	require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{FailSearch: func(s ldapsynctest.SearchInfo) int {
		if isTombstoneSearch(s) {
			once.Do(func() { delErr = e.dir.Delete(u.DN) })
		}
		return 0
	}}))
	require.NoError(t, e.dir.SetMail(v.DN, "bob2@example.com"))
	rep := e.runWith(ctx)
	require.NoError(t, delErr)
	assert.Equal(t, []string{v.ID}, rep.Updated)
	assert.Equal(t, []string{u.ID}, rep.Unlinked, "removed by its tombstone")
	assert.Equal(t, []string{"read"}, reads.Outcomes())
	assert.Equal(t, []string{u.ID}, reads.IDs())
	assert.NotContains(t, e.linked(), u.ID)
}

// TestTombstonesAfterDirSyncRefused: a plain user may not use DirSync; the
// uSNChanged polling it falls back to reads the tombstones.
func TestTombstonesAfterDirSyncRefused(t *testing.T) {
	e := newEnv(t)
	reader, err := e.dir.AddUser(ldapsynctest.User{CN: "Reader", Password: "Reader-Pass-1"})
	require.NoError(t, err)
	e.cfg.BindDN, e.cfg.BindPassword = reader.DN, "Reader-Pass-1"
	e.cfg.MaxSyncDeletions = 10
	u := e.addUser("Alice", "alice@example.com")
	ctx, reads := ldapsync.WithTombstoneReads(context.Background())
	e.runWith(ctx)
	require.Equal(t, "usn", e.source(), "DirSync is refused to a plain user")
	require.NoError(t, e.dir.Delete(u.DN))
	rep := e.runWith(ctx)
	assert.Equal(t, []string{u.ID}, rep.Unlinked)
	assert.Equal(t, []string{"read"}, reads.Outcomes())
	assert.Equal(t, []string{u.ID}, reads.IDs())
	assert.Empty(t, rep.Warnings)
}

// TestTombstonesRefusedFallBack: when the tombstone search is refused, the
// ID enumeration still finds the deletion; a refusal is not a warning,
// any other answer is.
func TestTombstonesRefusedFallBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
		warn bool
	}{
		{"insufficientAccessRights", 50, false},
		{"unavailableCriticalExtension", 12, false},
		{"adminLimitExceeded", 11, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.cfg.MaxSyncDeletions = 10
			u := e.addUser("Alice", "alice@example.com")
			v := e.addUser("Bob", "bob@example.com")
			ctx, reads := ldapsync.WithTombstoneReads(ldapsync.WithoutDirSync(context.Background()))
			e.runWith(ctx)
			require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{FailSearch: func(s ldapsynctest.SearchInfo) int {
				if isTombstoneSearch(s) {
					return tc.code
				}
				return 0
			}}))
			require.NoError(t, e.dir.Delete(u.DN))
			rep := e.runWith(ctx)
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Equal(t, []string{u.ID}, rep.Unlinked, "found by the ID enumeration")
			assert.Equal(t, []string{"refused"}, reads.Outcomes())
			assert.Empty(t, reads.IDs())
			assert.Contains(t, e.linked(), v.ID)
			if tc.warn {
				require.Len(t, rep.Warnings, 1)
				assert.Contains(t, rep.Warnings[0], "tombstones")
			} else {
				assert.Empty(t, rep.Warnings)
			}
		})
	}
}

// TestTombstonesDeletedObjectsUnreadable: a tombstone search that finds
// nothing while Deleted Objects cannot be read is a refusal, not "nothing
// deleted"; one that finds nothing while it can be read is a read.
func TestTombstonesDeletedObjectsUnreadable(t *testing.T) {
	e := newEnv(t)
	e.cfg.MaxSyncDeletions = 10
	u := e.addUser("Alice", "alice@example.com")
	v := e.addUser("Bob", "bob@example.com")
	ctx, reads := ldapsync.WithTombstoneReads(ldapsync.WithoutDirSync(context.Background()))
	e.runWith(ctx)

	require.NoError(t, e.dir.SetMail(v.DN, "bob2@example.com"))
	rep := e.runWith(ctx)
	assert.Equal(t, []string{v.ID}, rep.Updated)
	assert.Equal(t, []string{"read"}, reads.Outcomes(), "nothing deleted, Deleted Objects readable")

	// Deleted Objects is hidden from the account: the tombstone search is
	// answered with nothing, the container with insufficientAccessRights.
	require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{FailSearch: func(s ldapsynctest.SearchInfo) int {
		if strings.HasPrefix(strings.ToLower(s.BaseDN), "cn=deleted objects,") {
			return 50
		}
		return 0
	}}))
	require.NoError(t, e.dir.SetMail(v.DN, "bob3@example.com"))
	rep = e.runWith(ctx)
	assert.Equal(t, []string{v.ID}, rep.Updated)
	assert.Equal(t, []string{"read", "refused"}, reads.Outcomes())
	assert.Empty(t, rep.Warnings)

	require.NoError(t, e.dir.Delete(u.DN))
	rep = e.runWith(ctx)
	assert.Equal(t, []string{u.ID}, rep.Unlinked)
	assert.Equal(t, []string{"read", "refused", "read"}, reads.Outcomes(), "a tombstone found proves the right to read them")
}
