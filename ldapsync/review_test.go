package ldapsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loggingTarget records every write a Syncer makes, in order, as text.
type loggingTarget struct {
	*MemoryTarget
	mu  sync.Mutex
	log []string
}

func newLoggingTarget() *loggingTarget { return &loggingTarget{MemoryTarget: NewMemoryTarget()} }

func (l *loggingTarget) add(op string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	extra := ""
	if u, ok := v.(User); ok {
		extra = fmt.Sprintf(" attrsNil=%v packed=%q", u.Attributes == nil, reviewPackedOf(u))
	}
	l.mu.Lock()
	l.log = append(l.log, op+" "+string(b)+extra)
	l.mu.Unlock()
}

func (l *loggingTarget) Upsert(ctx context.Context, u User) error {
	l.add("upsert", u)
	return l.MemoryTarget.Upsert(ctx, u)
}

func (l *loggingTarget) Disable(ctx context.Context, id string) error {
	l.add("disable", id)
	return l.MemoryTarget.Disable(ctx, id)
}

func (l *loggingTarget) Unlink(ctx context.Context, id string) error {
	l.add("unlink", id)
	return l.MemoryTarget.Unlink(ctx, id)
}

func (l *loggingTarget) Delete(ctx context.Context, id string) error {
	l.add("delete", id)
	return l.MemoryTarget.Delete(ctx, id)
}

func (l *loggingTarget) UpsertGroup(ctx context.Context, g Group) error {
	l.add("upsert group", g)
	return l.MemoryTarget.UpsertGroup(ctx, g)
}

func (l *loggingTarget) DeleteGroup(ctx context.Context, id string) error {
	l.add("delete group", id)
	return l.MemoryTarget.DeleteGroup(ctx, id)
}

// callerStore is a caller's own StateStore over a MemoryStore (a field,
// not embedded): runs on it never take the encoded path.
type callerStore struct{ m *MemoryStore }

func (c callerStore) Load(ctx context.Context) (State, error) { return c.m.Load(ctx) }
func (c callerStore) Save(ctx context.Context, s State) error { return c.m.Save(ctx, s) }
func reviewID(kind, i int) string                             { return fmt.Sprintf("%08x-%04x-4000-8000-000000000000", i, kind) }
func reviewDN(i int) string                                   { return fmt.Sprintf("CN=R%d,OU=People,DC=x", i) }
func reviewAddr(i int) string                                 { return fmt.Sprintf("r%d@example.com", i) }
func reviewAttrs(i int) map[string][]string {
	return map[string][]string{"title": {fmt.Sprintf("T%d", i)}, "department": {"D", "E"}}
}
func reviewGroupDN(g int) string   { return fmt.Sprintf("CN=G%d,OU=Groups,DC=x", g) }
func reviewContactID(i int) string { return reviewID(0x2222, i) }
func reviewGroupID(g int) string   { return reviewID(0x1111, g) }
func reviewUserID(i int) string    { return reviewID(0, i) }
func reviewCopy(r *Record) *Record { c := *r; return &c }
func reviewWM(usn int64) Watermark { return Watermark{Source: "usn", USN: usn} }
func reviewRead(full bool, usn int64) *readResult {
	return &readResult{full: full, records: map[string]*Record{}, watermark: reviewWM(usn)}
}
func reviewUserRec(i int) *Record {
	return &Record{Kind: KindUser, DN: reviewDN(i), Email: reviewAddr(i), DisplayName: fmt.Sprintf("R %d", i)}
}
func reviewContactRec(i int) *Record {
	return &Record{Kind: KindContact, DN: fmt.Sprintf("CN=C%d,DC=x", i), Email: fmt.Sprintf("c%d@partner.example.com", i)}
}
func reviewGroupRec(g int, members ...int) *Record {
	r := &Record{Kind: KindGroup, DN: reviewGroupDN(g), DisplayName: fmt.Sprintf("G%d", g)}
	for _, m := range members {
		r.MemberDNs = append(r.MemberDNs, reviewDN(m))
	}
	return r
}
func reviewWithEmail(r *Record, email string, aliases ...string) *Record {
	r.Email, r.Aliases = email, aliases
	return r
}

