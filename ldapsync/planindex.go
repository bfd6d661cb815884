package ldapsync

import (
	"slices"
	"sort"
)

// planIndex indexes the records of a saved state for planning an
// incremental read over the changed objects only (computeIncremental).
// Every entry is a function of one record and the policies, so the index
// is kept up to date by taking out the contribution of an object's old
// record and adding its new one (update).
type planIndex struct {
	policy string // policyKey of the policies it was built with
	pol    *policies
	// owner holds the only claimant of an address; multi the claimants,
	// sorted, of an address claimed more than once (the duplicates).
	owner map[string]string
	multi map[string][]string
	// memberOf lists, per member ID, the groups whose record lists it
	// (once per listing).
	memberOf memberIndex
	// unresolved lists, per normDN of a member DN no object had, the
	// groups whose record lists it.
	unresolved map[string][]string
	// skipped holds the objects the policies skip.
	skipped map[string]bool
	// dn maps normDN of every record's DN to its object; nil until a plan
	// needs it.
	dn map[string]string
	// pending: the state keeps withheld removals (objects linked in the
	// target but no longer wanted): the next run plans in full.
	pending bool
}

// buildIndex indexes st for the policies of cfg.
func buildIndex(cfg Config, st State) *planIndex {
	idx := &planIndex{policy: policyKey(cfg), pol: newPolicies(cfg), owner: make(map[string]string, len(st.Objects)),
		multi: map[string][]string{}, memberOf: newMemberIndex(len(st.Objects)),
		unresolved: map[string][]string{}, skipped: map[string]bool{}}
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
	if x.dn != nil {
		x.dn[normDN(rec.DN)] = id
	}
	if x.pol.classify(rec) == wantSkip {
		x.skipped[id] = true
	}
	x.pol.claims(rec, func(a string) { x.addClaim(a, id) })
	if rec.Kind == KindGroup {
		for _, m := range rec.Members {
			x.memberOf.add(m, id)
		}
		for _, d := range rec.MemberDNs {
			k := normDN(d)
			x.unresolved[k] = append(x.unresolved[k], id)
		}
	}
}

// remove takes the record of object id out of the index.
func (x *planIndex) remove(id string, rec *Record) {
	if rec == nil {
		return
	}
	if x.dn != nil {
		if k := normDN(rec.DN); x.dn[k] == id {
			delete(x.dn, k)
		}
	}
	delete(x.skipped, id)
	x.pol.claims(rec, func(a string) { x.removeClaim(a, id) })
	if rec.Kind == KindGroup {
		for _, m := range rec.Members {
			x.memberOf.remove(m, id)
		}
		for _, d := range rec.MemberDNs {
			k := normDN(d)
			x.unresolved[k] = removeOne(x.unresolved[k], id)
			if len(x.unresolved[k]) == 0 {
				delete(x.unresolved, k)
			}
		}
	}
}

// memberIndex lists, per member ID, groups (once per listing, in the
// order added). Most members are listed by one group: the first group is a
// map value of its own, further ones are in more.
type memberIndex struct {
	first map[string]string
	more  map[string][]string
}

func newMemberIndex(n int) memberIndex {
	return memberIndex{first: make(map[string]string, n), more: map[string][]string{}}
}

func (x memberIndex) add(m, g string) {
	if _, ok := x.first[m]; !ok {
		x.first[m] = g
		return
	}
	x.more[m] = append(x.more[m], g)
}

// remove removes one listing of m by g.
func (x memberIndex) remove(m, g string) {
	more := x.more[m]
	switch f, ok := x.first[m]; {
	case !ok:
		return
	case f == g && len(more) == 0:
		delete(x.first, m)
		return
	case f == g:
		x.first[m] = more[0]
		more = slices.Delete(more, 0, 1)
	default:
		more = removeOne(more, g)
	}
	if len(more) == 0 {
		delete(x.more, m)
	} else {
		x.more[m] = more
	}
}

// groups appends the groups listing m to dst.
func (x memberIndex) groups(dst []string, m string) []string {
	f, ok := x.first[m]
	if !ok {
		return dst
	}
	return append(append(dst, f), x.more[m]...)
}

// removeOne removes one occurrence of id from l.
func removeOne(l []string, id string) []string {
	if i := slices.Index(l, id); i >= 0 {
		return slices.Delete(l, i, i+1)
	}
	return l
}

func (x *planIndex) addClaim(a, id string) {
	if c, ok := x.multi[a]; ok {
		if i, found := slices.BinarySearch(c, id); !found {
			x.multi[a] = slices.Insert(c, i, id)
		}
		return
	}
	o, ok := x.owner[a]
	switch {
	case !ok:
		x.owner[a] = id
	case o != id:
		delete(x.owner, a)
		c := []string{o, id}
		sort.Strings(c)
		x.multi[a] = c
	}
}

func (x *planIndex) removeClaim(a, id string) {
	if c, ok := x.multi[a]; ok {
		if i, found := slices.BinarySearch(c, id); found {
			c = slices.Delete(c, i, i+1)
		}
		if len(c) == 1 {
			delete(x.multi, a)
			x.owner[a] = c[0]
		} else {
			x.multi[a] = c
		}
		return
	}
	if x.owner[a] == id {
		delete(x.owner, a)
	}
}

// claimants returns the claimants of address a, sorted.
func (x *planIndex) claimants(a string) []string {
	if c, ok := x.multi[a]; ok {
		return c
	}
	if o, ok := x.owner[a]; ok {
		return []string{o}
	}
	return nil
}

// dnIndex returns the index of record DNs, building it from st (the
// state the index describes) when first needed.
func (x *planIndex) dnIndex(st State) map[string]string {
	if x.dn == nil {
		x.dn = make(map[string]string, len(st.Objects))
		for id, o := range st.Objects {
			if o.Source != nil {
				x.dn[normDN(o.Source.DN)] = id
			}
		}
	}
	return x.dn
}
