package ldapsynctest_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

func usn(t *testing.T, d *ldapsynctest.Directory, dn string) int64 {
	t.Helper()
	a, err := d.Attributes(dn)
	require.NoError(t, err)
	require.Len(t, a["uSNChanged"], 1)
	n, err := strconv.ParseInt(a["uSNChanged"][0], 10, 64)
	require.NoError(t, err)
	return n
}

func TestDataMethodErrors(t *testing.T) {
	d := ldapsynctest.Start(t)
	u, err := d.AddUser(ldapsynctest.User{CN: "Dave", Mail: "dave@example.com"})
	require.NoError(t, err)
	g, err := d.AddGroup("Staff", u.DN)
	require.NoError(t, err)
	ou, err := d.AddOU("Sales", "")
	require.NoError(t, err)
	_, err = d.AddUser(ldapsynctest.User{CN: "Inside", Parent: ou.DN})
	require.NoError(t, err)

	cases := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate sAMAccountName", second(d.AddUser(ldapsynctest.User{CN: "Dave Two", SAMAccountName: "DAVE"})), ldapsynctest.ErrExists},
		{"duplicate DN", second(d.AddContact(ldapsynctest.Contact{CN: "Dave", Parent: "CN=Users," + d.BaseDN()})), ldapsynctest.ErrExists},
		{"missing parent", second(d.AddUser(ldapsynctest.User{CN: "Eve", Parent: "OU=Nowhere," + d.BaseDN()})), ldapsynctest.ErrNotFound},
		{"parent is a user", second(d.AddUser(ldapsynctest.User{CN: "Eve", Parent: u.DN})), ldapsynctest.ErrWrongKind},
		{"no name", second(d.AddUser(ldapsynctest.User{})), ldapsynctest.ErrInvalid},
		{"bad sAMAccountName", second(d.AddUser(ldapsynctest.User{CN: "Eve", SAMAccountName: "e/ve"})), ldapsynctest.ErrInvalid},
		{"maintained attribute", second(d.AddUser(ldapsynctest.User{CN: "Eve", Attributes: map[string][]string{"uSNChanged": {"1"}}})), ldapsynctest.ErrReadOnly},
		{"bad DN", d.SetMail("not a dn", "x@example.com"), ldapsynctest.ErrInvalid},
		{"unknown DN", d.SetMail("CN=Ghost,"+d.BaseDN(), "x@example.com"), ldapsynctest.ErrNotFound},
		{"disable a group", d.Disable(g.DN), ldapsynctest.ErrWrongKind},
		{"member of a user", d.AddMember(u.DN, g.DN), ldapsynctest.ErrWrongKind},
		{"member twice", d.AddMember(g.DN, u.DN), ldapsynctest.ErrExists},
		{"remove non-member", d.RemoveMember(g.DN, ou.DN), ldapsynctest.ErrWrongKind},
		{"set objectGUID", d.SetAttribute(u.DN, "objectGUID", "x"), ldapsynctest.ErrReadOnly},
		{"set member", d.SetAttribute(g.DN, "member", u.DN), ldapsynctest.ErrReadOnly},
		{"non-integer userAccountControl", d.SetAttribute(u.DN, "userAccountControl", "lots"), ldapsynctest.ErrInvalid},
		{"delete non-leaf", d.Delete(ou.DN), ldapsynctest.ErrNotLeaf},
		{"delete system object", d.Delete("CN=Users," + d.BaseDN()), ldapsynctest.ErrWrongKind},
		{"move under itself", second(d.Move(ou.DN, ou.DN)), ldapsynctest.ErrInvalid},
		{"rename onto existing", second(d.Rename(u.DN, "Staff")), ldapsynctest.ErrExists},
		{"bad GUID", second(d.DN("nope")), ldapsynctest.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.err, tc.want)
			var op *ldapsynctest.OpError
			require.True(t, errors.As(tc.err, &op), "%T", tc.err)
			assert.NotEmpty(t, op.Op)
		})
	}
	// Nothing above changed the user.
	a, err := d.Attributes(u.DN)
	require.NoError(t, err)
	assert.Equal(t, []string{"dave@example.com"}, a["mail"])
	assert.Equal(t, []string{"512"}, a["userAccountControl"])
}

