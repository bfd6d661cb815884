package ldapsync

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"unsafe"
)

// The state encoding (version 2):
//
//	magic "gatehouse-state\n"
//	uvarint length, then a JSON header {"version":2,"watermark":{...},"objects":N}
//	N object records (binary, below)
//	CRC-32C of everything before it, 4 bytes big-endian
//
// An object record: its ID (a canonical UUID as 16 bytes, anything else as
// a string), a flags byte, the applied fingerprint (16 bytes when it is 32
// lower-case hex digits), the applied kind, the wanted fingerprint (often
// "same as applied") and, when present, the source record. Strings are a
// uvarint length and the bytes; lists are a uvarint count and the items.
// Decoded strings other than IDs are slices of one copy of the file, so a
// loaded state costs one allocation for its text; IDs (16-byte UUIDs
// formatted, or copied) are strings of their own.
const stateMagic = "gatehouse-state\n"

var stateCRC = crc32.MakeTable(crc32.Castagnoli)

// Tags of the compact values.
const (
	tagUUID   = 0 // 16 bytes
	tagString = 1 // uvarint length + bytes

	fpNone   = 0
	fpHex16  = 1 // 16 bytes, 32 lower-case hex digits when decoded
	fpString = 2
	fpSame   = 3 // wanted only: same as applied

	kindNone   = 0
	kindUser   = 1
	kindCont   = 2
	kindGroup  = 3
	kindString = 4 // applied kind only: an unknown kind, as a string

	objHasSource       = 1 << 0
	objAppliedDisabled = 1 << 1
	objAddressHeld     = 1 << 2 // AppliedEmail follows Wanted
	objKeptMembers     = 1 << 3 // KeptMembers follow (AppliedEmail, then) Wanted
	objWithheldDN      = 1 << 4 // WithheldDN follows (KeptMembers, AppliedEmail, then) Wanted
	objFlags           = objHasSource | objAppliedDisabled | objAddressHeld | objKeptMembers | objWithheldDN
	recDisabled        = 1 << 0
)

type stateHeader struct {
	Version   int       `json:"version"`
	Watermark Watermark `json:"watermark"`
	Objects   int       `json:"objects"`
}

// encodeState writes s in the version 2 encoding.
func encodeState(s State) ([]byte, error) {
	b, _, err := encodeStateReusing(s, nil, nil, nil)
	return b, err
}

// stateEncoding says where each object's record lies in an encoded state,
// so that the next save copies the records of unchanged objects instead of
// encoding them again, and so that a kept state decodes the records of the
// objects a plan touches only. The records are written in the order of
// their IDs' hashes (see keyHash), which is the order of spans: an object
// is found by binary search, its ID compared in buf.
type stateEncoding struct {
	buf   []byte    // the encoded state; nil when not at hand
	spans []encSpan // the object records, by ID hash
	// collide: two objects have the same ID hash (an index referring to
	// objects by ID hash cannot be kept).
	collide bool
}

// encSpan is where one object record lies in an encoding: buf[off:off+n].
type encSpan struct {
	h   uint64 // keyHash of the object's ID
	off uint32
	n   uint32
}

// keySeed seeds keyHash for the life of the process.
var keySeed = maphash.MakeSeed()

// keyHash hashes an object ID, an address or a normalised DN for the
// indexes of a kept state.
func keyHash(s string) uint64 { return maphash.String(keySeed, s) }

// maxEncoding is the largest encoding whose records spans can locate (a
// variable so that tests can reach it).
var maxEncoding = math.MaxUint32

// parallelEncodeMin is the number of objects from which a new encoding
// is made by two goroutines.
const parallelEncodeMin = 8192

// errSpliceTooLarge: the spliced encoding would exceed maxEncoding; the
// state is encoded whole instead.
var errSpliceTooLarge = errors.New("state too large to splice")

// encodeStateReusing writes s in the version 2 encoding and says where
// its records lie (nil beyond maxEncoding). With prev, the encoding of the
// state with objects prevObjs (buf at hand; those objects are never
// modified), the record of every object equal to the one encoded is copied
// from prev.buf. With touched as well (not nil), s holds the objects of
// touched still present only: every other object is one of prev, copied
// in blocks without being looked at.
func encodeStateReusing(s State, prev *stateEncoding, prevObjs map[string]*ObjectState, touched []string) ([]byte, *stateEncoding, error) {
	return encodeStateFrom(s, prev, prevObjs, touched, false)
}

