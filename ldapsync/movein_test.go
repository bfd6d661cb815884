package ldapsync_test

import (
	"context"
	"testing"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// changeSources are the incremental sources ldapsynctest serves, chosen
// through the run's context.
var changeSources = []struct {
	name string
	ctx  func() context.Context
}{
	{"dirsync", context.Background},
	{"usn", func() context.Context { return ldapsync.WithoutDirSync(context.Background()) }},
}

func (e *env) runCtx(ctx context.Context) *ldapsync.Report {
	e.t.Helper()
	rep, err := e.syncer().Run(ctx)
	require.NoError(e.t, err)
	require.NotNil(e.t, rep)
	return rep
}

// TestContainerMovedIntoRootDN: an OU with users, groups and a nested OU
// is moved from outside RootDN to under it. Only the OU's uSNChanged moves;
// its objects are unknown to the state and must be read and added by the
// same incremental run.
func TestContainerMovedIntoRootDN(t *testing.T) {
	for _, src := range changeSources {
		t.Run(src.name, func(t *testing.T) {
			e := newEnv(t)
			root := e.addOU("Root")
			away := e.addOU("Away")
			stays := e.addUserIn(root, "Stays", "stays@example.com")
			team, err := e.dir.AddOU("Team", away)
			require.NoError(t, err)
			sub, err := e.dir.AddOU("Sub", team.DN)
			require.NoError(t, err)
			a := e.addUserIn(team.DN, "Alice", "alice@example.com")
			b := e.addUserIn(sub.DN, "Bob", "bob@example.com")
			e.cfg.RootDN = root
			rep := e.runCtx(src.ctx())
			require.Equal(t, ldapsync.SyncFull, rep.Mode)
			require.Contains(t, e.linked(), stays.ID)
			require.NotContains(t, e.linked(), a.ID)

			_, err = e.dir.Move(team.DN, root)
			require.NoError(t, err)
			rep = e.runCtx(src.ctx())
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Equal(t, sorted(a.ID, b.ID), sortedCopy(rep.Added))
			linked := e.linked()
			require.Contains(t, linked, a.ID)
			require.Contains(t, linked, b.ID)
			assert.Equal(t, "alice@example.com", linked[a.ID].Email)
			assert.Equal(t, "CN=Bob,OU=Sub,OU=Team,"+root, linked[b.ID].DN)
			assert.Contains(t, linked, stays.ID)

			// The next run has nothing left to do.
			rep = e.runCtx(src.ctx())
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Empty(t, rep.Added)
			assert.Empty(t, rep.Updated)
		})
	}
}

// TestContainerRenamedIntoRootDN: RootDN names an OU; the OU that held
// that name is renamed away (its users leave the scope) and another OU is
// renamed to it (its users, unknown to the state, enter the scope).
func TestContainerRenamedIntoRootDN(t *testing.T) {
	for _, src := range changeSources {
		t.Run(src.name, func(t *testing.T) {
			e := newEnv(t)
			sales := e.addOU("Sales")
			staging := e.addOU("Staging")
			old := e.addUserIn(sales, "Old", "old@example.com")
			n1 := e.addUserIn(staging, "New1", "new1@example.com")
			g, err := e.dir.AddGroup("Crew", n1.DN)
			require.NoError(t, err)
			g.DN, err = e.dir.Move(g.DN, staging)
			require.NoError(t, err)
			e.cfg.RootDN = sales
			e.cfg.MaxSyncDeletions = 5
			e.runCtx(src.ctx())
			require.Contains(t, e.linked(), old.ID)

			_, err = e.dir.Rename(sales, "OldSales")
			require.NoError(t, err)
			_, err = e.dir.Rename(staging, "Sales")
			require.NoError(t, err)
			rep := e.runCtx(src.ctx())
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Equal(t, sorted(n1.ID, g.ID), sortedCopy(rep.Added))
			assert.Equal(t, []string{old.ID}, rep.Unlinked)
			assert.Contains(t, e.linked(), n1.ID)
			groups := e.target.Groups()
			require.Contains(t, groups, g.ID)
			assert.Equal(t, []string{n1.ID}, groups[g.ID].Members)
		})
	}
}
