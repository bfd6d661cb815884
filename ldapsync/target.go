package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Target is where a [Syncer] writes: the service's own directory of users,
// contacts and groups.
//
// Every method must be idempotent: a run that was interrupted is repeated
// from the last saved state, so a write may arrive again after the target
// already applied it (Unlink or Delete of an object already unlinked or
// absent returns nil). Group membership is carried by UpsertGroup; the
// Groups field of an upserted user reflects membership when the user was
// written and is not updated when only a group changes.
type Target interface {
	// Snapshot returns the linked (synchronised, not unlinked or deleted)
	// users and contacts, keyed by ID.
	Snapshot(ctx context.Context) (map[string]User, error)
	// Upsert creates or replaces a user or contact and links it (again).
	Upsert(ctx context.Context, u User) error
	// Disable marks a linked user disabled.
	Disable(ctx context.Context, id string) error
	// Unlink stops synchronising an object but keeps its address, as if
	// it had been created by a message in transit.
	Unlink(ctx context.Context, id string) error
	// Delete removes an object and its address.
	Delete(ctx context.Context, id string) error
	// UpsertGroup creates or replaces a group and its members.
	UpsertGroup(ctx context.Context, g Group) error
	// DeleteGroup removes a group.
	DeleteGroup(ctx context.Context, id string) error
}

// ErrInjected is returned by a [MemoryTarget] after [MemoryTarget.FailAfter]
// writes.
var ErrInjected = errors.New("ldapsync: injected target failure")

// MemoryTarget is an in-memory [Target], safe for concurrent use. Unlinked
// objects are kept (see [MemoryTarget.Unlinked]); deleted ones are gone.
type MemoryTarget struct {
	mu        sync.Mutex
	users     map[string]User
	unlinked  map[string]User
	groups    map[string]Group
	writes    int
	failAfter int // with failing set: writes fail once writes reaches it
	failing   bool
}

// NewMemoryTarget returns an empty MemoryTarget. The zero MemoryTarget is
// empty and ready to use too.
func NewMemoryTarget() *MemoryTarget {
	return &MemoryTarget{
		users:    map[string]User{},
		unlinked: map[string]User{},
		groups:   map[string]Group{},
	}
}

// FailAfter makes every write after the next n successful ones fail with
// [ErrInjected], as a crash of the target would; n < 0 turns failures off.
// It lets tests interrupt a run at any point.
func (t *MemoryTarget) FailAfter(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < 0 {
		t.failing = false
		return
	}
	t.failing, t.failAfter = true, t.writes+n
}

// Writes returns how many writes the target accepted so far.
func (t *MemoryTarget) Writes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writes
}

func (t *MemoryTarget) write(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.failing && t.writes >= t.failAfter {
		return ErrInjected
	}
	t.writes++
	if t.users == nil { // the zero MemoryTarget
		t.users, t.unlinked, t.groups = map[string]User{}, map[string]User{}, map[string]Group{}
	}
	return nil
}

// Snapshot returns copies of the linked users and contacts. Their Groups
// field is computed from the stored groups.
func (t *MemoryTarget) Snapshot(ctx context.Context) (map[string]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	member := map[string][]string{}
	for _, g := range t.groups {
		for _, m := range g.Members {
			member[m] = append(member[m], g.ID)
		}
	}
	out := make(map[string]User, len(t.users))
	for id, u := range t.users {
		c := u.clone()
		c.Groups = member[id]
		sort.Strings(c.Groups)
		out[id] = c
	}
	return out, nil
}

// Unlinked returns copies of the unlinked objects, keyed by ID.
func (t *MemoryTarget) Unlinked() map[string]User {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]User, len(t.unlinked))
	for id, u := range t.unlinked {
		out[id] = u.clone()
	}
	return out
}

// Groups returns copies of the stored groups, keyed by ID.
func (t *MemoryTarget) Groups() map[string]Group {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]Group, len(t.groups))
	for id, g := range t.groups {
		out[id] = g.clone()
	}
	return out
}

// Upsert stores u as linked.
func (t *MemoryTarget) Upsert(ctx context.Context, u User) error {
	if u.ID == "" {
		return errors.New("memory target: upsert: empty ID")
	}
	if u.Email == "" {
		return fmt.Errorf("memory target: upsert %s: empty email", u.ID)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.write(ctx); err != nil {
		return err
	}
	delete(t.unlinked, u.ID)
	t.users[u.ID] = u.clone()
	return nil
}

// Disable marks a linked user disabled.
func (t *MemoryTarget) Disable(ctx context.Context, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.users[id]
	if !ok {
		return fmt.Errorf("memory target: disable %s: no linked user", id)
	}
	if err := t.write(ctx); err != nil {
		return err
	}
	u.Disabled = true
	t.users[id] = u
	return nil
}

// Unlink moves a linked object to the unlinked set; it is a no-op for an
// object that is not linked.
func (t *MemoryTarget) Unlink(ctx context.Context, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.write(ctx); err != nil {
		return err
	}
	if u, ok := t.users[id]; ok {
		delete(t.users, id)
		t.unlinked[id] = u
	}
	return nil
}

// Delete removes an object, linked or unlinked; it is a no-op for an
// unknown ID.
func (t *MemoryTarget) Delete(ctx context.Context, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.write(ctx); err != nil {
		return err
	}
	delete(t.users, id)
	delete(t.unlinked, id)
	return nil
}

// UpsertGroup stores g.
func (t *MemoryTarget) UpsertGroup(ctx context.Context, g Group) error {
	if g.ID == "" {
		return errors.New("memory target: upsert group: empty ID")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.write(ctx); err != nil {
		return err
	}
	t.groups[g.ID] = g.clone()
	return nil
}

// DeleteGroup removes a group; it is a no-op for an unknown ID.
func (t *MemoryTarget) DeleteGroup(ctx context.Context, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.write(ctx); err != nil {
		return err
	}
	delete(t.groups, id)
	return nil
}