// encodeStateFrom is encodeStateReusing; with release set, it drops the
// record of every object of s once encoded (ObjectState.Source = nil), so
// that a state no longer needed decoded is freed while it is encoded.
func encodeStateFrom(s State, prev *stateEncoding, prevObjs map[string]*ObjectState, touched []string, release bool) ([]byte, *stateEncoding, error) {
	if prev != nil && prev.buf == nil {
		prev = nil
	}
	if prev != nil && touched != nil {
		return spliceState(s, prev, touched)
	}
	if err := s.checkObjects(); err != nil {
		return nil, nil, err
	}
	hdr, err := json.Marshal(stateHeader{Version: StateVersion, Watermark: s.Watermark, Objects: len(s.Objects)})
	if err != nil {
		return nil, nil, err
	}
	type keyed struct {
		h  uint64
		id string
		o  *ObjectState
	}
	keys := make([]keyed, 0, len(s.Objects))
	for id, o := range s.Objects {
		keys = append(keys, keyed{keyHash(id), id, o})
	}
	slices.SortFunc(keys, func(a, b keyed) int { return cmp.Compare(a.h, b.h) })
	// The buffer is made to the size of the encoding: a guess too large,
	// or one grown by doubling, would hold up to twice the memory the
	// state needs while it is made. (With prev, most records are copies.)
	size := len(stateMagic) + binary.MaxVarintLen64 + len(hdr) + 4
	var sizes []int // of each object's record, without prev
	if prev != nil {
		size += len(prev.buf)
	} else {
		sizes = make([]int, len(keys))
		sizeRange := func(lo, hi int) (n int) {
			for i := lo; i < hi; i++ {
				sizes[i] = objectSize(keys[i].id, keys[i].o)
				n += sizes[i]
			}
			return n
		}
		if len(keys) >= parallelEncodeMin && runtime.GOMAXPROCS(0) > 1 {
			var second int
			done := make(chan struct{})
			go func() {
				defer close(done)
				second = sizeRange(len(keys)/2, len(keys))
			}()
			size += sizeRange(0, len(keys)/2)
			<-done
			size += second
		} else {
			size += sizeRange(0, len(keys))
		}
	}
	if size > maxEncoding {
		release = false // (no spans: the records are what the state has)
	}
	e := stateEncoder{b: make([]byte, 0, size)}
	e.b = append(e.b, stateMagic...)
	e.b = binary.AppendUvarint(e.b, uint64(len(hdr)))
	e.b = append(e.b, hdr...)
	enc := &stateEncoding{spans: make([]encSpan, len(keys))}
	for i := 1; i < len(keys); i++ {
		if keys[i-1].h == keys[i].h {
			enc.collide = true
		}
	}
	// encodeRange encodes keys[lo:hi] into buf[from:], where their sizes
	// say they lie: the whole buffer is made, so ranges can be encoded
	// at once.
	encodeRange := func(buf []byte, from, lo, hi int) error {
		to := from
		for _, n := range sizes[lo:hi] {
			to += n
		}
		r := stateEncoder{b: buf[from:from:to]}
		for i := lo; i < hi; i++ {
			k := keys[i]
			off := from + len(r.b)
			r.object(k.id, k.o)
			if release {
				k.o.Source = nil
			}
			enc.spans[i] = encSpan{h: k.h, off: uint32(off), n: uint32(from + len(r.b) - off)}
		}
		if len(r.b) != to-from || to > from && &r.b[0] != &buf[from] {
			return errors.New("an object's record is not the size computed for it")
		}
		return nil
	}
	if sizes != nil && len(keys) >= parallelEncodeMin && runtime.GOMAXPROCS(0) > 1 {
		// Two halves at once, each into its part of the buffer.
		start, mid := len(e.b), len(keys)/2
		half, end := start, start
		for i, n := range sizes {
			if i < mid {
				half += n
			}
			end += n
		}
		buf := e.b[:end] // within the capacity: size counts every record
		var second error
		done := make(chan struct{})
		go func() {
			defer close(done)
			second = encodeRange(buf, half, mid, len(keys))
		}()
		first := encodeRange(buf, start, 0, mid)
		<-done
		if err := errors.Join(first, second); err != nil {
			return nil, nil, err
		}
		e.b = buf
		b := binary.BigEndian.AppendUint32(e.b, crc32.Checksum(e.b, stateCRC))
		if len(b) > maxEncoding {
			return b, nil, nil
		}
		enc.buf = b
		return b, enc, nil
	}
	j := 0 // prev.spans before j hash below the key: both are in hash order
	for i, k := range keys {
		o := k.o
		off := len(e.b)
		copied := false
		if prev != nil {
			for j < len(prev.spans) && prev.spans[j].h < k.h {
				j++
			}
			for l := j; l < len(prev.spans) && prev.spans[l].h == k.h; l++ {
				if !prev.idIs(l, k.id) {
					continue
				}
				if po := prevObjs[k.id]; po == o || po != nil && po.encodesAs(o) {
					old := prev.spans[l]
					e.b = append(e.b, prev.buf[old.off:old.off+old.n]...)
					copied = true
				}
				break
			}
		}
		if !copied {
			e.object(k.id, o)
		}
		if release {
			o.Source = nil
		}
		enc.spans[i] = encSpan{h: k.h, off: uint32(off), n: uint32(len(e.b) - off)}
	}
	b := binary.BigEndian.AppendUint32(e.b, crc32.Checksum(e.b, stateCRC))
	if len(b) > maxEncoding {
		return b, nil, nil
	}
	enc.buf = b
	return b, enc, nil
}

