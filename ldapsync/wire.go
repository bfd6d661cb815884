package ldapsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unsafe"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// LDAP messages on the wire (RFC 4511 section 4), read without building a
// BER packet tree: bulk searches decode each entry straight into an
// [ldap.Entry] whose strings share one copy of the message.

// maxMessageSize bounds one LDAP message read from a server. The largest
// legitimate ones are entries with many values (a big group read with
// DirSync, which does not range its members): a few megabytes.
const maxMessageSize = 256 << 20

// LDAP protocol operation tags (APPLICATION class).
const (
	tagBindResponse     = 0x61
	tagSearchEntry      = 0x64
	tagSearchDone       = 0x65
	tagSearchReference  = 0x73
	tagExtendedRequest  = 0x77
	tagExtendedResponse = 0x78
	tagIntermediate     = 0x79
	tagControls         = 0xa0 // [0] constructed, after the protocol op
)

var errMessage = errors.New("malformed LDAP message")

// readMessage reads one whole LDAPMessage (tag, length and contents). It
// refuses anything but a definite-length SEQUENCE no larger than limit.
func readMessage(r io.Reader, limit int) ([]byte, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return nil, err
	}
	if hdr[0] != 0x30 {
		return nil, fmt.Errorf("%w: starts with tag 0x%02x, not a SEQUENCE", errMessage, hdr[0])
	}
	n, h := int(hdr[1]), 2
	switch {
	case hdr[1] == 0x80:
		return nil, fmt.Errorf("%w: indefinite length", errMessage)
	case hdr[1] > 0x84:
		return nil, fmt.Errorf("%w: length of %d bytes", errMessage, hdr[1]&0x7f)
	case hdr[1] > 0x80:
		k := int(hdr[1] & 0x7f)
		if _, err := io.ReadFull(r, hdr[2:2+k]); err != nil {
			return nil, noEOF(err)
		}
		n, h = 0, 2+k
		for _, c := range hdr[2 : 2+k] {
			n = n<<8 | int(c)
		}
	}
	if n < 0 || n > limit {
		return nil, fmt.Errorf("%w: %d bytes exceeds the limit of %d", errMessage, n, limit)
	}
	if n <= 1<<20 {
		msg := make([]byte, h+n)
		copy(msg, hdr[:h])
		if _, err := io.ReadFull(r, msg[h:]); err != nil {
			return nil, noEOF(err)
		}
		return msg, nil
	}
	// Large: grow with what actually arrives rather than trusting the
	// announced length with one allocation.
	var buf bytes.Buffer
	buf.Write(hdr[:h])
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return nil, noEOF(err)
	}
	return buf.Bytes(), nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// berElem is one decoded TLV: tag byte and contents.
type berElem struct {
	tag  byte
	body []byte
}

// berNext splits the first element off b. Only single-byte tags and
// definite lengths (as LDAP uses) are accepted.
func berNext(b []byte) (berElem, []byte, error) {
	if len(b) < 2 {
		return berElem{}, nil, fmt.Errorf("%w: truncated element", errMessage)
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return berElem{}, nil, fmt.Errorf("%w: multi-byte tag", errMessage)
	}
	l, p := int(b[1]), 2
	if l >= 0x80 {
		k := l & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return berElem{}, nil, fmt.Errorf("%w: bad length", errMessage)
		}
		l = 0
		for _, c := range b[2 : 2+k] {
			l = l<<8 | int(c)
		}
		p = 2 + k
	}
	if l < 0 || l > len(b)-p {
		return berElem{}, nil, fmt.Errorf("%w: element of %d bytes overruns its container", errMessage, l)
	}
	return berElem{tag: tag, body: b[p : p+l]}, b[p+l:], nil
}

