package ldapsync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFullSyncReadsUsersAndGroups(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("Alice", "other@example.com",
		"SMTP:Alice@Example.com", "smtp:a@example.com", "smtp:ALICE2@Example.NET", "X500:/o=corp/cn=alice", "smtp:alice@example.com")
	bob := e.addUser("Bob", "Bob@Example.com")
	carol := e.addUser("Carol", "")
	dave := e.addUser("Dave", "not an address")
	_, err := e.dir.AddComputer("WS01", "")
	require.NoError(t, err)
	contact, err := e.dir.AddContact(ldapsynctest.Contact{CN: "Partner", Mail: "partner@partner.example"})
	require.NoError(t, err)
	staff, err := e.dir.AddGroup("Staff", alice.DN, bob.DN, carol.DN)
	require.NoError(t, err)
	require.NoError(t, e.dir.SetMail(staff.DN, "Staff@Example.com"))

	rep := e.run()
	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.Equal(t, e.cfg.Host, rep.Host)
	assert.ElementsMatch(t, []string{alice.ID, bob.ID, staff.ID}, rep.Added)
	assert.Empty(t, rep.Updated)
	assert.Empty(t, rep.Unlinked)

	skipped := skippedIDs(rep)
	assert.Contains(t, skipped[carol.ID], "no usable email address")
	assert.Contains(t, skipped[dave.ID], "mail")
	assert.NotContains(t, skipped, contact.ID, "contacts are not read without IncludeContacts")

	users := e.linked()
	require.Len(t, users, 2)
	a := users[alice.ID]
	assert.Equal(t, "alice@example.com", a.Email, "SMTP: wins over mail and is lower-cased")
	assert.Equal(t, []string{"a@example.com", "alice2@example.net"}, a.Aliases, "smtp: aliases, lower-cased, primary not repeated, X500 ignored")
	assert.Equal(t, alice.DN, a.DN)
	assert.Equal(t, "Alice", a.DisplayName)
	assert.False(t, a.Contact)
	assert.Equal(t, []string{staff.ID}, a.Groups)
	assert.Equal(t, "bob@example.com", users[bob.ID].Email)

	g := e.target.Groups()[staff.ID]
	assert.Equal(t, "Staff", g.Name)
	assert.Equal(t, "staff@example.com", g.Email)
	assert.Equal(t, sorted(alice.ID, bob.ID), g.Members, "members are synchronised users only")

	t.Run("contacts", func(t *testing.T) {
		e.cfg.IncludeContacts = true
		rep := e.run()
		assert.Equal(t, ldapsync.SyncFull, rep.Mode, "changing the object selection forces a full read")
		assert.Equal(t, []string{contact.ID}, rep.Added)
		c := e.linked()[contact.ID]
		assert.True(t, c.Contact)
		assert.Equal(t, "partner@partner.example", c.Email)
	})
}

func TestAcknowledgeDisabledAccounts(t *testing.T) {
	t.Run("on", func(t *testing.T) {
		e := newEnv(t)
		e.cfg.AcknowledgeDisabledAccounts = true
		u, err := e.dir.AddUser(ldapsynctest.User{CN: "Res", Mail: "res@example.com", Disabled: true})
		require.NoError(t, err)
		rep := e.run()
		assert.Equal(t, []string{u.ID}, rep.Added)
		assert.True(t, e.linked()[u.ID].Disabled)

		require.NoError(t, e.dir.Enable(u.DN))
		rep = e.run()
		assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
		assert.Equal(t, []string{u.ID}, rep.Enabled)
		assert.Empty(t, rep.Updated)
		assert.False(t, e.linked()[u.ID].Disabled)

		require.NoError(t, e.dir.Disable(u.DN))
		rep = e.run()
		assert.Equal(t, []string{u.ID}, rep.Disabled)
		assert.True(t, e.linked()[u.ID].Disabled)
		assert.Equal(t, "res@example.com", e.linked()[u.ID].Email)
	})
	t.Run("off", func(t *testing.T) {
		e := newEnv(t)
		u, err := e.dir.AddUser(ldapsynctest.User{CN: "Res", Mail: "res@example.com", Disabled: true})
		require.NoError(t, err)
		e.run()
		assert.False(t, e.linked()[u.ID].Disabled, "the bit is ignored (resource domain)")
		writes := e.target.Writes()
		require.NoError(t, e.dir.Enable(u.DN))
		require.NoError(t, e.dir.Disable(u.DN))
		rep := e.run()
		assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
		assert.Empty(t, rep.Disabled)
		assert.Empty(t, rep.Updated)
		assert.Equal(t, writes, e.target.Writes(), "a change the policy ignores causes no write")
	})
}

