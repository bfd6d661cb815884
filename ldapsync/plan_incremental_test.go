package ldapsync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomDirectory builds records with the cases the plan must get right:
// shared addresses, contacts, users without an address or outside the
// domain filter, disabled users, groups with member DNs in other cases and
// member DNs nobody has (yet).
type randomDirectory struct {
	r    *rand.Rand
	pool int // addresses to draw from: the fewer, the more duplicates
	recs map[string]*Record
	next int
}

func (d *randomDirectory) id() string {
	d.next++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", d.next, d.r.IntN(1<<20))
}

func (d *randomDirectory) address() string {
	domains := []string{"example.com", "example.net", "other.test"}
	return fmt.Sprintf("a%d@%s", d.r.IntN(d.pool), domains[d.r.IntN(len(domains))])
}

func (d *randomDirectory) user() *Record {
	rec := &Record{Kind: KindUser, DN: fmt.Sprintf("CN=U%d,OU=People,DC=x", d.r.IntN(200)), DisplayName: fmt.Sprintf("U%d", d.r.IntN(5))}
	if d.r.IntN(8) == 0 {
		rec.Kind = KindContact
	}
	switch d.r.IntN(10) {
	case 0:
		rec.Problems = []string{"mail: bad"}
	default:
		rec.Email = d.address()
	}
	for range d.r.IntN(3) {
		if a := d.address(); a != rec.Email && !slices.Contains(rec.Aliases, a) {
			rec.Aliases = append(rec.Aliases, a)
		}
	}
	rec.Disabled = d.r.IntN(5) == 0
	if d.r.IntN(3) == 0 {
		rec.Attributes = map[string][]string{"title": {fmt.Sprintf("T%d", d.r.IntN(3))}}
	}
	return rec
}

// dnOf returns a DN of a record in scope, as a group member value would
// name it (sometimes in other case), or a DN nobody has.
func (d *randomDirectory) memberDN() string {
	if d.r.IntN(6) == 0 || len(d.recs) == 0 {
		return fmt.Sprintf("CN=U%d,OU=People,DC=x", d.r.IntN(200))
	}
	ids := sortedKeys(d.recs)
	dn := d.recs[ids[d.r.IntN(len(ids))]].DN
	if d.r.IntN(2) == 0 {
		dn = strings.ToLower(dn)
	}
	return dn
}

func (d *randomDirectory) group() *Record {
	rec := &Record{Kind: KindGroup, DN: fmt.Sprintf("CN=G%d,OU=Groups,DC=x", d.r.IntN(1000)), DisplayName: "G"}
	if d.r.IntN(3) == 0 {
		rec.Email = d.address()
	}
	for range d.r.IntN(6) {
		rec.MemberDNs = append(rec.MemberDNs, d.memberDN())
	}
	return rec
}

// uniqueDN gives rec a DN no other record has (a directory's DNs are
// unique).
func (d *randomDirectory) uniqueDN(id string, rec *Record) {
	for {
		taken := false
		for oid, o := range d.recs {
			if oid != id && strings.EqualFold(o.DN, rec.DN) {
				taken = true
				break
			}
		}
		if !taken {
			return
		}
		rec.DN = fmt.Sprintf("CN=X%d,%s", d.r.IntN(1<<20), rec.DN[strings.IndexByte(rec.DN, ',')+1:])
	}
}

