package ldapsynctest_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

func addUsers(t *testing.T, d *ldapsynctest.Directory, parent string, n int) []ldapsynctest.Entry {
	t.Helper()
	out := make([]ldapsynctest.Entry, n)
	for i := range n {
		e, err := d.AddUser(ldapsynctest.User{CN: fmt.Sprintf("user%05d", i), Mail: fmt.Sprintf("user%05d@example.com", i), Parent: parent})
		require.NoError(t, err)
		out[i] = e
	}
	return out
}

func TestPagingAndSizeLimit(t *testing.T) {
	d := ldapsynctest.Start(t)
	ou, err := d.AddOU("Bulk", "")
	require.NoError(t, err)
	addUsers(t, d, ou.DN, 2500)
	c := bind(t, d)

	// Without paging the server stops at its size limit (1000) with
	// sizeLimitExceeded and the entries up to the limit.
	res, err := c.Search(ldap.NewSearchRequest(ou.DN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"cn"}, nil))
	require.Error(t, err)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded), "%v", err)
	require.NotNil(t, res)
	assert.Len(t, res.Entries, 1000)

	// Paged: everything, each once.
	res, err = c.SearchWithPaging(ldap.NewSearchRequest(ou.DN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"cn"}, nil), 300)
	require.NoError(t, err)
	require.Len(t, res.Entries, 2500)
	seen := map[string]bool{}
	for _, e := range res.Entries {
		assert.False(t, seen[e.DN], "duplicate %s", e.DN)
		seen[e.DN] = true
	}

	// A client asking for pages above MaxPageSize gets 1000 at a time.
	paging := ldap.NewControlPaging(5000)
	req := ldap.NewSearchRequest(ou.DN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"1.1"}, []ldap.Control{paging})
	res, err = c.Search(req)
	require.NoError(t, err)
	assert.Len(t, res.Entries, 1000)
	assert.Empty(t, res.Entries[0].Attributes, "1.1 selects no attributes")
	ctrl := ldap.FindControl(res.Controls, ldap.ControlTypePaging)
	require.NotNil(t, ctrl)
	assert.NotEmpty(t, ctrl.(*ldap.ControlPaging).Cookie)
}

func TestConcurrentPagedSearches(t *testing.T) {
	d := ldapsynctest.Start(t)
	addUsers(t, d, "", 300)
	c := bind(t, d)
	mk := func(filter string) (*ldap.SearchRequest, *ldap.ControlPaging) {
		p := ldap.NewControlPaging(50)
		return ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"cn"}, []ldap.Control{p}), p
	}
	r1, p1 := mk("(&(objectClass=user)(cn=user*))")
	r2, p2 := mk("(cn=user0000*)")
	total1, total2 := 0, 0
	for range 20 {
		done := 0
		for _, x := range []struct {
			r     *ldap.SearchRequest
			p     *ldap.ControlPaging
			total *int
		}{{r1, p1, &total1}, {r2, p2, &total2}} {
			if *x.total > 0 && len(x.p.Cookie) == 0 {
				done++
				continue
			}
			res, err := c.Search(x.r)
			require.NoError(t, err)
			*x.total += len(res.Entries)
			x.p.SetCookie(ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie)
		}
		if done == 2 {
			break
		}
	}
	assert.Equal(t, 300, total1)
	assert.Equal(t, 10, total2)
}

func TestRangeRetrieval(t *testing.T) {
	d := ldapsynctest.Start(t)
	ou, err := d.AddOU("Many", "")
	require.NoError(t, err)
	users := addUsers(t, d, ou.DN, 3000)
	members := make([]string, len(users))
	for i, u := range users {
		members[i] = u.DN
	}
	g, err := d.AddGroup("Everyone", members...)
	require.NoError(t, err)
	c := bind(t, d)

	res, err := c.Search(ldap.NewSearchRequest(g.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=group)", []string{"member"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	require.Len(t, res.Entries[0].Attributes, 1)
	assert.Equal(t, "member;range=0-1499", res.Entries[0].Attributes[0].Name)
	assert.Len(t, res.Entries[0].Attributes[0].Values, 1500)

	var all []string
	next := "member;range=0-*"
	var names []string
	for range 10 {
		res, err := c.Search(ldap.NewSearchRequest(g.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{next}, nil))
		require.NoError(t, err)
		require.Len(t, res.Entries[0].Attributes, 1)
		a := res.Entries[0].Attributes[0]
		names = append(names, a.Name)
		all = append(all, a.Values...)
		var lo, hi int
		if _, err := fmt.Sscanf(a.Name, "member;range=%d-%d", &lo, &hi); err != nil {
			break // "...-*": the last chunk
		}
		next = "member;range=" + strconv.Itoa(hi+1) + "-*"
	}
	assert.Equal(t, []string{"member;range=0-1499", "member;range=1500-2999", "member;range=3000-*"}, names)
	assert.ElementsMatch(t, members, all)

	// A small group returns the plain attribute, and an explicit range on
	// it ends in "*".
	small, err := d.AddGroup("Few", members[:3]...)
	require.NoError(t, err)
	res, err = c.Search(ldap.NewSearchRequest(small.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"member", "member;range=0-*"}, nil))
	require.NoError(t, err)
	assert.Equal(t, "member;range=0-*", res.Entries[0].Attributes[0].Name)

	// memberOf of a member shows both groups.
	res, err = c.Search(ldap.NewSearchRequest(users[0].DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"memberOf"}, nil))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{g.DN, small.DN}, res.Entries[0].GetAttributeValues("memberOf"))
}

