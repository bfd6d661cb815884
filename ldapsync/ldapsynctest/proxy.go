package ldapsynctest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// The directory's listener is a small LDAP-aware relay in front of the gldap
// server. It terminates LDAPS and StartTLS, injects the faults of [Faults]
// at LDAP message boundaries (latency, a connection dropped after N entries,
// idle timeouts), counts traffic for [Stats], and can close every client
// connection, which lets the server stop even when a client never unbinds.

const (
	maxMessageSize        = 64 << 20
	tagSearchResultEntry  = 0x64 // [APPLICATION 4]
	tagSearchResultRef    = 0x73 // [APPLICATION 19]
	tagExtendedRequest    = 0x77 // [APPLICATION 23]
	oidStartTLS           = "1.3.6.1.4.1.1466.20037"
	ldapResultSuccess     = 0
	ldapResultOpsError    = 1
	ldapResultProtocolErr = 2
	ldapResultUnavailable = 52
)

type relay struct {
	d        *Directory
	ln       net.Listener
	upstream string
	startTLS *tls.Config

	mu     sync.Mutex
	conns  map[*relayConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type relayConn struct {
	r      *relay
	up     net.Conn
	wmu    sync.Mutex // guards client and writes to it
	client net.Conn
	isTLS  bool
	raw    net.Conn // the accepted connection; StartTLS wraps it in client

	done      chan struct{}
	closeOnce sync.Once
	last      atomic.Int64 // unix nanos of the last message either way
	idle      *time.Timer
	idleMu    sync.Mutex

	entries int    // entries sent under faultGen
	gen     uint64 // fault generation entries counts against
}

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.d.stats.connections.Add(1)
		r.wg.Add(1)
		go r.handle(c)
	}
}

func (r *relay) handle(c net.Conn) {
	defer r.wg.Done()
	r.d.backendDialed.Add(1)
	up, err := net.DialTimeout("tcp", r.upstream, 5*time.Second)
	if err != nil {
		r.d.backendDialed.Add(-1)
		_ = c.Close()
		return
	}
	pc := &relayConn{r: r, up: up, client: c, raw: c, done: make(chan struct{})}
	_, pc.isTLS = c.(*tls.Conn)
	pc.last.Store(time.Now().UnixNano())
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	r.conns[pc] = struct{}{}
	r.mu.Unlock()
	pc.armIdle()

	var inner sync.WaitGroup
	inner.Add(2)
	go func() { defer inner.Done(); pc.clientToServer() }()
	go func() { defer inner.Done(); pc.serverToClient() }()
	inner.Wait()
	pc.close()
	r.mu.Lock()
	delete(r.conns, pc)
	r.mu.Unlock()
}

// close ends the connection and reports whether this call closed it.
func (pc *relayConn) close() bool {
	closed := false
	pc.closeOnce.Do(func() {
		closed = true
		close(pc.done)
		// Not under wmu: a write blocked on a client that stopped reading
		// holds it, and closing the connection is what unblocks it.
		_ = pc.raw.Close()
		_ = pc.up.Close()
		pc.idleMu.Lock()
		if pc.idle != nil {
			pc.idle.Stop()
		}
		pc.idleMu.Unlock()
	})
	return closed
}

// armIdle (re)starts the idle-timeout watch for the current faults.
func (pc *relayConn) armIdle() {
	f := pc.r.d.currentFaults()
	if f.IdleTimeout <= 0 {
		return
	}
	pc.idleMu.Lock()
	defer pc.idleMu.Unlock()
	if pc.idle != nil {
		return
	}
	pc.idle = time.AfterFunc(f.IdleTimeout, pc.checkIdle)
}

func (pc *relayConn) checkIdle() {
	f := pc.r.d.currentFaults()
	if f.IdleTimeout <= 0 {
		pc.idleMu.Lock()
		pc.idle = nil
		pc.idleMu.Unlock()
		return
	}
	since := time.Since(time.Unix(0, pc.last.Load()))
	if since >= f.IdleTimeout {
		pc.r.d.stats.drops.Add(1)
		pc.close()
		return
	}
	pc.idleMu.Lock()
	if pc.idle != nil {
		pc.idle.Reset(f.IdleTimeout - since)
	}
	pc.idleMu.Unlock()
}

func (pc *relayConn) activity() {
	pc.last.Store(time.Now().UnixNano())
	pc.armIdle()
}

func (pc *relayConn) clientToServer() {
	defer pc.close()
	pc.wmu.Lock()
	rd := bufio.NewReader(pc.client)
	pc.wmu.Unlock()
	for {
		msg, err := readMessage(rd)
		if err != nil {
			return
		}
		pc.activity()
		if op, id, ok := messageOp(msg); ok && op == tagExtendedRequest && extendedName(msg) == oidStartTLS {
			next, ok := pc.startTLS(id)
			if !ok {
				return
			}
			if next != nil {
				rd = next
			}
			continue
		}
		if _, err := pc.up.Write(msg); err != nil {
			return
		}
	}
}

