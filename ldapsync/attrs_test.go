package ldapsync

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attrSamples are attribute maps the packed form must represent exactly,
// names and values that JSON escapes among them.
var attrSamples = []map[string][]string{
	nil,
	{"title": {"Chef"}},
	{"title": {"Chef"}, "department": {"Kitchen", "Bar"}, "company": nil},
	{"b": {}, "a": {"x"}, "<&>": {"\u2028", "\xff", "\"quoted\"", ""}},
	{"givenName": {"Zoë"}, "sn": {"Ångström"}, "telephoneNumber": {"+1 555 0100"}, "mobile": {"+1 555 0101"},
		"employeeID": {"E1"}, "uid": {"zoe"}, "sAMAccountName": {"zoe"}, "userPrincipalName": {"zoe@example.com"},
		"physicalDeliveryOfficeName": {"HQ"}, "company": {"Example"}, "department": {"R&D"}, "title": {"Lead <ops>"}},
}

// decodedForm is what a map becomes once stored: no empty map, nil for an
// attribute without values.
func decodedForm(m map[string][]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	out := map[string][]string{}
	for k, v := range m {
		if len(v) == 0 {
			out[k] = nil
		} else {
			out[k] = v
		}
	}
	return out
}

func randomAttrMap(r *rand.Rand) map[string][]string {
	chars := []string{"a", "b", "Z", "é", "<", "&", "\"", "\\", "\n", "\u2029", "\xfe", "0", " "}
	word := func() string {
		s := ""
		for range r.IntN(6) {
			s += chars[r.IntN(len(chars))]
		}
		return s
	}
	if r.IntN(5) == 0 {
		return nil
	}
	m := map[string][]string{}
	for range 1 + r.IntN(14) {
		var v []string
		for range r.IntN(4) {
			v = append(v, word())
		}
		m[word()] = v
	}
	return m
}

// TestAttrBlockIsTheMap: a record or user whose attributes are packed
// encodes to the same bytes, has the same fingerprint and becomes the same
// map as one holding them as a map.
func TestAttrBlockIsTheMap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	samples := append([]map[string][]string(nil), attrSamples...)
	for range 500 {
		samples = append(samples, randomAttrMap(r))
	}
	for i, m := range samples {
		b := packAttrs(m)
		assert.Equal(t, decodedForm(m), b.toMap(), "sample %d", i)
		assert.Equal(t, len(decodedForm(m)), b.len(), "sample %d", i)

		u := User{ID: "id", DN: "CN=U", Email: "u@example.com", Attributes: m}
		p := User{ID: "id", DN: "CN=U", Email: "u@example.com", attrs: b}
		assert.Equal(t, userFingerprint(User{ID: "id", DN: "CN=U", Email: "u@example.com", Attributes: decodedForm(m)}),
			userFingerprint(p), "sample %d: fingerprint", i)
		noEmpty := true
		for _, v := range m {
			noEmpty = noEmpty && len(v) > 0
		}
		if noEmpty { // as the directory gives them ([] and null differ in a map)
			assert.Equal(t, userFingerprint(u), userFingerprint(p), "sample %d: fingerprint", i)
		}
		owned := ownedUser(&p)
		assert.Equal(t, ownedUser(&User{ID: "id", DN: "CN=U", Email: "u@example.com", Attributes: decodedForm(m)}), owned, "sample %d", i)
		assert.Empty(t, owned.attrs)
		assert.Equal(t, decodedForm(m), p.clone().Attributes)
		assert.Empty(t, p.clone().attrs)

		var e1, e2 stateEncoder
		e1.object("id", &ObjectState{Source: &Record{Kind: KindUser, DN: "CN=U", Attributes: m}})
		e2.object("id", &ObjectState{Source: &Record{Kind: KindUser, DN: "CN=U", attrs: b}})
		assert.Equal(t, e1.b, e2.b, "sample %d: encoding", i)
	}
}

// TestOwnedUserCopiesPackedAttributes: what leaves for the target shares
// no memory with the block (which may be a slice of a whole stored state).
func TestOwnedUserCopiesPackedAttributes(t *testing.T) {
	b := packAttrs(map[string][]string{"title": {"Chef"}, "department": {"Kitchen"}})
	lo := uintptr(unsafe.Pointer(unsafe.StringData(string(b))))
	hi := lo + uintptr(len(b))
	c := ownedUser(&User{ID: "id", attrs: b})
	require.Len(t, c.Attributes, 2)
	for k, vs := range c.Attributes {
		for _, s := range append([]string{k}, vs...) {
			p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
			assert.False(t, p >= lo && p < hi, "%q shares the block", s)
		}
	}
}

// TestUnsortedStoredAttributesBecomeAMap: a stored record whose attribute
// names are not in order (no encoder of this package writes one) is read
// as a map, not taken for a block in the encoder's order.
func TestUnsortedStoredAttributesBecomeAMap(t *testing.T) {
	st := State{Version: StateVersion, Objects: map[string]*ObjectState{
		"u1": {Source: &Record{Kind: KindUser, DN: "CN=U", Attributes: map[string][]string{"aa": {"x"}, "bb": {"y"}}}},
	}}
	b, err := encodeState(st)
	require.NoError(t, err)
	a := []byte("\x02aa\x01\x01x")
	z := []byte("\x02bb\x01\x01y")
	i := indexOf(b, append(append([]byte(nil), a...), z...))
	require.GreaterOrEqual(t, i, 0)
	copy(b[i:], z)
	copy(b[i+len(z):], a)
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], stateCRC))

	packed, _, err := decodeStateSpans(b, "", true, true)
	require.NoError(t, err)
	r := packed.Objects["u1"].Source
	assert.Empty(t, r.attrs)
	assert.Equal(t, map[string][]string{"aa": {"x"}, "bb": {"y"}}, r.Attributes)
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

// FuzzAttrBlock: walking any block, well formed or not, neither panics
// nor reads beyond it, and a well-formed block walks back to its map.
func FuzzAttrBlock(f *testing.F) {
	for _, m := range attrSamples {
		f.Add(string(packAttrs(m)))
	}
	f.Add("\x05\x01a")
	f.Add("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
	f.Fuzz(func(t *testing.T, s string) {
		b := attrBlock(s)
		n := 0
		b.each(nil, func(name string, values []string) { n++ })
		assert.LessOrEqual(t, n, b.len())
		if m := b.toMap(); len(m) > 0 && n == b.len() {
			again := packAttrs(m)
			if len(m) == n { // no name twice
				assert.Equal(t, m, again.toMap())
			}
		}
	})
}

// packAttrs packs a map.
func packAttrs(m map[string][]string) attrBlock {
	var p attrPacker
	for _, k := range sortedKeys(m) {
		p.add(k, m[k])
	}
	return p.block()
}
