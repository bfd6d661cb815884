package ldapsynctest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"
)

// Object identifiers the directory announces and honours.
const (
	// OIDPagedResults is the simple paged results control (RFC 2696).
	OIDPagedResults = "1.2.840.113556.1.4.319"
	// OIDShowDeleted is Active Directory's show-deleted-objects control.
	OIDShowDeleted = "1.2.840.113556.1.4.417"
	// OIDMatchingRuleBitAnd is the bitwise-AND matching rule, as in
	// (userAccountControl:1.2.840.113556.1.4.803:=2).
	OIDMatchingRuleBitAnd = "1.2.840.113556.1.4.803"
	// OIDMatchingRuleBitOr is the bitwise-OR matching rule.
	OIDMatchingRuleBitOr = "1.2.840.113556.1.4.804"
	// OIDMatchingRuleInChain is LDAP_MATCHING_RULE_IN_CHAIN for transitive
	// member and memberOf.
	OIDMatchingRuleInChain = "1.2.840.113556.1.4.1941"
)

// Diagnostic messages in Active Directory's format.
const (
	diagBindRequired = "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563"
	diagBadPassword  = "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563"
	diagDisabled     = "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 533, v4563"
	diagNoSuchObject = "0000208D: NameErr: DSID-0310028D, problem 2001 (NO_OBJECT), data 0, best match of:"
	diagSizeLimit    = "Size Limit Exceeded"
)

func (d *Directory) routes(mux *gldap.Mux) error {
	if err := mux.Bind(d.handleBind); err != nil {
		return err
	}
	if err := mux.Search(d.handleSearch); err != nil {
		return err
	}
	if err := mux.Unbind(func(*gldap.ResponseWriter, *gldap.Request) {}); err != nil {
		return err
	}
	if err := mux.Modify(readOnlyOver(gldap.ApplicationModifyResponse)); err != nil {
		return err
	}
	if err := mux.Add(readOnlyOver(gldap.ApplicationAddResponse)); err != nil {
		return err
	}
	if err := mux.Delete(readOnlyOver(gldap.ApplicationDelResponse)); err != nil {
		return err
	}
	return mux.DefaultRoute(readOnlyOver(gldap.ApplicationExtendedResponse))
}

// readOnlyOver refuses writes and unknown operations with the response type
// the client waits for.
func readOnlyOver(appCode int) gldap.HandlerFunc {
	const msg = "00002077: SvcErr: DSID-031A0F09, problem 5003 (WILL_NOT_PERFORM), data 0: " +
		"the test directory is read-only over LDAP; change it with the Directory methods"
	return func(w *gldap.ResponseWriter, r *gldap.Request) {
		_ = w.Write(r.NewResponse(gldap.WithApplicationCode(appCode),
			gldap.WithResponseCode(gldap.ResultUnwillingToPerform), gldap.WithDiagnosticMessage(msg)))
	}
}

// ---- bind ----

func (d *Directory) setBound(connID int, dn string, ok bool) {
	d.bmu.Lock()
	defer d.bmu.Unlock()
	if ok {
		d.bound[connID] = dn
	} else {
		delete(d.bound, connID)
	}
}

func (d *Directory) isBound(connID int) bool {
	d.bmu.Lock()
	defer d.bmu.Unlock()
	_, ok := d.bound[connID]
	return ok
}

