package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// oidContentSync is the LDAP Content Synchronization control (RFC 4533).
const oidContentSync = "1.3.6.1.4.1.4203.1.9.1.1"

// ldapResultSyncRefreshRequired is RFC 4533's e-syncRefreshRequired: the
// server cannot serve changes since the cookie and wants a full refresh.
const ldapResultSyncRefreshRequired = 4096

// syncReplSource reads changes from directories with RFC 4533 content
// synchronisation (OpenLDAP's syncprov overlay) in refreshOnly mode: the
// server returns the entries changed since the stored cookie, and tells
// which entries left the scope in one of two ways, which the refresh
// records (see [refresh]):
//
//   - a delete phase (a session log covers the cookie): the deletions are
//     named (syncIdSet or delete states, sync done with refreshDeletes);
//     nothing needs listing;
//   - a present phase: every unchanged entry in scope is reported present;
//     those IDs with the changed ones are the complete content, and every
//     other object has left the scope. They are the enumeration: no second
//     listing.
//
// Neither names the objects under a container renamed or moved (they keep
// their entryCSN), so a second refresh with the same cookie looks at the
// containers under RootDN; only when one of them changed are the object
// IDs enumerated. A database without content sync (the control is
// refused) is served by the fallback source, modifyTimestamp polling.
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

// openLDAPContainerClasses are the classes of entries that can hold users
// and groups on a generic LDAP directory.
var openLDAPContainerClasses = []string{"organizationalUnit", "organization", "locality", "country",
	"domain", "dcObject", "container"}

// containerFilter selects the entries that can hold objects in scope (and
// are not objects themselves).
func (r *reader) containerFilter() string {
	var sb strings.Builder
	sb.WriteString("(&(|")
	for _, c := range openLDAPContainerClasses {
		sb.WriteString("(objectClass=" + c + ")")
	}
	sb.WriteString(")(!" + r.scope + "))")
	return sb.String()
}

