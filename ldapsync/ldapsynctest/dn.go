package ldapsynctest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// normDN returns the comparison form of a distinguished name: attribute
// types and values lower-cased, no insignificant spaces, escapes made
// canonical. Two DNs that Active Directory considers equal have the same
// normal form.
func normDN(dn string) (string, error) {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("%w: distinguished name %q: %v", ErrInvalid, dn, err)
	}
	for _, rdn := range parsed.RDNs {
		for _, a := range rdn.Attributes {
			a.Type = strings.ToLower(a.Type)
			a.Value = strings.ToLower(a.Value)
		}
	}
	return parsed.String(), nil
}

// mustNormDN is normDN for DNs built by the package itself.
func mustNormDN(dn string) string {
	n, err := normDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return n
}

// escapeRDNValue escapes an attribute value for use in a DN the way Active
// Directory prints it: RFC 4514 specials with a backslash, a newline as \0A,
// other characters (including non-ASCII) verbatim.
func escapeRDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case (i == 0 && (c == ' ' || c == '#')) || (i == len(v)-1 && c == ' '):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitDN returns the first RDN's type and (unescaped) value and the parent DN
// as written.
func splitDN(dn string) (typ, value, parent string, err error) {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) != 1 {
		return "", "", "", fmt.Errorf("%w: distinguished name %q", ErrInvalid, dn)
	}
	a := parsed.RDNs[0].Attributes[0]
	// The parent is everything after the first unescaped comma.
	escaped := false
	for i := 0; i < len(dn); i++ {
		switch {
		case escaped:
			escaped = false
		case dn[i] == '\\':
			escaped = true
		case dn[i] == ',':
			return a.Type, a.Value, strings.TrimSpace(dn[i+1:]), nil
		}
	}
	return a.Type, a.Value, "", nil
}

// GUID is the 16-byte objectGUID of a directory object, stored as Active
// Directory stores it on the wire: the first three fields little-endian.
type GUID [16]byte

// newGUID returns a random (version 4) GUID.
func newGUID() GUID {
	var g GUID
	_, _ = rand.Read(g[:])
	// Version 4, variant 10 in the textual (big-endian) layout: byte 7 of
	// the wire form holds the high byte of the third field.
	g[7] = (g[7] & 0x0f) | 0x40
	g[8] = (g[8] & 0x3f) | 0x80
	return g
}

// String returns the canonical Active Directory text form, the one printed
// by PowerShell's Get-ADUser and used in tombstone names:
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case, with the first three
// fields byte-swapped from the wire order.
func (g GUID) String() string {
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%s",
		g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], hex.EncodeToString(g[10:]))
}

// Bytes returns the 16 wire-order bytes, as the objectGUID attribute carries
// them.
func (g GUID) Bytes() []byte { return append([]byte(nil), g[:]...) }

// ParseGUID reads the text form printed by [GUID.String] (braces optional,
// any case) back into a GUID.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return g, fmt.Errorf("%w: GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", ErrInvalid, s)
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(t, "-", ""))
	if err != nil {
		return g, fmt.Errorf("%w: GUID %q: %v", ErrInvalid, s, err)
	}
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g, nil
}

// GUIDFromBytes converts a raw objectGUID attribute value (16 bytes, wire
// order) to a GUID.
func GUIDFromBytes(b []byte) (GUID, error) {
	var g GUID
	if len(b) != len(g) {
		return g, fmt.Errorf("%w: objectGUID has %d bytes, want 16", ErrInvalid, len(b))
	}
	copy(g[:], b)
	return g, nil
}
