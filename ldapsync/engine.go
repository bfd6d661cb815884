package ldapsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// outcome is the result of comparing what the directory holds (after the
// policies) with what the target holds.
type outcome struct {
	full       bool
	lean       bool // user changes are made from the encoded next state (see computePlan)
	fullReason string
	changes    []Change // upserts, disables and group upserts, in order
	removals   []Change // unlinks, deletes and group deletes
	withheld   bool     // removals exceed MaxSyncDeletions
	emptyRead  bool     // nothing at all is in scope: removals withheld (ErrEmptyRead)
	skipped    []Skip
	warnings   []string
	next       State // the state to save once every change (and, unless withheld, removal) is applied
	// groupCands holds, for every group change, the IDs the directory or
	// the previous state names as its members: withheld users among them
	// keep their membership (see withhold).
	groupCands map[string][]string
	// base, when not nil, is the saved state next was planned from
	// incrementally: next differs from it in the objects of touched only
	// (see saveState). advance, once next is saved, turns the saved
	// state's index into next's.
	base    *savedState
	touched []string
	advance func() *planIndex
	// idx indexes next after a full plan (see planIndex); pending is
	// set when it is saved with removals withheld. ids are next's objects
	// in scope, hashes their keyHash, held the objects held for a
	// duplicate address.
	idx    *planIndex
	ids    []string
	hashes []uint64
	held   []string
	byHash map[uint64][]string // (see idOf)
}

// userChunk is the number of users of one allocation in a plan.
const userChunk = 1024

// compute merges a read into the previous state, applies the policies and
// plans the target writes. snapshot, when not nil, is the target's linked
// users and contacts (read on full runs to converge with a target that
// is ahead of or behind the state).
func compute(cfg Config, prev State, res *readResult, snapshot map[string]User) *outcome {
	return computePlan(cfg, prev, res, snapshot, false)
}

// wantedUser marks, in a lean plan, a user the policies want: the user
// itself is made when its change is written (see commit).
var wantedUser = &User{}