// reviewDirectory is the synthetic directory of the differential tests:
// users (some with packed attributes, some with maps, one disabled, two
// sharing an address), contacts and groups (one whose address is held).
func reviewDirectory(n int) map[string]*Record {
	recs := map[string]*Record{}
	for i := range n {
		r := reviewUserRec(i)
		switch {
		case i%3 == 0:
			reviewSetPacked(r, reviewAttrs(i))
		case i%5 == 0:
			r.Attributes = reviewAttrs(i)
		}
		if i%4 == 1 {
			r.Aliases = []string{fmt.Sprintf("alias%d@example.com", i), fmt.Sprintf("alias%d@other.example.net", i)}
		}
		recs[reviewUserID(i)] = r
	}
	recs[reviewUserID(7)].Disabled = true
	// Two users claiming one address: both held.
	recs[reviewUserID(11)].Aliases = []string{"shared@example.com"}
	recs[reviewUserID(12)].Aliases = []string{"shared@example.com"}
	for i := range 3 {
		r := reviewContactRec(i)
		if i == 1 {
			reviewSetPacked(r, reviewAttrs(100+i))
		}
		recs[reviewContactID(i)] = r
	}
	recs[reviewGroupID(0)] = reviewGroupRec(0, 0, 1, 2, 3, 4, 5, 6, 7, 11, 12)
	// A group whose address is a user's alias: its address is held.
	recs[reviewGroupID(1)] = reviewWithEmail(reviewGroupRec(1, 8, 9, 10), "alias9@example.com")
	recs[reviewGroupID(2)] = reviewWithEmail(reviewGroupRec(2, 13, 14), "g2@example.com")
	return recs
}

type reviewStep struct {
	name string
	read func() *readResult
}

// reviewSteps is a sequence of reads: a full one, incremental changes
// (an attribute, a user disabled alone, a removal), a forced full read
// whose removals exceed MaxSyncDeletions, and a full read with everyone
// back.
func reviewSteps(n int) []reviewStep {
	return []reviewStep{
		{"first full", func() *readResult {
			res := reviewRead(true, 1)
			res.records = reviewDirectory(n)
			return res
		}},
		{"incremental", func() *readResult {
			res := reviewRead(false, 2)
			d := reviewDirectory(n)
			r3 := reviewCopy(d[reviewUserID(3)])
			reviewSetPacked(r3, map[string][]string{"title": {"Changed"}})
			res.records[reviewUserID(3)] = r3
			r4 := reviewCopy(d[reviewUserID(4)])
			r4.Disabled = true
			res.records[reviewUserID(4)] = r4
			r10 := reviewCopy(d[reviewUserID(10)])
			r10.Attributes = nil
			reviewSetPacked(r10, reviewAttrs(10)) // the same attributes, packed now
			res.records[reviewUserID(10)] = r10
			res.deleted = []string{reviewUserID(5)}
			return res
		}},
		{"full with removals withheld", func() *readResult {
			res := reviewRead(true, 3)
			d := reviewDirectory(n)
			for _, i := range []int{5, 15, 16, 17, 18} {
				delete(d, reviewUserID(i))
			}
			reviewSetPacked(d[reviewUserID(3)], map[string][]string{"title": {"Changed"}})
			d[reviewUserID(4)].Disabled = true
			d[reviewUserID(19)].DisplayName = "Renamed"
			d[reviewUserID(20)].Disabled = true
			d[reviewUserID(25)].Disabled = true // and renamed: written whole
			d[reviewUserID(25)].DisplayName = "Disabled and renamed"
			res.records = d
			return res
		}},
		{"full, everyone back", func() *readResult {
			res := reviewRead(true, 4)
			d := reviewDirectory(n)
			d[reviewUserID(12)].Aliases = nil // the shared address released
			reviewSetPacked(d[reviewUserID(21)], map[string][]string{"mobile": {"+1"}})
			res.records = d
			return res
		}},
		{"incremental after", func() *readResult {
			res := reviewRead(false, 5)
			d := reviewDirectory(n)
			r := reviewCopy(d[reviewUserID(22)])
			r.Email = "moved22@example.com"
			res.records[reviewUserID(22)] = r
			res.deleted = []string{reviewUserID(23)}
			return res
		}},
	}
}

