// Command syncbench runs gatehouse directory synchronisation against a real
// LDAP server and prints what it measured on one line of key=value pairs:
//
//   - full_ms: a full sync into an empty ldapsync.MemoryTarget, the
//     fastest of -runs;
//   - full_cpu_ms, incr_cpu_ms: the client's CPU time (user+system) of
//     those runs;
//   - read_ms, read_cpu_ms, plan_ms, apply_ms: the fastest full run split
//     in phases (see phases), read_cpu_ms being the client's CPU time
//     while it read the directory;
//   - server_cpu_ms, server_read_cpu_ms: with -server-pid, the LDAP
//     server's CPU time (user+system, all its threads) during the fastest
//     full run and during its read (-1 without -server-pid);
//   - raw_ms: the same paged search done with go-ldap alone (no sync);
//   - enum_ms: a paged go-ldap search of the object IDs alone, the
//     enumeration an incremental run does to find removals (with DirSync,
//     which reports deletions itself, only after a container changed);
//   - source: the change source of the incremental run (Watermark.Source:
//     dirsync, usn, syncrepl, timestamp);
//   - incr_ms: an incremental run after -changes users had their
//     displayName changed over LDAP (the run must update exactly those);
//   - rss_*: the process' peak resident set size (getrusage ru_maxrss)
//     at start and after the full sync;
//   - heap_peak: the highest heap growth during one more full sync after
//     the timed ones (runtime.MemStats.HeapAlloc, which counts garbage
//     until it is collected, sampled every millisecond);
//   - retained: live heap after the full sync (after a GC), with the
//     syncer, its state store and the target still held;
//   - target_bytes, target_rss: live heap and peak RSS growth of a
//     MemoryTarget filled with the same users and groups (laid out as a
//     sync hands them over) in a process of its own: the target's own
//     storage, without and with the collector's headroom (target_rss: the
//     median of 3 processes);
//   - sync_rss, sync_rss_min, sync_rss_max: the peak RSS growth of one
//     full sync into an empty MemoryTarget, each in a process of its own:
//     the median, lowest and highest of 3;
//   - over_heap_per_user / over_rss_per_user / over_retained_per_user:
//     (heap_peak, RSS growth or retained) minus target_bytes, divided by
//     the objects synchronised; over_target_rss_per_user: sync_rss minus
//     target_rss, divided by the objects synchronised, which is what a
//     sync costs at its peak beyond what storing the objects costs
//     (over_target_rss_min, _max: the same of the lowest and highest sync_rss).
//
// Example:
//
//	syncbench -host 127.0.0.1 -port 3891 -binddn cn=admin,dc=bench10k,dc=test \
//	    -password secret -root dc=bench10k,dc=test -expect 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-id/gatehouse/bench"
	"github.com/gatehouse-id/gatehouse/ldapsync"
)

type options struct {
	host, bindDN, password, root               string
	port, expect, changes                      int
	pageSize, runs                             int
	label, cpuProfile, memProfile, heapProfile string
	incrProfile                                string
	serverPID                                  int
	syncRSSChild                               bool
}

func main() {
	var o options
	flag.StringVar(&o.host, "host", "127.0.0.1", "LDAP host")
	flag.IntVar(&o.port, "port", 389, "LDAP port (plain LDAP)")
	flag.StringVar(&o.bindDN, "binddn", "", "bind DN")
	flag.StringVar(&o.password, "password", os.Getenv("SYNCBENCH_PASSWORD"), "bind password (or SYNCBENCH_PASSWORD)")
	flag.StringVar(&o.root, "root", "", "root DN of the sync")
	flag.IntVar(&o.expect, "expect", 0, "users expected under root (0: do not check)")
	flag.IntVar(&o.changes, "changes", 10, "users to change before the incremental run")
	flag.IntVar(&o.pageSize, "pagesize", 1000, "page size")
	flag.StringVar(&o.label, "label", "", "label printed first")
	flag.IntVar(&o.runs, "runs", 2, "timed full syncs (the fastest is reported)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed full syncs to this file")
	flag.StringVar(&o.incrProfile, "incr-cpuprofile", "", "write a CPU profile of the incremental run to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile (after the full syncs) to this file")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "write a profile of the live heap after the incremental run to this file")
	flag.IntVar(&o.serverPID, "server-pid", 0, "process ID of the LDAP server, to measure its CPU time during the full runs (Linux /proc)")
	flag.BoolVar(&o.syncRSSChild, "sync-rss-child", false, "run one full sync, print its peak RSS growth and exit (see syncRSS)")
	printAttrs := flag.String("print-attrs", "", "print the attributes ldapsync reads (ad or ldap), space-separated, and exit")
	targetOnly := flag.String("target-rss", "", "fill a MemoryTarget from this dump, print its peak RSS growth and exit (see targetRSS)")
	flag.Parse()
	if *targetOnly != "" {
		if err := fillTarget(*targetOnly); err != nil {
			fmt.Fprintln(os.Stderr, "syncbench:", err)
			os.Exit(1)
		}
		return
	}
	if *printAttrs != "" {
		fmt.Println(strings.Join(attributes(*printAttrs == "ad"), " "))
		return
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "syncbench:", err)
		os.Exit(1)
	}
}

