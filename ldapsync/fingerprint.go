package ldapsync

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
	"unicode/utf8"
)

// The fingerprints of users and groups are the SHA-256 (first 16 bytes,
// hex) of their encoding/json form, which stored states hold: the writer
// below produces exactly the bytes json.Marshal gives a User or Group
// (field order and omitempty of their tags, map keys sorted, the escaping
// of json.Marshal including its HTML escaping) without reflection.

type fpWriter struct {
	b    []byte
	keys []string
	vals []string // attrBlock.each's buffer
}

var fpWriters = sync.Pool{New: func() any { return &fpWriter{b: make([]byte, 0, 512)} }}

// userFingerprint identifies what the target holds for a user. Groups are
// left out: membership travels with the groups.
func userFingerprint(u User) string {
	w := fpWriters.Get().(*fpWriter)
	defer fpWriters.Put(w)
	w.b = w.b[:0]
	w.user(&u)
	return w.sum()
}

func groupFingerprint(g Group) string {
	w := fpWriters.Get().(*fpWriter)
	defer fpWriters.Put(w)
	w.b = w.b[:0]
	w.group(&g)
	return w.sum()
}

func (w *fpWriter) sum() string {
	h := sha256.Sum256(w.b)
	if cap(w.b) > 64<<10 {
		w.b = make([]byte, 0, 512) // keep no outsized buffer in the pool
	}
	return hex.EncodeToString(h[:16])
}

// user writes json.Marshal(u) with Groups left out (nil) and empty Aliases
// and Attributes omitted.
func (w *fpWriter) user(u *User) {
	w.b = append(w.b, `{"id":`...)
	w.str(u.ID)
	w.b = append(w.b, `,"dn":`...)
	w.str(u.DN)
	w.b = append(w.b, `,"email":`...)
	w.str(u.Email)
	if len(u.Aliases) > 0 {
		w.b = append(w.b, `,"aliases":`...)
		w.strs(u.Aliases)
	}
	if u.DisplayName != "" {
		w.b = append(w.b, `,"displayName":`...)
		w.str(u.DisplayName)
	}
	if u.Disabled {
		w.b = append(w.b, `,"disabled":true`...)
	}
	if u.Contact {
		w.b = append(w.b, `,"contact":true`...)
	}
	if len(u.Attributes) > 0 {
		w.b = append(w.b, `,"attributes":{`...)
		w.keys = w.keys[:0]
		for k := range u.Attributes {
			w.keys = append(w.keys, k)
		}
		slices.Sort(w.keys)
		for i, k := range w.keys {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.str(k)
			w.b = append(w.b, ':')
			w.strs(u.Attributes[k])
		}
		w.b = append(w.b, '}')
		clear(w.keys)
	} else if u.attrs != "" && u.Attributes == nil {
		w.b = append(w.b, `,"attributes":{`...)
		first := true
		w.vals = u.attrs.each(w.vals, func(name string, values []string) {
			if !first {
				w.b = append(w.b, ',')
			}
			first = false
			w.str(name)
			w.b = append(w.b, ':')
			w.strs(values)
		})
		w.b = append(w.b, '}')
		clear(w.vals[:cap(w.vals)])
	}
	w.b = append(w.b, '}')
}

func (w *fpWriter) group(g *Group) {
	w.b = append(w.b, `{"id":`...)
	w.str(g.ID)
	w.b = append(w.b, `,"dn":`...)
	w.str(g.DN)
	w.b = append(w.b, `,"name":`...)
	w.str(g.Name)
	if g.Email != "" {
		w.b = append(w.b, `,"email":`...)
		w.str(g.Email)
	}
	if len(g.Members) > 0 {
		w.b = append(w.b, `,"members":`...)
		w.strs(g.Members)
	}
	w.b = append(w.b, '}')
}

// strs writes a list as json.Marshal does: null for a nil slice.
func (w *fpWriter) strs(v []string) {
	if v == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '[')
	for i, s := range v {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.str(s)
	}
	w.b = append(w.b, ']')
}

// jsonPlain marks the ASCII bytes json.Marshal writes unescaped: not a
// control character, quote, backslash, or one of < > & (HTML escaping).
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

const hexLower = "0123456789abcdef"

// str writes s as a JSON string with encoding/json's escaping.
func (w *fpWriter) str(s string) {
	b := append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexLower[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	w.b = append(b, '"')
}
