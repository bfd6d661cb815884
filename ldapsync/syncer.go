package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Option configures a [Syncer].
type Option func(*syncOptions)

type syncOptions struct {
	fullEvery time.Duration
	now       func() time.Time
	logger    *slog.Logger
	dial      Dialer
	resolver  *net.Resolver
	noKeep    bool
}

// WithNow sets the clock used for Report.Duration and certificate validity
// (default time.Now).
func WithNow(now func() time.Time) Option { return func(o *syncOptions) { o.now = now } }

// WithLogger reports the progress of long runs (pages read, changes
// applied) at debug and info level. Results and errors are never only
// logged: they are in the [Report] and the returned error.
func WithLogger(l *slog.Logger) Option { return func(o *syncOptions) { o.logger = l } }

// WithDialer replaces the TCP dialer, e.g. to go through a proxy or a
// test fault injector. Host name resolution is then the dialer's job.
func WithDialer(d Dialer) Option { return func(o *syncOptions) { o.dial = d } }

// WithFullSyncEvery makes a run read the whole directory when the last full
// read is older than d, even though the watermark would allow an
// incremental one. Full reads heal drift that no change record shows (an
// object restored with its old USN, a target changed by hand). Unchanged
// objects still cause no target writes. 0 (the default) never forces one.
func WithFullSyncEvery(d time.Duration) Option { return func(o *syncOptions) { o.fullEvery = d } }

// WithoutKeptState makes a [Syncer] keep nothing between runs: every run
// decodes the state from its store and plans over every object, as with
// a store of another type. It trades CPU for memory: by default a Syncer
// on a [MemoryStore] or [FileStore] keeps where the records of the state
// it saved last lie in the store's encoding, with an index of them (in
// the order of 100 bytes per directory object on top of the store; no
// decoded record), so that an incremental run costs in proportion to the
// changes instead of to the directory.
func WithoutKeptState() Option { return func(o *syncOptions) { o.noKeep = true } }

// WithResolver sets the resolver for directory host names (default
// net.DefaultResolver).
func WithResolver(r *net.Resolver) Option { return func(o *syncOptions) { o.resolver = r } }

// Syncer synchronises one directory into a [Target]. Runs of one Syncer
// are serialised; use one Syncer (and one state store) per integration.
//
// With a [MemoryStore] or [FileStore], a Syncer keeps where the records of
// the state it saved last lie in the store's encoding (unless
// [WithoutKeptState]), with an index of them, but no decoded record: while
// the store provably still holds that state (the same buffer; for a file,
// the same length and CRC-32C, checked over the whole file), the next run
// plans from it without loading it, an incremental read that names its
// changes is planned over the objects those changes affect (decoding
// their records only), and the save copies the encoded records of
// unchanged objects. A state saved by anything else is
// loaded as usual. Other stores are loaded and saved whole on every run.
type Syncer struct {
	cfg    Config
	target Target
	store  StateStore
	opts   syncOptions
	mu     sync.Mutex
	// saved is the state this Syncer saved last (see loadState).
	saved *savedState
	// readFn replaces read in tests of the planning and saving path.
	readFn func(ctx context.Context, prev Watermark, known func(id string) bool) (*readResult, string, error)
}

// NewSyncer validates cfg and returns a Syncer writing to target and
// keeping its state in store.
func NewSyncer(cfg Config, target Target, store StateStore, opts ...Option) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if target == nil {
		return nil, fmt.Errorf("%w: target: nil", ErrInvalidConfig)
	}
	if store == nil {
		return nil, fmt.Errorf("%w: state store: nil", ErrInvalidConfig)
	}
	s := &Syncer{cfg: cfg.WithDefaults(), target: target, store: store}
	for _, o := range opts {
		if o != nil {
			o(&s.opts)
		}
	}
	if s.opts.now == nil {
		s.opts.now = time.Now
	}
	return s, nil
}

