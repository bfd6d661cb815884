package ldapsynctest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/jimlambrt/gldap"
)

// OIDDirSync is Active Directory's DirSync control, which returns the
// objects changed since a cookie, tombstones included.
const OIDDirSync = "1.2.840.113556.1.4.841"

// DirSync request flags the directory looks at.
const (
	dirSyncObjectSecurity = 0x1
)

// dirSyncCookieMagic starts every cookie the directory hands out; the
// invocation ID and the USN follow.
var dirSyncCookieMagic = []byte("LSTD")

type dirSyncRequest struct {
	flags  uint32
	cookie []byte
}

// parseDirSync decodes the value of a DirSync request control.
func parseDirSync(value string) (dirSyncRequest, error) {
	var r dirSyncRequest
	p, err := ber.DecodePacketErr([]byte(value))
	if err != nil || len(p.Children) != 3 {
		return r, fmt.Errorf("malformed DirSync control value")
	}
	fb := p.Children[0].Data.Bytes()
	if len(fb) == 0 || len(fb) > 5 {
		return r, fmt.Errorf("malformed DirSync flags")
	}
	var f uint64
	for _, b := range fb {
		f = f<<8 | uint64(b)
	}
	r.flags = uint32(f)
	r.cookie = p.Children[2].Data.Bytes()
	return r, nil
}

// dirSyncControl is the DirSync response control.
type dirSyncControl struct {
	more   bool
	cookie []byte
}

func (c *dirSyncControl) GetControlType() string { return OIDDirSync }

func (c *dirSyncControl) String() string {
	return fmt.Sprintf("Control Type: DirSync (%q) More: %t Cookie: %x", OIDDirSync, c.more, c.cookie)
}

func (c *dirSyncControl) Encode() *ber.Packet {
	packet := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
	packet.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, OIDDirSync, "Control Type"))
	val := ber.Encode(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, nil, "Control Value")
	seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "DirSync Response")
	more := int64(0)
	if c.more {
		more = 1
	}
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, more, "MoreResults"))
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), "Unused"))
	cookie := ber.Encode(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, nil, "Cookie")
	cookie.Value = string(c.cookie)
	cookie.Data.Write(c.cookie)
	seq.AppendChild(cookie)
	val.AppendChild(seq)
	packet.AppendChild(val)
	return packet
}

func (d *Directory) dirSyncCookie(usn int64) []byte {
	inv := []byte(d.dsa.first("invocationId"))
	out := append(append([]byte{}, dirSyncCookieMagic...), inv...)
	return binary.BigEndian.AppendUint64(out, uint64(usn))
}

// dirSyncFrom returns the USN a cookie continues from: 0 for no cookie or
// a cookie of another invocation (a different or restored DC), which makes
// the read start over.
func (d *Directory) dirSyncFrom(cookie []byte) (int64, error) {
	if len(cookie) == 0 {
		return 0, nil
	}
	if len(cookie) != len(dirSyncCookieMagic)+16+8 || !bytes.HasPrefix(cookie, dirSyncCookieMagic) {
		return 0, fmt.Errorf("not a DirSync cookie of this directory")
	}
	inv := cookie[len(dirSyncCookieMagic) : len(dirSyncCookieMagic)+16]
	if string(inv) != d.dsa.first("invocationId") {
		return 0, nil
	}
	return int64(binary.BigEndian.Uint64(cookie[len(cookie)-8:])), nil
}

// dirSyncKeep are returned by DirSync whether requested or not.
var dirSyncKeep = map[string]bool{"objectguid": true, "instancetype": true, "isdeleted": true, "name": true}

// handleDirSync serves a search carrying the DirSync control: the objects
// of the naming context changed since the cookie, in uSNChanged order,
// tombstones included, at most the maximum page size per response.
func (d *Directory) handleDirSync(w *gldap.ResponseWriter, r *gldap.Request, req *searchRequest, ctrlValue string, done *gldap.SearchResponseDone) {
	fail := func(code int, msg string) {
		done.SetResultCode(code)
		done.SetDiagnosticMessage(msg)
		_ = w.Write(done)
	}
	ds, err := parseDirSync(ctrlValue)
	if err != nil {
		fail(gldap.ResultProtocolError, err.Error())
		return
	}
	if n, err := normDN(req.msg.BaseDN); err != nil || n != d.baseNDN {
		fail(gldap.ResultUnwillingToPerform, "00002089: SvcErr: DSID-031F0A2D, problem 5003 (WILL_NOT_PERFORM): DirSync needs the root of the naming context as base")
		return
	}
	d.bmu.Lock()
	who := d.bound[r.ConnectionID()]
	d.bmu.Unlock()
	if ds.flags&dirSyncObjectSecurity == 0 && mustNormDN(who) != d.bindNDN {
		fail(gldap.ResultInsufficientAccessRights, "00000005: SecErr: DSID-03152857, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0: DirSync without the object-security flag needs Replicating Directory Changes")
		return
	}

	d.mu.RLock()
	from, err := d.dirSyncFrom(ds.cookie)
	if err != nil {
		d.mu.RUnlock()
		fail(gldap.ResultUnwillingToPerform, "0000203D: SvcErr: DSID-03100EDE, problem 5003 (WILL_NOT_PERFORM): "+err.Error())
		return
	}
	var cands []*object
	for _, o := range d.objs {
		if o.usnChanged <= from || o == d.deletedObjects || o.ndn == d.configNDN || strings.HasSuffix(o.ndn, ","+d.configNDN) {
			continue
		}
		cands = append(cands, o)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].usnChanged < cands[j].usnChanged })
	idx := d.memberOfIndex()
	ev := newEvaluator(d)
	var out []*entry
	more := false
	last := from
	for _, o := range cands {
		ok, err := ev.match(req.filter, objectView{d: d, o: o, memberOf: idx})
		if err != nil {
			d.mu.RUnlock()
			fail(gldap.ResultInappropriateMatching, err.Error())
			return
		}
		if !ok {
			last = o.usnChanged
			continue
		}
		if len(out) == d.opts.maxPageSize {
			more = true
			break
		}
		out = append(out, d.render(o, idx))
		last = o.usnChanged
	}
	if !more {
		last = d.usn
	}
	cookie := d.dirSyncCookie(last)
	d.mu.RUnlock()

	for _, e := range out {
		resp := r.NewSearchResponseEntry(e.dn)
		seen := map[string]bool{}
		for _, a := range req.sel.apply(e, 1<<30) { // no range retrieval in DirSync
			seen[strings.ToLower(a.name)] = true
			resp.AddAttribute(a.name, a.vals)
		}
		for _, a := range e.attrs {
			if k := strings.ToLower(a.name); dirSyncKeep[k] && !seen[k] {
				resp.AddAttribute(a.name, a.vals)
			}
		}
		if w.Write(resp) != nil {
			return
		}
	}
	done.SetControls(&dirSyncControl{more: more, cookie: cookie})
	_ = w.Write(done)
}
