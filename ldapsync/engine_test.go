package ldapsync

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syntheticRead is a full read of n users in n/100 groups.
func syntheticRead(n int) *readResult {
	res := &readResult{full: true, records: map[string]*Record{}, watermark: Watermark{Source: "usn", USN: 1}}
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		res.records[id] = &Record{Kind: KindUser, DN: fmt.Sprintf("CN=U%d,DC=x", i),
			Email: fmt.Sprintf("u%d@example.com", i), Aliases: []string{fmt.Sprintf("a%d@example.com", i)}, DisplayName: "U"}
	}
	for g := range n / 100 {
		rec := &Record{Kind: KindGroup, DN: fmt.Sprintf("CN=G%d,DC=x", g), DisplayName: "G"}
		for i := g * 100; i < (g+1)*100; i++ {
			rec.MemberDNs = append(rec.MemberDNs, fmt.Sprintf("cn=u%d,dc=x", i))
		}
		res.records[fmt.Sprintf("%08x-1111-4000-8000-000000000000", g)] = rec
	}
	return res
}

func TestComputeIncrementalMatchesFull(t *testing.T) {
	cfg := Config{MaxSyncDeletions: 5}
	full := syntheticRead(300)
	out := compute(cfg, State{}, full, map[string]User{})
	assert.Len(t, out.changes, 303)
	for _, c := range out.changes {
		if c.Group != nil {
			assert.Len(t, c.Group.Members, 100, "member DNs resolved case-insensitively")
		}
	}
	prev := out.next

	// Change one user, remove one, keep the rest.
	inc := &readResult{records: map[string]*Record{}, present: map[string]string{}, watermark: Watermark{Source: "usn", USN: 2}}
	for id, rec := range full.records {
		inc.present[id] = rec.DN
	}
	changed := fmt.Sprintf("%08x-0000-4000-8000-000000000000", 7)
	gone := fmt.Sprintf("%08x-0000-4000-8000-000000000000", 8)
	c := *full.records[changed]
	c.Email = "new7@example.com"
	inc.records[changed] = &c
	delete(inc.present, gone)
	out = compute(cfg, prev, inc, nil)
	require.Len(t, out.changes, 2)
	assert.Equal(t, OpUpdate, out.changes[0].Op)
	assert.Equal(t, changed, out.changes[0].ID)
	assert.Equal(t, OpUpdateGroup, out.changes[1].Op, "the group loses the removed user")
	assert.Len(t, out.changes[1].Group.Members, 99)
	require.Len(t, out.removals, 1)
	assert.Equal(t, gone, out.removals[0].ID)
	assert.Equal(t, OpUnlink, out.removals[0].Op)
	assert.False(t, out.withheld)
	assert.Equal(t, int64(2), out.next.Watermark.USN)
	assert.NotContains(t, out.next.Objects, gone)

	again := compute(cfg, out.next, &readResult{records: map[string]*Record{}, present: inc.present, watermark: out.next.Watermark}, nil)
	assert.Empty(t, again.changes, "a settled state plans nothing")
	assert.Empty(t, again.removals)
}

func BenchmarkComputeIncremental(b *testing.B) {
	const n = 10000
	cfg := Config{MaxSyncDeletions: 5}
	full := syntheticRead(n)
	prev := compute(cfg, State{}, full, map[string]User{}).next
	inc := &readResult{records: map[string]*Record{}, present: map[string]string{}, watermark: Watermark{Source: "usn", USN: 2}}
	for id, rec := range full.records {
		inc.present[id] = rec.DN
	}
	i := 0
	for id, rec := range full.records {
		if rec.Kind != KindUser || i == 10 {
			continue
		}
		c := *rec
		c.Email = "changed" + c.Email
		inc.records[id] = &c
		i++
	}
	b.ReportAllocs()
	for b.Loop() {
		out := compute(cfg, prev, inc, nil)
		if len(out.changes) != 10 {
			b.Fatalf("%d changes", len(out.changes))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/user")
}

func BenchmarkStateEncoding(b *testing.B) {
	const n = 100000
	st := compute(Config{}, State{}, syntheticRead(n), map[string]User{}).next
	enc, err := encodeState(st)
	require.NoError(b, err)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeState(st); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc))/float64(len(st.Objects)), "bytes/object")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeState(enc, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestWritesOwnTheirStrings: users, groups and report entries handed out
// by the syncer share no bytes with a decoded state, whose strings are
// slices of one buffer that would otherwise stay alive with them.
func TestWritesOwnTheirStrings(t *testing.T) {
	st := State{Version: StateVersion, Objects: map[string]*ObjectState{
		"id-1": {Source: &Record{Kind: KindUser, DN: "CN=U,DC=x", Email: "u@example.com", DisplayName: "U",
			Aliases: []string{"a@example.com"}, Attributes: map[string][]string{"title": {"Engineer"}}}, Applied: "fp"},
		"id-2": {Source: &Record{Kind: KindGroup, DN: "CN=G,DC=x", DisplayName: "G", Email: "g@example.com",
			Members: []string{"id-1"}}, Applied: "fp"},
	}}
	b, err := encodeState(st)
	require.NoError(t, err)
	loaded, err := decodeStateV2(b)
	require.NoError(t, err)
	rec := loaded.Objects["id-1"].Source
	grec := loaded.Objects["id-2"].Source

	shared := func(a, b string) bool { return len(a) > 0 && unsafe.StringData(a) == unsafe.StringData(b) }
	u := &User{ID: "id-1", DN: rec.DN, Email: rec.Email, DisplayName: rec.DisplayName, Aliases: rec.Aliases,
		Attributes: rec.Attributes, Groups: []string{grec.Members[0]}}
	ou := ownedUser(u)
	assert.Equal(t, *u, ou)
	assert.False(t, shared(ou.DN, rec.DN) || shared(ou.Email, rec.Email) || shared(ou.DisplayName, rec.DisplayName))
	assert.False(t, shared(ou.Aliases[0], rec.Aliases[0]))
	for k, v := range ou.Attributes {
		for rk, rv := range rec.Attributes {
			assert.False(t, shared(k, rk) || shared(v[0], rv[0]))
		}
	}
	g := &Group{ID: "id-2", DN: grec.DN, Name: grec.DisplayName, Email: grec.Email, Members: grec.Members}
	og := ownedGroup(g)
	assert.Equal(t, *g, og)
	assert.False(t, shared(og.DN, grec.DN) || shared(og.Name, grec.DisplayName) || shared(og.Email, grec.Email))
	sk := ownedSkips([]Skip{{ID: "id-1", DN: rec.DN, Reason: "r"}})
	assert.False(t, shared(sk[0].DN, rec.DN))
	// IDs are decoded into strings of their own: none points into the
	// decoded buffer (located through the DN, which does).
	at := bytes.Index(b, []byte(rec.DN))
	require.Positive(t, at)
	base := uintptr(unsafe.Pointer(unsafe.StringData(rec.DN))) - uintptr(at)
	inBuffer := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= base && p < base+uintptr(len(b))
	}
	require.True(t, inBuffer(rec.Email), "the check finds slices of the buffer")
	for id, o := range loaded.Objects {
		assert.False(t, inBuffer(id), "ID %s", id)
		for _, m := range o.Source.Members {
			assert.False(t, inBuffer(m), "member %s", m)
		}
	}
}

