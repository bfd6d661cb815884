package ldapsync_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

func syncOnce(t *testing.T, cfg ldapsync.Config, opts ...ldapsync.Option) (*ldapsync.Report, error) {
	t.Helper()
	s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore(), opts...)
	require.NoError(t, err)
	return s.Run(context.Background())
}

func TestTransportAndTrust(t *testing.T) {
	for _, mode := range []ldapsynctest.TLSMode{ldapsynctest.TLSLDAPS, ldapsynctest.TLSStartTLS} {
		dir := ldapsynctest.Start(t, ldapsynctest.WithTLS(mode))
		_, err := dir.AddUser(ldapsynctest.User{CN: "T", Mail: "t@example.com"})
		require.NoError(t, err)
		name := string(dir.Config().Encryption)

		t.Run(name+"/strict with the CA", func(t *testing.T) {
			rep, err := syncOnce(t, dir.Config())
			require.NoError(t, err)
			assert.Len(t, rep.Added, 1)
		})
		t.Run(name+"/strict without the CA", func(t *testing.T) {
			cfg := dir.Config()
			cfg.RootCAs = nil
			_, err := syncOnce(t, cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, ldapsync.ErrCertificate)
			var ce *ldapsync.ConnectError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, ldapsync.StepCertificate, ce.Step)
		})
		t.Run(name+"/strict with a host name the certificate does not carry", func(t *testing.T) {
			cfg := dir.Config()
			cfg.Host = "other.example.test"
			addr := net.JoinHostPort(dir.Host(), strconv.Itoa(dir.Port()))
			dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			_, err := syncOnce(t, cfg, ldapsync.WithDialer(dial))
			assert.ErrorIs(t, err, ldapsync.ErrCertificate)
			assert.Contains(t, err.Error(), "other.example.test")
		})
		t.Run(name+"/relaxed without the CA", func(t *testing.T) {
			cfg := dir.Config()
			cfg.RootCAs = nil
			cfg.Mode = ldapsync.ModeRelaxed
			rep, err := syncOnce(t, cfg)
			require.NoError(t, err)
			assert.Len(t, rep.Added, 1)
		})
	}
	t.Run("1024-bit key", func(t *testing.T) {
		dir := ldapsynctest.Start(t, ldapsynctest.WithTLS(ldapsynctest.TLSLDAPS), ldapsynctest.WithKeyBits(1024))
		_, err := syncOnce(t, dir.Config())
		assert.ErrorIs(t, err, ldapsync.ErrCertificate)
		assert.Contains(t, err.Error(), "1024")
		cfg := dir.Config()
		cfg.Mode = ldapsync.ModeRelaxed
		_, err = syncOnce(t, cfg)
		assert.NoError(t, err, "relaxed accepts short keys")
	})
	t.Run("plain client against LDAPS", func(t *testing.T) {
		dir := ldapsynctest.Start(t, ldapsynctest.WithTLS(ldapsynctest.TLSLDAPS))
		cfg := dir.Config()
		cfg.Encryption = ldapsync.EncryptionNone
		cfg.Timeout = 2 * time.Second
		_, err := syncOnce(t, cfg)
		assert.Error(t, err)
	})
}

