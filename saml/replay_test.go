package saml_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
)

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestMemoryReplayCacheSeenOnce(t *testing.T) {
	clock := &manualClock{t: testClock}
	c := saml.NewMemoryReplayCache(10, saml.WithReplayClock(clock.Now))
	ctx := context.Background()
	seen, err := c.Seen(ctx, "a", testClock.Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, seen)
	seen, err = c.Seen(ctx, "a", testClock.Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, seen)

	// Forgotten once its time has passed.
	clock.Add(time.Minute)
	seen, err = c.Seen(ctx, "b", testClock.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, seen)
	assert.Equal(t, 1, c.Len(), "the expired entry was dropped")
	seen, err = c.Seen(ctx, "a", testClock.Add(2*time.Minute))
	require.NoError(t, err)
	assert.False(t, seen)
}

func TestMemoryReplayCacheBounded(t *testing.T) {
	c := saml.NewMemoryReplayCache(3, saml.WithReplayClock(fixedClock))
	ctx := context.Background()
	for i := range 10 {
		seen, err := c.Seen(ctx, fmt.Sprint(i), testClock.Add(time.Duration(i+1)*time.Minute))
		require.NoError(t, err)
		require.False(t, seen)
		require.LessOrEqual(t, c.Len(), 3)
	}
	// The entries expiring last are kept.
	seen, _ := c.Seen(ctx, "9", testClock.Add(time.Hour))
	assert.True(t, seen)
	seen, _ = c.Seen(ctx, "0", testClock.Add(time.Hour))
	assert.False(t, seen)
}

func TestMemoryReplayCacheConcurrent(t *testing.T) {
	c := saml.NewMemoryReplayCache(0)
	ctx := context.Background()
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				seen, err := c.Seen(ctx, fmt.Sprint("id-", i), time.Now().Add(time.Hour))
				if err == nil && !seen {
					accepted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(200), accepted.Load(), "each ID accepted exactly once")
}

func TestMemoryReplayCacheContext(t *testing.T) {
	c := saml.NewMemoryReplayCache(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Seen(ctx, "x", time.Now().Add(time.Hour))
	require.ErrorIs(t, err, context.Canceled)
}

func TestMemoryReplayCacheZeroValue(t *testing.T) {
	var c saml.MemoryReplayCache
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	seen, err := c.Seen(ctx, "a", until)
	require.NoError(t, err)
	assert.False(t, seen)
	seen, err = c.Seen(ctx, "a", until)
	require.NoError(t, err)
	assert.True(t, seen, "the zero value remembers IDs")
	assert.Equal(t, 1, c.Len())
}
