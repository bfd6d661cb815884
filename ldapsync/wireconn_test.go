package ldapsync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

const wireFilter = "(|(objectClass=user)(objectClass=group))"

// goLDAPSearch is the reference: the same paged search read by go-ldap.
func goLDAPSearch(t *testing.T, conn *ldap.Conn, base string, attrs []string) []*ldap.Entry {
	t.Helper()
	res, err := conn.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		wireFilter, attrs, nil), 7)
	require.NoError(t, err)
	return res.Entries
}

func wireDirectory(t *testing.T, users int, opts ...ldapsynctest.Option) *ldapsynctest.Directory {
	t.Helper()
	dir := ldapsynctest.Start(t, opts...)
	var dns []string
	for i := range users {
		u, err := dir.AddUser(ldapsynctest.User{CN: fmt.Sprintf("W%03d", i),
			ProxyAddresses: []string{fmt.Sprintf("SMTP:w%03d@example.com", i), fmt.Sprintf("smtp:alias%03d@example.net", i)}})
		require.NoError(t, err)
		dns = append(dns, u.DN)
	}
	_, err := dir.AddGroup("All W", dns...)
	require.NoError(t, err)
	return dir
}

// TestWireSearchMatchesGoLDAP: every page of a paged search arrives, each
// entry with the same DN, attributes and values (binary objectGUID
// included) as go-ldap decodes them, and go-ldap keeps working on the
// same connection in between.
func TestWireSearchMatchesGoLDAP(t *testing.T) {
	names := map[ldapsynctest.TLSMode]string{ldapsynctest.TLSNone: "plain", ldapsynctest.TLSLDAPS: "ldaps", ldapsynctest.TLSStartTLS: "starttls"}
	for _, mode := range []ldapsynctest.TLSMode{ldapsynctest.TLSNone, ldapsynctest.TLSLDAPS, ldapsynctest.TLSStartTLS} {
		t.Run(names[mode], func(t *testing.T) {
			var opts []ldapsynctest.Option
			if mode != ldapsynctest.TLSNone {
				opts = append(opts, ldapsynctest.WithTLS(mode))
			}
			dir := wireDirectory(t, 95, opts...)
			ctx := context.Background()
			w, err := ldapsync.OpenWireSession(ctx, dir.Config())
			require.NoError(t, err)
			defer w.Close()
			attrs := []string{"objectGUID", "objectClass", "proxyAddresses", "cn", "member", "userAccountControl"}

			want := goLDAPSearch(t, w.GoLDAP(), dir.BaseDN(), attrs)
			require.Greater(t, len(want), 95)
			var got []*ldap.Entry
			refs, err := w.Search(ctx, wireFilter, attrs, 10, func(e *ldap.Entry) error {
				got = append(got, e)
				return nil
			})
			require.NoError(t, err)
			assert.Empty(t, refs)
			require.Len(t, got, len(want))
			for i := range want {
				assert.Equal(t, want[i].DN, got[i].DN)
				require.Len(t, got[i].Attributes, len(want[i].Attributes), want[i].DN)
				for j, a := range want[i].Attributes {
					assert.Equal(t, a.Name, got[i].Attributes[j].Name)
					assert.Equal(t, a.Values, got[i].Attributes[j].Values)
					assert.Equal(t, a.ByteValues, got[i].Attributes[j].ByteValues)
				}
			}
			// go-ldap reads on the same connection after the search.
			again := goLDAPSearch(t, w.GoLDAP(), dir.BaseDN(), []string{"cn"})
			assert.Len(t, again, len(want))
		})
	}
}