func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}

func run(ctx context.Context, o options) error {
	cfg := ldapsync.Config{
		Name:             "bench",
		Host:             o.host,
		Port:             o.port,
		Encryption:       ldapsync.EncryptionNone,
		BindDN:           o.bindDN,
		BindPassword:     ldapsync.Secret(o.password),
		RootDN:           o.root,
		MaxSyncDeletions: 0,
		PageSize:         o.pageSize,
		Timeout:          5 * time.Minute,
	}
	if o.syncRSSChild {
		return syncOnce(ctx, cfg)
	}
	conn, err := ldap.DialURL(fmt.Sprintf("ldap://%s:%d", o.host, o.port))
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Bind(o.bindDN, o.password); err != nil {
		return fmt.Errorf("bind: %w", err)
	}

	runtime.GC()
	rssStart := maxRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapStart := ms.HeapAlloc

	// Full syncs, timed; the last one's syncer goes on incrementally.
	if o.memProfile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	var (
		target *ldapsync.MemoryTarget
		s      *ldapsync.Syncer
		store  *ldapsync.MemoryStore
		rep    *ldapsync.Report
		full   time.Duration
		// fullCPU is the client's CPU time (user+system) of that run.
		fullCPU time.Duration
		// fullPhases splits that run's wall time (see phases).
		fullPhases string
		// serverCPU is the server's CPU time during that run (-1: not
		// measured).
		serverCPU time.Duration
	)
	for i := range max(o.runs, 1) {
		target, store = ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore()
		ph := &phases{server: serverCPUOf(o.serverPID)}
		s, err = ldapsync.NewSyncer(cfg, target, store, ldapsync.WithLogger(slog.New(ph)))
		if err != nil {
			return err
		}
		runtime.GC()
		t0, c0, s0 := time.Now(), bench.CPUTime(), ph.server()
		rep, err = s.Run(ctx)
		if err != nil {
			return fmt.Errorf("full sync: %w", err)
		}
		if d := time.Since(t0); i == 0 || d < full {
			full, fullCPU, serverCPU = d, bench.CPUTime()-c0, ph.server()-s0
			if s0 < 0 {
				serverCPU = -1
			}
			fullPhases = ph.summary(t0, c0, s0)
		}
	}
	if err := stopProfile(); err != nil {
		return err
	}
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			return err
		}
	}
	rssFull := maxRSS()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	retained := int64(ms.HeapAlloc) - int64(heapStart)
	if rep.Mode != ldapsync.SyncFull {
		return fmt.Errorf("first run was %s", rep.Mode)
	}
	users, err := target.Snapshot(ctx)
	if err != nil {
		return err
	}
	groups := target.Groups()
	if o.expect > 0 && len(users) != o.expect {
		return fmt.Errorf("full sync linked %d users, want %d", len(users), o.expect)
	}
	objects := len(rep.Added)

	// Incremental run after changes made over LDAP.
	dns := make([]string, 0, len(users))
	for _, u := range users {
		dns = append(dns, u.DN)
	}
	sort.Strings(dns)
	if len(dns) < o.changes {
		return fmt.Errorf("only %d users", len(dns))
	}
	stamp := time.Now().UTC().Format("150405.000")
	for i := range o.changes {
		dn := dns[(i*len(dns))/o.changes]
		m := ldap.NewModifyRequest(dn, nil)
		m.Replace("displayName", []string{fmt.Sprintf("Changed %d %s", i, stamp)})
		if err := conn.Modify(m); err != nil {
			return fmt.Errorf("modify %s: %w", dn, err)
		}
	}
	stopProfile, err = startCPUProfile(o.incrProfile)
	if err != nil {
		return err
	}
	t0, c0 := time.Now(), bench.CPUTime()
	inc, err := s.Run(ctx)
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("incremental sync: %w", err)
	}
	incr, incrCPU := time.Since(t0), bench.CPUTime()-c0
	if o.heapProfile != "" {
		runtime.GC()
		f, err := os.Create(o.heapProfile)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if inc.Mode != ldapsync.SyncIncremental || len(inc.Updated) != o.changes {
		return fmt.Errorf("incremental run: mode %s, %d updated, want %d (%v)", inc.Mode, len(inc.Updated), o.changes, inc.Warnings)
	}

	// go-ldap alone: the same paged search, entries discarded.
	filter := scopeFilter(conn)
	ad := strings.Contains(filter, "objectCategory")
	t0 = time.Now()
	rawN, err := rawSearch(conn, o, filter, attributes(ad))
	if err != nil {
		return fmt.Errorf("raw search: %w", err)
	}
	raw := time.Since(t0)
	// The ID enumeration every incremental run does to find removals.
	t0 = time.Now()
	if _, err := rawSearch(conn, o, filter, attributes(ad)[:1]); err != nil {
		return fmt.Errorf("raw ID search: %w", err)
	}
	enum := time.Since(t0)

	// Target's own storage: a MemoryTarget filled with the same objects,
	// laid out as a sync hands them over, in a process of its own: its
	// live heap, and its peak RSS growth. (Built here from the snapshot,
	// its strings would be the snapshot's and go uncounted.)
	tRSS, tb, err := targetRSS(users, groups)
	if err != nil {
		return err
	}
	syncPeaks, err := syncRSS()
	if err != nil {
		return err
	}
	sRSS := median(syncPeaks)

	// Peak heap of one more full sync into a fresh target.
	st, err := store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	source := st.Watermark.Source
	s, target, store = nil, nil, nil
	var (
		rep2    *ldapsync.Report
		peakErr error
	)
	peak := bench.PeakHeapGrowth(time.Millisecond, func() {
		var s2 *ldapsync.Syncer
		s2, peakErr = ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
		if peakErr == nil {
			rep2, peakErr = s2.Run(ctx)
		}
	})
	if peakErr != nil {
		return fmt.Errorf("full sync for the heap peak: %w", peakErr)
	}
	if rep2.Mode != ldapsync.SyncFull || len(rep2.Added) != objects {
		return fmt.Errorf("second full sync: mode %s, %d added, want %d", rep2.Mode, len(rep2.Added), objects)
	}

	n := float64(objects)
	fmt.Printf("%s ", fullPhases)
	fmt.Printf("%ssource=%s objects=%d users=%d groups=%d raw_entries=%d full_ms=%d full_cpu_ms=%d server_cpu_ms=%d raw_ms=%d enum_ms=%d incr_ms=%d incr_cpu_ms=%d full_over_incr=%.1f "+
		"rss_start=%d rss_full=%d heap_peak=%d retained=%d target_bytes=%d over_heap_per_user=%.0f over_rss_per_user=%.0f over_retained_per_user=%.0f "+
		"target_rss=%d sync_rss=%d sync_rss_min=%d sync_rss_max=%d over_target_rss_per_user=%.0f over_target_rss_min=%.0f over_target_rss_max=%.0f\n",
		prefix(o.label), source, objects, len(users), len(groups), rawN, full.Milliseconds(), fullCPU.Milliseconds(), serverCPU.Milliseconds(),
		raw.Milliseconds(), enum.Milliseconds(), incr.Milliseconds(), incrCPU.Milliseconds(),
		float64(full)/float64(incr), rssStart, rssFull, peak, retained, tb,
		(float64(peak)-float64(tb))/n, (float64(rssFull-rssStart)-float64(tb))/n, (float64(retained)-float64(tb))/n,
		tRSS, sRSS, syncPeaks[0], syncPeaks[len(syncPeaks)-1], (float64(sRSS)-float64(tRSS))/n,
		(float64(syncPeaks[0])-float64(tRSS))/n, (float64(syncPeaks[len(syncPeaks)-1])-float64(tRSS))/n)
	return nil
}

