package saml

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultMetadataFetchTimeout bounds a metadata fetch whose context has no
// deadline and whose HTTP client has no Timeout.
const DefaultMetadataFetchTimeout = 30 * time.Second

// defaultFetchTimeout is DefaultMetadataFetchTimeout; tests shorten it.
var defaultFetchTimeout = DefaultMetadataFetchTimeout

// FetchMetadata downloads identity-provider metadata from rawURL and parses
// it with [ParseMetadata] and the same options.
//
// Only https URLs are accepted unless [WithInsecureHTTP] is given, and a
// redirect may never lead from https to http. The request is bound to ctx
// (without a deadline there, and without a client Timeout, it gets
// [DefaultMetadataFetchTimeout]), at most [WithMaxBytes] bytes
// are read, at most [WithMaxRedirects] redirects are followed and any status
// other than 200 fails. [WithHTTPClient] sets the client (for example one
// trusting a private CA).
//
// Every failure is a [*FetchError] whose Stage says what failed: the URL,
// DNS, connecting, TLS, a timeout, a redirect, the status, the size, reading
// or parsing.
func FetchMetadata(ctx context.Context, rawURL string, opts ...MetadataOption) (*IdPMetadata, error) {
	cfg, err := newMetadataConfig(opts)
	if err != nil {
		return nil, err
	}
	data, err := fetchMetadataBytes(ctx, rawURL, cfg)
	if err != nil {
		return nil, err
	}
	md, err := parseMetadata(data, cfg)
	if err != nil {
		return nil, &FetchError{URL: redactURL(rawURL), Stage: FetchStageParse, Err: err}
	}
	return md, nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Quoting the raw text could show a password in its user info.
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// checkMetadataURL validates the scheme and host of a metadata URL.
func checkMetadataURL(raw string, insecureHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only
		// what is wrong with it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a valid URL: %w", err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecureHTTP {
			return nil, errors.New("http is not accepted (https only, unless WithInsecureHTTP)")
		}
	default:
		return nil, fmt.Errorf("scheme %q is not accepted (https only)", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	return u, nil
}

func fetchMetadataBytes(ctx context.Context, rawURL string, cfg *metadataConfig) ([]byte, error) {
	shown := redactURL(rawURL)
	fail := func(stage FetchStage, err error) error {
		return &FetchError{URL: shown, Stage: stage, Err: err}
	}
	u, err := checkMetadataURL(rawURL, cfg.insecureHTTP)
	if err != nil {
		return nil, fail(FetchStageURL, err)
	}

	client := &http.Client{}
	if cfg.client != nil {
		c := *cfg.client
		client = &c
	}
	inner := client.CheckRedirect
	errRedirect := errors.New("redirect refused")
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > cfg.maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", errRedirect, cfg.maxRedirects)
		}
		if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("%w: from https to %s (%s)", errRedirect, req.URL.Scheme, req.URL.Redacted())
		}
		if _, err := checkMetadataURL(req.URL.String(), cfg.insecureHTTP); err != nil {
			return fmt.Errorf("%w: %v", errRedirect, err)
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}

	if _, ok := ctx.Deadline(); !ok && client.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultFetchTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fail(FetchStageURL, err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, errRedirect) {
			return nil, fail(FetchStageRedirect, err)
		}
		return nil, fail(classifyNetError(ctx, err), err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, &FetchError{URL: shown, Stage: FetchStageStatus, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("server answered %q", resp.Status)}
	}
	if resp.ContentLength > cfg.maxBytes {
		return nil, fail(FetchStageTooLarge, fmt.Errorf("Content-Length %d is more than the limit of %d bytes", resp.ContentLength, cfg.maxBytes))
	}
	limit := cfg.maxBytes
	if limit < math.MaxInt64 {
		limit++ // one byte more tells "too large" from "exactly at the limit"
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fail(classifyReadError(ctx, err), err)
	}
	if int64(len(data)) > cfg.maxBytes {
		return nil, fail(FetchStageTooLarge, fmt.Errorf("body is more than the limit of %d bytes", cfg.maxBytes))
	}
	if err := ctx.Err(); err != nil {
		// An answer can still arrive after the context ended (the server
		// answering the aborted request); it is not used.
		return nil, fail(FetchStageTimeout, context.Cause(ctx))
	}
	return data, nil
}

func classifyReadError(ctx context.Context, err error) FetchStage {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return FetchStageTimeout
	}
	return FetchStageRead
}

// classifyNetError tells which step of an HTTP request failed.
func classifyNetError(ctx context.Context, err error) FetchStage {
	var (
		dnsErr      *net.DNSError
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		opErr       *net.OpError
		netErr      net.Error
		unknownCAP  *x509.UnknownAuthorityError
		hostErrP    *x509.HostnameError
		invalidErrP *x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), ctx.Err() != nil:
		return FetchStageTimeout
	case errors.As(err, &dnsErr):
		return FetchStageDNS
	case errors.As(err, &verifyErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalidErr), errors.As(err, &unknownCAP), errors.As(err, &hostErrP),
		errors.As(err, &invalidErrP), errors.As(err, &recordErr), errors.As(err, &alertErr):
		return FetchStageTLS
	case errors.As(err, &netErr) && netErr.Timeout():
		return FetchStageTimeout
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return FetchStageConnect
	}
	return FetchStageConnect
}
