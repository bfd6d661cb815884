package ldapsync

import (
	"crypto/sha256"
	"net"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStoppedWireSearchAsksForNoPage: a page that ends while its caller is
// stopping (the caller quit between the reply's routing and its handling
// in the reader goroutine) asks the server for no further page and leaves
// the search routed nowhere: it does not go on reading the whole result in
// the background.
func TestStoppedWireSearchAsksForNoPage(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	c := newWireConn(client)
	paging := ldap.NewControlPaging(10)
	req := ldap.NewSearchRequest("DC=x", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"cn"}, []ldap.Control{paging})
	filter, err := ldap.CompileFilter(req.Filter)
	require.NoError(t, err)
	s := &wireSearch{c: c, req: req, filter: filter, paging: paging, events: make(chan wireEvent, 8),
		done: make(chan struct{}), sum: sha256.New()}
	id := c.allocID()
	require.NoError(t, c.add(id, s))

	// The caller stops (as search's quit does) while the reader goroutine
	// holds the end of the first page.
	close(s.done)
	c.unregister(id)

	wrote := make(chan []byte, 1)
	go func() {
		b := make([]byte, 1<<10)
		_ = server.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, _ := server.Read(b)
		wrote <- b[:n]
	}()
	next := ldap.NewControlPaging(10)
	next.SetCookie([]byte("page-2"))
	s.handle(id, berDone(id, 0, "", "", next))

	assert.Empty(t, <-wrote, "no request for the next page is sent")
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Empty(t, c.ops, "the stopped search is routed nowhere")
}