// Format prints the integration's name and host with every verb, never
// its configuration: fmt would print the bind password from the
// unexported field without calling [Secret]'s methods.
func (s *Syncer) Format(f fmt.State, _ rune) {
	if s == nil {
		_, _ = f.Write([]byte("ldapsync.Syncer(nil)"))
		return
	}
	_, _ = fmt.Fprintf(f, "ldapsync.Syncer(%q %s)", s.cfg.Name, s.cfg.Host)
}

// clock reads the configured clock; time.Now for a Syncer not made by
// NewSyncer (whose run then fails in prepare).
func (s *Syncer) clock() time.Time {
	if s.opts.now == nil {
		return time.Now()
	}
	return s.opts.now()
}

// Config returns the configuration in use, with defaults applied.
func (s *Syncer) Config() Config { return s.cfg }

func (s *Syncer) log(ctx context.Context, msg string, attrs ...slog.Attr) {
	if s.opts.logger != nil {
		s.opts.logger.LogAttrs(ctx, slog.LevelInfo, msg, attrs...)
	}
}

// prepared is a computed run, ready to apply.
type prepared struct {
	host string
	out  *outcome
	base *savedState // the state planned from, when it was the one saved last
}

// prepare loads the state, reads the directory and computes the changes.
// Nothing is written.
func (s *Syncer) prepare(ctx context.Context) (*prepared, error) { return s.prepareFor(ctx, false) }

// prepareFor is prepare; toRun says the plan is for commit, which lets a
// full plan saved to one of this package's stores be made lean.
func (s *Syncer) prepareFor(ctx context.Context, toRun bool) (*prepared, error) {
	if s.target == nil || s.store == nil || s.opts.now == nil {
		return nil, fmt.Errorf("%w: Syncer: not made by NewSyncer", ErrInvalidConfig)
	}
	prev, base, err := s.loadState(ctx)
	if err != nil {
		return nil, err
	}
	if prev.Version != 0 && prev.Version != StateVersion {
		return nil, &StateError{Op: "load", Err: fmt.Errorf("version %d is not supported", prev.Version)}
	}
	wm, forced := prev.Watermark, ""
	if s.opts.fullEvery > 0 && wm.Source != "" && s.opts.now().Sub(wm.FullAt) >= s.opts.fullEvery {
		forced = fmt.Sprintf("the last full read is older than %v", s.opts.fullEvery)
		wm = Watermark{}
	}
	known := func(id string) bool {
		var o *ObjectState
		if base != nil {
			o = base.object(id) // prev.Objects is not decoded for a kept state
		} else {
			o = prev.Objects[id]
		}
		return o != nil && o.Source != nil
	}
	read := s.read
	if s.readFn != nil {
		read = s.readFn
	}
	res, host, err := read(ctx, wm, known)
	if err != nil && transient(err) && ctx.Err() == nil {
		// The connection broke mid-read (a dropped idle connection, a
		// restarted domain controller): nothing was applied, so read again
		// from the start on a new connection, possibly to the alternate.
		first := err
		res, host, err = read(ctx, wm, known)
		if err == nil {
			res.warnings = append(res.warnings, "the first read failed and was restarted: "+first.Error())
		}
	}
	if err != nil {
		return nil, err
	}
	if res.full {
		res.watermark.FullAt = s.opts.now().UTC()
		if forced != "" {
			res.fullReason = forced
		}
	} else {
		res.watermark.FullAt = prev.Watermark.FullAt
	}
	s.log(ctx, "ldapsync: directory read", slog.Bool("full", res.full), slog.Int("objects", len(res.records)))
	var snapshot map[string]User
	if res.full {
		snapshot, err = s.target.Snapshot(ctx)
		if err != nil {
			return nil, &TargetError{Op: "snapshot", Err: err}
		}
	}
	out := computeIncremental(s.cfg, prev, base, res, snapshot)
	if out == nil {
		if base != nil {
			// Planned in full: the whole state, decoded from the kept
			// encoding unless loaded by this run.
			if prev, err = base.state(); err != nil {
				var se *StateError
				if errors.As(err, &se) {
					if f, ok := s.store.(*FileStore); ok {
						se.Path = f.path
					}
				}
				s.saved = nil
				return nil, err
			}
		}
		out = computePlan(s.cfg, prev, res, snapshot, toRun && encodedStoreOf(s.store) != nil)
	}
	return &prepared{host: host, out: out, base: base}, nil
}