func (d *Directory) handleBind(w *gldap.ResponseWriter, r *gldap.Request) {
	d.stats.binds.Add(1)
	resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
	defer func() { _ = w.Write(resp) }()
	d.setBound(r.ConnectionID(), "", false)
	m, err := r.GetSimpleBindMessage()
	if err != nil || m.AuthChoice != gldap.SimpleAuthChoice {
		resp.SetResultCode(gldap.ResultAuthMethodNotSupported)
		resp.SetDiagnosticMessage("only simple binds are supported")
		return
	}
	if f := d.currentFaults(); f.BindResultCode != 0 {
		resp.SetResultCode(f.BindResultCode)
		resp.SetDiagnosticMessage("injected fault")
		return
	}
	if m.Password == "" {
		// Anonymous, or an unauthenticated bind (a name without a
		// password): Active Directory answers success and the connection
		// stays anonymous.
		resp.SetResultCode(gldap.ResultSuccess)
		return
	}
	dn, code, diag := d.authenticate(m.UserName, string(m.Password))
	resp.SetResultCode(code)
	resp.SetDiagnosticMessage(diag)
	if code == gldap.ResultSuccess {
		d.setBound(r.ConnectionID(), dn, true)
	}
}

// authenticate checks a simple bind name (DN, UPN or DOMAIN\user) and
// password.
func (d *Directory) authenticate(name, password string) (string, int, string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var o *object
	switch {
	case strings.Contains(name, "\\"):
		dom, user, _ := strings.Cut(name, "\\")
		if strings.EqualFold(dom, d.netbios) || strings.EqualFold(dom, d.domain) {
			if o = d.sams[strings.ToLower(user)]; o != nil && o.kind != kindUser {
				o = nil
			}
		}
	case strings.Contains(name, "@") && !strings.Contains(name, "="):
		o = d.findLive(kindUser, "userPrincipalName", name)
	default:
		n, err := normDN(name)
		if err != nil {
			return "", gldap.ResultInvalidCredentials, diagBadPassword
		}
		if n == d.bindNDN && password == d.opts.bindPassword {
			return d.bindDN, gldap.ResultSuccess, ""
		}
		o = d.byDN[n]
	}
	if o == nil || o.deleted || o.kind != kindUser || o.password == "" || o.password != password {
		if o != nil && o.ndn == d.bindNDN && password == d.opts.bindPassword {
			return d.bindDN, gldap.ResultSuccess, ""
		}
		return "", gldap.ResultInvalidCredentials, diagBadPassword
	}
	if uac, _ := strconv.Atoi(o.first("userAccountControl")); uac&uacAccountDisable != 0 {
		return "", gldap.ResultInvalidCredentials, diagDisabled
	}
	return o.dn, gldap.ResultSuccess, ""
}

func (d *Directory) findLive(k kind, attrName, value string) *object {
	for _, o := range d.objs {
		if o.kind == k && !o.deleted && strings.EqualFold(o.first(attrName), value) {
			return o
		}
	}
	return nil
}

// ---- search ----

// entry is an object rendered for one search: every attribute with values.
type entry struct {
	dn    string
	attrs []attr
	idx   map[string]int
	obj   *object
}

func (e *entry) object() *object { return e.obj }

func (e *entry) get(name string) []string {
	if i, ok := e.idx[strings.ToLower(name)]; ok {
		return e.attrs[i].vals
	}
	return nil
}

func newEntry(dn string, obj *object, attrs []attr) *entry {
	keys := make([]string, len(attrs))
	for i, a := range attrs {
		keys[i] = strings.ToLower(a.name)
	}
	sort.Sort(byKey{keys, attrs})
	e := &entry{dn: dn, attrs: attrs, idx: make(map[string]int, len(attrs)), obj: obj}
	for i, k := range keys {
		e.idx[k] = i
	}
	return e
}

type byKey struct {
	keys  []string
	attrs []attr
}

func (b byKey) Len() int           { return len(b.keys) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
	b.attrs[i], b.attrs[j] = b.attrs[j], b.attrs[i]
}