func TestUSNAndTombstones(t *testing.T) {
	d := ldapsynctest.Start(t)
	c := bind(t, d)
	before := d.HighestCommittedUSN()
	u, err := d.AddUser(ldapsynctest.User{CN: "Carol", Mail: "carol@example.com"})
	require.NoError(t, err)
	created := d.HighestCommittedUSN()
	assert.Greater(t, created, before)

	require.NoError(t, d.SetMail(u.DN, "carol@new.example"))
	changed := d.HighestCommittedUSN()
	assert.Greater(t, changed, created)
	got := search(t, c, d.BaseDN(), fmt.Sprintf("(uSNChanged>=%d)", created+1), "uSNChanged", "mail")
	require.Len(t, got, 1)
	assert.Equal(t, strconv.FormatInt(changed, 10), got[0].GetAttributeValue("uSNChanged"))
	assert.Equal(t, "carol@new.example", got[0].GetAttributeValue("mail"))

	require.NoError(t, d.Delete(u.DN))
	assert.Empty(t, search(t, c, d.BaseDN(), "(cn=Carol*)"))

	showDeleted := ldap.NewControlString(ldapsynctest.OIDShowDeleted, true, "")
	res, err := c.Search(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		fmt.Sprintf("(&(isDeleted=TRUE)(uSNChanged>=%d))", changed+1), nil, []ldap.Control{showDeleted}))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	ts := res.Entries[0]
	assert.Equal(t, `CN=Carol\0ADEL:`+u.ID+`,CN=Deleted Objects,`+d.BaseDN(), ts.DN)
	assert.Equal(t, u.GUID.Bytes(), ts.GetRawAttributeValue("objectGUID"))
	assert.Equal(t, "TRUE", ts.GetAttributeValue("isDeleted"))
	assert.Empty(t, ts.GetAttributeValue("mail"))
	assert.Equal(t, "CN=Users,"+d.BaseDN(), ts.GetAttributeValue("lastKnownParent"))
}