// read connects and reads the directory once. known reports whether the
// stored state holds the record of an object; objects an incremental read
// finds in scope without knowing them are read whole (see readUnknown).
func (s *Syncer) read(ctx context.Context, prev Watermark, known func(id string) bool) (*readResult, string, error) {
	sess, err := connect(ctx, s.cfg, connectOptions{dial: s.opts.dial, resolve: s.opts.dial == nil, bind: true, now: s.opts.now, resolver: s.opts.resolver})
	if err != nil {
		return nil, "", err
	}
	defer sess.Close()
	s.log(ctx, "ldapsync: connected", slog.String("host", sess.host))

	info, err := readRootDSE(ctx, sess)
	if err != nil {
		return nil, "", err
	}
	r := newReader(sess, s.cfg, info, s.opts.logger)
	r.known = known
	src := chooseSource(info)
	if _, ok := src.(dirSyncSource); ok && prev.Source == src.name() && prev.USN > 0 {
		// DirSync reports deletions (tombstones) and objects moved or
		// renamed themselves; every ID needs reading only when a
		// container changed.
		check := containersChangedSince(prev.USN)
		r.enumNeeded = func(ctx context.Context) (bool, error) { return check(ctx, r) }
	}
	res, err := src.read(ctx, r, prev)
	if err != nil {
		return nil, "", err
	}
	if err := r.readUnknown(ctx, res, known); err != nil {
		return nil, "", err
	}
	if len(info.controls) > 0 && !info.controls[oidPagedResults] {
		res.warnings = append(res.warnings, "the directory does not advertise the paged results control; a size limit would end the read early")
	}
	if info.globalCatalog {
		res.warnings = append(res.warnings, "connected to a Global Catalog port: group members from other domains are not available there")
	}
	return res, sess.host, nil
}

// transient reports whether a read failed in transport (connection closed
// or reset) rather than with an answer from the directory.
func transient(err error) bool {
	var re *ReadError
	if !errors.As(err, &re) {
		return false
	}
	var le *ldap.Error
	if errors.As(re.Err, &le) && le.ResultCode < ldap.ErrorNetwork {
		return false // the directory answered with a result code
	}
	return true
}

// Plan reads the directory and returns what [Syncer.Run] would do, without
// writing to the target or the state store. When the removals exceed
// MaxSyncDeletions, the plan lists them as withheld and the error wraps
// [ErrDeletionLimit], as Run's would.
func (s *Syncer) Plan(ctx context.Context) (*Plan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropDecoded()
	p, err := s.prepare(ctx)
	if err != nil {
		return nil, err
	}
	out := p.out
	plan := &Plan{Mode: modeOf(out), Host: p.host, Skipped: out.skipped, Warnings: out.warnings}
	if out.full && out.fullReason != "" {
		plan.Warnings = append([]string{"full read: " + out.fullReason}, plan.Warnings...)
	}
	// The plan is the caller's: users and groups are copies (records and
	// the state of the next run share their attribute maps and lists).
	for _, c := range out.changes {
		if c.User != nil {
			u := ownedUser(c.User)
			c.User = &u
		}
		if c.Group != nil {
			g := ownedGroup(c.Group)
			c.Group = &g
		}
		plan.Changes = append(plan.Changes, c)
	}
	if out.withheld {
		plan.Withheld = out.removals
		if out.emptyRead {
			return plan, emptyReadError(len(out.removals))
		}
		return plan, &DeletionLimitError{Planned: len(out.removals), Limit: s.cfg.MaxSyncDeletions}
	}
	plan.Changes = append(plan.Changes, out.removals...)
	return plan, nil
}

