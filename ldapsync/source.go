package ldapsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// OIDs the reader recognises.
const (
	oidCapabilityActiveDirectory = "1.2.840.113556.1.4.800"
	oidPagedResults              = "1.2.840.113556.1.4.319"
)

// dirInfo is what the root DSE says about the directory.
type dirInfo struct {
	ad            bool   // Active Directory attribute model (objectGUID, userAccountControl, ...)
	usn           int64  // highestCommittedUSN, read before any search of the run
	haveUSN       bool   // the directory publishes highestCommittedUSN
	serviceName   string // dsServiceName
	invocationID  string // invocationId of the DSA object
	controls      map[string]bool
	globalCatalog bool
}

// readRootDSE reads the root DSE (and the DSA object's invocationId on
// Active Directory).
func readRootDSE(ctx context.Context, s *session) (*dirInfo, error) {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"highestCommittedUSN", "dsServiceName", "supportedControl",
			"supportedCapabilities", "isGlobalCatalogReady"}, nil)
	res, err := s.conn.Search(req)
	if err != nil {
		return nil, &ReadError{Op: "read root DSE", Err: ctxErr(ctx, err)}
	}
	info := &dirInfo{controls: map[string]bool{}}
	if len(res.Entries) == 0 {
		return info, nil
	}
	e := res.Entries[0]
	for _, c := range e.GetEqualFoldAttributeValues("supportedControl") {
		info.controls[c] = true
	}
	for _, c := range e.GetEqualFoldAttributeValues("supportedCapabilities") {
		if c == oidCapabilityActiveDirectory {
			info.ad = true
		}
	}
	if v := e.GetEqualFoldAttributeValue("highestCommittedUSN"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, &ReadError{Op: "read root DSE", Err: fmt.Errorf("highestCommittedUSN %q: %v", v, err)}
		}
		info.usn, info.haveUSN = n, true
		info.ad = true
	}
	info.serviceName = e.GetEqualFoldAttributeValue("dsServiceName")
	info.globalCatalog = s.cfg.port() == 3268 || s.cfg.port() == 3269
	if info.serviceName != "" {
		req := ldap.NewSearchRequest(info.serviceName, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"invocationId"}, nil)
		if res, err := s.conn.Search(req); err == nil && len(res.Entries) == 1 {
			if raw := res.Entries[0].GetEqualFoldRawAttributeValue("invocationId"); len(raw) == 16 {
				info.invocationID, _ = formatGUID(raw)
			}
		} else if ctx.Err() != nil {
			return nil, &ReadError{Op: "read invocationId", Err: ctx.Err()}
		}
	}
	applyRunOverrides(ctx, info)
	return info, nil
}

// ctxErr prefers the context's error: a search cut short by cancellation
// fails with a closed-connection error that hides the reason.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// readResult is what a change source read in one run.
type readResult struct {
	// full: records is the complete content of the scope.
	full       bool
	fullReason string
	// records holds the objects read, by ID: every object on a full read,
	// the changed ones otherwise.
	records map[string]*Record
	// present, when not nil, holds every ID in scope with its current DN
	// ("" when the source knows the object is in scope with an unchanged
	// DN); objects of the previous view that are absent have left the scope.
	// (Objects under a renamed or moved OU get a new DN without a new
	// uSNChanged; the DN here catches that.)
	present map[string]string
	// deleted lists IDs a source saw leave the scope (tombstones, content
	// sync deletes).
	deleted   []string
	skipped   []Skip
	warnings  []string
	watermark Watermark
}

// changeSource reads one run's worth of directory data. Each kind of
// source (uSNChanged polling, modifyTimestamp polling; DirSync and LDAP
// content sync can plug in the same way) decides from the stored watermark
// whether it can read changes only, and returns the watermark to store when
// the run has been applied.
type changeSource interface {
	// name is stored in Watermark.Source.
	name() string
	// read returns the objects to apply. prev is the stored watermark;
	// when it is unusable the source reads everything and says why.
	read(ctx context.Context, r *reader, prev Watermark) (*readResult, error)
}