type reviewRun struct {
	log    []string
	report *Report
	err    string
	state  State
}

// reviewRuns runs steps through a Syncer made by mk for every step (the
// same one when reuse), on store, and records the writes, reports and
// states.
func reviewRuns(t *testing.T, cfg Config, store StateStore, load func() (State, error), steps []reviewStep, reuse bool, opts ...Option) []reviewRun {
	t.Helper()
	target := newLoggingTarget()
	var s *Syncer
	var out []reviewRun
	for _, st := range steps {
		if s == nil || !reuse {
			var err error
			s, err = NewSyncer(cfg, target, store, opts...)
			require.NoError(t, err)
		}
		read := st.read
		s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
			return read(), "h", nil
		}
		plan, planErr := s.Plan(context.Background())
		before := len(target.log)
		rep, err := s.Run(context.Background())
		r := reviewRun{log: append([]string(nil), target.log[before:]...), report: rep}
		if err != nil {
			r.err = err.Error()
		}
		if planErr != nil {
			assert.Equal(t, r.err, planErr.Error(), "%s: Plan's error is Run's", st.name)
		} else {
			assert.Empty(t, r.err, st.name)
		}
		if plan != nil {
			assert.Equal(t, planLog(plan), r.log, "%s: Run writes what Plan returns", st.name)
		}
		if rep != nil {
			rep.Duration = 0
		}
		r.state, err = load()
		require.NoError(t, err, st.name)
		r.state.Watermark.FullAt = time.Time{}
		out = append(out, r)
	}
	return out
}

// planLog is the log of the writes of plan, as a loggingTarget has them.
func planLog(plan *Plan) []string {
	l := newLoggingTarget()
	for _, c := range plan.Changes {
		switch {
		case c.Op == OpDisable && c.viaDisable:
			l.add("disable", c.ID)
		case c.User != nil:
			l.add("upsert", *c.User)
		case c.Group != nil:
			l.add("upsert group", *c.Group)
		case c.Op == OpUnlink:
			l.add("unlink", c.ID)
		case c.Op == OpDelete:
			l.add("delete", c.ID)
		case c.Op == OpDeleteGroup:
			l.add("delete group", c.ID)
		}
	}
	return l.log
}

func reviewCompare(t *testing.T, steps []reviewStep, want, got []reviewRun) {
	t.Helper()
	for i, st := range steps {
		assert.Equal(t, want[i].err, got[i].err, "%s: error", st.name)
		assert.Equal(t, want[i].log, got[i].log, "%s: target writes", st.name)
		assert.Equal(t, want[i].report, got[i].report, "%s: report", st.name)
		assert.Equal(t, want[i].state, got[i].state, "%s: saved state", st.name)
	}
}

func reviewConfig() Config {
	return Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 2,
		AcknowledgeDisabledAccounts: true, IncludeContacts: true, FilterEmailDomains: []string{"example.com", "partner.example.com"}}
}

// TestEncodedRunWritesAsAStoreOfTheCallers: a Syncer on a MemoryStore or
// FileStore (full runs encode their next state first and write users made
// again from it) writes to the target, reports and saves exactly what a
// Syncer on a caller's own store does, through disabled users, contacts,
// held addresses, packed and mapped attributes, withheld removals and
// incremental runs.
func TestEncodedRunWritesAsAStoreOfTheCallers(t *testing.T) {
	steps := reviewSteps(40)
	cfg := reviewConfig()
	plainMem := NewMemoryStore()
	want := reviewRuns(t, cfg, callerStore{plainMem}, func() (State, error) { return plainMem.Load(context.Background()) }, steps, true)
	require.NotEmpty(t, want[0].log)
	require.Contains(t, want[2].err, "MaxSyncDeletions")

	t.Run("memory store, one Syncer", func(t *testing.T) {
		m := NewMemoryStore()
		got := reviewRuns(t, cfg, m, func() (State, error) { return m.Load(context.Background()) }, steps, true)
		reviewCompare(t, steps, want, got)
	})
	t.Run("file store, a Syncer per run", func(t *testing.T) {
		f := NewFileStore(filepath.Join(t.TempDir(), "state"))
		got := reviewRuns(t, cfg, f, func() (State, error) { return f.Load(context.Background()) }, steps, false)
		reviewCompare(t, steps, want, got)
	})
	t.Run("memory store without kept state", func(t *testing.T) {
		m := NewMemoryStore()
		got := reviewRuns(t, cfg, m, func() (State, error) { return m.Load(context.Background()) }, steps, true, WithoutKeptState())
		reviewCompare(t, steps, want, got)
	})
}