func second[T any](_ T, err error) error { return err }

func TestDisableEnableKeepsOtherBits(t *testing.T) {
	d := ldapsynctest.Start(t)
	u, err := d.AddUser(ldapsynctest.User{CN: "Frank"})
	require.NoError(t, err)
	require.NoError(t, d.SetAttribute(u.DN, "userAccountControl", "66048")) // normal + don't expire password
	require.NoError(t, d.Disable(u.DN))
	a, _ := d.Attributes(u.DN)
	assert.Equal(t, []string{"66050"}, a["userAccountControl"])
	require.NoError(t, d.Enable(u.DN))
	a, _ = d.Attributes(u.DN)
	assert.Equal(t, []string{"66048"}, a["userAccountControl"])

	disabled, err := d.AddUser(ldapsynctest.User{CN: "Grace", Disabled: true, Password: "pw1!"})
	require.NoError(t, err)
	a, _ = d.Attributes(disabled.DN)
	assert.Equal(t, []string{"514"}, a["userAccountControl"])

	// A disabled account cannot bind; enabled it can.
	c := dial(t, d)
	err = c.Bind(disabled.DN, "pw1!")
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials), "%v", err)
	require.NoError(t, d.Enable(disabled.DN))
	require.NoError(t, c.Bind(disabled.DN, "pw1!"))
	require.NoError(t, c.Bind("grace@"+d.Domain(), "pw1!"))
}

func TestUnauthenticatedBindStaysAnonymous(t *testing.T) {
	d := ldapsynctest.Start(t)
	c := dial(t, d)
	require.NoError(t, c.UnauthenticatedBind(d.BindDN()))
	_, err := c.Search(usersRequest(d))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultOperationsError), "%v", err)
}

func TestMembershipChangesTheGroupOnly(t *testing.T) {
	d := ldapsynctest.Start(t)
	u, err := d.AddUser(ldapsynctest.User{CN: "Heidi", Mail: "heidi@example.com"})
	require.NoError(t, err)
	g, err := d.AddGroup("Team")
	require.NoError(t, err)
	uBefore, gBefore := usn(t, d, u.DN), usn(t, d, g.DN)

	require.NoError(t, d.AddMember(g.DN, u.DN))
	assert.Equal(t, uBefore, usn(t, d, u.DN), "memberOf is a back link: the user does not change")
	assert.Greater(t, usn(t, d, g.DN), gBefore)
	a, _ := d.Attributes(u.DN)
	assert.Equal(t, []string{g.DN}, a["memberOf"])

	// Renaming the member changes its DN inside the group without
	// changing the group.
	gMid := usn(t, d, g.DN)
	newDN, err := d.Rename(u.DN, "Heidi Klum")
	require.NoError(t, err)
	assert.Equal(t, "CN=Heidi Klum,CN=Users,"+d.BaseDN(), newDN)
	assert.Greater(t, usn(t, d, newDN), uBefore)
	a, _ = d.Attributes(g.DN)
	assert.Equal(t, []string{newDN}, a["member"])
	assert.Equal(t, gMid, usn(t, d, g.DN))

	// Deleting the member removes it from the group, which changes.
	require.NoError(t, d.Delete(newDN))
	a, _ = d.Attributes(g.DN)
	assert.Empty(t, a["member"])
	assert.Greater(t, usn(t, d, g.DN), gMid)

	assert.ErrorIs(t, d.RemoveMember(g.DN, g.DN), ldapsynctest.ErrNotFound, "not a member")
}

