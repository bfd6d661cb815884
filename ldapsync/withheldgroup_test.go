package ldapsync_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// Users whose removal is withheld stay linked, so they stay in their groups
// too: the deletion limit applies none of a removal, membership included.
func TestWithheldRemovalsKeepGroupMembership(t *testing.T) {
	e := newEnv(t)
	in := e.addOU("In")
	out := e.addOU("Out")
	u1 := e.addUserIn(in, "U1", "u1@example.com")
	u2 := e.addUserIn(in, "U2", "u2@example.com")
	u3 := e.addUserIn(in, "U3", "u3@example.com")
	g, err := e.dir.AddGroup("Team", u1.DN, u2.DN, u3.DN)
	require.NoError(t, err)
	_, err = e.dir.Move(g.DN, in)
	require.NoError(t, err)
	e.cfg.RootDN = in
	e.cfg.MaxSyncDeletions = 1
	e.run()
	require.Equal(t, sorted(u1.ID, u2.ID, u3.ID), e.target.Groups()[g.ID].Members)

	_, err = e.dir.Move(u1.DN, out)
	require.NoError(t, err)
	_, err = e.dir.Move(u2.DN, out)
	require.NoError(t, err)
	rep, err := e.tryRun()
	require.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
	assert.ElementsMatch(t, []string{u1.ID, u2.ID}, rep.Withheld)
	linked := e.linked()
	assert.Contains(t, linked, u1.ID)
	assert.Contains(t, linked, u2.ID)
	assert.Equal(t, sorted(u1.ID, u2.ID, u3.ID), e.target.Groups()[g.ID].Members, "withheld users keep their membership")

	// Allowed, the removals and the membership change go through together.
	e.cfg.MaxSyncDeletions = 2
	rep = e.run()
	assert.ElementsMatch(t, []string{u1.ID, u2.ID}, rep.Unlinked)
	assert.Equal(t, []string{u3.ID}, e.target.Groups()[g.ID].Members)
}
