package ldapsync

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestObjectSizeIsTheEncodedLength: the size a new encoding is made to is
// that of every object record exactly, whatever the object holds.
func TestObjectSizeIsTheEncodedLength(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	word := func(n int) string { return strings.Repeat(string(rune('a'+r.IntN(26))), n) }
	ids := []string{"0f8fad5b-d9cb-469f-a165-70867728950e", "NOT-A-UUID", "", "0F8FAD5B-D9CB-469F-A165-70867728950E", word(200)}
	fps := []string{"", "0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789ABCDEF", "short", word(300)}
	kinds := []string{"", KindUser, KindContact, KindGroup, "other"}
	for i := range 2000 {
		o := &ObjectState{Applied: fps[r.IntN(len(fps))], AppliedKind: kinds[r.IntN(len(kinds))], AppliedDisabled: r.IntN(2) == 0}
		if r.IntN(4) == 0 {
			o.AddressHeld, o.AppliedEmail = true, word(r.IntN(3)*20)
		}
		for range r.IntN(4) / 2 * r.IntN(40) {
			o.KeptMembers = append(o.KeptMembers, ids[r.IntN(len(ids))])
		}
		if r.IntN(4) == 0 {
			o.WithheldDN = word(1 + r.IntN(200))
		}
		if r.IntN(3) == 0 {
			o.Wanted = o.Applied
		} else {
			o.Wanted = fps[r.IntN(len(fps))]
		}
		if r.IntN(5) > 0 {
			rec := &Record{Kind: kinds[1+r.IntN(3)], DN: word(r.IntN(300)), Email: word(r.IntN(40)), DisplayName: word(r.IntN(200)),
				Disabled: r.IntN(2) == 0}
			for range r.IntN(4) {
				rec.Aliases = append(rec.Aliases, word(1+r.IntN(30)))
			}
			for range r.IntN(2) {
				rec.Problems = append(rec.Problems, word(r.IntN(150)))
			}
			switch m := randomAttrMap(r); r.IntN(2) {
			case 0:
				rec.Attributes = m
			default:
				rec.attrs = packAttrs(m)
			}
			for range r.IntN(300) {
				rec.Members = append(rec.Members, ids[r.IntN(len(ids))])
			}
			for range r.IntN(3) {
				rec.MemberDNs = append(rec.MemberDNs, word(r.IntN(140)))
			}
			o.Source = rec
		}
		id := ids[r.IntN(len(ids))]
		var e stateEncoder
		e.object(id, o)
		require.Equal(t, len(e.b), objectSize(id, o), "object %d", i)
	}
}

// TestLargeEncodingRoundTrips: a state large enough to be encoded by two
// goroutines decodes to itself, and every object is found where its span
// says.
func TestLargeEncodingRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	st := State{Version: StateVersion, Watermark: Watermark{Source: "usn", USN: 7}, Objects: map[string]*ObjectState{}}
	n := parallelEncodeMin + 1234
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		rec := &Record{Kind: KindUser, DN: "CN=U" + id, Email: id + "@example.com"}
		if i%100 == 0 {
			rec = &Record{Kind: KindGroup, DN: "CN=G" + id}
			for m := range r.IntN(200) {
				rec.Members = append(rec.Members, fmt.Sprintf("%08x-0000-4000-8000-000000000000", m))
			}
		} else if i%2 == 0 {
			rec.attrs = packAttrs(randomAttrMap(r))
		}
		st.Objects[id] = &ObjectState{Source: rec, Applied: "0123456789abcdef0123456789abcdef", AppliedKind: rec.Kind}
	}
	b, enc, err := encodeStateReusing(st, nil, nil, nil)
	require.NoError(t, err)
	back, err := decodeState(b, "")
	require.NoError(t, err)
	require.Equal(t, withMaps(st), back)
	for id := range st.Objects {
		i := enc.find(id)
		require.GreaterOrEqual(t, i, 0, id)
		got, o, err := enc.objectAt(i)
		require.NoError(t, err)
		require.Equal(t, id, got)
		require.Equal(t, st.Objects[id].Source.DN, o.Source.DN)
	}
	// Encoded again dropping the records: the same bytes, no record left.
	again, _, err := encodeStateFrom(st, nil, nil, nil, true)
	require.NoError(t, err)
	require.Equal(t, b, again)
	for id, o := range st.Objects {
		require.Nil(t, o.Source, id)
	}
}

// TestKeptMembersRoundTrip: a group's kept members and a withheld
// object's last DN survive the encoding,
// and an object carrying flags this version does not know is refused,
// naming the object, rather than read as something else.
func TestKeptMembersRoundTrip(t *testing.T) {
	st := State{Version: StateVersion, Objects: map[string]*ObjectState{
		"0f8fad5b-d9cb-469f-a165-70867728950e": {Source: &Record{Kind: KindGroup, DN: "CN=Staff", Members: []string{"a"}},
			Applied: "0123456789abcdef0123456789abcdef", AppliedKind: KindGroup,
			KeptMembers: []string{"6f9619ff-8b86-d011-b42d-00c04fc964ff", "not-a-uuid"}},
		"gone": {Applied: "0123456789abcdef0123456789abcdef", AppliedKind: KindUser, WithheldDN: "CN=Bob,OU=Staff,DC=x"},
	}}
	b, err := encodeState(st)
	require.NoError(t, err)
	back, err := decodeState(b, "")
	require.NoError(t, err)
	require.Equal(t, st.Objects["0f8fad5b-d9cb-469f-a165-70867728950e"].KeptMembers,
		back.Objects["0f8fad5b-d9cb-469f-a165-70867728950e"].KeptMembers)
	require.Equal(t, "CN=Bob,OU=Staff,DC=x", back.Objects["gone"].WithheldDN)

	// The flags byte follows the 17-byte UUID of the first object.
	var e stateEncoder
	e.object("0f8fad5b-d9cb-469f-a165-70867728950e", st.Objects["0f8fad5b-d9cb-469f-a165-70867728950e"])
	at := -1
	for i := 0; i+len(e.b) <= len(b); i++ {
		if string(b[i:i+len(e.b)]) == string(e.b) {
			at = i + 17
			break
		}
	}
	require.GreaterOrEqual(t, at, 0, "the object's record is in the encoding")
	bad := append([]byte(nil), b[:len(b)-4]...)
	bad[at] |= 1 << 7
	bad = binary.BigEndian.AppendUint32(bad, crc32.Checksum(bad, stateCRC)) // intact but for the flag
	_, err = decodeState(bad, "")
	require.ErrorContains(t, err, "unknown object flags")
}
