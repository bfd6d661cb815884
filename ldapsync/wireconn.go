package ldapsync

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"net"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// wireConn carries a session's connection between go-ldap and the network.
// go-ldap reads every message through it. Replies to the bulk searches
// this package sends itself (message IDs from wireIDBase up) are decoded
// here, in go-ldap's reader goroutine, without BER packet trees, and never
// reach go-ldap; every other message is passed on unchanged.
//
// A paged search sent this way asks for its next page as soon as a page
// ends, so the server produces the next page while the caller converts
// the previous one.
type wireConn struct {
	net.Conn
	r   *bufio.Reader
	wmu sync.Mutex // one whole message per Write

	pending []byte // a message for go-ldap, partly handed over

	mu     sync.Mutex
	ops    map[int64]*wireSearch
	nextID int64
	err    error // the read error that ended the connection
}

// wireIDBase is the first message ID of the searches wireConn sends;
// go-ldap counts its own from 1.
const wireIDBase = 1 << 30

// wireBatch is how many entries travel to the caller together.
const wireBatch = 128

func newWireConn(c net.Conn) *wireConn {
	return &wireConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10), ops: map[int64]*wireSearch{}, nextID: wireIDBase}
}

// Write sends one message; go-ldap's writes and this package's never
// interleave.
func (c *wireConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}

// Read hands go-ldap the next message that is not a reply to a wire
// search, delivering those to their searches on the way.
func (c *wireConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		if c.r.Buffered() == 0 {
			c.flushAll() // about to wait for the network
		}
		msg, err := readMessage(c.r, maxMessageSize)
		if err != nil {
			c.fail(err)
			return 0, err
		}
		if id, ok := peekMessageID(msg); ok && id >= wireIDBase {
			c.mu.Lock()
			s := c.ops[id]
			c.mu.Unlock()
			if s != nil {
				s.handle(id, msg)
			}
			continue
		}
		c.pending = msg
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// fail ends every wire search with the connection's read error.
func (c *wireConn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	var ss []*wireSearch
	for id, s := range c.ops {
		ss = append(ss, s)
		delete(c.ops, id)
	}
	c.mu.Unlock()
	for _, s := range ss {
		if !s.ended {
			s.ended = true
			s.send(wireEvent{last: true, err: ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("connection lost: %w", err))})
		}
	}
}

func (c *wireConn) flushAll() {
	c.mu.Lock()
	var ss []*wireSearch
	for _, s := range c.ops {
		if len(s.batch) > 0 || len(s.refs) > 0 {
			ss = append(ss, s)
		}
	}
	c.mu.Unlock()
	for _, s := range ss {
		s.flush(false)
	}
}

// allocID returns a message ID for a wire request.
func (c *wireConn) allocID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	if c.nextID > 1<<31-1 {
		c.nextID = wireIDBase
	}
	return id
}

// add routes the replies to message id to s, or fails when the
// connection is gone. Everything s's request was built from must be
// written before: the reader goroutine takes s over from here.
func (c *wireConn) add(id int64, s *wireSearch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("connection lost: %w", c.err))
	}
	c.ops[id] = s
	return nil
}

func (c *wireConn) unregister(id int64) {
	c.mu.Lock()
	delete(c.ops, id)
	c.mu.Unlock()
}

// startTLS runs the StartTLS extended operation on a connection nothing
// else uses yet.
func startTLS(ctx context.Context, conn net.Conn) error {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
		defer func() { _ = conn.SetDeadline(time.Time{}) }()
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(encodeStartTLS(1)); err != nil {
		return err
	}
	msg, err := readMessage(conn, 1<<16)
	if err != nil {
		return err
	}
	m, err := parseMessage(msg)
	if err != nil {
		return err
	}
	if m.id != 1 || m.op.tag != tagExtendedResponse {
		return fmt.Errorf("%w: expected the StartTLS response, got operation 0x%02x for message %d", errMessage, m.op.tag, m.id)
	}
	res, err := decodeResult(m.op.body, nil)
	if err != nil {
		return err
	}
	return res.err()
}

// wireEvent is what a wire search hands its caller: a batch of entries,
// referrals, the end of a page, or the end of the search.
type wireEvent struct {
	entries []*ldap.Entry
	refs    []string
	page    int // > 0: page number that ended with this event
	inPage  int // entries of that page
	last    bool
	err     error
}

// wireSearch is one (paged) search sent by wireConn. Its handle and flush
// run in the connection's reader goroutine.
type wireSearch struct {
	c      *wireConn
	req    *ldap.SearchRequest
	filter *ber.Packet
	paging *ldap.ControlPaging // nil: not paged
	events chan wireEvent
	done   chan struct{} // closed when the caller stops listening
	stop   sync.Once

	// reader goroutine only
	batch  []*ldap.Entry
	refs   []string
	inPage int
	pages  int
	sum    hash.Hash
	prog   pageProgress
	ended  bool
}

// send hands an event to the caller unless it stopped listening.
func (s *wireSearch) send(ev wireEvent) {
	select {
	case s.events <- ev:
	case <-s.done:
	}
}

