package ldapsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"unsafe"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// berEntry encodes a SearchResultEntry message the way a server does,
// with go-asn1-ber.
func berEntry(id int64, dn string, attrs []ldap.EntryAttribute, controls ...ldap.Control) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for _, a := range attrs {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.Name, ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for _, v := range a.ByteValues {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(v), ""))
		}
		pa.AppendChild(set)
		list.AppendChild(pa)
	}
	op.AppendChild(list)
	return berMessage(id, op, controls...)
}

// berMessage wraps a protocol operation into an LDAPMessage.
func berMessage(id int64, op *ber.Packet, controls ...ldap.Control) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	env.AppendChild(op)
	if len(controls) > 0 {
		ctls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
		for _, c := range controls {
			ctls.AppendChild(c.Encode())
		}
		env.AppendChild(ctls)
	}
	return env.Bytes()
}

// berDone encodes a SearchResultDone message.
func berDone(id int64, code int, matched, diag string, controls ...ldap.Control) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultDone, nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, matched, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, ""))
	return berMessage(id, op, controls...)
}

func randomAttrs(rng *rand.Rand) []ldap.EntryAttribute {
	var attrs []ldap.EntryAttribute
	for i := range rng.IntN(6) {
		a := ldap.EntryAttribute{Name: fmt.Sprintf("attr%d;x-%d", i, rng.IntN(9))}
		n := rng.IntN(4)
		if rng.IntN(3) == 0 {
			n = 200 + rng.IntN(400) // long values: multi-byte lengths
		}
		for range rng.IntN(5) {
			v := make([]byte, rng.IntN(n+1))
			for k := range v {
				v[k] = byte(rng.IntN(256))
			}
			a.ByteValues = append(a.ByteValues, v)
			a.Values = append(a.Values, string(v))
		}
		attrs = append(attrs, a)
	}
	return attrs
}

// TestDecodeEntryMatchesBER: entries encoded by go-asn1-ber (binary
// values, empty values, long lengths, controls after the entry) decode
// to the same DN, names and values.
func TestDecodeEntryMatchesBER(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		dn := fmt.Sprintf("CN=User %d,OU=Ü,DC=example,DC=com", i)
		attrs := randomAttrs(rng)
		var ctls []ldap.Control
		if i%3 == 0 {
			ctls = append(ctls, ldap.NewControlPaging(100))
		}
		msg := berEntry(int64(i+1)*977, dn, attrs, ctls...)
		got, err := readMessage(bytes.NewReader(msg), maxMessageSize)
		require.NoError(t, err)
		require.Equal(t, msg, got)
		m, err := parseMessage(got)
		require.NoError(t, err)
		assert.Equal(t, int64(i+1)*977, m.id)
		assert.Equal(t, byte(tagSearchEntry), m.op.tag)
		assert.Equal(t, len(ctls) > 0, m.controls != nil)
		e, err := decodeEntry(m.op.body)
		require.NoError(t, err)
		assert.Equal(t, dn, e.DN)
		require.Len(t, e.Attributes, len(attrs))
		for j, a := range attrs {
			assert.Equal(t, a.Name, e.Attributes[j].Name)
			assert.Equal(t, len(a.Values), len(e.Attributes[j].Values))
			for k := range a.Values {
				assert.Equal(t, a.Values[k], e.Attributes[j].Values[k])
				assert.Equal(t, a.ByteValues[k], e.Attributes[j].ByteValues[k])
			}
		}
		if len(attrs) > 0 && len(attrs[0].Values) > 0 {
			// Appending to one attribute's values must not touch the next.
			e.Attributes[0].Values = append(e.Attributes[0].Values, "x")
			if len(e.Attributes) > 1 && len(attrs[1].Values) > 0 {
				assert.Equal(t, attrs[1].Values[0], e.Attributes[1].Values[0])
			}
		}
	}
}

