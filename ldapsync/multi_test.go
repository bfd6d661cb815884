package ldapsync_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

func TestNewMultiValidates(t *testing.T) {
	dir := ldapsynctest.Start(t)
	target := ldapsync.NewMemoryTarget()
	mk := func(name string) *ldapsync.Syncer {
		cfg := dir.Config()
		cfg.Name = name
		s, err := ldapsync.NewSyncer(cfg, target, ldapsync.NewMemoryStore())
		require.NoError(t, err)
		return s
	}
	_, err := ldapsync.NewMulti()
	require.ErrorIs(t, err, ldapsync.ErrInvalidConfig)
	_, err = ldapsync.NewMulti(mk("a"), nil)
	require.ErrorIs(t, err, ldapsync.ErrInvalidConfig)
	_, err = ldapsync.NewMulti(mk("a"), mk(""))
	require.ErrorIs(t, err, ldapsync.ErrInvalidConfig)
	assert.ErrorContains(t, err, "Name")
	_, err = ldapsync.NewMulti(mk("a"), mk("a"))
	require.ErrorIs(t, err, ldapsync.ErrInvalidConfig)
	assert.ErrorContains(t, err, `"a"`)
	m, err := ldapsync.NewMulti(mk("a"), mk("b"))
	require.NoError(t, err)
	require.NotNil(t, m)
}

// multiPair is two directories synchronised into one target.
type multiPair struct {
	t          *testing.T
	a, b       *ldapsynctest.Directory
	cfgA, cfgB ldapsync.Config
	storeA     *ldapsync.MemoryStore
	storeB     *ldapsync.MemoryStore
	target     *ldapsync.MemoryTarget
}

func newMultiPair(t *testing.T) *multiPair {
	p := &multiPair{t: t, a: ldapsynctest.Start(t), b: ldapsynctest.Start(t),
		storeA: ldapsync.NewMemoryStore(), storeB: ldapsync.NewMemoryStore(), target: ldapsync.NewMemoryTarget()}
	p.cfgA, p.cfgB = p.a.Config(), p.b.Config()
	p.cfgA.Name, p.cfgB.Name = "corp", "child"
	p.cfgA.MaxSyncDeletions, p.cfgB.MaxSyncDeletions = 10, 10
	return p
}

func (p *multiPair) round() (*ldapsync.MultiReport, error) {
	p.t.Helper()
	sa, err := ldapsync.NewSyncer(p.cfgA, p.target, p.storeA)
	require.NoError(p.t, err)
	sb, err := ldapsync.NewSyncer(p.cfgB, p.target, p.storeB)
	require.NoError(p.t, err)
	m, err := ldapsync.NewMulti(sa, sb)
	require.NoError(p.t, err)
	rep, err := m.Run(context.Background())
	require.NotNil(p.t, rep)
	return rep, err
}

func TestMultiPausesRemovalsWhenOneIntegrationFails(t *testing.T) {
	p := newMultiPair(t)
	a1, err := p.a.AddUser(ldapsynctest.User{CN: "a1", Mail: "a1@corp.example.test"})
	require.NoError(t, err)
	a2, err := p.a.AddUser(ldapsynctest.User{CN: "a2", Mail: "a2@corp.example.test"})
	require.NoError(t, err)
	b1, err := p.b.AddUser(ldapsynctest.User{CN: "b1", Mail: "b1@child.corp.example.test"})
	require.NoError(t, err)
	rep, err := p.round()
	require.NoError(t, err)
	assert.Empty(t, rep.RemovalsPaused)
	assert.ElementsMatch(t, []string{a1.ID, a2.ID}, rep.Integration("corp").Report.Added)
	assert.Equal(t, []string{b1.ID}, rep.Integration("child").Report.Added)
	snap, err := p.target.Snapshot(context.Background())
	require.NoError(t, err)
	assert.Len(t, snap, 3)

	// a2 leaves corp, a3 joins; child cannot be read (wrong password).
	require.NoError(t, p.a.Delete(a2.DN))
	a3, err := p.a.AddUser(ldapsynctest.User{CN: "a3", Mail: "a3@corp.example.test"})
	require.NoError(t, err)
	good := p.cfgB.BindPassword
	p.cfgB.BindPassword = "wrong"
	rep, err = p.round()
	require.ErrorIs(t, err, ldapsync.ErrAuthentication)
	assert.ErrorContains(t, err, `"child"`)
	assert.Contains(t, rep.RemovalsPaused, `"child"`)
	child := rep.Integration("child")
	assert.Nil(t, child.Report)
	require.ErrorIs(t, child.Err, ldapsync.ErrAuthentication)
	assert.Equal(t, child.Err.Error(), child.Error)
	js, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"removalsPaused"`)
	assert.Contains(t, string(js), "Invalid Credentials")
	corp := rep.Integration("corp")
	require.NoError(t, corp.Err)
	assert.Equal(t, []string{a3.ID}, corp.Report.Added, "everything but removals applies")
	assert.Equal(t, []string{a2.ID}, corp.Report.Withheld)
	assert.Empty(t, corp.Report.Unlinked)
	snap, err = p.target.Snapshot(context.Background())
	require.NoError(t, err)
	assert.Contains(t, snap, a2.ID, "not removed while another integration failed")
	assert.Contains(t, snap, b1.ID, "the failed integration's users stay")

	// Next round, both read: the paused removal goes through.
	p.cfgB.BindPassword = good
	rep, err = p.round()
	require.NoError(t, err)
	assert.Empty(t, rep.RemovalsPaused)
	assert.Equal(t, []string{a2.ID}, rep.Integration("corp").Report.Unlinked)
	snap, err = p.target.Snapshot(context.Background())
	require.NoError(t, err)
	assert.NotContains(t, snap, a2.ID)
	assert.Len(t, snap, 3)
}

func TestMultiReportsAddressClaimedTwice(t *testing.T) {
	p := newMultiPair(t)
	a, err := p.a.AddUser(ldapsynctest.User{CN: "pat", Mail: "pat@corp.example.test"})
	require.NoError(t, err)
	b, err := p.b.AddUser(ldapsynctest.User{CN: "pat", Mail: "pat@child.example.test",
		ProxyAddresses: []string{"SMTP:pat@child.example.test", "smtp:pat@corp.example.test"}})
	require.NoError(t, err)
	_, err = p.b.AddUser(ldapsynctest.User{CN: "lee", Mail: "lee@child.example.test"})
	require.NoError(t, err)
	rep, err := p.round()
	require.NoError(t, err)
	require.Len(t, rep.Conflicts, 1)
	c := rep.Conflicts[0]
	assert.Equal(t, "pat@corp.example.test", c.Address)
	require.Len(t, c.Claims, 2)
	assert.Equal(t, ldapsync.AddressClaim{Integration: "child", ID: b.ID, DN: b.DN}, c.Claims[0])
	assert.Equal(t, ldapsync.AddressClaim{Integration: "corp", ID: a.ID, DN: a.DN}, c.Claims[1])
	for _, name := range []string{"corp", "child"} {
		assert.True(t, anyContains(rep.Integration(name).Report.Warnings, "pat@corp.example.test"), name)
	}

	// A filter that keeps the alias out of child removes the conflict.
	p.cfgB.FilterEmailDomains = []string{"child.example.test"}
	rep, err = p.round()
	require.NoError(t, err)
	assert.Empty(t, rep.Conflicts)
}
