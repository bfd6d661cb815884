package ldapsync_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// TestSyncedAttributesStayPacked: attributes read from the directory
// reach the target, plans and a caller's Load as maps, while the records
// the Syncer keeps hold them packed.
func TestSyncedAttributesStayPacked(t *testing.T) {
	dir := ldapsynctest.Start(t)
	u, err := dir.AddUser(ldapsynctest.User{CN: "Chef", Mail: "chef@example.com",
		Attributes: map[string][]string{"title": {"Head chef"}, "department": {"Kitchen"}, "telephoneNumber": {"+1 555 0100"}}})
	require.NoError(t, err)
	cfg := dir.Config()
	ctx := context.Background()
	target, store := ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore()
	s, err := ldapsync.NewSyncer(cfg, target, store)
	require.NoError(t, err)

	plan, err := s.Plan(ctx)
	require.NoError(t, err)
	var planned *ldapsync.User
	for _, c := range plan.Changes {
		if c.ID == u.ID {
			planned = c.User
		}
	}
	require.NotNil(t, planned)
	want := map[string][]string{"title": {"Head chef"}, "department": {"Kitchen"}, "telephoneNumber": {"+1 555 0100"},
		"sAMAccountName": {"Chef"}, "userPrincipalName": planned.Attributes["userPrincipalName"]}
	require.NotEmpty(t, want["userPrincipalName"])
	assert.Equal(t, want, planned.Attributes)

	_, err = s.Run(ctx)
	require.NoError(t, err)
	snap, err := target.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, snap[u.ID].Attributes)

	loaded, err := store.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, loaded.Objects[u.ID].Source.Attributes)

	packed, kept, ok := ldapsync.KeptRecordPacked(s, u.ID)
	require.True(t, ok, "the record is kept")
	assert.True(t, packed, "kept records hold no map")
	assert.Equal(t, want, kept)

	// A caller's own store is given maps.
	own := &recordingStore{}
	s2, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), own)
	require.NoError(t, err)
	_, err = s2.Run(ctx)
	require.NoError(t, err)
	require.NotNil(t, own.saved.Objects[u.ID])
	assert.Equal(t, want, own.saved.Objects[u.ID].Source.Attributes)
}

// recordingStore is a caller's StateStore: it keeps the State it is given.
type recordingStore struct{ saved ldapsync.State }

func (r *recordingStore) Load(context.Context) (ldapsync.State, error)   { return r.saved, nil }
func (r *recordingStore) Save(_ context.Context, s ldapsync.State) error { r.saved = s; return nil }
