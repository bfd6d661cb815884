package ldapsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fingerprints as they were computed through encoding/json: stored
// states hold them, so the writer must give the same values.

func jsonUserFingerprint(u User) string {
	u.Groups = nil
	if len(u.Aliases) == 0 {
		u.Aliases = nil
	}
	if len(u.Attributes) == 0 {
		u.Attributes = nil
	}
	return jsonFingerprint(u)
}

func jsonGroupFingerprint(g Group) string {
	if len(g.Members) == 0 {
		g.Members = nil
	}
	return jsonFingerprint(g)
}

func jsonFingerprint(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

func TestFingerprintsKeepTheirValues(t *testing.T) {
	// Values computed by the encoding/json implementation and stored in
	// states: they must never change.
	u := User{ID: "6f9619ff-8b86-d011-b42d-00c04fc964ff", DN: "CN=Ann,DC=x", Email: "ann@example.com",
		Aliases: []string{"a@example.com"}, DisplayName: "Ann <Admin> & \u2028", Disabled: true,
		Groups: []string{"ignored"}, Attributes: map[string][]string{"title": {"Chef"}, "sn": nil, "a\tb": {}}}
	assert.Equal(t, jsonUserFingerprint(u), userFingerprint(u))
	// sha256(`{"id":"x","dn":"CN=X","email":"x@y.z"}`), first 16 bytes.
	assert.Equal(t, "7f29b510653e1f3296e34551ad5ef80b", userFingerprint(User{ID: "x", DN: "CN=X", Email: "x@y.z"}))
	g := Group{ID: "g", DN: "CN=G", Name: "G\x00\x7f\xff", Email: "g@x.z", Members: []string{"a", "b"}}
	assert.Equal(t, jsonGroupFingerprint(g), groupFingerprint(g))
	assert.Equal(t, jsonGroupFingerprint(Group{Members: []string{}}), groupFingerprint(Group{Members: []string{}}))
}

// FuzzFingerprints: the writer and encoding/json agree on every input,
// including invalid UTF-8, control characters, HTML characters and the
// line and paragraph separators.
func FuzzFingerprints(f *testing.F) {
	f.Add("id", "CN=A,DC=x", "a@x.test", "Ann", "title", "Chef", "alias@x.test", true, false)
	f.Add("\x00<>&\"\\", "\u2028\u2029\b\f\n\r\t", "\xff\xfe", "é漢字😀", "", "\x7f\x1f", "", false, true)
	f.Add("a\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "&amp;", "k\x01", "v\u2029", "x", true, true)
	f.Fuzz(func(t *testing.T, id, dn, email, name, key, val, alias string, disabled, contact bool) {
		u := User{ID: id, DN: dn, Email: email, DisplayName: name, Disabled: disabled, Contact: contact}
		if alias != "" {
			u.Aliases = []string{alias, val}
		}
		if key != "" {
			u.Attributes = map[string][]string{key: {val, name}, strings.ToUpper(key) + "x": nil, val: {}}
		}
		require.Equal(t, jsonUserFingerprint(u), userFingerprint(u))
		g := Group{ID: id, DN: dn, Name: name, Email: email}
		if alias != "" {
			g.Members = []string{alias, key}
		}
		require.Equal(t, jsonGroupFingerprint(g), groupFingerprint(g))
	})
}
