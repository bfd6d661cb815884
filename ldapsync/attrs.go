package ldapsync

import (
	"encoding/binary"
	"strings"
)

// attrBlock holds the extra attributes of a record, or of the user made of
// it, packed in one string exactly as the state encoding writes them: the
// number of attributes, then each name followed by the number of its values
// and the values, every count and length a uvarint, names in sorted order.
// "" holds none.
//
// Records read from the directory or decoded from a kept state carry their
// attributes so instead of a map each: a map of a few entries costs some
// 400 bytes and a pointer for the collector per value, the block the bytes
// of its text. The map is made only for what leaves the package: target
// writes and plans (ownedUser), and states loaded or saved by a caller.
// A Record or User whose Attributes map is set uses the map; the package
// never sets both.
type attrBlock string

// attrPacker builds an attrBlock; add attributes in sorted name order.
type attrPacker struct {
	b []byte
	n int
}

func (p *attrPacker) add(name string, values []string) {
	p.n++
	p.b = binary.AppendUvarint(p.b, uint64(len(name)))
	p.b = append(p.b, name...)
	p.b = binary.AppendUvarint(p.b, uint64(len(values)))
	for _, v := range values {
		p.b = binary.AppendUvarint(p.b, uint64(len(v)))
		p.b = append(p.b, v...)
	}
}

// block returns what was added as a block of its own ("" for nothing).
func (p *attrPacker) block() attrBlock {
	if p.n == 0 {
		return ""
	}
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(p.n))
	var sb strings.Builder
	sb.Grow(h + len(p.b))
	sb.Write(hdr[:h])
	sb.Write(p.b)
	return attrBlock(sb.String())
}

// attrReader walks a block. Blocks are made by attrPacker or taken from a
// state encoding the decoder has walked, so they are well formed; a
// malformed one ends the walk rather than reading out of bounds.
type attrReader struct {
	s   string
	off int
}

func (r *attrReader) uvarint() int {
	v, n := uvarintString(r.s[r.off:])
	if n <= 0 || v > uint64(len(r.s)) {
		r.off = len(r.s)
		return -1
	}
	r.off += n
	return int(v)
}

func (r *attrReader) str() (string, bool) {
	n := r.uvarint()
	if n < 0 || n > len(r.s)-r.off {
		r.off = len(r.s)
		return "", false
	}
	v := r.s[r.off : r.off+n]
	r.off += n
	return v, true
}

func uvarintString(s string) (uint64, int) {
	var v uint64
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// len returns the number of attributes.
func (b attrBlock) len() int {
	if b == "" {
		return 0
	}
	r := attrReader{s: string(b)}
	return max(r.uvarint(), 0)
}

// each calls f with every attribute in name order, its values in buf
// (reused: f must not keep the slice; the strings are the block's). It
// returns buf for reuse.
func (b attrBlock) each(buf []string, f func(name string, values []string)) []string {
	r := attrReader{s: string(b)}
	if b == "" {
		return buf
	}
	n := r.uvarint()
	for range max(n, 0) {
		name, ok := r.str()
		if !ok {
			return buf
		}
		nv := r.uvarint()
		if nv < 0 {
			return buf
		}
		buf = buf[:0]
		for range nv {
			v, ok := r.str()
			if !ok {
				return buf
			}
			buf = append(buf, v)
		}
		if nv == 0 {
			f(name, nil)
		} else {
			f(name, buf)
		}
	}
	return buf
}

// toMap returns the attributes as a map whose strings are slices of the
// block (nil for none), as the state decoder makes it: an attribute
// without values maps to nil.
func (b attrBlock) toMap() map[string][]string {
	n := b.len()
	if n == 0 {
		return nil
	}
	total := 0
	buf := b.each(nil, func(_ string, values []string) { total += len(values) })
	m := make(map[string][]string, n)
	all := make([]string, 0, total) // every value in one allocation
	b.each(buf, func(name string, values []string) {
		if values == nil {
			m[name] = nil
			return
		}
		start := len(all)
		all = append(all, values...)
		m[name] = all[start:len(all):len(all)] // appending to one copies it
	})
	return m
}

// withMaps returns st with every record whose attributes are packed
// replaced by a copy holding them as a map, for a caller's StateStore.
// st itself is not changed.
func withMaps(st State) State {
	packed := false
	for _, o := range st.Objects {
		if o.Source != nil && o.Source.attrs != "" && o.Source.Attributes == nil {
			packed = true
			break
		}
	}
	if !packed {
		return st
	}
	out := st
	out.Objects = make(map[string]*ObjectState, len(st.Objects))
	for id, o := range st.Objects {
		if o.Source != nil && o.Source.attrs != "" && o.Source.Attributes == nil {
			c, r := *o, *o.Source
			r.Attributes, r.attrs = r.attrs.toMap(), ""
			c.Source = &r
			o = &c
		}
		out.Objects[id] = o
	}
	return out
}