// startCPUProfile starts a CPU profile into path ("" for none) and
// returns the function that stops it and closes the file.
func startCPUProfile(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func prefix(label string) string {
	if label == "" {
		return ""
	}
	return "label=" + label + " "
}

// scopeFilter is the object selection of ldapsync: Active Directory
// (highestCommittedUSN in the root DSE) or inetOrgPerson directories.
func scopeFilter(conn *ldap.Conn) string {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"highestCommittedUSN"}, nil)
	if res, err := conn.Search(req); err == nil && len(res.Entries) == 1 &&
		res.Entries[0].GetAttributeValue("highestCommittedUSN") != "" {
		return "(|(&(objectClass=user)(objectCategory=person))(objectClass=group))"
	}
	return "(|(objectClass=inetOrgPerson)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
}

// Attributes ldapsync reads (see ldapsync's reader); printed by -attrs for
// the ldapsearch baseline.
func attributes(ad bool) []string {
	id := "entryUUID"
	if ad {
		id = "objectGUID"
	}
	return []string{id, "objectClass", "mail", "proxyAddresses", "displayName", "cn", "name",
		"userAccountControl", "member", "uniqueMember", "modifyTimestamp",
		"givenName", "sn", "sAMAccountName", "userPrincipalName", "title", "department",
		"company", "telephoneNumber", "mobile", "physicalDeliveryOfficeName", "employeeID", "uid"}
}