func TestAlternateHost(t *testing.T) {
	dir := ldapsynctest.Start(t)
	_, err := dir.AddUser(ldapsynctest.User{CN: "F", Mail: "f@example.com"})
	require.NoError(t, err)

	t.Run("primary refuses connections", func(t *testing.T) {
		cfg := dir.Config()
		cfg.Host, cfg.AlternateHost = "127.0.0.2", dir.Host() // nothing listens on 127.0.0.2
		rep, err := syncOnce(t, cfg)
		require.NoError(t, err)
		assert.Equal(t, dir.Host(), rep.Host, "the report names the host that served")
		assert.Len(t, rep.Added, 1)
	})
	t.Run("primary does not resolve", func(t *testing.T) {
		cfg := dir.Config()
		cfg.Host, cfg.AlternateHost = "dc-gone.corp.example.test", dir.Host()
		rep, err := syncOnce(t, cfg, ldapsync.WithResolver(noDNS()))
		require.NoError(t, err)
		assert.Equal(t, dir.Host(), rep.Host)
	})
	t.Run("primary fails TLS", func(t *testing.T) {
		tlsDir := ldapsynctest.Start(t, ldapsynctest.WithTLS(ldapsynctest.TLSLDAPS))
		cfg := tlsDir.Config()
		// The primary is the plain directory, which cannot speak TLS.
		cfg.Host = dir.Host()
		cfg.AlternateHost = "localhost"
		port := tlsDir.Port()
		plainAddr := net.JoinHostPort(dir.Host(), strconv.Itoa(dir.Port()))
		tlsAddr := net.JoinHostPort(tlsDir.Host(), strconv.Itoa(port))
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			if addr == net.JoinHostPort(dir.Host(), strconv.Itoa(port)) {
				return d.DialContext(ctx, network, plainAddr)
			}
			return d.DialContext(ctx, network, tlsAddr)
		}
		cfg.Timeout = 2 * time.Second
		rep, err := syncOnce(t, cfg, ldapsync.WithDialer(dial))
		require.NoError(t, err)
		assert.Equal(t, "localhost", rep.Host)
	})
	t.Run("wrong password does not fail over", func(t *testing.T) {
		other := ldapsynctest.Start(t)
		cfg := dir.Config()
		cfg.BindPassword = "wrong"
		cfg.AlternateHost = other.Host()
		cfg.Port = dir.Port()
		before := dir.Stats().Binds
		_, err := syncOnce(t, cfg)
		require.Error(t, err)
		assert.ErrorIs(t, err, ldapsync.ErrAuthentication)
		assert.NotErrorIs(t, err, ldapsync.ErrConnect)
		assert.Equal(t, before+1, dir.Stats().Binds, "one bind, no retry on another host")
	})
	t.Run("both hosts down", func(t *testing.T) {
		cfg := dir.Config()
		cfg.Host, cfg.AlternateHost = "127.0.0.2", "127.0.0.3"
		_, err := syncOnce(t, cfg)
		assert.ErrorIs(t, err, ldapsync.ErrConnect)
		assert.Contains(t, err.Error(), "127.0.0.2")
		assert.Contains(t, err.Error(), "127.0.0.3")
	})
}

func stepStatuses(r *ldapsync.TestReport) map[string]ldapsync.StepStatus {
	m := map[string]ldapsync.StepStatus{}
	for _, s := range r.Steps {
		m[s.Host+" "+s.Name] = s.Status
	}
	return m
}

