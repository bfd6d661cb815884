package ldapsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// StateVersion is the version of the [State] layout this package writes.
// Version 2 is a compact binary encoding (see [FileStore]); states of
// version 1 (JSON) are still read.
const StateVersion = 2

// State is what a [Syncer] remembers between runs: the directory watermark
// and, per object, the record last read and a fingerprint of what the
// target holds. Treat it as opaque; a [StateStore] persists it. Records
// are shared between the states of successive runs: never modify one in
// place.
type State struct {
	// Version is the layout version; see [StateVersion].
	Version int `json:"version"`
	// Watermark marks how far the directory has been read.
	Watermark Watermark `json:"watermark"`
	// Objects holds each object's state, by object ID.
	Objects map[string]*ObjectState `json:"objects,omitempty"`
}

// Watermark marks how far the directory has been read.
type Watermark struct {
	Source       string `json:"source,omitempty"`        // change source that wrote it, e.g. "usn", "timestamp"
	Scope        string `json:"scope,omitempty"`         // fingerprint of what was read (root DN, object kinds)
	USN          int64  `json:"usn,omitempty"`           // Active Directory: highestCommittedUSN read before the search
	ServiceName  string `json:"dsServiceName,omitempty"` // the domain controller the USN belongs to
	InvocationID string `json:"invocationId,omitempty"`  // its database instance
	Timestamp    string `json:"timestamp,omitempty"`     // generic LDAP: greatest modifyTimestamp seen
	Cookie       []byte `json:"cookie,omitempty"`        // cookie-based sources (DirSync, content sync)
	Policy       string `json:"policy,omitempty"`        // fingerprint of the policy settings the objects were evaluated with
	// FullAt is when the last full read ran (see [WithFullSyncEvery]).
	FullAt time.Time `json:"fullAt,omitzero"`
}

// ObjectState is one object as the last run left it.
type ObjectState struct {
	// Source is the directory record last read; nil when the object has
	// left the directory but its removal was withheld.
	Source *Record `json:"source,omitempty"`
	// Applied is the fingerprint of what the target holds linked for the
	// object; "" when the target holds nothing linked.
	Applied string `json:"applied,omitempty"`
	// AppliedKind is the kind that was applied ("user", "contact", "group").
	AppliedKind string `json:"appliedKind,omitempty"`
	// AppliedDisabled says whether the applied user is disabled.
	AppliedDisabled bool `json:"appliedDisabled,omitempty"`
	// Wanted is the fingerprint the policies gave the object's record in
	// the run that stored it; it spares recomputing it while neither the
	// record nor the policies change.
	Wanted string `json:"wanted,omitempty"`
	// AddressHeld says that the object is a group whose address is held
	// (another object claims it too); AppliedEmail is then the address
	// the target holds for the group ("" for none), which it keeps while
	// its members go on being synchronised.
	AddressHeld  bool   `json:"addressHeld,omitempty"`
	AppliedEmail string `json:"appliedEmail,omitempty"`
	// KeptMembers lists, for a group, the members the target holds for it
	// beyond those its record names: users and contacts whose removal is
	// withheld (see Config.MaxSyncDeletions), which stay in their groups
	// until their removal is applied. For a group whose own removal is
	// withheld, every member the target may hold for it. Sorted.
	KeptMembers []string `json:"keptMembers,omitempty"`
	// WithheldDN is the last DN of an object that left the directory
	// while its removal is withheld (Source is then nil), for reports.
	WithheldDN string `json:"withheldDN,omitempty"`
}