// startTLS answers a StartTLS request itself and, on success, upgrades the
// client side of the relay. It returns the reader to continue with (nil:
// keep the old one) and false when the connection must end.
func (pc *relayConn) startTLS(msgID int64) (*bufio.Reader, bool) {
	pc.wmu.Lock()
	defer pc.wmu.Unlock()
	switch {
	case pc.isTLS:
		return nil, writeFull(pc.client, extendedResponse(msgID, ldapResultOpsError, "TLS is already active on this connection"))
	case pc.r.startTLS == nil:
		return nil, writeFull(pc.client, extendedResponse(msgID, ldapResultUnavailable, "StartTLS is not enabled on this directory"))
	}
	if !writeFull(pc.client, extendedResponse(msgID, ldapResultSuccess, "")) {
		return nil, false
	}
	tc := tls.Server(pc.client, pc.r.startTLS)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return nil, false
	}
	_ = tc.SetDeadline(time.Time{})
	pc.client = tc
	pc.isTLS = true
	return bufio.NewReader(tc), true
}

func (pc *relayConn) serverToClient() {
	defer pc.close()
	rd := bufio.NewReader(pc.up)
	for {
		msg, err := readMessage(rd)
		if err != nil {
			return
		}
		f, gen := pc.r.d.faultsAndGen()
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-pc.done:
				t.Stop()
				return
			}
		}
		op, id, _ := messageOp(msg)
		if op == tagSearchResultEntry && bytes.Contains(msg, []byte(referralMarker)) {
			if ref := referenceMessage(id, msg); ref != nil {
				msg, op = ref, tagSearchResultRef
			}
		}
		if op == tagSearchResultEntry {
			if gen != pc.gen {
				pc.gen, pc.entries = gen, 0
			}
			if f.DropAfterEntries > 0 && pc.entries >= f.DropAfterEntries {
				pc.r.d.stats.drops.Add(1)
				return
			}
			pc.entries++
			pc.r.d.stats.entries.Add(1)
		}
		pc.wmu.Lock()
		ok := writeFull(pc.client, msg)
		pc.wmu.Unlock()
		if !ok {
			return
		}
		pc.activity()
	}
}

func (r *relay) dropAll() int {
	r.mu.Lock()
	list := make([]*relayConn, 0, len(r.conns))
	for pc := range r.conns {
		list = append(list, pc)
	}
	r.mu.Unlock()
	n := 0
	for _, pc := range list {
		if pc.close() {
			n++
		}
	}
	return n
}

func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	_ = r.ln.Close()
	r.dropAll()
	r.wg.Wait()
}

func writeFull(w io.Writer, b []byte) bool {
	_, err := w.Write(b)
	return err == nil
}

// readMessage reads one BER-encoded LDAPMessage (definite length).
func readMessage(r *bufio.Reader) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != 0x30 {
		return nil, fmt.Errorf("not an LDAP message (tag %#x)", tag)
	}
	lb, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	hdr := []byte{tag, lb}
	length := int(lb)
	if lb&0x80 != 0 {
		n := int(lb & 0x7f)
		if n == 0 || n > 4 {
			return nil, errors.New("unsupported BER length")
		}
		length = 0
		for i := 0; i < n; i++ {
			b, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			hdr = append(hdr, b)
			length = length<<8 | int(b)
		}
	}
	if length > maxMessageSize {
		return nil, errors.New("LDAP message too large")
	}
	msg := make([]byte, len(hdr)+length)
	copy(msg, hdr)
	if _, err := io.ReadFull(r, msg[len(hdr):]); err != nil {
		return nil, err
	}
	return msg, nil
}

// messageOp returns the protocolOp tag and message ID of an LDAPMessage.
func messageOp(msg []byte) (op byte, id int64, ok bool) {
	i := 1
	if i >= len(msg) {
		return 0, 0, false
	}
	if msg[i]&0x80 != 0 {
		i += int(msg[i] & 0x7f)
	}
	i++
	// messageID INTEGER
	if i+1 >= len(msg) || msg[i] != 0x02 {
		return 0, 0, false
	}
	n := int(msg[i+1])
	if n < 1 || n > 8 || i+2+n >= len(msg) {
		return 0, 0, false
	}
	for _, b := range msg[i+2 : i+2+n] {
		id = id<<8 | int64(b)
	}
	return msg[i+2+n], id, true
}

// extendedName returns the requestName of an ExtendedRequest message.
func extendedName(msg []byte) string {
	p, err := ber.DecodePacketErr(msg)
	if err != nil || len(p.Children) < 2 || len(p.Children[1].Children) < 1 {
		return ""
	}
	return p.Children[1].Children[0].Data.String()
}

func extendedResponse(msgID int64, code int, diag string) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, msgID, "MessageID"))
	r := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 24, nil, "Extended Response")
	r.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), "resultCode"))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "diagnosticMessage"))
	r.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, oidStartTLS, "responseName"))
	p.AppendChild(r)
	return p.Bytes()
}

// referenceMessage turns a placeholder entry written by writeReferrals into
// a SearchResultReference carrying the URL; nil if msg is not one.
func referenceMessage(msgID int64, msg []byte) []byte {
	p, err := ber.DecodePacketErr(msg)
	if err != nil || len(p.Children) < 2 || len(p.Children[1].Children) < 1 {
		return nil
	}
	url, ok := strings.CutPrefix(p.Children[1].Children[0].Data.String(), referralMarker)
	if !ok {
		return nil
	}
	out := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	out.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, msgID, "MessageID"))
	ref := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 19, nil, "Search Result Reference")
	ref.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, url, "URI"))
	out.AppendChild(ref)
	return out.Bytes()
}