func modeOf(o *outcome) SyncMode {
	if o.full {
		return SyncFull
	}
	return SyncIncremental
}

// Run synchronises the directory into the target: it reads the directory
// (everything on the first run, otherwise the changes since the stored
// watermark), applies the policies, writes the changes to the target and
// then saves the state.
//
// A failed or incomplete read writes nothing. A target write that fails
// stops the run without saving the state, so the next run repeats the
// writes (targets are idempotent). When removals exceed MaxSyncDeletions
// none is applied, everything else is, the state is saved, and the error
// wraps [ErrDeletionLimit]. A read that finds no object at all in scope
// while earlier runs linked some withholds every removal the same way and
// returns an error wrapping [ErrEmptyRead]. The report describes what was applied, also
// when an error is returned after writes began.
func (s *Syncer) Run(ctx context.Context) (*Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropDecoded()
	start := s.clock()
	p, err := s.prepareFor(ctx, true)
	if err != nil {
		return nil, err
	}
	return s.commit(ctx, p, start, "")
}

// commit applies a prepared run and saves its state. A non-empty
// holdRemovals withholds every removal for that reason without an error,
// as when several integrations share a target and one of them failed.
func (s *Syncer) commit(ctx context.Context, p *prepared, start time.Time, holdRemovals string) (*Report, error) {
	out := p.out
	limitHit := out.withheld
	if holdRemovals != "" {
		out.withhold(holdRemovals)
	}
	rep := &Report{Mode: modeOf(out), Host: p.host, Skipped: ownedSkips(out.skipped), Warnings: out.warnings}
	if out.full && out.fullReason != "" {
		rep.Warnings = append([]string{"full read: " + out.fullReason}, rep.Warnings...)
	}
	finish := func() { rep.Duration = s.opts.now().Sub(start) }

	removals := out.removals
	if out.withheld {
		for _, c := range out.removals {
			rep.Withheld = append(rep.Withheld, c.ID)
		}
		removals = nil
	}
	total := len(out.changes) + len(removals)
	record := presized(rep, out.changes, removals)
	// A full plan saved to one of this package's stores is encoded before
	// anything is applied (an encoding that fails then writes nothing),
	// dropping its decoded records as they are encoded. A lean plan (see
	// computePlan) kept no user: each user it writes is made from the
	// encoding, or from the records the encoding could not locate and so
	// kept (see maxEncoding). A full run so holds the directory once,
	// encoded, while the target fills.
	var pre *encodedNext
	if total > 0 && out.base == nil && out.idx != nil && encodedStoreOf(s.store) != nil {
		pre = s.encodeNext(p.base, out)
		if pre.err != nil {
			finish()
			return rep, s.saveState(ctx, p.base, out, pre)
		}
		if pre.released {
			out.next.Objects = nil // every record dropped: the rest goes too
		}
	}
	var from func(id string, scratch *Record) (*Record, error) // the records users are made from
	switch {
	case !out.lean || total == 0:
	case pre != nil && pre.released:
		from = pre.enc.record
	default:
		next := out.next.Objects
		from = func(id string, _ *Record) (*Record, error) {
			if o := next[id]; o != nil && o.Source != nil {
				return o.Source, nil
			}
			return nil, fmt.Errorf("objects[%s]: no record in the next state", id)
		}
	}
	// The users are made ahead of the writes, in a goroutine of their
	// own, a bounded number at a time.
	var made chan madeUser
	if from != nil {
		made = make(chan madeUser, 256)
		stop, exited := make(chan struct{}), make(chan struct{})
		defer func() { close(stop); <-exited }() // it reads the encoding, which the Syncer keeps
		pol := out.idx.pol
		go func() {
			defer close(exited)
			makeUsers(from, pol, out.changes, made, stop)
		}()
	}
	done := 0
	for _, batch := range [][]Change{out.changes, removals} {
		for i := range batch {
			if err := ctx.Err(); err != nil {
				finish()
				return rep, err
			}
			c := batch[i]
			if c.encoded {
				m := <-made
				if m.err != nil {
					finish()
					return rep, &StateError{Op: "save", Err: m.err} // the state being saved, read back
				}
				c.User = &m.u
			}
			if err := s.apply(ctx, c); err != nil {
				finish()
				return rep, err
			}
			record(rep, c)
			// Applied: the plan's copy of the object can go (the state
			// to save holds what it needs of it).
			batch[i].User, batch[i].Group, batch[i].groups, batch[i].DN = nil, nil, nil, ""
			if done++; done%1000 == 0 {
				s.log(ctx, "ldapsync: applying", slog.Int("done", done), slog.Int("total", total))
			}
		}
	}
	if err := s.saveState(ctx, p.base, out, pre); err != nil {
		finish()
		return rep, err
	}
	finish()
	s.log(ctx, "ldapsync: run complete", slog.String("mode", string(rep.Mode)), slog.Int("writes", total))
	if out.emptyRead {
		return rep, emptyReadError(len(out.removals))
	}
	if limitHit {
		return rep, &DeletionLimitError{Planned: len(out.removals), Limit: s.cfg.MaxSyncDeletions}
	}
	return rep, nil
}