func TestDecodeResult(t *testing.T) {
	p := ldap.NewControlPaging(500)
	p.SetCookie([]byte{0, 1, 2, 0xff})
	m, err := parseMessage(berDone(7, ldap.LDAPResultSuccess, "", "", p))
	require.NoError(t, err)
	res, err := decodeResult(m.op.body, m.controls)
	require.NoError(t, err)
	require.NoError(t, res.err())
	got, _ := ldap.FindControl(res.controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
	require.NotNil(t, got)
	assert.Equal(t, []byte{0, 1, 2, 0xff}, got.Cookie)

	m, err = parseMessage(berDone(8, ldap.LDAPResultSizeLimitExceeded, "DC=example", "too many"))
	require.NoError(t, err)
	res, err = decodeResult(m.op.body, m.controls)
	require.NoError(t, err)
	var le *ldap.Error
	require.ErrorAs(t, res.err(), &le)
	assert.True(t, ldap.IsErrorWithCode(res.err(), ldap.LDAPResultSizeLimitExceeded))
	assert.Equal(t, "DC=example", le.MatchedDN)
	assert.Contains(t, le.Error(), "too many")
}

// TestReadMessageRefuses: framing a server could send to exhaust memory
// or confuse the reader is refused with an error, never a panic or a
// large allocation.
func TestReadMessageRefuses(t *testing.T) {
	for name, in := range map[string][]byte{
		"not a SEQUENCE":      {0x31, 0x00},
		"indefinite length":   {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},
		"length of 5 bytes":   {0x30, 0x85, 1, 0, 0, 0, 0},
		"over the limit":      {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"truncated header":    {0x30},
		"truncated long form": {0x30, 0x82, 0x01},
		"truncated contents":  {0x30, 0x05, 0x02, 0x01},
		"empty":               {},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := readMessage(bytes.NewReader(in), 1<<20)
			require.Error(t, err)
			if len(in) > 0 {
				assert.False(t, errors.Is(err, io.EOF), "a cut message is io.ErrUnexpectedEOF, not a clean end")
			}
		})
	}
	// A large announced length is read as it arrives, not allocated up front.
	big := append([]byte{0x30, 0x84, 0x01, 0x00, 0x00, 0x00}, make([]byte, 100)...)
	_, err := readMessage(bytes.NewReader(big), maxMessageSize)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestDecodeEntryRefusesMalformed(t *testing.T) {
	good := berEntry(1, "CN=a", []ldap.EntryAttribute{{Name: "cn", Values: []string{"a"}, ByteValues: [][]byte{[]byte("a")}}})
	m, err := parseMessage(good)
	require.NoError(t, err)
	body := m.op.body
	// Every truncation and every single-byte change either decodes or
	// fails with errMessage; none panics.
	for i := range body {
		_, err := decodeEntry(body[:i])
		assert.ErrorIs(t, err, errMessage, "truncated at %d", i)
		for _, b := range []byte{0x00, 0x04, 0x30, 0x31, 0x7f, 0x80, 0x84, 0xff} {
			c := bytes.Clone(body)
			c[i] = b
			if _, err := decodeEntry(c); err != nil {
				assert.ErrorIs(t, err, errMessage)
			}
		}
	}
}

// FuzzWireMessage: any bytes are read, split and decoded without a panic;
// what decodes as an entry agrees with go-asn1-ber's reading of the same
// bytes.
func FuzzWireMessage(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 8 {
		f.Add(berEntry(int64(i), "CN=x,DC=y", randomAttrs(rng)))
	}
	p := ldap.NewControlPaging(10)
	p.SetCookie([]byte("c"))
	f.Add(berDone(2, 0, "", "", p))
	f.Add(berDone(3, 53, "DC=y", "unwilling"))
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := readMessage(bytes.NewReader(in), 1<<20)
		if err != nil {
			return
		}
		m, err := parseMessage(msg)
		if err != nil {
			return
		}
		switch m.op.tag {
		case tagSearchDone:
			_, _ = decodeResult(m.op.body, m.controls)
		case tagSearchReference:
			_, _ = decodeReference(m.op.body)
		case tagSearchEntry:
			e, err := decodeEntry(m.op.body)
			if err != nil {
				return
			}
			pkt, perr := ber.DecodePacketErr(msg)
			if perr != nil || len(pkt.Children) < 2 || len(pkt.Children[1].Children) != 2 {
				return // go-asn1-ber reads BER more loosely or more strictly; only agreement on clean input is checked
			}
			op := pkt.Children[1]
			if dn, ok := op.Children[0].Value.(string); ok && dn != e.DN {
				t.Fatalf("DN %q, go-asn1-ber %q", e.DN, dn)
			}
			list := op.Children[1].Children
			if len(list) != len(e.Attributes) {
				t.Fatalf("%d attributes, go-asn1-ber %d", len(e.Attributes), len(list))
			}
			for i, pa := range list {
				if len(pa.Children) != 2 {
					t.Fatalf("attribute %d: %d parts", i, len(pa.Children))
				}
				if vals := pa.Children[1].Children; len(vals) != len(e.Attributes[i].ByteValues) {
					t.Fatalf("attribute %d: %d values, go-asn1-ber %d", i, len(e.Attributes[i].ByteValues), len(vals))
				} else {
					for k, v := range vals {
						if !bytes.Equal(v.Data.Bytes(), e.Attributes[i].ByteValues[k]) {
							t.Fatalf("attribute %d value %d differs", i, k)
						}
					}
				}
			}
		}
	})
}

