package saml

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// idpServer is an IdP metadata endpoint whose answer can change.
type idpServer struct {
	*httptest.Server
	mu     sync.Mutex
	doc    []byte
	status int
	delay  time.Duration
	hits   atomic.Int32
}

func newIdPServer(t *testing.T, doc []byte) *idpServer {
	s := &idpServer{doc: doc, status: http.StatusOK}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		doc, status, delay := s.doc, s.status, s.delay
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				panic(http.ErrAbortHandler) // no answer to an abandoned request
			}
		}
		if status != http.StatusOK {
			http.Error(w, "unavailable", status)
			return
		}
		_, _ = w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *idpServer) setDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (s *idpServer) set(doc []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if doc != nil {
		s.doc = doc
	}
	s.status = status
}

// idpDoc is IdP metadata with the given certificate and EntityDescriptor
// attributes (validUntil, cacheDuration).
func idpDoc(cert *x509.Certificate, attrs string) []byte {
	return []byte(fmt.Sprintf(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.com" %s>`+
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">%s`+
		`<md:SingleSignOnService Binding="%s" Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`,
		attrs, keyDescriptor("signing", mdCertB64(cert)), BindingHTTPRedirect))
}

func newTestCache(t *testing.T, srv *idpServer, clock *testClock, mutate func(*MetadataCacheConfig)) *MetadataCache {
	t.Helper()
	cfg := MetadataCacheConfig{
		URL:     srv.URL + "/metadata",
		Options: []MetadataOption{WithHTTPClient(srv.Client())},
		Now:     clock.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewMetadataCache(cfg)
	require.NoError(t, err)
	return c
}

func TestMetadataCacheRollover(t *testing.T) {
	ctx := context.Background()
	_, oldCert := mdNewCert(t, "old", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	_, newCert := mdNewCert(t, "new", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(2, 0, 0), false)
	srv := newIdPServer(t, idpDoc(oldCert, `cacheDuration="PT6H"`))
	clock := &testClock{t: mdNow}
	c := newTestCache(t, srv, clock, nil)

	md, err := c.Get(ctx)
	require.NoError(t, err)
	require.True(t, md.SigningCerts[0].Equal(oldCert))
	assert.Equal(t, int32(1), srv.hits.Load())
	st := c.Status()
	assert.Equal(t, mdNow, st.FetchedAt)
	assert.Equal(t, mdNow.Add(6*time.Hour), st.RefreshAt)
	assert.NoError(t, st.LastError)

	// The IdP rolls its signing key over.
	srv.set(idpDoc(newCert, `cacheDuration="PT6H"`), http.StatusOK)

	clock.Advance(5 * time.Hour)
	md, err = c.Get(ctx)
	require.NoError(t, err)
	assert.True(t, md.SigningCerts[0].Equal(oldCert), "cacheDuration not over yet")
	assert.Equal(t, int32(1), srv.hits.Load())

	clock.Advance(time.Hour)
	md, err = c.Get(ctx)
	require.NoError(t, err)
	assert.True(t, md.SigningCerts[0].Equal(newCert), "refreshed after cacheDuration")
	assert.Equal(t, int32(2), srv.hits.Load())

	// The copy handed out is the caller's own.
	md.SigningCerts = nil
	md.SSO[0].Location = "https://changed.example"
	again, err := c.Get(ctx)
	require.NoError(t, err)
	assert.Len(t, again.SigningCerts, 1)
	assert.Equal(t, "https://idp.example.com/sso", again.SSO[0].Location)
}

func TestMetadataCacheDefaultRefresh(t *testing.T) {
	ctx := context.Background()
	_, cert := mdNewCert(t, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	srv := newIdPServer(t, idpDoc(cert, ""))
	clock := &testClock{t: mdNow}
	c := newTestCache(t, srv, clock, nil)

	_, err := c.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, mdNow.Add(DefaultMetadataRefresh), c.Status().RefreshAt)
	clock.Advance(DefaultMetadataRefresh - time.Minute)
	_, err = c.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(1), srv.hits.Load())
	clock.Advance(time.Minute)
	_, err = c.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(2), srv.hits.Load())

	// Refresh forces a fetch.
	_, err = c.Refresh(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(3), srv.hits.Load())

	// A failed Refresh says so, and the copy stays.
	srv.set(nil, http.StatusInternalServerError)
	_, err = c.Refresh(ctx)
	requireFetchStage(t, err, FetchStageStatus)
	md, err := c.Get(ctx)
	require.NoError(t, err)
	assert.True(t, md.SigningCerts[0].Equal(cert))
	assert.Equal(t, int32(4), srv.hits.Load())
}