// render builds the entry of o; memberOf maps member GUIDs to their groups.
func (d *Directory) render(o *object, memberOf map[GUID][]*object) *entry {
	attrs := make([]attr, 0, len(o.attrs)+8)
	for _, a := range o.attrs {
		attrs = append(attrs, attr{name: a.name, vals: a.vals})
	}
	attrs = append(attrs,
		attr{"distinguishedName", []string{o.dn}},
		attr{"objectGUID", []string{string(o.guid[:])}},
		attr{"uSNCreated", []string{strconv.FormatInt(o.usnCreated, 10)}},
		attr{"uSNChanged", []string{strconv.FormatInt(o.usnChanged, 10)}},
		attr{"whenCreated", []string{generalizedTime(o.created)}},
		attr{"whenChanged", []string{generalizedTime(o.changed)}},
		attr{"createTimeStamp", []string{generalizedTime(o.created)}},
		attr{"modifyTimeStamp", []string{generalizedTime(o.changed)}},
	)
	if vals := d.memberDNList(o); len(vals) > 0 {
		attrs = append(attrs, attr{"member", vals})
	}
	if gs := memberOf[o.guid]; len(gs) > 0 {
		vals := make([]string, len(gs))
		for i, g := range gs {
			vals[i] = g.dn
		}
		attrs = append(attrs, attr{"memberOf", vals})
	}
	return newEntry(o.dn, o, attrs)
}

// memberDNList returns the DNs of a group's live members.
func (d *Directory) memberDNList(o *object) []string {
	if len(o.members) == 0 {
		return nil
	}
	vals := make([]string, 0, len(o.members))
	for _, g := range o.members {
		if m := d.objs[g]; m != nil && !m.deleted {
			vals = append(vals, m.dn)
		}
	}
	return vals
}

// memberOfIndex maps every member to the live groups that list it.
func (d *Directory) memberOfIndex() map[GUID][]*object {
	var groups []*object
	for _, o := range d.objs {
		if o.kind == kindGroup && !o.deleted && len(o.members) > 0 {
			groups = append(groups, o)
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].usnCreated < groups[j].usnCreated })
	idx := map[GUID][]*object{}
	for _, g := range groups {
		for _, m := range g.members {
			idx[m] = append(idx[m], g)
		}
	}
	return idx
}

// rootDSE renders the root DSE.
func (d *Directory) rootDSE() *entry {
	d.mu.RLock()
	defer d.mu.RUnlock()
	config := "CN=Configuration," + d.base
	dnsHost := strings.ToLower(d.serverName) + "." + d.domain
	serverDN := "CN=" + escapeRDNValue(d.serverName) + ",CN=Servers,CN=Default-First-Site-Name,CN=Sites," + config
	attrs := []attr{
		{"currentTime", []string{generalizedTime(d.now())}},
		{"subschemaSubentry", []string{"CN=Aggregate,CN=Schema," + config}},
		{"dsServiceName", []string{d.dsa.dn}},
		{"namingContexts", []string{d.base, config, "CN=Schema," + config}},
		{"defaultNamingContext", []string{d.base}},
		{"rootDomainNamingContext", []string{d.base}},
		{"configurationNamingContext", []string{config}},
		{"schemaNamingContext", []string{"CN=Schema," + config}},
		{"serverName", []string{serverDN}},
		{"supportedControl", []string{OIDPagedResults, OIDShowDeleted, OIDDirSync}},
		{"supportedLDAPVersion", []string{"3", "2"}},
		{"supportedLDAPPolicies", []string{"MaxPageSize", "MaxValRange"}},
		{"supportedSASLMechanisms", []string{}},
		{"supportedCapabilities", []string{"1.2.840.113556.1.4.800"}},
		{"supportedExtension", d.supportedExtensions()},
		{"highestCommittedUSN", []string{strconv.FormatInt(d.usn, 10)}},
		{"dnsHostName", []string{dnsHost}},
		{"ldapServiceName", []string{d.domain + ":" + strings.ToLower(d.serverName) + "$@" + strings.ToUpper(d.domain)}},
		{"isSynchronized", []string{"TRUE"}},
		{"isGlobalCatalogReady", []string{"FALSE"}},
		{"domainFunctionality", []string{"7"}},
		{"forestFunctionality", []string{"7"}},
		{"domainControllerFunctionality", []string{"7"}},
	}
	return newEntry("", nil, attrs)
}