func TestFilterEmailDomains(t *testing.T) {
	e := newEnv(t)
	in := e.addUser("In", "", "SMTP:in@example.com", "smtp:in@example.net", "smtp:in@corp.example")
	out := e.addUser("Out", "out@example.net")
	domains, err := ldapsync.ParseDomainList("example.com,corp.example")
	require.NoError(t, err)
	e.cfg.FilterEmailDomains = domains
	e.cfg.MaxSyncDeletions = 10

	rep := e.run()
	assert.Equal(t, []string{in.ID}, rep.Added)
	assert.Contains(t, skippedIDs(rep)[out.ID], "example.net")
	u := e.linked()[in.ID]
	assert.Equal(t, []string{"in@corp.example"}, u.Aliases, "aliases outside the listed domains are dropped")

	// The filter changes: In is filtered out now, Out comes in.
	e.cfg.FilterEmailDomains = []string{"example.net"}
	rep = e.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{out.ID}, rep.Added)
	assert.Equal(t, []string{in.ID}, rep.Unlinked)
	assert.Contains(t, e.target.Unlinked(), in.ID)
}

func TestRemovalPaths(t *testing.T) {
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprintf("DeleteUsers=%v", del), func(t *testing.T) {
			e := newEnv(t)
			syncOU := e.addOU("Sync")
			e.cfg.RootDN = syncOU
			e.cfg.DeleteUsers = del
			e.cfg.MaxSyncDeletions = 10
			e.cfg.FilterEmailDomains = []string{"example.com"}
			deleted := e.addUserIn(syncOU, "Deleted", "deleted@example.com")
			moved := e.addUserIn(syncOU, "Moved", "moved@example.com")
			filtered := e.addUserIn(syncOU, "Filtered", "filtered@example.com")
			noMail := e.addUserIn(syncOU, "NoMail", "nomail@example.com")
			stays := e.addUserIn(syncOU, "Stays", "stays@example.com")
			grp, err := e.dir.AddGroup("Team", deleted.DN, stays.DN)
			require.NoError(t, err)
			grp.DN, err = e.dir.Move(grp.DN, syncOU)
			require.NoError(t, err)
			outside := e.addUser("Outside", "outside@example.com")

			rep := e.run()
			assert.ElementsMatch(t, []string{deleted.ID, moved.ID, filtered.ID, noMail.ID, stays.ID, grp.ID}, rep.Added)
			assert.NotContains(t, e.linked(), outside.ID, "objects outside RootDN are not read")

			require.NoError(t, e.dir.Delete(deleted.DN))
			_, err = e.dir.Move(moved.DN, "CN=Users,"+e.dir.BaseDN())
			require.NoError(t, err)
			require.NoError(t, e.dir.SetMail(filtered.DN, "filtered@elsewhere.example"))
			require.NoError(t, e.dir.SetMail(noMail.DN, ""))

			rep = e.run()
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			removed := []string{deleted.ID, moved.ID, filtered.ID, noMail.ID}
			users := e.linked()
			for _, id := range removed {
				assert.NotContains(t, users, id)
			}
			assert.Contains(t, users, stays.ID)
			if del {
				assert.ElementsMatch(t, removed, rep.Deleted)
				assert.Empty(t, rep.Unlinked)
				assert.Empty(t, e.target.Unlinked(), "deleted objects are gone")
			} else {
				assert.ElementsMatch(t, removed, rep.Unlinked)
				assert.Empty(t, rep.Deleted)
				unl := e.target.Unlinked()
				for _, id := range removed {
					assert.Contains(t, unl, id, "unlinked objects keep their address")
				}
				assert.Equal(t, "moved@example.com", unl[moved.ID].Email)
			}
			assert.Equal(t, []string{grp.ID}, rep.Updated, "the group lost its deleted member")
			assert.Equal(t, []string{stays.ID}, e.target.Groups()[grp.ID].Members)

			// The group goes too: groups are removed by deletion.
			require.NoError(t, e.dir.Delete(grp.DN))
			rep = e.run()
			assert.Equal(t, []string{grp.ID}, rep.Deleted)
			assert.NotContains(t, e.target.Groups(), grp.ID)
		})
	}
}