func TestTestConnection(t *testing.T) {
	dir := ldapsynctest.Start(t, ldapsynctest.WithTLS(ldapsynctest.TLSLDAPS))
	_, err := dir.AddUser(ldapsynctest.User{CN: "Alice", Mail: "alice@example.com"})
	require.NoError(t, err)
	star, err := dir.AddUser(ldapsynctest.User{CN: "Star", Mail: "o*brien@example.com"})
	require.NoError(t, err)
	_, err = dir.AddUser(ldapsynctest.User{CN: "NoStar", Mail: "oxbrien@example.com"})
	require.NoError(t, err)
	ctx := context.Background()
	opts := ldapsync.TestOptions{Resolver: noDNS()}
	h := dir.Host()

	t.Run("all steps pass", func(t *testing.T) {
		rep := ldapsync.TestConnectionWith(ctx, dir.Config(), opts, "Alice@Example.com")
		assert.True(t, rep.OK(), "%+v", rep.Steps)
		assert.Equal(t, map[string]ldapsync.StepStatus{
			h + " hostname": ldapsync.Passed, h + " connectivity": ldapsync.Passed, h + " certificate": ldapsync.Passed,
			h + " authentication": ldapsync.Passed, h + " sample-address": ldapsync.Passed,
		}, stepStatuses(rep))
		assert.Contains(t, rep.Step(ldapsync.StepSampleAddress).Detail, "CN=Alice")
		assert.Contains(t, rep.Step(ldapsync.StepCertificate).Detail, "RSA 2048")
	})
	t.Run("unknown host", func(t *testing.T) {
		cfg := dir.Config()
		cfg.Host = "nowhere.corp.example.test"
		rep := ldapsync.TestConnectionWith(ctx, cfg, opts)
		assert.False(t, rep.OK())
		st := rep.Step(ldapsync.StepHostname)
		assert.Equal(t, ldapsync.Failed, st.Status)
		assert.NotEmpty(t, st.Hint)
		assert.Equal(t, ldapsync.Skipped, rep.Step(ldapsync.StepConnectivity).Status)
		assert.Equal(t, ldapsync.Skipped, rep.Step(ldapsync.StepAuthentication).Status)
	})
	t.Run("closed port", func(t *testing.T) {
		cfg := dir.Config()
		cfg.Port = closedPort(t)
		rep := ldapsync.TestConnectionWith(ctx, cfg, opts)
		st := rep.Step(ldapsync.StepConnectivity)
		assert.Equal(t, ldapsync.Failed, st.Status)
		assert.Contains(t, st.Hint, "port")
		assert.Equal(t, ldapsync.Passed, rep.Step(ldapsync.StepHostname).Status)
	})
	t.Run("untrusted certificate in strict mode", func(t *testing.T) {
		cfg := dir.Config()
		cfg.RootCAs = nil
		rep := ldapsync.TestConnectionWith(ctx, cfg, opts)
		st := rep.Step(ldapsync.StepCertificate)
		assert.Equal(t, ldapsync.Failed, st.Status)
		assert.Contains(t, st.Detail, "unknown authority")
		assert.Contains(t, st.Hint, "RootCAs")
		assert.Equal(t, ldapsync.Skipped, rep.Step(ldapsync.StepAuthentication).Status)
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := dir.Config()
		cfg.BindPassword = "not-the-password"
		cfg.AlternateHost = "localhost"
		rep := ldapsync.TestConnectionWith(ctx, cfg, opts, "alice@example.com")
		st := rep.Step(ldapsync.StepAuthentication)
		assert.Equal(t, ldapsync.Failed, st.Status)
		assert.Contains(t, st.Detail, "Invalid Credentials")
		assert.Equal(t, ldapsync.Skipped, rep.Step(ldapsync.StepSampleAddress).Status)
		for _, s := range rep.Steps {
			assert.NotEqual(t, "localhost", s.Host, "no failover on authentication failure")
		}
	})
	t.Run("sample not found", func(t *testing.T) {
		rep := ldapsync.TestConnectionWith(ctx, dir.Config(), opts, "nobody@example.com")
		st := rep.Step(ldapsync.StepSampleAddress)
		assert.Equal(t, ldapsync.Failed, st.Status)
		assert.Contains(t, st.Detail, "not found")
		assert.NotEmpty(t, st.Hint)
	})
	t.Run("sample with filter metacharacters", func(t *testing.T) {
		rep := ldapsync.TestConnectionWith(ctx, dir.Config(), opts, "o*brien@example.com")
		st := rep.Step(ldapsync.StepSampleAddress)
		assert.Equal(t, ldapsync.Passed, st.Status, st.Detail)
		assert.Contains(t, st.Detail, star.DN, "* matched literally, not as a wildcard")

		rep = ldapsync.TestConnectionWith(ctx, dir.Config(), opts, "*)(mail=*@example.com")
		assert.Equal(t, ldapsync.Failed, rep.Step(ldapsync.StepSampleAddress).Status, "an injected filter matches nothing")
		rep = ldapsync.TestConnectionWith(ctx, dir.Config(), opts, "o*@example.com")
		assert.Equal(t, ldapsync.Failed, rep.Step(ldapsync.StepSampleAddress).Status)
	})
	t.Run("primary unreachable, alternate used", func(t *testing.T) {
		cfg := dir.Config()
		cfg.Host, cfg.AlternateHost = "127.0.0.2", h
		rep := ldapsync.TestConnectionWith(ctx, cfg, opts, "alice@example.com")
		assert.True(t, rep.OK())
		assert.Equal(t, h, rep.Host)
		got := stepStatuses(rep)
		assert.Equal(t, ldapsync.Failed, got["127.0.0.2 connectivity"])
		assert.Equal(t, ldapsync.Passed, got[h+" sample-address"])
	})
	t.Run("StartTLS refused by the server", func(t *testing.T) {
		plain := ldapsynctest.Start(t)
		cfg := plain.Config()
		cfg.Encryption = ldapsync.EncryptionStartTLS
		rep := ldapsync.TestConnectionWith(ctx, cfg, opts)
		st := rep.Step(ldapsync.StepCertificate)
		assert.Equal(t, ldapsync.Failed, st.Status)
		assert.Contains(t, st.Detail, "StartTLS")
		assert.Contains(t, st.Hint, "StartTLS on 389")
	})
	t.Run("plain connection", func(t *testing.T) {
		plain := ldapsynctest.Start(t)
		rep := ldapsync.TestConnectionWith(ctx, plain.Config(), opts)
		assert.True(t, rep.OK())
		assert.Equal(t, ldapsync.Skipped, rep.Step(ldapsync.StepCertificate).Status)
		assert.Contains(t, rep.Step(ldapsync.StepCertificate).Detail, "unencrypted")
		assert.Equal(t, ldapsync.Skipped, rep.Step(ldapsync.StepSampleAddress).Status)
	})
	t.Run("invalid configuration", func(t *testing.T) {
		rep := ldapsync.TestConnection(ctx, ldapsync.Config{Host: "x.example"})
		assert.False(t, rep.OK())
		assert.Contains(t, rep.Steps[0].Detail, "rootDN")
	})
}