func (d *Directory) supportedExtensions() []string {
	if d.tlsMode == TLSStartTLS {
		return []string{oidStartTLS}
	}
	return []string{}
}

// searchRequest is a decoded search with its controls.
type searchRequest struct {
	msg         *gldap.SearchMessage
	filter      *ber.Packet
	paging      *gldap.ControlPaging
	showDeleted bool
	sel         selection

	dirSync      bool
	dirSyncValue string
}

func (d *Directory) handleSearch(w *gldap.ResponseWriter, r *gldap.Request) {
	d.stats.searches.Add(1)
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	m, err := r.GetSearchMessage()
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		done.SetDiagnosticMessage(err.Error())
		_ = w.Write(done)
		return
	}
	req := &searchRequest{msg: m}
	for _, c := range m.Controls {
		switch v := c.(type) {
		case *gldap.ControlPaging:
			req.paging = v
		case *gldap.ControlMicrosoftShowDeleted:
			req.showDeleted = true
		case *gldap.ControlString:
			if v.ControlType == OIDDirSync {
				req.dirSync, req.dirSyncValue = true, v.ControlValue
				continue
			}
			if v.Criticality {
				done.SetResultCode(gldap.ResultUnavailableCriticalExtension)
				done.SetDiagnosticMessage("control " + v.ControlType + " is not supported")
				_ = w.Write(done)
				return
			}
		}
	}
	req.sel = parseSelection(m.Attributes)
	filter, err := ldap.CompileFilter(m.Filter)
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		done.SetDiagnosticMessage("bad filter: " + err.Error())
		_ = w.Write(done)
		return
	}
	req.filter = filter

	// The root DSE is readable without a bind, as on Active Directory.
	if strings.TrimSpace(m.BaseDN) == "" && m.Scope == gldap.BaseObject {
		e := d.rootDSE()
		d.mu.RLock()
		ok, _ := newEvaluator(d).match(filter, e)
		d.mu.RUnlock()
		if ok {
			if err := d.writeEntry(w, r, e, req); err != nil {
				return
			}
		}
		_ = w.Write(done)
		return
	}
	if strings.TrimSpace(m.BaseDN) == "" {
		// Only the root DSE lives at the empty DN; Active Directory needs
		// the phantom-root control for anything more.
		done.SetResultCode(gldap.ResultNoSuchObject)
		done.SetDiagnosticMessage(diagNoSuchObject + "\n\t''\n")
		_ = w.Write(done)
		return
	}
	if !d.isBound(r.ConnectionID()) {
		done.SetResultCode(gldap.ResultOperationsError)
		done.SetDiagnosticMessage(diagBindRequired)
		_ = w.Write(done)
		return
	}
	if code := d.searchFault(req); code != 0 {
		done.SetResultCode(code)
		done.SetDiagnosticMessage("injected fault")
		_ = w.Write(done)
		return
	}
	if req.dirSync {
		d.handleDirSync(w, r, req, req.dirSyncValue, done)
		return
	}
	if req.paging != nil {
		d.pagedSearch(w, r, req, done)
		return
	}
	entries, code, diag, matched := d.evaluate(req)
	if code != gldap.ResultSuccess {
		done.SetResultCode(code)
		done.SetDiagnosticMessage(diag)
		done.SetMatchedDN(matched)
		_ = w.Write(done)
		return
	}
	limit := d.opts.sizeLimit
	if m.SizeLimit > 0 && int(m.SizeLimit) < limit {
		limit = int(m.SizeLimit)
	}
	for i, e := range entries {
		if i >= limit {
			done.SetResultCode(gldap.ResultSizeLimitExceeded)
			done.SetDiagnosticMessage(diagSizeLimit)
			break
		}
		if err := d.writeEntry(w, r, e, req); err != nil {
			return
		}
	}
	d.writeReferrals(w, r, req)
	_ = w.Write(done)
}

