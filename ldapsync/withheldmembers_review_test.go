package ldapsync_test

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// wmRig drives runs over one scope (an OU as RootDN) with a chosen state
// store and either one Syncer for every run or a new one per run (or
// full reads on every run); before
// each run it plans (dry run) with the Syncer that then runs, and checks
// that the run makes exactly the changes the plan showed.
type wmRig struct {
	t     *testing.T
	e     *env
	reuse bool
	s     *ldapsync.Syncer
	scope string
	out   string // a container outside RootDN
}

func wmVariants(t *testing.T, f func(t *testing.T, r *wmRig)) {
	for _, store := range []string{"memory", "file"} {
		for _, reuse := range []bool{true, false} {
			name := store + "/new-syncer-per-run"
			if reuse {
				name = store + "/one-syncer"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				if store == "file" {
					e.store = ldapsync.NewFileStore(filepath.Join(t.TempDir(), "state"))
				}
				r := &wmRig{t: t, e: e, reuse: reuse}
				r.scope = e.addOU("Sync")
				r.out = "CN=Users," + e.dir.BaseDN()
				e.cfg.RootDN = r.scope
				e.cfg.MaxSyncDeletions = 0
				f(t, r)
			})
		}
	}
	t.Run("memory/full-read-every-run", func(t *testing.T) {
		e := newEnv(t)
		e.opts = []ldapsync.Option{ldapsync.WithFullSyncEvery(time.Nanosecond)}
		r := &wmRig{t: t, e: e}
		r.scope = e.addOU("Sync")
		r.out = "CN=Users," + e.dir.BaseDN()
		e.cfg.RootDN = r.scope
		e.cfg.MaxSyncDeletions = 0
		f(t, r)
	})
}

func (r *wmRig) user(cn string) ldapsynctest.Entry {
	return r.e.addUserIn(r.scope, cn, cn+"@example.com")
}

func (r *wmRig) group(name string, members ...ldapsynctest.Entry) ldapsynctest.Entry {
	r.t.Helper()
	dns := make([]string, len(members))
	for i, m := range members {
		dns[i] = m.DN
	}
	g, err := r.e.dir.AddGroup(name, dns...)
	require.NoError(r.t, err)
	g.DN, err = r.e.dir.Move(g.DN, r.scope)
	require.NoError(r.t, err)
	return g
}

// limit sets MaxSyncDeletions; a reused Syncer is rebuilt to take it.
func (r *wmRig) limit(n int) {
	r.e.cfg.MaxSyncDeletions = n
	r.s = nil
}

func changeIDs(cs []ldapsync.Change) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	return ids
}

func reportIDs(rep *ldapsync.Report) []string {
	var ids []string
	for _, l := range [][]string{rep.Added, rep.Updated, rep.Disabled, rep.Enabled, rep.Unlinked, rep.Deleted} {
		ids = append(ids, l...)
	}
	sort.Strings(ids)
	return ids
}

// run plans, then runs; withheld says whether the deletion limit is
// expected to withhold removals.
func (r *wmRig) run(withheld bool) *ldapsync.Report {
	r.t.Helper()
	ctx := context.Background()
	if r.s == nil || !r.reuse {
		r.s = r.e.syncer()
	}
	p, perr := r.s.Plan(ctx)
	rep, err := r.s.Run(ctx)
	if withheld {
		require.ErrorIs(r.t, perr, ldapsync.ErrDeletionLimit)
		require.ErrorIs(r.t, err, ldapsync.ErrDeletionLimit)
	} else {
		require.NoError(r.t, perr)
		require.NoError(r.t, err)
	}
	require.NotNil(r.t, p)
	require.NotNil(r.t, rep)
	assert.Equal(r.t, changeIDs(p.Changes), reportIDs(rep), "the run makes the changes the plan showed")
	assert.Equal(r.t, changeIDs(p.Withheld), sortedCopy(rep.Withheld), "the run withholds what the plan withheld")
	groups := r.e.target.Groups()
	for _, c := range p.Changes {
		if c.Group != nil {
			assert.Equal(r.t, c.Group.Members, groups[c.ID].Members, "group %s as planned", c.ID)
		}
	}
	return rep
}

// settled requires a run that writes nothing.
func (r *wmRig) settled(withheld bool) *ldapsync.Report {
	r.t.Helper()
	w := r.e.target.Writes()
	rep := r.run(withheld)
	assert.Empty(r.t, rep.Added)
	assert.Empty(r.t, rep.Updated)
	assert.Empty(r.t, rep.Unlinked)
	assert.Empty(r.t, rep.Deleted)
	assert.Equal(r.t, w, r.e.target.Writes(), "a settled state writes nothing")
	return rep
}

