package ldapsync

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// savedState is the state a [Syncer] saved last, kept between runs so
// that the next run neither decodes it nor encodes its unchanged objects
// again. It is used only while the store provably still holds it (see
// holds). It keeps no decoded record: the encoding (for a MemoryStore the
// stored buffer itself; a file is read again and checked), where its
// records lie, and the index for incremental plans. A run decodes the
// objects its plan touches (object), or the whole state when it plans in
// full (state).
type savedState struct {
	wm   Watermark // the state's watermark
	size int       // length of the saved encoding
	sum  uint32    // its CRC-32C (the encoding's last 4 bytes)
	// enc locates the objects in the encoding; enc.buf is the stored
	// encoding itself for a MemoryStore (shared, not a copy), nil for
	// other stores between runs.
	enc *stateEncoding
	// idx indexes the state for planning incremental reads; nil until
	// built, and when object IDs share a hash (enc.collide).
	idx *planIndex
	// decoded: the state was decoded from the store by this run, not kept.
	decoded bool

	// For the run planning from it, reset by loadState:
	// full is the whole state once decoded.
	full *State
	// objs holds the objects decoded (nil: none with that ID).
	objs map[string]*ObjectState
	// err is the first record that failed to decode: the run plans in
	// full (which reports it).
	err error
}

// object returns the saved state of object id, nil when it has none.
// Objects are decoded once per run; nil when decoding fails (see err).
func (c *savedState) object(id string) *ObjectState {
	if c.full != nil {
		return c.full.Objects[id]
	}
	if o, ok := c.objs[id]; ok {
		return o
	}
	var o *ObjectState
	if i := c.enc.find(id); i >= 0 {
		var err error
		if _, o, err = c.enc.objectAt(i); err != nil {
			c.fail(err)
			o = nil
		}
	}
	if c.objs == nil {
		c.objs = map[string]*ObjectState{}
	}
	c.objs[id] = o
	return o
}

// record returns the saved record of object id, nil when it has none.
func (c *savedState) record(id string) *Record {
	if o := c.object(id); o != nil {
		return o.Source
	}
	return nil
}

// idOf returns the ID of the object whose ID hashes to h ("" for none).
func (c *savedState) idOf(h uint64) string {
	if i := c.enc.byHash(h); i >= 0 {
		return c.enc.idAt(i)
	}
	c.fail(errors.New("index names an object the state does not hold"))
	return ""
}

// ids returns the IDs of the objects whose IDs hash to hs.
func (c *savedState) ids(hs []uint64) []string {
	if len(hs) == 0 {
		return nil
	}
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		if id := c.idOf(h); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func (c *savedState) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// state returns the whole saved state, decoded once per run.
func (c *savedState) state() (State, error) {
	if c.full == nil {
		st, _, err := decodeStateSpans(c.enc.buf, "", false, true)
		if err != nil {
			return State{}, err
		}
		c.full = &st
	}
	return *c.full, nil
}

// release drops what a run decoded.
func (c *savedState) release() { c.full, c.objs, c.err = nil, nil, nil }

// dropDecoded drops what the last run decoded from the state kept, and
// the encoding read from a file: a run that failed or only planned keeps
// no more between runs than one that saved.
func (s *Syncer) dropDecoded() {
	if c := s.saved; c != nil {
		c.release()
		if _, mem := s.store.(*MemoryStore); !mem {
			c.enc.buf = nil
		}
	}
}

// count returns the number of objects of the saved state.
func (c *savedState) count() int {
	if c.full != nil {
		return len(c.full.Objects)
	}
	return len(c.enc.spans)
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
		c := s.saved
		c.release()
		c.enc.buf = b
		return State{Version: StateVersion, Watermark: c.wm}, c, nil
	}
	s.saved = nil
	if b == nil {
		return State{}, nil, nil
	}
	// Loaded as the store's Load would, noting where the records lie so
	// that this run's save copies those of unchanged objects.
	st, enc, err := decodeStateSpans(b, path, true, true)
	if err != nil || enc == nil {
		return st, nil, err
	}
	s.saved = &savedState{wm: st.Watermark, size: len(b), sum: binary.BigEndian.Uint32(b[len(b)-4:]), enc: enc, decoded: true, full: &st}
	return st, s.saved, nil
}