func TestMetadataCacheIntervals(t *testing.T) {
	_, cert := mdNewCert(t, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	validIn := func(d time.Duration) string {
		return `validUntil="` + mdNow.Add(d).Format(time.RFC3339) + `"`
	}
	for _, tc := range []struct {
		attrs string
		want  time.Duration
	}{
		{``, time.Hour},
		{`cacheDuration="PT10M"`, 10 * time.Minute},
		{`cacheDuration="PT1M"`, DefaultMetadataMinRefresh},
		{`cacheDuration="P30D"`, DefaultMetadataMaxRefresh},
		{validIn(30 * time.Minute), 15 * time.Minute},
		{validIn(2 * time.Minute), 2 * time.Minute},
		{validIn(240 * time.Hour), time.Hour},
		{validIn(4*time.Hour) + ` cacheDuration="PT12H"`, 2 * time.Hour},
	} {
		srv := newIdPServer(t, idpDoc(cert, tc.attrs))
		c := newTestCache(t, srv, &testClock{t: mdNow}, nil)
		_, err := c.Get(context.Background())
		require.NoError(t, err, tc.attrs)
		assert.Equal(t, mdNow.Add(tc.want), c.Status().RefreshAt, tc.attrs)
	}
}

func TestMetadataCacheServesLastGoodCopy(t *testing.T) {
	ctx := context.Background()
	_, cert := mdNewCert(t, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	validUntil := mdNow.Add(48 * time.Hour)
	srv := newIdPServer(t, idpDoc(cert, `cacheDuration="PT1H" validUntil="`+validUntil.Format(time.RFC3339)+`"`))
	clock := &testClock{t: mdNow}
	c := newTestCache(t, srv, clock, func(cfg *MetadataCacheConfig) { cfg.RetryAfter = 10 * time.Minute })

	_, err := c.Get(ctx)
	require.NoError(t, err)

	// The IdP starts failing.
	srv.set(nil, http.StatusServiceUnavailable)
	clock.Advance(2 * time.Hour)
	md, err := c.Get(ctx)
	require.NoError(t, err, "the last good copy is served")
	assert.True(t, md.SigningCerts[0].Equal(cert))
	assert.Equal(t, int32(2), srv.hits.Load())
	st := c.Status()
	requireFetchStage(t, st.LastError, FetchStageStatus)
	assert.Equal(t, mdNow, st.FetchedAt)

	// No new attempt before RetryAfter.
	clock.Advance(5 * time.Minute)
	_, err = c.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(2), srv.hits.Load())
	clock.Advance(5 * time.Minute)
	_, err = c.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(3), srv.hits.Load())

	// A broken document is a failure too; the good copy stays.
	srv.set([]byte("<html>maintenance</html>"), http.StatusOK)
	clock.Advance(10 * time.Minute)
	md, err = c.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, "https://idp.example.com", md.EntityID)
	requireFetchStage(t, c.Status().LastError, FetchStageParse)

	// At validUntil the old copy is no longer served.
	srv.set(nil, http.StatusServiceUnavailable)
	clock.t = validUntil
	md, err = c.Get(ctx)
	require.Nil(t, md)
	require.ErrorIs(t, err, ErrMetadataExpired)
	require.ErrorIs(t, err, ErrFetch)

	// Once the IdP is back, all is well again.
	clock.Advance(time.Hour)
	srv.set(idpDoc(cert, ""), http.StatusOK)
	md, err = c.Get(ctx)
	require.NoError(t, err)
	assert.True(t, md.ValidUntil.IsZero())
	assert.NoError(t, c.Status().LastError)
}