func (r *wmRig) members(g ldapsynctest.Entry) []string {
	return r.e.target.Groups()[g.ID].Members
}

// A withheld user who comes back into scope (undeleted, or moved back in)
// is synchronised as the directory has it: undeleted, it lost its group
// memberships (as on Active Directory) and leaves the group; moved back,
// it is still a member and the group stays as it is. Raising the limit
// afterwards removes nothing.
func TestWithheldReviewUserComesBack(t *testing.T) {
	for _, how := range []string{"undelete", "move-back"} {
		t.Run(how, func(t *testing.T) {
			wmVariants(t, func(t *testing.T, r *wmRig) {
				alice, bob, carol := r.user("alice"), r.user("bob"), r.user("carol")
				staff := r.group("Staff", alice, bob, carol)
				r.run(false)
				require.Equal(t, sorted(alice.ID, bob.ID, carol.ID), r.members(staff))

				if how == "undelete" {
					require.NoError(t, r.e.dir.Delete(bob.DN))
				} else {
					_, err := r.e.dir.Move(bob.DN, r.out)
					require.NoError(t, err)
				}
				for range 2 {
					rep := r.run(true)
					assert.Equal(t, []string{bob.ID}, rep.Withheld)
					assert.Empty(t, rep.Updated)
					assert.Equal(t, sorted(alice.ID, bob.ID, carol.ID), r.members(staff))
				}

				if how == "undelete" {
					tomb, err := r.e.dir.DN(bob.ID)
					require.NoError(t, err)
					_, err = r.e.dir.Undelete(tomb, r.scope)
					require.NoError(t, err)
					require.NoError(t, r.e.dir.SetMail(mustDN(t, r.e, bob.ID), "bob@example.com"))
					rep := r.run(false)
					assert.Empty(t, rep.Withheld)
					assert.Empty(t, rep.Unlinked)
					assert.Contains(t, rep.Updated, staff.ID, "Bob lost his membership when deleted")
					assert.Equal(t, sorted(alice.ID, carol.ID), r.members(staff))
				} else {
					_, err := r.e.dir.Move(mustDN(t, r.e, bob.ID), r.scope)
					require.NoError(t, err)
					rep := r.run(false)
					assert.Empty(t, rep.Withheld)
					assert.Empty(t, rep.Unlinked)
					assert.NotContains(t, rep.Updated, staff.ID)
					assert.Equal(t, sorted(alice.ID, bob.ID, carol.ID), r.members(staff))
				}
				assert.Contains(t, r.e.linked(), bob.ID)
				want := r.members(staff)
				r.settled(false)
				r.limit(5)
				r.settled(false)
				assert.Equal(t, want, r.members(staff))
				assert.Contains(t, r.e.linked(), bob.ID)
			})
		})
	}
}

func mustDN(t *testing.T, e *env, id string) string {
	t.Helper()
	dn, err := e.dir.DN(id)
	require.NoError(t, err)
	return dn
}

// A group deleted while it keeps a withheld member: its deletion is a
// removal too, withheld with the user's; the group stays in the target
// with every member until both removals are allowed.
func TestWithheldReviewGroupDeleted(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		alice, bob := r.user("alice"), r.user("bob")
		staff := r.group("Staff", alice, bob)
		r.run(false)

		require.NoError(t, r.e.dir.Delete(bob.DN))
		r.run(true)
		r.settled(true)
		require.NoError(t, r.e.dir.Delete(staff.DN))
		for _, n := range []int{0, 1} {
			r.limit(n)
			rep := r.run(true)
			assert.Equal(t, sorted(bob.ID, staff.ID), sortedCopy(rep.Withheld), "limit %d", n)
			assert.Empty(t, rep.Updated)
			require.Contains(t, r.e.target.Groups(), staff.ID)
			assert.Equal(t, sorted(alice.ID, bob.ID), r.members(staff))
			r.settled(true)
		}
		r.limit(2)
		rep := r.run(false)
		assert.Equal(t, []string{bob.ID}, rep.Unlinked)
		assert.Equal(t, []string{staff.ID}, rep.Deleted)
		assert.NotContains(t, r.e.target.Groups(), staff.ID)
		r.settled(false)
	})
}