// TestIncrementalAfterEveryChange applies each kind of change, checks that
// an incremental run picks exactly it up, and finally that the target equals
// what a fresh full sync produces.
func TestIncrementalAfterEveryChange(t *testing.T) {
	e := newEnv(t)
	e.cfg.AcknowledgeDisabledAccounts = true
	e.cfg.MaxSyncDeletions = 5
	var base []ldapsynctest.Entry
	for i := range 20 {
		base = append(base, e.addUser(fmt.Sprintf("User%02d", i), fmt.Sprintf("user%02d@example.com", i)))
	}
	ou := e.addOU("Staff")
	grp, err := e.dir.AddGroup("All", base[0].DN, base[1].DN)
	require.NoError(t, err)
	rep := e.run()
	require.Equal(t, ldapsync.SyncFull, rep.Mode)
	require.Len(t, rep.Added, 21)

	step := func(name string, change func() []string, check func(r *ldapsync.Report, ids []string)) {
		t.Helper()
		ids := change()
		before := e.target.Writes()
		r := e.run()
		assert.Equal(t, ldapsync.SyncIncremental, r.Mode, name)
		check(r, ids)
		n := len(r.Added) + len(r.Updated) + len(r.Disabled) + len(r.Enabled) + len(r.Unlinked) + len(r.Deleted)
		assert.Equal(t, n, e.target.Writes()-before, "%s: one write per reported change", name)
	}
	var added ldapsynctest.Entry
	step("add", func() []string {
		added = e.addUser("New", "new@example.com")
		return []string{added.ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Added)
		assert.Empty(t, r.Updated)
	})
	step("modify", func() []string {
		require.NoError(t, e.dir.SetProxyAddresses(base[2].DN, "SMTP:renamed2@example.com", "smtp:user02@example.com"))
		return []string{base[2].ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Updated)
		u := e.linked()[ids[0]]
		assert.Equal(t, "renamed2@example.com", u.Email)
		assert.Equal(t, []string{"user02@example.com"}, u.Aliases)
	})
	step("rename", func() []string {
		dn, err := e.dir.Rename(base[3].DN, "User03-renamed")
		require.NoError(t, err)
		base[3].DN = dn
		return []string{base[3].ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Updated, "a rename keeps the identity")
		assert.Empty(t, r.Added)
		assert.Empty(t, r.Unlinked)
		assert.Equal(t, base[3].DN, e.linked()[ids[0]].DN)
	})
	step("move inside RootDN", func() []string {
		dn, err := e.dir.Move(base[4].DN, ou)
		require.NoError(t, err)
		base[4].DN = dn
		return []string{base[4].ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Updated)
		assert.Equal(t, base[4].DN, e.linked()[ids[0]].DN)
	})
	step("rename OU (children keep uSNChanged)", func() []string {
		newOU, err := e.dir.Rename(ou, "People")
		require.NoError(t, err)
		ou = newOU
		base[4].DN = "CN=User04," + ou
		return []string{base[4].ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Updated, "the ID enumeration notices the new DN")
		assert.Equal(t, base[4].DN, e.linked()[ids[0]].DN)
	})
	step("disable", func() []string {
		require.NoError(t, e.dir.Disable(base[5].DN))
		return []string{base[5].ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Disabled)
		assert.True(t, e.linked()[ids[0]].Disabled)
	})
	step("enable", func() []string {
		require.NoError(t, e.dir.Enable(base[5].DN))
		return []string{base[5].ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Enabled)
		assert.False(t, e.linked()[ids[0]].Disabled)
	})
	step("group member added", func() []string {
		require.NoError(t, e.dir.AddMember(grp.DN, base[6].DN))
		return []string{grp.ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Updated)
		assert.Equal(t, sorted(base[0].ID, base[1].ID, base[6].ID), e.target.Groups()[grp.ID].Members)
		assert.Equal(t, []string{grp.ID}, e.linked()[base[6].ID].Groups)
	})
	step("group member removed", func() []string {
		require.NoError(t, e.dir.RemoveMember(grp.DN, base[0].DN))
		return []string{grp.ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Equal(t, ids, r.Updated)
		assert.Equal(t, sorted(base[1].ID, base[6].ID), e.target.Groups()[grp.ID].Members)
		assert.Empty(t, e.linked()[base[0].ID].Groups)
	})
	step("delete", func() []string {
		require.NoError(t, e.dir.Delete(base[8].DN))
		return []string{base[8].ID}
	}, func(r *ldapsync.Report, ids []string) {
		assert.Contains(t, r.Unlinked, ids[0])
		assert.NotContains(t, e.linked(), ids[0])
	})
	step("no change", func() []string { return nil }, func(r *ldapsync.Report, ids []string) {
		assert.Empty(t, r.Added)
		assert.Empty(t, r.Updated)
		assert.Empty(t, r.Unlinked)
	})

	// The incremental target equals a fresh full sync.
	fresh := ldapsync.NewMemoryTarget()
	s, err := ldapsync.NewSyncer(e.cfg, fresh, ldapsync.NewMemoryStore())
	require.NoError(t, err)
	_, err = s.Run(context.Background())
	require.NoError(t, err)
	want, err := fresh.Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, want, e.linked())
	assert.Equal(t, fresh.Groups(), e.target.Groups())
}