// referralMarker starts the DN of a placeholder entry that the relay turns
// into a SearchResultReference, which gldap cannot send itself.
const referralMarker = "\x00ldapsynctest-referral:"

// writeReferrals sends, with [WithReferrals], the continuation references
// Active Directory returns for a subtree search at the domain root: one per
// naming context below it.
func (d *Directory) writeReferrals(w *gldap.ResponseWriter, r *gldap.Request, req *searchRequest) {
	if !d.opts.referrals || req.msg.Scope != gldap.WholeSubtree {
		return
	}
	if n, err := normDN(req.msg.BaseDN); err != nil || n != d.baseNDN {
		return
	}
	for _, url := range d.referralURLs() {
		if w.Write(r.NewSearchResponseEntry(referralMarker+url)) != nil {
			return
		}
	}
}

func (d *Directory) referralURLs() []string {
	return []string{
		"ldap://ForestDnsZones." + d.domain + "/DC=ForestDnsZones," + d.base,
		"ldap://DomainDnsZones." + d.domain + "/DC=DomainDnsZones," + d.base,
		"ldap://" + d.domain + "/CN=Configuration," + d.base,
	}
}

// searchFault returns the result code an injected fault imposes on req, or 0.
func (d *Directory) searchFault(req *searchRequest) int {
	d.fmu.Lock()
	f := d.faults
	d.faultSearches++
	n := d.faultSearches
	d.fmu.Unlock()
	if f.SearchResultCode != 0 {
		return f.SearchResultCode
	}
	if f.FailSearch == nil {
		return 0
	}
	m := req.msg
	return f.FailSearch(SearchInfo{
		BaseDN: m.BaseDN, Scope: int(m.Scope), Filter: m.Filter,
		Attributes: append([]string(nil), m.Attributes...),
		Paged:      req.paging != nil, NextPage: req.paging != nil && len(req.paging.Cookie) > 0,
		Number: n,
	})
}

// evaluate runs a search against the store and returns the matching
// entries in creation order.
func (d *Directory) evaluate(req *searchRequest) ([]*entry, int, string, string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	m := req.msg
	base, err := d.resolve(m.BaseDN)
	if err != nil || (base.deleted && !req.showDeleted) {
		if err != nil && !isNotFound(err) {
			return nil, gldap.ResultInvalidDNSyntax, err.Error(), ""
		}
		matched := d.bestMatch(m.BaseDN)
		return nil, gldap.ResultNoSuchObject, diagNoSuchObject + "\n\t'" + matched + "'\n", matched
	}
	inConfig := base.ndn == d.configNDN || strings.HasSuffix(base.ndn, ","+d.configNDN)
	var cands []*object
	switch m.Scope {
	case gldap.BaseObject:
		cands = []*object{base}
	default:
		for _, o := range d.objs {
			if o.deleted && !req.showDeleted {
				continue
			}
			if m.Scope == gldap.SingleLevel {
				if o.parentNDN != base.ndn {
					continue
				}
			} else if o != base && !strings.HasSuffix(o.ndn, ","+base.ndn) {
				continue
			}
			// The configuration partition is a naming context of its own.
			if !inConfig && (o.ndn == d.configNDN || strings.HasSuffix(o.ndn, ","+d.configNDN)) {
				continue
			}
			cands = append(cands, o)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].usnCreated < cands[j].usnCreated })
	idx := d.memberOfIndex()
	ev := newEvaluator(d)
	var out []*entry
	for _, o := range cands {
		ok, err := ev.match(req.filter, objectView{d: d, o: o, memberOf: idx})
		if err != nil {
			return nil, gldap.ResultInappropriateMatching, err.Error(), ""
		}
		if ok {
			out = append(out, d.render(o, idx))
		}
	}
	return out, gldap.ResultSuccess, "", ""
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// bestMatch returns the longest existing ancestor of dn.
func (d *Directory) bestMatch(dn string) string {
	cur := dn
	for cur != "" {
		_, _, parent, err := splitDN(cur)
		if err != nil {
			return ""
		}
		cur = parent
		if n, err := normDN(cur); err == nil {
			if o := d.byDN[n]; o != nil && !o.deleted {
				return o.dn
			}
		}
	}
	return ""
}