// A group that leaves scope and comes back (moved out and back, or
// deleted and undeleted with its members set again) while a member's
// removal is withheld must still hold that member: the member stays
// linked, and the doc promises it stays in its groups until its removal
// is allowed.
func TestWithheldReviewGroupLeavesAndReturns(t *testing.T) {
	for _, how := range []string{"move", "undelete"} {
		t.Run(how, func(t *testing.T) {
			wmVariants(t, func(t *testing.T, r *wmRig) {
				alice, bob := r.user("alice"), r.user("bob")
				staff := r.group("Staff", alice, bob)
				r.run(false)

				require.NoError(t, r.e.dir.Delete(bob.DN))
				r.run(true)
				if how == "move" {
					_, err := r.e.dir.Move(staff.DN, r.out)
					require.NoError(t, err)
				} else {
					require.NoError(t, r.e.dir.Delete(staff.DN))
				}
				rep := r.run(true)
				assert.Equal(t, sorted(bob.ID, staff.ID), sortedCopy(rep.Withheld))
				assert.Equal(t, sorted(alice.ID, bob.ID), r.members(staff))
				if how == "move" {
					_, err := r.e.dir.Move(mustDN(t, r.e, staff.ID), r.scope)
					require.NoError(t, err)
				} else {
					dn, err := r.e.dir.Undelete(mustDN(t, r.e, staff.ID), r.scope)
					require.NoError(t, err)
					require.NoError(t, r.e.dir.AddMember(dn, alice.DN))
				}
				rep = r.run(true)
				assert.Equal(t, []string{bob.ID}, rep.Withheld)
				assert.Contains(t, r.e.linked(), bob.ID)
				assert.Equal(t, sorted(alice.ID, bob.ID), r.members(staff), "Bob's removal is withheld: he stays in Staff")
				r.settled(true)
				r.limit(1)
				rep = r.run(false)
				assert.Equal(t, []string{bob.ID}, rep.Unlinked)
				assert.Equal(t, []string{alice.ID}, r.members(staff))
				r.settled(false)
			})
		})
	}
}

// A withheld user taken out of a group in the directory (its own removal
// withheld because it left scope). The doc promises a withheld user stays
// linked and in its groups until its removal is allowed; whether a group
// it was taken out of meanwhile still counts as one of them it does not
// say (the run keeps it there, as planned), so only the untouched group
// is asserted. Once the removal is allowed, both groups lose it.
func TestWithheldReviewRemovedFromGroup(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		alice, bob := r.user("alice"), r.user("bob")
		staff := r.group("Staff", alice, bob)
		other := r.group("Other", alice, bob)
		r.run(false)

		dn, err := r.e.dir.Move(bob.DN, r.out)
		require.NoError(t, err)
		r.run(true)
		require.NoError(t, r.e.dir.RemoveMember(staff.DN, dn))
		for range 2 {
			rep := r.run(true)
			assert.Equal(t, []string{bob.ID}, rep.Withheld)
			assert.Contains(t, r.e.linked(), bob.ID)
			assert.Equal(t, sorted(alice.ID, bob.ID), r.members(other))
		}
		r.limit(1)
		rep := r.run(false)
		assert.Equal(t, []string{bob.ID}, rep.Unlinked)
		assert.Equal(t, []string{alice.ID}, r.members(staff))
		assert.Equal(t, []string{alice.ID}, r.members(other))
		r.settled(false)
	})
}

// Two groups share the withheld user; one changes for another reason.
// Both keep the user; the changed one gets its change.
func TestWithheldReviewTwoGroups(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		alice, bob, carol := r.user("alice"), r.user("bob"), r.user("carol")
		g1 := r.group("One", alice, bob)
		g2 := r.group("Two", bob, carol)
		r.run(false)

		require.NoError(t, r.e.dir.Delete(bob.DN))
		r.run(true)
		r.settled(true)
		require.NoError(t, r.e.dir.RemoveMember(g2.DN, carol.DN))
		rep := r.run(true)
		assert.Equal(t, []string{g2.ID}, rep.Updated)
		assert.Equal(t, sorted(alice.ID, bob.ID), r.members(g1))
		assert.Equal(t, []string{bob.ID}, r.members(g2))
		r.settled(true)
		require.NoError(t, r.e.dir.AddMember(g1.DN, carol.DN))
		rep = r.run(true)
		assert.Equal(t, []string{g1.ID}, rep.Updated)
		assert.Equal(t, sorted(alice.ID, bob.ID, carol.ID), r.members(g1))
		assert.Equal(t, []string{bob.ID}, r.members(g2))
		r.settled(true)

		r.limit(1)
		rep = r.run(false)
		assert.Equal(t, []string{bob.ID}, rep.Unlinked)
		assert.Equal(t, sorted(g1.ID, g2.ID), sortedCopy(rep.Updated))
		assert.Equal(t, sorted(alice.ID, carol.ID), r.members(g1))
		assert.Empty(t, r.members(g2))
		r.settled(false)
	})
}

