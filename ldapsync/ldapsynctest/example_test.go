package ldapsynctest_test

import (
	"fmt"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// A directory with one user and one group, read back over LDAP with paged
// results as a sync client would. Tests use ldapsynctest.Start(t), which
// also stops the server when the test ends.
func Example() {
	dir, err := ldapsynctest.New()
	if err != nil {
		panic(err)
	}
	defer dir.Close()

	alice, err := dir.AddUser(ldapsynctest.User{
		CN: "Alice Example", SAMAccountName: "alice", Mail: "alice@example.com",
		ProxyAddresses: []string{"SMTP:alice@example.com", "smtp:ali@example.com"},
	})
	if err != nil {
		panic(err)
	}
	if _, err := dir.AddGroup("Sales", alice.DN); err != nil {
		panic(err)
	}

	conn, err := ldap.DialURL(dir.URL())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	if err := conn.Bind(dir.BindDN(), dir.BindPassword()); err != nil {
		panic(err)
	}
	res, err := conn.SearchWithPaging(ldap.NewSearchRequest(dir.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectCategory=person)(objectClass=user)(mail=*))",
		[]string{"objectGUID", "proxyAddresses", "userAccountControl", "memberOf"}, nil), 500)
	if err != nil {
		panic(err)
	}
	for _, e := range res.Entries {
		guid, _ := ldapsynctest.GUIDFromBytes(e.GetRawAttributeValue("objectGUID"))
		fmt.Println(e.DN)
		fmt.Println(" same objectGUID:", guid.String() == alice.ID)
		fmt.Println(" proxyAddresses:", e.GetAttributeValues("proxyAddresses"))
		fmt.Println(" userAccountControl:", e.GetAttributeValue("userAccountControl"))
		fmt.Println(" memberOf:", e.GetAttributeValues("memberOf"))
	}
	// Output:
	// CN=Alice Example,CN=Users,DC=corp,DC=example,DC=test
	//  same objectGUID: true
	//  proxyAddresses: [SMTP:alice@example.com smtp:ali@example.com]
	//  userAccountControl: 512
	//  memberOf: [CN=Sales,CN=Users,DC=corp,DC=example,DC=test]
}

// Deleting an object leaves a tombstone that only the show-deleted control
// reveals.
func ExampleDirectory_Delete() {
	dir, err := ldapsynctest.New()
	if err != nil {
		panic(err)
	}
	defer dir.Close()
	bob, _ := dir.AddUser(ldapsynctest.User{CN: "Bob", Mail: "bob@example.com"})
	if err := dir.Delete(bob.DN); err != nil {
		panic(err)
	}

	conn, _ := ldap.DialURL(dir.URL())
	defer conn.Close()
	_ = conn.Bind(dir.BindDN(), dir.BindPassword())
	find := func(controls ...ldap.Control) int {
		res, err := conn.Search(ldap.NewSearchRequest(dir.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=user)(isDeleted=TRUE))", []string{"isDeleted", "lastKnownParent"}, controls))
		if err != nil {
			panic(err)
		}
		for _, e := range res.Entries {
			fmt.Println(e.DN == `CN=Bob\0ADEL:`+bob.ID+`,CN=Deleted Objects,DC=corp,DC=example,DC=test`, e.GetAttributeValue("lastKnownParent"))
		}
		return len(res.Entries)
	}
	fmt.Println("without the control:", find())
	fmt.Println("with the control:", find(ldap.NewControlString(ldapsynctest.OIDShowDeleted, true, "")))
	// Output:
	// without the control: 0
	// true CN=Users,DC=corp,DC=example,DC=test
	// with the control: 1
}

// Faults make a read end early, as a dropped connection does in the middle
// of a paged search.
func ExampleDirectory_SetFaults() {
	dir, err := ldapsynctest.New()
	if err != nil {
		panic(err)
	}
	defer dir.Close()
	for i := range 50 {
		_, _ = dir.AddUser(ldapsynctest.User{CN: fmt.Sprintf("user%02d", i)})
	}
	_ = dir.SetFaults(ldapsynctest.Faults{DropAfterEntries: 20})

	conn, _ := ldap.DialURL(dir.URL())
	defer conn.Close()
	_ = conn.Bind(dir.BindDN(), dir.BindPassword())
	res, err := conn.SearchWithPaging(ldap.NewSearchRequest(dir.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{"1.1"}, nil), 10)
	fmt.Println(len(res.Entries), "entries, failed:", err != nil)
	// Output:
	// 20 entries, failed: true
}

// Config hands the connection settings to the ldapsync engine.
func ExampleDirectory_Config() {
	dir, err := ldapsynctest.New(ldapsynctest.WithTLS(ldapsynctest.TLSLDAPS))
	if err != nil {
		panic(err)
	}
	defer dir.Close()
	cfg := dir.Config()
	fmt.Println(cfg.Host, cfg.Encryption, cfg.RootCAs != nil)
	fmt.Println(cfg.BindDN)
	fmt.Println(cfg.RootDN)
	// Output:
	// 127.0.0.1 ldaps true
	// CN=Administrator,CN=Users,DC=corp,DC=example,DC=test
	// DC=corp,DC=example,DC=test
}