// Record is a directory object as read, before policies are applied.
type Record struct {
	// Kind is KindUser, KindContact or KindGroup.
	Kind string `json:"kind"`
	// DN is the object's distinguished name.
	DN string `json:"dn"`
	// Email is the primary address: the proxyAddresses "SMTP:" value,
	// else mail; "" when there is none.
	Email string `json:"email,omitempty"`
	// Aliases are the other proxyAddresses addresses ("smtp:", and any
	// "SMTP:" after the first), sorted.
	Aliases []string `json:"aliases,omitempty"`
	// Problems lists unusable values: invalid addresses, a userAccountControl
	// that is not a number.
	Problems []string `json:"problems,omitempty"`
	// DisplayName is displayName, else cn, else name (for groups: cn,
	// else name, else displayName).
	DisplayName string `json:"displayName,omitempty"`
	// Disabled is set for a user whose userAccountControl has the 0x2 bit.
	Disabled bool `json:"disabled,omitempty"`
	// Attributes holds a user's or contact's other attributes (givenName,
	// sn, title, ...) by name.
	Attributes map[string][]string `json:"attributes,omitempty"`
	// Members lists a group's members resolved to object IDs.
	Members []string `json:"members,omitempty"`
	// MemberDNs lists a group's member DNs not (yet) resolved to IDs.
	MemberDNs []string `json:"memberDNs,omitempty"`

	attrs attrBlock // Attributes, packed (see attrBlock), when Attributes is nil
}

// Record kinds.
const (
	KindUser    = "user"
	KindContact = "contact"
	KindGroup   = "group"
)

// check validates a loaded state.
func (s *State) check() error {
	if s.Version != StateVersion {
		return fmt.Errorf("version %d is not supported (want %d)", s.Version, StateVersion)
	}
	return s.checkObjects()
}

// checkObjects validates the per-object records.
func (s *State) checkObjects() error {
	for id, o := range s.Objects {
		if id == "" {
			return errors.New("objects: empty object ID")
		}
		if o == nil {
			return fmt.Errorf("objects[%s]: null entry", id)
		}
		if o.Source == nil && o.Applied == "" {
			return fmt.Errorf("objects[%s]: neither source nor applied", id)
		}
		if o.Source != nil {
			switch o.Source.Kind {
			case KindUser, KindContact, KindGroup:
			default:
				return fmt.Errorf("objects[%s].source.kind: unknown kind %q", id, o.Source.Kind)
			}
		}
	}
	return nil
}

// StateStore persists [State] between runs.
type StateStore interface {
	// Load returns the saved state, or the zero State when nothing was
	// saved yet. A state that exists but cannot be read is an error: a
	// silent fresh start would look like every object was new.
	Load(ctx context.Context) (State, error)
	// Save replaces the saved state. It must be atomic: after a crash,
	// Load returns either the old or the new state.
	Save(ctx context.Context, s State) error
}

// encodedStore is a [StateStore] keeping the state in the version 2
// encoding, as [MemoryStore] and [FileStore] do. A [Syncer] saves through
// it by splicing the records of unchanged objects, and skips loading a
// state it saved itself while the store provably still holds it.
type encodedStore interface {
	// storedBytes returns the stored encoding as it is (nil when nothing
	// is stored), not checked, and the file's path ("" in memory); the
	// caller does not modify it.
	storedBytes(ctx context.Context) ([]byte, string, error)
	// saveEncoded replaces the state with b, the encoding of a valid
	// state, which the caller no longer modifies.
	saveEncoded(ctx context.Context, b []byte) error
}

// MemoryStore is a [StateStore] in memory, safe for concurrent use. It
// keeps the state in the compact encoding of [FileStore].
type MemoryStore struct {
	mu    sync.Mutex
	state []byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Load returns a copy of the saved state.
func (m *MemoryStore) Load(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		return State{}, nil
	}
	return decodeState(m.state, "")
}

// Save stores a copy of s.
func (m *MemoryStore) Save(ctx context.Context, s State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := encodeState(s)
	if err != nil {
		return &StateError{Op: "save", Err: err}
	}
	if cap(b)-len(b) > len(b)/8 {
		b = bytes.Clone(b) // keep no spare capacity between runs
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = b
	return nil
}

func (m *MemoryStore) storedBytes(ctx context.Context) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, "", nil // never modified: Save replaces it
}