// A withheld contact stays in its group as a withheld user does.
func TestWithheldReviewContact(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		r.e.cfg.IncludeContacts = true
		alice := r.user("alice")
		ext, err := r.e.dir.AddContact(ldapsynctest.Contact{CN: "Ext", Mail: "ext@partner.example", Parent: r.scope})
		require.NoError(t, err)
		staff := r.group("Staff", alice, ext)
		r.run(false)
		require.Equal(t, sorted(alice.ID, ext.ID), r.members(staff))

		require.NoError(t, r.e.dir.Delete(ext.DN))
		for range 3 {
			rep := r.run(true)
			assert.Equal(t, []string{ext.ID}, rep.Withheld)
			assert.Empty(t, rep.Updated)
			assert.Equal(t, sorted(alice.ID, ext.ID), r.members(staff))
		}
		r.limit(1)
		rep := r.run(false)
		assert.Equal(t, []string{ext.ID}, rep.Unlinked)
		assert.Equal(t, []string{staff.ID}, rep.Updated)
		assert.Equal(t, []string{alice.ID}, r.members(staff))
		r.settled(false)
	})
}

// The limit raised only partly keeps everything withheld, also when a
// further removal joins later; exactly enough applies them all at once.
func TestWithheldReviewPartialLimit(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		alice, bob, carol, dave := r.user("alice"), r.user("bob"), r.user("carol"), r.user("dave")
		staff := r.group("Staff", alice, bob, carol, dave)
		r.run(false)
		all := sorted(alice.ID, bob.ID, carol.ID, dave.ID)

		require.NoError(t, r.e.dir.Delete(bob.DN))
		require.NoError(t, r.e.dir.Delete(carol.DN))
		rep := r.run(true)
		assert.Equal(t, sorted(bob.ID, carol.ID), sortedCopy(rep.Withheld))
		assert.Equal(t, all, r.members(staff))
		r.limit(1)
		rep = r.run(true)
		assert.Equal(t, sorted(bob.ID, carol.ID), sortedCopy(rep.Withheld))
		assert.Equal(t, all, r.members(staff))
		r.limit(2)
		_, err := r.e.dir.Move(dave.DN, r.out)
		require.NoError(t, err)
		rep = r.run(true)
		assert.Equal(t, sorted(bob.ID, carol.ID, dave.ID), sortedCopy(rep.Withheld))
		assert.Empty(t, rep.Updated)
		assert.Equal(t, all, r.members(staff))
		r.settled(true)
		r.limit(3)
		rep = r.run(false)
		assert.Equal(t, sorted(bob.ID, carol.ID, dave.ID), sortedCopy(rep.Unlinked))
		assert.Equal(t, []string{staff.ID}, rep.Updated)
		assert.Equal(t, []string{alice.ID}, r.members(staff))
		r.settled(false)
	})
}

// A withholding run interrupted by the target before its group write: the
// next run writes the group with the new member and the withheld one.
func TestWithheldReviewInterrupted(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		alice, bob := r.user("alice"), r.user("bob")
		staff := r.group("Staff", alice, bob)
		r.run(false)

		require.NoError(t, r.e.dir.Delete(bob.DN))
		r.run(true)
		dave := r.user("dave")
		require.NoError(t, r.e.dir.AddMember(staff.DN, dave.DN))
		r.e.target.FailAfter(1) // dave is written, Staff is not
		if r.s == nil || !r.reuse {
			r.s = r.e.syncer()
		}
		_, err := r.s.Run(context.Background())
		require.ErrorIs(t, err, ldapsync.ErrInjected)
		r.e.target.FailAfter(-1)
		assert.Equal(t, sorted(alice.ID, bob.ID), r.members(staff))
		rep := r.run(true)
		assert.Equal(t, []string{bob.ID}, rep.Withheld)
		assert.Equal(t, sorted(alice.ID, bob.ID, dave.ID), r.members(staff))
		r.settled(true)
		assert.Equal(t, sorted(alice.ID, bob.ID, dave.ID), r.members(staff))
		r.limit(1)
		rep = r.run(false)
		assert.Equal(t, []string{bob.ID}, rep.Unlinked)
		assert.Equal(t, sorted(alice.ID, dave.ID), r.members(staff))
		r.settled(false)
	})
}

