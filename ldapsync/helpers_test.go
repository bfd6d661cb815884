package ldapsync_test

import (
	"context"
	"errors"
	"net"
	"sort"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
	"github.com/stretchr/testify/require"
)

// env is a test directory, a target and a state store, synced by Syncers
// built from cfg (which tests change between runs).
type env struct {
	t      *testing.T
	dir    *ldapsynctest.Directory
	cfg    ldapsync.Config
	target *ldapsync.MemoryTarget
	store  ldapsync.StateStore
	opts   []ldapsync.Option
}

func newEnv(t *testing.T, opts ...ldapsynctest.Option) *env {
	t.Helper()
	dir := ldapsynctest.Start(t, opts...)
	return &env{t: t, dir: dir, cfg: dir.Config(), target: ldapsync.NewMemoryTarget(), store: ldapsync.NewMemoryStore()}
}

func (e *env) syncer() *ldapsync.Syncer {
	e.t.Helper()
	s, err := ldapsync.NewSyncer(e.cfg, e.target, e.store, e.opts...)
	require.NoError(e.t, err)
	return s
}

// run syncs and requires success.
func (e *env) run() *ldapsync.Report {
	e.t.Helper()
	rep, err := e.syncer().Run(context.Background())
	require.NoError(e.t, err)
	require.NotNil(e.t, rep)
	return rep
}

// tryRun syncs and returns the error.
func (e *env) tryRun() (*ldapsync.Report, error) {
	return e.syncer().Run(context.Background())
}

func (e *env) linked() map[string]ldapsync.User {
	e.t.Helper()
	m, err := e.target.Snapshot(context.Background())
	require.NoError(e.t, err)
	return m
}

func (e *env) addUser(cn, mail string, proxy ...string) ldapsynctest.Entry {
	e.t.Helper()
	en, err := e.dir.AddUser(ldapsynctest.User{CN: cn, Mail: mail, ProxyAddresses: proxy})
	require.NoError(e.t, err)
	return en
}

func (e *env) addUserIn(parent, cn, mail string) ldapsynctest.Entry {
	e.t.Helper()
	en, err := e.dir.AddUser(ldapsynctest.User{CN: cn, Mail: mail, Parent: parent})
	require.NoError(e.t, err)
	return en
}

func (e *env) addOU(name string) string {
	e.t.Helper()
	ou, err := e.dir.AddOU(name, "")
	require.NoError(e.t, err)
	return ou.DN
}

func sorted(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

func sortedCopy(ids []string) []string { return sorted(ids...) }

func skippedIDs(r *ldapsync.Report) map[string]string {
	m := map[string]string{}
	for _, s := range r.Skipped {
		m[s.ID] = s.Reason
	}
	return m
}

// noDNS is a resolver that never leaves the machine: every lookup fails.
func noDNS() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, errors.New("no DNS server in tests")
	}}
}

// failingStore fails Save a number of times, as a crash between the
// target writes and the state save would.
type failingStore struct {
	ldapsync.StateStore
	mu    sync.Mutex
	fails int
}

var errSaveFailed = errors.New("save failed")

func (f *failingStore) Save(ctx context.Context, s ldapsync.State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return errSaveFailed
	}
	return f.StateStore.Save(ctx, s)
}