func (s syncReplSource) read(ctx context.Context, r *reader, prev Watermark) (*readResult, error) {
	wm := Watermark{Source: s.name(), Scope: r.scopeKey()}
	reason := fullReadReason(prev, wm, s.name())
	if reason == "" && len(prev.Cookie) == 0 {
		reason = "no content-sync cookie was stored"
	}
	if reason == "" {
		out := &readResult{records: map[string]*Record{}}
		cookie, ref, err := contentSync(ctx, r, r.scope, prev.Cookie, out)
		if err == nil {
			err = s.complete(ctx, r, prev.Cookie, ref, out)
		}
		switch {
		case err == nil:
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
			var re *ReadError
			if errors.As(err, &re) {
				return nil, err
			}
			return nil, &ReadError{Op: "content sync", Err: ctxErr(ctx, err)}
		}
	}
	// Full read: take the cookie first (a search that matches nothing),
	// then read everything with paged searches. A change made while
	// reading is reported again by the next run, never lost.
	none := fmt.Sprintf("(&%s(!%s))", r.scope, r.scope)
	cookie, _, err := contentSync(ctx, r, none, nil, &readResult{records: map[string]*Record{}})
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

// complete decides, after the refresh of the objects, how removals and
// moves are found: from the refresh itself, or by enumerating IDs when a
// container changed or the refresh did not say which phase it ran.
func (s syncReplSource) complete(ctx context.Context, r *reader, cookie []byte, ref *refresh, out *readResult) error {
	// The containers' refresh runs after the objects' one and from the
	// same cookie: a container changed since is seen now or by the next
	// run (whose cookie is the objects' one, older), never missed.
	_, cref, err := contentSync(ctx, r, r.containerFilter(), cookie, &readResult{records: map[string]*Record{}})
	if err != nil {
		return err
	}
	// A container that was added, changed, renamed or moved (in or
	// within RootDN), or that left RootDN or was deleted. A server
	// replaying a session log names as deleted every logged entry that
	// does not match the containers' filter now (it cannot tell whether
	// it matched before): objects the state knows or that were just read
	// are no containers, anything else may be one.
	containerChanged := cref.changed > 0 || !cref.done
	for _, id := range cref.deleted {
		if _, read := out.records[id]; !read && (r.known == nil || !r.known(id)) {
			containerChanged = true
			break
		}
	}
	how := "delete phase"
	defer func() { observeSyncRepl(ctx, how) }()
	switch {
	case containerChanged || !ref.done || (ref.presentPhase && ref.deletePhase),
		ref.presentPhase && len(ref.present) == 0:
		// (A present phase naming nothing would remove every object:
		// listing the IDs confirms it.)
		how = "enumerated"
		if containerChanged {
			how = "enumerated: a container changed"
		}
		ids, err := r.enumerate(ctx)
		if err != nil {
			return err
		}
		out.present = ids
	case ref.presentPhase:
		how = "present phase"
		present := make(map[string]string, len(ref.present)+len(out.records))
		for id := range ref.present {
			present[id] = "" // unchanged: DN as stored
		}
		for id, rec := range out.records {
			present[id] = rec.DN
		}
		out.present = present
	default:
		// Delete phase: the deletions are in out.deleted.
	}
	return nil
}

// refresh is what a content-sync refresh said beyond the entries.
type refresh struct {
	done         bool // the sync done control arrived
	presentPhase bool // unchanged entries were reported present: absent ones are gone
	deletePhase  bool // deletions were named
	present      map[string]struct{}
	changed      int      // entries added or modified
	deleted      []string // entries named deleted
}

// contentSync runs one refreshOnly content-sync search under RootDN and
// returns the final cookie and what the refresh reported. Added and
// modified entries go to out.records (when they convert), explicitly
// deleted ones to out.deleted, entries reported present to the refresh.
func contentSync(ctx context.Context, r *reader, filter string, cookie []byte, out *readResult) ([]byte, *refresh, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ref := &refresh{present: map[string]struct{}{}}
	req := ldap.NewSearchRequest(r.cfg.RootDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, r.attributes(), nil)
	resp := r.s.conn.Syncrepl(sctx, req, 64, ldap.SyncRequestModeRefreshOnly, cookie, false)
	next := cookie
	n := 0
	for resp.Next() {
		if n++; n > maxReadObjects {
			return nil, nil, &ReadError{Op: "content sync", Err: fmt.Errorf("more than %d messages in one refresh", maxReadObjects)}
		}
		for _, c := range resp.Controls() {
			switch c := c.(type) {
			case *ldap.ControlSyncInfo:
				if k := syncInfoCookie(c); len(k) > 0 {
					next = k
				}
				switch {
				case c.SyncIdSet != nil && c.SyncIdSet.RefreshDeletes:
					ref.deletePhase = true
					for _, u := range c.SyncIdSet.SyncUUIDs {
						ref.deleted = append(ref.deleted, strings.ToLower(u.String()))
					}
					out.deleted = append(out.deleted, ref.deleted[len(ref.deleted)-len(c.SyncIdSet.SyncUUIDs):]...)
				case c.SyncIdSet != nil:
					ref.presentPhase = true
					for _, u := range c.SyncIdSet.SyncUUIDs {
						ref.present[strings.ToLower(u.String())] = struct{}{}
					}
				case c.RefreshPresent != nil:
					ref.presentPhase = true
				case c.RefreshDelete != nil:
					ref.deletePhase = true
				}
			case *ldap.ControlSyncDone:
				ref.done = true
				if len(c.Cookie) > 0 {
					next = c.Cookie
				}
				if c.RefreshDeletes {
					ref.deletePhase = true
				} else {
					ref.presentPhase = true
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
			ref.deletePhase = true
			id := strings.ToLower(state.EntryUUID.String())
			ref.deleted = append(ref.deleted, id)
			out.deleted = append(out.deleted, id)
		case state != nil && state.State == ldap.SyncStatePresent:
			ref.presentPhase = true
			ref.present[strings.ToLower(state.EntryUUID.String())] = struct{}{}
		default:
			ref.changed++
			id, rec, skip := r.convert(e)
			if skip != "" {
				out.skipped = append(out.skipped, Skip{ID: id, DN: e.DN, Reason: skip})
				continue
			}
			out.records[id] = rec
		}
	}
	if err := resp.Err(); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return next, ref, nil
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

// syncReplObserver learns how the incremental content-sync reads of the
// runs made with its context found removals. Tests carry one in the
// context of a run.
type syncReplObserver struct {
	mu  sync.Mutex
	how []string
}

type syncReplObserverKey struct{}

func observeSyncRepl(ctx context.Context, how string) {
	obs, _ := ctx.Value(syncReplObserverKey{}).(*syncReplObserver)
	if obs == nil {
		return
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	obs.how = append(obs.how, how)
}
