package ldapsync

import (
	"context"

	"github.com/go-ldap/ldap/v3"
)

// WireSession is a bound connection whose paged searches are decoded by
// the package's own message reader, for tests of that reader.
type WireSession struct{ s *session }

// OpenWireSession connects and binds as a sync run does.
func OpenWireSession(ctx context.Context, cfg Config) (*WireSession, error) {
	cfg = cfg.WithDefaults()
	s, err := connect(ctx, cfg, connectOptions{bind: true})
	if err != nil {
		return nil, err
	}
	return &WireSession{s: s}, nil
}

// Close closes the connection.
func (w *WireSession) Close() { w.s.Close() }

// Search runs a paged subtree search under cfg.RootDN the way a sync
// reads, calling fn for every entry.
func (w *WireSession) Search(ctx context.Context, filter string, attrs []string, pageSize int, fn func(*ldap.Entry) error) ([]string, error) {
	cfg := w.s.cfg
	cfg.PageSize = pageSize
	r := &reader{s: w.s, cfg: cfg}
	return r.search(ctx, "test search", filter, attrs, fn)
}

// GoLDAP returns go-ldap's connection of the session, which must keep
// working alongside the package's own searches.
func (w *WireSession) GoLDAP() *ldap.Conn { return w.s.conn }

// SetMaxReadObjects lowers the bound on the entries one read takes in
// until the returned function restores it.
func SetMaxReadObjects(n int) (restore func()) {
	old := maxReadObjects
	maxReadObjects = n
	return func() { maxReadObjects = old }
}
