package saml

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveBytes answers every request with data as SAML metadata.
func serveBytes(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = w.Write(data)
	}
}

func requireFetchStage(t *testing.T, err error, stage FetchStage) *FetchError {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrFetch)
	var fe *FetchError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, stage, fe.Stage, "error: %v", err)
	return fe
}

func TestFetchMetadata(t *testing.T) {
	data := mdFixture(t, "entra-id.xml")
	srv := httptest.NewTLSServer(serveBytes(data))
	defer srv.Close()

	md, err := FetchMetadata(context.Background(), srv.URL+"/federationmetadata/2007-06/federationmetadata.xml?appid=1", WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	assert.Equal(t, "https://sts.windows.net/"+entraTenant+"/", md.EntityID)
	assert.Len(t, md.SigningCerts, 2)

	// Options reach the parser: the signature is checked.
	signer := mdPEMCert(t, "entra-id-signing.pem")
	_, err = FetchMetadata(context.Background(), srv.URL, WithHTTPClient(srv.Client()), WithMetadataSigner(signer), WithNow(func() time.Time { return mdNow }))
	require.NoError(t, err)
	_, err = FetchMetadata(context.Background(), srv.URL, WithHTTPClient(srv.Client()), WithMetadataSigner(mdPEMCert(t, "adfs-signing.pem")), WithNow(func() time.Time { return mdNow }))
	requireFetchStage(t, err, FetchStageParse)
	require.ErrorIs(t, err, ErrSignature)
}

func TestFetchMetadataUntrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(serveBytes(mdFixture(t, "okta.xml")))
	defer srv.Close()
	_, err := FetchMetadata(context.Background(), srv.URL)
	fe := requireFetchStage(t, err, FetchStageTLS)
	assert.Contains(t, fe.Error(), "certificate")
}

func TestFetchMetadataSchemes(t *testing.T) {
	plain := httptest.NewServer(serveBytes(mdFixture(t, "okta.xml")))
	defer plain.Close()

	_, err := FetchMetadata(context.Background(), plain.URL)
	fe := requireFetchStage(t, err, FetchStageURL)
	assert.Contains(t, fe.Error(), "https only")

	md, err := FetchMetadata(context.Background(), plain.URL, WithInsecureHTTP())
	require.NoError(t, err)
	assert.Equal(t, "http://www.okta.com/exk9q2w7nrLkQhP3D5d7", md.EntityID)

	for _, u := range []string{"file:///etc/passwd", "ftp://127.0.0.1/md.xml", "//127.0.0.1/md.xml", "https:///md.xml", "::not a url"} {
		_, err := FetchMetadata(context.Background(), u, WithInsecureHTTP())
		requireFetchStage(t, err, FetchStageURL)
	}
}

func TestFetchMetadataStatus(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := FetchMetadata(context.Background(), srv.URL+"/missing", WithHTTPClient(srv.Client()))
	fe := requireFetchStage(t, err, FetchStageStatus)
	assert.Equal(t, http.StatusNotFound, fe.StatusCode)
	assert.Contains(t, err.Error(), "404")
}

func TestFetchMetadataTooLarge(t *testing.T) {
	data := mdFixture(t, "okta.xml")
	withLength := httptest.NewTLSServer(serveBytes(data))
	defer withLength.Close()
	chunked := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length: the body is streamed in pieces.
		for i := 0; i < len(data); i += 100 {
			_, _ = w.Write(data[i:min(i+100, len(data))])
			w.(http.Flusher).Flush()
		}
	}))
	defer chunked.Close()

	for name, srv := range map[string]*httptest.Server{"content-length": withLength, "chunked": chunked} {
		t.Run(name, func(t *testing.T) {
			_, err := FetchMetadata(context.Background(), srv.URL, WithHTTPClient(srv.Client()), WithMaxBytes(int64(len(data)-1)))
			requireFetchStage(t, err, FetchStageTooLarge)
			_, err = FetchMetadata(context.Background(), srv.URL, WithHTTPClient(srv.Client()), WithMaxBytes(int64(len(data))))
			require.NoError(t, err, "exactly at the limit")
		})
	}
}

func TestFetchMetadataParseError(t *testing.T) {
	srv := httptest.NewTLSServer(serveBytes([]byte("<html><body>Please sign in</body></html>")))
	defer srv.Close()
	_, err := FetchMetadata(context.Background(), srv.URL, WithHTTPClient(srv.Client()))
	requireFetchStage(t, err, FetchStageParse)
	require.ErrorIs(t, err, ErrMalformed)
	var me *MetadataError
	require.ErrorAs(t, err, &me)
}