// spliceState is encodeStateReusing's path for a known set of changes.
// prev is left as it was.
func spliceState(s State, prev *stateEncoding, touched []string) ([]byte, *stateEncoding, error) {
	for _, id := range touched {
		if o, ok := s.Objects[id]; ok {
			if err := (&State{Objects: map[string]*ObjectState{id: o}}).checkObjects(); err != nil {
				return nil, nil, err
			}
		}
	}
	// The records of the touched objects, encoded apart first, so that
	// the result is allocated at its size.
	var fresh stateEncoder
	type freshSpan struct {
		h        uint64
		off, end int
	}
	var news []freshSpan
	dead := map[int]bool{}
	deadBytes := 0
	for _, id := range touched {
		if j := prev.find(id); j >= 0 && !dead[j] {
			dead[j] = true
			deadBytes += int(prev.spans[j].n)
		}
		if o, ok := s.Objects[id]; ok {
			off := len(fresh.b)
			fresh.object(id, o)
			news = append(news, freshSpan{keyHash(id), off, len(fresh.b)})
		}
	}
	slices.SortFunc(news, func(a, b freshSpan) int { return cmp.Compare(a.h, b.h) })
	count := len(prev.spans) - len(dead) + len(news)
	hdr, err := json.Marshal(stateHeader{Version: StateVersion, Watermark: s.Watermark, Objects: count})
	if err != nil {
		return nil, nil, err
	}
	objStart := prev.objStart()
	live := len(prev.buf) - 4 - objStart - deadBytes
	var lenBuf [binary.MaxVarintLen64]byte
	hl := binary.PutUvarint(lenBuf[:], uint64(len(hdr)))
	size := len(stateMagic) + hl + len(hdr) + live + len(fresh.b) + 4
	if size > maxEncoding {
		return nil, nil, errSpliceTooLarge // too large for spans
	}
	b := make([]byte, 0, size)
	b = append(b, stateMagic...)
	b = append(b, lenBuf[:hl]...)
	b = append(b, hdr...)
	enc := &stateEncoding{spans: make([]encSpan, 0, count), collide: prev.collide}
	runStart, runEnd := -1, -1 // a block of live records of prev.buf still to copy
	flush := func() {
		if runStart >= 0 {
			b = append(b, prev.buf[runStart:runEnd]...)
		}
		runStart, runEnd = -1, -1
	}
	add := func(h uint64, off, n int) {
		if l := len(enc.spans); l > 0 && enc.spans[l-1].h == h {
			enc.collide = true
		}
		enc.spans = append(enc.spans, encSpan{h: h, off: uint32(off), n: uint32(n)})
	}
	i, k := 0, 0
	for i < len(prev.spans) || k < len(news) {
		if k < len(news) && (i == len(prev.spans) || news[k].h < prev.spans[i].h) {
			flush()
			f := news[k]
			add(f.h, len(b), f.end-f.off)
			b = append(b, fresh.b[f.off:f.end]...)
			k++
			continue
		}
		sp := prev.spans[i]
		if dead[i] {
			i++
			continue
		}
		if int(sp.off) != runEnd {
			flush()
			runStart, runEnd = int(sp.off), int(sp.off)
		}
		add(sp.h, len(b)+runEnd-runStart, int(sp.n))
		runEnd += int(sp.n)
		i++
	}
	flush()
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, stateCRC))
	enc.buf = b
	return b, enc, nil
}