// FuzzDecodeState: any input either fails with an error or decodes to a
// state that survives encoding: the same watermark and objects (empty
// lists of a version 1 file come back as nil), and a second round trip
// changes nothing.
func FuzzDecodeState(f *testing.F) {
	seed := State{Version: StateVersion, Watermark: Watermark{Source: "dirsync", USN: 9, Cookie: []byte{1, 2}},
		Objects: map[string]*ObjectState{
			"6f9619ff-8b86-d011-b42d-00c04fc964ff": {Source: &Record{Kind: KindUser, DN: "CN=A", Email: "a@x.test",
				Attributes: map[string][]string{"sn": {"A"}}}, Applied: "0123456789abcdef0123456789abcdef", AppliedKind: KindUser,
				Wanted: "0123456789abcdef0123456789abcdef"},
			"g": {Source: &Record{Kind: KindGroup, DN: "CN=G", Members: []string{"6f9619ff-8b86-d011-b42d-00c04fc964ff"},
				MemberDNs: []string{"CN=X"}}, Applied: "x", AppliedKind: KindGroup},
			"h": {Source: &Record{Kind: KindGroup, DN: "CN=H", Email: "team@x.test"}, Applied: "0123456789abcdef0123456789abcdef",
				AppliedKind: KindGroup, AddressHeld: true, AppliedEmail: "old-team@x.test",
				KeptMembers: []string{"6f9619ff-8b86-d011-b42d-00c04fc964ff", "gone"}},
			"gone": {Applied: "0123456789abcdef0123456789abcdef", AppliedKind: KindUser, WithheldDN: "CN=Gone,DC=x"},
		}}
	b, err := encodeState(seed)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"version":1,"objects":{"a":{"applied":"x"}}}`))
	f.Add([]byte(`{"version":1,"objects":{"a":{"source":{"kind":"user","dn":"x","aliases":[],"attributes":{}}}}}`))
	f.Add([]byte(`{"version":1,"watermark":{"fullAt":"2025-01-01T00:00:00+01:00"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data, "")
		st2, spans, err2 := decodeStateSpans(data, "", true, true)
		require.Equal(t, err, err2, "noting where records lie and packing attributes change nothing")
		if err != nil {
			return
		}
		require.Equal(t, st, withMaps(st2))
		if spans != nil {
			// Saved again by copying every record: the same state.
			b, _, err := encodeStateReusing(st2, spans, st2.Objects, nil)
			require.NoError(t, err)
			back, err := decodeState(b, "")
			require.NoError(t, err)
			require.Equal(t, st, back)
			// Every record is found and decoded where the spans say.
			for i := range spans.spans {
				id, o, err := spans.objectAt(i)
				require.NoError(t, err)
				require.Equal(t, st.Objects[id], withMaps(State{Objects: map[string]*ObjectState{id: o}}).Objects[id])
				require.Equal(t, i, spans.find(id))
			}
			// Spliced with every other object encoded again: the same
			// state.
			delta := State{Version: StateVersion, Watermark: st.Watermark, Objects: map[string]*ObjectState{}}
			var touched []string
			for k, id := range sortedKeys(st.Objects) {
				if k%2 == 0 {
					touched = append(touched, id)
					delta.Objects[id] = st.Objects[id]
				}
			}
			b, _, err = encodeStateReusing(delta, spans, nil, touched)
			require.NoError(t, err)
			back, err = decodeState(b, "")
			require.NoError(t, err)
			require.Equal(t, st, back)
		}
		enc, err := encodeState(st)
		if err != nil {
			t.Fatalf("a decoded state does not encode: %v", err)
		}
		back, err := decodeState(enc, "")
		if err != nil {
			t.Fatalf("an encoded state does not decode: %v", err)
		}
		assert.Equal(t, st.Watermark, back.Watermark)
		assert.Equal(t, len(st.Objects), len(back.Objects))
		enc, err = encodeState(back)
		require.NoError(t, err)
		again, err := decodeState(enc, "")
		require.NoError(t, err)
		assert.Equal(t, back, again)
	})
}