// changes makes a random incremental read against d and applies it to d.
func (d *randomDirectory) changes(round int) *readResult {
	res := &readResult{records: map[string]*Record{}, watermark: Watermark{Source: "usn", USN: int64(round + 10)}}
	ids := sortedKeys(d.recs)
	for range 1 + d.r.IntN(6) {
		switch op := d.r.IntN(10); {
		case op < 2 || len(ids) == 0: // a new object
			id, rec := d.id(), d.user()
			if d.r.IntN(4) == 0 {
				rec = d.group()
			}
			d.uniqueDN(id, rec)
			d.recs[id] = rec
			res.records[id] = rec
		case op < 4: // deleted
			id := ids[d.r.IntN(len(ids))]
			delete(d.recs, id)
			if d.r.IntN(4) > 0 {
				delete(res.records, id) // else read and deleted both: deleted wins
			}
			res.deleted = append(res.deleted, id)
			if d.r.IntN(5) == 0 {
				res.deleted = append(res.deleted, d.id()) // never seen
			}
		default: // changed
			id := ids[d.r.IntN(len(ids))]
			if _, gone := d.recs[id]; !gone {
				continue
			}
			c := *d.recs[id]
			switch d.r.IntN(7) {
			case 6:
				switch c.Kind {
				case KindUser:
					c.Kind = KindContact
				case KindContact:
					c.Kind = KindUser
				}
			case 0:
				c.Email = d.address()
			case 1:
				c.DN = fmt.Sprintf("CN=U%d,OU=People,DC=x", d.r.IntN(200))
			case 2:
				c.Disabled = !c.Disabled
			case 3:
				c.Aliases = append(append([]string(nil), c.Aliases...), d.address())
			case 4:
				if c.Kind == KindGroup {
					c.Members = nil
					c.MemberDNs = append(append([]string(nil), c.MemberDNs...), d.memberDN())
				} else {
					c.Email = ""
				}
			default:
				c.DisplayName += "'"
			}
			if c.Kind == KindGroup {
				// A read returns a group's members as DNs.
				c.Members, c.MemberDNs = nil, d.groupDNs(id, &c)
			}
			d.uniqueDN(id, &c)
			d.recs[id] = &c
			res.records[id] = &c
		}
	}
	if d.r.IntN(5) == 0 {
		res.warnings = append(res.warnings, "a warning of the read")
		res.skipped = append(res.skipped, Skip{ID: "x", DN: "CN=X", Reason: "unreadable"})
	}
	return res
}

// groupDNs lists the members of the group record c as DNs again (the
// resolved ones by the DN of the record now holding the ID).
func (d *randomDirectory) groupDNs(_ string, c *Record) []string {
	dns := append([]string(nil), c.MemberDNs...)
	for _, m := range c.Members {
		if r := d.recs[m]; r != nil {
			dns = append(dns, r.DN)
		}
	}
	return dns
}

func randomConfig(r *rand.Rand) Config {
	cfg := Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 2 + r.IntN(6),
		IncludeContacts: r.IntN(2) == 0, AcknowledgeDisabledAccounts: r.IntN(2) == 0, DeleteUsers: r.IntN(3) == 0}
	if r.IntN(3) == 0 {
		cfg.FilterEmailDomains = []string{"example.com", "Example.NET"}
	}
	return cfg
}