// computePlan is compute. lean plans for a run that encodes its next
// state before writing and makes every user it writes from that encoding
// (see commit): no User is kept, the user changes are marked encoded
// with their groups, and the plan holds the directory once, as records.
func computePlan(cfg Config, prev State, res *readResult, snapshot map[string]User, lean bool) *outcome {
	out := &outcome{full: res.full, fullReason: res.fullReason, lean: lean}
	out.warnings = append(out.warnings, res.warnings...)
	out.skipped = append(out.skipped, res.skipped...)

	// 1. The directory view: the previous records, overlaid with what was
	// read, without what left the scope.
	view := make(map[string]*Record, len(prev.Objects)+len(res.records))
	if !res.full {
		for id, o := range prev.Objects {
			if o.Source != nil {
				view[id] = o.Source
			}
		}
	}
	for id, rec := range res.records {
		view[id] = rec
	}
	if res.present != nil {
		for id, rec := range view {
			dn, ok := res.present[id]
			switch {
			case !ok:
				delete(view, id)
			case dn != "" && dn != rec.DN: // "": in scope, DN unchanged
				c := *rec
				c.DN = dn
				view[id] = &c
			}
		}
	}
	for _, id := range res.deleted {
		delete(view, id)
	}
	resolveMembers(view)

	// 2. Policies: which users and contacts are wanted, and how.
	pol := newPolicies(cfg)
	allowed := pol.allowed
	ids := sortedKeys(view)
	users := make(map[string]*User, len(view))
	// Users come from slabs of userChunk: one allocation per chunk, and
	// a chunk is freed once its users are applied (see commit).
	var userSlab []User
	groups := map[string]*Group{}
	skip := func(id string, rec *Record, reason string) {
		out.skipped = append(out.skipped, Skip{ID: id, DN: rec.DN, Reason: reason})
	}
	userAt := make([]*User, len(ids)) // users[ids[i]], without the lookup
	// What the next run needs to plan an incremental read (planIndex),
	// made along: hashes[i] is keyHash(ids[i]).
	idx := &planIndex{policy: policyKey(cfg), pol: pol, claims: newMultimap(true, len(view)), memberOf: newMultimap(false, len(view)),
		unresolved: newMultimap(false, 0), skipped: map[uint64]struct{}{}}
	hashes := make([]uint64, len(ids))
	for i, id := range ids {
		rec := view[id]
		hashes[i] = keyHash(id)
		switch pol.classify(rec) {
		case wantSkip:
			skip(id, rec, pol.skipReason(rec))
			idx.skipped[hashes[i]] = struct{}{}
		case wantUser:
			if lean {
				users[id] = wantedUser
				continue
			}
			if len(userSlab) == cap(userSlab) {
				userSlab = make([]User, 0, min(userChunk, len(view)-i))
			}
			userSlab = append(userSlab, pol.user(id, rec))
			users[id] = &userSlab[len(userSlab)-1]
			userAt[i] = users[id]
		case wantGroup:
			groups[id] = pol.group(id, rec)
		}
	}

	// 3. Duplicate addresses: every object claiming an address another
	// object also claims is held (left as the target has it) and reported.
	// idx.claims has every claim by hashes: the addresses whose hash has
	// more than one claimant are claimed again by name, first holding
	// the first claimant of each, claims every claimant of those claimed
	// more than once.
	forEachClaim := func(f func(i int, a string)) {
		for i, id := range ids {
			if u := userAt[i]; u != nil {
				f(i, u.Email)
				for _, a := range u.Aliases {
					f(i, a)
				}
			} else if lean && users[id] != nil {
				pol.userClaims(view[id], func(a string) { f(i, a) })
			} else if g := groups[id]; g != nil && g.Email != "" {
				f(i, g.Email)
			}
		}
	}
	forEachClaim(func(i int, a string) { idx.claims.put(keyHash(a), hashes[i]) })
	idx.claims.freeze()
	first := map[string]string{}
	claims := map[string][]string{}
	claim := func(id, a string) {
		f, ok := first[a]
		if !ok {
			first[a] = id
			return
		}
		if f == id {
			return
		}
		c := claims[a]
		if c == nil {
			c = []string{f}
		}
		for _, o := range c {
			if o == id {
				return
			}
		}
		claims[a] = append(c, id)
	}
	if mk := idx.claims.multiKeys(); len(mk) > 0 {
		forEachClaim(func(i int, a string) {
			if _, ok := slices.BinarySearch(mk, keyHash(a)); ok {
				claim(ids[i], a)
			}
		})
	}
	memberOf := newMemberIndex(len(view))
	held := map[string]bool{}
	heldReason := map[string][]string{}
	for _, a := range sortedKeys(claims) {
		c := claims[a]
		if len(c) < 2 {
			continue
		}
		for _, id := range c {
			held[id] = true
		}
		out.warnings = append(out.warnings, duplicateAddress(a, c, func(id string) string { return view[id].DN }, heldReason))
	}
	for _, id := range sortedKeys(held) {
		skip(id, view[id], strings.Join(heldReason[id], "; "))
		delete(users, id)
		if i, ok := slices.BinarySearch(ids, id); ok {
			userAt[i] = nil
		}
		if g := groups[id]; g != nil {
			// A group keeps syncing its members; only its address is held.
			g.Email = heldGroupEmail(prev.Objects[id], allowed)
		}
	}

	// 4. Membership: members are the users linked after this run.
	applied := func(id string) (fp string, disabled bool, kind string) {
		o := prev.Objects[id]
		if o != nil {
			fp, disabled, kind = o.Applied, o.AppliedDisabled, o.AppliedKind
		}
		if snapshot != nil && kind != KindGroup {
			su, ok := snapshot[id]
			switch {
			case !ok:
				return "", false, ""
			case fp == "":
				k := KindUser
				if su.Contact {
					k = KindContact
				}
				return userFingerprint(su), su.Disabled, k
			}
		}
		return fp, disabled, kind
	}
	linked := func(id string) bool {
		if users[id] != nil {
			return true
		}
		if held[id] {
			fp, _, kind := applied(id)
			return fp != "" && kind != KindGroup
		}
		return false
	}
	for i, id := range ids {
		g := groups[id]
		if g == nil {
			continue
		}
		for _, d := range view[id].MemberDNs {
			idx.unresolved.put(keyHash(normDN(d)), hashes[i])
		}
		for _, m := range view[id].Members {
			memberOf.add(m, id)
			idx.memberOf.put(keyHash(m), hashes[i])
			if linked(m) {
				g.Members = append(g.Members, m)
			}
		}
		sort.Strings(g.Members)
	}

	// 5. Diff against what the target holds.
	policy := policyKey(cfg)
	next := State{Version: StateVersion, Watermark: res.watermark, Objects: make(map[string]*ObjectState, len(view))}
	next.Watermark.Policy = policy
	samePolicy := prev.Watermark.Policy == policy
	slab := make([]ObjectState, len(ids))
	for i, id := range ids {
		slab[i].Source = view[id]
		next.Objects[id] = &slab[i]
	}
	keepApplied := func(id string) {
		fp, dis, kind := applied(id)
		if fp == "" {
			return
		}
		o := next.Objects[id]
		if o == nil {
			o = &ObjectState{}
			next.Objects[id] = o
		}
		o.Applied, o.AppliedDisabled, o.AppliedKind = fp, dis, kind
	}
	if len(prev.Objects) == 0 {
		out.changes = make([]Change, 0, len(users)+len(groups)) // a first run writes everything
	}
	var leanUser User
	for i, id := range ids {
		u, g := userAt[i], groups[id]
		if lean && users[id] != nil && !held[id] {
			leanUser = pol.user(id, view[id]) // (the change made of it keeps none of it)
			u = &leanUser
		}
		if u == nil && g == nil {
			if held[id] {
				keepApplied(id)
			}
			continue
		}
		pfp, pdis, pkind := applied(id)
		n := len(out.changes)
		out.planWrite(id, u, g, view[id], prev.Objects[id], &slab[i], samePolicy, pfp, pdis, pkind)
		if lean && u != nil && len(out.changes) > n {
			c := &out.changes[n] // (the DN too: its text is the record's)
			c.groups, c.User, c.DN, c.encoded = memberOf.groups(nil, id), nil, "", true
		}
		if g != nil && held[id] {
			slab[i].AddressHeld, slab[i].AppliedEmail = true, g.Email
		}
	}
	// The groups of the users written (User.Groups is not part of a
	// user's fingerprint: unchanged users need none): the groups listing
	// them, in ID order, once per listing.
	for _, c := range out.changes {
		if c.User != nil {
			c.User.Groups = memberOf.groups(nil, c.ID)
		}
	}
	// Group upserts after user upserts, so members exist first.
	sort.SliceStable(out.changes, func(i, j int) bool {
		return out.changes[i].Group == nil && out.changes[j].Group != nil
	})

	// 6. Removals: objects the target holds linked that are no longer
	// wanted (deleted, moved out, filtered out, lost their address).
	var removeIDs []string
	for id := range prev.Objects {
		if users[id] != nil || groups[id] != nil || held[id] {
			continue
		}
		if fp, _, _ := applied(id); fp != "" {
			removeIDs = append(removeIDs, id)
		}
	}
	sort.Strings(removeIDs)
	for _, id := range removeIDs {
		fp, dis, kind := applied(id)
		out.removals = append(out.removals, removal(cfg, id, prev.Objects[id], fp, dis, kind))
	}
	// Group deletions last.
	sort.SliceStable(out.removals, func(i, j int) bool {
		return out.removals[i].Op != OpDeleteGroup && out.removals[j].Op == OpDeleteGroup
	})
	out.next = next
	idx.memberOf.freeze()
	idx.unresolved.freeze()
	out.idx, out.ids, out.hashes, out.held = idx, ids, hashes, sortedKeys(held)
	// Nothing at all in scope, and several objects merely absent (not
	// named deleted by a tombstone, DirSync or content sync): lost read
	// access looks exactly like that. (One object leaving a scope that
	// held only it, as the last user moved out of an OU, goes ahead.)
	if len(view) == 0 && absentOnly(out.removals, res.deleted) > 1 {
		out.emptyRead = true
		out.withhold(fmt.Sprintf("the directory returned no objects in scope under %s (lost read access and an emptied root DN look the same): %s withheld", cfg.RootDN, removals(len(out.removals))))
	}
	if len(out.removals) > cfg.MaxSyncDeletions {
		out.withhold(fmt.Sprintf("%s planned but MaxSyncDeletions is %d: none applied", removals(len(out.removals)), cfg.MaxSyncDeletions))
	}
	return out
}

