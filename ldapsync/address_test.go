package ldapsync

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDomainList(t *testing.T) {
	got, err := ParseDomainList("a.example,B.Example,a.example")
	require.NoError(t, err)
	assert.Equal(t, []string{"a.example", "b.example"}, got)

	got, err = ParseDomainList("")
	require.NoError(t, err)
	assert.Empty(t, got)

	for _, bad := range []string{"a.example, b.example", "a.example,,b.example", ",a.example", "a.example,", " a.example",
		"nodot", "a..example", "-a.example", "a_b.example", "a.example;b.example", "user@a.example"} {
		_, err := ParseDomainList(bad)
		assert.ErrorIs(t, err, ErrInvalidDomainList, bad)
	}
	_, err = ParseDomainList("a.example, b.example")
	assert.ErrorContains(t, err, "item 2")
	assert.ErrorContains(t, err, "space")
}

func TestAddresses(t *testing.T) {
	cases := []struct {
		name     string
		proxy    []string
		mail     string
		primary  string
		aliases  []string
		problems int
	}{
		{"mail only", nil, "Bob@Example.COM", "bob@example.com", nil, 0},
		{"SMTP wins over mail", []string{"SMTP:p@example.com"}, "m@example.com", "p@example.com", nil, 0},
		{"aliases", []string{"smtp:b@example.com", "SMTP:a@example.com", "smtp:B@example.com", "smtp:a@example.com"}, "", "a@example.com", []string{"b@example.com"}, 0},
		{"other types ignored", []string{"X500:/o=x", "SIP:a@example.com", "x400:c=us", "SMTP:a@example.com"}, "", "a@example.com", nil, 0},
		{"aliases without primary fall back to mail", []string{"smtp:b@example.com"}, "m@example.com", "m@example.com", []string{"b@example.com"}, 0},
		{"invalid mail", nil, "not an address", "", nil, 1},
		{"invalid proxy", []string{"SMTP:bad", "smtp:ok@example.com"}, "", "", []string{"ok@example.com"}, 1},
		{"two primaries", []string{"SMTP:a@example.com", "SMTP:b@example.com"}, "", "a@example.com", []string{"b@example.com"}, 1},
		{"nothing", nil, "", "", nil, 0},
		{"no colon", []string{"garbage"}, "", "", nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, a, probs := addresses(c.proxy, c.mail)
			assert.Equal(t, c.primary, p)
			assert.Equal(t, c.aliases, a)
			assert.Len(t, probs, c.problems, "%v", probs)
		})
	}
}

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		" Alice@Example.COM ": "alice@example.com",
		"o*brien@example.com": "o*brien@example.com",
		"a+tag@sub.example":   "a+tag@sub.example",
	} {
		got, err := normalizeAddress(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "@example.com", "a@", "a@b", "a b@example.com", "a@exa mple.com", ".a@example.com",
		"a..b@example.com", "a@-x.example", "a,b@example.com", "a@exa\nmple.com", "\"a\"@example.com"} {
		_, err := normalizeAddress(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestGUIDForms(t *testing.T) {
	raw := []byte{0xff, 0x19, 0x96, 0x6f, 0x86, 0x8b, 0x11, 0xd0, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	s, err := formatGUID(raw)
	require.NoError(t, err)
	assert.Equal(t, "6f9619ff-8b86-d011-b42d-00c04fc964ff", s, "Microsoft's documented example")
	f, err := guidFilterValue(s)
	require.NoError(t, err)
	var want bytes.Buffer
	for _, b := range raw {
		want.WriteString("\\")
		want.WriteString(string("0123456789abcdef"[b>>4]) + string("0123456789abcdef"[b&15]))
	}
	assert.Equal(t, want.String(), f)
	_, err = formatGUID(raw[:15])
	assert.Error(t, err)
	_, err = guidFilterValue("nope")
	assert.Error(t, err)
}

func TestParseRange(t *testing.T) {
	b, lo, hi, ok := parseRange("member;range=0-1499")
	assert.True(t, ok)
	assert.Equal(t, "member", b)
	assert.Equal(t, 0, lo)
	assert.Equal(t, 1499, hi)
	_, lo, hi, ok = parseRange("member;Range=3000-*")
	assert.True(t, ok)
	assert.Equal(t, 3000, lo)
	assert.Equal(t, -1, hi)
	for _, bad := range []string{"member", "member;range=", "member;range=5-1", "member;range=a-b", "member;range=-1-5", "member;binary"} {
		_, _, _, ok := parseRange(bad)
		assert.False(t, ok, bad)
	}
}

func TestDNHelpers(t *testing.T) {
	assert.Equal(t, normDN("CN=Alice Smith,OU=Staff,DC=corp,DC=example"), normDN("cn=alice smith, ou=staff,dc=CORP,dc=example"))
	assert.NotEqual(t, normDN("CN=a\\,b,DC=x"), normDN("CN=a,CN=b,DC=x"))
	assert.True(t, underDN("CN=A,OU=Sync,DC=x", "ou=sync,dc=x"))
	assert.True(t, underDN("OU=Sync,DC=x", "OU=Sync,DC=x"))
	assert.False(t, underDN("CN=A,OU=Other,DC=x", "OU=Sync,DC=x"))
	assert.False(t, underDN("garbage", "OU=Sync,DC=x"))
}

func FuzzAddresses(f *testing.F) {
	f.Add("SMTP:a@example.com", "smtp:b@example.com", "m@example.com")
	f.Add("X500:/o=x", "smtp:", "")
	f.Add("SMTP:A@B.C", "SMTP:a@b.c", "not valid")
	f.Fuzz(func(t *testing.T, p1, p2, mail string) {
		primary, aliases, _ := addresses([]string{p1, p2}, mail)
		if primary != "" {
			if _, err := normalizeAddress(primary); err != nil {
				t.Fatalf("primary %q is invalid: %v", primary, err)
			}
		}
		for _, a := range aliases {
			if a == primary {
				t.Fatalf("alias repeats primary %q", a)
			}
			if _, err := normalizeAddress(a); err != nil {
				t.Fatalf("alias %q is invalid: %v", a, err)
			}
		}
	})
}

func FuzzParseRange(f *testing.F) {
	f.Add("member;range=0-1499")
	f.Add("member;range=1500-*")
	f.Add("proxyAddresses;binary;range=3-2")
	f.Fuzz(func(t *testing.T, s string) {
		_, lo, hi, ok := parseRange(s)
		if ok && (lo < 0 || (hi >= 0 && hi < lo)) {
			t.Fatalf("%q: bad range %d-%d", s, lo, hi)
		}
	})
}

func FuzzParseDomainList(f *testing.F) {
	f.Add("a.example,b.example")
	f.Add("a.example, b.example")
	f.Add(",,")
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDomainList(s)
		if err != nil {
			return
		}
		for _, d := range ds {
			if verr := validDomain(d); verr != nil || d != strings.ToLower(d) {
				t.Fatalf("%q accepted %q: %v", s, d, verr)
			}
		}
	})
}
