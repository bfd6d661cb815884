package ldapsync

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// ParseDomainList reads a comma-separated list of email domains as the
// administration console accepts it: "a.example,b.example". Spaces, empty
// items and malformed domains are refused with an error naming the item.
// Domains are lower-cased; duplicates are dropped.
func ParseDomainList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for i, item := range strings.Split(s, ",") {
		if item == "" {
			return nil, fmt.Errorf("%w: item %d is empty", ErrInvalidDomainList, i+1)
		}
		if strings.ContainsAny(item, " \t\r\n") {
			return nil, fmt.Errorf("%w: item %d %q contains a space", ErrInvalidDomainList, i+1, item)
		}
		d := strings.ToLower(item)
		if err := validDomain(d); err != nil {
			return nil, fmt.Errorf("%w: item %d: %v", ErrInvalidDomainList, i+1, err)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// validDomain checks an email domain: at least two labels of letters,
// digits and hyphens, none starting or ending with a hyphen.
func validDomain(d string) error {
	if d == "" {
		return errors.New("empty domain")
	}
	if len(d) > 253 {
		return fmt.Errorf("domain %q is longer than 253 characters", d)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q has no dot", d)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("domain %q has an empty or over-long label", d)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("domain %q has a label starting or ending with '-'", d)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return fmt.Errorf("domain %q contains %q", d, rune(c))
			}
		}
	}
	return nil
}

// normalizeAddress lower-cases and validates an email address.
func normalizeAddress(a string) (string, error) {
	a = strings.ToLower(strings.TrimSpace(a))
	if a == "" {
		return "", errors.New("empty address")
	}
	if len(a) > 254 {
		return "", fmt.Errorf("address %q is longer than 254 characters", a)
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return "", fmt.Errorf("address %q is not local@domain", a)
	}
	local, domain := a[:at], a[at+1:]
	if len(local) > 64 {
		return "", fmt.Errorf("address %q has a local part over 64 characters", a)
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", fmt.Errorf("address %q has a misplaced dot", a)
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>[]:;@\\,\"", c) >= 0 {
			return "", fmt.Errorf("address %q contains %q", a, rune(c))
		}
	}
	if err := validDomain(domain); err != nil {
		return "", fmt.Errorf("address %q: %v", a, err)
	}
	return a, nil
}

func addressDomain(a string) string {
	return a[strings.LastIndexByte(a, '@')+1:]
}

// addresses picks the primary address and aliases of an entry: the
// proxyAddresses "SMTP:" value (else mail) is primary, "smtp:" values are
// aliases. Invalid values are returned as problems; a missing primary is
// reported by primary == "".
func addresses(proxy []string, mail string) (primary string, aliases []string, problems []string) {
	var primaries []string
	seen := map[string]bool{}
	for _, p := range proxy {
		typ, val, ok := strings.Cut(p, ":")
		if !ok {
			continue
		}
		if !strings.EqualFold(typ, "smtp") {
			continue // X500:, SIP:, x400: ... are not email addresses
		}
		a, err := normalizeAddress(val)
		if err != nil {
			problems = append(problems, "proxyAddresses: "+err.Error())
			continue
		}
		if typ == "SMTP" {
			primaries = append(primaries, a)
			continue
		}
		if !seen[a] {
			seen[a] = true
			aliases = append(aliases, a)
		}
	}
	switch {
	case len(primaries) > 1:
		problems = append(problems, fmt.Sprintf("proxyAddresses: %d primary SMTP: addresses", len(primaries)))
		primary = primaries[0]
		for _, p := range primaries[1:] {
			if !seen[p] {
				seen[p] = true
				aliases = append(aliases, p)
			}
		}
	case len(primaries) == 1:
		primary = primaries[0]
	case mail != "":
		a, err := normalizeAddress(mail)
		if err != nil {
			problems = append(problems, "mail: "+err.Error())
		} else {
			primary = a
		}
	}
	if primary != "" && seen[primary] {
		out := aliases[:0]
		for _, a := range aliases {
			if a != primary {
				out = append(out, a)
			}
		}
		aliases = out
	}
	return primary, aliases, problems
}

// formatGUID turns a 16-byte objectGUID (first three fields little-endian,
// as Active Directory sends it) into the canonical lower-case text form
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func formatGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID has %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%s",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], hex.EncodeToString(b[10:])), nil
}

