package ldapsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Dialer opens the TCP connection to a directory host. The zero value of
// [Syncer] uses a net.Dialer with Config.Timeout.
type Dialer func(ctx context.Context, network, address string) (net.Conn, error)

// Steps of a connection, in order; also the step names of [TestConnection].
const (
	StepHostname       = "hostname"
	StepConnectivity   = "connectivity"
	StepCertificate    = "certificate"
	StepAuthentication = "authentication"
	StepSampleAddress  = "sample-address"
)

// session is one bound connection to one directory host. It is closed when
// the context it was opened with ends.
type session struct {
	conn *ldap.Conn
	wire *wireConn // under conn: bulk searches bypass go-ldap's decoding
	host string
	cfg  Config
	stop func() bool
	once sync.Once
	tls  *tls.ConnectionState
}

// timeout is the configured wait for one reply.
func (s *session) timeout() time.Duration {
	if s.cfg.Timeout > 0 {
		return s.cfg.Timeout
	}
	return DefaultTimeout
}

func (s *session) Close() {
	s.once.Do(func() {
		if s.stop != nil {
			s.stop()
		}
		_ = s.conn.Close()
	})
}

// connectOptions tune one connection attempt.
type connectOptions struct {
	dial     Dialer
	resolve  bool // look the host name up first (the hostname step)
	bind     bool
	now      func() time.Time
	resolver *net.Resolver // nil: net.DefaultResolver
	// trace, when set, hears every step that passed or was skipped.
	trace func(step string, status StepStatus, detail string)
}

func (o connectOptions) passed(step string, status StepStatus, detail string) {
	if o.trace != nil {
		o.trace(step, status, detail)
	}
}

