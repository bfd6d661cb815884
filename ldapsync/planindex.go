package ldapsync

import (
	"slices"
)

// planIndex indexes the records of a saved state for planning an
// incremental read over the changed objects only (computeIncremental).
// Every entry is a function of one record and the policies, so the index
// is kept up to date by taking out the contribution of an object's old
// record and adding its new one (update).
//
// The index holds no strings: objects are named by the keyHash of their
// ID (unique within a kept state, see stateEncoding.collide), addresses
// and DNs by their keyHash. A lookup can thus return objects whose key
// merely hashes alike: the planner checks the records it finds (see
// savedState), and over-approximation elsewhere only plans an object
// again.
type planIndex struct {
	policy string // policyKey of the policies it was built with
	pol    *policies
	// claims lists, per address, the objects claiming it (once each);
	// an address with more than one claimant is a duplicate.
	claims multimap
	// memberOf lists, per member ID, the groups whose record lists it
	// (once per listing).
	memberOf multimap
	// unresolved lists, per normDN of a member DN no object had, the
	// groups whose record lists it.
	unresolved multimap
	// skipped holds the objects the policies skip.
	skipped map[uint64]struct{}
	// dn lists, per normDN of a record's DN, its objects; nil until a
	// plan needs it.
	dn *multimap
	// pending: the state keeps withheld removals (objects linked in the
	// target but no longer wanted): the next run plans in full.
	pending bool
}

// buildIndex indexes st for the policies of cfg.
func buildIndex(cfg Config, st State) *planIndex {
	idx := &planIndex{policy: policyKey(cfg), pol: newPolicies(cfg), claims: newMultimap(len(st.Objects)),
		memberOf: newMultimap(len(st.Objects)), unresolved: newMultimap(0), skipped: map[uint64]struct{}{}}
	for id, o := range st.Objects {
		if o.Source == nil {
			idx.pending = true
			continue
		}
		idx.add(id, o.Source)
		if o.Applied != "" && !idx.wanted(o.Source) {
			idx.pending = true // linked, not wanted: a withheld removal
		}
	}
	return idx
}

// wanted reports whether the policies want rec in the target.
func (x *planIndex) wanted(rec *Record) bool {
	k := x.pol.classify(rec)
	return k == wantUser || k == wantGroup
}

// add indexes the record of object id.
func (x *planIndex) add(id string, rec *Record) {
	if rec == nil {
		return
	}
	h := keyHash(id)
	if x.dn != nil {
		x.dn.add(keyHash(normDN(rec.DN)), h)
	}
	if x.pol.classify(rec) == wantSkip {
		x.skipped[h] = struct{}{}
	}
	x.pol.claims(rec, func(a string) { x.claims.addOnce(keyHash(a), h) })
	if rec.Kind == KindGroup {
		for _, m := range rec.Members {
			x.memberOf.add(keyHash(m), h)
		}
		for _, d := range rec.MemberDNs {
			x.unresolved.add(keyHash(normDN(d)), h)
		}
	}
}

// remove takes the record of object id out of the index.
func (x *planIndex) remove(id string, rec *Record) {
	if rec == nil {
		return
	}
	h := keyHash(id)
	if x.dn != nil {
		x.dn.remove(keyHash(normDN(rec.DN)), h)
	}
	delete(x.skipped, h)
	x.pol.claims(rec, func(a string) { x.claims.remove(keyHash(a), h) })
	if rec.Kind == KindGroup {
		for _, m := range rec.Members {
			x.memberOf.remove(keyHash(m), h)
		}
		for _, d := range rec.MemberDNs {
			x.unresolved.remove(keyHash(normDN(d)), h)
		}
	}
}

// dnIndex returns the index of record DNs, building it from base (the
// state the index describes) when first needed; nil when a record cannot
// be decoded.
func (x *planIndex) dnIndex(base *savedState) *multimap {
	if x.dn == nil {
		dn := newMultimap(len(base.enc.spans))
		for i, sp := range base.enc.spans {
			_, o, err := base.enc.objectAt(i)
			if err != nil {
				base.fail(err)
				return nil
			}
			if o.Source != nil {
				dn.add(keyHash(normDN(o.Source.DN)), sp.h)
			}
		}
		x.dn = &dn
	}
	return x.dn
}

// multimap lists values per key (in the order added, a value once per
// add). Most keys have one value: it is a map value of its own, further
// ones are in more.
type multimap struct {
	first map[uint64]uint64
	more  map[uint64][]uint64
}

func newMultimap(n int) multimap {
	return multimap{first: make(map[uint64]uint64, n), more: map[uint64][]uint64{}}
}

func (x multimap) add(k, v uint64) {
	if _, ok := x.first[k]; !ok {
		x.first[k] = v
		return
	}
	x.more[k] = append(x.more[k], v)
}

// addOnce adds v to the values of k unless it is one already.
func (x multimap) addOnce(k, v uint64) {
	if f, ok := x.first[k]; ok && (f == v || slices.Contains(x.more[k], v)) {
		return
	}
	x.add(k, v)
}

// remove removes one listing of v under k.
func (x multimap) remove(k, v uint64) {
	more := x.more[k]
	switch f, ok := x.first[k]; {
	case !ok:
		return
	case f == v && len(more) == 0:
		delete(x.first, k)
		return
	case f == v:
		x.first[k] = more[0]
		more = slices.Delete(more, 0, 1)
	default:
		if i := slices.Index(more, v); i >= 0 {
			more = slices.Delete(more, i, i+1)
		}
	}
	if len(more) == 0 {
		delete(x.more, k)
	} else {
		x.more[k] = more
	}
}

// values appends the values of k to dst.
func (x multimap) values(dst []uint64, k uint64) []uint64 {
	f, ok := x.first[k]
	if !ok {
		return dst
	}
	return append(append(dst, f), x.more[k]...)
}