// chooseSource picks the change source for a directory.
func chooseSource(info *dirInfo) changeSource {
	if info.haveUSN && info.serviceName != "" {
		if info.controls[oidDirSync] {
			return dirSyncSource{fallback: usnSource{}}
		}
		return usnSource{}
	}
	if info.controls[oidContentSync] {
		return syncReplSource{fallback: timestampSource{}}
	}
	return timestampSource{}
}

// reader runs searches for one session.
type reader struct {
	s      *session
	cfg    Config
	info   *dirInfo
	log    *slog.Logger
	scope  string // LDAP filter selecting every object in scope
	idAttr string
	// enumNeeded, when set, decides whether enumerate must read every ID:
	// with a change source that reports deletions and moves itself, only
	// a renamed or moved container (whose objects change DN without
	// changing) needs the enumeration.
	enumNeeded func(ctx context.Context) (bool, error)
	// known, when set, reports whether the stored state holds the record
	// of an object.
	known func(id string) bool
}

func newReader(s *session, cfg Config, info *dirInfo, log *slog.Logger) *reader {
	r := &reader{s: s, cfg: cfg, info: info, log: log}
	if info.ad {
		r.idAttr = "objectGUID"
		parts := []string{"(&(objectClass=user)(objectCategory=person))", "(objectClass=group)"}
		if cfg.IncludeContacts {
			parts = append(parts, "(objectClass=contact)")
		}
		r.scope = "(|" + strings.Join(parts, "") + ")"
	} else {
		r.idAttr = "entryUUID"
		r.scope = "(|(objectClass=inetOrgPerson)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
	}
	return r
}

// scopeKey fingerprints what a full read covers; a stored watermark with
// another scope key forces a full read.
func (r *reader) scopeKey() string {
	h := sha256.Sum256([]byte(normDN(r.cfg.RootDN) + "\x00" + r.scope + "\x00" + r.idAttr))
	return hex.EncodeToString(h[:8])
}

// extraAttributes are copied into User.Attributes when present.
var extraAttributes = []string{
	"givenName", "sn", "sAMAccountName", "userPrincipalName", "title", "department",
	"company", "telephoneNumber", "mobile", "physicalDeliveryOfficeName", "employeeID", "uid",
}

func (r *reader) attributes() []string {
	a := []string{r.idAttr, "objectClass", "mail", "proxyAddresses", "displayName", "cn", "name",
		"userAccountControl", "member", "uniqueMember", "modifyTimestamp"}
	return append(a, extraAttributes...)
}

// search runs a paged subtree search under RootDN, calling fn for every
// entry. Referrals are returned, not chased. Any error, including a size
// limit or a connection closed before the last page, ends the search: the
// caller must treat what it got as incomplete. fn must not search itself
// (see wireConn.search): work needing the connection waits for the end.
func (r *reader) search(ctx context.Context, op, filter string, attrs []string, fn func(*ldap.Entry) error) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, &ReadError{Op: op, Err: err}
	}
	paging := ldap.NewControlPaging(uint32(r.pageSize()))
	req := ldap.NewSearchRequest(r.cfg.RootDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, []ldap.Control{paging})
	var onPage func(page, entries int)
	if r.log != nil {
		onPage = func(page, entries int) {
			r.log.LogAttrs(ctx, slog.LevelDebug, "ldapsync: page read", slog.String("op", op),
				slog.Int("page", page), slog.Int("entries", entries))
		}
	}
	var fnErr error
	refs, err := r.s.wire.search(ctx, req, r.s.timeout(), func(e *ldap.Entry) error {
		fnErr = fn(e)
		return fnErr
	}, onPage)
	switch {
	case err == nil:
		return refs, nil
	case fnErr != nil:
		return refs, fnErr
	default:
		return refs, &ReadError{Op: op, Err: ctxErr(ctx, err)}
	}
}

// maxPages bounds one paged search.
const maxPages = 1 << 20