// hangingServer answers no request until the client goes away.
func hangingServer(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			panic(http.ErrAbortHandler) // no answer to an abandoned request
		case <-release:
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv
}

func TestFetchMetadataContext(t *testing.T) {
	srv := hangingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := FetchMetadata(ctx, srv.URL, WithHTTPClient(srv.Client()))
	requireFetchStage(t, err, FetchStageTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	srv = hangingServer(t)
	_, err = FetchMetadata(canceled, srv.URL, WithHTTPClient(srv.Client()))
	requireFetchStage(t, err, FetchStageTimeout)
	require.ErrorIs(t, err, context.Canceled)
}

func TestFetchMetadataDefaultTimeout(t *testing.T) {
	// No deadline in the context and none in the client: the default
	// timeout applies.
	defer func(d time.Duration) { defaultFetchTimeout = d }(defaultFetchTimeout)
	defaultFetchTimeout = 100 * time.Millisecond
	srv := hangingServer(t)
	_, err := FetchMetadata(context.Background(), srv.URL, WithHTTPClient(srv.Client()))
	requireFetchStage(t, err, FetchStageTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestFetchMetadataRedirects(t *testing.T) {
	data := mdFixture(t, "okta.xml")
	plain := httptest.NewServer(serveBytes(data))
	defer plain.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/metadata":
			serveBytes(data)(w, r)
		case r.URL.Path == "/downgrade":
			http.Redirect(w, r, plain.URL+"/metadata", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
			next := "/metadata"
			if n > 1 {
				next = fmt.Sprintf("/hop/%d", n-1)
			}
			http.Redirect(w, r, next, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := srv.Client()

	_, err := FetchMetadata(context.Background(), srv.URL+"/hop/3", WithHTTPClient(client))
	require.NoError(t, err)
	_, err = FetchMetadata(context.Background(), srv.URL+"/hop/5", WithHTTPClient(client))
	require.NoError(t, err, "five redirects are allowed by default")
	_, err = FetchMetadata(context.Background(), srv.URL+"/hop/6", WithHTTPClient(client))
	requireFetchStage(t, err, FetchStageRedirect)
	_, err = FetchMetadata(context.Background(), srv.URL+"/hop/1", WithHTTPClient(client), WithMaxRedirects(0))
	requireFetchStage(t, err, FetchStageRedirect)

	// https never leads to http, even when http is allowed.
	_, err = FetchMetadata(context.Background(), srv.URL+"/downgrade", WithHTTPClient(client), WithInsecureHTTP())
	fe := requireFetchStage(t, err, FetchStageRedirect)
	assert.Contains(t, fe.Error(), "from https to http")

	// The caller's client keeps its own redirect policy too.
	refusing := *client
	refusing.CheckRedirect = func(*http.Request, []*http.Request) error { return errors.New("no redirects here") }
	_, err = FetchMetadata(context.Background(), srv.URL+"/hop/1", WithHTTPClient(&refusing))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no redirects here")
	assert.Nil(t, client.CheckRedirect, "the caller's client is not modified")
}

func TestFetchMetadataDNS(t *testing.T) {
	// A resolver whose DNS server (on loopback) does not answer.
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:1")
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Resolver: resolver}).DialContext}}
	_, err := FetchMetadata(context.Background(), "https://login.idp.example.test/metadata", WithHTTPClient(client))
	fe := requireFetchStage(t, err, FetchStageDNS)
	assert.Contains(t, fe.Error(), "login.idp.example.test")
}

func TestFetchMetadataConnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = FetchMetadata(context.Background(), "https://user:s3cret@"+addr+"/metadata")
	requireFetchStage(t, err, FetchStageConnect)
	assert.NotContains(t, err.Error(), "s3cret", "passwords in URLs are redacted")
}

func TestFetchMetadataAnswerAfterDeadline(t *testing.T) {
	// A server that answers only once the client gives up: whatever still
	// arrives is not used.
	data := mdFixture(t, "okta.xml")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := FetchMetadata(ctx, srv.URL, WithHTTPClient(srv.Client()))
		cancel()
		requireFetchStage(t, err, FetchStageTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
}

func TestFetchMetadataErrorNeverShowsPassword(t *testing.T) {
	for _, raw := range []string{
		"https://user:s3cret@idp.example/%zz",  // unparsable
		"ftp://user:s3cret@idp.example/md.xml", // wrong scheme
		"https://user:s3cret@/md.xml",          // no host
	} {
		_, err := FetchMetadata(context.Background(), raw)
		require.Error(t, err, raw)
		assert.NotContains(t, err.Error(), "s3cret", raw)
		var fe *FetchError
		require.ErrorAs(t, err, &fe, raw)
		assert.Equal(t, FetchStageURL, fe.Stage, raw)
	}
}