// planWrite plans the write, if any, of object id, wanted as user or
// contact u or as group g (one of them), whose record is rec: o is its
// next state, po its saved state (reused while samePolicy: the same
// record under the same policies gives the same user), and pfp, pdis and
// pkind what the target holds linked.
func (out *outcome) planWrite(id string, u *User, g *Group, rec *Record, po, o *ObjectState, samePolicy bool, pfp string, pdis bool, pkind string) {
	if u != nil {
		var fp string
		if samePolicy && po != nil && po.Source == rec && po.Wanted != "" {
			fp = po.Wanted // same record, same policies: same result
		} else {
			fp = userFingerprint(*u)
		}
		kind := KindUser
		if u.Contact {
			kind = KindContact
		}
		o.Applied, o.AppliedDisabled, o.AppliedKind, o.Wanted = fp, u.Disabled, kind, fp
		c := Change{ID: id, DN: u.DN, User: u}
		switch {
		case pfp == "" || pkind == KindGroup:
			c.Op = OpAdd
		case pfp == fp:
			return
		case u.Disabled && !pdis:
			c.Op = OpDisable
			plain := *u
			plain.Disabled = false
			c.viaDisable = userFingerprint(plain) == pfp
		case !u.Disabled && pdis:
			c.Op = OpEnable
		default:
			c.Op = OpUpdate
		}
		out.changes = append(out.changes, c)
		return
	}
	fp := groupFingerprint(*g)
	o.Applied, o.AppliedKind = fp, KindGroup
	if pfp == fp {
		return
	}
	op := OpUpdateGroup
	if pfp == "" {
		op = OpAddGroup
	}
	out.changes = append(out.changes, Change{Op: op, ID: id, DN: g.DN, Group: g, prior: &priorState{fp: pfp}})
	if out.groupCands == nil {
		out.groupCands = map[string][]string{}
	}
	cands := rec.Members
	if po != nil && po.Source != nil && po.Source.Kind == KindGroup {
		cands = append(append([]string(nil), cands...), po.Source.Members...)
	}
	if po != nil && len(po.KeptMembers) > 0 {
		// Members kept by an earlier run: its record no longer names them.
		cands = append(append([]string(nil), cands...), po.KeptMembers...)
	}
	out.groupCands[id] = cands
}