// TestMoveOutOfRootDN moves a user from the synchronised OU to another one.
func TestMoveOutOfRootDN(t *testing.T) {
	e := newEnv(t)
	in := e.addOU("In")
	outside := e.addOU("Out")
	e.cfg.RootDN = in
	e.cfg.MaxSyncDeletions = 1
	u := e.addUserIn(in, "Mover", "mover@example.com")
	e.run()
	require.Contains(t, e.linked(), u.ID)
	_, err := e.dir.Move(u.DN, outside)
	require.NoError(t, err)
	rep := e.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{u.ID}, rep.Unlinked)
	// And back in: linked again.
	_, err = e.dir.Move("CN=Mover,"+outside, in)
	require.NoError(t, err)
	rep = e.run()
	assert.Equal(t, []string{u.ID}, rep.Added)
	assert.Contains(t, e.linked(), u.ID)
	assert.NotContains(t, e.target.Unlinked(), u.ID)
}

func TestIncrementalReadsOnlyChanges(t *testing.T) {
	e := newEnv(t)
	for i := range 300 {
		e.addUser(fmt.Sprintf("U%03d", i), fmt.Sprintf("u%03d@example.com", i))
	}
	e.run()
	before := e.dir.Stats()
	rep := e.run()
	after := e.dir.Stats()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Zero(t, after.Entries-before.Entries-2, "an idle directory: only the root DSE and DSA entries are read")

	e.addUser("Late", "late@example.com")
	before = e.dir.Stats()
	rep = e.run()
	after = e.dir.Stats()
	assert.Len(t, rep.Added, 1)
	// Root DSE + DSA + one changed entry (named by DirSync, then read
	// whole); no ID enumeration: DirSync reports deletions itself and no
	// container changed.
	assert.Equal(t, int64(2+2), after.Entries-before.Entries)

	// A deletion is read as one tombstone.
	require.NoError(t, e.dir.Delete("CN=U000,CN=Users,"+e.dir.BaseDN()))
	e.cfg.MaxSyncDeletions = 1
	before = e.dir.Stats()
	rep = e.run()
	after = e.dir.Stats()
	assert.Len(t, rep.Unlinked, 1)
	assert.Equal(t, int64(2+1), after.Entries-before.Entries)
}

func TestPagingAboveSizeLimit(t *testing.T) {
	e := newEnv(t, ldapsynctest.WithSizeLimit(100), ldapsynctest.WithMaxPageSize(100))
	e.cfg.PageSize = 40
	for i := range 250 {
		e.addUser(fmt.Sprintf("P%03d", i), fmt.Sprintf("p%03d@example.com", i))
	}
	rep := e.run()
	assert.Len(t, rep.Added, 250)
	assert.Len(t, e.linked(), 250)
}

func TestRangeRetrievalLargeGroup(t *testing.T) {
	e := newEnv(t)
	var dns, ids []string
	for i := range 3000 {
		u := e.addUser(fmt.Sprintf("M%04d", i), fmt.Sprintf("m%04d@example.com", i))
		dns = append(dns, u.DN)
		ids = append(ids, u.ID)
	}
	grp, err := e.dir.AddGroup("Everyone", dns...)
	require.NoError(t, err)
	e.run()
	g := e.target.Groups()[grp.ID]
	assert.Len(t, g.Members, 3000, "range retrieval followed to the end")
	assert.Equal(t, sortedCopy(ids), g.Members)

	extra := e.addUser("M3000", "m3000@example.com")
	require.NoError(t, e.dir.AddMember(grp.DN, extra.DN))
	rep := e.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Contains(t, rep.Updated, grp.ID)
	assert.Len(t, e.target.Groups()[grp.ID].Members, 3001)
}

