package ldapsynctest_test

import (
	"crypto/tls"
	"strconv"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

func dial(t *testing.T, d *ldapsynctest.Directory) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(d.URL(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: d.CertPool()}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func bind(t *testing.T, d *ldapsynctest.Directory) *ldap.Conn {
	t.Helper()
	c := dial(t, d)
	require.NoError(t, c.Bind(d.BindDN(), d.BindPassword()))
	return c
}

func search(t *testing.T, c *ldap.Conn, base, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	require.NoError(t, err)
	return res.Entries
}

func dns(entries []*ldap.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.DN
	}
	return out
}

func TestBind(t *testing.T) {
	d := ldapsynctest.Start(t)
	c := dial(t, d)
	require.NoError(t, c.Bind(d.BindDN(), d.BindPassword()))

	err := c.Bind(d.BindDN(), "wrong")
	require.Error(t, err)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials), "%v", err)

	err = c.Bind("CN=Nobody,CN=Users,"+d.BaseDN(), "x")
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials), "%v", err)

	// UPN and down-level forms of the Administrator account.
	require.NoError(t, c.Bind("administrator@"+d.Domain(), d.BindPassword()))
	require.NoError(t, c.Bind(`CORP\Administrator`, d.BindPassword()))
}

func TestAnonymousSearchRefused(t *testing.T) {
	d := ldapsynctest.Start(t)
	c := dial(t, d)
	_, err := c.Search(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	require.Error(t, err)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultOperationsError), "%v", err)

	// The root DSE stays readable.
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	assert.Equal(t, d.BaseDN(), res.Entries[0].GetAttributeValue("defaultNamingContext"))
	assert.Contains(t, res.Entries[0].GetAttributeValues("supportedControl"), ldapsynctest.OIDPagedResults)
	assert.Equal(t, d.DSServiceName(), res.Entries[0].GetAttributeValue("dsServiceName"))
	assert.Equal(t, strconv.FormatInt(d.HighestCommittedUSN(), 10), res.Entries[0].GetAttributeValue("highestCommittedUSN"))
}

func TestUsersAndFilters(t *testing.T) {
	d := ldapsynctest.Start(t)
	ou, err := d.AddOU("Staff", "")
	require.NoError(t, err)
	alice, err := d.AddUser(ldapsynctest.User{CN: "Alice Smith", SAMAccountName: "alice", Mail: "alice@example.com",
		ProxyAddresses: []string{"SMTP:alice@example.com", "smtp:a.smith@example.com"}, Parent: ou.DN})
	require.NoError(t, err)
	_, err = d.AddUser(ldapsynctest.User{CN: "Bob", Mail: "bob@example.com", Disabled: true, Parent: ou.DN})
	require.NoError(t, err)
	_, err = d.AddContact(ldapsynctest.Contact{CN: "Partner", Mail: "p@partner.example", Parent: ou.DN})
	require.NoError(t, err)
	_, err = d.AddComputer("WS01", "")
	require.NoError(t, err)

	c := bind(t, d)
	got := search(t, c, d.BaseDN(), "(&(objectCategory=person)(objectClass=user))", "sAMAccountName")
	assert.ElementsMatch(t, []string{"CN=Administrator,CN=Users," + d.BaseDN(), alice.DN, "CN=Bob," + ou.DN}, dns(got))

	got = search(t, c, d.BaseDN(), "(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(mail=*))")
	require.Len(t, got, 1)
	assert.Equal(t, alice.DN, got[0].DN)
	assert.Equal(t, alice.GUID.Bytes(), got[0].GetRawAttributeValue("objectGUID"))
	assert.Equal(t, "512", got[0].GetAttributeValue("userAccountControl"))

	got = search(t, c, d.BaseDN(), "(proxyAddresses=smtp:A.SMITH@example.com)")
	require.Len(t, got, 1)
	got = search(t, c, d.BaseDN(), "(|(mail=bob*)(cn=*artne*))")
	assert.Len(t, got, 2)
	got = search(t, c, d.BaseDN(), "(objectClass=computer)")
	assert.Len(t, got, 1)
	got = search(t, c, d.BaseDN(), "(objectGUID="+ldap.EscapeFilter(string(alice.GUID.Bytes()))+")")
	require.Len(t, got, 1)
	assert.Equal(t, alice.DN, got[0].DN)
}

func itoa(n int) string { return strconv.Itoa(n) }
