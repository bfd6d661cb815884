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