// heldGroupEmail returns the address a group whose address is held keeps
// in the target, po being its saved state: the one applied while its
// address was held before, else that of the record last read, which was
// applied with it (nothing when the target holds no group for it).
func heldGroupEmail(po *ObjectState, allowed func(string) bool) string {
	switch {
	case po == nil:
		return ""
	case po.AddressHeld:
		return po.AppliedEmail
	case po.Applied == "" || po.AppliedKind != KindGroup || po.Source == nil || !allowed(po.Source.Email):
		return ""
	}
	return po.Source.Email
}

// removal is the change taking object id out of the target, linked there
// as fp, dis and kind; po is its saved state (nil: none), which gives the
// DN last known and, for a group, the members the target may hold for it
// (see withhold).
func removal(cfg Config, id string, po *ObjectState, fp string, dis bool, kind string) Change {
	c := Change{ID: id, prior: &priorState{fp: fp, kind: kind, disabled: dis}}
	if po != nil {
		if po.Source != nil {
			c.DN = po.Source.DN
		} else {
			c.DN = po.WithheldDN
		}
		if kind == KindGroup {
			var ms []string
			if po.Source != nil && po.Source.Kind == KindGroup {
				ms = append(ms, po.Source.Members...)
			}
			ms = append(ms, po.KeptMembers...)
			slices.Sort(ms)
			c.prior.members = slices.Compact(ms)
		}
	}
	switch {
	case kind == KindGroup:
		c.Op = OpDeleteGroup
	case cfg.DeleteUsers:
		c.Op = OpDelete
	default:
		c.Op = OpUnlink
	}
	return c
}

