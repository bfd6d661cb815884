package ldapsync_test

// Several integrations into one target, against the Samba AD DC: each
// integration reads its own OU, standing in for a domain of its own.

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

type sambaMulti struct {
	t      *testing.T
	cfgs   []ldapsync.Config
	stores []*ldapsync.MemoryStore
	target *ldapsync.MemoryTarget
}

func (m *sambaMulti) round() (*ldapsync.MultiReport, error) {
	m.t.Helper()
	var syncers []*ldapsync.Syncer
	for i, cfg := range m.cfgs {
		s, err := ldapsync.NewSyncer(cfg, m.target, m.stores[i])
		require.NoError(m.t, err)
		syncers = append(syncers, s)
	}
	multi, err := ldapsync.NewMulti(syncers...)
	require.NoError(m.t, err)
	rep, err := multi.Run(context.Background())
	require.NotNil(m.t, rep)
	return rep, err
}

// TestSambaMultiExchangeResourceDomain: in an Exchange resource-domain
// deployment the same people exist twice, enabled in the account domain and
// as disabled mailbox users in the resource domain. With "acknowledge
// disabled accounts" on only for the account domain nobody is disabled in
// the target, and the addresses both domains claim are reported.
func TestSambaMultiExchangeResourceDomain(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	accounts := scratchOU(t, c, e.ScratchDN, "accounts")
	resources := scratchOU(t, c, e.ScratchDN, "resources")
	sfx := itSuffix()
	var accountIDs, mailboxIDs []string
	var addrs []string
	for i := range 3 {
		a := fmt.Sprintf("person%d-%s@corp.example.test", i, sfx)
		addrs = append(addrs, a)
		_, id := addADUser(t, c, accounts, adUser{CN: fmt.Sprintf("person%d", i), Mail: a})
		accountIDs = append(accountIDs, id)
		_, mid := addADUser(t, c, resources, adUser{CN: fmt.Sprintf("person%d", i), Mail: a, Disabled: true,
			Proxy: []string{"SMTP:" + a, fmt.Sprintf("smtp:person%d-%s@resource.example.test", i, sfx)}})
		mailboxIDs = append(mailboxIDs, mid)
	}
	// A shared mailbox only the resource domain has.
	_, shared := addADUser(t, c, resources, adUser{CN: "shared", Mail: "shared-" + sfx + "@corp.example.test", Disabled: true})

	acct := e.config(accounts)
	acct.Name, acct.AcknowledgeDisabledAccounts = "accounts", true
	res := e.config(resources)
	res.Name, res.AcknowledgeDisabledAccounts = "resources", false
	m := &sambaMulti{t: t, cfgs: []ldapsync.Config{acct, res},
		stores: []*ldapsync.MemoryStore{ldapsync.NewMemoryStore(), ldapsync.NewMemoryStore()},
		target: ldapsync.NewMemoryTarget()}
	rep, err := m.round()
	require.NoError(t, err)

	linked := m.target
	snap, err := linked.Snapshot(context.Background())
	require.NoError(t, err)
	for _, id := range append(append(append([]string{}, accountIDs...), mailboxIDs...), shared) {
		require.Contains(t, snap, id)
		assert.False(t, snap[id].Disabled, "%s must not be disabled", snap[id].DN)
	}
	require.Len(t, rep.Conflicts, 3)
	for i, cf := range rep.Conflicts {
		assert.Contains(t, addrs, cf.Address)
		require.Len(t, cf.Claims, 2, "conflict %d", i)
		assert.Equal(t, "accounts", cf.Claims[0].Integration)
		assert.Equal(t, "resources", cf.Claims[1].Integration)
		assert.Contains(t, accountIDs, cf.Claims[0].ID)
		assert.Contains(t, mailboxIDs, cf.Claims[1].ID)
	}
	assert.True(t, anyContains(rep.Integration("resources").Report.Warnings, addrs[0]))

	// Acknowledging disabled accounts in the resource domain as well would
	// disable the mailboxes: that is what the setting is for.
	m.cfgs[1].AcknowledgeDisabledAccounts = true
	rep, err = m.round()
	require.NoError(t, err)
	assert.ElementsMatch(t, append(append([]string{}, mailboxIDs...), shared), rep.Integration("resources").Report.Disabled)
	snap, err = linked.Snapshot(context.Background())
	require.NoError(t, err)
	assert.True(t, snap[mailboxIDs[0]].Disabled)
	assert.False(t, snap[accountIDs[0]].Disabled)
}

// TestSambaMultiPausesRemovals: one integration's directory cannot be
// reached (primary on an address where nothing listens, no alternate), so
// the other integration's removals wait; its additions do not.
func TestSambaMultiPausesRemovals(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	one := scratchOU(t, c, e.ScratchDN, "one")
	two := scratchOU(t, c, e.ScratchDN, "two")
	goneDN, gone := addADUser(t, c, one, adUser{CN: "gone", Mail: "gone-" + itSuffix() + "@corp.example.test"})
	_, stay := addADUser(t, c, two, adUser{CN: "stay", Mail: "stay-" + itSuffix() + "@corp.example.test"})
	c1, c2 := e.config(one), e.config(two)
	c1.Name, c2.Name = "one", "two"
	m := &sambaMulti{t: t, cfgs: []ldapsync.Config{c1, c2},
		stores: []*ldapsync.MemoryStore{ldapsync.NewMemoryStore(), ldapsync.NewMemoryStore()},
		target: ldapsync.NewMemoryTarget()}
	_, err := m.round()
	require.NoError(t, err)

	require.NoError(t, c.Del(ldap.NewDelRequest(goneDN, nil)))
	_, added := addADUser(t, c, one, adUser{CN: "new", Mail: "new-" + itSuffix() + "@corp.example.test"})
	m.cfgs[1].Host = e.DeadHost
	rep, err := m.round()
	require.ErrorIs(t, err, ldapsync.ErrConnect)
	assert.NotEmpty(t, rep.RemovalsPaused)
	r1 := rep.Integration("one").Report
	assert.Equal(t, []string{added}, r1.Added)
	assert.Equal(t, []string{gone}, r1.Withheld)
	snap, err := m.target.Snapshot(context.Background())
	require.NoError(t, err)
	assert.Contains(t, snap, gone)
	assert.Contains(t, snap, stay)

	m.cfgs[1].Host = e.Host
	rep, err = m.round()
	require.NoError(t, err)
	assert.Equal(t, []string{gone}, rep.Integration("one").Report.Unlinked)
}
