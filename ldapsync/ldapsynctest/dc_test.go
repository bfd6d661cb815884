package ldapsynctest_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

func rootDSE(t *testing.T, c *ldap.Conn) *ldap.Entry {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)",
		[]string{"dsServiceName", "highestCommittedUSN", "dnsHostName"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	return res.Entries[0]
}

func invocationID(t *testing.T, c *ldap.Conn, dsServiceName string) []byte {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(dsServiceName, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=nTDSDSA)", []string{"invocationId"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	return res.Entries[0].GetRawAttributeValue("invocationId")
}

func TestDSAObjectAndOptions(t *testing.T) {
	inv, err := ldapsynctest.ParseGUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
	require.NoError(t, err)
	d := ldapsynctest.Start(t, ldapsynctest.WithServerName("HQ-DC7"), ldapsynctest.WithInvocationID(inv),
		ldapsynctest.WithBaseDN("DC=example,DC=org"), ldapsynctest.WithBindCredentials("CN=svc-sync,OU=Service,DC=example,DC=org", "s3cret!"))
	c := dial(t, d)
	require.NoError(t, c.Bind("cn=SVC-SYNC, ou=service, dc=example, dc=org", "s3cret!"))
	root := rootDSE(t, c)
	assert.Equal(t, "CN=NTDS Settings,CN=HQ-DC7,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=example,DC=org", root.GetAttributeValue("dsServiceName"))
	assert.Equal(t, "hq-dc7.example.org", root.GetAttributeValue("dnsHostName"))
	assert.Equal(t, inv.Bytes(), invocationID(t, c, root.GetAttributeValue("dsServiceName")))
	assert.Equal(t, inv, d.InvocationID())

	// The configuration partition stays out of domain searches.
	assert.Empty(t, search(t, c, d.BaseDN(), "(objectClass=nTDSDSA)"))
	cfg := d.Config()
	assert.Equal(t, "DC=example,DC=org", cfg.RootDN)
	assert.Equal(t, "CN=svc-sync,OU=Service,DC=example,DC=org", cfg.BindDN)
}

func TestSwitchDC(t *testing.T) {
	d := ldapsynctest.Start(t)
	for i := range 5 {
		_, err := d.AddUser(ldapsynctest.User{CN: fmt.Sprintf("s%d", i)})
		require.NoError(t, err)
	}
	c := bind(t, d)
	before := rootDSE(t, c)
	oldInv := d.InvocationID()
	oldUSN := d.HighestCommittedUSN()

	require.NoError(t, d.SwitchDC("DC2"))
	after := rootDSE(t, c)
	assert.NotEqual(t, before.GetAttributeValue("dsServiceName"), after.GetAttributeValue("dsServiceName"))
	assert.Contains(t, after.GetAttributeValue("dsServiceName"), "CN=DC2,")
	assert.NotEqual(t, oldInv, d.InvocationID())
	newUSN, err := strconv.ParseInt(after.GetAttributeValue("highestCommittedUSN"), 10, 64)
	require.NoError(t, err)
	assert.Less(t, newUSN, oldUSN, "the other DC's USNs are its own")
	// Every object now has a USN of the new DC.
	assert.Empty(t, search(t, c, d.BaseDN(), fmt.Sprintf("(uSNChanged>=%d)", newUSN+1)))
	assert.NotEmpty(t, search(t, c, d.BaseDN(), fmt.Sprintf("(uSNChanged<=%d)", newUSN)))

	assert.ErrorIs(t, d.SwitchDC("bad,name"), ldapsynctest.ErrInvalid)
}

func TestBackupRestore(t *testing.T) {
	d := ldapsynctest.Start(t)
	keep, err := d.AddUser(ldapsynctest.User{CN: "Keep", Mail: "keep@example.com"})
	require.NoError(t, err)
	b := d.Backup()
	backupUSN := d.HighestCommittedUSN()
	inv := d.InvocationID()
	service := d.DSServiceName()

	lost, err := d.AddUser(ldapsynctest.User{CN: "Lost"})
	require.NoError(t, err)
	require.NoError(t, d.SetMail(keep.DN, "changed@example.com"))
	lostUSN := usn(t, d, lost.DN)

	require.NoError(t, d.Restore(b))
	assert.Equal(t, backupUSN, d.HighestCommittedUSN())
	assert.NotEqual(t, inv, d.InvocationID())
	assert.Equal(t, service, d.DSServiceName())
	_, err = d.Attributes(lost.DN)
	assert.ErrorIs(t, err, ldapsynctest.ErrNotFound)
	a, err := d.Attributes(keep.DN)
	require.NoError(t, err)
	assert.Equal(t, []string{"keep@example.com"}, a["mail"])

	// The next write reuses a USN a client may already have seen.
	again, err := d.AddUser(ldapsynctest.User{CN: "Again"})
	require.NoError(t, err)
	assert.Equal(t, lostUSN, usn(t, d, again.DN))
	// sAMAccountName "Lost" is free again after the restore.
	_, err = d.AddUser(ldapsynctest.User{CN: "Lost"})
	require.NoError(t, err)

	c := bind(t, d)
	assert.Equal(t, d.InvocationID().Bytes(), invocationID(t, c, d.DSServiceName()))
	assert.ErrorIs(t, d.Restore(nil), ldapsynctest.ErrInvalid)
}

func TestStartRejectsBadOptions(t *testing.T) {
	for name, opt := range map[string]ldapsynctest.Option{
		"WithBaseDN":      ldapsynctest.WithBaseDN("OU=x,DC=corp"),
		"WithSizeLimit":   ldapsynctest.WithSizeLimit(0),
		"WithMaxPageSize": ldapsynctest.WithMaxPageSize(-1),
		"WithMaxValRange": ldapsynctest.WithMaxValRange(0),
		"WithServerName":  ldapsynctest.WithServerName("a,b"),
		"WithKeyBits":     ldapsynctest.WithKeyBits(512),
		"WithFaults":      ldapsynctest.WithFaults(ldapsynctest.Faults{Latency: -1}),
		"WithNow":         ldapsynctest.WithNow(nil),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ldapsynctest.New(opt)
			require.ErrorIs(t, err, ldapsynctest.ErrInvalid)
			assert.Contains(t, err.Error(), name)
		})
	}
}