// maxReadObjects bounds the entries one read takes in, so that a server
// that never stops sending cannot exhaust memory. The largest directories
// hold a few million objects.
var maxReadObjects = 10_000_000

// pageProgress watches a paged search for a server that does not advance.
// Some servers (Samba) keep one cookie for a whole search, so only a page
// identical to the one before (same cookie, same entries) means no
// progress.
type pageProgress struct {
	pages int
	last  [sha256.Size]byte
}

// next sets the cookie for the next page, or fails when the page just read
// repeats the previous one or the search runs past maxPages.
func (p *pageProgress) next(paging *ldap.ControlPaging, cookie []byte, entries []*ldap.Entry) error {
	h := sha256.New()
	for _, e := range entries {
		h.Write([]byte{0})
		h.Write([]byte(e.DN))
	}
	h.Write(cookie)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if err := p.advance(paging.Cookie, cookie, sum); err != nil {
		return err
	}
	paging.SetCookie(cookie)
	return nil
}

// advance records a page that ended with cookie, the page before having
// ended with prev; sum digests the page's DNs and its cookie.
func (p *pageProgress) advance(prev, cookie []byte, sum [sha256.Size]byte) error {
	p.pages++
	if p.pages > 1 && sum == p.last && bytes.Equal(cookie, prev) {
		return errors.New("the server returned the same page and paged results cookie again: the search does not advance")
	}
	if p.pages >= maxPages {
		return fmt.Errorf("more than %d pages", maxPages)
	}
	p.last = sum
	return nil
}

func (r *reader) pageSize() int {
	if r.cfg.PageSize > 0 {
		return r.cfg.PageSize
	}
	return DefaultPageSize
}

// pendingRange is a multi-valued attribute that needs range retrieval.
type pendingRange struct {
	dn, attr string
	next     int
}

// readRecords reads every object matching filter (within scope) and
// converts it. Entries with range-limited attributes (member, but any
// attribute with more values than the server's MaxValRange) are completed
// after the search, by following the ranges to the end.
func (r *reader) readRecords(ctx context.Context, op, filter string, out *readResult) (maxTimestamp string, err error) {
	var ix entryIndex
	take := func(e *ldap.Entry) {
		ix.index(e)
		id, rec, skip := r.convertIndexed(e, &ix)
		if skip != "" {
			out.skipped = append(out.skipped, Skip{ID: strings.Clone(id), DN: strings.Clone(e.DN), Reason: skip})
			return
		}
		if ts := ix.first(slotModifyTimestamp); ts > maxTimestamp {
			maxTimestamp = strings.Clone(ts)
		}
		if prev, dup := out.records[id]; dup {
			out.warnings = append(out.warnings, fmt.Sprintf("%s %q and %q share one ID; the second was ignored", r.idAttr, prev.DN, e.DN))
			return
		}
		out.records[id] = rec
	}
	var deferred []*ldap.Entry
	n := 0
	refs, err := r.search(ctx, op, filter, r.attributes(), func(e *ldap.Entry) error {
		if n++; n > maxReadObjects {
			return &ReadError{Op: op, Err: fmt.Errorf("more than %d objects in one read", maxReadObjects)}
		}
		if err := rangeProblem(e); err != nil {
			return &ReadError{Op: op, Err: err}
		}
		if openRanges(e) {
			deferred = append(deferred, e)
			return nil
		}
		closeRanges(e)
		take(e)
		return nil
	})
	if err != nil {
		return "", err
	}
	for _, ref := range refs {
		out.warnings = append(out.warnings, "referral not followed: "+ref)
	}
	for _, e := range deferred {
		for _, a := range e.Attributes {
			base, _, hi, ok := parseRange(a.Name)
			if !ok || hi < 0 {
				continue
			}
			vals, err := r.readRange(ctx, pendingRange{dn: e.DN, attr: base, next: hi + 1})
			if err != nil {
				return "", err
			}
			a.Values = append(a.Values, vals...)
			for _, v := range vals {
				a.ByteValues = append(a.ByteValues, []byte(v))
			}
			a.Name = base + ";range=0-*"
		}
		closeRanges(e)
		take(e)
	}
	return maxTimestamp, nil
}

