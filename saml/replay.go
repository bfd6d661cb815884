package saml

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// DefaultReplayCacheSize is the capacity of the replay cache a
// [ServiceProvider] creates when [Config.ReplayCache] is nil.
const DefaultReplayCacheSize = 100000

// ReplayCache records the IDs of accepted assertions so that each is
// accepted once. Seen records id until the time until and reports whether
// id was already recorded and not yet forgotten. It must be safe for
// concurrent use; an implementation shared between processes (a database
// or Redis SET NX with expiry) makes replay protection hold across them.
type ReplayCache interface {
	Seen(ctx context.Context, id string, until time.Time) (bool, error)
}

// ReplayCacheOption changes a [MemoryReplayCache].
type ReplayCacheOption func(*MemoryReplayCache)

// WithReplayClock sets the clock the cache uses to forget expired entries
// (default time.Now).
func WithReplayClock(now func() time.Time) ReplayCacheOption {
	return func(c *MemoryReplayCache) {
		if now != nil {
			c.now = now
		}
	}
}

// MemoryReplayCache is an in-process [ReplayCache] holding at most a fixed
// number of IDs. Entries are forgotten once their until time has passed.
// When the cache is full of live entries, the entry that expires first is
// dropped to make room, so size it above the number of logins expected
// within an assertion lifetime. The zero value is a cache of
// [DefaultReplayCacheSize] IDs using time.Now.
type MemoryReplayCache struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]*replayEntry
	byUntil replayHeap
}

type replayEntry struct {
	id    string
	until time.Time
	index int
}

// NewMemoryReplayCache returns a cache of at most max IDs; max <= 0 means
// [DefaultReplayCacheSize].
func NewMemoryReplayCache(max int, opts ...ReplayCacheOption) *MemoryReplayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	c := &MemoryReplayCache{max: max, now: time.Now, entries: make(map[string]*replayEntry)}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// Seen implements [ReplayCache].
func (c *MemoryReplayCache) Seen(ctx context.Context, id string, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil { // the zero value
		c.entries = make(map[string]*replayEntry)
	}
	if c.max <= 0 {
		c.max = DefaultReplayCacheSize
	}
	if c.now == nil {
		c.now = time.Now
	}
	now := c.now()
	for len(c.byUntil) > 0 && !c.byUntil[0].until.After(now) {
		e := heap.Pop(&c.byUntil).(*replayEntry)
		delete(c.entries, e.id)
	}
	if e, ok := c.entries[id]; ok {
		if until.After(e.until) {
			e.until = until
			heap.Fix(&c.byUntil, e.index)
		}
		return true, nil
	}
	if !until.After(now) {
		// Already expired: nothing to remember, the time checks refuse it.
		return false, nil
	}
	for len(c.entries) >= c.max {
		e := heap.Pop(&c.byUntil).(*replayEntry)
		delete(c.entries, e.id)
	}
	e := &replayEntry{id: id, until: until}
	c.entries[id] = e
	heap.Push(&c.byUntil, e)
	return false, nil
}

// Len returns the number of IDs currently remembered.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

type replayHeap []*replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h replayHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *replayHeap) Push(x any) {
	e := x.(*replayEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *replayHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return e
}