func TestDeletionLimit(t *testing.T) {
	setup := func(t *testing.T, limit int) (*env, []ldapsynctest.Entry) {
		e := newEnv(t)
		e.cfg.MaxSyncDeletions = limit
		var us []ldapsynctest.Entry
		for i := range 6 {
			us = append(us, e.addUser(fmt.Sprintf("D%d", i), fmt.Sprintf("d%d@example.com", i)))
		}
		e.run()
		for _, u := range us[:3] {
			require.NoError(t, e.dir.Delete(u.DN))
		}
		return e, us
	}
	t.Run("above", func(t *testing.T) {
		e, us := setup(t, 2)
		newcomer := e.addUser("Newcomer", "newcomer@example.com")
		require.NoError(t, e.dir.SetMail(us[4].DN, "changed@example.com"))
		rep, err := e.tryRun()
		require.Error(t, err)
		assert.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
		var dle *ldapsync.DeletionLimitError
		require.ErrorAs(t, err, &dle)
		assert.Equal(t, 3, dle.Planned)
		assert.Equal(t, 2, dle.Limit)
		require.NotNil(t, rep)
		assert.ElementsMatch(t, []string{us[0].ID, us[1].ID, us[2].ID}, rep.Withheld)
		assert.Empty(t, rep.Unlinked)
		assert.Equal(t, []string{newcomer.ID}, rep.Added, "everything else is applied")
		assert.Equal(t, []string{us[4].ID}, rep.Updated)
		users := e.linked()
		assert.Len(t, users, 7, "no removal applied")
		assert.Equal(t, "changed@example.com", users[us[4].ID].Email)

		// Still over the limit next time: still withheld, nothing else to do.
		rep, err = e.tryRun()
		assert.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
		assert.Len(t, rep.Withheld, 3)
		assert.Empty(t, rep.Added)

		// Raising the limit to exactly the planned count applies them.
		e.cfg.MaxSyncDeletions = 3
		rep = e.run()
		assert.ElementsMatch(t, []string{us[0].ID, us[1].ID, us[2].ID}, rep.Unlinked)
		assert.Empty(t, rep.Withheld)
		assert.Len(t, e.linked(), 4)
	})
	t.Run("at", func(t *testing.T) {
		e, us := setup(t, 3)
		rep := e.run()
		assert.ElementsMatch(t, []string{us[0].ID, us[1].ID, us[2].ID}, rep.Unlinked)
	})
	t.Run("below", func(t *testing.T) {
		e, us := setup(t, 5)
		rep := e.run()
		assert.ElementsMatch(t, []string{us[0].ID, us[1].ID, us[2].ID}, rep.Unlinked)
	})
	t.Run("zero allows none", func(t *testing.T) {
		e, _ := setup(t, 0)
		rep, err := e.tryRun()
		assert.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
		assert.Len(t, rep.Withheld, 3)
		assert.Len(t, e.linked(), 6)
	})
	t.Run("empty directory read", func(t *testing.T) {
		// Everything gone at once (a wrong RootDN, an emptied OU): the limit
		// stops the mass removal.
		e, us := setup(t, 5)
		for _, u := range us[3:] {
			require.NoError(t, e.dir.Delete(u.DN))
		}
		rep, err := e.tryRun()
		assert.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
		assert.Len(t, rep.Withheld, 6)
		assert.Len(t, e.linked(), 6)
	})
}

func TestDuplicateAddresses(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("Alice", "alice@example.com")
	e.run()

	// Bob claims Alice's address as an alias: neither wins.
	bob := e.addUser("Bob", "", "SMTP:bob@example.com", "smtp:alice@example.com")
	carol := e.addUser("Carol", "carol@example.com")
	dan := e.addUser("Dan", "Carol@Example.com")
	rep := e.run()
	skipped := skippedIDs(rep)
	assert.Contains(t, skipped[alice.ID], "duplicate address alice@example.com")
	assert.Contains(t, skipped[alice.ID], "CN=Bob")
	assert.Contains(t, skipped[bob.ID], "CN=Alice")
	assert.Contains(t, skipped[carol.ID], "CN=Dan")
	assert.Contains(t, skipped[dan.ID], "CN=Carol")
	assert.Empty(t, rep.Added, "no new claimant is added")
	assert.Empty(t, rep.Unlinked, "the linked claimant is kept as it was")
	assert.NotEmpty(t, rep.Warnings)
	users := e.linked()
	assert.Contains(t, users, alice.ID)
	assert.NotContains(t, users, bob.ID)
	assert.NotContains(t, users, carol.ID)
	assert.NotContains(t, users, dan.ID)

	// Resolved in the directory: both proceed.
	require.NoError(t, e.dir.SetProxyAddresses(bob.DN, "SMTP:bob@example.com"))
	require.NoError(t, e.dir.SetMail(dan.DN, "dan@example.com"))
	rep = e.run()
	assert.ElementsMatch(t, []string{bob.ID, carol.ID, dan.ID}, rep.Added)
	assert.Empty(t, rep.Skipped[1:], "only Administrator is still skipped")
}