// pagedSearch is the server side of one paged search (RFC 2696).
type pagedSearch struct {
	key       string
	connID    int
	entries   []*entry
	pos       int
	truncated bool // the client's size limit cut the result
}

func searchKey(req *searchRequest) string {
	m := req.msg
	return fmt.Sprintf("%s|%d|%s|%v|%v|%v", strings.ToLower(m.BaseDN), m.Scope, m.Filter, m.Attributes, req.showDeleted, m.TypesOnly)
}

func (d *Directory) pagedSearch(w *gldap.ResponseWriter, r *gldap.Request, req *searchRequest, done *gldap.SearchResponseDone) {
	size := int(req.paging.PagingSize)
	if size > d.opts.maxPageSize {
		size = d.opts.maxPageSize
	}
	cookie := string(req.paging.Cookie)
	var ps *pagedSearch
	if cookie != "" {
		d.pmu.Lock()
		ps = d.pages[cookie]
		delete(d.pages, cookie)
		d.pmu.Unlock()
		if ps == nil {
			done.SetResultCode(gldap.ResultUnwillingToPerform)
			done.SetDiagnosticMessage("00002024: SvcErr: DSID-02050A5C, problem 5003 (WILL_NOT_PERFORM), data 0: unknown or expired paged results cookie")
			_ = w.Write(done)
			return
		}
		if ps.key != searchKey(req) {
			done.SetResultCode(gldap.ResultUnwillingToPerform)
			done.SetDiagnosticMessage("00002024: SvcErr: DSID-02050A5C, problem 5003 (WILL_NOT_PERFORM), data 0: paged results cookie belongs to a different search")
			_ = w.Write(done)
			return
		}
		if size == 0 {
			// Abandon: the client is done with this search.
			done.SetControls(&gldap.ControlPaging{})
			_ = w.Write(done)
			return
		}
	} else {
		entries, code, diag, matched := d.evaluate(req)
		if code != gldap.ResultSuccess {
			done.SetResultCode(code)
			done.SetDiagnosticMessage(diag)
			done.SetMatchedDN(matched)
			_ = w.Write(done)
			return
		}
		truncated := false
		if req.msg.SizeLimit > 0 && int(req.msg.SizeLimit) < len(entries) {
			entries, truncated = entries[:req.msg.SizeLimit], true
		}
		ps = &pagedSearch{key: searchKey(req), connID: r.ConnectionID(), entries: entries, truncated: truncated}
		if size == 0 {
			done.SetControls(&gldap.ControlPaging{})
			_ = w.Write(done)
			return
		}
	}
	end := ps.pos + size
	if end > len(ps.entries) {
		end = len(ps.entries)
	}
	for _, e := range ps.entries[ps.pos:end] {
		if err := d.writeEntry(w, r, e, req); err != nil {
			return
		}
	}
	ps.pos = end
	resp := &gldap.ControlPaging{}
	if d.currentFaults().StuckPaging && ps.pos < len(ps.entries) {
		ps.pos = 0
		next := cookie
		if next == "" {
			next = newCookie()
		}
		resp.Cookie = []byte(next)
		d.storePage(next, ps)
	} else if ps.pos < len(ps.entries) {
		next := newCookie()
		resp.Cookie = []byte(next)
		d.storePage(next, ps)
	} else {
		d.writeReferrals(w, r, req)
		if ps.truncated {
			done.SetResultCode(gldap.ResultSizeLimitExceeded)
			done.SetDiagnosticMessage(diagSizeLimit)
		}
	}
	done.SetControls(resp)
	_ = w.Write(done)
}

