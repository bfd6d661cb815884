package ldapsync_test

import (
	"context"
	"testing"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A read that finds nothing at all in scope looks the same as a bind
// account that lost its read access or a RootDN emptied by mistake:
// removals are withheld and the run fails, instead of emptying the target.
func TestEmptyReadWithholdsRemovals(t *testing.T) {
	e := newEnv(t)
	ou := e.addOU("Sales")
	a := e.addUserIn(ou, "Ann", "ann@example.com")
	b := e.addUserIn(ou, "Ben", "ben@example.com")
	e.cfg.RootDN = ou
	e.cfg.MaxSyncDeletions = 100
	rep := e.run()
	require.ElementsMatch(t, []string{a.ID, b.ID}, rep.Added)

	require.NoError(t, e.dir.Delete(a.DN))
	require.NoError(t, e.dir.Delete(b.DN))
	_, perr := e.syncer().Plan(context.Background())
	require.ErrorIs(t, perr, ldapsync.ErrEmptyRead)
	rep, err := e.tryRun()
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
	e.run()
	require.NoError(t, e.dir.Delete(a.DN))
	require.NoError(t, e.dir.Delete(b.DN))
	_, err := e.tryRun()
	require.ErrorIs(t, err, ldapsync.ErrEmptyRead)
	c := e.addUserIn(ou, "Cid", "cid@example.com")
	rep := e.run()
	assert.Equal(t, []string{c.ID}, rep.Added)
	assert.ElementsMatch(t, []string{a.ID, b.ID}, rep.Unlinked)
	assert.NotContains(t, e.linked(), a.ID)
	assert.NotContains(t, e.linked(), b.ID)
}
