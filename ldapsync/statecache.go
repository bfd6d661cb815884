package ldapsync

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
)

// savedState is the state a [Syncer] saved last, kept between runs so
// that the next run neither decodes it nor encodes its unchanged objects
// again. It is used only while the store provably still holds it (see
// holds). The state is never handed out and never modified: the next
// run's state shares its records and unchanged objects.
type savedState struct {
	st   State
	size int    // length of the saved encoding
	sum  uint32 // its CRC-32C (the encoding's last 4 bytes)
	// enc locates the objects in the encoding; enc.buf is the stored
	// encoding itself for a MemoryStore (shared, not a copy), nil for
	// other stores between runs.
	enc *stateEncoding
	// idx indexes st for planning incremental reads; nil until built.
	idx *planIndex
	// decoded: st was decoded from the store by this run, not kept.
	decoded bool
}

// holds reports whether b, what the store holds now, is the encoding
// saved: the very buffer, or the same length and checksum with a body
// that matches its checksum (a damaged file is not taken for the state).
func (c *savedState) holds(b []byte) bool {
	if len(b) != c.size || len(b) < len(stateMagic)+4 {
		return false
	}
	if c.enc == nil {
		return false
	}
	if c.enc.buf != nil && &c.enc.buf[0] == &b[0] {
		return true
	}
	sum := binary.BigEndian.Uint32(b[len(b)-4:])
	return sum == c.sum && bytes.HasPrefix(b, []byte(stateMagic)) && crc32.Checksum(b[:len(b)-4], stateCRC) == sum
}

// encodedStoreOf returns st as an encodedStore when it is one of this
// package's stores itself. A type embedding one is not taken for it: its
// own Load and Save (encrypting, replicating, ...) must run.
func encodedStoreOf(st StateStore) encodedStore {
	switch v := st.(type) {
	case *MemoryStore:
		return v
	case *FileStore:
		return v
	}
	return nil
}

// loadState returns the stored state: the one this Syncer saved last when
// the store still holds it (saved is then its savedState), else what the
// store's Load returns.
func (s *Syncer) loadState(ctx context.Context) (st State, saved *savedState, err error) {
	es := encodedStoreOf(s.store)
	if es == nil {
		s.saved = nil
		st, err = s.store.Load(ctx)
		return st, nil, err
	}
	b, path, err := es.storedBytes(ctx)
	if err != nil {
		s.saved = nil
		return State{}, nil, err
	}
	if s.opts.noKeep {
		s.saved = nil
	}
	if s.saved != nil && s.saved.holds(b) {
		s.saved.enc.buf = b
		return s.saved.st, s.saved, nil
	}
	s.saved = nil
	if b == nil {
		return State{}, nil, nil
	}
	// Loaded as the store's Load would, noting where the records lie so
	// that this run's save copies those of unchanged objects.
	st, enc, err := decodeStateSpans(b, path, true)
	if err != nil || enc == nil {
		return st, nil, err
	}
	s.saved = &savedState{st: st, size: len(b), sum: binary.BigEndian.Uint32(b[len(b)-4:]), enc: enc, decoded: true}
	return st, s.saved, nil
}

// saveState saves the state of a run through the store. base is the
// savedState the run planned from (nil when the state was loaded); when
// the outcome was planned from it incrementally, only the objects it
// touched are encoded.
func (s *Syncer) saveState(ctx context.Context, base *savedState, out *outcome) error {
	es := encodedStoreOf(s.store)
	if es == nil {
		s.saved = nil
		return s.store.Save(ctx, out.next)
	}
	var prev *stateEncoding
	var touched []string
	fromBase := base != nil && base == s.saved
	if fromBase {
		prev = base.enc
		if out.touched != nil && out.base == base {
			touched = out.touched
		}
	}
	s.saved = nil // its encoding is consumed by the splice
	var prevObjs map[string]*ObjectState
	if fromBase {
		prevObjs = base.st.Objects
	}
	b, enc, err := encodeStateReusing(out.next, prev, prevObjs, touched)
	if err != nil {
		se := &StateError{Op: "save", Err: err}
		if f, ok := s.store.(*FileStore); ok {
			se.Path = f.path
		}
		return se
	}
	if cap(b)-len(b) > len(b)/8 {
		b = bytes.Clone(b) // keep no spare capacity between runs
		enc.buf = b
	}
	if err := es.saveEncoded(ctx, b); err != nil {
		return err
	}
	saved := &savedState{st: out.next, size: len(b), sum: binary.BigEndian.Uint32(b[len(b)-4:]), enc: enc}
	switch {
	case fromBase && out.advance != nil && out.base == base:
		saved.idx = out.advance()
	case out.idx != nil:
		saved.idx = out.idx
	default:
		saved.idx = buildIndex(s.cfg, out.next)
	}
	if out.withheld {
		saved.idx.pending = true
	}
	if _, mem := s.store.(*MemoryStore); !mem {
		enc.buf = nil // the file holds it; read back and checked by the next run
	}
	if !s.opts.noKeep {
		s.saved = saved
	}
	return nil
}