func (m *MemoryStore) saveEncoded(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = b
	return nil
}

// FileStore is a [StateStore] in a file, written atomically.
//
// The file holds a JSON header (version, watermark, object count), the
// objects in a compact binary form (IDs and fingerprints as 16 bytes) and a
// CRC-32C of the whole: a damaged or truncated file is refused, never read
// as a smaller state. Files of version 1 (one JSON document) are read too
// and rewritten in the current form by the next save.
type FileStore struct {
	path string
	mu   sync.Mutex
}

// NewFileStore returns a store that keeps the state in the file at path.
// The directory must exist, and one process at a time may use the file. A missing file means no state yet; an empty,
// truncated or otherwise unreadable file is an error wrapping [ErrState].
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Path returns the state file's path.
func (f *FileStore) Path() string { return f.path }

// Load reads the state file.
func (f *FileStore) Load(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, &StateError{Path: f.path, Op: "load", Err: err}
	}
	return decodeState(b, f.path)
}

func decodeState(b []byte, path string) (State, error) {
	s, _, err := decodeStateSpans(b, path, false, false)
	return s, err
}

// decodeStateSpans is decodeState that also says, with spans set, where
// each object's record lies in b (nil for a version 1 file); with packed
// set, records keep their attributes packed (see attrBlock), for the
// package's own use.
func decodeStateSpans(b []byte, path string, spans, packed bool) (State, *stateEncoding, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return State{}, nil, &StateError{Path: path, Op: "load", Err: errors.New("file is empty (truncated?); refusing to start over")}
	}
	if bytes.HasPrefix(b, []byte(stateMagic)) {
		s, enc, err := decodeStateV2Spans(b, spans, packed)
		if err != nil {
			return State{}, nil, &StateError{Path: path, Op: "load", Err: fmt.Errorf("corrupt state: %w; refusing to start over", err)}
		}
		return s, enc, nil
	}
	s, err := decodeStateV1(b, path)
	return s, nil, err
}

// decodeStateV1 reads a version 1 state: one JSON document.
func decodeStateV1(b []byte, path string) (State, error) {
	if t := bytes.TrimSpace(b); t[0] != '{' {
		return State{}, &StateError{Path: path, Op: "load", Err: errors.New("corrupt state: not a gatehouse state (no header); refusing to start over")}
	}
	// Version 1: one JSON document.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return State{}, &StateError{Path: path, Op: "load", Err: fmt.Errorf("corrupt state: %w; refusing to start over", err)}
	}
	if dec.More() {
		return State{}, &StateError{Path: path, Op: "load", Err: errors.New("corrupt state: data after the JSON document")}
	}
	if s.Version == 1 {
		s.Version = StateVersion // same content, older encoding
	}
	if !s.Watermark.FullAt.IsZero() {
		s.Watermark.FullAt = s.Watermark.FullAt.UTC() // as the binary encoding gives it back
	}
	if err := s.check(); err != nil {
		return State{}, &StateError{Path: path, Op: "load", Err: fmt.Errorf("corrupt state: %w", err)}
	}
	return s, nil
}

// Save writes the state to a temporary file in the same directory, syncs
// it, renames it over the state file and syncs the directory.
func (f *FileStore) Save(ctx context.Context, s State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := encodeState(s)
	if err != nil {
		return &StateError{Path: f.path, Op: "save", Err: err}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := writeAtomic(f.path, b); err != nil {
		return &StateError{Path: f.path, Op: "save", Err: err}
	}
	return nil
}

func (f *FileStore) storedBytes(ctx context.Context) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, f.path, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, f.path, nil
	}
	if err != nil {
		return nil, f.path, &StateError{Path: f.path, Op: "load", Err: err}
	}
	return b, f.path, nil
}

func (f *FileStore) saveEncoded(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := writeAtomic(f.path, b); err != nil {
		return &StateError{Path: f.path, Op: "save", Err: err}
	}
	return nil
}

func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