func rawSearch(conn *ldap.Conn, o options, filter string, attrs []string) (int, error) {
	n := 0
	paging := ldap.NewControlPaging(uint32(o.pageSize))
	req := ldap.NewSearchRequest(o.root, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, []ldap.Control{paging})
	for {
		res, err := conn.Search(req)
		if err != nil {
			return n, err
		}
		n += len(res.Entries)
		ctrl, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if ctrl == nil || len(ctrl.Cookie) == 0 {
			return n, nil
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

// phases is a slog handler that notes when the syncer reports the end of
// its directory read, its first applied batch and the end of the run, to
// split a run's wall time: reading, planning (snapshot of the target and
// the plan), and applying plus saving the state.
type phases struct {
	server     func() time.Duration // the server's CPU time (-1: unknown)
	mu         sync.Mutex
	read       time.Time
	readCPU    time.Duration // the process's CPU time at the end of the read
	readServer time.Duration // the server's, then
	apply      time.Time
	done       time.Time
}

func (p *phases) Enabled(context.Context, slog.Level) bool { return true }
func (p *phases) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *phases) WithGroup(string) slog.Handler            { return p }
func (p *phases) Handle(_ context.Context, r slog.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Message {
	case "ldapsync: directory read":
		p.read, p.readCPU, p.readServer = time.Now(), bench.CPUTime(), p.server()
	case "ldapsync: applying":
		if p.apply.IsZero() {
			p.apply = time.Now()
		}
	case "ldapsync: run complete":
		p.done = time.Now()
	}
	return nil
}

// summary gives the phases of a run that started at t0; planning ends
// at the first 1,000 writes, so a little applying counts as planning.
func (p *phases) summary(t0 time.Time, c0, s0 time.Duration) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.read.IsZero() || p.apply.IsZero() || p.done.IsZero() {
		return "read_ms=-1 read_cpu_ms=-1 server_read_cpu_ms=-1 plan_ms=-1 apply_ms=-1"
	}
	sr := int64(-1)
	if s0 >= 0 && p.readServer >= 0 {
		sr = (p.readServer - s0).Milliseconds()
	}
	return fmt.Sprintf("read_ms=%d read_cpu_ms=%d server_read_cpu_ms=%d plan_ms=%d apply_ms=%d",
		p.read.Sub(t0).Milliseconds(), (p.readCPU - c0).Milliseconds(), sr, p.apply.Sub(p.read).Milliseconds(), p.done.Sub(p.apply).Milliseconds())
}