// A withholding run whose state save fails: the next run, from the state
// before it, withholds again and keeps the member.
func TestWithheldReviewSaveFails(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		fs := &failingStore{StateStore: r.e.store}
		r.e.store = fs
		alice, bob := r.user("alice"), r.user("bob")
		staff := r.group("Staff", alice, bob)
		r.run(false)

		require.NoError(t, r.e.dir.Delete(bob.DN))
		r.run(true)
		dave := r.user("dave")
		require.NoError(t, r.e.dir.AddMember(staff.DN, dave.DN))
		fs.fails = 1
		if r.s == nil || !r.reuse {
			r.s = r.e.syncer()
		}
		_, err := r.s.Run(context.Background())
		require.ErrorIs(t, err, errSaveFailed)
		assert.Equal(t, sorted(alice.ID, bob.ID, dave.ID), r.members(staff))
		rep := r.run(true)
		assert.Equal(t, []string{bob.ID}, rep.Withheld)
		assert.Equal(t, sorted(alice.ID, bob.ID, dave.ID), r.members(staff))
		r.settled(true)
		r.limit(1)
		rep = r.run(false)
		assert.Equal(t, []string{bob.ID}, rep.Unlinked)
		assert.Equal(t, sorted(alice.ID, dave.ID), r.members(staff))
		r.settled(false)
	})
}

// A user withheld because it lost its address (it is still in the
// directory and still listed by its group) stays in the group; when its
// address comes back before the removal is allowed, nothing is removed.
func TestWithheldReviewLostAddress(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		alice, bob := r.user("alice"), r.user("bob")
		staff := r.group("Staff", alice, bob)
		r.run(false)

		require.NoError(t, r.e.dir.SetMail(bob.DN, ""))
		for range 2 {
			rep := r.run(true)
			assert.Equal(t, []string{bob.ID}, rep.Withheld)
			assert.Empty(t, rep.Updated)
			assert.Equal(t, sorted(alice.ID, bob.ID), r.members(staff))
		}
		require.NoError(t, r.e.dir.SetMail(bob.DN, "bob@example.com"))
		r.settled(false)
		assert.Equal(t, sorted(alice.ID, bob.ID), r.members(staff))
		require.NoError(t, r.e.dir.SetMail(bob.DN, ""))
		r.run(true)
		r.limit(1)
		rep := r.run(false)
		assert.Equal(t, []string{bob.ID}, rep.Unlinked)
		assert.Equal(t, []string{alice.ID}, r.members(staff))
		r.settled(false)
	})
}

// A group whose address becomes held (claimed by another group too) while
// it keeps a withheld member still keeps it.
func TestWithheldReviewHeldGroup(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		alice, bob := r.user("alice"), r.user("bob")
		staff := r.group("Staff", alice, bob)
		require.NoError(t, r.e.dir.SetMail(staff.DN, "staff@example.com"))
		other := r.group("Other", alice)
		r.run(false)

		require.NoError(t, r.e.dir.Delete(bob.DN))
		r.run(true)
		require.NoError(t, r.e.dir.SetMail(other.DN, "staff@example.com"))
		for range 2 {
			rep := r.run(true)
			assert.Equal(t, []string{bob.ID}, rep.Withheld)
			assert.Equal(t, sorted(alice.ID, bob.ID), r.members(staff))
		}
		r.settled(true)
		require.NoError(t, r.e.dir.SetMail(other.DN, "other@example.com"))
		r.run(true)
		assert.Equal(t, sorted(alice.ID, bob.ID), r.members(staff))
		r.settled(true)
		r.limit(1)
		rep := r.run(false)
		assert.Equal(t, []string{bob.ID}, rep.Unlinked)
		assert.Equal(t, []string{alice.ID}, r.members(staff))
		r.settled(false)
	})
}

// A removal withheld over several runs names its object by the last DN
// known on every run (Change.DN: "for a removal, the last one known"),
// not only on the first.
func TestWithheldReviewRemovalKeepsDN(t *testing.T) {
	wmVariants(t, func(t *testing.T, r *wmRig) {
		bob := r.user("bob")
		r.run(false)
		require.NoError(t, r.e.dir.Delete(bob.DN))
		for i := range 3 {
			p, err := r.e.syncer().Plan(context.Background())
			require.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
			require.Len(t, p.Withheld, 1)
			assert.Equal(t, bob.DN, p.Withheld[0].DN, "run %d", i)
			r.run(true)
		}
	})
}