func TestReferralsAtTheDomainRoot(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithReferrals())
	ou, err := d.AddOU("Refs", "")
	require.NoError(t, err)
	addUsers(t, d, ou.DN, 30)
	c := bind(t, d)

	before := d.Stats().Entries
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)(mail=*))", []string{"mail"}, nil), 7)
	require.NoError(t, err)
	assert.Len(t, res.Entries, 30)
	assert.Equal(t, []string{
		"ldap://ForestDnsZones.corp.example.test/DC=ForestDnsZones,DC=corp,DC=example,DC=test",
		"ldap://DomainDnsZones.corp.example.test/DC=DomainDnsZones,DC=corp,DC=example,DC=test",
		"ldap://corp.example.test/CN=Configuration,DC=corp,DC=example,DC=test",
	}, res.Referrals, "once, with the last page")
	assert.EqualValues(t, 30, d.Stats().Entries-before, "references are not entries")

	// Unpaged searches get them too; searches below the root do not.
	res, err = c.Search(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(cn=nobody)", nil, nil))
	require.NoError(t, err)
	assert.Empty(t, res.Entries)
	assert.Len(t, res.Referrals, 3)
	res, err = c.Search(ldap.NewSearchRequest(ou.DN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	require.NoError(t, err)
	assert.Empty(t, res.Referrals)

	// Without the option there are none.
	plain := ldapsynctest.Start(t)
	res, err = bind(t, plain).Search(ldap.NewSearchRequest(plain.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	require.NoError(t, err)
	assert.Empty(t, res.Referrals)
}

func TestModifyTimestamp(t *testing.T) {
	clock := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	d := ldapsynctest.Start(t, ldapsynctest.WithNow(now))
	u, err := d.AddUser(ldapsynctest.User{CN: "Tim"})
	require.NoError(t, err)
	mu.Lock()
	clock = clock.Add(time.Hour)
	mu.Unlock()
	require.NoError(t, d.SetMail(u.DN, "tim@example.com"))
	c := bind(t, d)

	got := search(t, c, d.BaseDN(), "(sAMAccountName=Tim)", "*")
	require.Len(t, got, 1)
	assert.Empty(t, got[0].GetAttributeValue("modifyTimestamp"), "constructed: not part of *")
	got = search(t, c, d.BaseDN(), "(sAMAccountName=Tim)", "modifyTimestamp", "whenCreated")
	require.Len(t, got, 1)
	assert.Equal(t, "20260301110000.0Z", got[0].GetEqualFoldAttributeValue("modifyTimestamp"))
	assert.Equal(t, "20260301100000.0Z", got[0].GetAttributeValue("whenCreated"))
	assert.Len(t, search(t, c, d.BaseDN(), "(&(sAMAccountName=Tim)(modifyTimestamp>=20260301110000Z))"), 1)
	assert.Len(t, search(t, c, d.BaseDN(), "(&(sAMAccountName=Tim)(whenChanged>=20260301103000.0Z))"), 1)
	assert.Empty(t, search(t, c, d.BaseDN(), "(&(sAMAccountName=Tim)(whenCreated>=20260301103000.0Z))"))
}

func TestRefusals(t *testing.T) {
	d := ldapsynctest.Start(t)
	addUsers(t, d, "", 10)
	c := bind(t, d)

	// The directory is read-only over LDAP.
	err := c.Modify(&ldap.ModifyRequest{DN: "CN=Administrator,CN=Users," + d.BaseDN(),
		Changes: []ldap.Change{{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: "mail", Vals: []string{"x@example.com"}}}}})
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform), "%v", err)
	err = c.Del(ldap.NewDelRequest("CN=user00001,CN=Users,"+d.BaseDN(), nil))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform), "%v", err)
	add := ldap.NewAddRequest("CN=New,CN=Users,"+d.BaseDN(), nil)
	add.Attribute("objectClass", []string{"user"})
	err = c.Add(add)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform), "%v", err)

	// A critical control the directory does not know (server-side sort).
	_, err = c.Search(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", nil,
		[]ldap.Control{ldap.NewControlString("1.2.840.113556.1.4.473", true, "")}))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension), "%v", err)

	// Subtree search of the empty DN.
	_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject), "%v", err)

	// A client size limit ends a paged search with sizeLimitExceeded.
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 7, 0, false, "(objectClass=user)", []string{"cn"}, nil), 3)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded), "%v", err)
	assert.Len(t, res.Entries, 7)

	// A cookie used for another search, or an unknown one, is refused.
	p := ldap.NewControlPaging(2)
	req := ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"cn"}, []ldap.Control{p})
	res, err = c.Search(req)
	require.NoError(t, err)
	cookie := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie
	other := ldap.NewControlPaging(2)
	other.SetCookie(cookie)
	_, err = c.Search(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=group)", []string{"cn"}, []ldap.Control{other}))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform), "%v", err)
	unknown := ldap.NewControlPaging(2)
	unknown.SetCookie([]byte("not-a-cookie"))
	_, err = c.Search(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"cn"}, []ldap.Control{unknown}))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform), "%v", err)
}

func TestPagedSearchAbandon(t *testing.T) {
	d := ldapsynctest.Start(t)
	addUsers(t, d, "", 10)
	c := bind(t, d)
	p := ldap.NewControlPaging(3)
	req := ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"cn"}, []ldap.Control{p})
	res, err := c.Search(req)
	require.NoError(t, err)
	require.Len(t, res.Entries, 3)
	cookie := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie
	require.NotEmpty(t, cookie)

	// Page size 0 with the cookie ends the search (RFC 2696).
	p.SetCookie(cookie)
	p.PagingSize = 0
	res, err = c.Search(req)
	require.NoError(t, err)
	assert.Empty(t, res.Entries)
	assert.Empty(t, ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie)
	// The cookie is gone.
	p.PagingSize = 3
	_, err = c.Search(req)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform), "%v", err)
}