func TestCrashAndRerunConverges(t *testing.T) {
	// Build the same directory change for every crash point: a full run
	// that is interrupted, then an incremental one.
	type world struct {
		e    *env
		a, b ldapsynctest.Entry
		grp  ldapsynctest.Entry
	}
	build := func(t *testing.T) *world {
		e := newEnv(t)
		e.cfg.MaxSyncDeletions = 10
		e.cfg.AcknowledgeDisabledAccounts = true
		w := &world{e: e}
		w.a = e.addUser("A", "a@example.com")
		w.b = e.addUser("B", "b@example.com")
		e.addUser("C", "c@example.com")
		var err error
		w.grp, err = e.dir.AddGroup("G", w.a.DN, w.b.DN)
		require.NoError(t, err)
		return w
	}
	change := func(t *testing.T, w *world) {
		require.NoError(t, w.e.dir.Delete(w.a.DN))
		require.NoError(t, w.e.dir.Disable(w.b.DN))
		w.e.addUser("D", "d@example.com")
		w.e.addUser("E", "e@example.com")
	}
	// Expected end state: a clean run of the same history.
	ref := build(t)
	ref.e.run()
	change(t, ref)
	ref.e.run()
	wantLinked := ref.e.linked()
	fullWrites := 4 // A, B, C, G
	incWrites := ref.e.target.Writes() - fullWrites

	normalise := func(m map[string]ldapsync.User) map[string]string {
		out := map[string]string{}
		for _, u := range m {
			out[u.Email] = fmt.Sprintf("%v %v", u.Disabled, len(u.Groups))
		}
		return out
	}
	for phase, total := range map[string]int{"full": fullWrites, "incremental": incWrites} {
		for n := 0; n < total; n++ {
			t.Run(fmt.Sprintf("%s/fail after %d writes", phase, n), func(t *testing.T) {
				w := build(t)
				if phase == "incremental" {
					w.e.run()
					change(t, w)
				}
				w.e.target.FailAfter(n)
				_, err := w.e.tryRun()
				require.Error(t, err)
				assert.ErrorIs(t, err, ldapsync.ErrTarget)
				assert.ErrorIs(t, err, ldapsync.ErrInjected)
				w.e.target.FailAfter(-1)
				if phase == "full" {
					w.e.run()
					change(t, w)
				}
				w.e.run()
				assert.Equal(t, normalise(wantLinked), normalise(w.e.linked()))
				assert.Contains(t, w.e.target.Unlinked(), w.a.ID)
				// A further run has nothing left to do.
				before := w.e.target.Writes()
				rep := w.e.run()
				assert.Equal(t, before, w.e.target.Writes(), "converged: %+v", rep)
			})
		}
	}
	t.Run("state save fails after the writes", func(t *testing.T) {
		w := build(t)
		fs := &failingStore{StateStore: ldapsync.NewMemoryStore()}
		w.e.store = fs
		w.e.run()
		change(t, w)
		fs.fails = 1
		_, err := w.e.tryRun()
		require.ErrorIs(t, err, errSaveFailed)
		w.e.run()
		assert.Equal(t, normalise(wantLinked), normalise(w.e.linked()))
		before := w.e.target.Writes()
		w.e.run()
		assert.Equal(t, before, w.e.target.Writes())
	})
}

