package saml

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Refresh intervals used by [MetadataCache] when its config leaves them zero.
const (
	DefaultMetadataRefresh    = time.Hour
	DefaultMetadataMinRefresh = 5 * time.Minute
	DefaultMetadataMaxRefresh = 24 * time.Hour
	DefaultMetadataRetryAfter = 5 * time.Minute
)

// MetadataCacheConfig configures a [MetadataCache].
type MetadataCacheConfig struct {
	// URL is the metadata URL (https unless Options has WithInsecureHTTP).
	URL string
	// Options apply to every fetch: WithEntityID, WithMetadataSigner,
	// WithHTTPClient, WithMaxBytes and so on. The cache sets WithNow from
	// Now itself.
	Options []MetadataOption
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Refresh is how long a copy is used when the metadata has neither
	// cacheDuration nor validUntil (default DefaultMetadataRefresh).
	Refresh time.Duration
	// MinRefresh and MaxRefresh bound every refresh interval, whatever the
	// metadata says (defaults DefaultMetadataMinRefresh and
	// DefaultMetadataMaxRefresh).
	MinRefresh, MaxRefresh time.Duration
	// RetryAfter is how long to wait after a failed fetch before trying
	// again; meanwhile the last good copy is served, or the last error
	// returned (default DefaultMetadataRetryAfter).
	RetryAfter time.Duration
}

// Validate reports every problem with the config, joined.
func (c MetadataCacheConfig) Validate() error {
	var errs []error
	cfg, err := newMetadataConfig(c.Options)
	if err != nil {
		errs = append(errs, err)
	}
	insecure := cfg != nil && cfg.insecureHTTP
	if _, err := checkMetadataURL(c.URL, insecure); err != nil {
		errs = append(errs, fmt.Errorf("saml: MetadataCacheConfig.URL %q: %w", c.URL, err))
	}
	for name, d := range map[string]time.Duration{"Refresh": c.Refresh, "MinRefresh": c.MinRefresh, "MaxRefresh": c.MaxRefresh, "RetryAfter": c.RetryAfter} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("saml: MetadataCacheConfig.%s %s is negative", name, d))
		}
	}
	if c.MinRefresh > 0 && c.MaxRefresh > 0 && c.MinRefresh > c.MaxRefresh {
		errs = append(errs, fmt.Errorf("saml: MetadataCacheConfig.MinRefresh %s is more than MaxRefresh %s", c.MinRefresh, c.MaxRefresh))
	}
	return errors.Join(errs...)
}

// MetadataCacheStatus describes the state of a [MetadataCache].
type MetadataCacheStatus struct {
	// FetchedAt is when the copy being served was fetched (zero: none yet).
	FetchedAt time.Time
	// RefreshAt is when the next fetch is due.
	RefreshAt time.Time
	// LastAttempt is when a fetch was last tried.
	LastAttempt time.Time
	// LastError is the error of the last fetch, nil after a success.
	LastError error
}

// MetadataCache keeps one identity provider's metadata from a URL up to
// date. It refetches when cacheDuration says so (or after Refresh when the
// metadata gives no hint, and halfway to validUntil at the latest), keeps
// serving the last good copy while refreshes fail, up to that copy's
// validUntil, and fetches at most once at a time. It is safe for concurrent
// use; this is what backs an authentication profile's "monitor metadata
// URL" switch.
type MetadataCache struct {
	cfg  MetadataCacheConfig
	opts []MetadataOption

	mu       sync.Mutex
	md       *IdPMetadata
	status   MetadataCacheStatus
	inflight chan struct{}
}

// NewMetadataCache validates cfg and returns a cache. Nothing is fetched
// until the first [MetadataCache.Get].
func NewMetadataCache(cfg MetadataCacheConfig) (*MetadataCache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = DefaultMetadataRefresh
	}
	if cfg.MinRefresh == 0 {
		cfg.MinRefresh = DefaultMetadataMinRefresh
	}
	if cfg.MaxRefresh == 0 {
		cfg.MaxRefresh = DefaultMetadataMaxRefresh
	}
	if cfg.MinRefresh > cfg.MaxRefresh {
		cfg.MinRefresh = cfg.MaxRefresh
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultMetadataRetryAfter
	}
	cfg.Options = append([]MetadataOption(nil), cfg.Options...)
	opts := append(append([]MetadataOption(nil), cfg.Options...), WithNow(cfg.Now))
	return &MetadataCache{cfg: cfg, opts: opts}, nil
}

// Get returns the current metadata, fetching it first when none is held or
// a refresh is due. When a refresh fails, the last good copy is returned
// while it is still within its validUntil; after that the error wraps
// [ErrMetadataExpired] and the fetch error. The result is a copy the caller
// may keep.
func (c *MetadataCache) Get(ctx context.Context) (*IdPMetadata, error) {
	return c.get(ctx, false)
}

