package ldapsync_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleState() ldapsync.State {
	return ldapsync.State{
		Version:   ldapsync.StateVersion,
		Watermark: ldapsync.Watermark{Source: "usn", USN: 12345, ServiceName: "CN=NTDS Settings,CN=DC1"},
		Objects: map[string]*ldapsync.ObjectState{
			"6f9619ff-8b86-d011-b42d-00c04fc964ff": {
				Source:  &ldapsync.Record{Kind: ldapsync.KindUser, DN: "CN=A,DC=x", Email: "a@example.com"},
				Applied: "abc", AppliedKind: ldapsync.KindUser,
			},
		},
	}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	fs := ldapsync.NewFileStore(path)

	st, err := fs.Load(ctx)
	require.NoError(t, err, "a missing file is a first run")
	assert.Zero(t, st.Version)
	assert.Empty(t, st.Objects)

	want := sampleState()
	require.NoError(t, fs.Save(ctx, want))
	got, err := fs.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the state names every user: not world-readable")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	// A second save replaces the first.
	want.Watermark.USN = 99999
	require.NoError(t, fs.Save(ctx, want))
	got, err = fs.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(99999), got.Watermark.USN)
}

func TestFileStoreSaveFailureKeepsOldState(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	fs := ldapsync.NewFileStore(path)
	require.NoError(t, fs.Save(ctx, sampleState()))
	require.NoError(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	next := sampleState()
	next.Watermark.USN = 1
	err := fs.Save(ctx, next)
	require.Error(t, err)
	assert.ErrorIs(t, err, ldapsync.ErrState)
	got, err := fs.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(12345), got.Watermark.USN)
}