// TestIncrementalPlanMatchesFullPlan: over random directories, policies
// and change sets, a run that plans over the changed objects only plans
// exactly what the whole pass plans from the same state (changes,
// removals, withheld removals, skips, warnings, the state to save), and
// the state and index it keeps equal those loaded and built from scratch.
func TestIncrementalPlanMatchesFullPlan(t *testing.T) {
	ctx := context.Background()
	incremental, whole := 0, 0
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		d := &randomDirectory{r: r, recs: map[string]*Record{}, pool: []int{60, 2000}[seed%2]}
		full := &readResult{full: true, records: map[string]*Record{}, watermark: Watermark{Source: "usn", USN: 1}}
		for range 40 + r.IntN(40) {
			id, rec := d.id(), d.user()
			d.uniqueDN(id, rec)
			d.recs[id], full.records[id] = rec, rec
		}
		for range 3 + r.IntN(8) {
			id, rec := d.id(), d.group()
			d.uniqueDN(id, rec)
			d.recs[id], full.records[id] = rec, rec
		}
		cfg := randomConfig(r)
		store := NewMemoryStore()
		s, err := NewSyncer(cfg, NewMemoryTarget(), store)
		require.NoError(t, err)
		var res *readResult
		s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) { return res, "h", nil }
		res = full
		_, _ = s.Run(ctx) // a deletion-limit error is an outcome like any other here

		var carry *readResult // changes planned and not applied: read again
		for round := range 30 {
			res = d.changes(round)
			if carry != nil {
				for id, rec := range carry.records {
					if _, newer := res.records[id]; !newer {
						res.records[id] = rec
					}
				}
				res.deleted = append(res.deleted, carry.deleted...)
				carry = nil
			}
			if r.IntN(6) == 0 {
				// A read listing what is present: planned in full, saved
				// by copying the records of unchanged objects.
				res.present = map[string]string{}
				for id := range d.recs {
					res.present[id] = ""
				}
			}
			loaded, err := store.Load(ctx)
			require.NoError(t, err)
			require.NotNil(t, s.saved, "seed %d round %d: the saved state is kept", seed, round)
			require.Equal(t, loaded, keptState(t, s), "seed %d round %d: the kept state is the stored one", seed, round)
			if !s.saved.decoded { // (decoded by a run planned and not applied: no index yet)
				require.NotNil(t, s.saved.idx)
				want := buildIndex(cfg, loaded)
				want.pending = want.pending || s.saved.idx.pending
				assertSameIndex(t, want, s.saved.idx, fmt.Sprintf("seed %d round %d", seed, round))
			}

			if r.IntN(7) == 0 {
				s.saved = nil // as after a restart: decoded from the store
			}
			p, err := s.prepare(ctx)
			require.NoError(t, err)
			ref := compute(cfg, loaded, res, nil)
			// The lean plan a run makes (users made when written) plans
			// the same.
			lean := computePlan(cfg, loaded, res, nil, true)
			msg := fmt.Sprintf("seed %d round %d: lean plan", seed, round)
			require.Equal(t, mapChanges(ref.changes), mapChanges(madeChanges(lean)), msg)
			require.Equal(t, ref.removals, lean.removals, msg)
			require.Equal(t, ref.skipped, lean.skipped, msg)
			require.Equal(t, ref.warnings, lean.warnings, msg)
			require.Equal(t, ref.withheld, lean.withheld, msg)
			require.Equal(t, ref.groupCands, lean.groupCands, msg)
			require.Equal(t, withMaps(ref.next), withMaps(lean.next), msg)
			for _, c := range ref.changes {
				if c.User != nil {
					require.Equal(t, groupsListing(ref.next, c.ID), c.User.Groups, "a written user's groups")
				}
			}
			if p.out.base != nil {
				incremental++
				msg := fmt.Sprintf("seed %d round %d: %d objects planned again", seed, round, len(p.out.touched))
				require.Equal(t, mapChanges(ref.changes), mapChanges(p.out.changes), msg)
				require.Equal(t, ref.removals, p.out.removals, msg)
				require.Equal(t, ref.withheld, p.out.withheld, msg)
				require.Equal(t, ref.emptyRead, p.out.emptyRead, msg)
				require.Equal(t, ref.skipped, p.out.skipped, msg)
				require.Equal(t, ref.warnings, p.out.warnings, msg)
				require.Equal(t, ref.groupCands, p.out.groupCands, msg)
				require.Equal(t, withMaps(ref.next), wholeNextOf(t, p.out), msg)
			} else {
				require.Equal(t, withMaps(ref.next), withMaps(p.out.next))
				whole++
			}
			if r.IntN(8) == 0 {
				// Planned, never applied: the next round plans from the
				// same state and reads these changes again.
				carry = res
				continue
			}
			_, err = s.commit(ctx, p, s.clock(), "")
			if err != nil {
				require.ErrorIs(t, err, ErrDeletionLimit)
			}
		}
	}
	assert.Greater(t, incremental, 600, "most rounds take the incremental path")
	assert.Greater(t, whole, 100, "and some the whole pass")
}

// groupsListing lists, in ID order and once per listing, the groups of st
// whose record lists member id: a written user's Groups.
func groupsListing(st State, id string) []string {
	var out []string
	for _, g := range sortedKeys(st.Objects) {
		if rec := st.Objects[g].Source; rec != nil && rec.Kind == KindGroup {
			for _, m := range rec.Members {
				if m == id {
					out = append(out, g)
				}
			}
		}
	}
	return out
}

func assertSameIndex(t *testing.T, want, got *planIndex, msg string) {
	t.Helper()
	assert.Equal(t, want.policy, got.policy, msg)
	assert.Equal(t, want.pending, got.pending, msg)
	assert.Equal(t, want.skipped, got.skipped, msg)
	lists := func(x multimap) map[uint64][]uint64 {
		out := map[uint64][]uint64{}
		for k := range x.keys {
			if v := x.values(nil, k); len(v) > 0 {
				slices.Sort(v)
				out[k] = v
			}
		}
		return out
	}
	assert.Equal(t, lists(want.claims), lists(got.claims), msg)
	assert.Equal(t, lists(want.memberOf), lists(got.memberOf), msg)
	assert.Equal(t, lists(want.unresolved), lists(got.unresolved), msg)
}