// Refresh fetches the metadata now, whatever its cache settings say (a
// fetch already under way is waited for instead). On success the new copy
// replaces the old one; on failure the old one stays and the error is
// returned.
func (c *MetadataCache) Refresh(ctx context.Context) (*IdPMetadata, error) {
	return c.get(ctx, true)
}

func (c *MetadataCache) get(ctx context.Context, force bool) (*IdPMetadata, error) {
	if c == nil || c.cfg.Now == nil {
		return nil, &ConfigError{Field: "MetadataCache", Reason: "not made by NewMetadataCache"}
	}
	c.mu.Lock()
	now := c.cfg.Now()
	if wait := c.inflight; wait != nil {
		// Another caller is fetching: wait for its outcome.
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.status.LastError == nil && c.md != nil {
			return cloneMetadata(c.md), nil
		}
		if force {
			return nil, c.status.LastError
		}
		return c.fallbackLocked(c.cfg.Now())
	}
	if !force {
		if c.md != nil && now.Before(c.status.RefreshAt) && (c.md.ValidUntil.IsZero() || now.Before(c.md.ValidUntil)) {
			defer c.mu.Unlock()
			return cloneMetadata(c.md), nil
		}
		if c.status.LastError != nil && now.Before(c.status.LastAttempt.Add(c.cfg.RetryAfter)) {
			defer c.mu.Unlock()
			return c.fallbackLocked(now)
		}
	}
	done := make(chan struct{})
	c.inflight = done
	c.mu.Unlock()

	md, err := c.fetch(ctx, now)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = nil
	close(done)
	if err == nil {
		return md, nil
	}
	if force {
		return nil, err
	}
	md, ferr := c.fallbackLocked(now)
	if ferr != nil && ctx.Err() != nil {
		return nil, err
	}
	return md, ferr
}

// Status reports when the copy was fetched, when the next refresh is due and
// the outcome of the last fetch.
func (c *MetadataCache) Status() MetadataCacheStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// fetch fetches and stores the metadata; the caller has set c.inflight.
func (c *MetadataCache) fetch(ctx context.Context, now time.Time) (*IdPMetadata, error) {
	md, err := FetchMetadata(ctx, c.cfg.URL, c.opts...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		// The caller gave up; that says nothing about the server.
		return nil, err
	}
	c.status.LastAttempt = now
	c.status.LastError = err
	if err != nil {
		return nil, err
	}
	c.md = md
	c.status.FetchedAt = now
	c.status.RefreshAt = now.Add(c.interval(md, now))
	return cloneMetadata(md), nil
}

// interval is how long a freshly fetched copy is used before refreshing.
func (c *MetadataCache) interval(md *IdPMetadata, now time.Time) time.Duration {
	d := c.cfg.Refresh
	if md.CacheDuration > 0 {
		d = md.CacheDuration
	}
	if !md.ValidUntil.IsZero() {
		if half := md.ValidUntil.Sub(now) / 2; half < d {
			d = half
		}
	}
	if d < c.cfg.MinRefresh {
		d = c.cfg.MinRefresh
	}
	if d > c.cfg.MaxRefresh {
		d = c.cfg.MaxRefresh
	}
	if !md.ValidUntil.IsZero() {
		// Never hold a copy past its validUntil, whatever MinRefresh says.
		if left := md.ValidUntil.Sub(now); d > left {
			d = left
		}
	}
	return d
}

// fallbackLocked returns the last good copy while it is valid, or the last
// error. c.mu must be held.
func (c *MetadataCache) fallbackLocked(now time.Time) (*IdPMetadata, error) {
	lastErr := c.status.LastError
	if c.md == nil {
		if lastErr == nil {
			lastErr = errors.New("saml: metadata not fetched yet")
		}
		return nil, lastErr
	}
	if !c.md.ValidUntil.IsZero() && !now.Before(c.md.ValidUntil) {
		return nil, fmt.Errorf("%w: the last good copy of %s expired at %s and refreshing failed: %w",
			ErrMetadataExpired, redactURL(c.cfg.URL), c.md.ValidUntil.Format(time.RFC3339), lastErr)
	}
	return cloneMetadata(c.md), nil
}

// cloneMetadata copies md and its slices (the certificates themselves are
// shared: nothing changes them after parsing).
func cloneMetadata(md *IdPMetadata) *IdPMetadata {
	if md == nil {
		return nil
	}
	out := *md
	out.SSO = append([]Endpoint(nil), md.SSO...)
	out.SLO = append([]Endpoint(nil), md.SLO...)
	out.SigningCerts = append(out.SigningCerts[:0:0], md.SigningCerts...)
	out.NameIDFormats = append([]string(nil), md.NameIDFormats...)
	return &out
}
