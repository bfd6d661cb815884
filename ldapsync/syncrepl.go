package ldapsync

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// oidContentSync is the LDAP Content Synchronization control (RFC 4533).
const oidContentSync = "1.3.6.1.4.1.4203.1.9.1.1"

// ldapResultSyncRefreshRequired is RFC 4533's e-syncRefreshRequired: the
// server cannot serve changes since the cookie and wants a full refresh.
const ldapResultSyncRefreshRequired = 4096

// syncReplSource reads changes from directories with RFC 4533 content
// synchronisation (OpenLDAP's syncprov overlay) in refreshOnly mode: the
// server returns the entries changed since the stored cookie, and deletes
// either explicitly (a session log, syncIdSet) or through its present phase.
// Object IDs are enumerated as with the other sources, which also catches
// entries under a renamed OU and works whichever way the server reports
// deletions. A database without content sync (the control is refused) is
// served by the fallback source, modifyTimestamp polling.
type syncReplSource struct {
	fallback changeSource
}

func (syncReplSource) name() string { return "syncrepl" }

// syncReplUnsupported reports whether err means the content-sync control
// is not available for this search.
func syncReplUnsupported(err error) bool {
	return ldap.IsErrorAnyOf(err, ldap.LDAPResultUnavailableCriticalExtension,
		ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultInsufficientAccessRights)
}

func (s syncReplSource) read(ctx context.Context, r *reader, prev Watermark) (*readResult, error) {
	wm := Watermark{Source: s.name(), Scope: r.scopeKey()}
	reason := ""
	switch {
	case prev.Source == "":
		reason = "first run"
	case prev.Source != s.name():
		reason = "the stored watermark comes from another change source (" + prev.Source + ")"
	case prev.Scope != wm.Scope:
		reason = "the root DN or object selection changed"
	case len(prev.Cookie) == 0:
		reason = "no content-sync cookie was stored"
	}
	if reason == "" {
		out := &readResult{records: map[string]*Record{}}
		cookie, err := contentSync(ctx, r, r.scope, prev.Cookie, out)
		switch {
		case err == nil:
			ids, err := r.enumerate(ctx)
			if err != nil {
				return nil, err
			}
			out.present = ids
			wm.Cookie = cookie
			if len(wm.Cookie) == 0 {
				wm.Cookie = prev.Cookie
			}
			out.watermark = wm
			return out, nil
		case syncReplUnsupported(err):
			return s.fallback.read(ctx, r, prev)
		case ldap.IsErrorWithCode(err, ldapResultSyncRefreshRequired):
			reason = "the directory asked for a full refresh (content-sync cookie expired)"
		case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
			reason = "more changes than the server's size limit returns at once"
		default:
			return nil, &ReadError{Op: "content sync", Err: ctxErr(ctx, err)}
		}
	}
	// Full read: take the cookie first (a search that matches nothing),
	// then read everything with paged searches. A change made while
	// reading is reported again by the next run, never lost.
	none := fmt.Sprintf("(&%s(!%s))", r.scope, r.scope)
	cookie, err := contentSync(ctx, r, none, nil, &readResult{records: map[string]*Record{}})
	if err != nil {
		if syncReplUnsupported(err) {
			return s.fallback.read(ctx, r, prev)
		}
		return nil, &ReadError{Op: "content sync", Err: ctxErr(ctx, err)}
	}
	if len(cookie) == 0 {
		// The server runs content sync but hands out no cookie: nothing
		// to resume from, so poll timestamps instead.
		return s.fallback.read(ctx, r, prev)
	}
	out, _, err := r.readFull(ctx, reason)
	if err != nil {
		return nil, err
	}
	wm.Cookie = cookie
	out.watermark = wm
	return out, nil
}

// contentSync runs one refreshOnly content-sync search under RootDN and
// returns the final cookie. Added and modified entries go to out.records,
// explicitly deleted ones to out.deleted; present-phase entries are left to
// the ID enumeration.
func contentSync(ctx context.Context, r *reader, filter string, cookie []byte, out *readResult) ([]byte, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := ldap.NewSearchRequest(r.cfg.RootDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, r.attributes(), nil)
	resp := r.s.conn.Syncrepl(sctx, req, 64, ldap.SyncRequestModeRefreshOnly, cookie, false)
	next := cookie
	for resp.Next() {
		for _, c := range resp.Controls() {
			switch c := c.(type) {
			case *ldap.ControlSyncInfo:
				if k := syncInfoCookie(c); len(k) > 0 {
					next = k
				}
				if c.SyncIdSet != nil && c.SyncIdSet.RefreshDeletes {
					for _, u := range c.SyncIdSet.SyncUUIDs {
						out.deleted = append(out.deleted, strings.ToLower(u.String()))
					}
				}
			case *ldap.ControlSyncDone:
				if len(c.Cookie) > 0 {
					next = c.Cookie
				}
			}
		}
		e := resp.Entry()
		if e == nil {
			continue
		}
		state, _ := ldap.FindControl(resp.Controls(), ldap.ControlTypeSyncState).(*ldap.ControlSyncState)
		if state != nil && len(state.Cookie) > 0 {
			next = state.Cookie
		}
		switch {
		case state != nil && state.State == ldap.SyncStateDelete:
			out.deleted = append(out.deleted, strings.ToLower(state.EntryUUID.String()))
		case state != nil && state.State == ldap.SyncStatePresent:
			// unchanged: the enumeration accounts for it
		default:
			id, rec, skip := r.convert(e)
			if skip != "" {
				out.skipped = append(out.skipped, Skip{ID: id, DN: e.DN, Reason: skip})
				continue
			}
			out.records[id] = rec
		}
	}
	if err := resp.Err(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return next, nil
}

func syncInfoCookie(c *ldap.ControlSyncInfo) []byte {
	switch {
	case c.NewCookie != nil:
		return c.NewCookie.Cookie
	case c.RefreshDelete != nil:
		return c.RefreshDelete.Cookie
	case c.RefreshPresent != nil:
		return c.RefreshPresent.Cookie
	case c.SyncIdSet != nil:
		return c.SyncIdSet.Cookie
	}
	return nil
}
