package ldapsync_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// jsonStore is a caller's StateStore keeping the state as JSON.
type jsonStore struct{ b []byte }

func (s *jsonStore) Load(context.Context) (ldapsync.State, error) {
	var st ldapsync.State
	if s.b == nil {
		return st, nil
	}
	err := json.Unmarshal(s.b, &st)
	return st, err
}

func (s *jsonStore) Save(_ context.Context, st ldapsync.State) error {
	b, err := json.Marshal(st)
	s.b = b
	return err
}

// A user whose removal is withheld stays in its groups on every run while
// the removal stays withheld, not only on the run that withheld it: the
// run after reads the group without the user, and must still know that
// the target holds it there. Once the removal is allowed, the user and its
// membership go together.
func TestWithheldMembersStayOverRuns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) ldapsync.StateStore
	}{
		{"memory", func(*testing.T) ldapsync.StateStore { return ldapsync.NewMemoryStore() }},
		{"file", func(t *testing.T) ldapsync.StateStore {
			return ldapsync.NewFileStore(filepath.Join(t.TempDir(), "state"))
		}},
		{"caller-json", func(*testing.T) ldapsync.StateStore { return &jsonStore{} }},
	} {
		for _, reuse := range []bool{true, false} {
			name := tc.name + "/new-syncer-per-run"
			if reuse {
				name = tc.name + "/one-syncer"
			}
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				e := newEnv(t)
				e.store = tc.store(t)
				alice := e.addUser("Alice", "alice@example.com")
				bob := e.addUser("Bob", "bob@example.com")
				carol := e.addUser("Carol", "carol@example.com")
				staff, err := e.dir.AddGroup("Staff", alice.DN, bob.DN, carol.DN)
				require.NoError(t, err)
				e.cfg.MaxSyncDeletions = 0
				s := e.syncer()
				run := func() (*ldapsync.Report, error) {
					if !reuse {
						s = e.syncer()
					}
					return s.Run(ctx)
				}
				members := func() []string { return e.target.Groups()[staff.ID].Members }

				_, err = run()
				require.NoError(t, err)
				require.Equal(t, sorted(alice.ID, bob.ID, carol.ID), members())

				require.NoError(t, e.dir.Delete(bob.DN))
				for i := range 3 {
					rep, err := run()
					require.ErrorIs(t, err, ldapsync.ErrDeletionLimit, "run %d", i)
					assert.Contains(t, err.Error(), "1 removal planned, MaxSyncDeletions allows 0")
					assert.Equal(t, []string{bob.ID}, rep.Withheld, "run %d", i)
					assert.Empty(t, rep.Updated, "run %d: nothing to write while Bob's removal is withheld", i)
					assert.Equal(t, sorted(alice.ID, bob.ID, carol.ID), members(), "run %d: Bob stays in Staff", i)
					assert.Contains(t, e.linked(), bob.ID, "run %d", i)
				}

				// A real change to the group keeps Bob in it too.
				dave := e.addUser("Dave", "dave@example.com")
				require.NoError(t, e.dir.AddMember(staff.DN, dave.DN))
				rep, err := run()
				require.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
				assert.Equal(t, []string{dave.ID}, rep.Added)
				assert.Equal(t, []string{staff.ID}, rep.Updated)
				assert.Equal(t, sorted(alice.ID, bob.ID, carol.ID, dave.ID), members())
				rep, err = run()
				require.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
				assert.Empty(t, rep.Updated)
				assert.Equal(t, sorted(alice.ID, bob.ID, carol.ID, dave.ID), members())

				// Allowed: Bob and his membership go in one run, and the
				// run after has nothing to do.
				e.cfg.MaxSyncDeletions = 1
				s = e.syncer()
				rep, err = run()
				require.NoError(t, err)
				assert.Equal(t, []string{bob.ID}, rep.Unlinked)
				assert.Equal(t, []string{staff.ID}, rep.Updated)
				assert.Equal(t, sorted(alice.ID, carol.ID, dave.ID), members())
				assert.NotContains(t, e.linked(), bob.ID)
				rep, err = run()
				require.NoError(t, err)
				assert.Empty(t, rep.Updated)
				assert.Empty(t, rep.Unlinked)
				assert.Equal(t, sorted(alice.ID, carol.ID, dave.ID), members())
			})
		}
	}
}