// TestConvertCopiesOutOfTheMessage: a record and its ID share no bytes
// with the decoded entry, whose strings all point into one copy of the
// message; keeping any of them would keep the whole message alive.
func TestConvertCopiesOutOfTheMessage(t *testing.T) {
	guid := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	attrs := func(kv ...string) []ldap.EntryAttribute {
		var out []ldap.EntryAttribute
		for i := 0; i < len(kv); i += 2 {
			out = append(out, ldap.EntryAttribute{Name: kv[i], ByteValues: [][]byte{[]byte(kv[i+1])}})
		}
		return out
	}
	for _, tc := range []struct {
		idAttr string
		attrs  []ldap.EntryAttribute
	}{
		{"entryUUID", attrs("entryUUID", "0f8fad5b-d9cb-469f-a165-70867728950e", "objectClass", "inetOrgPerson",
			"mail", "a@example.com", "displayName", "A", "title", "Engineer", "givenName", "Ann")},
		{"objectGUID", append(attrs("objectClass", "user", "proxyAddresses", "SMTP:b@example.com",
			"cn", "B", "userAccountControl", "514", "department", "Ops"), ldap.EntryAttribute{Name: "objectGUID", ByteValues: [][]byte{guid}})},
		{"entryUUID", attrs("entryUUID", "1f8fad5b-d9cb-469f-a165-70867728950e", "objectClass", "groupOfNames",
			"member", "uid=a,dc=example", "cn", "G")},
	} {
		m, err := parseMessage(berEntry(1, "uid=a,dc=example", tc.attrs))
		require.NoError(t, err)
		e, err := decodeEntry(m.op.body)
		require.NoError(t, err)
		r := &reader{idAttr: tc.idAttr}
		id, rec, skip := r.convert(e)
		require.Empty(t, skip)
		msg := m.op.body
		inside := func(s string) bool {
			if s == "" {
				return false
			}
			p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
			lo := uintptr(unsafe.Pointer(unsafe.StringData(e.DN))) - uintptr(len(msg))
			hi := uintptr(unsafe.Pointer(unsafe.StringData(e.DN))) + uintptr(len(msg))
			return p >= lo && p < hi
		}
		require.True(t, inside(e.DN), "the check sees the message's strings")
		strs := []string{id, rec.DN, rec.Email, rec.DisplayName}
		strs = append(append(strs, rec.Aliases...), rec.MemberDNs...)
		for _, vs := range rec.Attributes {
			strs = append(strs, vs...)
		}
		for _, s := range strs {
			assert.False(t, inside(s), "%q points into the message", s)
		}
		assert.Equal(t, "uid=a,dc=example", rec.DN)
		assert.NotEmpty(t, id)
	}
}
