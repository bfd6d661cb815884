package ldapsynctest_test

import (
	"fmt"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// BenchmarkAddUser measures AddUser on a directory that already
// holds b.N users.
func BenchmarkAddUser(b *testing.B) {
	d := ldapsynctest.Start(b)
	b.ResetTimer()
	for i := range b.N {
		if _, err := d.AddUser(ldapsynctest.User{CN: fmt.Sprintf("u%07d", i), Mail: fmt.Sprintf("u%07d@example.com", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPagedSearch reads 5,000 users over the wire in pages of 500.
func BenchmarkPagedSearch(b *testing.B) {
	d := ldapsynctest.Start(b)
	for i := range 5000 {
		_, err := d.AddUser(ldapsynctest.User{CN: fmt.Sprintf("u%05d", i), Mail: fmt.Sprintf("u%05d@example.com", i)})
		require.NoError(b, err)
	}
	c, err := ldap.DialURL(d.URL())
	require.NoError(b, err)
	defer c.Close()
	require.NoError(b, c.Bind(d.BindDN(), d.BindPassword()))
	b.ResetTimer()
	for range b.N {
		res, err := c.SearchWithPaging(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectCategory=person)(objectClass=user)(mail=*))", []string{"objectGUID", "mail", "proxyAddresses", "userAccountControl", "uSNChanged"}, nil), 500)
		if err != nil || len(res.Entries) != 5000 {
			b.Fatalf("%v %d", err, len(res.Entries))
		}
	}
}