// duplicateAddress returns the warning for address a claimed by the
// objects c (DNs by dnOf), adding to heldReason why each of them is held.
func duplicateAddress(a string, c []string, dnOf func(id string) string, heldReason map[string][]string) string {
	dns := make([]string, len(c))
	for i, id := range c {
		dns[i] = dnOf(id)
	}
	for i, id := range c {
		others := make([]string, 0, len(c)-1)
		for j, dn := range dns {
			if j != i {
				others = append(others, dn)
			}
		}
		heldReason[id] = append(heldReason[id], fmt.Sprintf("duplicate address %s (also on %s)", a, strings.Join(others, "; ")))
	}
	return fmt.Sprintf("address %s is on %d objects (%s); none of them was changed", a, len(c), strings.Join(dns, "; "))
}

// absentOnly counts the removals whose objects the read did not name
// deleted.
func absentOnly(removals []Change, deleted []string) int {
	named := make(map[string]bool, len(deleted))
	for _, id := range deleted {
		named[id] = true
	}
	n := 0
	for _, c := range removals {
		if !named[c.ID] {
			n++
		}
	}
	return n
}

// withhold keeps every planned removal out of this run: the state keeps
// the objects as applied, so the next run plans their removal again.
func (o *outcome) withhold(reason string) {
	if o.withheld || len(o.removals) == 0 {
		return
	}
	o.withheld = true
	for _, c := range o.removals {
		st := o.next.Objects[c.ID]
		if st == nil {
			st = &ObjectState{}
			o.next.Objects[c.ID] = st
		}
		st.Applied, st.AppliedKind, st.AppliedDisabled = c.prior.fp, c.prior.kind, c.prior.disabled
		if st.Source == nil {
			// Gone from the directory: the next run still names it.
			st.WithheldDN = c.DN
		}
		if len(c.prior.members) > 0 {
			// A group kept in the target keeps its members there: they
			// are candidates again if it comes back (see planWrite).
			st.KeptMembers = c.prior.members
		}
	}
	o.keepWithheldMembers()
	o.warnings = append(o.warnings, reason)
}

// keepWithheldMembers puts the users and contacts whose removal is
// withheld back into the groups they were members of: they stay linked,
// so the removal is not applied through their groups either. A group
// change that then changes nothing is dropped.
func (o *outcome) keepWithheldMembers() {
	kept := map[string]bool{}
	for _, c := range o.removals {
		if c.prior.kind != KindGroup {
			kept[c.ID] = true
		}
	}
	if len(kept) == 0 || len(o.groupCands) == 0 {
		return
	}
	changes := o.changes[:0]
	for _, c := range o.changes {
		if c.Group == nil {
			changes = append(changes, c)
			continue
		}
		g := c.Group
		have := map[string]bool{}
		for _, m := range g.Members {
			have[m] = true
		}
		var added []string
		for _, m := range o.groupCands[c.ID] {
			if kept[m] && !have[m] {
				have[m] = true
				g.Members = append(g.Members, m)
				added = append(added, m)
			}
		}
		if len(added) > 0 {
			sort.Strings(g.Members)
			sort.Strings(added)
			fp := groupFingerprint(*g)
			if st := o.next.Objects[c.ID]; st != nil {
				// The next run reads the group's record without them:
				// the state says the target holds them.
				st.Applied, st.KeptMembers = fp, added
			}
			if fp == c.prevFP() {
				continue // as applied before: nothing to write
			}
		}
		changes = append(changes, c)
	}
	o.changes = changes
}