// encodedNext is the next state of a run, encoded for one of this
// package's stores (see encodeNext).
type encodedNext struct {
	next State
	b    []byte
	enc  *stateEncoding
	// delta: planned incrementally from base; fromBase: base is the
	// state kept, at hand.
	delta, fromBase bool
	// released: the records of next were dropped as they were encoded
	// (a full plan's, whose index is made already).
	released bool
	err      error
}

// encodeNext encodes the next state of out for one of this package's
// stores. base is the savedState the run planned from (nil when the state
// was loaded); when the outcome was planned from it incrementally, only
// the objects it touched are encoded. The records of a full plan's next
// state are dropped as they are encoded (see released): after it, only
// the encoding holds them.
func (s *Syncer) encodeNext(base *savedState, out *outcome) *encodedNext {
	var prev *stateEncoding
	var touched []string
	var prevObjs map[string]*ObjectState
	fromBase := base != nil && base == s.saved && base.enc.buf != nil
	delta := out.base != nil && out.base == base
	if fromBase {
		prev = base.enc
		if delta {
			touched = out.touched
		} else if base.full != nil {
			prevObjs = base.full.Objects
		}
	}
	e := &encodedNext{next: out.next, delta: delta, fromBase: fromBase}
	if delta && !fromBase {
		// Planned incrementally from a state no longer at hand as kept:
		// the whole next state is made from it and encoded.
		if e.next, e.err = out.wholeNext(); e.err != nil {
			return e
		}
	}
	if delta && fromBase {
		e.b, e.enc, e.err = spliceState(e.next, prev, touched)
		if errors.Is(e.err, errSpliceTooLarge) {
			// Beyond what spans locate: the whole next state, encoded
			// without them (nothing is kept).
			if e.next, e.err = out.wholeNext(); e.err == nil {
				e.b, e.enc, e.err = encodeStateReusing(e.next, nil, nil, nil)
			}
		}
	} else {
		// A full plan's next state is needed decoded only to be encoded
		// (its index is made already): its records go as they are
		// encoded, and those no write holds on to are freed meanwhile.
		release := !delta && out.idx != nil
		e.b, e.enc, e.err = encodeStateFrom(e.next, prev, prevObjs, nil, release)
		e.released = release && e.err == nil && e.enc != nil
		if e.released {
			e.next.Objects = nil // records dropped: nothing left to read there
		}
	}
	if e.err == nil && cap(e.b)-len(e.b) > len(e.b)/8 {
		e.b = bytes.Clone(e.b) // keep no spare capacity between runs
		if e.enc != nil {
			e.enc.buf = e.b
		}
	}
	return e
}

// saveState saves the state of a run through the store. base is the
// savedState the run planned from; pre, when not nil, is the next state
// already encoded by encodeNext.
func (s *Syncer) saveState(ctx context.Context, base *savedState, out *outcome, pre *encodedNext) error {
	es := encodedStoreOf(s.store)
	if es == nil {
		s.saved = nil
		return s.store.Save(ctx, withMaps(out.next))
	}
	e := pre
	if e == nil {
		e = s.encodeNext(base, out)
	}
	s.saved = nil
	if e.err != nil {
		se := &StateError{Op: "save", Err: e.err}
		if f, ok := s.store.(*FileStore); ok {
			se.Path = f.path
		}
		return se
	}
	b, enc, next := e.b, e.enc, e.next
	if err := es.saveEncoded(ctx, b); err != nil {
		return err
	}
	if s.opts.noKeep || enc == nil {
		return nil
	}
	saved := &savedState{wm: next.Watermark, size: len(b), sum: binary.BigEndian.Uint32(b[len(b)-4:]), enc: enc}
	switch {
	case enc.collide:
		// Objects named by the same hash: no index, every run plans in
		// full (a 64-bit hash makes this a curiosity).
	case e.delta && e.fromBase && out.advance != nil:
		saved.idx = out.advance()
	case !e.delta && out.idx != nil:
		saved.idx = out.idx
	default:
		saved.idx = buildIndex(s.cfg, next)
	}
	if saved.idx != nil && out.withheld {
		saved.idx.pending = true
	}
	if _, mem := s.store.(*MemoryStore); !mem {
		enc.buf = nil // the file holds it; read back and checked by the next run
	}
	s.saved = saved
	return nil
}
