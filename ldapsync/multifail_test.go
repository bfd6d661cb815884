package ldapsync_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// refusingTarget is a MemoryTarget whose service refuses to store one ID.
type refusingTarget struct {
	*ldapsync.MemoryTarget
	refuse string
}

func (r *refusingTarget) Upsert(ctx context.Context, u ldapsync.User) error {
	if u.ID == r.refuse {
		return errors.New("refused by the service")
	}
	return r.MemoryTarget.Upsert(ctx, u)
}

// An integration whose writes fail counts as failed for the round: the
// integrations applied after it hold their removals too.
func TestMultiPausesRemovalsAfterAFailedApply(t *testing.T) {
	p := newMultiPair(t)
	_, err := p.a.AddUser(ldapsynctest.User{CN: "a1", Mail: "a1@corp.example.test"})
	require.NoError(t, err)
	b1, err := p.b.AddUser(ldapsynctest.User{CN: "b1", Mail: "b1@child.corp.example.test"})
	require.NoError(t, err)
	_, err = p.b.AddUser(ldapsynctest.User{CN: "b2", Mail: "b2@child.corp.example.test"})
	require.NoError(t, err)
	target := &refusingTarget{MemoryTarget: p.target}
	round := func() (*ldapsync.MultiReport, error) {
		sa, err := ldapsync.NewSyncer(p.cfgA, target, p.storeA)
		require.NoError(t, err)
		sb, err := ldapsync.NewSyncer(p.cfgB, target, p.storeB)
		require.NoError(t, err)
		m, err := ldapsync.NewMulti(sa, sb)
		require.NoError(t, err)
		return m.Run(context.Background())
	}
	_, err = round()
	require.NoError(t, err)
	require.Contains(t, p.linked(), b1.ID)

	a2, err := p.a.AddUser(ldapsynctest.User{CN: "a2", Mail: "a2@corp.example.test"})
	require.NoError(t, err)
	target.refuse = a2.ID
	require.NoError(t, p.b.Delete(b1.DN))
	rep, err := round()
	require.ErrorIs(t, err, ldapsync.ErrTarget)
	assert.NotEmpty(t, rep.RemovalsPaused)
	assert.Contains(t, p.linked(), b1.ID, "no removal while an integration failed")
	child := rep.Integration("child")
	require.NotNil(t, child.Report)
	assert.Equal(t, []string{b1.ID}, child.Report.Withheld)

	target.refuse = ""
	rep, err = round()
	require.NoError(t, err)
	assert.Equal(t, []string{b1.ID}, rep.Integration("child").Report.Unlinked, "planned again and applied")
	assert.Contains(t, p.linked(), a2.ID)
	assert.NotContains(t, p.linked(), b1.ID)
}

func (p *multiPair) linked() map[string]ldapsync.User {
	m, err := p.target.Snapshot(context.Background())
	require.NoError(p.t, err)
	return m
}

// Two integrations sharing one state store would each read the other's
// objects as their own removals: NewMulti refuses it.
func TestNewMultiRefusesSharedStateStore(t *testing.T) {
	dir := ldapsynctest.Start(t)
	target := ldapsync.NewMemoryTarget()
	mk := func(name string, store ldapsync.StateStore) *ldapsync.Syncer {
		cfg := dir.Config()
		cfg.Name = name
		s, err := ldapsync.NewSyncer(cfg, target, store)
		require.NoError(t, err)
		return s
	}
	shared := ldapsync.NewMemoryStore()
	_, err := ldapsync.NewMulti(mk("a", shared), mk("b", shared))
	require.ErrorIs(t, err, ldapsync.ErrInvalidConfig)
	assert.ErrorContains(t, err, "state store")

	path := filepath.Join(t.TempDir(), "state")
	_, err = ldapsync.NewMulti(mk("a", ldapsync.NewFileStore(path)), mk("b", ldapsync.NewFileStore(path)))
	require.ErrorIs(t, err, ldapsync.ErrInvalidConfig)

	_, err = ldapsync.NewMulti(mk("a", ldapsync.NewFileStore(path)), mk("b", ldapsync.NewFileStore(path+"-b")))
	require.NoError(t, err)
}
