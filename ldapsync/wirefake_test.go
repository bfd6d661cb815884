package ldapsync

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// berResponse encodes an LDAPResult-shaped response with application tag.
func berResponse(id int64, tag ber.Tag, code int) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	return berMessage(id, op)
}

// scriptedServer is an LDAP server on loopback for replies no real server
// sends: binds succeed, and every search is answered with what search
// returns for it.
func scriptedServer(t *testing.T, search func(id int64) [][]byte) Config {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					msg, err := readMessage(c, 1<<20)
					if err != nil {
						return
					}
					m, err := parseMessage(msg)
					if err != nil {
						return
					}
					var out [][]byte
					switch m.op.tag {
					case 0x60: // BindRequest
						out = [][]byte{berResponse(m.id, ldap.ApplicationBindResponse, 0)}
					case 0x63: // SearchRequest
						out = search(m.id)
					default:
						return
					}
					for _, b := range out {
						if _, err := c.Write(b); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	return Config{Host: "127.0.0.1", Port: port, Encryption: EncryptionNone, BindDN: "cn=x", BindPassword: "p",
		RootDN: "dc=example", Timeout: 5 * time.Second}
}

func member(name string, dns ...string) ldap.EntryAttribute {
	a := ldap.EntryAttribute{Name: name}
	for _, d := range dns {
		a.Values = append(a.Values, d)
		a.ByteValues = append(a.ByteValues, []byte(d))
	}
	return a
}

// TestRangesThatCannotBeFollowed: a ranged attribute that does not parse
// or does not start at the first value fails the read, naming the entry
// and the attribute, instead of the group silently losing those members.
func TestRangesThatCannotBeFollowed(t *testing.T) {
	group := func(a ldap.EntryAttribute) func(id int64) [][]byte {
		return func(id int64) [][]byte {
			return [][]byte{
				berEntry(id, "cn=g,dc=example", []ldap.EntryAttribute{
					member("entryUUID", "0f8fad5b-d9cb-469f-a165-70867728950e"), member("objectClass", "groupOfNames"), a}),
				berDone(id, 0, "", ""),
			}
		}
	}
	read := func(cfg Config) (*readResult, error) {
		ctx := context.Background()
		s, err := connect(ctx, cfg, connectOptions{bind: true})
		require.NoError(t, err)
		defer s.Close()
		r := &reader{s: s, cfg: cfg, idAttr: "entryUUID", scope: "(objectClass=*)"}
		out := &readResult{records: map[string]*Record{}}
		_, err = r.readRecords(ctx, "read users and groups", r.scope, out)
		return out, err
	}
	for name, a := range map[string]ldap.EntryAttribute{
		"malformed":         member("member;range=0-x", "uid=a,dc=example"),
		"not from 0":        member("member;range=5-*", "uid=a,dc=example"),
		"end before start":  member("member;range=9-3", "uid=a,dc=example"),
		"no numbers":        member("member;Range=-", "uid=a,dc=example"),
		"other option case": member("member;x-foo;RANGE=1-2", "uid=a,dc=example"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := read(scriptedServer(t, group(a)))
			var re *ReadError
			require.True(t, errors.As(err, &re), "%v", err)
			assert.ErrorIs(t, err, ErrRead)
			assert.Contains(t, err.Error(), strconv.Quote(a.Name))
			assert.Contains(t, err.Error(), "cn=g,dc=example")
		})
	}
	// An option that merely ends in "range=" is no range.
	out, err := read(scriptedServer(t, group(member("member;x-range=5", "uid=a,dc=example"))))
	require.NoError(t, err)
	require.Len(t, out.records, 1)
	// A complete range ("0-*") is the attribute itself.
	out, err = read(scriptedServer(t, group(member("member;range=0-*", "uid=a,dc=example", "uid=b,dc=example"))))
	require.NoError(t, err)
	require.Len(t, out.records, 1)
	for _, rec := range out.records {
		assert.Equal(t, []string{"uid=a,dc=example", "uid=b,dc=example"}, rec.MemberDNs)
	}
}

// TestWireSearchMalformedReply: an entry whose BER does not hold together
// ends the search with an error, never a panic.
func TestWireSearchMalformedReply(t *testing.T) {
	cfg := scriptedServer(t, func(id int64) [][]byte {
		bad := berEntry(id, "cn=x,dc=example", []ldap.EntryAttribute{member("cn", "x")})
		bad[len(bad)-3] = 0x7f // a value length that overruns its set
		return [][]byte{bad, berDone(id, 0, "", "")}
	})
	ctx := context.Background()
	s, err := connect(ctx, cfg, connectOptions{bind: true})
	require.NoError(t, err)
	defer s.Close()
	r := &reader{s: s, cfg: cfg, idAttr: "entryUUID", scope: "(objectClass=*)"}
	_, err = r.search(ctx, "read", r.scope, []string{"cn"}, func(*ldap.Entry) error { return nil })
	assert.ErrorIs(t, err, errMessage)
	assert.ErrorIs(t, err, ErrRead)
}