func newCookie() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// storePage keeps a paged search for its next page, forgetting the oldest
// ones beyond the limit as a DC bounds its result sets.
func (d *Directory) storePage(cookie string, ps *pagedSearch) {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	d.pages[cookie] = ps
	d.pageOrder = append(d.pageOrder, cookie)
	for len(d.pages) > d.opts.maxCookies && len(d.pageOrder) > 0 {
		delete(d.pages, d.pageOrder[0])
		d.pageOrder = d.pageOrder[1:]
	}
	if len(d.pageOrder) > 4*d.opts.maxCookies {
		kept := d.pageOrder[:0]
		for _, c := range d.pageOrder {
			if _, ok := d.pages[c]; ok {
				kept = append(kept, c)
			}
		}
		d.pageOrder = kept
	}
}

// writeEntry sends e with the requested attributes.
func (d *Directory) writeEntry(w *gldap.ResponseWriter, r *gldap.Request, e *entry, req *searchRequest) error {
	resp := r.NewSearchResponseEntry(e.dn)
	for _, a := range req.sel.apply(e, d.opts.maxValRange) {
		if req.msg.TypesOnly {
			a.vals = nil
		}
		resp.AddAttribute(a.name, a.vals)
	}
	return w.Write(resp)
}

// ---- attribute selection and range retrieval ----

type rangeReq struct {
	set bool
	lo  int
	hi  int // -1: "*"
}

type selection struct {
	all  bool
	want map[string]rangeReq
}

func parseSelection(names []string) selection {
	s := selection{want: map[string]rangeReq{}}
	if len(names) == 0 {
		s.all = true
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch n {
		case "*":
			s.all = true
			continue
		case "1.1", "":
			continue
		}
		parts := strings.Split(n, ";")
		base := strings.ToLower(parts[0])
		var rr rangeReq
		for _, opt := range parts[1:] {
			v, ok := strings.CutPrefix(strings.ToLower(opt), "range=")
			if !ok {
				continue
			}
			lo, hi, ok := strings.Cut(v, "-")
			if !ok {
				continue
			}
			l, err := strconv.Atoi(lo)
			if err != nil || l < 0 {
				continue
			}
			h := -1
			if hi != "*" {
				if h, err = strconv.Atoi(hi); err != nil || h < l {
					continue
				}
			}
			rr = rangeReq{set: true, lo: l, hi: h}
		}
		s.want[base] = rr
	}
	return s
}

// apply returns e's attributes as selected, with range retrieval applied to
// attributes with more than step values or requested with a range.
func (s selection) apply(e *entry, step int) []attr {
	var out []attr
	for _, a := range e.attrs {
		key := strings.ToLower(a.name)
		rr, wanted := s.want[key]
		if !wanted && (!s.all || constructed[key]) {
			continue
		}
		if !rr.set && len(a.vals) <= step {
			out = append(out, a)
			continue
		}
		if ra, ok := ranged(a, rr, step); ok {
			out = append(out, ra)
		}
	}
	return out
}

// ranged implements Active Directory range retrieval: at most step values
// from rr.lo; the returned name carries ";range=lo-hi", with "*" as hi when
// the values run out before the step does.
func ranged(a attr, rr rangeReq, step int) (attr, bool) {
	count := len(a.vals)
	lo := rr.lo
	if lo > count {
		return attr{}, false
	}
	end := count - 1
	if rr.set && rr.hi >= 0 && rr.hi < end {
		end = rr.hi
	}
	truncated := false
	if end-lo+1 >= step {
		end = lo + step - 1
		truncated = true
	}
	hi := strconv.Itoa(end)
	if !truncated && end == count-1 {
		hi = "*"
	}
	if lo == count {
		return attr{name: a.name + ";range=" + strconv.Itoa(lo) + "-*", vals: []string{}}, true
	}
	return attr{name: a.name + ";range=" + strconv.Itoa(lo) + "-" + hi, vals: a.vals[lo : end+1]}, true
}
