package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// Multi runs several integrations into one [Target], as a service does
// with one integration per domain or child domain. Each round reads every
// directory first; when any of them fails, removals pause for all of them
// in that round (a missing domain must not look like its users left), and
// everything else is still applied. An address claimed by objects of two
// integrations is reported in [MultiReport.Conflicts] and as a warning in
// both integrations' reports.
//
// The Syncers keep their own state stores; they should share the target.
type Multi struct {
	syncers []*Syncer
	names   []string
}

// NewMulti returns a Multi over the given Syncers, run in the given order.
// Each integration is named by its Config.Name, which must be set and
// unique.
func NewMulti(syncers ...*Syncer) (*Multi, error) {
	if len(syncers) == 0 {
		return nil, fmt.Errorf("%w: Multi: no integrations", ErrInvalidConfig)
	}
	m := &Multi{}
	seen := map[string]bool{}
	for i, s := range syncers {
		if s == nil {
			return nil, fmt.Errorf("%w: Multi: integration %d is nil", ErrInvalidConfig, i)
		}
		name := s.cfg.Name
		if name == "" {
			return nil, fmt.Errorf("%w: Multi: integration %d: Name is empty; each integration needs a unique name", ErrInvalidConfig, i)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: Multi: integration name %q is used twice", ErrInvalidConfig, name)
		}
		seen[name] = true
		for j, o := range m.syncers {
			if sameStore(s.store, o.store) {
				return nil, fmt.Errorf("%w: Multi: integrations %q and %q share one state store; each needs its own, or each reads the other's objects as removals", ErrInvalidConfig, m.names[j], name)
			}
		}
		m.syncers = append(m.syncers, s)
		m.names = append(m.names, name)
	}
	return m, nil
}

// IntegrationReport is the outcome of one integration in a [Multi] round.
type IntegrationReport struct {
	Name   string  `json:"name"`
	Report *Report `json:"report,omitempty"` // nil when the integration could not be read
	Err    error   `json:"-"`
	Error  string  `json:"error,omitempty"` // Err as text, for a stored or logged report
}

// AddressClaim is one object claiming an address.
type AddressClaim struct {
	Integration string `json:"integration"`
	ID          string `json:"id"`
	DN          string `json:"dn"`
}

// AddressConflict is an address claimed by objects of more than one
// integration.
type AddressConflict struct {
	Address string         `json:"address"`
	Claims  []AddressClaim `json:"claims"`
}

// MultiReport describes one [Multi.Run] round.
type MultiReport struct {
	Integrations []IntegrationReport `json:"integrations"`
	// RemovalsPaused says why removals were paused this round: for every
	// integration when one could not be read, for those applied after it
	// when one failed to apply its changes; "" when they were not paused.
	RemovalsPaused string            `json:"removalsPaused,omitempty"`
	Conflicts      []AddressConflict `json:"conflicts,omitempty"`
}

// Integration returns the report of the named integration, or nil.
func (r *MultiReport) Integration(name string) *IntegrationReport {
	for i := range r.Integrations {
		if r.Integrations[i].Name == name {
			return &r.Integrations[i]
		}
	}
	return nil
}