// reviewSetPacked gives r the attributes m packed, as records read from
// the directory hold them.
func reviewSetPacked(r *Record, m map[string][]string) { r.Attributes, r.attrs = nil, packAttrs(m) }

// reviewPackedOf returns the packed attributes of u (none for a target).
func reviewPackedOf(u User) string { return string(u.attrs) }

// TestEncodedRunFailingWritesAsAStoreOfTheCallers: a full run whose
// target fails part-way, then runs again, writes, reports and saves what
// a run on a caller's store does, for every point of failure.
func TestEncodedRunFailingWritesAsAStoreOfTheCallers(t *testing.T) {
	steps := reviewSteps(40)
	cfg := reviewConfig()
	for _, failAt := range []int{0, 1, 5, 20, 41, 44, 47} {
		run := func(store StateStore, load func() (State, error)) []reviewRun {
			target := newLoggingTarget()
			var out []reviewRun
			for k, st := range steps[:3] {
				s, err := NewSyncer(cfg, target, store)
				require.NoError(t, err)
				read := st.read
				s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
					return read(), "h", nil
				}
				for attempt := range 2 {
					if k == 0 && attempt == 0 || k == 2 && attempt == 0 {
						target.FailAfter(failAt)
					} else {
						target.FailAfter(-1)
					}
					before := len(target.log)
					rep, err := s.Run(context.Background())
					r := reviewRun{log: append([]string(nil), target.log[before:]...), report: rep}
					if err != nil {
						r.err = err.Error()
					}
					if rep != nil {
						rep.Duration = 0
					}
					r.state, err = load()
					require.NoError(t, err)
					r.state.Watermark.FullAt = time.Time{}
					out = append(out, r)
				}
			}
			return out
		}
		plain := NewMemoryStore()
		want := run(callerStore{plain}, func() (State, error) { return plain.Load(context.Background()) })
		m := NewMemoryStore()
		got := run(m, func() (State, error) { return m.Load(context.Background()) })
		for i := range want {
			assert.Equal(t, want[i].err, got[i].err, "fail at %d, run %d: error", failAt, i)
			assert.Equal(t, want[i].log, got[i].log, "fail at %d, run %d: writes", failAt, i)
			assert.Equal(t, want[i].report, got[i].report, "fail at %d, run %d: report", failAt, i)
			assert.Equal(t, want[i].state, got[i].state, "fail at %d, run %d: state", failAt, i)
		}
	}
}

// TestEncodedRunBeyondMaxEncoding: a full run whose encoding is too large
// to be located by spans still writes every planned user whole and saves
// its state.
func TestEncodedRunBeyondMaxEncoding(t *testing.T) {
	steps := reviewSteps(40)
	cfg := reviewConfig()
	plain := NewMemoryStore()
	want := reviewRuns(t, cfg, callerStore{plain}, func() (State, error) { return plain.Load(context.Background()) }, steps, true)
	old := maxEncoding
	maxEncoding = 200
	defer func() { maxEncoding = old }()
	m := NewMemoryStore()
	got := reviewRuns(t, cfg, m, func() (State, error) { return m.Load(context.Background()) }, steps, true)
	reviewCompare(t, steps, want, got)
}

// cancellingTarget cancels the run's context at its at-th upsert (which
// the MemoryTarget then refuses), or fails that upsert.
type cancellingTarget struct {
	*MemoryTarget
	n, at  int
	fail   bool
	cancel context.CancelFunc
	during int // goroutines making users at the first upsert
}

func (c *cancellingTarget) Upsert(ctx context.Context, u User) error {
	c.n++
	if c.n == 1 {
		c.during = goroutinesIn("ldapsync.makeUsers")
	}
	if c.n == c.at {
		if c.fail {
			return errors.New("refused")
		}
		c.cancel()
	}
	return c.MemoryTarget.Upsert(ctx, u)
}

