package ldapsynctest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// Directory is a running in-process LDAP server with Active Directory
// semantics. Its methods are safe for concurrent use, also while clients
// are connected.
type Directory struct {
	opts     options
	base     string // domain naming context as written
	baseNDN  string
	domain   string // DNS name, e.g. corp.example.test
	netbios  string // e.g. CORP
	bindDN   string
	bindNDN  string
	adminNDN string

	mu             sync.RWMutex
	objs           map[GUID]*object
	byDN           map[string]*object
	sams           map[string]*object // lower-case sAMAccountName -> live object
	usn            int64
	deletedObjects *object
	dsa            *object // CN=NTDS Settings of the current DC
	serverName     string
	configNDN      string

	fmu           sync.Mutex
	faults        Faults
	faultGen      uint64
	faultSearches int

	bmu   sync.Mutex
	bound map[int]string // gldap connection ID -> bound DN ("" = anonymous)

	pmu       sync.Mutex
	pages     map[string]*pagedSearch
	pageOrder []string

	backendDialed, backendClosed atomic.Int64 // connections to the gldap server

	stats struct {
		connections, binds, searches, entries, drops atomic.Int64
	}

	server    *gldap.Server
	closeOnce sync.Once
	relay     *relay
	addr      *net.TCPAddr
	tlsMode   TLSMode
	certPool  *x509.CertPool
	caCert    *x509.Certificate
}

// Faults are failures the directory injects into its LDAP traffic, for
// testing how a client copes. The zero value injects nothing.
type Faults struct {
	// DropAfterEntries closes a client connection, without a result
	// message, once it has been sent this many search result entries
	// since the faults were set: a read that ends early. 0 = never.
	DropAfterEntries int
	// Latency delays every message the directory sends.
	Latency time.Duration
	// SearchResultCode makes every search other than a root DSE read fail
	// with this LDAP result code (for example 51 busy or 52 unavailable).
	// 0 = none.
	SearchResultCode int
	// BindResultCode makes every bind fail with this LDAP result code.
	// 0 = none.
	BindResultCode int
	// IdleTimeout closes connections that have carried no message for this
	// long, as a domain controller's MaxConnIdleTime does. 0 = never.
	IdleTimeout time.Duration
	// FailSearch, when set, is asked about every search other than a root
	// DSE read, each page of a paged search included; a non-zero LDAP
	// result code fails that search with it. It runs on a server
	// goroutine: it must not call testing.TB's FailNow.
	FailSearch func(SearchInfo) int
	// StuckPaging makes paged searches never advance: every page repeats
	// the first one and hands back the cookie it was asked with, as a
	// broken server might. A client must notice and stop.
	StuckPaging bool
}

// SearchInfo describes a search for [Faults.FailSearch].
type SearchInfo struct {
	BaseDN     string
	Scope      int // 0 base, 1 one level, 2 subtree
	Filter     string
	Attributes []string
	Paged      bool // the request carries the paged results control
	NextPage   bool // ... with a cookie: a page after the first
	Number     int  // 1 for the first search since the faults were set
}

// Validate reports a negative count or duration, or a result code out of range.
func (f Faults) Validate() error {
	switch {
	case f.DropAfterEntries < 0:
		return fmt.Errorf("faults: negative DropAfterEntries %d", f.DropAfterEntries)
	case f.Latency < 0:
		return fmt.Errorf("faults: negative Latency %v", f.Latency)
	case f.IdleTimeout < 0:
		return fmt.Errorf("faults: negative IdleTimeout %v", f.IdleTimeout)
	case f.SearchResultCode < 0 || f.SearchResultCode > 0x7fff:
		return fmt.Errorf("faults: SearchResultCode %d is not an LDAP result code", f.SearchResultCode)
	case f.BindResultCode < 0 || f.BindResultCode > 0x7fff:
		return fmt.Errorf("faults: BindResultCode %d is not an LDAP result code", f.BindResultCode)
	}
	return nil
}

// Stats counts the directory's traffic since it started.
type Stats struct {
	Connections int64 // client connections accepted
	Binds       int64 // bind requests
	Searches    int64 // search requests, root DSE reads included
	Entries     int64 // search result entries sent
	Drops       int64 // connections closed by an injected fault
}

