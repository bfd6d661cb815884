package ldapsync

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
	idx := &planIndex{policy: policyKey(cfg), pol: newPolicies(cfg), claims: newMultimap(true, len(st.Objects)),
		memberOf: newMultimap(false, len(st.Objects)), unresolved: newMultimap(false, 0), skipped: map[uint64]struct{}{}}
	for id, o := range st.Objects {
		if o.Source == nil {
			idx.pending = true
			continue
		}
		rec, h := o.Source, keyHash(id)
		if idx.pol.classify(rec) == wantSkip {
			idx.skipped[h] = struct{}{}
		}
		idx.pol.claims(rec, func(a string) { idx.claims.put(keyHash(a), h) })
		if rec.Kind == KindGroup {
			for _, m := range rec.Members {
				idx.memberOf.put(keyHash(m), h)
			}
			for _, d := range rec.MemberDNs {
				idx.unresolved.put(keyHash(normDN(d)), h)
			}
		}
		if o.Applied != "" && !idx.wanted(o.Source) {
			idx.pending = true // linked, not wanted: a withheld removal
		}
	}
	idx.claims.freeze()
	idx.memberOf.freeze()
	idx.unresolved.freeze()
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
	x.pol.claims(rec, func(a string) { x.claims.add(keyHash(a), h) })
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
		dn := newMultimap(false, len(base.enc.spans))
		for i, sp := range base.enc.spans {
			_, o, err := base.enc.objectAt(i)
			if err != nil {
				base.fail(err)
				return nil
			}
			if o.Source != nil {
				dn.put(keyHash(normDN(o.Source.DN)), sp.h)
			}
		}
		dn.freeze()
		x.dn = &dn
	}
	return x.dn
}
