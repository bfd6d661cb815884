package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// oidDirSync is Active Directory's DirSync control.
const oidDirSync = "1.2.840.113556.1.4.841"

// dirSyncBatch bounds the objectGUID terms of one re-read filter.
const dirSyncBatch = 100

// dirSyncMaxRounds bounds the "more data" rounds of one DirSync read.
const dirSyncMaxRounds = 1 << 16

// dirSyncSource reads Active Directory changes with the DirSync control
// (1.2.840.113556.1.4.841): the domain controller returns the objects
// changed since a cookie, and deleted objects as tombstones. It needs the
// "Replicating Directory Changes" right; a bind account without it (DirSync
// refused) is served by the fallback source, uSNChanged polling.
//
// DirSync names what changed; the changed objects are then read whole under
// RootDN by objectGUID, so the records are the same as on a full read, and
// an object that changed but is no longer under RootDN has left the scope.
// Every object ID is enumerated as with the other sources, which also
// catches objects under a renamed or moved OU.
type dirSyncSource struct {
	fallback changeSource
}

func (dirSyncSource) name() string { return "dirsync" }

// dirSyncDenied reports whether err means the bind account may not use
// DirSync (or the server will not run it here).
func dirSyncDenied(err error) bool {
	return ldap.IsErrorAnyOf(err, ldap.LDAPResultInsufficientAccessRights,
		ldap.LDAPResultUnavailableCriticalExtension, ldap.LDAPResultUnwillingToPerform,
		ldap.LDAPResultOperationsError)
}

func (s dirSyncSource) read(ctx context.Context, r *reader, prev Watermark) (*readResult, error) {
	wm := Watermark{Source: s.name(), Scope: r.scopeKey(), USN: r.info.usn,
		ServiceName: r.info.serviceName, InvocationID: r.info.invocationID}
	reason := fullReadReason(prev, wm, s.name())
	if reason == "" {
		reason = usnReason(prev, wm)
	}
	if reason == "" && len(prev.Cookie) == 0 {
		reason = "no DirSync cookie was stored"
	}
	if reason == "" && prev.USN == wm.USN {
		// Nothing at all was written to this domain controller since the
		// last run: no additions, changes, deletions or moves.
		wm.Cookie = prev.Cookie
		return &readResult{records: map[string]*Record{}, watermark: wm}, nil
	}
	base, err := namingContextOf(ctx, r)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		// The cookie is taken before the full read: a change made while
		// reading is reported again by the next run, never lost. A
		// filter no object matches moves the cookie past every change
		// without sending the partition's objects (on a large domain
		// that pass cost as much as the full read).
		cookie, _, _, err := dirSync(ctx, r, base, nil, dirSyncAttributes(r), true)
		if err != nil {
			if dirSyncDenied(err) {
				return s.fallback.read(ctx, r, prev)
			}
			return nil, &ReadError{Op: "DirSync", Err: ctxErr(ctx, err)}
		}
		out, _, err := r.readFull(ctx, reason)
		if err != nil {
			return nil, err
		}
		wm.Cookie = cookie
		out.watermark = wm
		return out, nil
	}

	cookie, changed, deleted, err := dirSync(ctx, r, base, prev.Cookie, dirSyncAttributes(r), false)
	if err != nil {
		if dirSyncDenied(err) {
			return s.fallback.read(ctx, r, prev)
		}
		return nil, &ReadError{Op: "DirSync", Err: ctxErr(ctx, err)}
	}
	observeDirSync(ctx, len(changed), len(deleted))
	out := &readResult{records: map[string]*Record{}, deleted: deleted}
	if err := r.readByID(ctx, changed, out); err != nil {
		return nil, err
	}
	for _, id := range changed {
		if _, ok := out.records[id]; !ok {
			// Changed, but no longer an object under RootDN.
			out.deleted = append(out.deleted, id)
		}
	}
	ids, err := r.enumerate(ctx)
	if err != nil {
		return nil, err
	}
	out.present = ids
	wm.Cookie = cookie
	out.watermark = wm
	return out, nil
}

// dirSyncAttributes are the attributes whose change makes DirSync report an
// object: everything the reader converts, plus name (renames and moves)
// and isDeleted (deletions).
func dirSyncAttributes(r *reader) []string {
	return append(r.attributes(), "name", "isDeleted")
}