// policyKey fingerprints the settings that shape a user's fingerprint.
func policyKey(cfg Config) string {
	domains := make([]string, len(cfg.FilterEmailDomains))
	for i, d := range cfg.FilterEmailDomains {
		domains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	sort.Strings(domains)
	return fingerprint(struct {
		Ack      bool
		Contacts bool
		Domains  []string
	}{cfg.AcknowledgeDisabledAccounts, cfg.IncludeContacts, domains})
}

// resolveMembers turns group member DNs into IDs where the view holds an
// object with that DN. Records are replaced, never modified, because the
// previous state shares them.
func resolveMembers(view map[string]*Record) {
	var index map[string]string
	var seen map[string]bool
	var key []byte
	for id, rec := range view {
		if rec.Kind != KindGroup || len(rec.MemberDNs) == 0 {
			continue
		}
		if index == nil {
			index = make(map[string]string, len(view))
			for oid, o := range view {
				index[normDN(o.DN)] = oid
			}
			seen = map[string]bool{}
		}
		view[id] = resolveRecord(rec, func(dn string) (string, bool) {
			key = appendNormDN(key[:0], dn)
			mid, ok := index[string(key)] // no allocation for the lookup
			return mid, ok
		}, seen)
	}
}

// resolveRecord returns a copy of the group record rec with the member
// DNs lookup finds turned into member IDs (deduplicated and sorted); seen
// is scratch space.
func resolveRecord(rec *Record, lookup func(dn string) (string, bool), seen map[string]bool) *Record {
	clear(seen)
	c := *rec
	c.MemberDNs = nil
	c.Members = make([]string, 0, len(rec.Members)+len(rec.MemberDNs))
	for _, m := range rec.Members {
		if !seen[m] {
			seen[m] = true
			c.Members = append(c.Members, m)
		}
	}
	for _, dn := range rec.MemberDNs {
		if mid, ok := lookup(dn); ok {
			if !seen[mid] {
				seen[mid] = true
				c.Members = append(c.Members, mid)
			}
			continue
		}
		c.MemberDNs = append(c.MemberDNs, dn)
	}
	if len(c.Members) == 0 {
		c.Members = nil
	}
	sort.Strings(c.Members)
	if len(c.MemberDNs) < len(rec.MemberDNs) && c.Attributes == nil {
		// The text of the resolved DNs shares a block with the record's
		// other strings: those move to a block of their own, so that the
		// resolved DNs are freed with the record read.
		c.Aliases = slices.Clone(c.Aliases)
		pack("", &c)
	}
	return &c
}

// fingerprint is the fingerprint of any JSON value (see fingerprint.go
// for users and groups).
func fingerprint(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // User and Group hold only JSON-safe values
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for id := range m {
		k = append(k, id)
	}
	sort.Strings(k)
	return k
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

// groups appends the groups listing m to dst.
func (x memberIndex) groups(dst []string, m string) []string {
	f, ok := x.first[m]
	if !ok {
		return dst
	}
	return append(append(dst, f), x.more[m]...)
}

// idOf returns the IDs of a full plan's objects whose IDs hash to hs.
func (o *outcome) idOf(hs []uint64) []string {
	if len(hs) == 0 {
		return nil
	}
	if o.byHash == nil {
		o.byHash = make(map[uint64][]string, len(o.ids))
		for i, h := range o.hashes {
			o.byHash[h] = append(o.byHash[h], o.ids[i])
		}
	}
	var out []string
	for _, h := range hs {
		out = append(out, o.byHash[h]...)
	}
	return out
}