// find returns the index in e.spans of the record of object id; -1 when
// e is nil or holds none.
func (e *stateEncoding) find(id string) int {
	if e == nil || e.buf == nil {
		return -1
	}
	h := keyHash(id)
	i, _ := slices.BinarySearchFunc(e.spans, h, func(sp encSpan, h uint64) int { return cmp.Compare(sp.h, h) })
	for ; i < len(e.spans) && e.spans[i].h == h; i++ {
		if e.idIs(i, id) {
			return i
		}
	}
	return -1
}

// byHash returns the index in e.spans of the only record whose ID hashes
// to h; -1 when there is none.
func (e *stateEncoding) byHash(h uint64) int {
	i, ok := slices.BinarySearchFunc(e.spans, h, func(sp encSpan, h uint64) int { return cmp.Compare(sp.h, h) })
	if !ok {
		return -1
	}
	return i
}

// rawID returns the encoded ID of record i: its tag and bytes.
func (e *stateEncoding) rawID(i int) (byte, []byte) {
	sp := e.spans[i]
	r := e.buf[sp.off : sp.off+sp.n]
	if len(r) == 0 {
		return 0xff, nil
	}
	switch r[0] {
	case tagUUID:
		if len(r) >= 17 {
			return tagUUID, r[1:17]
		}
	case tagString:
		n, k := binary.Uvarint(r[1:])
		if k > 0 && n <= uint64(len(r)-1-k) {
			return tagString, r[1+k : 1+k+int(n)]
		}
	}
	return 0xff, nil
}

// idIs reports whether record i is that of object id.
func (e *stateEncoding) idIs(i int, id string) bool {
	tag, v := e.rawID(i)
	switch tag {
	case tagUUID:
		u, ok := parseUUID(id)
		return ok && bytes.Equal(u[:], v)
	case tagString:
		return string(v) == id
	}
	return false
}

// idAt returns the object ID of record i.
func (e *stateEncoding) idAt(i int) string {
	tag, v := e.rawID(i)
	switch tag {
	case tagUUID:
		return formatUUID(v)
	case tagString:
		return string(v)
	}
	return ""
}

// objectAt decodes record i: the object's ID and state. Its strings are
// slices of one copy of the record.
func (e *stateEncoding) objectAt(i int) (string, *ObjectState, error) {
	sp := e.spans[i]
	d := stateDecoder{s: string(e.buf[sp.off : sp.off+sp.n]), packed: true}
	o := &ObjectState{}
	id := d.object(o, nil)
	if d.err == nil && d.off != len(d.s) {
		d.fail(errors.New("data after the record"))
	}
	if d.err != nil {
		return "", nil, fmt.Errorf("object %d: %w", i, d.err)
	}
	return id, o, nil
}

// record decodes the record of object id into rec, with strings that are
// the encoding's own bytes (see decodeAt).
func (e *stateEncoding) record(id string, rec *Record) (*Record, error) {
	i := e.find(id)
	if i < 0 {
		return nil, fmt.Errorf("objects[%s]: not in the encoded state", id)
	}
	var o ObjectState
	if err := e.decodeAt(i, &o, rec); err != nil {
		return nil, err
	}
	if o.Source == nil {
		return nil, fmt.Errorf("objects[%s]: no record in the encoded state", id)
	}
	return o.Source, nil
}