// connect opens a bound session to the primary host, or to the alternate
// when the primary fails to resolve, connect or complete TLS. An
// authentication failure does not fail over: both hosts serve the same
// directory with the same credentials.
func connect(ctx context.Context, cfg Config, o connectOptions) (*session, error) {
	hosts := []string{cfg.Host}
	if cfg.AlternateHost != "" && cfg.AlternateHost != cfg.Host {
		hosts = append(hosts, cfg.AlternateHost)
	}
	var errs []error
	for _, h := range hosts {
		s, cerr := connectHost(ctx, cfg, h, o)
		if cerr == nil {
			return s, nil
		}
		errs = append(errs, cerr)
		if cerr.Step == StepAuthentication || ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// connectHost runs the connection steps against one host. The error names
// the step that failed.
func connectHost(ctx context.Context, cfg Config, host string, o connectOptions) (*session, *ConnectError) {
	fail := func(step string, kind, err error) *ConnectError {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return &ConnectError{Host: host, Step: step, Err: err, kind: kind}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if o.resolve && net.ParseIP(host) == nil {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		res := o.resolver
		if res == nil {
			res = net.DefaultResolver
		}
		addrs, err := res.LookupHost(rctx, host)
		cancel()
		if err != nil {
			return nil, fail(StepHostname, ErrConnect, err)
		}
		if len(addrs) == 0 {
			return nil, fail(StepHostname, ErrConnect, errors.New("no addresses"))
		}
		o.passed(StepHostname, Passed, fmt.Sprintf("%s resolves to %s", host, strings.Join(addrs, ", ")))
	} else if net.ParseIP(host) != nil {
		o.passed(StepHostname, Passed, host+" is an IP address")
	} else {
		o.passed(StepHostname, Skipped, "resolved by the configured dialer")
	}
	dial := o.dial
	if dial == nil {
		d := &net.Dialer{Timeout: timeout, Resolver: o.resolver}
		dial = d.DialContext
	}
	addr := net.JoinHostPort(host, strconv.Itoa(cfg.port()))
	dctx, cancel := context.WithTimeout(ctx, timeout)
	raw, err := dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		step := StepConnectivity
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && !dnsErr.IsTimeout {
			step = StepHostname
		}
		return nil, fail(step, ErrConnect, err)
	}
	o.passed(StepConnectivity, Passed, "TCP connection to "+addr+" established")

	var verifyErr error
	tcfg := tlsConfig(cfg, host, o.now, &verifyErr)
	netConn := raw
	var state *tls.ConnectionState
	if cfg.Encryption == EncryptionLDAPS || cfg.Encryption == EncryptionStartTLS {
		hctx, cancel := context.WithTimeout(ctx, timeout)
		if cfg.Encryption == EncryptionStartTLS {
			if err := startTLS(hctx, raw); err != nil {
				cancel()
				_ = raw.Close()
				return nil, fail(StepCertificate, ErrConnect, fmt.Errorf("StartTLS: %w", err))
			}
		}
		tc := tls.Client(raw, tcfg)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = raw.Close()
			if verifyErr != nil {
				return nil, fail(StepCertificate, ErrCertificate, verifyErr)
			}
			return nil, fail(StepCertificate, ErrConnect, fmt.Errorf("TLS handshake: %w", err))
		}
		st := tc.ConnectionState()
		netConn, state = tc, &st
	}
	wire := newWireConn(netConn)
	conn := ldap.NewConn(wire, state != nil)
	conn.Start()
	conn.SetTimeout(timeout)
	s := &session{conn: conn, wire: wire, host: host, cfg: cfg, tls: state}
	s.stop = context.AfterFunc(ctx, func() { _ = conn.Close() })

	if state != nil {
		o.passed(StepCertificate, Passed, describeTLS(*state, cfg.Mode))
	} else {
		o.passed(StepCertificate, Skipped, "encryption is off: the bind password and directory data travel unencrypted")
	}
	if o.bind && cfg.BindDN != "" {
		if err := conn.Bind(cfg.BindDN, string(cfg.BindPassword)); err != nil {
			s.Close()
			if ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || ctx.Err() != nil {
				return nil, fail(StepConnectivity, ErrConnect, fmt.Errorf("bind: %w", err))
			}
			return nil, fail(StepAuthentication, ErrAuthentication, err)
		}
		o.passed(StepAuthentication, Passed, "bound as "+cfg.BindDN)
	} else if o.bind {
		o.passed(StepAuthentication, Skipped, "no bind DN: anonymous access")
	}
	return s, nil
}

// tlsConfig builds the TLS settings for host. Verification is done in
// VerifyConnection so the reason for a refusal is kept in *verifyErr.
func tlsConfig(cfg Config, host string, now func() time.Time, verifyErr *error) *tls.Config {
	c := &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection unless ModeRelaxed
	}
	if net.ParseIP(host) != nil {
		c.ServerName = "" // SNI carries no IP addresses; verification still checks the IP SAN
	}
	if cfg.Mode == ModeRelaxed {
		return c
	}
	roots := cfg.RootCAs
	if now == nil {
		now = time.Now
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		err := verifyStrict(cs.PeerCertificates, host, roots, now())
		*verifyErr = err
		return err
	}
	return c
}

// verifyStrict checks a certificate chain the way ModeStrict requires.
func verifyStrict(chain []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("the server sent no certificate")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       host,
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return err
	}
	return checkKeySize(leaf)
}

// checkKeySize refuses keys of 1024 bits or fewer.
func checkKeySize(c *x509.Certificate) error {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n <= 1024 {
			return fmt.Errorf("certificate key is RSA %d bits; strict mode requires more than 1024", n)
		}
	case *ecdsa.PublicKey:
		if n := k.Curve.Params().BitSize; n < 256 {
			return fmt.Errorf("certificate key is ECDSA %d bits; strict mode requires at least 256", n)
		}
	}
	return nil
}

// describeTLS summarises a TLS connection for the certificate step.
func describeTLS(st tls.ConnectionState, mode TrustMode) string {
	v := tls.VersionName(st.Version)
	if len(st.PeerCertificates) == 0 {
		return v
	}
	c := st.PeerCertificates[0]
	key := ""
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		key = fmt.Sprintf("RSA %d bits", k.N.BitLen())
	case *ecdsa.PublicKey:
		key = fmt.Sprintf("ECDSA %d bits", k.Curve.Params().BitSize)
	default:
		key = fmt.Sprintf("%T", k)
	}
	trust := "trusted (strict)"
	if mode == ModeRelaxed {
		trust = "not verified (relaxed), traffic encrypted"
	}
	return fmt.Sprintf("%s, certificate %q issued by %q, %s, valid until %s, %s",
		v, c.Subject.String(), c.Issuer.String(), key, c.NotAfter.UTC().Format(time.RFC3339), trust)
}