func TestFileStoreRefusesCorruptState(t *testing.T) {
	ctx := context.Background()
	cases := map[string]string{
		"empty":             "",
		"whitespace":        "  \n",
		"garbage":           "\x00\x01not json",
		"truncated":         `{"version":1,"watermark":{"source":"usn","usn":12`,
		"unknown field":     `{"version":1,"surprise":true}`,
		"wrong version":     `{"version":7}`,
		"no version":        `{"objects":{}}`,
		"null object":       `{"version":1,"objects":{"x":null}}`,
		"bad kind":          `{"version":1,"objects":{"x":{"source":{"kind":"printer","dn":"CN=P"}}}}`,
		"empty object":      `{"version":1,"objects":{"x":{}}}`,
		"trailing data":     `{"version":1} {"version":1}`,
		"wrong type":        `{"version":"1"}`,
		"array":             `[]`,
		"deep nonsense":     `{"version":1,"objects":{"x":{"source":{"kind":"user","dn":5}}}}`,
		"empty id":          `{"version":1,"objects":{"":{"applied":"x"}}}`,
		"usn not a number":  `{"version":1,"watermark":{"usn":"x"}}`,
		"cookie not base64": `{"version":1,"watermark":{"cookie":"***"}}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			_, err := ldapsync.NewFileStore(path).Load(ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, ldapsync.ErrState)
			assert.Contains(t, err.Error(), path, "the error names the file")
		})
	}
}

func TestSyncWithCorruptStateWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.addUser("A", "a@example.com")
	path := filepath.Join(t.TempDir(), "state.json")
	e.store = ldapsync.NewFileStore(path)
	e.run()
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(path, good[:len(good)/2], 0o600))
	e.addUser("B", "b@example.com")
	before := e.target.Writes()
	_, err = e.tryRun()
	require.Error(t, err)
	assert.ErrorIs(t, err, ldapsync.ErrState)
	assert.Contains(t, err.Error(), "refusing to start over")
	assert.Equal(t, before, e.target.Writes())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, good[:len(good)/2], after, "the corrupt file is left for inspection")

	// Restored from a backup: the run continues incrementally.
	require.NoError(t, os.WriteFile(path, good, 0o600))
	rep := e.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Len(t, rep.Added, 1)
}

func TestMemoryStoreCopies(t *testing.T) {
	ctx := context.Background()
	m := ldapsync.NewMemoryStore()
	st := sampleState()
	require.NoError(t, m.Save(ctx, st))
	st.Objects["6f9619ff-8b86-d011-b42d-00c04fc964ff"].Applied = "changed"
	got, err := m.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, "abc", got.Objects["6f9619ff-8b86-d011-b42d-00c04fc964ff"].Applied)
	got.Watermark.USN = 1
	again, err := m.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(12345), again.Watermark.USN)
}

func FuzzFileStoreLoad(f *testing.F) {
	f.Add([]byte(`{"version":1,"watermark":{"source":"usn","usn":5},"objects":{"a":{"applied":"x"}}}`))
	f.Add([]byte(`{"version":1,"objects":{"x":{"source":{"kind":"group","dn":"CN=G","members":["a"]}}}}`))
	f.Add([]byte(`{`))
	seed := filepath.Join(f.TempDir(), "seed")
	if err := ldapsync.NewFileStore(seed).Save(context.Background(), richState()); err != nil {
		f.Fatal(err)
	}
	if b, err := os.ReadFile(seed); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "s.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := ldapsync.NewFileStore(path).Load(context.Background())
		if err != nil {
			return
		}
		// A state that loads is usable: it saves and loads back unchanged.
		fs := ldapsync.NewFileStore(path)
		if err := fs.Save(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		back, err := fs.Load(context.Background())
		if err != nil {
			t.Fatalf("saved state does not load: %v", err)
		}
		if back.Version != st.Version || len(back.Objects) != len(st.Objects) {
			t.Fatalf("round trip changed the state")
		}
	})
}

func TestFileStoreSaveErrorNamesTheFile(t *testing.T) {
	ctx := context.Background()
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, []byte("x"), 0o600))
	path := filepath.Join(notADir, "state.json")
	err := ldapsync.NewFileStore(path).Save(ctx, sampleState())
	require.Error(t, err)
	assert.ErrorIs(t, err, ldapsync.ErrState)
	assert.Contains(t, err.Error(), path)
	_, err = ldapsync.NewFileStore(path).Load(ctx)
	assert.ErrorIs(t, err, ldapsync.ErrState, "an unreadable location is not a first run")
}

func richState() ldapsync.State {
	return ldapsync.State{
		Version: ldapsync.StateVersion,
		Watermark: ldapsync.Watermark{Source: "syncrepl", Scope: "ab12", Cookie: []byte("rid=000,csn=1"),
			Policy: "p1", Timestamp: "20250101000000Z"},
		Objects: map[string]*ldapsync.ObjectState{
			"6f9619ff-8b86-d011-b42d-00c04fc964ff": {
				Source: &ldapsync.Record{Kind: ldapsync.KindUser, DN: "CN=A,DC=x", Email: "a@example.com",
					Aliases: []string{"a1@example.com", "a2@example.com"}, DisplayName: "A", Disabled: true,
					Attributes: map[string][]string{"title": {"Engineer"}, "sn": {"A", "Ä"}}},
				Applied: "0123456789abcdef0123456789abcdef", AppliedKind: ldapsync.KindUser,
				Wanted: "0123456789abcdef0123456789abcdef", AppliedDisabled: true,
			},
			"not-a-uuid": {
				Source:  &ldapsync.Record{Kind: ldapsync.KindContact, DN: "CN=C,DC=x", Problems: []string{"bad"}},
				Applied: "0123456789ABCDEF0123456789ABCDEF", AppliedKind: ldapsync.KindContact,
				Wanted: "fedcba9876543210fedcba9876543210",
			},
			"1f9619ff-8b86-d011-b42d-00c04fc964ff": {
				Source: &ldapsync.Record{Kind: ldapsync.KindGroup, DN: "CN=G,DC=x", Email: "g@example.com",
					Members:   []string{"6f9619ff-8b86-d011-b42d-00c04fc964ff", "not-a-uuid"},
					MemberDNs: []string{"CN=Gone,DC=x"}},
				Applied: "abc", AppliedKind: ldapsync.KindGroup,
			},
			"2f9619ff-8b86-d011-b42d-00c04fc964ff": {Applied: "x", AppliedKind: "printer"},
		},
	}
}

func TestStateEncodingRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state")
	fs := ldapsync.NewFileStore(path)
	want := richState()
	require.NoError(t, fs.Save(ctx, want))
	got, err := fs.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want.Watermark.FullAt.IsZero(), got.Watermark.FullAt.IsZero())
	assert.Equal(t, want, got)

	m := ldapsync.NewMemoryStore()
	require.NoError(t, m.Save(ctx, want))
	got, err = m.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestFileStoreReadsVersion1JSON(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	v1 := `{"version":1,"watermark":{"source":"usn","usn":7},"objects":{"6f9619ff-8b86-d011-b42d-00c04fc964ff":` +
		`{"source":{"kind":"user","dn":"CN=A,DC=x","email":"a@example.com"},"applied":"abc","appliedKind":"user"}}}`
	require.NoError(t, os.WriteFile(path, []byte(v1), 0o600))
	fs := ldapsync.NewFileStore(path)
	st, err := fs.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, ldapsync.StateVersion, st.Version)
	assert.Equal(t, int64(7), st.Watermark.USN)
	assert.Equal(t, "abc", st.Objects["6f9619ff-8b86-d011-b42d-00c04fc964ff"].Applied)

	// The next save writes the current encoding, which loads back the same.
	require.NoError(t, fs.Save(ctx, st))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotEqual(t, byte('{'), b[0])
	back, err := fs.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, st, back)
}

func TestFileStoreRefusesDamagedEncoding(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	require.NoError(t, ldapsync.NewFileStore(path).Save(ctx, richState()))
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	damage := map[string][]byte{}
	for _, n := range []int{1, 16, 20, len(good) / 2, len(good) - 4, len(good) - 1} {
		damage[fmt.Sprintf("truncated to %d", n)] = good[:n]
	}
	for _, i := range []int{17, 30, len(good) / 2, len(good) - 5, len(good) - 1} {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		damage[fmt.Sprintf("byte %d flipped", i)] = b
	}
	damage["appended"] = append(append([]byte(nil), good...), 0)
	for name, b := range damage {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "state")
			require.NoError(t, os.WriteFile(p, b, 0o600))
			_, err := ldapsync.NewFileStore(p).Load(ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, ldapsync.ErrState)
			assert.Contains(t, err.Error(), "refusing to start over")
		})
	}
}

func TestFileStoreRefusesUnknownVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state")
	hdr := []byte(`{"version":3,"watermark":{},"objects":0}`)
	b := append([]byte("gatehouse-state\n"), byte(len(hdr)))
	b = append(b, hdr...)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	require.NoError(t, os.WriteFile(path, b, 0o600))
	_, err := ldapsync.NewFileStore(path).Load(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, ldapsync.ErrState)
	assert.Contains(t, err.Error(), "version 3 is not supported")
}