// decodeAt decodes record i into o, its record into rec, with strings
// that are the encoding's own bytes: valid while enc.buf is, and only for
// what is copied out before the buffer goes (see userFromEncoding).
func (e *stateEncoding) decodeAt(i int, o *ObjectState, rec *Record) error {
	sp := e.spans[i]
	b := e.buf[sp.off : sp.off+sp.n]
	d := stateDecoder{s: unsafe.String(unsafe.SliceData(b), len(b)), packed: true}
	*rec = Record{}
	d.object(o, func() *Record { return rec })
	if d.err == nil && d.off != len(d.s) {
		d.fail(errors.New("data after the record"))
	}
	if d.err != nil {
		return fmt.Errorf("object %d: %w", i, d.err)
	}
	return nil
}

// objStart returns the offset of the first object record in e.buf.
func (e *stateEncoding) objStart() int {
	n, k := binary.Uvarint(e.buf[len(stateMagic):])
	return len(stateMagic) + k + int(n)
}

// object writes one object record.
func (e *stateEncoder) object(id string, o *ObjectState) {
	e.id(id)
	var flags byte
	if o.Source != nil {
		flags |= objHasSource
	}
	if o.AppliedDisabled {
		flags |= objAppliedDisabled
	}
	if o.AddressHeld {
		flags |= objAddressHeld
	}
	if len(o.KeptMembers) > 0 {
		flags |= objKeptMembers
	}
	if o.WithheldDN != "" {
		flags |= objWithheldDN
	}
	e.b = append(e.b, flags)
	e.fp(o.Applied)
	if k := kindCode(o.AppliedKind); k != kindString {
		e.b = append(e.b, k)
	} else {
		e.b = append(e.b, kindString)
		e.str(o.AppliedKind)
	}
	if o.Wanted != "" && o.Wanted == o.Applied {
		e.b = append(e.b, fpSame)
	} else {
		e.fp(o.Wanted)
	}
	if o.AddressHeld {
		e.str(o.AppliedEmail)
	}
	if len(o.KeptMembers) > 0 {
		e.b = binary.AppendUvarint(e.b, uint64(len(o.KeptMembers)))
		for _, m := range o.KeptMembers {
			e.id(m)
		}
	}
	if o.WithheldDN != "" {
		e.str(o.WithheldDN)
	}
	if r := o.Source; r != nil {
		e.b = append(e.b, kindCode(r.Kind))
		var rf byte
		if r.Disabled {
			rf |= recDisabled
		}
		e.b = append(e.b, rf)
		e.str(r.DN)
		e.str(r.Email)
		e.strs(r.Aliases)
		e.strs(r.Problems)
		e.str(r.DisplayName)
		if r.Attributes == nil && r.attrs != "" {
			e.b = append(e.b, r.attrs...) // the same bytes as e.attrs(r.attrs.toMap())
		} else {
			e.attrs(r.Attributes)
		}
		e.b = binary.AppendUvarint(e.b, uint64(len(r.Members)))
		for _, m := range r.Members {
			e.id(m)
		}
		e.strs(r.MemberDNs)
	}
}

// encodesAs reports whether o and p encode the same: equal fields, the
// same record (by pointer: records are never modified).
func (o *ObjectState) encodesAs(p *ObjectState) bool {
	return o.Source == p.Source && o.Applied == p.Applied && o.AppliedKind == p.AppliedKind &&
		o.AppliedDisabled == p.AppliedDisabled && o.Wanted == p.Wanted && o.AddressHeld == p.AddressHeld &&
		o.AppliedEmail == p.AppliedEmail && slices.Equal(o.KeptMembers, p.KeptMembers) && o.WithheldDN == p.WithheldDN
}