func (s *wireSearch) flush(pageEnd bool) {
	ev := wireEvent{entries: s.batch, refs: s.refs}
	if pageEnd {
		ev.page, ev.inPage = s.pages, s.inPage
	}
	s.batch, s.refs = nil, nil
	s.send(ev)
}

// finish ends the search with err (nil: completed) and forgets id.
func (s *wireSearch) finish(id int64, err error) {
	s.c.unregister(id)
	if s.ended {
		return
	}
	s.ended = true
	if err == nil {
		s.flush(true)
	}
	s.send(wireEvent{last: true, err: err})
}

// handle takes one reply to message id.
func (s *wireSearch) handle(id int64, msg []byte) {
	if s.ended {
		return
	}
	m, err := parseMessage(msg)
	if err != nil {
		s.finish(id, err)
		return
	}
	switch m.op.tag {
	case tagSearchEntry:
		e, err := decodeEntry(m.op.body)
		if err != nil {
			s.finish(id, err)
			return
		}
		s.sum.Write([]byte{0})
		s.sum.Write([]byte(e.DN))
		s.batch = append(s.batch, e)
		s.inPage++
		if len(s.batch) >= wireBatch {
			s.flush(false)
		}
	case tagSearchReference:
		refs, err := decodeReference(m.op.body)
		if err != nil {
			s.finish(id, err)
			return
		}
		s.refs = append(s.refs, refs...)
	case tagSearchDone:
		res, err := decodeResult(m.op.body, m.controls)
		if err == nil {
			err = res.err()
		}
		if err != nil {
			s.finish(id, err)
			return
		}
		s.pages++
		var cookie []byte
		if s.paging != nil {
			if ctrl, _ := ldap.FindControl(res.controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ctrl != nil {
				cookie = ctrl.Cookie
			}
		}
		if len(cookie) == 0 {
			s.finish(id, nil)
			return
		}
		var sum [sha256.Size]byte
		s.sum.Write(cookie)
		s.sum.Sum(sum[:0])
		s.sum.Reset()
		if err := s.prog.advance(s.paging.Cookie, cookie, sum); err != nil {
			s.finish(id, err)
			return
		}
		// Ask for the next page now; the caller still has this one to
		// work through.
		s.paging.SetCookie(cookie)
		s.c.unregister(id)
		next := s.c.allocID()
		msg := encodeSearch(next, s.req, s.filter)
		if err := s.c.add(next, s); err != nil {
			s.finish(next, err)
			return
		}
		select {
		case <-s.done:
			// The caller stopped, possibly before add routed next to s
			// again (quit closes done before it unroutes): no next page.
			s.c.unregister(next)
			s.ended = true
			return
		default:
		}
		if _, err := s.c.Write(msg); err != nil {
			s.finish(next, ldap.NewError(ldap.ErrorNetwork, err))
			return
		}
		s.flush(true)
		s.inPage = 0
	default:
		s.finish(id, fmt.Errorf("%w: operation 0x%02x in reply to a search", errMessage, m.op.tag))
	}
}

// search runs req (paged when it carries a paging control, following
// every page) and calls fn for each entry, in order. timeout bounds the
// wait for each reply. Referrals are returned, not chased. After an
// error the search is abandoned; what fn saw is incomplete. fn must not
// send requests on the same connection: go-ldap's replies arrive behind
// this search's, which wait for fn.
func (c *wireConn) search(ctx context.Context, req *ldap.SearchRequest, timeout time.Duration,
	fn func(*ldap.Entry) error, onPage func(page, entries int)) ([]string, error) {
	filter, err := ldap.CompileFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	s := &wireSearch{c: c, req: req, filter: filter, events: make(chan wireEvent, 8), done: make(chan struct{}), sum: sha256.New()}
	s.paging, _ = ldap.FindControl(req.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
	id := c.allocID()
	msg := encodeSearch(id, req, filter)
	// From here on the reader goroutine owns s.paging and s.req.
	if err := c.add(id, s); err != nil {
		return nil, err
	}
	// quit stops listening. Replies still in flight (at most the page
	// asked for ahead) are dropped as they arrive; the connection stays
	// usable. (No AbandonRequest: not every server takes one.)
	quit := func() {
		s.stop.Do(func() { close(s.done) })
		c.mu.Lock()
		for i, o := range c.ops {
			if o == s {
				delete(c.ops, i)
			}
		}
		c.mu.Unlock()
	}
	if _, err := c.Write(msg); err != nil {
		quit()
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var refs []string
	for {
		select {
		case ev := <-s.events:
			for _, e := range ev.entries {
				if err := fn(e); err != nil {
					quit()
					return refs, err
				}
			}
			refs = append(refs, ev.refs...)
			if ev.page > 0 && onPage != nil {
				onPage(ev.page, ev.inPage)
			}
			if ev.last {
				quit()
				return refs, ev.err
			}
			timer.Reset(timeout)
		case <-ctx.Done():
			quit()
			return refs, ctx.Err()
		case <-timer.C:
			quit()
			return refs, ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection timed out"))
		}
	}
}