// berInt decodes a BER INTEGER or ENUMERATED of at most 8 bytes.
func berInt(body []byte) (int64, error) {
	if len(body) == 0 || len(body) > 8 {
		return 0, fmt.Errorf("%w: integer of %d bytes", errMessage, len(body))
	}
	v := int64(int8(body[0]))
	for _, c := range body[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

// wireMessage is an LDAPMessage split into its parts.
type wireMessage struct {
	id       int64
	op       berElem
	controls []byte // the [0] element, whole (tag and length included), or nil
}

// parseMessage splits a message read by readMessage.
func parseMessage(msg []byte) (wireMessage, error) {
	seq, rest, err := berNext(msg)
	if err != nil {
		return wireMessage{}, err
	}
	if len(rest) != 0 || seq.tag != 0x30 {
		return wireMessage{}, fmt.Errorf("%w: not one SEQUENCE", errMessage)
	}
	idEl, b, err := berNext(seq.body)
	if err != nil {
		return wireMessage{}, err
	}
	if idEl.tag != 0x02 {
		return wireMessage{}, fmt.Errorf("%w: messageID is not an INTEGER", errMessage)
	}
	id, err := berInt(idEl.body)
	if err != nil {
		return wireMessage{}, err
	}
	op, b, err := berNext(b)
	if err != nil {
		return wireMessage{}, err
	}
	m := wireMessage{id: id, op: op}
	if len(b) > 0 {
		ctl, after, err := berNext(b)
		if err != nil {
			return wireMessage{}, err
		}
		if ctl.tag != tagControls {
			return wireMessage{}, fmt.Errorf("%w: unexpected element 0x%02x after the operation", errMessage, ctl.tag)
		}
		m.controls = b[:len(b)-len(after)]
	}
	return m, nil
}

// peekMessageID returns the message ID of a message read by readMessage.
func peekMessageID(msg []byte) (int64, bool) {
	seq, _, err := berNext(msg)
	if err != nil {
		return 0, false
	}
	idEl, _, err := berNext(seq.body)
	if err != nil || idEl.tag != 0x02 {
		return 0, false
	}
	id, err := berInt(idEl.body)
	return id, err == nil
}

// decodeEntry turns a SearchResultEntry's body into an entry. The
// entry's strings and ByteValues share the body's bytes, which must never
// be written to afterwards: body must be a buffer of its own, as
// readMessage returns.
func decodeEntry(body []byte) (*ldap.Entry, error) {
	dnEl, b, err := berNext(body)
	if err != nil {
		return nil, err
	}
	attrsEl, _, err := berNext(b)
	if err != nil {
		return nil, err
	}
	if dnEl.tag != 0x04 || attrsEl.tag != 0x30 {
		return nil, fmt.Errorf("%w: SearchResultEntry is not objectName and attributes", errMessage)
	}
	// First pass: count attributes and values, and check the structure.
	nAttrs, nVals := 0, 0
	for a := attrsEl.body; len(a) > 0; {
		var pa berElem
		if pa, a, err = berNext(a); err != nil {
			return nil, err
		}
		typ, rest, err := berNext(pa.body)
		if err != nil {
			return nil, err
		}
		set, extra, err := berNext(rest)
		if err != nil {
			return nil, err
		}
		if pa.tag != 0x30 || typ.tag != 0x04 || set.tag != 0x31 || len(extra) > 0 {
			return nil, fmt.Errorf("%w: attribute is not type and SET of values", errMessage)
		}
		for v := set.body; len(v) > 0; {
			var ve berElem
			if ve, v, err = berNext(v); err != nil {
				return nil, err
			}
			if ve.tag != 0x04 {
				return nil, fmt.Errorf("%w: attribute value is not an OCTET STRING", errMessage)
			}
			nVals++
		}
		nAttrs++
	}
	// at returns p, a sub-slice of body, as a string sharing its bytes:
	// body is a message buffer of its own that nothing writes to after
	// it was read (see decodeEntry), so the strings stay what they are.
	at := func(p []byte) string {
		if len(p) == 0 {
			return ""
		}
		return unsafe.String(unsafe.SliceData(p), len(p))
	}
	e := &ldap.Entry{DN: at(dnEl.body)}
	slab := make([]ldap.EntryAttribute, nAttrs)
	e.Attributes = make([]*ldap.EntryAttribute, nAttrs)
	vals := make([]string, nVals)
	bvals := make([][]byte, nVals)
	i, j := 0, 0
	for a := attrsEl.body; len(a) > 0; i++ {
		var pa berElem
		pa, a, _ = berNext(a)
		typ, rest, _ := berNext(pa.body)
		set, _, _ := berNext(rest)
		first := j
		for v := set.body; len(v) > 0; j++ {
			var ve berElem
			ve, v, _ = berNext(v)
			vals[j] = at(ve.body)
			bvals[j] = ve.body[:len(ve.body):len(ve.body)]
		}
		slab[i] = ldap.EntryAttribute{Name: at(typ.body), Values: vals[first:j:j], ByteValues: bvals[first:j:j]}
		e.Attributes[i] = &slab[i]
	}
	return e, nil
}

// wireResult is an LDAPResult (the body of SearchResultDone and others).
type wireResult struct {
	code      uint16
	matched   string
	diag      string
	referrals []string
	controls  []ldap.Control
}

// err returns the result as go-ldap's error type, or nil for success.
func (r *wireResult) err() error {
	if r.code == ldap.LDAPResultSuccess {
		return nil
	}
	return &ldap.Error{ResultCode: r.code, MatchedDN: r.matched, Err: errors.New(r.diag)}
}

// decodeResult decodes an LDAPResult body and the message's controls.
func decodeResult(body, controls []byte) (*wireResult, error) {
	codeEl, b, err := berNext(body)
	if err != nil {
		return nil, err
	}
	matchedEl, b, err := berNext(b)
	if err != nil {
		return nil, err
	}
	diagEl, b, err := berNext(b)
	if err != nil {
		return nil, err
	}
	if codeEl.tag != 0x0a || matchedEl.tag != 0x04 || diagEl.tag != 0x04 {
		return nil, fmt.Errorf("%w: LDAPResult is not resultCode, matchedDN, diagnosticMessage", errMessage)
	}
	code, err := berInt(codeEl.body)
	if err != nil {
		return nil, err
	}
	if code < 0 || code > 0xffff {
		return nil, fmt.Errorf("%w: result code %d", errMessage, code)
	}
	r := &wireResult{code: uint16(code), matched: string(matchedEl.body), diag: string(diagEl.body)}
	for len(b) > 0 {
		var el berElem
		if el, b, err = berNext(b); err != nil {
			return nil, err
		}
		if el.tag != 0xa3 { // referral [3]; extended responses carry more, ignored
			continue
		}
		for u := el.body; len(u) > 0; {
			var ue berElem
			if ue, u, err = berNext(u); err != nil {
				return nil, err
			}
			r.referrals = append(r.referrals, string(ue.body))
		}
	}
	if controls != nil {
		p, err := ber.DecodePacketErr(controls)
		if err != nil {
			return nil, fmt.Errorf("%w: controls: %v", errMessage, err)
		}
		for _, c := range p.Children {
			ctl, err := ldap.DecodeControl(c)
			if err != nil {
				return nil, fmt.Errorf("%w: control: %v", errMessage, err)
			}
			r.controls = append(r.controls, ctl)
		}
	}
	return r, nil
}

// decodeReference returns the URIs of a SearchResultReference body.
func decodeReference(body []byte) ([]string, error) {
	var out []string
	for b := body; len(b) > 0; {
		el, rest, err := berNext(b)
		if err != nil {
			return nil, err
		}
		out = append(out, string(el.body))
		b = rest
	}
	return out, nil
}

// encodeSearch encodes a SearchRequest message.
func encodeSearch(id int64, req *ldap.SearchRequest, filter *ber.Packet) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	p := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchRequest, nil, "")
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, req.BaseDN, ""))
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(req.Scope), ""))
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(req.DerefAliases), ""))
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(req.SizeLimit), ""))
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(req.TimeLimit), ""))
	p.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, req.TypesOnly, ""))
	p.AppendChild(filter)
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for _, a := range req.Attributes {
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, ""))
	}
	p.AppendChild(attrs)
	env.AppendChild(p)
	if len(req.Controls) > 0 {
		ctls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
		for _, c := range req.Controls {
			ctls.AppendChild(c.Encode())
		}
		env.AppendChild(ctls)
	}
	return env.Bytes()
}

// encodeStartTLS encodes the StartTLS extended request (RFC 4511 4.14).
func encodeStartTLS(id int64) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	p := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationExtendedRequest, nil, "")
	p.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "1.3.6.1.4.1.1466.20037", ""))
	env.AppendChild(p)
	return env.Bytes()
}