// Start runs a directory on 127.0.0.1 (a free port) and stops it when the
// test ends. Invalid options fail the test; Start must be called from the
// test's own goroutine.
func Start(tb testing.TB, opts ...Option) *Directory {
	tb.Helper()
	d, err := New(opts...)
	if err != nil {
		tb.Fatalf("ldapsynctest.Start: %v", err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

// New runs a directory like [Start] for code without a testing.TB (an
// Example, a TestMain sharing one directory): the caller must call
// [Directory.Close].
func New(opts ...Option) (*Directory, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	d, err := newDirectory(o)
	if err != nil {
		return nil, err
	}
	if err := d.run(); err != nil {
		return nil, err
	}
	return d, nil
}

// Close closes every client connection and stops the server. It is safe to
// call more than once.
func (d *Directory) Close() error {
	d.closeOnce.Do(d.stop)
	return nil
}

func newDirectory(o options) (*Directory, error) {
	domain, err := domainFromBase(o.base)
	if err != nil {
		return nil, err
	}
	d := &Directory{
		opts:       o,
		base:       strings.TrimSpace(o.base),
		baseNDN:    mustNormDN(o.base),
		domain:     domain,
		netbios:    strings.ToUpper(strings.SplitN(domain, ".", 2)[0]),
		objs:       map[GUID]*object{},
		byDN:       map[string]*object{},
		sams:       map[string]*object{},
		usn:        12000,
		bound:      map[int]string{},
		pages:      map[string]*pagedSearch{},
		faults:     o.faults,
		serverName: o.serverName,
		tlsMode:    o.tls,
	}
	d.configNDN = mustNormDN("CN=Configuration," + d.base)
	admin := "CN=Administrator,CN=Users," + d.base
	d.adminNDN = mustNormDN(admin)
	d.bindDN = o.bindDN
	if d.bindDN == "" {
		d.bindDN = admin
	}
	d.bindNDN = mustNormDN(d.bindDN)
	d.seed(o)
	return d, nil
}

// seed creates the objects every new domain has.
func (d *Directory) seed(o options) {
	d.insert(kindDomain, d.base)
	users := d.insert(kindContainer, "CN=Users,"+d.base)
	users.set("description", "Default container for upgraded user accounts")
	users.set("isCriticalSystemObject", "TRUE")
	computers := d.insert(kindContainer, "CN=Computers,"+d.base)
	computers.set("description", "Default container for upgraded computer accounts")
	computers.set("isCriticalSystemObject", "TRUE")
	d.deletedObjects = d.insert(kindContainer, "CN=Deleted Objects,"+d.base)
	d.deletedObjects.deleted = true
	d.deletedObjects.set("isDeleted", "TRUE")
	d.deletedObjects.set("isCriticalSystemObject", "TRUE")
	admin := d.insert(kindUser, "CN=Administrator,CN=Users,"+d.base)
	admin.set("sAMAccountName", "Administrator")
	d.indexSAM(admin)
	admin.set("userPrincipalName", "Administrator@"+d.domain)
	admin.set("userAccountControl", strconv.Itoa(uacNormalAccount|uacDontExpirePasswd))
	admin.set("sAMAccountType", "805306368")
	admin.set("description", "Built-in account for administering the computer/domain")
	admin.set("isCriticalSystemObject", "TRUE")
	if d.bindNDN == d.adminNDN {
		admin.password = o.bindPassword
	}
	d.insert(kindContainer, "CN=Configuration,"+d.base).set("isCriticalSystemObject", "TRUE")
	inv := o.invocationID
	if !o.haveInvID {
		inv = newGUID()
	}
	d.placeDSA(d.serverName, inv)
}

// placeDSA creates the NTDS Settings object of DC name with invocation ID inv.
func (d *Directory) placeDSA(name string, inv GUID) {
	if d.dsa != nil {
		delete(d.objs, d.dsa.guid)
		delete(d.byDN, d.dsa.ndn)
	}
	dn := "CN=NTDS Settings,CN=" + escapeRDNValue(name) +
		",CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration," + d.base
	d.dsa = d.insert(kindDSA, dn)
	d.dsa.set("invocationId", string(inv[:]))
	d.dsa.set("options", "1")
	d.serverName = name
}

func (d *Directory) run() error {
	var relayTLS, startTLS *tls.Config
	if d.tlsMode != TLSNone {
		nb, na := d.opts.notBefore, d.opts.notAfter
		if nb.IsZero() {
			nb, na = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
		}
		cfg, pool, ca, err := newTLS(strings.ToLower(d.serverName)+"."+d.domain, d.opts.keyBits, nb, na)
		if err != nil {
			return err
		}
		d.certPool, d.caCert = pool, ca
		if d.tlsMode == TLSLDAPS {
			relayTLS = cfg
		} else {
			startTLS = cfg
		}
	}
	srv, err := gldap.NewServer(
		gldap.WithLogger(hclog.NewNullLogger()),
		gldap.WithOnClose(d.connClosed),
	)
	if err != nil {
		return err
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return err
	}
	if err := d.routes(mux); err != nil {
		return err
	}
	if err := srv.Router(mux); err != nil {
		return err
	}
	d.server = srv

	// gldap listens by address only, so reserve a free port for it first.
	upstream, err := d.startBackend(srv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Stop()
		return fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	d.addr = ln.Addr().(*net.TCPAddr)
	if relayTLS != nil {
		ln = tls.NewListener(ln, relayTLS)
	}
	d.relay = &relay{d: d, ln: ln, upstream: upstream, startTLS: startTLS, conns: map[*relayConn]struct{}{}}
	d.relay.wg.Add(1)
	go d.relay.serve()
	return nil
}

func (d *Directory) startBackend(srv *gldap.Server) (string, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		lastErr = nil
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("finding a free port: %w", err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		errc := make(chan error, 1)
		go func() { errc <- srv.Run(addr) }()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case err := <-errc:
				lastErr = err
			default:
			}
			if lastErr != nil {
				break
			}
			if srv.Ready() {
				d.backendDialed.Add(1)
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					d.backendDialed.Add(-1)
				}
				if err == nil {
					_ = c.Close()
					return addr, nil
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		if lastErr == nil {
			lastErr = fmt.Errorf("LDAP server on %s did not start", addr)
		}
	}
	return "", lastErr
}

func (d *Directory) stop() {
	if d.relay != nil {
		d.relay.close()
	}
	if d.server != nil {
		// gldap's Stop waits for its connections with a WaitGroup that its
		// accept loop adds to; letting every backend connection finish
		// first keeps that Wait from racing with an Add (the race detector
		// flags it otherwise).
		deadline := time.Now().Add(5 * time.Second)
		for d.backendClosed.Load() < d.backendDialed.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		done := make(chan struct{})
		go func() { _ = d.server.Stop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
}

func (d *Directory) now() time.Time { return d.opts.now() }

func (d *Directory) connClosed(connID int) {
	d.backendClosed.Add(1)
	d.bmu.Lock()
	delete(d.bound, connID)
	d.bmu.Unlock()
	d.pmu.Lock()
	for k, p := range d.pages {
		if p.connID == connID {
			delete(d.pages, k)
		}
	}
	d.pmu.Unlock()
}

// URL returns ldap://127.0.0.1:port, or ldaps:// with [TLSLDAPS].
func (d *Directory) URL() string {
	scheme := "ldap"
	if d.tlsMode == TLSLDAPS {
		scheme = "ldaps"
	}
	return scheme + "://" + d.addr.String()
}

// Host returns the address clients connect to, "127.0.0.1".
func (d *Directory) Host() string { return d.addr.IP.String() }

// Port returns the TCP port the directory listens on.
func (d *Directory) Port() int { return d.addr.Port }

// BaseDN returns the domain naming context, e.g. DC=corp,DC=example,DC=test.
func (d *Directory) BaseDN() string { return d.base }

// Domain returns the DNS domain name, e.g. corp.example.test.
func (d *Directory) Domain() string { return d.domain }

// BindDN returns the DN of the bind account.
func (d *Directory) BindDN() string { return d.bindDN }

// BindPassword returns the password of the bind account.
func (d *Directory) BindPassword() string { return d.opts.bindPassword }

// CertPool returns a pool holding the CA that signed the directory's
// certificate, or nil when the directory runs without TLS.
func (d *Directory) CertPool() *x509.CertPool {
	if d.certPool == nil {
		return nil
	}
	return d.certPool.Clone()
}

// CACertificate returns the CA certificate behind [Directory.CertPool], or
// nil without TLS.
func (d *Directory) CACertificate() *x509.Certificate { return d.caCert }

// Config returns an [ldapsync.Config] that reaches this directory: host,
// port, encryption, the CA pool, bind credentials and the base DN as RootDN.
// Policy fields are left at their zero values for the caller to set.
func (d *Directory) Config() ldapsync.Config {
	cfg := ldapsync.Config{
		Name:         "ldapsynctest " + d.domain,
		Host:         d.Host(),
		Port:         d.Port(),
		Encryption:   ldapsync.EncryptionNone,
		BindDN:       d.bindDN,
		BindPassword: ldapsync.Secret(d.opts.bindPassword),
		RootDN:       d.base,
	}
	switch d.tlsMode {
	case TLSLDAPS:
		cfg.Encryption = ldapsync.EncryptionLDAPS
		cfg.RootCAs = d.CertPool()
	case TLSStartTLS:
		cfg.Encryption = ldapsync.EncryptionStartTLS
		cfg.RootCAs = d.CertPool()
	}
	return cfg
}

// SetFaults replaces the injected faults; the zero value removes them.
// Entry counts for DropAfterEntries start again from zero.
func (d *Directory) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return opErr("SetFaults", "", fmt.Errorf("%w: %v", ErrInvalid, err))
	}
	d.fmu.Lock()
	d.faults = f
	d.faultGen++
	d.faultSearches = 0
	d.fmu.Unlock()
	return nil
}

func (d *Directory) currentFaults() Faults {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	return d.faults
}

func (d *Directory) faultsAndGen() (Faults, uint64) {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	return d.faults, d.faultGen
}

// DropConnections closes every open client connection at once, as a
// restarted domain controller or a network failure would, and returns how
// many it closed.
func (d *Directory) DropConnections() int { return d.relay.dropAll() }

// Stats returns the traffic counters.
func (d *Directory) Stats() Stats {
	return Stats{
		Connections: d.stats.connections.Load(),
		Binds:       d.stats.binds.Load(),
		Searches:    d.stats.searches.Load(),
		Entries:     d.stats.entries.Load(),
		Drops:       d.stats.drops.Load(),
	}
}