// goroutinesIn counts the goroutines whose stack names fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), fn)
}

// TestEncodedRunLeavesNoGoroutine: a full run that makes its users from
// the encoding in a goroutine ends it when the run is cancelled or a
// write fails part-way (the goroutine ahead of the writes, blocked on its
// channel), saves nothing then, and the next run completes.
func TestEncodedRunLeavesNoGoroutine(t *testing.T) {
	const n = 2000 // well beyond the channel's 256 users made ahead
	for _, fail := range []bool{false, true} {
		for _, at := range []int{1, 300, n - 1} {
			ctx, cancel := context.WithCancel(context.Background())
			target := &cancellingTarget{MemoryTarget: NewMemoryTarget(), at: at, fail: fail, cancel: cancel}
			store := NewMemoryStore()
			s, err := NewSyncer(Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 5}, target, store)
			require.NoError(t, err)
			full := syntheticRead(n)
			s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
				return full, "h", nil
			}
			rep, err := s.Run(ctx)
			cancel()
			if fail {
				var te *TargetError
				require.ErrorAs(t, err, &te, "fail at %d", at)
			} else {
				require.ErrorIs(t, err, context.Canceled, "cancel at %d", at)
			}
			require.NotNil(t, rep)
			assert.Equal(t, at-1, len(rep.Added), "fail %v at %d: the users written before", fail, at)
			require.Equal(t, 1, target.during, "the users are made in a goroutine while writing")
			assert.Zero(t, goroutinesIn("ldapsync.makeUsers"), "fail %v at %d: no goroutine left", fail, at)
			st, err := store.Load(context.Background())
			require.NoError(t, err)
			assert.Zero(t, st.Version, "nothing saved")

			target.at = -1
			rep, err = s.Run(context.Background())
			require.NoError(t, err)
			assert.Equal(t, n+n/100-(at-1), len(rep.Added), "fail %v at %d: the rest written", fail, at)
			snap, err := target.Snapshot(context.Background())
			require.NoError(t, err)
			assert.Len(t, snap, n)
		}
	}
}

// TestEncodedRunDisableFallsBackToUpsert: a user disabled alone whose
// Disable fails (the target lost it) is written whole, as planned, also
// when the run makes its users from the encoding.
func TestEncodedRunDisableFallsBackToUpsert(t *testing.T) {
	cfg := reviewConfig()
	steps := reviewSteps(40)
	run := func(store StateStore) []string {
		target := newLoggingTarget()
		for i, read := range []func() *readResult{steps[0].read, func() *readResult {
			res := reviewRead(false, 2)
			r := reviewUserRec(3) // packed attributes, a member of a group
			reviewSetPacked(r, reviewAttrs(3))
			r.Disabled = true
			res.records[reviewUserID(3)] = r
			res.present = map[string]string{}
			for id := range reviewDirectory(40) {
				res.present[id] = ""
			}
			return res
		}} {
			s, err := NewSyncer(cfg, target, store)
			require.NoError(t, err)
			s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
				return read(), "h", nil
			}
			if i == 1 {
				require.NoError(t, target.MemoryTarget.Delete(context.Background(), reviewUserID(3)))
				target.log = nil
			}
			rep, err := s.Run(context.Background())
			require.NoError(t, err)
			if i == 1 {
				assert.Equal(t, []string{reviewUserID(3)}, rep.Disabled)
			}
		}
		snap, err := target.Snapshot(context.Background())
		require.NoError(t, err)
		u := snap[reviewUserID(3)]
		assert.True(t, u.Disabled)
		assert.Equal(t, reviewAttrs(3), u.Attributes)
		var mine []string
		for _, l := range target.log {
			if strings.Contains(l, reviewUserID(3)) && !strings.HasPrefix(l, "upsert group") {
				mine = append(mine, l)
			}
		}
		return mine
	}
	want := run(callerStore{NewMemoryStore()})
	require.Len(t, want, 2, "a Disable, then the Upsert")
	require.True(t, strings.HasPrefix(want[0], "disable ") && strings.HasPrefix(want[1], "upsert "), "%v", want)
	assert.Equal(t, want, run(NewFileStore(filepath.Join(t.TempDir(), "state"))))
	assert.Equal(t, want, run(NewMemoryStore()))
}

