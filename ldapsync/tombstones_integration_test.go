package ldapsync_test

// Tombstones read with the show-deleted control by uSNChanged polling,
// against the Samba AD DC started by scripts/samba-ad.sh.

import (
	"context"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// runCtx runs the rig's integration with ctx and requires success.
func (r *syncRig) runCtx(ctx context.Context) *ldapsync.Report {
	r.t.Helper()
	s, err := ldapsync.NewSyncer(r.cfg, r.target, r.store)
	require.NoError(r.t, err)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := s.Run(ctx)
	require.NoError(r.t, err)
	require.NotNil(r.t, rep)
	return rep
}

// TestSambaTombstonesAsAdministrator: Administrator may read Deleted
// Objects. With DirSync off, an incremental uSNChanged run learns the
// deletion from its tombstone and the move out of RootDN from the ID
// enumeration.
func TestSambaTombstonesAsAdministrator(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	root := scratchOU(t, c, e.ScratchDN, "tombstones")
	outside := scratchOU(t, c, e.ScratchDN, "tombstones-out")
	addr := func(n string) string { return n + "-" + itSuffix() + "@corp.example.test" }
	_, keep := addADUser(t, c, root, adUser{CN: "keep", Mail: addr("keep")})
	goneDN, gone := addADUser(t, c, root, adUser{CN: "gone", Mail: addr("gone")})
	moverDN, mover := addADUser(t, c, root, adUser{CN: "mover", Mail: addr("mover")})

	rig := newRig(t, e.config(root))
	ctx, reads := ldapsync.WithTombstoneReads(ldapsync.WithoutDirSync(context.Background()))
	rep := rig.runCtx(ctx)
	require.Equal(t, ldapsync.SyncFull, rep.Mode)
	require.ElementsMatch(t, []string{keep, gone, mover}, rep.Added)
	require.Equal(t, "usn", rig.source(), "DirSync turned off for the run")

	require.NoError(t, c.Del(ldap.NewDelRequest(goneDN, nil)))
	require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(moverDN, "CN=mover", true, outside)))
	rep = rig.runCtx(ctx)
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, "usn", rig.source())
	assert.Equal(t, []string{"read"}, reads.Outcomes(), "Administrator reads tombstones")
	// Other tests may delete objects of the domain at the same time: the
	// read holds at least this deletion, and never the move.
	assert.Contains(t, reads.IDs(), gone)
	assert.NotContains(t, reads.IDs(), mover)
	assert.NotContains(t, reads.IDs(), keep)
	assert.ElementsMatch(t, []string{gone, mover}, rep.Unlinked)
	assert.Empty(t, rep.Warnings)
	assert.Equal(t, []string{keep}, keys(rig.linked()))

	// Nothing deleted since: the tombstone read stays permitted and finds
	// no deletion of this OU again.
	_, extra := addADUser(t, c, root, adUser{CN: "extra", Mail: addr("extra")})
	before := len(reads.IDs())
	rep = rig.runCtx(ctx)
	assert.Equal(t, []string{extra}, rep.Added)
	assert.Empty(t, rep.Unlinked)
	assert.Equal(t, []string{"read", "read"}, reads.Outcomes())
	assert.NotContains(t, reads.IDs()[before:], gone, "a tombstone older than the watermark is not read again")
}

// TestSambaTombstonesAsReadOnlyUser: a plain domain user is shown no
// Deleted Objects (and may not use DirSync); the deletion is found by the
// ID enumeration, without a warning.
func TestSambaTombstonesAsReadOnlyUser(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	root := scratchOU(t, c, e.ScratchDN, "tombstones-reader")
	addr := func(n string) string { return n + "-" + itSuffix() + "@corp.example.test" }
	_, keep := addADUser(t, c, root, adUser{CN: "keep", Mail: addr("keep")})
	goneDN, gone := addADUser(t, c, root, adUser{CN: "gone", Mail: addr("gone")})

	cfg := e.config(root)
	cfg.BindDN, cfg.BindPassword = e.ReaderDN, ldapsync.Secret(e.ReaderPassword)
	rig := newRig(t, cfg)
	ctx, reads := ldapsync.WithTombstoneReads(context.Background())
	rep := rig.runCtx(ctx)
	require.Equal(t, ldapsync.SyncFull, rep.Mode)
	require.Equal(t, "usn", rig.source(), "DirSync needs replication rights")

	require.NoError(t, c.Del(ldap.NewDelRequest(goneDN, nil)))
	rep = rig.runCtx(ctx)
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{"refused"}, reads.Outcomes(), "Deleted Objects is not visible to a plain user")
	assert.Empty(t, reads.IDs())
	assert.Equal(t, []string{gone}, rep.Unlinked, "found by the ID enumeration")
	assert.Empty(t, rep.Warnings)
	assert.Equal(t, []string{keep}, keys(rig.linked()))
}
