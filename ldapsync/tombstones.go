package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// oidShowDeleted is Active Directory's show-deleted control: searches
// carrying it also return tombstones (isDeleted TRUE).
const oidShowDeleted = "1.2.840.113556.1.4.417"

// tombstoneAttributes are all a tombstone read asks for.
var tombstoneAttributes = []string{"objectGUID", "isDeleted", "lastKnownParent", "uSNChanged"}

// tombstoneOutcome says what the tombstone read of a run did.
type tombstoneOutcome int

const (
	// tombstonesNotRead: the directory does not offer the show-deleted
	// control, or the run is not an incremental uSNChanged read.
	tombstonesNotRead tombstoneOutcome = iota
	// tombstonesRead: the tombstones changed since the watermark were read
	// and reported as deletions (possibly none).
	tombstonesRead
	// tombstonesRefused: the bind account may not read tombstones (the
	// control was refused, or Deleted Objects is not visible to it);
	// deletions are found by the ID enumeration alone.
	tombstonesRefused
)

// tombstonesRefusedCode reports whether err is the directory's answer that
// the bind account may not read tombstones.
func tombstonesRefusedCode(err error) bool {
	return ldap.IsErrorAnyOf(err, ldap.LDAPResultInsufficientAccessRights,
		ldap.LDAPResultUnavailableCriticalExtension, ldap.LDAPResultNoSuchObject)
}

// readTombstones reads, with the show-deleted control, the tombstones in
// the naming context of RootDN whose uSNChanged is above since, and adds
// their IDs to out.deleted. A deletion is thereby known as a deletion,
// from the directory's own record of it, rather than only inferred from an
// ID missing in the enumeration.
//
// Tombstones are read only where the root DSE lists the control. When the
// bind account may not read them (insufficientAccessRights,
// unavailableCriticalExtension, or a search that finds nothing while the
// Deleted Objects container is not readable, as for an account outside
// the domain administrators on Active Directory), nothing is added and no
// warning is given: the ID enumeration, which every uSNChanged run keeps,
// still finds every removal. Another answer from the directory leaves the
// deletions to the enumeration too, with a warning. A broken connection or
// a cancelled context fails the read.
func (r *reader) readTombstones(ctx context.Context, since int64, out *readResult) error {
	if !r.info.ad || !r.info.controls[oidShowDeleted] {
		observeTombstones(ctx, tombstonesNotRead, nil)
		return nil
	}
	base, err := namingContextOf(ctx, r)
	if err != nil {
		return err
	}
	filter := fmt.Sprintf("(&(isDeleted=TRUE)(uSNChanged>=%d))", since+1)
	var ids []string
	seen := map[string]bool{}
	err = r.searchDeleted(ctx, base, ldap.ScopeWholeSubtree, filter, func(e *ldap.Entry) {
		if !strings.EqualFold(e.GetEqualFoldAttributeValue("isDeleted"), "TRUE") {
			return
		}
		id, err := formatGUID(e.GetEqualFoldRawAttributeValue("objectGUID"))
		if err != nil || seen[id] {
			return
		}
		seen[id] = true
		ids = append(ids, id)
	})
	outcome := tombstonesRead
	switch {
	case err == nil && len(ids) == 0:
		// Nothing deleted, or nothing visible: tell them apart by
		// whether the Deleted Objects container can be read.
		readable, perr := r.deletedObjectsReadable(ctx, base)
		switch {
		case perr != nil && !isDirectoryAnswer(perr):
			return &ReadError{Op: "read Deleted Objects", Err: ctxErr(ctx, perr)}
		case !readable:
			outcome = tombstonesRefused
		}
	case err == nil:
	case tombstonesRefusedCode(err):
		outcome, ids = tombstonesRefused, nil
	case isDirectoryAnswer(err):
		outcome, ids = tombstonesRefused, nil
		out.warnings = append(out.warnings, "deleted objects (tombstones) not read, deletions found by enumerating object IDs: "+err.Error())
	default:
		return &ReadError{Op: "read tombstones", Err: ctxErr(ctx, err)}
	}
	if r.log != nil {
		r.log.LogAttrs(ctx, slog.LevelDebug, "ldapsync: tombstones", slog.Bool("permitted", outcome == tombstonesRead),
			slog.Int("deleted", len(ids)))
	}
	out.deleted = append(out.deleted, ids...)
	observeTombstones(ctx, outcome, ids)
	return nil
}

// searchDeleted runs a paged search with the show-deleted control.
// Referrals are ignored: tombstones of other naming contexts are never in
// scope.
func (r *reader) searchDeleted(ctx context.Context, base string, scope int, filter string, fn func(*ldap.Entry)) error {
	paging := ldap.NewControlPaging(uint32(r.pageSize()))
	req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false,
		filter, tombstoneAttributes, []ldap.Control{paging, &ldap.ControlMicrosoftShowDeleted{}})
	var prog pageProgress
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := r.s.conn.Search(req)
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			fn(e)
		}
		ctrl, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if ctrl == nil || len(ctrl.Cookie) == 0 {
			return nil
		}
		if err := prog.next(paging, ctrl.Cookie, res.Entries); err != nil {
			return err
		}
	}
}

// deletedObjectsReadable reports whether the bind account can read the
// Deleted Objects container of the naming context base (its isDeleted
// attribute, with the show-deleted control). An account that cannot read
// it is shown no tombstones: Active Directory answers its tombstone
// searches with nothing rather than an error.
func (r *reader) deletedObjectsReadable(ctx context.Context, base string) (bool, error) {
	readable := false
	err := r.searchDeleted(ctx, "CN=Deleted Objects,"+base, ldap.ScopeBaseObject, "(objectClass=*)", func(e *ldap.Entry) {
		if strings.EqualFold(e.GetEqualFoldAttributeValue("isDeleted"), "TRUE") {
			readable = true
		}
	})
	if err != nil && tombstonesRefusedCode(err) {
		return false, nil
	}
	return readable, err
}

// isDirectoryAnswer reports whether err is a result code from the
// directory (rather than a broken connection or a cancelled context).
func isDirectoryAnswer(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// tombstoneObserver learns what the tombstone reads of the runs made with
// its context did. Tests carry one in the context of a run.
type tombstoneObserver struct {
	mu       sync.Mutex
	outcomes []tombstoneOutcome
	ids      []string
}

type tombstoneObserverKey struct{}

func observeTombstones(ctx context.Context, o tombstoneOutcome, ids []string) {
	obs, _ := ctx.Value(tombstoneObserverKey{}).(*tombstoneObserver)
	if obs == nil {
		return
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	obs.outcomes = append(obs.outcomes, o)
	obs.ids = append(obs.ids, ids...)
}

// withoutDirSyncKey, in the context of a run, makes the run ignore the
// DirSync control as if the directory did not offer it (tests of
// uSNChanged polling bound as an account that may use DirSync).
type withoutDirSyncKey struct{}

// applyRunOverrides adjusts what the root DSE said for the context's
// overrides.
func applyRunOverrides(ctx context.Context, info *dirInfo) {
	if off, _ := ctx.Value(withoutDirSyncKey{}).(bool); off {
		delete(info.controls, oidDirSync)
	}
}
