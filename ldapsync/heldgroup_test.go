package ldapsync

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeldGroupKeepsTheAddressItHad: a group whose address a user takes
// as an alias keeps, in the target, the address it had, run after run
// (full and incremental reads, a store kept or read back), until the
// duplicate is gone; then both are written as the directory has them.
func TestHeldGroupKeepsTheAddressItHad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		full  bool
		store func() StateStore
	}{
		{"full reads, memory store", true, func() StateStore { return NewMemoryStore() }},
		{"incremental reads, memory store", false, func() StateStore { return NewMemoryStore() }},
		{"incremental reads, caller's store", false, func() StateStore { return callerStore{NewMemoryStore()} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := func(alias string) *Record {
				r := reviewUserRec(1)
				if alias != "" {
					r.Aliases = []string{alias}
				}
				return r
			}
			group := func(mail string) *Record { return reviewWithEmail(reviewGroupRec(1, 1, 2), mail) }
			target := NewMemoryTarget()
			s, err := NewSyncer(Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 5}, target, tc.store())
			require.NoError(t, err)
			usn := int64(0)
			run := func(full bool, recs ...*Record) *Report {
				t.Helper()
				usn++
				res := reviewRead(full, usn)
				ids := []string{reviewUserID(1), reviewGroupID(1), reviewUserID(2)}
				for i, r := range recs {
					if r != nil {
						res.records[ids[i]] = r
					}
				}
				s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) { return res, "h", nil }
				rep, err := s.Run(context.Background())
				require.NoError(t, err)
				return rep
			}
			groupMail := func() string { return target.Groups()[reviewGroupID(1)].Email }
			aliases := func() []string {
				snap, err := target.Snapshot(context.Background())
				require.NoError(t, err)
				return snap[reviewUserID(1)].Aliases
			}

			run(true, user(""), group("team@example.com"), reviewUserRec(2))
			require.Equal(t, "team@example.com", groupMail())

			// The user takes the group's address: both held, the group
			// keeps what it had and its members go on.
			rep := run(tc.full, user("team@example.com"), group("team@example.com"), reviewUserRec(2))
			assert.Contains(t, rep.Warnings[len(rep.Warnings)-1], "team@example.com")
			assert.Equal(t, "team@example.com", groupMail())
			assert.Empty(t, aliases())
			rep = run(tc.full, user("team@example.com"), group("team@example.com"), reviewUserRec(2))
			assert.Equal(t, "team@example.com", groupMail(), "a later run")
			assert.Empty(t, aliases())
			assert.Empty(t, rep.Updated)

			// The group moves to another address: no duplicate left.
			rep = run(tc.full, user("team@example.com"), group("team2@example.com"), reviewUserRec(2))
			assert.Equal(t, "team2@example.com", groupMail())
			assert.Equal(t, []string{"team@example.com"}, aliases())
			assert.ElementsMatch(t, []string{reviewUserID(1), reviewGroupID(1)}, rep.Updated)

			// The group takes the user's primary address: the group keeps
			// the one it had on this run and the next ones.
			for range 3 {
				run(tc.full, user("team@example.com"), group(reviewAddr(1)), reviewUserRec(2))
				assert.Equal(t, "team2@example.com", groupMail())
			}
		})
	}
}