// dirSync runs DirSync from cookie until the server has no more data and
// returns the new cookie with the IDs of the changed and deleted objects.
// Its filter keeps to objectClass, which tombstones keep. With cookieOnly
// the filter matches nothing: only the cookie comes back.
func dirSync(ctx context.Context, r *reader, base string, cookie []byte, attrs []string, cookieOnly bool) (next []byte, changed, deleted []string, err error) {
	filter := "(|(objectClass=user)(objectClass=group))"
	if r.cfg.IncludeContacts {
		filter = "(|(objectClass=user)(objectClass=group)(objectClass=contact))"
	}
	if cookieOnly {
		filter = "(&(objectClass=user)(!(objectClass=user)))"
	}
	seen := map[string]bool{}
	for round := 0; ; round++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		if round >= dirSyncMaxRounds {
			return nil, nil, nil, errors.New("DirSync did not finish")
		}
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			filter, attrs, nil)
		res, err := r.s.conn.DirSync(req, 0, 0, cookie)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, e := range res.Entries {
			id, err := formatGUID(e.GetEqualFoldRawAttributeValue("objectGUID"))
			if err != nil || seen[id] {
				continue
			}
			seen[id] = true
			if strings.EqualFold(e.GetEqualFoldAttributeValue("isDeleted"), "TRUE") {
				deleted = append(deleted, id)
			} else {
				changed = append(changed, id)
			}
		}
		ctrl, _ := ldap.FindControl(res.Controls, ldap.ControlTypeDirSync).(*ldap.ControlDirSync)
		if ctrl == nil {
			return nil, nil, nil, errors.New("the server returned no DirSync control")
		}
		if len(ctrl.Cookie) > 0 {
			cookie = ctrl.Cookie
		}
		if ctrl.Flags == 0 {
			if len(cookie) == 0 {
				return nil, nil, nil, errors.New("the server returned no DirSync cookie")
			}
			return cookie, changed, deleted, nil
		}
	}
}

// readByID reads the objects with the given IDs (objectGUID or entryUUID)
// under RootDN, in batches.
func (r *reader) readByID(ctx context.Context, ids []string, out *readResult) error {
	for start := 0; start < len(ids); start += dirSyncBatch {
		end := min(start+dirSyncBatch, len(ids))
		var sb strings.Builder
		sb.WriteString("(&")
		sb.WriteString(r.scope)
		sb.WriteString("(|")
		for _, id := range ids[start:end] {
			v := ldap.EscapeFilter(id)
			if r.idAttr == "objectGUID" {
				var err error
				if v, err = guidFilterValue(id); err != nil {
					return &ReadError{Op: "read changed objects", Err: err}
				}
			}
			sb.WriteString("(" + r.idAttr + "=")
			sb.WriteString(v)
			sb.WriteString(")")
		}
		sb.WriteString("))")
		if _, err := r.readRecords(ctx, "read changed users and groups", sb.String(), out); err != nil {
			return err
		}
	}
	return nil
}

// namingContextOf returns the naming context (partition root) that holds
// RootDN: DirSync runs on a whole partition. A domain partition is named by
// the trailing DC= components of RootDN; anything else is looked up in the
// root DSE.
func namingContextOf(ctx context.Context, r *reader) (string, error) {
	if d, err := ldap.ParseDN(r.cfg.RootDN); err == nil {
		i := len(d.RDNs)
		for i > 0 {
			rdn := d.RDNs[i-1]
			if len(rdn.Attributes) != 1 || !strings.EqualFold(rdn.Attributes[0].Type, "DC") {
				break
			}
			i--
		}
		if i < len(d.RDNs) {
			parts := make([]string, 0, len(d.RDNs)-i)
			for _, rdn := range d.RDNs[i:] {
				parts = append(parts, "DC="+ldap.EscapeDN(rdn.Attributes[0].Value))
			}
			return strings.Join(parts, ","), nil
		}
	}
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"namingContexts", "defaultNamingContext"}, nil)
	res, err := r.s.conn.Search(req)
	if err != nil {
		return "", &ReadError{Op: "read naming contexts", Err: ctxErr(ctx, err)}
	}
	best := ""
	if len(res.Entries) == 1 {
		e := res.Entries[0]
		ncs := append(e.GetEqualFoldAttributeValues("namingContexts"), e.GetEqualFoldAttributeValue("defaultNamingContext"))
		for _, nc := range ncs {
			if nc != "" && underDN(r.cfg.RootDN, nc) && len(nc) > len(best) {
				best = nc
			}
		}
	}
	if best == "" {
		return "", &ReadError{Op: "read naming contexts", Err: fmt.Errorf("no naming context holds %s", r.cfg.RootDN)}
	}
	return best, nil
}

// dirSyncObserver learns how many objects the incremental DirSync reads
// of the runs made with its context were told about. Tests carry one in
// the context of a run.
type dirSyncObserver struct {
	mu      sync.Mutex
	changed []int
	deleted []int
}

type dirSyncObserverKey struct{}

func observeDirSync(ctx context.Context, changed, deleted int) {
	obs, _ := ctx.Value(dirSyncObserverKey{}).(*dirSyncObserver)
	if obs == nil {
		return
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	obs.changed = append(obs.changed, changed)
	obs.deleted = append(obs.deleted, deleted)
}
