package ldapsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// TestSambaDirSyncCookieSkipsTheDomain: the cookie a full run takes (with
// a filter nothing matches, so the domain's objects are not sent) is a
// real position: the next run is told about the one object changed since,
// not about the thousands of objects in the domain.
func TestSambaDirSyncCookieSkipsTheDomain(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	root := scratchOU(t, c, e.ScratchDN, "cookie")
	sfx := itSuffix()
	aliceDN, alice := addADUser(t, c, root, adUser{CN: "alice", Mail: "alice-" + sfx + "@corp.example.test"})
	_, bob := addADUser(t, c, root, adUser{CN: "bob", Mail: "bob-" + sfx + "@corp.example.test"})

	rig := newRig(t, e.config(root))
	rep := rig.run()
	require.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.ElementsMatch(t, []string{alice, bob}, rep.Added)
	require.Equal(t, "dirsync", rig.source())

	adModify(t, c, aliceDN, "displayName", "Alice "+sfx)
	ctx, reads := ldapsync.WithDirSyncReads(context.Background())
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := ldapsync.NewSyncer(rig.cfg, rig.target, rig.store)
	require.NoError(t, err)
	rep, err = s.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{alice}, rep.Updated)
	require.Len(t, reads.Changed(), 1)
	assert.Greater(t, e.Staff, 100, "the domain holds many objects a stale cookie would report")
	assert.LessOrEqual(t, reads.Changed()[0], 3, "DirSync reported only what changed since the full run")
}
