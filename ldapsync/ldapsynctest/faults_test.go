package ldapsynctest_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

func usersRequest(d *ldapsynctest.Directory) *ldap.SearchRequest {
	return ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectCategory=person)(objectClass=user))", []string{"objectGUID", "mail"}, nil)
}

func TestDropAfterEntries(t *testing.T) {
	d := ldapsynctest.Start(t)
	addUsers(t, d, "", 100)
	require.NoError(t, d.SetFaults(ldapsynctest.Faults{DropAfterEntries: 35}))

	c := bind(t, d)
	res, err := c.SearchWithPaging(usersRequest(d), 10)
	require.Error(t, err, "the read must end with an error, not look complete")
	assert.Len(t, res.Entries, 35)
	assert.EqualValues(t, 1, d.Stats().Drops)

	// Cleared faults: a new connection reads everything.
	require.NoError(t, d.SetFaults(ldapsynctest.Faults{}))
	c = bind(t, d)
	res, err = c.SearchWithPaging(usersRequest(d), 10)
	require.NoError(t, err)
	assert.Len(t, res.Entries, 101) // 100 users and Administrator
}

func TestSearchAndBindFaults(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithFaults(ldapsynctest.Faults{SearchResultCode: ldap.LDAPResultBusy}))
	c := bind(t, d)
	_, err := c.Search(usersRequest(d))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultBusy), "%v", err)
	// The root DSE is still served.
	_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	require.NoError(t, err)

	require.NoError(t, d.SetFaults(ldapsynctest.Faults{BindResultCode: ldap.LDAPResultUnavailable}))
	err = c.Bind(d.BindDN(), d.BindPassword())
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailable), "%v", err)

	err = d.SetFaults(ldapsynctest.Faults{DropAfterEntries: -1})
	require.ErrorIs(t, err, ldapsynctest.ErrInvalid)
	assert.Contains(t, err.Error(), "DropAfterEntries")
}

func TestLatencyFault(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithFaults(ldapsynctest.Faults{Latency: 3 * time.Second}))
	c := dial(t, d)
	c.SetTimeout(50 * time.Millisecond)
	err := c.Bind(d.BindDN(), d.BindPassword())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "timed out")
}

func TestIdleTimeoutAndDropConnections(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithFaults(ldapsynctest.Faults{IdleTimeout: 300 * time.Millisecond}))
	c := bind(t, d)
	require.Eventually(t, c.IsClosing, 5*time.Second, 10*time.Millisecond, "idle connection not closed")
	assert.GreaterOrEqual(t, d.Stats().Drops, int64(1))

	require.NoError(t, d.SetFaults(ldapsynctest.Faults{}))
	c = bind(t, d)
	assert.Equal(t, 1, d.DropConnections())
	require.Eventually(t, c.IsClosing, 5*time.Second, 10*time.Millisecond)
	_, err := c.Search(usersRequest(d))
	require.Error(t, err)
}

func TestCloseWithOpenClient(t *testing.T) {
	d, err := ldapsynctest.New()
	require.NoError(t, err)
	c, err := ldap.DialURL(d.URL())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Bind(d.BindDN(), d.BindPassword()))
	require.NoError(t, d.Close()) // must not wait for the client to unbind
	require.NoError(t, d.Close())
	require.Eventually(t, c.IsClosing, 5*time.Second, 10*time.Millisecond)
}

func TestStats(t *testing.T) {
	d := ldapsynctest.Start(t)
	addUsers(t, d, "", 20)
	c := bind(t, d)
	before := d.Stats()
	res, err := c.SearchWithPaging(usersRequest(d), 5)
	require.NoError(t, err)
	after := d.Stats()
	assert.EqualValues(t, len(res.Entries), after.Entries-before.Entries)
	assert.EqualValues(t, 5, after.Searches-before.Searches, "five pages of 21 entries, the last one empty-cookied")
	assert.EqualValues(t, 1, after.Connections)
	assert.EqualValues(t, 1, after.Binds)
}

func TestFailSearchHook(t *testing.T) {
	d := ldapsynctest.Start(t)
	addUsers(t, d, "", 12)
	var seen []ldapsynctest.SearchInfo
	var mu sync.Mutex
	require.NoError(t, d.SetFaults(ldapsynctest.Faults{FailSearch: func(s ldapsynctest.SearchInfo) int {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, s)
		if s.NextPage && s.Number == 3 {
			return ldap.LDAPResultUnavailable
		}
		return 0
	}}))
	c := bind(t, d)
	res, err := c.SearchWithPaging(usersRequest(d), 5)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailable), "%v", err)
	assert.Len(t, res.Entries, 10, "two pages arrived before the third failed")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 3)
	assert.Equal(t, ldapsynctest.SearchInfo{BaseDN: d.BaseDN(), Scope: 2, Filter: "(&(objectCategory=person)(objectClass=user))",
		Attributes: []string{"objectGUID", "mail"}, Paged: true, Number: 1}, seen[0])
	assert.True(t, seen[1].NextPage)
}

// A client that stops reading in the middle of a large result must not keep
// Close from returning.
func TestCloseWithStalledClient(t *testing.T) {
	d, err := ldapsynctest.New(ldapsynctest.WithSizeLimit(100000))
	require.NoError(t, err)
	filler := strings.Repeat("x", 4000)
	for i := range 4000 {
		_, err := d.AddUser(ldapsynctest.User{CN: fmt.Sprintf("stall%04d", i), Attributes: map[string][]string{"description": {filler}}})
		require.NoError(t, err)
	}
	conn, err := net.Dial("tcp", d.Host()+":"+itoa(d.Port()))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4096))

	bindReq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	bindReq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(1), ""))
	b := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationBindRequest, nil, "")
	b.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(3), ""))
	b.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, d.BindDN(), ""))
	b.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, d.BindPassword(), ""))
	bindReq.AppendChild(b)
	_, err = conn.Write(bindReq.Bytes())
	require.NoError(t, err)
	// Read the bind response, then ask for everything and stop reading.
	_, err = ber.ReadPacket(conn)
	require.NoError(t, err)
	filter, err := ldap.CompileFilter("(objectClass=user)")
	require.NoError(t, err)
	searchReq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	searchReq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(2), ""))
	s := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchRequest, nil, "")
	s.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, d.BaseDN(), ""))
	s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(2), ""))
	s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(0), ""))
	s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), ""))
	s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), ""))
	s.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, ""))
	s.AppendChild(filter)
	s.AppendChild(ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, ""))
	searchReq.AppendChild(s)
	_, err = conn.Write(searchReq.Bytes())
	require.NoError(t, err)
	// Wait until the relay is stuck writing to the client.
	require.Eventually(t, func() bool {
		n := d.Stats().Entries
		time.Sleep(50 * time.Millisecond)
		return n > 0 && d.Stats().Entries == n
	}, 10*time.Second, time.Millisecond)
	closed := make(chan struct{})
	go func() { _ = d.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close blocked behind a client that does not read")
	}
	assert.Less(t, d.Stats().Entries, int64(4000), "the client never read the whole result")
}