func TestMoveAndScopes(t *testing.T) {
	d := ldapsynctest.Start(t)
	parent, err := d.AddOU("Europe", "")
	require.NoError(t, err)
	child, err := d.AddOU("Paris", parent.DN)
	require.NoError(t, err)
	u, err := d.AddUser(ldapsynctest.User{CN: "Ivan, Jr.", SAMAccountName: "ivan", Parent: child.DN, Mail: "ivan@example.com"})
	require.NoError(t, err)
	assert.Equal(t, `CN=Ivan\, Jr.,OU=Paris,OU=Europe,`+d.BaseDN(), u.DN)
	c := bind(t, d)

	one, err := c.Search(ldap.NewSearchRequest(parent.DN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, []string{child.DN}, dns(one.Entries))
	sub := search(t, c, parent.DN, "(objectClass=*)")
	assert.Equal(t, []string{parent.DN, child.DN, u.DN}, dns(sub))
	base, err := c.Search(ldap.NewSearchRequest(u.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, []string{u.DN}, dns(base.Entries))

	// Moving the OU moves the user without changing it.
	before := usn(t, d, u.DN)
	newOU, err := d.Move(child.DN, "")
	require.NoError(t, err)
	assert.Equal(t, "OU=Paris,"+d.BaseDN(), newOU)
	now, err := d.DN(u.ID)
	require.NoError(t, err)
	assert.Equal(t, `CN=Ivan\, Jr.,OU=Paris,`+d.BaseDN(), now)
	assert.Equal(t, before, usn(t, d, now))
	assert.Len(t, search(t, c, parent.DN, "(objectClass=user)"), 0)

	// Moving the user itself is a change.
	moved, err := d.Move(now, parent.DN)
	require.NoError(t, err)
	assert.Greater(t, usn(t, d, moved), before)
	got := search(t, c, parent.DN, "(sAMAccountName=IVAN)", "distinguishedName")
	require.Len(t, got, 1)
	assert.Equal(t, moved, got[0].GetAttributeValue("distinguishedName"))

	// A search base that does not exist names the closest match.
	_, err = c.Search(ldap.NewSearchRequest("OU=Gone,"+parent.DN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	var lerr *ldap.Error
	require.ErrorAs(t, err, &lerr)
	assert.EqualValues(t, ldap.LDAPResultNoSuchObject, lerr.ResultCode)
	assert.Equal(t, parent.DN, lerr.MatchedDN)

	// <GUID=...> works as a search base and a method argument.
	got = search(t, c, "<GUID="+u.ID+">", "(objectClass=*)")
	require.Len(t, got, 1)
	assert.Equal(t, moved, got[0].DN)
	require.NoError(t, d.SetMail("<GUID="+u.ID+">", "ivan@new.example"))
}

func TestNestedGroupsInChain(t *testing.T) {
	d := ldapsynctest.Start(t)
	u, err := d.AddUser(ldapsynctest.User{CN: "Judy"})
	require.NoError(t, err)
	inner, err := d.AddGroup("Inner", u.DN)
	require.NoError(t, err)
	outer, err := d.AddGroup("Outer", inner.DN)
	require.NoError(t, err)
	c := bind(t, d)

	direct := search(t, c, d.BaseDN(), "(memberOf="+outer.DN+")")
	assert.Equal(t, []string{inner.DN}, dns(direct))
	chain := search(t, c, d.BaseDN(), "(memberOf:1.2.840.113556.1.4.1941:="+outer.DN+")")
	assert.ElementsMatch(t, []string{inner.DN, u.DN}, dns(chain))
	groups := search(t, c, d.BaseDN(), "(member:1.2.840.113556.1.4.1941:="+u.DN+")")
	assert.ElementsMatch(t, []string{inner.DN, outer.DN}, dns(groups))
	// Case and spacing of DNs do not matter.
	assert.Len(t, search(t, c, d.BaseDN(), "(member=cn=judy, cn=users, dc=CORP,dc=example,dc=test)"), 1)
	// groupType is negative; the bit rules see its 32-bit value.
	assert.Len(t, search(t, c, d.BaseDN(), "(groupType:1.2.840.113556.1.4.803:=2147483648)"), 2)

	_, err = c.Search(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(cn:1.2.3.4:=x)", nil, nil))
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultInappropriateMatching), "%v", err)
}

func TestFilterOperators(t *testing.T) {
	d := ldapsynctest.Start(t)
	for i, name := range []string{"Émile Zola", "anna", "Bert"} {
		_, err := d.AddUser(ldapsynctest.User{CN: name, SAMAccountName: fmt.Sprintf("u%d", i), DisplayName: name, Mail: fmt.Sprintf("u%d@example.com", i),
			Attributes: map[string][]string{"department": {[]string{"Sales", "IT", "Sales"}[i]}}})
		require.NoError(t, err)
	}
	c := bind(t, d)
	count := func(filter string) int {
		return len(search(t, c, d.BaseDN(), "(&(objectClass=user)(!(sAMAccountName=Administrator))"+filter+")"))
	}
	assert.Equal(t, 3, count(""))
	assert.Equal(t, 2, count("(department=sales)"))
	assert.Equal(t, 1, count("(displayName=émile*)"), "non-ASCII values compare case-insensitively")
	assert.Equal(t, 1, count("(displayName=*zol*)"))
	assert.Equal(t, 1, count("(cn=b*t)"))
	assert.Equal(t, 0, count("(cn=b*x*t)"))
	assert.Equal(t, 2, count("(sAMAccountName>=u1)"))
	assert.Equal(t, 1, count("(sAMAccountName<=u0)"))
	assert.Equal(t, 3, count("(|(department=it)(department=sales))"))
	assert.Equal(t, 1, count("(!(department=sales))"))
	assert.Equal(t, 0, count("(telephoneNumber=*)"))
	assert.Equal(t, 3, count("(userAccountControl=512)"))
	assert.Equal(t, 3, count("(objectCategory=CN=Person,CN=Schema,CN=Configuration,"+d.BaseDN()+")"))
	assert.Equal(t, 3, count("(objectCategory=user)"))
	assert.Equal(t, 0, count("(objectCategory=group)"))
	assert.Equal(t, 3, count("(MAIL=*@EXAMPLE.COM)"))

	// typesOnly returns names without values.
	res, err := c.Search(ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, true, "(sAMAccountName=u1)", []string{"mail", "cn"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	require.Len(t, res.Entries[0].Attributes, 2)
	assert.Empty(t, res.Entries[0].Attributes[0].Values)
}

func TestAttributesOfAUser(t *testing.T) {
	d := ldapsynctest.Start(t)
	u, err := d.AddUser(ldapsynctest.User{CN: "Ken", GivenName: "Ken", Surname: "Adams", DisplayName: "Ken Adams",
		Mail: "ken@example.com", ProxyAddresses: []string{"SMTP:ken@example.com", "smtp:k@example.com"}})
	require.NoError(t, err)
	c := bind(t, d)
	got := search(t, c, d.BaseDN(), "(sAMAccountName=ken)")
	require.Len(t, got, 1)
	e := got[0]
	assert.Equal(t, []string{"top", "person", "organizationalPerson", "user"}, e.GetAttributeValues("objectClass"))
	assert.Equal(t, "CN=Person,CN=Schema,CN=Configuration,"+d.BaseDN(), e.GetAttributeValue("objectCategory"))
	assert.Equal(t, "Ken@"+d.Domain(), e.GetAttributeValue("userPrincipalName"))
	assert.Equal(t, u.DN, e.GetAttributeValue("distinguishedName"))
	assert.Equal(t, []string{"SMTP:ken@example.com", "smtp:k@example.com"}, e.GetAttributeValues("proxyAddresses"))
	assert.Regexp(t, `^\d{14}\.0Z$`, e.GetAttributeValue("whenChanged"))
	assert.Equal(t, e.GetAttributeValue("uSNCreated"), e.GetAttributeValue("uSNChanged"))
	assert.Len(t, e.GetRawAttributeValue("objectGUID"), 16)

	ct, err := d.AddContact(ldapsynctest.Contact{CN: "Partner Person", Mail: "pp@partner.example", TargetAddress: "SMTP:pp@partner.example"})
	require.NoError(t, err)
	got = search(t, c, d.BaseDN(), "(objectClass=contact)")
	require.Len(t, got, 1)
	assert.Equal(t, ct.DN, got[0].DN)
	assert.Equal(t, "CN=Partner Person,"+d.BaseDN(), ct.DN)
	assert.Empty(t, got[0].GetAttributeValue("sAMAccountName"))
	assert.Len(t, search(t, c, d.BaseDN(), "(&(objectCategory=person)(objectClass=contact))"), 1)
}

func TestConcurrentWritesAndSearches(t *testing.T) {
	d := ldapsynctest.Start(t)
	ou, err := d.AddOU("Load", "")
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				e, err := d.AddUser(ldapsynctest.User{CN: fmt.Sprintf("w%d-%d", w, i), Mail: fmt.Sprintf("w%d-%d@example.com", w, i), Parent: ou.DN})
				if err == nil && i%3 == 0 {
					err = d.Disable(e.DN)
				}
				if err == nil && i%5 == 0 {
					err = d.Delete(e.DN)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ldap.DialURL(d.URL())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Bind(d.BindDN(), d.BindPassword()); err != nil {
				errs <- err
				return
			}
			for range 10 {
				if _, err := c.SearchWithPaging(ldap.NewSearchRequest(ou.DN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", nil, nil), 25); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	c := bind(t, d)
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(ou.DN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", nil, nil), 100)
	require.NoError(t, err)
	assert.Len(t, res.Entries, 3*80)
}

func TestUndeleteAndFind(t *testing.T) {
	d := ldapsynctest.Start(t)
	ou, err := d.AddOU("People", "")
	require.NoError(t, err)
	u, err := d.AddUser(ldapsynctest.User{CN: "Lazarus", Mail: "laz@example.com", Parent: ou.DN})
	require.NoError(t, err)
	found, err := d.Find("(mail=LAZ@example.com)")
	require.NoError(t, err)
	assert.Equal(t, []ldapsynctest.Entry{u}, found)

	require.NoError(t, d.Delete(u.DN))
	found, err = d.Find("(mail=laz@example.com)")
	require.NoError(t, err)
	assert.Empty(t, found)
	tomb, err := d.DN(u.ID)
	require.NoError(t, err)
	before := d.HighestCommittedUSN()

	dn, err := d.Undelete(tomb, "")
	require.NoError(t, err)
	assert.Equal(t, u.DN, dn)
	assert.Greater(t, usn(t, d, dn), before)
	a, err := d.Attributes(dn)
	require.NoError(t, err)
	assert.Equal(t, u.GUID.Bytes(), []byte(a["objectGUID"][0]))
	assert.Empty(t, a["mail"], "stripped at deletion")
	assert.Empty(t, a["isDeleted"])
	found, err = d.Find("(&(objectCategory=person)(sAMAccountName=lazarus))")
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, u.ID, found[0].ID)

	_, err = d.Undelete(dn, "")
	assert.ErrorIs(t, err, ldapsynctest.ErrWrongKind)
	_, err = d.Find("(broken")
	assert.ErrorIs(t, err, ldapsynctest.ErrInvalid)
}

func TestSetters(t *testing.T) {
	d := ldapsynctest.Start(t)
	u, err := d.AddUser(ldapsynctest.User{CN: "Mallory", Mail: "m@example.com"})
	require.NoError(t, err)
	g, err := d.AddGroup("Lists")
	require.NoError(t, err)
	step := func(name string, fn func() error) {
		t.Helper()
		before := d.HighestCommittedUSN()
		require.NoError(t, fn(), name)
		assert.Equal(t, before+1, d.HighestCommittedUSN(), "%s takes exactly one USN", name)
	}
	step("SetProxyAddresses", func() error {
		return d.SetProxyAddresses(u.DN, "SMTP:mallory@example.com", "smtp:m@example.com")
	})
	step("SetMail on a group", func() error { return d.SetMail(g.DN, "lists@example.com") })
	step("SetAttribute", func() error { return d.SetAttribute(u.DN, "Department", "Security") })
	step("SetAttribute sAMAccountName", func() error { return d.SetAttribute(u.DN, "samaccountname", "mal") })
	step("SetPassword", func() error { return d.SetPassword(u.DN, "n3w!pass") })
	step("clear mail", func() error { return d.SetMail(u.DN, "") })

	a, err := d.Attributes(u.DN)
	require.NoError(t, err)
	assert.Equal(t, []string{"SMTP:mallory@example.com", "smtp:m@example.com"}, a["proxyAddresses"])
	assert.Equal(t, []string{"Security"}, a["department"], "canonical attribute names")
	assert.Equal(t, []string{"mal"}, a["sAMAccountName"])
	assert.NotContains(t, a, "mail")
	a, err = d.Attributes(g.DN)
	require.NoError(t, err)
	assert.Equal(t, []string{"lists@example.com"}, a["mail"])

	// The old sAMAccountName is free, the new one taken; the password binds.
	_, err = d.AddUser(ldapsynctest.User{CN: "Other", SAMAccountName: "MAL"})
	assert.ErrorIs(t, err, ldapsynctest.ErrExists)
	_, err = d.AddUser(ldapsynctest.User{CN: "Mallory Two", SAMAccountName: "Mallory"})
	require.NoError(t, err)
	c := dial(t, d)
	require.NoError(t, c.Bind(`corp\MAL`, "n3w!pass"))
	assert.ErrorIs(t, d.SetPassword(g.DN, "x"), ldapsynctest.ErrWrongKind)
	ou, err := d.AddOU("NoMail", "")
	require.NoError(t, err)
	assert.ErrorIs(t, d.SetMail(ou.DN, "x@example.com"), ldapsynctest.ErrWrongKind)

	// <GUID=...> with the hex of the wire bytes, as AD accepts it.
	hexForm := fmt.Sprintf("<GUID=%x>", u.GUID.Bytes())
	require.NoError(t, d.SetMail(hexForm, "back@example.com"))
	found, err := d.Find("(mail=back@example.com)")
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, u.ID, found[0].ID)
}

func TestLDIF(t *testing.T) {
	d := ldapsynctest.Start(t)
	u, err := d.AddUser(ldapsynctest.User{CN: "Zoë", SAMAccountName: "zoe", Mail: "zoe@example.com"})
	require.NoError(t, err)
	out := d.LDIF()
	assert.Contains(t, out, "dn: "+d.BaseDN()+"\n")
	assert.Contains(t, out, "dn:: "+base64.StdEncoding.EncodeToString([]byte(u.DN))+"\n", "non-ASCII DNs are base64")
	assert.Contains(t, out, "objectGUID:: "+base64.StdEncoding.EncodeToString(u.GUID.Bytes())+"\n")
	assert.Contains(t, out, "mail: zoe@example.com\n")
	assert.NotContains(t, out, "modifyTimeStamp")
	assert.NotContains(t, out, "Deleted Objects")
}

func TestRangeOnAnyAttribute(t *testing.T) {
	d := ldapsynctest.Start(t, ldapsynctest.WithMaxValRange(2))
	_, err := d.AddUser(ldapsynctest.User{CN: "Multi", ProxyAddresses: []string{"SMTP:a@example.com", "smtp:b@example.com", "smtp:c@example.com"}})
	require.NoError(t, err)
	c := bind(t, d)
	got := search(t, c, d.BaseDN(), "(sAMAccountName=Multi)", "proxyAddresses")
	require.Len(t, got, 1)
	require.Len(t, got[0].Attributes, 1)
	assert.Equal(t, "proxyAddresses;range=0-1", got[0].Attributes[0].Name)
	got = search(t, c, d.BaseDN(), "(sAMAccountName=Multi)", "proxyAddresses;range=2-*")
	require.Len(t, got[0].Attributes, 1)
	assert.Equal(t, "proxyAddresses;range=2-*", got[0].Attributes[0].Name)
	assert.Equal(t, []string{"smtp:c@example.com"}, got[0].Attributes[0].Values)
	// Filters still see every value.
	assert.Len(t, search(t, c, d.BaseDN(), "(proxyAddresses=smtp:c@example.com)"), 1)
}

func TestUserAttributesField(t *testing.T) {
	d := ldapsynctest.Start(t)
	u, err := d.AddUser(ldapsynctest.User{CN: "Uma", Attributes: map[string][]string{"userAccountControl": {"66050"}, "title": {"CFO"}}})
	require.NoError(t, err)
	a, err := d.Attributes(u.DN)
	require.NoError(t, err)
	assert.Equal(t, []string{"66050"}, a["userAccountControl"])
	assert.Equal(t, []string{"CFO"}, a["title"])
	_, err = d.AddUser(ldapsynctest.User{CN: "Vic", Attributes: map[string][]string{"samAccountName": {"other"}}})
	assert.ErrorIs(t, err, ldapsynctest.ErrInvalid)
}