func TestReadEndingEarlyRemovesNothing(t *testing.T) {
	e := newEnv(t)
	e.cfg.MaxSyncDeletions = 100
	var us []ldapsynctest.Entry
	for i := range 30 {
		us = append(us, e.addUser(fmt.Sprintf("R%02d", i), fmt.Sprintf("r%02d@example.com", i)))
	}
	e.cfg.PageSize = 10
	e.run()
	st, err := e.store.Load(context.Background())
	require.NoError(t, err)

	t.Run("incremental", func(t *testing.T) {
		require.NoError(t, e.dir.Delete(us[0].DN))
		// The connection drops before DirSync's tombstone arrives (the
		// root DSE and the DSA object are the first two entries).
		require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{DropAfterEntries: 2}))
		before := e.target.Writes()
		_, err := e.tryRun()
		require.Error(t, err)
		assert.ErrorIs(t, err, ldapsync.ErrRead)
		assert.Equal(t, before, e.target.Writes(), "nothing written")
		assert.Contains(t, e.linked(), us[0].ID)
		after, err := e.store.Load(context.Background())
		require.NoError(t, err)
		assert.Equal(t, st.Watermark, after.Watermark, "state not advanced")
	})
	t.Run("full after DC switch", func(t *testing.T) {
		require.NoError(t, e.dir.SwitchDC("DC2"))
		require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{DropAfterEntries: 12}))
		_, err := e.tryRun()
		assert.ErrorIs(t, err, ldapsync.ErrRead)
		assert.Len(t, e.linked(), 30)
	})
	t.Run("search fails", func(t *testing.T) {
		require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{SearchResultCode: 51}))
		_, err := e.tryRun()
		assert.ErrorIs(t, err, ldapsync.ErrRead)
		assert.Len(t, e.linked(), 30)
	})
	t.Run("recovers", func(t *testing.T) {
		require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{}))
		rep := e.run()
		assert.Equal(t, ldapsync.SyncFull, rep.Mode, "another DC answered")
		assert.Equal(t, []string{us[0].ID}, rep.Unlinked)
		assert.Empty(t, rep.Added, "unchanged objects are not rewritten")
		assert.Empty(t, rep.Updated)
	})
}

func TestWatermarkFromAnotherDCForcesFullRun(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("W", "w@example.com")
	e.run()
	backup := e.dir.Backup()

	require.NoError(t, e.dir.SwitchDC("DC2"))
	rep := e.run()
	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.Contains(t, rep.Warnings[0], "another domain controller")
	assert.Empty(t, rep.Added)
	assert.Empty(t, rep.Updated)

	rep = e.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)

	// A restore rolls USNs back under a new invocation ID: changes made
	// after it reuse USNs already seen, so only a full read is safe.
	require.NoError(t, e.dir.SetMail(u.DN, "w2@example.com"))
	e.run()
	require.NoError(t, e.dir.Restore(backup))
	require.NoError(t, e.dir.SetMail(u.DN, "w3@example.com"))
	rep = e.run()
	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.Equal(t, "w3@example.com", e.linked()[u.ID].Email)
}

func TestPlanWritesNothing(t *testing.T) {
	e := newEnv(t)
	a := e.addUser("A", "a@example.com")
	b := e.addUser("B", "b@example.com")
	e.run()
	require.NoError(t, e.dir.Delete(a.DN))
	require.NoError(t, e.dir.SetMail(b.DN, "b2@example.com"))
	c := e.addUser("C", "c@example.com")
	before := e.target.Writes()
	st, err := e.store.Load(context.Background())
	require.NoError(t, err)

	plan, err := e.syncer().Plan(context.Background())
	assert.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
	require.NotNil(t, plan)
	assert.Equal(t, ldapsync.SyncIncremental, plan.Mode)
	ops := map[ldapsync.ChangeOp][]string{}
	for _, c := range plan.Changes {
		ops[c.Op] = append(ops[c.Op], c.ID)
	}
	assert.Equal(t, []string{c.ID}, ops[ldapsync.OpAdd])
	assert.Equal(t, []string{b.ID}, ops[ldapsync.OpUpdate])
	require.Len(t, plan.Withheld, 1)
	assert.Equal(t, ldapsync.OpUnlink, plan.Withheld[0].Op)
	assert.Equal(t, a.ID, plan.Withheld[0].ID)
	assert.Equal(t, before, e.target.Writes())
	after, err := e.store.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, st, after)

	e.cfg.MaxSyncDeletions = 1
	plan, err = e.syncer().Plan(context.Background())
	require.NoError(t, err)
	assert.Len(t, plan.Changes, 3)
	assert.True(t, plan.Changes[2].IsRemoval())
}

func TestContextCancel(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		e.addUser(fmt.Sprintf("C%02d", i), fmt.Sprintf("c%02d@example.com", i))
	}
	t.Run("before the run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := e.syncer().Run(ctx)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, e.target.Writes())
	})
	t.Run("during the read", func(t *testing.T) {
		require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{Latency: 20 * 1e6}))
		e.cfg.PageSize = 2
		ctx, cancel := context.WithTimeout(context.Background(), 100*1e6)
		defer cancel()
		_, err := e.syncer().Run(ctx)
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		assert.Zero(t, e.target.Writes())
		require.NoError(t, e.dir.SetFaults(ldapsynctest.Faults{}))
	})
	t.Run("during the writes", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		tg := &cancelAfter{MemoryTarget: ldapsync.NewMemoryTarget(), n: 3, cancel: cancel}
		s, err := ldapsync.NewSyncer(e.cfg, tg, e.store)
		require.NoError(t, err)
		_, err = s.Run(ctx)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 3, tg.Writes())
		st, err := e.store.Load(context.Background())
		require.NoError(t, err)
		assert.Empty(t, st.Objects, "state not saved")
	})
}

