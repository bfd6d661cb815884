package ldapsync

import (
	"cmp"
	"slices"
)

// kv is one listing of a multimap: value v under key k.
type kv struct{ k, v uint64 }

func cmpKV(a, b kv) int {
	if c := cmp.Compare(a.k, b.k); c != 0 {
		return c
	}
	return cmp.Compare(a.v, b.v)
}

// multimap lists values per key, both hashes (see planIndex). Built in
// bulk (put, then freeze), its listings are one sorted slice of 16 bytes
// each; later changes (add, remove) go to a small overlay, merged back
// into the slice once it outgrows an eighth of it.
type multimap struct {
	set   bool     // a value is listed at most once per key
	base  []kv     // sorted by key, then value
	multi []uint64 // the keys listed more than once in base, sorted
	added map[uint64][]uint64
	taken map[kv]int32 // listings of base taken out
	nover int          // changes held in added and taken
}

func newMultimap(set bool, n int) multimap {
	return multimap{set: set, base: make([]kv, 0, n)}
}

// put lists v under k while the multimap is built: freeze must follow.
func (x *multimap) put(k, v uint64) { x.base = append(x.base, kv{k, v}) }

// freeze sorts what put listed.
func (x *multimap) freeze() {
	slices.SortFunc(x.base, cmpKV)
	if x.set {
		x.base = slices.Compact(x.base)
	}
	if cap(x.base) > len(x.base)+len(x.base)/8+16 {
		x.base = slices.Clip(slices.Clone(x.base))
	}
	x.multi = x.multi[:0]
	for i := 1; i < len(x.base); i++ {
		if k := x.base[i].k; k == x.base[i-1].k && (len(x.multi) == 0 || x.multi[len(x.multi)-1] != k) {
			x.multi = append(x.multi, k)
		}
	}
}

// span returns the listings of k in base.
func (x *multimap) span(k uint64) []kv {
	i, _ := slices.BinarySearchFunc(x.base, k, func(e kv, k uint64) int { return cmp.Compare(e.k, k) })
	j := i
	for j < len(x.base) && x.base[j].k == k {
		j++
	}
	return x.base[i:j]
}

// values appends the values listed under k to dst.
func (x *multimap) values(dst []uint64, k uint64) []uint64 {
	s := x.span(k)
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && s[j] == s[i] {
			j++
		}
		for range j - i - int(x.taken[s[i]]) {
			dst = append(dst, s[i].v)
		}
		i = j
	}
	return append(dst, x.added[k]...)
}

// has reports whether a value is listed under k.
func (x *multimap) has(k uint64) bool {
	if len(x.added[k]) > 0 {
		return true
	}
	s := x.span(k)
	if len(x.taken) == 0 {
		return len(s) > 0
	}
	return len(x.values(nil, k)) > 0
}

// add lists v under k (for a set, unless it is listed already).
func (x *multimap) add(k, v uint64) {
	if x.set && slices.Contains(x.values(nil, k), v) {
		return
	}
	if x.added == nil {
		x.added = map[uint64][]uint64{}
	}
	x.added[k] = append(x.added[k], v)
	x.changed()
}

// remove takes one listing of v under k out.
func (x *multimap) remove(k, v uint64) {
	if a := x.added[k]; len(a) > 0 {
		if i := slices.Index(a, v); i >= 0 {
			if a = slices.Delete(a, i, i+1); len(a) == 0 {
				delete(x.added, k)
			} else {
				x.added[k] = a
			}
			return
		}
	}
	n := 0
	for _, e := range x.span(k) {
		if e.v == v {
			n++
		}
	}
	e := kv{k, v}
	if int(x.taken[e]) < n {
		if x.taken == nil {
			x.taken = map[kv]int32{}
		}
		x.taken[e]++
		x.changed()
	}
}

// changed merges the overlay into base once it is large.
func (x *multimap) changed() {
	x.nover++
	if x.nover <= len(x.base)/8+256 {
		return
	}
	all := make([]kv, 0, len(x.base)+x.nover)
	for k := range x.keys {
		for _, v := range x.values(nil, k) {
			all = append(all, kv{k, v})
		}
	}
	x.base, x.added, x.taken, x.nover = all, nil, nil, 0
	x.freeze()
}

// keys calls f with every key listed (once each; possibly a key whose
// listings were all taken out).
func (x *multimap) keys(f func(k uint64) bool) {
	for i, e := range x.base {
		if i > 0 && x.base[i-1].k == e.k {
			continue
		}
		if !f(e.k) {
			return
		}
	}
	for k := range x.added {
		if len(x.span(k)) == 0 && !f(k) {
			return
		}
	}
}

// multiKeys returns the keys listing more than one value, sorted.
func (x *multimap) multiKeys() []uint64 {
	cands := slices.Clone(x.multi)
	for k := range x.added {
		cands = append(cands, k)
	}
	slices.Sort(cands)
	cands = slices.Compact(cands)
	out := cands[:0]
	for _, k := range cands {
		if len(x.values(nil, k)) > 1 {
			out = append(out, k)
		}
	}
	return out
}

// empty reports whether nothing was ever listed (since the last merge).
func (x *multimap) empty() bool { return len(x.base) == 0 && len(x.added) == 0 }
