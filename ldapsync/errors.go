package ldapsync

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test with errors.Is; the typed errors below wrap them.
var (
	// ErrInvalidConfig: a Config field is missing or malformed.
	ErrInvalidConfig = errors.New("ldapsync: invalid configuration")
	// ErrDeletionLimit: a run planned more removals than MaxSyncDeletions
	// allows, so none of them was applied.
	ErrDeletionLimit = errors.New("ldapsync: deletion limit exceeded")
	// ErrConnect: no configured host could be reached (name resolution,
	// TCP connection or TLS).
	ErrConnect = errors.New("ldapsync: cannot connect to the directory")
	// ErrCertificate: the directory's TLS certificate was refused.
	ErrCertificate = errors.New("ldapsync: directory certificate not trusted")
	// ErrAuthentication: the directory refused the bind credentials.
	ErrAuthentication = errors.New("ldapsync: authentication failed")
	// ErrRead: reading the directory failed or ended early; nothing was
	// removed and the state was not advanced.
	ErrRead = errors.New("ldapsync: directory read failed")
	// ErrTarget: the target refused a change; the state was not advanced,
	// so the next run applies the changes again.
	ErrTarget = errors.New("ldapsync: target write failed")
	// ErrState: the stored state is unreadable or could not be saved.
	ErrState = errors.New("ldapsync: sync state unusable")
	// ErrInvalidDomainList: ParseDomainList got a malformed list.
	ErrInvalidDomainList = errors.New("ldapsync: invalid domain list")
	// ErrEmptyRead: a read found no object at all in scope while the
	// target holds objects from earlier runs. Lost read access or an
	// emptied RootDN look the same, so no removal is applied.
	ErrEmptyRead = errors.New("ldapsync: the directory returned no objects in scope")
)

// DeletionLimitError says how many removals a run planned and how many
// MaxSyncDeletions allows. It wraps [ErrDeletionLimit].
type DeletionLimitError struct {
	Planned int
	Limit   int
}

func (e *DeletionLimitError) Error() string {
	return fmt.Sprintf("ldapsync: %s planned, MaxSyncDeletions allows %d: none applied", removals(e.Planned), e.Limit)
}

// removals counts removals in words: "1 removal", "2 removals".
func removals(n int) string {
	if n == 1 {
		return "1 removal"
	}
	return fmt.Sprintf("%d removals", n)
}

// Unwrap returns ErrDeletionLimit.
func (e *DeletionLimitError) Unwrap() error { return ErrDeletionLimit }

// ConnectError describes why one directory host could not be used. Step is
// the [TestConnection] step that failed ("hostname", "connectivity",
// "certificate" or "authentication"). It wraps ErrConnect, ErrCertificate
// or ErrAuthentication, and the underlying cause.
type ConnectError struct {
	Host string
	Step string
	Err  error // the cause
	kind error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("ldapsync: %s: %s: %v", e.Host, e.Step, e.Err)
}

// Unwrap returns the classifying sentinel and the cause.
func (e *ConnectError) Unwrap() []error { return []error{e.kind, e.Err} }

// ReadError describes a failed or incomplete directory read. It wraps
// [ErrRead] and the cause.
type ReadError struct {
	Op  string // what was being read, e.g. "search users and groups"
	Err error
}

func (e *ReadError) Error() string { return fmt.Sprintf("ldapsync: %s: %v", e.Op, e.Err) }

// Unwrap returns ErrRead and the cause.
func (e *ReadError) Unwrap() []error { return []error{ErrRead, e.Err} }

// TargetError describes a change the target refused. It wraps [ErrTarget]
// and the cause.
type TargetError struct {
	Op  string // "upsert", "disable", "unlink", "delete", "upsert group", "delete group"
	ID  string
	Err error
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("ldapsync: target %s %s: %v", e.Op, e.ID, e.Err)
}

// Unwrap returns ErrTarget and the cause.
func (e *TargetError) Unwrap() []error { return []error{ErrTarget, e.Err} }

// StateError describes a state file that cannot be read or written. It
// wraps [ErrState] and the cause.
type StateError struct {
	Path string
	Op   string // "load" or "save"
	Err  error
}

func (e *StateError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("ldapsync: state %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("ldapsync: state %s %s: %v", e.Op, e.Path, e.Err)
}

// Unwrap returns ErrState and the cause.
func (e *StateError) Unwrap() []error { return []error{ErrState, e.Err} }
