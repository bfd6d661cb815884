package ldapsync_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// TestOpenLDAPContentSyncStopsAtMaxObjects: a content-sync refresh that
// sends more than the bound on one read fails the run; nothing is applied
// and the stored position stays where it was.
func TestOpenLDAPContentSyncStopsAtMaxObjects(t *testing.T) {
	e := slapd(t)
	suffix := e.Suffix["sessionlog"]
	c := e.admin(t, suffix)
	root := addOpenLDAPOU(t, c, suffix, "cap")
	sfx := itSuffix()
	var dns []string
	for i := range 6 {
		dn, _ := addPerson(t, c, root, fmt.Sprintf("p%d", i), fmt.Sprintf("p%d-%s@example.org", i, sfx))
		dns = append(dns, dn)
	}
	rig := newRig(t, e.config(suffix, root))
	rep := rig.run()
	require.Equal(t, ldapsync.SyncFull, rep.Mode)
	require.Len(t, rep.Added, 6)
	require.Equal(t, "syncrepl", rig.source())
	before := rig.target.Writes()

	for _, dn := range dns {
		adModify(t, c, dn, "displayName", "Changed "+sfx)
	}
	restore := ldapsync.SetMaxReadObjects(3)
	_, err := rig.tryRun()
	restore()
	require.ErrorIs(t, err, ldapsync.ErrRead)
	assert.Contains(t, err.Error(), "more than 3")
	assert.Equal(t, before, rig.target.Writes(), "nothing applied")

	rep = rig.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Len(t, rep.Updated, 6, "the next run picks the changes up")
}