func TestMetadataCacheFirstFetchFails(t *testing.T) {
	ctx := context.Background()
	_, cert := mdNewCert(t, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	srv := newIdPServer(t, idpDoc(cert, ""))
	srv.set(nil, http.StatusNotFound)
	clock := &testClock{t: mdNow}
	c := newTestCache(t, srv, clock, nil)

	_, err := c.Get(ctx)
	fe := requireFetchStage(t, err, FetchStageStatus)
	assert.Equal(t, http.StatusNotFound, fe.StatusCode)
	_, err = c.Get(ctx)
	requireFetchStage(t, err, FetchStageStatus)
	assert.Equal(t, int32(1), srv.hits.Load(), "the error is kept until RetryAfter")

	srv.set(nil, http.StatusOK)
	clock.Advance(DefaultMetadataRetryAfter)
	_, err = c.Get(ctx)
	require.NoError(t, err)
}

func TestMetadataCacheConcurrent(t *testing.T) {
	_, cert := mdNewCert(t, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	srv := newIdPServer(t, idpDoc(cert, ""))
	srv.setDelay(200 * time.Millisecond)
	clock := &testClock{t: mdNow}
	c := newTestCache(t, srv, clock, nil)

	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			md, err := c.Get(context.Background())
			if err == nil && md.EntityID != "https://idp.example.com" {
				err = fmt.Errorf("wrong entity %q", md.EntityID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), srv.hits.Load(), "one fetch for all callers")

	// A caller waiting for someone else's fetch can give up.
	clock.Advance(2 * time.Hour)
	srv.setDelay(2 * time.Second)
	fetcherCtx, stopFetcher := context.WithCancel(context.Background())
	fetcherDone := make(chan struct{})
	go func() {
		defer close(fetcherDone)
		_, _ = c.Get(fetcherCtx)
	}()
	defer func() {
		stopFetcher()
		<-fetcherDone
	}()
	require.Eventually(t, func() bool { return srv.hits.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestMetadataCacheCanceledFetchIsNotAFailure(t *testing.T) {
	_, cert := mdNewCert(t, "idp", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	srv := newIdPServer(t, idpDoc(cert, ""))
	srv.setDelay(time.Second)
	c := newTestCache(t, srv, &testClock{t: mdNow}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The next caller fetches at once instead of waiting RetryAfter.
	srv.setDelay(0)
	_, err = c.Get(context.Background())
	require.NoError(t, err)
}

func TestMetadataCacheConfigValidate(t *testing.T) {
	assert.Error(t, MetadataCacheConfig{}.Validate())
	assert.Error(t, MetadataCacheConfig{URL: "http://idp.example.com/md"}.Validate(), "http needs WithInsecureHTTP")
	assert.NoError(t, MetadataCacheConfig{URL: "http://idp.example.com/md", Options: []MetadataOption{WithInsecureHTTP()}}.Validate())
	assert.NoError(t, MetadataCacheConfig{URL: "https://idp.example.com/md"}.Validate())
	err := MetadataCacheConfig{URL: "https://idp.example.com/md", Refresh: -time.Second, MinRefresh: time.Hour, MaxRefresh: time.Minute,
		Options: []MetadataOption{WithMaxBytes(-1)}}.Validate()
	require.Error(t, err)
	for _, want := range []string{"Refresh", "MinRefresh", "WithMaxBytes"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = NewMetadataCache(MetadataCacheConfig{URL: "ftp://idp.example.com/md"})
	assert.Error(t, err)
}