// openRanges reports whether an entry carries a ranged attribute with more
// values to fetch.
func openRanges(e *ldap.Entry) bool {
	for _, a := range e.Attributes {
		if _, _, hi, ok := parseRange(a.Name); ok && hi >= 0 {
			return true
		}
	}
	return false
}

// rangeProblem reports a ranged attribute whose range cannot be followed:
// one that does not parse ("member;range=0-x") or that does not start at
// the first value. Ignoring it would drop the attribute's values.
func rangeProblem(e *ldap.Entry) error {
	for _, a := range e.Attributes {
		_, opts, found := strings.Cut(a.Name, ";")
		if !found || !slices.ContainsFunc(strings.Split(opts, ";"), func(o string) bool {
			return len(o) >= 6 && strings.EqualFold(o[:6], "range=")
		}) {
			continue
		}
		_, lo, _, ok := parseRange(a.Name)
		switch {
		case !ok:
			return fmt.Errorf("%s: attribute %q has a malformed range", e.DN, a.Name)
		case lo != 0:
			return fmt.Errorf("%s: attribute %q does not start at the first value", e.DN, a.Name)
		}
	}
	return nil
}

// closeRanges renames complete ranged attributes ("member;range=0-*") to
// their base name.
func closeRanges(e *ldap.Entry) {
	for _, a := range e.Attributes {
		if base, _, _, ok := parseRange(a.Name); ok {
			a.Name = base
		}
	}
}

// readRange follows Active Directory range retrieval for one attribute of
// one object until the range ends in "-*".
func (r *reader) readRange(ctx context.Context, p pendingRange) ([]string, error) {
	var out []string
	start := p.next
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return nil, &ReadError{Op: "range retrieval of " + p.attr + " on " + p.dn, Err: err}
		}
		if i > 1<<20 {
			return nil, &ReadError{Op: "range retrieval of " + p.attr + " on " + p.dn, Err: errors.New("too many ranges")}
		}
		want := fmt.Sprintf("%s;range=%d-*", p.attr, start)
		req := ldap.NewSearchRequest(p.dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{want}, nil)
		res, err := r.s.conn.Search(req)
		if err != nil {
			return nil, &ReadError{Op: "range retrieval of " + p.attr + " on " + p.dn, Err: ctxErr(ctx, err)}
		}
		if len(res.Entries) != 1 {
			return nil, &ReadError{Op: "range retrieval of " + p.attr + " on " + p.dn, Err: fmt.Errorf("%d entries returned", len(res.Entries))}
		}
		found := false
		for _, a := range res.Entries[0].Attributes {
			base, lo, hi, ok := parseRange(a.Name)
			if !ok || !strings.EqualFold(base, p.attr) {
				continue
			}
			if lo != start {
				return nil, &ReadError{Op: "range retrieval of " + p.attr + " on " + p.dn,
					Err: fmt.Errorf("asked for values from %d, got range %s", start, a.Name)}
			}
			found = true
			out = append(out, a.Values...)
			if hi < 0 {
				return out, nil
			}
			start = hi + 1
		}
		if !found {
			return nil, &ReadError{Op: "range retrieval of " + p.attr + " on " + p.dn,
				Err: fmt.Errorf("no %s values returned from %d", p.attr, start)}
		}
	}
}

// parseRange splits "member;range=0-1499" into ("member", 0, 1499); an open
// end ("-*") gives hi = -1.
func parseRange(name string) (base string, lo, hi int, ok bool) {
	base, opts, found := strings.Cut(name, ";")
	if !found {
		return name, 0, 0, false
	}
	for _, o := range strings.Split(opts, ";") {
		v, isRange := strings.CutPrefix(strings.ToLower(o), "range=")
		if !isRange {
			continue
		}
		a, b, dash := strings.Cut(v, "-")
		if !dash {
			return base, 0, 0, false
		}
		l, err := strconv.Atoi(a)
		if err != nil || l < 0 {
			return base, 0, 0, false
		}
		if b == "*" {
			return base, l, -1, true
		}
		h, err := strconv.Atoi(b)
		if err != nil || h < l {
			return base, 0, 0, false
		}
		return base, l, h, true
	}
	return base, 0, 0, false
}