// TestStateEncodingBufferFitsWithALargeGroupFirst: a large group among
// the first objects in hash order (those a sample of the state would
// hold) does not make the buffer of a new encoding several times the
// encoding.
func TestStateEncodingBufferFitsWithALargeGroupFirst(t *testing.T) {
	const users, members = 40000, 100000
	st := State{Version: StateVersion, Objects: make(map[string]*ObjectState, users+1)}
	hashes := make([]uint64, 0, users)
	for i := range users {
		id := reviewUserID(i)
		r := reviewUserRec(i)
		st.Objects[id] = &ObjectState{Source: r, Applied: "0123456789abcdef0123456789abcdef", AppliedKind: KindUser}
		hashes = append(hashes, keyHash(id))
	}
	sort.Slice(hashes, func(i, j int) bool { return hashes[i] < hashes[j] })
	limit := hashes[2048] // among the first 4,096 objects in hash order
	gid := ""
	for g := 0; gid == ""; g++ {
		if id := reviewGroupID(g); keyHash(id) < limit {
			gid = id
		}
	}
	g := &Record{Kind: KindGroup, DN: "CN=All,DC=x", DisplayName: "All"}
	for i := range members {
		g.Members = append(g.Members, reviewID(0x3333, i))
	}
	st.Objects[gid] = &ObjectState{Source: g, Applied: "0123456789abcdef0123456789abcdef", AppliedKind: KindGroup}

	b, _, err := encodeStateReusing(st, nil, nil, nil)
	require.NoError(t, err)
	t.Logf("encoding %d bytes, buffer %d bytes (%d bytes at 256 per object)", len(b), cap(b), 64+(users+1)*256)
	assert.LessOrEqual(t, cap(b), 2*len(b), "the buffer is at most twice the encoding")
}

// TestFailedRunReportListsStayNil: a run whose first write fails reports
// nothing applied with nil lists, as before the lists were presized (a
// caller comparing reports, or testing a list against nil, sees no
// difference).
func TestFailedRunReportListsStayNil(t *testing.T) {
	steps := reviewSteps(40)
	target := NewMemoryTarget()
	target.FailAfter(0)
	s, err := NewSyncer(reviewConfig(), target, NewMemoryStore())
	require.NoError(t, err)
	s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
		return steps[0].read(), "h", nil
	}
	rep, err := s.Run(context.Background())
	require.ErrorIs(t, err, ErrInjected)
	require.NotNil(t, rep)
	assert.Nil(t, rep.Added, "nothing was added")
	assert.Nil(t, rep.Updated)
}

// TestHeldGroupAddressStaysHeld: a group whose address another object
// claims too is written without it, on the run that finds the duplicate
// and on every later run while it lasts ("none of them was changed").
func TestHeldGroupAddressStaysHeld(t *testing.T) {
	read := func(usn int64) *readResult {
		res := reviewRead(true, usn)
		u := reviewUserRec(1)
		u.Aliases = []string{"team@example.com"}
		res.records[reviewUserID(1)] = u
		res.records[reviewUserID(2)] = reviewUserRec(2)
		res.records[reviewGroupID(1)] = reviewWithEmail(reviewGroupRec(1, 2), "team@example.com")
		return res
	}
	target := NewMemoryTarget()
	s, err := NewSyncer(Config{Host: "ldap.example.test", RootDN: "DC=x", MaxSyncDeletions: 5}, target, NewMemoryStore())
	require.NoError(t, err)
	for usn := int64(1); usn <= 3; usn++ {
		s.readFn = func(context.Context, Watermark, func(string) bool) (*readResult, string, error) {
			return read(usn), "h", nil
		}
		rep, err := s.Run(context.Background())
		require.NoError(t, err)
		require.Contains(t, strings.Join(rep.Warnings, "\n"), "address team@example.com is on 2 objects", "run %d", usn)
		g, ok := target.Groups()[reviewGroupID(1)]
		require.True(t, ok, "run %d: the group is synchronised", usn)
		assert.Empty(t, g.Email, "run %d: the held address is not written to the group", usn)
		assert.Equal(t, []string{reviewUserID(2)}, g.Members, "run %d", usn)
	}
}