// cancelAfter cancels the run's context after n upserts.
type cancelAfter struct {
	*ldapsync.MemoryTarget
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Upsert(ctx context.Context, u ldapsync.User) error {
	if err := c.MemoryTarget.Upsert(ctx, u); err != nil {
		return err
	}
	if c.MemoryTarget.Writes() == c.n {
		c.cancel()
	}
	return nil
}

func TestRangeRetrievalOfProxyAddressesAndSmallRanges(t *testing.T) {
	e := newEnv(t, ldapsynctest.WithMaxValRange(3))
	proxies := []string{"SMTP:main@example.com"}
	var want []string
	for i := range 7 {
		a := fmt.Sprintf("alias%d@example.com", i)
		proxies = append(proxies, "smtp:"+a)
		want = append(want, a)
	}
	u := e.addUser("Many", "", proxies...)
	var dns, ids []string
	for i := range 10 {
		m := e.addUser(fmt.Sprintf("G%d", i), fmt.Sprintf("g%d@example.com", i))
		dns = append(dns, m.DN)
		ids = append(ids, m.ID)
	}
	grp, err := e.dir.AddGroup("Ten", dns...)
	require.NoError(t, err)
	e.run()
	got := e.linked()[u.ID]
	assert.Equal(t, "main@example.com", got.Email)
	assert.Equal(t, want, got.Aliases, "every range of proxyAddresses read")
	assert.Equal(t, sortedCopy(ids), e.target.Groups()[grp.ID].Members)
}

func TestTargetAheadOrBehindState(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.cfg.AcknowledgeDisabledAccounts = true
	a := e.addUser("A", "a@example.com")
	b := e.addUser("B", "b@example.com")
	require.NoError(t, e.target.Upsert(ctx, ldapsync.User{ID: "foreign", Email: "x@other.example"}))
	e.run()

	t.Run("foreign objects in the target are left alone", func(t *testing.T) {
		assert.Contains(t, e.linked(), "foreign")
	})
	t.Run("a disable reaches a target that lost the user", func(t *testing.T) {
		require.NoError(t, e.target.Delete(ctx, a.ID))
		require.NoError(t, e.dir.Disable(a.DN))
		rep := e.run()
		assert.Equal(t, []string{a.ID}, rep.Disabled)
		u := e.linked()[a.ID]
		assert.True(t, u.Disabled)
		assert.Equal(t, "a@example.com", u.Email)
	})
	t.Run("a new state over a filled target writes only differences", func(t *testing.T) {
		e.store = ldapsync.NewMemoryStore()
		require.NoError(t, e.target.Delete(ctx, b.ID))
		before := e.target.Writes()
		rep := e.run()
		assert.Equal(t, ldapsync.SyncFull, rep.Mode)
		assert.Equal(t, []string{b.ID}, rep.Added, "only the object the target lacks")
		assert.Equal(t, before+1, e.target.Writes())
		assert.Contains(t, e.linked(), "foreign")
	})
}

// TestContainerMovedOutOfRootDN: an OU moved out of RootDN takes its users
// out of scope without changing them (DirSync does not name them); the
// changed container makes the run enumerate IDs and remove them.
func TestContainerMovedOutOfRootDN(t *testing.T) {
	e := newEnv(t)
	root := e.addOU("Root")
	away := e.addOU("Away")
	team, err := e.dir.AddOU("Team", root)
	require.NoError(t, err)
	e.cfg.RootDN = root
	e.cfg.MaxSyncDeletions = 10
	u := e.addUserIn(team.DN, "Member", "member@example.com")
	stays := e.addUserIn(root, "Stays", "stays@example.com")
	e.run()
	require.Contains(t, e.linked(), u.ID)

	// Nothing changed: no enumeration.
	before := e.dir.Stats()
	rep := e.run()
	assert.Equal(t, int64(2), e.dir.Stats().Entries-before.Entries)
	assert.Empty(t, rep.Unlinked)

	_, err = e.dir.Move(team.DN, away)
	require.NoError(t, err)
	rep = e.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{u.ID}, rep.Unlinked)
	assert.NotContains(t, e.linked(), u.ID)
	assert.Contains(t, e.linked(), stays.ID)
}
