package ldapsync

import "context"

// RunHoldingRemovals runs s with every removal withheld for reason, the
// way several integrations sharing a target pause removals when one fails.
func RunHoldingRemovals(ctx context.Context, s *Syncer, reason string) (*Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.opts.now()
	p, err := s.prepare(ctx)
	if err != nil {
		return nil, err
	}
	return s.commit(ctx, p, start, reason)
}

// TombstoneReads observes the tombstone reads (show-deleted control) of
// the runs made with the context [WithTombstoneReads] returns.
type TombstoneReads struct{ o *tombstoneObserver }

// WithTombstoneReads returns ctx carrying a fresh [TombstoneReads].
func WithTombstoneReads(ctx context.Context) (context.Context, *TombstoneReads) {
	o := &tombstoneObserver{}
	return context.WithValue(ctx, tombstoneObserverKey{}, o), &TombstoneReads{o: o}
}

// Outcomes lists, per incremental uSNChanged read, "read" (tombstones
// read and reported as deletions), "refused" (the bind account may not read
// them) or "not read" (the directory does not offer the control).
func (t *TombstoneReads) Outcomes() []string {
	t.o.mu.Lock()
	defer t.o.mu.Unlock()
	names := map[tombstoneOutcome]string{tombstonesNotRead: "not read", tombstonesRead: "read", tombstonesRefused: "refused"}
	out := make([]string, len(t.o.outcomes))
	for i, o := range t.o.outcomes {
		out[i] = names[o]
	}
	return out
}

// IDs lists the object IDs the tombstone reads reported deleted.
func (t *TombstoneReads) IDs() []string {
	t.o.mu.Lock()
	defer t.o.mu.Unlock()
	return append([]string(nil), t.o.ids...)
}

// WithoutDirSync returns ctx making runs ignore the DirSync control, so
// that an account allowed to use it is served by uSNChanged polling.
func WithoutDirSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, withoutDirSyncKey{}, true)
}

// SyncReplReads observes the incremental content-sync reads of the runs
// made with the context [WithSyncReplReads] returns.
type SyncReplReads struct{ o *syncReplObserver }

// WithSyncReplReads returns ctx carrying a fresh [SyncReplReads].
func WithSyncReplReads(ctx context.Context) (context.Context, *SyncReplReads) {
	o := &syncReplObserver{}
	return context.WithValue(ctx, syncReplObserverKey{}, o), &SyncReplReads{o: o}
}

// Outcomes lists, per incremental content-sync read, how removals were
// found: "delete phase" (named by the server), "present phase" (the IDs
// the server reported present), "enumerated: a container changed" or
// "enumerated" (every ID listed for another reason).
func (t *SyncReplReads) Outcomes() []string {
	t.o.mu.Lock()
	defer t.o.mu.Unlock()
	return append([]string(nil), t.o.how...)
}