// objectSize returns the length of the encoding of one object record
// (see stateEncoder.object).
func objectSize(id string, o *ObjectState) int {
	n := idSize(id) + 1 + fpSize(o.Applied) + 1
	if kindCode(o.AppliedKind) == kindString {
		n += strSize(o.AppliedKind)
	}
	if o.Wanted != "" && o.Wanted == o.Applied {
		n++
	} else {
		n += fpSize(o.Wanted)
	}
	if o.AddressHeld {
		n += strSize(o.AppliedEmail)
	}
	if len(o.KeptMembers) > 0 {
		n += uvarintSize(len(o.KeptMembers))
		for _, m := range o.KeptMembers {
			n += idSize(m)
		}
	}
	if o.WithheldDN != "" {
		n += strSize(o.WithheldDN)
	}
	r := o.Source
	if r == nil {
		return n
	}
	n += 2 + strSize(r.DN) + strSize(r.Email) + strsSize(r.Aliases) + strsSize(r.Problems) + strSize(r.DisplayName)
	if r.Attributes == nil && r.attrs != "" {
		n += len(r.attrs)
	} else {
		n += uvarintSize(len(r.Attributes))
		for k, v := range r.Attributes {
			n += strSize(k) + strsSize(v)
		}
	}
	n += uvarintSize(len(r.Members))
	for _, m := range r.Members {
		n += idSize(m)
	}
	return n + strsSize(r.MemberDNs)
}

func uvarintSize(n int) int { return (bits.Len64(uint64(n)|1) + 6) / 7 }

func strSize(s string) int { return uvarintSize(len(s)) + len(s) }

func strsSize(v []string) int {
	n := uvarintSize(len(v))
	for _, s := range v {
		n += strSize(s)
	}
	return n
}

func idSize(id string) int {
	if _, ok := parseUUID(id); ok {
		return 17
	}
	return 1 + strSize(id)
}

func fpSize(fp string) int {
	switch {
	case fp == "":
		return 1
	case isLowerHex(fp, 32):
		return 17
	}
	return 1 + strSize(fp)
}

type stateEncoder struct {
	b    []byte
	keys []string // scratch for attribute names
}

// attrs writes a record's attributes in name order (the encoding of one
// state is deterministic apart from the order of the objects).
func (e *stateEncoder) attrs(m map[string][]string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(m)))
	e.keys = e.keys[:0]
	for k := range m {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys)
	for _, k := range e.keys {
		e.str(k)
		e.strs(m[k])
	}
}

func (e *stateEncoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *stateEncoder) strs(v []string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}

func (e *stateEncoder) id(id string) {
	if u, ok := parseUUID(id); ok {
		e.b = append(e.b, tagUUID)
		e.b = append(e.b, u[:]...)
		return
	}
	e.b = append(e.b, tagString)
	e.str(id)
}

func (e *stateEncoder) fp(fp string) {
	switch {
	case fp == "":
		e.b = append(e.b, fpNone)
	case isLowerHex(fp, 32):
		e.b = append(e.b, fpHex16)
		e.b, _ = hex.AppendDecode(e.b, []byte(fp)) // checked by isLowerHex
	default:
		e.b = append(e.b, fpString)
		e.str(fp)
	}
}

func kindCode(k string) byte {
	switch k {
	case "":
		return kindNone
	case KindUser:
		return kindUser
	case KindContact:
		return kindCont
	case KindGroup:
		return kindGroup
	}
	return kindString
}

// hexDigit marks the lower-case hexadecimal digits.
var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	ok := true
	for i := 0; i < len(s); i++ {
		ok = ok && hexDigit[s[i]]
	}
	return ok
}

