package ldapsync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A read that finds nothing at all in scope, the objects merely absent
// (here moved out, read by full runs: no change record names them), looks the same as a bind
// account that lost its read access: removals are withheld and the run
// fails, instead of emptying the target.
func TestEmptyReadWithholdsRemovals(t *testing.T) {
	e := newEnv(t)
	ou := e.addOU("Sales")
	a := e.addUserIn(ou, "Ann", "ann@example.com")
	b := e.addUserIn(ou, "Ben", "ben@example.com")
	e.cfg.RootDN = ou
	e.cfg.MaxSyncDeletions = 100
	e.opts = []ldapsync.Option{ldapsync.WithFullSyncEvery(time.Nanosecond)} // every run reads everything
	rep := e.run()
	require.ElementsMatch(t, []string{a.ID, b.ID}, rep.Added)

	outside := e.addOU("Elsewhere")
	_, err := e.dir.Move(a.DN, outside)
	require.NoError(t, err)
	_, err = e.dir.Move(b.DN, outside)
	require.NoError(t, err)
	_, perr := e.syncer().Plan(context.Background())
	require.ErrorIs(t, perr, ldapsync.ErrEmptyRead)
	rep, err = e.tryRun()
	require.ErrorIs(t, err, ldapsync.ErrEmptyRead)
	require.NotNil(t, rep)
	assert.ElementsMatch(t, []string{a.ID, b.ID}, rep.Withheld)
	assert.Empty(t, rep.Unlinked)
	assert.Len(t, e.linked(), 2, "nothing removed")

	// A lost state plans no removals at all.
	e.store = ldapsync.NewMemoryStore()
	rep = e.run()
	assert.Empty(t, rep.Withheld)
	assert.Len(t, e.linked(), 2)
}

// Withheld removals stay planned: the next run after an empty read, with an
// object back in scope, applies them.
func TestEmptyReadRemovalsPlannedAgain(t *testing.T) {
	e := newEnv(t)
	ou := e.addOU("Ops")
	a := e.addUserIn(ou, "Ann", "ann@example.com")
	b := e.addUserIn(ou, "Ben", "ben@example.com")
	e.cfg.RootDN = ou
	e.cfg.MaxSyncDeletions = 100
	e.opts = []ldapsync.Option{ldapsync.WithFullSyncEvery(time.Nanosecond)} // every run reads everything
	e.run()
	outside := e.addOU("Elsewhere")
	_, err := e.dir.Move(a.DN, outside)
	require.NoError(t, err)
	_, err = e.dir.Move(b.DN, outside)
	require.NoError(t, err)
	_, err = e.tryRun()
	require.ErrorIs(t, err, ldapsync.ErrEmptyRead)
	c := e.addUserIn(ou, "Cid", "cid@example.com")
	rep := e.run()
	assert.Equal(t, []string{c.ID}, rep.Added)
	assert.ElementsMatch(t, []string{a.ID, b.ID}, rep.Unlinked)
	assert.NotContains(t, e.linked(), a.ID)
	assert.NotContains(t, e.linked(), b.ID)
}

// A server whose paged search never advances (the same cookie back, the
// same entries again) ends the read with an error instead of looping and
// growing without bound; nothing is removed.
func TestStuckPagingEndsTheRead(t *testing.T) {
	e := newEnv(t)
	e.cfg.PageSize = 2
	e.cfg.MaxSyncDeletions = 100
	for i := range 5 {
		e.addUser(fmt.Sprintf("P%d", i), fmt.Sprintf("p%d@example.com", i))
	}
	e.run()
	before := e.linked()
	require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{StuckPaging: true}))
	e.store = ldapsync.NewMemoryStore() // a full read, paged
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := e.syncer().Run(ctx)
	require.ErrorIs(t, err, ldapsync.ErrRead)
	require.NoError(t, ctx.Err(), "the read stopped by itself, not by the deadline")
	assert.ErrorContains(t, err, "cookie")
	assert.Equal(t, before, e.linked())
}

// TestConnection validates the configuration as given, before defaults: a
// bind password with no Encryption named is refused there too, and never
// sent.
func TestTestConnectionRefusesImplicitPlaintextPassword(t *testing.T) {
	dir := ldapsynctest.Start(t)
	cfg := dir.Config()
	require.Equal(t, ldapsync.EncryptionNone, cfg.Encryption)
	cfg.Encryption = ""
	rep := ldapsync.TestConnection(context.Background(), cfg)
	assert.False(t, rep.OK())
	require.NotEmpty(t, rep.Steps)
	assert.Equal(t, ldapsync.Failed, rep.Steps[0].Status)
	assert.Contains(t, rep.Steps[0].Detail, "encryption")
	assert.Zero(t, dir.Stats().Binds, "the password was not sent")

	cfg.Encryption = ldapsync.EncryptionNone
	rep = ldapsync.TestConnection(context.Background(), cfg)
	assert.True(t, rep.OK(), "plain LDAP chosen explicitly: %+v", rep.Steps)
	assert.NotZero(t, dir.Stats().Binds)
}

// The zero MemoryTarget is ready to use, as NewMemoryTarget's is.
func TestZeroMemoryTarget(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("Zed", "zed@example.com")
	var mt ldapsync.MemoryTarget
	e.target = &mt
	rep := e.run()
	assert.Equal(t, []string{u.ID}, rep.Added)
	assert.Contains(t, e.linked(), u.ID)
	assert.Equal(t, 1, mt.Writes())
	require.NoError(t, mt.Unlink(context.Background(), u.ID))
	assert.Contains(t, mt.Unlinked(), u.ID)
	require.NoError(t, mt.UpsertGroup(context.Background(), ldapsync.Group{ID: "g", Name: "G"}))
	assert.Contains(t, mt.Groups(), "g")
}