// Run runs one round: every directory is read, then the changes of those
// that were read are applied. The error joins the integrations' errors,
// each naming its integration; the report is complete either way.
func (m *Multi) Run(ctx context.Context) (*MultiReport, error) {
	for _, s := range m.syncers {
		s.mu.Lock()
		defer s.mu.Unlock()
		defer s.dropDecoded()
	}
	rep := &MultiReport{Integrations: make([]IntegrationReport, len(m.syncers))}
	prepared := make([]*prepared, len(m.syncers))
	starts := make([]time.Time, len(m.syncers))
	var failed []string
	var errs []error
	for i, s := range m.syncers {
		rep.Integrations[i].Name = m.names[i]
		starts[i] = s.clock()
		p, err := s.prepareFor(ctx, true)
		if err != nil {
			rep.Integrations[i].Err, rep.Integrations[i].Error = err, err.Error()
			failed = append(failed, m.names[i])
			errs = append(errs, fmt.Errorf("ldapsync: integration %q: %w", m.names[i], err))
			continue
		}
		prepared[i] = p
	}
	if len(failed) > 0 {
		rep.RemovalsPaused = fmt.Sprintf("integration %s failed: removals are paused for every integration this round",
			strings.Join(quoteAll(failed), ", "))
	}
	rep.Conflicts = m.conflicts(prepared)
	for i, s := range m.syncers {
		p := prepared[i]
		if p == nil {
			continue
		}
		r, err := s.commit(ctx, p, starts[i], rep.RemovalsPaused)
		if r != nil {
			for _, c := range rep.Conflicts {
				for _, cl := range c.Claims {
					if cl.Integration == m.names[i] {
						r.Warnings = append(r.Warnings, conflictWarning(c))
						break
					}
				}
			}
		}
		rep.Integrations[i].Report = r
		if err != nil {
			rep.Integrations[i].Err, rep.Integrations[i].Error = err, err.Error()
			errs = append(errs, fmt.Errorf("ldapsync: integration %q: %w", m.names[i], err))
			if !errors.Is(err, ErrDeletionLimit) && !errors.Is(err, ErrEmptyRead) && rep.RemovalsPaused == "" {
				// Its changes were not all applied: the integrations after
				// it hold their removals too.
				rep.RemovalsPaused = fmt.Sprintf("integration %q failed to apply its changes: removals are paused for the integrations applied after it this round", m.names[i])
			}
		}
	}
	return rep, errors.Join(errs...)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

func conflictWarning(c AddressConflict) string {
	parts := make([]string, len(c.Claims))
	for i, cl := range c.Claims {
		parts[i] = fmt.Sprintf("%s (%s)", cl.DN, cl.Integration)
	}
	return fmt.Sprintf("address %s is claimed by several integrations: %s", c.Address, strings.Join(parts, "; "))
}

// conflicts finds addresses that objects of more than one integration hold
// linked after this round. The addresses an integration may claim are
// known by hash from its plan's address index (see claimSource); only the
// objects holding an address some other integration may claim too are
// looked at, so an incremental round costs no pass over every object.
func (m *Multi) conflicts(prepared []*prepared) []AddressConflict {
	var srcs []*claimSource
	for i, p := range prepared {
		if p != nil {
			srcs = append(srcs, newClaimSource(m.names[i], m.syncers[i].cfg, p.out))
		}
	}
	if len(srcs) < 2 {
		return nil
	}
	// The address hashes more than one integration may claim.
	shared := map[uint64]bool{}
	for i, s := range srcs {
		others := func(h uint64) bool {
			for j, o := range srcs {
				if j != i && o.mayClaim(h) {
					return true
				}
			}
			return false
		}
		s.eachClaim(func(h uint64) {
			if !shared[h] && others(h) {
				shared[h] = true
			}
		})
	}
	claims := map[string][]AddressClaim{}
	for _, h := range slices.Sorted(maps.Keys(shared)) {
		for _, s := range srcs {
			for _, id := range s.claimants(h) {
				o := s.object(id)
				if o == nil || o.Applied == "" || o.Source == nil {
					continue
				}
				addrs := []string{appliedGroupEmail(o)}
				if o.AppliedKind != KindGroup {
					addrs = append(addrs, o.Source.Aliases...)
				}
				for _, a := range addrs {
					if a == "" || keyHash(a) != h || !domainAllowed(s.cfg, a) {
						continue
					}
					claims[a] = append(claims[a], AddressClaim{Integration: s.name, ID: id, DN: o.Source.DN})
				}
			}
		}
	}
	var out []AddressConflict
	for _, a := range sortedKeys(claims) {
		c := claims[a]
		integrations := map[string]bool{}
		for _, cl := range c {
			integrations[cl.Integration] = true
		}
		if len(integrations) < 2 {
			continue
		}
		sort.SliceStable(c, func(i, j int) bool { return c[i].Integration < c[j].Integration })
		out = append(out, AddressConflict{Address: a, Claims: c})
	}
	return out
}

// claimSource is what one integration's plan says of the addresses its
// objects hold linked after the round, by keyHash of the address: every
// linked object claims its addresses in the index (idx, of the next state
// for a full plan, of the saved state for an incremental one), except the
// objects listed one by one in extra (an incremental plan's objects
// planned again; a full plan's held objects and removals).
type claimSource struct {
	name  string
	cfg   Config
	out   *outcome
	idx   *planIndex
	base  *savedState // incremental: the state planned from
	extra map[uint64][]string
}

func newClaimSource(name string, cfg Config, out *outcome) *claimSource {
	s := &claimSource{name: name, cfg: cfg, out: out, extra: map[uint64][]string{}}
	var extra []string
	switch {
	case out.base != nil && out.base.idx != nil:
		s.base, s.idx = out.base, out.base.idx
		extra = out.touched
	default: // a full plan (compute) always indexes its next state
		s.idx = out.idx
		extra = append(extra, out.held...)
		for _, c := range out.removals {
			extra = append(extra, c.ID)
		}
	}
	for _, id := range extra {
		s.addExtra(s.extra, id)
	}
	return s
}

// addExtra lists id under the hashes of the addresses it holds linked.
func (s *claimSource) addExtra(m map[uint64][]string, id string) {
	o := s.object(id)
	if o == nil || o.Applied == "" || o.Source == nil {
		return
	}
	add := func(a string) {
		if a == "" {
			return
		}
		h := keyHash(a)
		if l := m[h]; len(l) == 0 || l[len(l)-1] != id {
			m[h] = append(l, id)
		}
	}
	add(appliedGroupEmail(o))
	if o.AppliedKind != KindGroup {
		for _, a := range o.Source.Aliases {
			add(a)
		}
	}
}

// object returns the state of object id after the round.
func (s *claimSource) object(id string) *ObjectState {
	if o, ok := s.out.next.Objects[id]; ok || s.base == nil {
		return o
	}
	if _, planned := slices.BinarySearch(s.out.touched, id); planned {
		return nil // planned again and gone
	}
	return s.base.object(id)
}

// mayClaim reports whether an object may hold an address hashing to h.
func (s *claimSource) mayClaim(h uint64) bool {
	return len(s.extra[h]) > 0 || s.idx.claims.has(h)
}

// eachClaim calls f with every address hash an object may hold.
func (s *claimSource) eachClaim(f func(h uint64)) {
	for h := range s.idx.claims.keys {
		f(h)
	}
	for h := range s.extra {
		f(h)
	}
}

// claimants returns, sorted, the objects that may hold an address
// hashing to h.
func (s *claimSource) claimants(h uint64) []string {
	ids := append([]string(nil), s.extra[h]...)
	hs := s.idx.claims.values(nil, h)
	if s.base != nil {
		ids = append(ids, s.base.ids(hs)...)
	} else {
		ids = append(ids, s.out.idOf(hs)...)
	}
	sort.Strings(ids)
	return slices.Compact(ids)
}

// appliedGroupEmail returns the primary address o holds linked: a group's
// whose address is held keeps the one applied before.
func appliedGroupEmail(o *ObjectState) string {
	if o.AddressHeld {
		return o.AppliedEmail
	}
	return o.Source.Email
}

// domainAllowed applies FilterEmailDomains to one address.
func domainAllowed(cfg Config, a string) bool {
	if len(cfg.FilterEmailDomains) == 0 {
		return true
	}
	d := addressDomain(a)
	for _, f := range cfg.FilterEmailDomains {
		if strings.EqualFold(strings.TrimSpace(f), d) {
			return true
		}
	}
	return false
}

// sameStore reports whether two state stores are one: the same value, or
// file stores on the same path.
func sameStore(a, b StateStore) bool {
	if fa, ok := a.(*FileStore); ok {
		if fb, ok := b.(*FileStore); ok {
			return sameFile(fa.path, fb.path)
		}
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

func sameFile(a, b string) bool {
	if aa, err := filepath.Abs(a); err == nil {
		a = aa
	}
	if bb, err := filepath.Abs(b); err == nil {
		b = bb
	}
	return a == b
}