// enumerate returns every ID in scope with its DN, reading only the ID
// attribute. It returns nil (and reads nothing) when the change source
// already reported every removal and move (see reader.enumNeeded).
func (r *reader) enumerate(ctx context.Context) (map[string]string, error) {
	if r.enumNeeded != nil {
		need, err := r.enumNeeded(ctx)
		if err != nil {
			return nil, err
		}
		if !need {
			return nil, nil
		}
	}
	ids := map[string]string{}
	_, err := r.search(ctx, "enumerate object IDs", r.scope, []string{r.idAttr}, func(e *ldap.Entry) error {
		if r.idAttr == "objectGUID" {
			if g, err := formatGUID(e.GetEqualFoldRawAttributeValue("objectGUID")); err == nil {
				ids[g] = strings.Clone(e.DN)
			}
			return nil
		}
		if v := strings.ToLower(strings.TrimSpace(e.GetEqualFoldAttributeValue(r.idAttr))); v != "" {
			// Clones: the entry's strings share its whole message.
			ids[strings.Clone(v)] = strings.Clone(e.DN)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// readUnknown completes an incremental read: objects the ID enumeration
// found in scope that were neither read by the change source nor known to
// the stored state are read whole. That happens when a container moves or
// is renamed into RootDN: only the container changes (its uSNChanged or
// modifyTimestamp), the objects under it keep theirs and no change source
// names them, yet they are new to the scope.
func (r *reader) readUnknown(ctx context.Context, res *readResult, known func(id string) bool) error {
	if res.full || res.present == nil || known == nil {
		return nil
	}
	gone := make(map[string]bool, len(res.deleted))
	for _, id := range res.deleted {
		gone[id] = true
	}
	var ids []string
	for id := range res.present {
		if _, read := res.records[id]; read || gone[id] || known(id) {
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	return r.readByID(ctx, ids, res)
}

// containerClasses are the Active Directory classes that can hold users,
// contacts and groups.
var containerClasses = []string{"organizationalUnit", "container", "organization", "locality",
	"country", "builtinDomain", "domainDNS", "lostAndFound"}

// containersChangedSince reports whether any container in the naming
// context of RootDN changed after usn (renamed, moved, created, or edited):
// the one case where objects change DN while keeping their uSNChanged, so
// that DirSync does not report them. A single search, at most one entry.
func containersChangedSince(usn int64) func(ctx context.Context, r *reader) (bool, error) {
	return func(ctx context.Context, r *reader) (bool, error) {
		base, err := namingContextOf(ctx, r)
		if err != nil {
			return false, err
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "(&(uSNChanged>=%d)(|", usn+1)
		for _, c := range containerClasses {
			sb.WriteString("(objectClass=" + c + ")")
		}
		sb.WriteString("))")
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, 0, false,
			sb.String(), []string{"1.1"}, nil)
		res, err := r.s.conn.Search(req)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return true, nil
		}
		if err != nil {
			return false, &ReadError{Op: "look for changed containers", Err: ctxErr(ctx, err)}
		}
		return len(res.Entries) > 0, nil
	}
}

// readFull reads the whole scope.
func (r *reader) readFull(ctx context.Context, reason string) (*readResult, string, error) {
	out := &readResult{full: true, fullReason: reason, records: map[string]*Record{}}
	ts, err := r.readRecords(ctx, "read users and groups", r.scope, out)
	if err != nil {
		return nil, "", err
	}
	return out, ts, nil
}

// usnSource polls Active Directory's uSNChanged: highestCommittedUSN is
// read before the search, changes are (uSNChanged>=stored+1), and removals
// are found by enumerating IDs. USNs belong to one domain controller
// database: another dsServiceName or invocationId forces a full read.
type usnSource struct{}

func (usnSource) name() string { return "usn" }

func (s usnSource) read(ctx context.Context, r *reader, prev Watermark) (*readResult, error) {
	wm := Watermark{Source: s.name(), Scope: r.scopeKey(), USN: r.info.usn,
		ServiceName: r.info.serviceName, InvocationID: r.info.invocationID}
	reason := fullReadReason(prev, wm, s.name())
	if reason == "" {
		reason = usnReason(prev, wm)
	}
	if reason != "" {
		out, _, err := r.readFull(ctx, reason)
		if err != nil {
			return nil, err
		}
		out.watermark = wm
		return out, nil
	}
	out := &readResult{records: map[string]*Record{}, watermark: wm}
	if prev.USN == wm.USN {
		// Nothing at all was written to this DC since the last run: no
		// additions, changes, deletions or moves.
		out.present = nil
		return out, nil
	}
	filter := fmt.Sprintf("(&(uSNChanged>=%d)%s)", prev.USN+1, r.scope)
	if _, err := r.readRecords(ctx, "read changed users and groups", filter, out); err != nil {
		return nil, err
	}
	ids, err := r.enumerate(ctx)
	if err != nil {
		return nil, err
	}
	out.present = ids
	// Tombstones name the deletions; the enumeration stays (see readTombstones).
	if err := r.readTombstones(ctx, prev.USN, out); err != nil {
		return nil, err
	}
	return out, nil
}

// timestampSource polls modifyTimestamp on directories without USNs:
// changes are (modifyTimestamp>=greatest seen), removals are found by
// enumerating IDs.
type timestampSource struct{}

func (timestampSource) name() string { return "timestamp" }

func (s timestampSource) read(ctx context.Context, r *reader, prev Watermark) (*readResult, error) {
	wm := Watermark{Source: s.name(), Scope: r.scopeKey()}
	reason := fullReadReason(prev, wm, s.name())
	if reason == "" && prev.Timestamp == "" {
		reason = "no modifyTimestamp was stored"
	}
	if reason != "" {
		out, ts, err := r.readFull(ctx, reason)
		if err != nil {
			return nil, err
		}
		wm.Timestamp = ts
		out.watermark = wm
		return out, nil
	}
	out := &readResult{records: map[string]*Record{}}
	filter := fmt.Sprintf("(&(modifyTimestamp>=%s)%s)", ldap.EscapeFilter(prev.Timestamp), r.scope)
	ts, err := r.readRecords(ctx, "read changed users and groups", filter, out)
	if err != nil {
		return nil, err
	}
	ids, err := r.enumerate(ctx)
	if err != nil {
		return nil, err
	}
	wm.Timestamp = prev.Timestamp
	if ts > wm.Timestamp {
		wm.Timestamp = ts
	}
	out.present = ids
	out.watermark = wm
	return out, nil
}

// fullReadReason says why a stored watermark cannot be continued by the
// change source named source reading with watermark wm, or "" when it can:
// first run, another change source, or another scope.
func fullReadReason(prev, wm Watermark, source string) string {
	switch {
	case prev.Source == "":
		return "first run"
	case prev.Source != source:
		return "the stored watermark comes from another change source (" + prev.Source + ")"
	case prev.Scope != wm.Scope:
		return "the root DN or object selection changed"
	}
	return ""
}

// usnReason says why USNs stored in prev do not apply to the domain
// controller that answered with wm, or "": USNs belong to one controller's
// database.
func usnReason(prev, wm Watermark) string {
	switch {
	case prev.ServiceName != wm.ServiceName:
		return fmt.Sprintf("another domain controller answered (%s, watermark from %s)", wm.ServiceName, prev.ServiceName)
	case prev.InvocationID != wm.InvocationID:
		return "the domain controller's database was restored (invocationId changed)"
	case prev.USN > wm.USN:
		return fmt.Sprintf("highestCommittedUSN went back from %d to %d", prev.USN, wm.USN)
	}
	return ""
}