// TestWireSearchStoppedEarly: a search the caller stops is abandoned; the
// replies still in flight are dropped, not handed to go-ldap, and the
// connection serves both kinds of search afterwards.
func TestWireSearchStoppedEarly(t *testing.T) {
	dir := wireDirectory(t, 120)
	ctx := context.Background()
	w, err := ldapsync.OpenWireSession(ctx, dir.Config())
	require.NoError(t, err)
	defer w.Close()
	all := len(goLDAPSearch(t, w.GoLDAP(), dir.BaseDN(), []string{"cn"}))
	require.Greater(t, all, 120)
	stop := errors.New("enough")
	n := 0
	_, err = w.Search(ctx, wireFilter, []string{"cn"}, 10, func(*ldap.Entry) error {
		n++
		if n == 15 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 15, n)

	assert.Len(t, goLDAPSearch(t, w.GoLDAP(), dir.BaseDN(), []string{"cn"}), all)
	n = 0
	_, err = w.Search(ctx, wireFilter, []string{"cn"}, 10, func(*ldap.Entry) error { n++; return nil })
	require.NoError(t, err)
	assert.Equal(t, all, n)
}

// TestWireSearchFailures: a result code, a server too slow to answer, a
// cancelled context and a stuck server each end the search with an error
// saying so, promptly.
func TestWireSearchFailures(t *testing.T) {
	dir := wireDirectory(t, 30)
	ctx := context.Background()
	open := func(cfg ldapsync.Config) *ldapsync.WireSession {
		w, err := ldapsync.OpenWireSession(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(w.Close)
		return w
	}
	count := func(w *ldapsync.WireSession, ctx context.Context) (int, error) {
		n := 0
		_, err := w.Search(ctx, wireFilter, []string{"cn"}, 5, func(*ldap.Entry) error { n++; return nil })
		return n, err
	}

	t.Run("result code", func(t *testing.T) {
		w := open(dir.Config())
		require.NoError(t, dir.SetFaults(ldapsynctest.Faults{FailSearch: func(si ldapsynctest.SearchInfo) int {
			if si.NextPage && si.Number == 3 {
				return ldap.LDAPResultBusy
			}
			return 0
		}}))
		t.Cleanup(func() { _ = dir.SetFaults(ldapsynctest.Faults{}) })
		n, err := count(w, ctx)
		var le *ldap.Error
		require.ErrorAs(t, err, &le)
		assert.Equal(t, uint16(ldap.LDAPResultBusy), le.ResultCode)
		assert.Equal(t, 10, n, "two pages arrived before the failing third")
		require.NoError(t, dir.SetFaults(ldapsynctest.Faults{}))
		n, err = count(w, ctx)
		require.NoError(t, err, "the connection is still usable")
		assert.Equal(t, len(goLDAPSearch(t, w.GoLDAP(), dir.BaseDN(), []string{"cn"})), n)
	})
	t.Run("timeout", func(t *testing.T) {
		cfg := dir.Config()
		cfg.Timeout = 300 * time.Millisecond
		w := open(cfg)
		require.NoError(t, dir.SetFaults(ldapsynctest.Faults{Latency: 2 * time.Second}))
		t.Cleanup(func() { _ = dir.SetFaults(ldapsynctest.Faults{}) })
		_, err := count(w, ctx)
		var le *ldap.Error
		require.ErrorAs(t, err, &le)
		assert.Equal(t, uint16(ldap.ErrorNetwork), le.ResultCode)
		assert.Contains(t, err.Error(), "timed out")
	})
	t.Run("cancelled", func(t *testing.T) {
		w := open(dir.Config())
		require.NoError(t, dir.SetFaults(ldapsynctest.Faults{Latency: 2 * time.Second}))
		t.Cleanup(func() { _ = dir.SetFaults(ldapsynctest.Faults{}) })
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := count(w, cctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("stuck paging", func(t *testing.T) {
		w := open(dir.Config())
		require.NoError(t, dir.SetFaults(ldapsynctest.Faults{StuckPaging: true}))
		t.Cleanup(func() { _ = dir.SetFaults(ldapsynctest.Faults{}) })
		_, err := count(w, ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "does not advance")
	})
	t.Run("dropped connection", func(t *testing.T) {
		w := open(dir.Config())
		require.NoError(t, dir.SetFaults(ldapsynctest.Faults{DropAfterEntries: 12}))
		t.Cleanup(func() { _ = dir.SetFaults(ldapsynctest.Faults{}) })
		n, err := count(w, ctx)
		var le *ldap.Error
		require.ErrorAs(t, err, &le)
		assert.Equal(t, uint16(ldap.ErrorNetwork), le.ResultCode)
		assert.LessOrEqual(t, n, 12)
	})
}

// TestReadStopsAtMaxObjects: a read that brings more entries than the
// bound allows fails, naming the bound, and nothing is applied.
func TestReadStopsAtMaxObjects(t *testing.T) {
	dir := wireDirectory(t, 30)
	defer ldapsync.SetMaxReadObjects(20)()
	target := ldapsync.NewMemoryTarget()
	s, err := ldapsync.NewSyncer(dir.Config(), target, ldapsync.NewMemoryStore())
	require.NoError(t, err)
	_, err = s.Run(context.Background())
	require.ErrorIs(t, err, ldapsync.ErrRead)
	assert.Contains(t, err.Error(), "more than 20 objects")
	assert.Zero(t, target.Writes())
}
