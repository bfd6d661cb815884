package ldapsync_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// tapConn records every byte the client sends.
type tapConn struct {
	net.Conn
	mu  *sync.Mutex
	out *bytes.Buffer
}

func (c tapConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// The bind password never crosses the wire in the clear with LDAPS or
// StartTLS, in strict and in relaxed mode; only EncryptionNone sends it
// readable (which shows the tap sees it when it is there).
func TestPasswordOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		tls   ldapsynctest.TLSMode
		mode  ldapsync.TrustMode
		plain bool
	}{
		{tls: ldapsynctest.TLSLDAPS, mode: ldapsync.ModeStrict},
		{tls: ldapsynctest.TLSLDAPS, mode: ldapsync.ModeRelaxed},
		{tls: ldapsynctest.TLSStartTLS, mode: ldapsync.ModeStrict},
		{tls: ldapsynctest.TLSStartTLS, mode: ldapsync.ModeRelaxed},
		{tls: ldapsynctest.TLSStartTLS, plain: true},
	} {
		dir := ldapsynctest.Start(t, ldapsynctest.WithTLS(tc.tls))
		_, err := dir.AddUser(ldapsynctest.User{CN: "W", Mail: "w@example.com"})
		require.NoError(t, err)
		cfg := dir.Config()
		cfg.Mode = tc.mode
		if tc.mode == ldapsync.ModeRelaxed {
			cfg.RootCAs = nil
		}
		if tc.plain {
			cfg.Encryption = ldapsync.EncryptionNone
		}
		var mu sync.Mutex
		var wire bytes.Buffer
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return tapConn{Conn: c, mu: &mu, out: &wire}, nil
		}
		rep, err := syncOnce(t, cfg, ldapsync.WithDialer(dial))
		require.NoError(t, err, "%s %s", cfg.Encryption, cfg.Mode)
		assert.Len(t, rep.Added, 1)
		mu.Lock()
		sent := bytes.Contains(wire.Bytes(), []byte(dir.BindPassword()))
		mu.Unlock()
		assert.Equal(t, tc.plain, sent, "%s %s: password readable on the wire", cfg.Encryption, cfg.Mode)
	}
}