// emptyReadError is the error of a run whose read found nothing in scope.
func emptyReadError(planned int) error {
	return fmt.Errorf("%w: %s withheld; check the bind account's read access and RootDN", ErrEmptyRead, removals(planned))
}

func (s *Syncer) apply(ctx context.Context, c Change) error {
	var err error
	op := string(c.Op)
	owned := func() User {
		if c.encoded {
			return *c.User // made from the encoding for this write: the target's own
		}
		return ownedUser(c.User)
	}
	switch c.Op {
	case OpAdd, OpUpdate, OpEnable:
		op = "upsert"
		err = s.target.Upsert(ctx, owned())
	case OpDisable:
		if c.viaDisable {
			op = "disable"
			err = s.target.Disable(ctx, c.ID)
			if err != nil && ctx.Err() == nil {
				// The target may have lost the user: write it whole.
				op = "upsert"
				err = s.target.Upsert(ctx, owned())
			}
		} else {
			op = "upsert"
			err = s.target.Upsert(ctx, owned())
		}
	case OpAddGroup, OpUpdateGroup:
		op = "upsert group"
		err = s.target.UpsertGroup(ctx, ownedGroup(c.Group))
	case OpUnlink:
		err = s.target.Unlink(ctx, c.ID)
	case OpDelete:
		err = s.target.Delete(ctx, c.ID)
	case OpDeleteGroup:
		err = s.target.DeleteGroup(ctx, c.ID)
	default:
		err = errors.New("unknown change")
	}
	if err != nil {
		return &TargetError{Op: op, ID: c.ID, Err: err}
	}
	return nil
}

// madeUser is a user made from the encoding for a write (see makeUsers).
type madeUser struct {
	u   User
	err error
}