// cutConn closes itself after delivering limit bytes from the server.
type cutConn struct {
	net.Conn
	left int
}

func (c *cutConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		_ = c.Conn.Close()
		return 0, io.EOF
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}

func TestReadRestartsAfterConnectionDrop(t *testing.T) {
	e := newEnv(t)
	for i := range 40 {
		e.addUser(fmt.Sprintf("K%02d", i), fmt.Sprintf("k%02d@example.com", i))
	}
	e.cfg.PageSize = 10
	var dials atomic.Int32
	e.opts = []ldapsync.Option{ldapsync.WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || dials.Add(1) > 1 {
			return c, err
		}
		return &cutConn{Conn: c, left: 4000}, nil // the first connection breaks mid-read
	})}
	rep := e.run()
	assert.Equal(t, int32(2), dials.Load())
	assert.Len(t, rep.Added, 40, "the restarted read is complete")
	assert.Contains(t, strings.Join(rep.Warnings, "\n"), "restarted")

	// A second drop in the restarted read fails the run: nothing applied.
	// (Another DC answers, so the read is a full one, long enough to cut.)
	require.NoError(t, e.dir.Delete("CN=K00,CN=Users,"+e.dir.BaseDN()))
	require.NoError(t, e.dir.SwitchDC("DC2"))
	e.cfg.MaxSyncDeletions = 5
	dials.Store(0)
	e.opts = []ldapsync.Option{ldapsync.WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return c, err
		}
		dials.Add(1)
		return &cutConn{Conn: c, left: 1200}, nil
	})}
	before := e.target.Writes()
	_, err := e.tryRun()
	assert.ErrorIs(t, err, ldapsync.ErrRead)
	assert.Equal(t, int32(2), dials.Load(), "one restart, not a loop")
	assert.Equal(t, before, e.target.Writes())
}
