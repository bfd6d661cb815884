package ldapsynctest_test

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// dirSync runs DirSync rounds until the server says there is no more and
// returns the entries and the last cookie.
func dirSync(t *testing.T, c *ldap.Conn, base, filter string, flags int64, cookie []byte) ([]*ldap.Entry, []byte, int) {
	t.Helper()
	var all []*ldap.Entry
	rounds := 0
	for range 100 {
		res, err := c.DirSync(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter,
			[]string{"objectGUID", "mail", "isDeleted", "userAccountControl"}, nil), flags, 0, cookie)
		require.NoError(t, err)
		rounds++
		all = append(all, res.Entries...)
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypeDirSync).(*ldap.ControlDirSync)
		require.True(t, ok, "DirSync response control")
		cookie = ctrl.Cookie
		if ctrl.Flags == 0 {
			return all, cookie, rounds
		}
	}
	t.Fatal("DirSync never finished")
	return nil, nil, 0
}

func TestDirSync(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithMaxPageSize(4))
	var users []ldapsynctest.Entry
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		u, err := d.AddUser(ldapsynctest.User{CN: n, Mail: n + "@example.com", Password: "pw!" + n})
		require.NoError(t, err)
		users = append(users, u)
	}
	_, err := d.AddGroup("NotAUser")
	require.NoError(t, err)
	c := bind(t, d)

	// First round: everything that matches, in pages of at most 4.
	got, cookie, rounds := dirSync(t, c, d.BaseDN(), "(objectClass=user)", 0, nil)
	assert.Len(t, got, 11, "ten users and Administrator")
	assert.Equal(t, 3, rounds)
	require.NotEmpty(t, cookie)

	// Nothing changed: nothing returned.
	got, cookie, _ = dirSync(t, c, d.BaseDN(), "(objectClass=user)", 0, cookie)
	assert.Empty(t, got)

	// Changes and a deletion: only those, the tombstone included.
	require.NoError(t, d.SetMail(users[1].DN, "b2@example.com"))
	require.NoError(t, d.Delete(users[2].DN))
	require.NoError(t, d.Disable(users[3].DN))
	got, cookie, _ = dirSync(t, c, d.BaseDN(), "(objectClass=user)", 0, cookie)
	require.Len(t, got, 3)
	assert.Equal(t, users[1].GUID.Bytes(), got[0].GetRawAttributeValue("objectGUID"))
	assert.Equal(t, "b2@example.com", got[0].GetAttributeValue("mail"))
	assert.Equal(t, users[2].GUID.Bytes(), got[1].GetRawAttributeValue("objectGUID"))
	assert.Equal(t, "TRUE", got[1].GetAttributeValue("isDeleted"))
	assert.Contains(t, got[1].DN, `\0ADEL:`+users[2].ID)
	assert.Equal(t, "514", got[2].GetAttributeValue("userAccountControl"))

	// A restored DC has a new invocation ID: the old cookie starts over.
	require.NoError(t, d.Restore(d.Backup()))
	got, _, _ = dirSync(t, c, d.BaseDN(), "(objectClass=user)", 0, cookie)
	assert.Len(t, got, 11, "nine live users, Administrator and the tombstone of c")

	// A user without replication rights needs the object-security flag.
	uc := dial(t, d)
	require.NoError(t, uc.Bind(users[0].DN, "pw!a"))
	_, err = uc.DirSync(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", nil, nil), 0, 0, nil)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights), "%v", err)
	got, _, _ = dirSync(t, uc, d.BaseDN(), "(objectClass=user)", ldap.DirSyncObjectSecurity, nil)
	assert.NotEmpty(t, got)

	// Only the naming context root is a valid base; foreign cookies are refused.
	_, err = c.DirSync(ldap.NewSearchRequest("CN=Users,"+d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", nil, nil), 0, 0, nil)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform), "%v", err)
	_, err = c.DirSync(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", nil, nil), 0, 0, []byte("junk"))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform), "%v", err)
}