// makeUsers sends on made, in order, the user of every change of changes
// marked encoded, made from enc and owned by the target it goes to (see
// ownedUser), until it is done, fails, or stop is closed.
func makeUsers(from func(id string, scratch *Record) (*Record, error), pol *policies, changes []Change, made chan<- madeUser, stop <-chan struct{}) {
	var scratch Record // decoded into again for every user: what leaves is ownedUser's copy
	for i := range changes {
		c := &changes[i]
		if !c.encoded {
			continue
		}
		var m madeUser
		rec, err := from(c.ID, &scratch)
		if err != nil {
			m.err = err
		} else {
			u := pol.user(c.ID, rec) // as the plan made it
			u.Groups = c.groups
			m.u = ownedUser(&u)
		}
		select {
		case made <- m:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// presized returns record for r, giving each of r's ID lists, when its
// first ID is recorded, the room the writes in batches need.
func presized(r *Report, batches ...[]Change) func(r *Report, c Change) {
	n := map[*[]string]int{}
	for _, b := range batches {
		for _, c := range b {
			if l := listOf(r, c.Op); l != nil {
				n[l]++
			}
		}
	}
	return func(r *Report, c Change) {
		if l := listOf(r, c.Op); l != nil {
			if *l == nil {
				*l = make([]string, 0, n[l])
			}
			*l = append(*l, c.ID)
		}
	}
}

// listOf returns the list of r that names the objects of changes op.
func listOf(r *Report, op ChangeOp) *[]string {
	switch op {
	case OpAdd, OpAddGroup:
		return &r.Added
	case OpUpdate, OpUpdateGroup:
		return &r.Updated
	case OpDisable:
		return &r.Disabled
	case OpEnable:
		return &r.Enabled
	case OpUnlink:
		return &r.Unlinked
	case OpDelete, OpDeleteGroup:
		return &r.Deleted
	}
	return nil
}

// The records of unchanged objects come from the stored state, whose
// strings (IDs aside) share one buffer (see decodeStateV2). What leaves the
// syncer for longer than a run (target writes, the report) gets its own
// copies, so that it never keeps a whole old state alive.

func ownedUser(u *User) User {
	// The copies share one new buffer: one allocation for the text of the
	// user instead of one per string.
	n := len(u.DN) + len(u.Email) + len(u.DisplayName)
	values := 0
	for _, a := range u.Aliases {
		n += len(a)
	}
	for k, v := range u.Attributes {
		n += len(k)
		values += len(v)
		for _, x := range v {
			n += len(x)
		}
	}
	var b strings.Builder
	b.Grow(n)
	own := func(s string) string {
		start := b.Len()
		b.WriteString(s) // within the capacity: earlier strings stay valid
		return b.String()[start:]
	}
	c := *u
	c.DN, c.Email, c.DisplayName = own(u.DN), own(u.Email), own(u.DisplayName)
	c.Aliases = nil
	if len(u.Aliases) > 0 {
		c.Aliases = make([]string, len(u.Aliases))
		for i, a := range u.Aliases {
			c.Aliases[i] = own(a)
		}
	}
	c.Groups = append([]string(nil), u.Groups...) // IDs: strings of their own
	if u.Attributes != nil {
		m := make(map[string][]string, len(u.Attributes))
		all := make([]string, 0, values)
		for k, v := range u.Attributes {
			var own1 []string
			if len(v) > 0 {
				start := len(all)
				for _, x := range v {
					all = append(all, own(x))
				}
				own1 = all[start:len(all):len(all)]
			}
			m[own(k)] = own1
		}
		c.Attributes = m
	}
	if u.Attributes == nil && u.attrs != "" {
		// Packed (see attrBlock): the map is made here, of strings
		// sliced from a copy of the block.
		c.Attributes = attrBlock(strings.Clone(string(u.attrs))).toMap()
	}
	c.attrs = ""
	return c
}

func ownedGroup(g *Group) Group {
	c := g.clone()
	c.DN, c.Name, c.Email = strings.Clone(c.DN), strings.Clone(c.Name), strings.Clone(c.Email)
	return c
}

func ownedSkips(skips []Skip) []Skip {
	if len(skips) == 0 {
		return skips
	}
	out := make([]Skip, len(skips))
	for i, sk := range skips {
		out[i] = Skip{ID: sk.ID, DN: strings.Clone(sk.DN), Reason: strings.Clone(sk.Reason)}
	}
	return out
}
