package ldapsync

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// computeIncremental plans an incremental read that names its changes
// (the changed records and the deleted IDs, no list of what is present)
// over the objects the changes can affect only, with the same outcome as
// compute. It returns nil when it does not apply: no index of the saved
// state, a full read or one listing what is present, changed policies,
// removals withheld earlier, or a read that would leave nothing in scope.
//
// The objects re-planned are the changed ones, the groups whose members
// must be resolved again (a changed group, or one listing the DN of a
// changed object among its unresolved members), every object holding or
// about to hold a duplicate address, and the groups of every object whose
// linked status changes. Every other object keeps its state as the saved
// state has it, which is what compute would give it: its record, its
// policies and the linked status of its members are unchanged.
func computeIncremental(cfg Config, prev State, base *savedState, res *readResult, snapshot map[string]User) *outcome {
	if base == nil || base.idx == nil || base.idx.pending || res.full || res.present != nil || snapshot != nil {
		return nil
	}
	idx := base.idx
	policy := policyKey(cfg)
	if idx.policy != policy || prev.Watermark.Policy != policy {
		return nil
	}
	pol := idx.pol

	// The view: the saved records, with changed holding those that differ
	// (nil: left the scope).
	changed := make(map[string]*Record, len(res.records)+len(res.deleted))
	for id, rec := range res.records {
		changed[id] = rec
	}
	for _, id := range res.deleted {
		changed[id] = nil
	}
	prevRec := base.record
	prevObj := base.object
	viewLen := base.count()
	for id, rec := range changed {
		switch was := prevRec(id) != nil; {
		case was && rec == nil:
			viewLen--
		case !was && rec != nil:
			viewLen++
		}
	}
	if viewLen == 0 {
		return nil // the empty-read check is compute's
	}

	// Member DNs to resolve: those of changed groups, and those of groups
	// listing the DN of a changed object among their unresolved members.
	var toResolve []string
	for id, rec := range changed {
		if rec == nil {
			continue
		}
		if rec.Kind == KindGroup && len(rec.MemberDNs) > 0 {
			toResolve = append(toResolve, id)
		}
		if !idx.unresolved.empty() {
			for _, g := range base.ids(idx.unresolved.values(nil, keyHash(normDN(rec.DN)))) {
				if _, ch := changed[g]; !ch {
					toResolve = append(toResolve, g)
				}
			}
		}
	}
	resolved := map[string]*Record{}
	if len(toResolve) > 0 {
		dn := idx.dnIndex(base)
		if dn == nil {
			return nil
		}
		overlay := make(map[string]string, len(changed))
		for id, rec := range changed {
			if rec != nil {
				overlay[normDN(rec.DN)] = id
			}
		}
		lookup := func(d string) (string, bool) {
			k := normDN(d)
			if id, ok := overlay[k]; ok {
				return id, true
			}
			for _, h := range dn.values(nil, keyHash(k)) {
				id := base.idOf(h)
				if _, ch := changed[id]; ch || id == "" {
					continue
				}
				if rec := prevRec(id); rec != nil && normDN(rec.DN) == k {
					return id, true
				}
			}
			return "", false
		}
		seen := map[string]bool{}
		for _, g := range toResolve {
			if _, done := resolved[g]; done {
				continue
			}
			rec, ok := changed[g]
			if !ok {
				rec = prevRec(g)
			}
			resolved[g] = resolveRecord(rec, lookup, seen)
		}
	}
	view := func(id string) *Record {
		if rec, ok := resolved[id]; ok {
			return rec
		}
		if rec, ok := changed[id]; ok {
			return rec
		}
		return prevRec(id)
	}

	// Duplicate addresses after the changes: the claimants of every
	// address a changed object claims or claimed.
	newClaims := map[string][]string{} // address -> changed objects claiming it now
	touchedAddr := map[string]bool{}
	for id, rec := range changed {
		pol.claims(prevRec(id), func(a string) { touchedAddr[a] = true })
		pol.claims(rec, func(a string) {
			touchedAddr[a] = true
			newClaims[a] = append(newClaims[a], id)
		})
	}
	// The duplicates before the changes: the claimants of the addresses
	// hashing alike, by address.
	heldBefore := map[string]bool{}
	dups := map[string][]string{}
	for _, ah := range idx.claims.multiKeys() {
		byAddr := map[string][]string{}
		for _, id := range base.ids(idx.claims.values(nil, ah)) {
			heldBefore[id] = true
			pol.claims(prevRec(id), func(a string) {
				if keyHash(a) == ah && !slices.Contains(byAddr[a], id) {
					byAddr[a] = append(byAddr[a], id)
				}
			})
		}
		for a, c := range byAddr {
			if len(c) > 1 && !touchedAddr[a] {
				sort.Strings(c)
				dups[a] = c
			}
		}
	}
	for a := range touchedAddr {
		var c []string
		for _, id := range base.ids(idx.claims.values(nil, keyHash(a))) {
			if _, ch := changed[id]; ch {
				continue
			}
			claimed := false
			pol.claims(prevRec(id), func(x string) { claimed = claimed || x == a })
			if claimed {
				c = append(c, id)
			}
		}
		for _, id := range newClaims[a] {
			if !slices.Contains(c, id) {
				c = append(c, id)
			}
		}
		if len(c) > 1 {
			sort.Strings(c)
			dups[a] = c
		}
	}
	held := map[string]bool{}
	for _, c := range dups {
		for _, id := range c {
			held[id] = true
		}
	}

	// The objects to plan again.
	again := make(map[string]bool, len(changed)+len(resolved)+len(held))
	for id := range changed {
		again[id] = true
	}
	for id := range resolved {
		again[id] = true
	}
	for id := range held {
		again[id] = true
	}
	for id := range heldBefore {
		again[id] = true // held before
	}
	users := map[string]*User{}
	groups := map[string]*Group{}
	classify := func(id string) {
		rec := view(id)
		if rec == nil {
			return
		}
		switch pol.classify(rec) {
		case wantUser:
			u := pol.user(id, rec)
			users[id] = &u
		case wantGroup:
			groups[id] = pol.group(id, rec)
		}
	}
	for id := range again {
		classify(id)
	}
	applied := func(id string) (fp string, disabled bool, kind string) {
		if o := prevObj(id); o != nil {
			return o.Applied, o.AppliedDisabled, o.AppliedKind
		}
		return "", false, ""
	}
	for id := range held {
		delete(users, id)
		if g := groups[id]; g != nil {
			g.Email = heldGroupEmail(prevObj(id), pol.allowed)
		}
	}
	wasLinked := func(id string) bool {
		fp, _, kind := applied(id)
		return fp != "" && kind != KindGroup
	}
	linked := func(id string) bool {
		if !again[id] {
			return wasLinked(id)
		}
		if users[id] != nil {
			return true
		}
		if held[id] {
			return wasLinked(id)
		}
		return false
	}
	// The groups of the objects whose linked status changes.
	var regroup []string
	for id := range again {
		if linked(id) != wasLinked(id) {
			for _, g := range base.ids(idx.memberOf.values(nil, keyHash(id))) {
				if !again[g] {
					regroup = append(regroup, g)
				}
			}
		}
	}
	for _, g := range regroup {
		if !again[g] {
			again[g] = true
			classify(g)
		}
	}
	ids := sortedKeys(again)
	for _, id := range ids {
		g := groups[id]
		if g == nil {
			continue
		}
		for _, m := range view(id).Members {
			if linked(m) {
				g.Members = append(g.Members, m)
			}
		}
		sort.Strings(g.Members)
	}

	// The diff of the objects planned again, as compute makes it.
	out := &outcome{fullReason: res.fullReason, base: base, touched: ids}
	out.warnings = append(out.warnings, res.warnings...)
	out.skipped = append(out.skipped, res.skipped...)
	// next holds the objects of ids still in scope only: every other
	// object is as saved (see wholeNext).
	next := State{Version: StateVersion, Watermark: res.watermark, Objects: make(map[string]*ObjectState, len(ids))}
	next.Watermark.Policy = policy
	slab := make([]ObjectState, len(ids))
	for i, id := range ids {
		if rec := view(id); rec != nil {
			slab[i].Source = rec
			next.Objects[id] = &slab[i]
		}
	}
	for _, id := range ids {
		u, g := users[id], groups[id]
		if u == nil && g == nil {
			if held[id] {
				if fp, dis, kind := applied(id); fp != "" {
					o := next.Objects[id]
					o.Applied, o.AppliedDisabled, o.AppliedKind = fp, dis, kind
				}
			}
			continue
		}
		pfp, pdis, pkind := applied(id)
		out.planWrite(id, u, g, view(id), prevObj(id), next.Objects[id], true, pfp, pdis, pkind)
		if g != nil && held[id] {
			o := next.Objects[id]
			o.AddressHeld, o.AppliedEmail = true, g.Email
		}
	}
	// The groups of the users written: those whose record lists them.
	for i := range out.changes {
		u := out.changes[i].User
		if u == nil {
			continue
		}
		// (once per listing; the index may name groups whose members
		// merely hash alike)
		cands := base.ids(idx.memberOf.values(nil, keyHash(u.ID)))
		sort.Strings(cands)
		cands = slices.Compact(cands)
		for _, g := range cands {
			if again[g] {
				continue
			}
			if rec := prevRec(g); rec != nil {
				for _, m := range rec.Members {
					if m == u.ID {
						u.Groups = append(u.Groups, g)
					}
				}
			}
		}
		for _, g := range ids {
			if groups[g] == nil {
				continue
			}
			for _, m := range view(g).Members {
				if m == u.ID {
					u.Groups = append(u.Groups, g)
				}
			}
		}
		sort.Strings(u.Groups)
	}
	sort.SliceStable(out.changes, func(i, j int) bool {
		return out.changes[i].Group == nil && out.changes[j].Group != nil
	})

	// Warnings and skips, for every object in scope as compute reports
	// them: the policies' skips in ID order, then the held objects.
	skipped := make([]string, 0, len(idx.skipped)+len(changed))
	for h := range idx.skipped {
		id := base.idOf(h)
		if _, ch := changed[id]; !ch && id != "" {
			skipped = append(skipped, id)
		}
	}
	for id, rec := range changed {
		if rec != nil && pol.classify(rec) == wantSkip {
			skipped = append(skipped, id)
		}
	}
	sort.Strings(skipped)
	for _, id := range skipped {
		rec := view(id)
		if rec == nil {
			return nil
		}
		out.skipped = append(out.skipped, Skip{ID: id, DN: rec.DN, Reason: pol.skipReason(rec)})
	}
	heldReason := map[string][]string{}
	for _, a := range sortedKeys(dups) {
		out.warnings = append(out.warnings, duplicateAddress(a, dups[a], func(id string) string { return view(id).DN }, heldReason))
	}
	for _, id := range sortedKeys(held) {
		out.skipped = append(out.skipped, Skip{ID: id, DN: view(id).DN, Reason: strings.Join(heldReason[id], "; ")})
	}

	// Removals: the objects planned again that are linked and no longer
	// wanted (the others were settled by the saved state).
	for _, id := range ids {
		if users[id] != nil || groups[id] != nil || held[id] {
			continue
		}
		fp, dis, kind := applied(id)
		if fp == "" {
			continue
		}
		out.removals = append(out.removals, removal(cfg, id, prevObj(id), fp, dis, kind))
	}
	sort.SliceStable(out.removals, func(i, j int) bool {
		return out.removals[i].Op != OpDeleteGroup && out.removals[j].Op == OpDeleteGroup
	})
	out.next = next
	if base.err != nil {
		return nil // a record that does not decode: planned in full, which reports it
	}
	if len(out.removals) > cfg.MaxSyncDeletions {
		out.withhold(fmt.Sprintf("%s planned but MaxSyncDeletions is %d: none applied", removals(len(out.removals)), cfg.MaxSyncDeletions))
	}

	// Once saved, the index describes next: the objects whose record
	// changed leave with their old record and come back with the new.
	out.advance = func() *planIndex {
		for _, id := range ids {
			if old, rec := prevRec(id), view(id); old != rec {
				idx.remove(id, old)
				idx.add(id, rec)
			}
		}
		return idx
	}
	return out
}

// wholeNext returns the whole next state of an incremental plan: the
// saved state with the objects planned again as next has them.
func (o *outcome) wholeNext() (State, error) {
	if o.base == nil || o.base.enc == nil || o.base.full == nil && o.base.enc.buf == nil {
		return State{}, errors.New("the state planned from is no longer at hand")
	}
	prev, err := o.base.state()
	if err != nil {
		return State{}, err
	}
	next := State{Version: o.next.Version, Watermark: o.next.Watermark, Objects: maps.Clone(prev.Objects)}
	if next.Objects == nil {
		next.Objects = map[string]*ObjectState{}
	}
	for _, id := range o.touched {
		if x, ok := o.next.Objects[id]; ok {
			next.Objects[id] = x
		} else {
			delete(next.Objects, id)
		}
	}
	return next, nil
}