// parseUUID reads a canonical lower-case UUID (8-4-4-4-12 hex digits), the
// form of every objectGUID and entryUUID the reader produces.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := hexNibble(s[i])
		lo, ok2 := hexNibble(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func formatUUID(u []byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// decodeStateV2 reads the version 2 encoding; b starts with stateMagic.
func decodeStateV2(b []byte) (State, error) {
	st, _, err := decodeStateV2Spans(b, false, false)
	return st, err
}

// decodeStateV2Spans is decodeStateV2 that also says, with spans set,
// where each object's record lies in b; with packed set, records keep
// their attributes packed (see attrBlock).
func decodeStateV2Spans(b []byte, spans, packed bool) (State, *stateEncoding, error) {
	if len(b) < len(stateMagic)+4 {
		return State{}, nil, errors.New("truncated")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, stateCRC) != sum {
		return State{}, nil, errors.New("checksum mismatch (truncated or damaged file)")
	}
	d := stateDecoder{s: string(body), off: len(stateMagic), packed: packed}
	n := d.count(1)
	if d.err != nil || n > len(d.s)-d.off {
		return State{}, nil, errors.New("header: bad length")
	}
	var hdr stateHeader
	dec := json.NewDecoder(bytes.NewReader(body[d.off : d.off+n]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hdr); err != nil {
		return State{}, nil, fmt.Errorf("header: %w", err)
	}
	d.off += n
	if hdr.Version != StateVersion {
		return State{}, nil, fmt.Errorf("version %d is not supported (want %d)", hdr.Version, StateVersion)
	}
	// Every object takes at least 5 bytes: a count beyond that is damage.
	if hdr.Objects < 0 || hdr.Objects > (len(d.s)-d.off)/5 {
		return State{}, nil, fmt.Errorf("header: objects: %d does not fit the file", hdr.Objects)
	}
	st := State{Version: hdr.Version, Watermark: hdr.Watermark}
	if hdr.Objects > 0 {
		st.Objects = make(map[string]*ObjectState, hdr.Objects)
	}
	objs := make([]ObjectState, hdr.Objects)
	var enc *stateEncoding
	if spans && len(b) <= maxEncoding {
		enc = &stateEncoding{buf: b, spans: make([]encSpan, hdr.Objects)}
	}
	var recs []Record
	for i := range objs {
		start := d.off
		o := &objs[i]
		id := d.object(o, func() *Record {
			if len(recs) == 0 {
				recs = make([]Record, min(hdr.Objects-i, 4096))
			}
			r := &recs[0]
			recs = recs[1:]
			return r
		})
		if d.err != nil {
			return State{}, nil, fmt.Errorf("object %d: %w", i, d.err)
		}
		if _, dup := st.Objects[id]; dup {
			return State{}, nil, fmt.Errorf("objects[%s]: stored twice", id)
		}
		st.Objects[id] = o
		if enc != nil {
			enc.spans[i] = encSpan{h: keyHash(id), off: uint32(start), n: uint32(d.off - start)}
		}
	}
	if enc != nil {
		less := func(a, b encSpan) int { return cmp.Compare(a.h, b.h) }
		if !slices.IsSortedFunc(enc.spans, less) {
			slices.SortFunc(enc.spans, less)
		}
		for i := 1; i < len(enc.spans); i++ {
			if enc.spans[i-1].h == enc.spans[i].h {
				enc.collide = true
			}
		}
	}
	if d.off != len(d.s) {
		return State{}, nil, errors.New("data after the last object")
	}
	if err := st.check(); err != nil {
		return State{}, nil, err
	}
	return st, enc, nil
}

// object decodes one object record into o and returns its ID; rec
// supplies the record (nil: one of its own).
func (d *stateDecoder) object(o *ObjectState, rec func() *Record) string {
	id := d.id()
	flags := d.byte()
	if flags&^objFlags != 0 {
		d.fail(fmt.Errorf("unknown object flags %#x (a newer version's state?)", flags&^objFlags))
		return id
	}
	o.AppliedDisabled = flags&objAppliedDisabled != 0
	o.Applied = d.fp(false, "")
	switch k := d.byte(); k {
	case kindString:
		o.AppliedKind = d.str()
	default:
		o.AppliedKind = kindName(k, d)
	}
	o.Wanted = d.fp(true, o.Applied)
	if flags&objAddressHeld != 0 {
		o.AddressHeld, o.AppliedEmail = true, d.str()
	}
	if flags&objKeptMembers != 0 {
		n := d.count(2)
		if n == 0 && d.err == nil {
			d.fail(errors.New("empty kept members"))
		}
		o.KeptMembers = make([]string, 0, n)
		for range n {
			if d.err != nil {
				break
			}
			o.KeptMembers = append(o.KeptMembers, d.id())
		}
	}
	if flags&objWithheldDN != 0 {
		if o.WithheldDN = strings.Clone(d.str()); o.WithheldDN == "" && d.err == nil {
			d.fail(errors.New("empty withheld DN"))
		}
	}
	if flags&objHasSource != 0 {
		var r *Record
		if rec != nil {
			r = rec()
		} else {
			r = &Record{}
		}
		r.Kind = kindName(d.byte(), d)
		r.Disabled = d.byte()&recDisabled != 0
		r.DN = d.str()
		r.Email = d.str()
		r.Aliases = d.strs()
		r.Problems = d.strs()
		r.DisplayName = d.str()
		start := d.off
		if na := d.count(2); na > 0 {
			sorted := d.packed
			if sorted {
				prev := ""
				for i := range na {
					k := d.str()
					if i > 0 && k <= prev {
						sorted = false // not as the encoder writes: made a map of
						break
					}
					prev = k
					for range d.count(1) {
						d.str()
					}
				}
				if d.err == nil && sorted {
					r.attrs = attrBlock(d.s[start:d.off])
				}
				if !sorted && d.err == nil {
					d.off = start
					na = d.count(2)
				}
			}
			if !sorted && d.err == nil {
				r.Attributes = make(map[string][]string, na)
				for range na {
					k := d.str()
					r.Attributes[k] = d.strs()
				}
			}
		}
		if nm := d.count(2); nm > 0 {
			r.Members = make([]string, nm)
			for j := range r.Members {
				r.Members[j] = d.id()
			}
		}
		r.MemberDNs = d.strs()
		o.Source = r
	}
	return id
}

type stateDecoder struct {
	s   string
	off int
	err error
	// packed: records keep their attributes packed (see attrBlock), for
	// the package's own use; a caller's Load gets maps.
	packed bool
}

var errShort = errors.New("truncated record")

func (d *stateDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.off = len(d.s)
}

func (d *stateDecoder) byte() byte {
	if d.off >= len(d.s) {
		d.fail(errShort)
		return 0
	}
	c := d.s[d.off]
	d.off++
	return c
}

// count reads a uvarint that counts items of at least minSize bytes each.
func (d *stateDecoder) count(minSize int) int {
	var v uint64
	var shift uint
	for {
		if d.off >= len(d.s) {
			d.fail(errShort)
			return 0
		}
		c := d.s[d.off]
		d.off++
		if shift > 63 || (shift == 63 && c > 1) {
			d.fail(errors.New("length overflows"))
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
	}
	if v > math.MaxInt32 || int(v) > (len(d.s)-d.off)/minSize {
		d.fail(errShort)
		return 0
	}
	return int(v)
}

func (d *stateDecoder) take(n int) string {
	if n > len(d.s)-d.off {
		d.fail(errShort)
		return ""
	}
	v := d.s[d.off : d.off+n]
	d.off += n
	return v
}

func (d *stateDecoder) str() string { return d.take(d.count(1)) }

func (d *stateDecoder) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.str()
	}
	return v
}

func (d *stateDecoder) id() string {
	switch d.byte() {
	case tagUUID:
		u := d.take(16)
		if d.err != nil {
			return ""
		}
		return formatUUID([]byte(u))
	case tagString:
		// IDs travel into reports and targets: never a slice of the state.
		return strings.Clone(d.str())
	}
	d.fail(errors.New("unknown ID encoding"))
	return ""
}

func (d *stateDecoder) fp(wanted bool, applied string) string {
	switch t := d.byte(); {
	case t == fpNone:
		return ""
	case t == fpHex16:
		raw := d.take(16)
		if d.err != nil {
			return ""
		}
		return hex.EncodeToString([]byte(raw))
	case t == fpString:
		return d.str()
	case t == fpSame && wanted:
		return applied
	}
	d.fail(errors.New("unknown fingerprint encoding"))
	return ""
}

func kindName(k byte, d *stateDecoder) string {
	switch k {
	case kindNone:
		return ""
	case kindUser:
		return KindUser
	case kindCont:
		return KindContact
	case kindGroup:
		return KindGroup
	}
	d.fail(fmt.Errorf("unknown kind code %d", k))
	return ""
}
