package ldapsync_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHeldRemovalsStayPending(t *testing.T) {
	e := newEnv(t)
	e.cfg.MaxSyncDeletions = 10
	a := e.addUser("A", "a@example.com")
	e.run()
	require.NoError(t, e.dir.Delete(a.DN))
	b := e.addUser("B", "b@example.com")

	rep, err := ldapsync.RunHoldingRemovals(context.Background(), e.syncer(), "another integration failed")
	require.NoError(t, err, "held removals are not a deletion-limit error")
	assert.Equal(t, []string{a.ID}, rep.Withheld)
	assert.Equal(t, []string{b.ID}, rep.Added)
	assert.Contains(t, rep.Warnings, "another integration failed")
	assert.Contains(t, e.linked(), a.ID)

	rep = e.run()
	assert.Equal(t, []string{a.ID}, rep.Unlinked, "the removal is planned again next round")
}

func TestLoggerGetsProgressAndClockGivesDuration(t *testing.T) {
	e := newEnv(t)
	e.addUser("A", "a@example.com")
	var buf bytes.Buffer
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e.opts = []ldapsync.Option{
		ldapsync.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		ldapsync.WithNow(func() time.Time {
			t := now
			now = now.Add(5 * time.Second) // every later reading is 5s on
			return t
		}),
	}
	rep := e.run()
	assert.Contains(t, buf.String(), "ldapsync: run complete")
	assert.Contains(t, buf.String(), "page read")
	assert.Equal(t, 0, int(rep.Duration%(5*time.Second)), "the duration comes from the injected clock")
	assert.Positive(t, rep.Duration)
}

func TestNewSyncerValidates(t *testing.T) {
	_, err := ldapsync.NewSyncer(ldapsync.Config{}, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
	assert.ErrorIs(t, err, ldapsync.ErrInvalidConfig)
	e := newEnv(t)
	_, err = ldapsync.NewSyncer(e.cfg, nil, ldapsync.NewMemoryStore())
	assert.ErrorContains(t, err, "target")
	_, err = ldapsync.NewSyncer(e.cfg, ldapsync.NewMemoryTarget(), nil)
	assert.ErrorContains(t, err, "state store")
	s, err := ldapsync.NewSyncer(e.cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
	require.NoError(t, err)
	assert.Equal(t, 500, s.Config().PageSize)
}

func TestMemoryTarget(t *testing.T) {
	ctx := context.Background()
	m := ldapsync.NewMemoryTarget()
	require.Error(t, m.Upsert(ctx, ldapsync.User{Email: "a@example.com"}), "an ID is required")
	require.NoError(t, m.Upsert(ctx, ldapsync.User{ID: "1", Email: "a@example.com", Aliases: []string{"x@example.com"}}))
	require.NoError(t, m.UpsertGroup(ctx, ldapsync.Group{ID: "g", Members: []string{"1"}}))
	snap, err := m.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"g"}, snap["1"].Groups)
	snap["1"].Aliases[0] = "mutated"
	again, _ := m.Snapshot(ctx)
	assert.Equal(t, "x@example.com", again["1"].Aliases[0], "snapshots are copies")

	require.NoError(t, m.Disable(ctx, "1"))
	require.Error(t, m.Disable(ctx, "nobody"))
	require.NoError(t, m.Unlink(ctx, "1"))
	require.NoError(t, m.Unlink(ctx, "1"), "unlink is idempotent")
	snap, _ = m.Snapshot(ctx)
	assert.Empty(t, snap)
	assert.True(t, m.Unlinked()["1"].Disabled)
	require.NoError(t, m.Upsert(ctx, ldapsync.User{ID: "1", Email: "a@example.com"}))
	assert.Empty(t, m.Unlinked(), "upsert links again")
	require.NoError(t, m.Delete(ctx, "1"))
	require.NoError(t, m.Delete(ctx, "1"), "delete is idempotent")
	require.NoError(t, m.DeleteGroup(ctx, "g"))
	assert.Empty(t, m.Groups())

	m.FailAfter(1)
	require.NoError(t, m.Upsert(ctx, ldapsync.User{ID: "2", Email: "b@example.com"}))
	assert.ErrorIs(t, m.Upsert(ctx, ldapsync.User{ID: "3", Email: "c@example.com"}), ldapsync.ErrInjected)
	m.FailAfter(-1)
	require.NoError(t, m.Upsert(ctx, ldapsync.User{ID: "3", Email: "c@example.com"}))

	// Concurrent use.
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range 50 {
				_ = m.Upsert(ctx, ldapsync.User{ID: string(rune('a'+i)) + string(rune('a'+j%26)), Email: "x@example.com"})
				_, _ = m.Snapshot(ctx)
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func TestFullSyncEvery(t *testing.T) {
	e := newEnv(t)
	e.addUser("A", "a@example.com")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e.opts = []ldapsync.Option{
		ldapsync.WithNow(func() time.Time { return now }),
		ldapsync.WithFullSyncEvery(24 * time.Hour),
	}
	assert.Equal(t, ldapsync.SyncFull, e.run().Mode)
	now = now.Add(23 * time.Hour)
	assert.Equal(t, ldapsync.SyncIncremental, e.run().Mode)
	now = now.Add(2 * time.Hour)
	writes := e.target.Writes()
	rep := e.run()
	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.Contains(t, rep.Warnings[0], "older than 24h0m0s")
	assert.Equal(t, writes, e.target.Writes(), "a periodic full read of an unchanged directory writes nothing")
	now = now.Add(time.Hour)
	assert.Equal(t, ldapsync.SyncIncremental, e.run().Mode, "the full read reset the clock")
}