// guidFilterValue turns a canonical GUID string back into the escaped
// byte form an objectGUID equality filter needs.
func guidFilterValue(id string) (string, error) {
	t := strings.ReplaceAll(id, "-", "")
	raw, err := hex.DecodeString(t)
	if err != nil || len(raw) != 16 {
		return "", fmt.Errorf("%q is not a GUID", id)
	}
	wire := []byte{raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6]}
	wire = append(wire, raw[8:]...)
	var sb strings.Builder
	for _, c := range wire {
		fmt.Fprintf(&sb, "\\%02x", c)
	}
	return sb.String(), nil
}

// parseDN parses a DN, naming the problem when it is malformed.
func parseDN(s string) (*ldap.DN, error) {
	d, err := ldap.ParseDN(s)
	if err != nil {
		return nil, fmt.Errorf("malformed DN %q: %v", s, err)
	}
	if len(d.RDNs) == 0 {
		return nil, fmt.Errorf("empty DN %q", s)
	}
	return d, nil
}

// normDN returns a comparison key for a DN: attribute types and values
// lower-cased, escaping and spacing differences removed. A DN that does not
// parse is keyed by its lower-cased text.
func normDN(s string) string {
	var stack [256]byte
	if len(s) <= len(stack) {
		if k, ok := normDNPlain(stack[:0], s); ok {
			return string(k)
		}
	} else if k, ok := normDNPlain(nil, s); ok {
		return string(k)
	}
	return parseNormDN(s)
}

// appendNormDN appends normDN(s) to dst.
func appendNormDN(dst []byte, s string) []byte {
	if k, ok := normDNPlain(dst, s); ok {
		return k
	}
	return append(dst, parseNormDN(s)...)
}

// parseNormDN is normDN through the DN parser.
func parseNormDN(s string) string {
	d, err := ldap.ParseDN(s)
	if err != nil {
		return "\x02" + strings.ToLower(s)
	}
	var sb strings.Builder
	for i, r := range d.RDNs {
		if i > 0 {
			sb.WriteByte(0)
		}
		for j, a := range r.Attributes {
			if j > 0 {
				sb.WriteByte(1)
			}
			sb.WriteString(strings.ToLower(a.Type))
			sb.WriteByte('=')
			sb.WriteString(strings.ToLower(a.Value))
		}
	}
	return sb.String()
}

// dnPlain marks the ASCII bytes that stand for themselves in a DN
// attribute value: printable, not a space, and none of the characters
// RFC 4514 escapes or separates with (" # + , ; < = > \).
var dnPlain = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range `"#+,;<=>\` {
		t[c] = false
	}
	return t
}()

// normDNPlain appends normDN(s) to dst without parsing for the DNs
// directories send: type=value pairs separated by "," or "+", types of
// letters, digits, "-" and ".", values of plain characters and inner
// spaces. The key is then the DN lower-cased with its separators
// replaced. ok is false for any other DN (escapes, spaces around
// separators, non-ASCII, ...).
func normDNPlain(dst []byte, s string) (key []byte, ok bool) {
	start := len(dst)
	dst = slices.Grow(dst, len(s))[:start+len(s)]
	buf := dst[start:]
	inValue, n := false, 0 // n: bytes of the current type or value
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !inValue {
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c == '=' && n > 0:
				buf[i] = c
				inValue, n = true, 0
				continue
			default:
				return nil, false
			}
			buf[i] = c
			n++
			continue
		}
		switch {
		case c == ',' || c == '+':
			if n == 0 || s[i-1] == ' ' {
				return nil, false
			}
			buf[i] = 0
			if c == '+' {
				buf[i] = 1
			}
			inValue, n = false, 0
			continue
		case c == ' ':
			if n == 0 {
				return nil, false
			}
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case !dnPlain[c]:
			return nil, false
		}
		buf[i] = c
		n++
	}
	if !inValue || n == 0 || s[len(s)-1] == ' ' {
		return nil, false
	}
	return dst, true
}

// underDN reports whether dn equals base or lies below it.
func underDN(dn, base string) bool {
	d, err1 := ldap.ParseDN(dn)
	b, err2 := ldap.ParseDN(base)
	if err1 != nil || err2 != nil {
		return false
	}
	return b.EqualFold(d) || b.AncestorOfFold(d)
}
