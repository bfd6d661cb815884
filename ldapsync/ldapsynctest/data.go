package ldapsynctest

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// Entry identifies an object created by one of the Add methods.
type Entry struct {
	// DN is the distinguished name at creation; Rename and Move return
	// the new one, [Directory.DN] finds the current one.
	DN string
	// ID is the objectGUID in the text form of [GUID.String], the form
	// ldapsync uses as User.ID and Group.ID.
	ID string
	// GUID is the objectGUID; GUID.Bytes() is the raw attribute value.
	GUID GUID
}

func entryOf(o *object) Entry { return Entry{DN: o.dn, ID: o.guid.String(), GUID: o.guid} }

// User describes a user for [Directory.AddUser]. Only CN or SAMAccountName
// is required.
type User struct {
	CN                string // RDN value; defaults to SAMAccountName
	SAMAccountName    string // pre-Windows 2000 logon name; defaults to CN (at most 20 characters)
	UserPrincipalName string // defaults to SAMAccountName@<DNS domain>
	GivenName         string
	Surname           string
	DisplayName       string
	Mail              string
	ProxyAddresses    []string // e.g. "SMTP:primary@example.com", "smtp:alias@example.com"
	Disabled          bool     // userAccountControl 514 instead of 512
	Parent            string   // DN of an OU or container; default CN=Users,<base>
	Password          string   // when set, the user can bind with it
	// Attributes are further attributes (telephoneNumber, department,
	// ...). Attributes the directory maintains are refused.
	Attributes map[string][]string
}

// Contact describes a mail contact for [Directory.AddContact].
type Contact struct {
	CN             string // required
	DisplayName    string
	Mail           string
	ProxyAddresses []string
	TargetAddress  string // e.g. "SMTP:someone@partner.example"
	Parent         string // default: the domain root
	Attributes     map[string][]string
}

var samInvalid = regexp.MustCompile(`["/\\\[\]:;|=,+*?<>@]`)

func validSAM(sam string, max int) error {
	switch {
	case sam == "":
		return fmt.Errorf("%w: empty sAMAccountName", ErrInvalid)
	case len(sam) > max:
		return fmt.Errorf("%w: sAMAccountName %q is longer than %d characters", ErrInvalid, sam, max)
	case samInvalid.MatchString(sam):
		return fmt.Errorf("%w: sAMAccountName %q contains one of \"/\\[]:;|=,+*?<>@", ErrInvalid, sam)
	}
	return nil
}

// samTaken reports whether a live user, computer or group already uses sam.
func (d *Directory) samTaken(sam string) bool {
	_, ok := d.sams[strings.ToLower(sam)]
	return ok
}

// indexSAM records o's sAMAccountName; unindexSAM forgets it.
func (d *Directory) indexSAM(o *object) {
	if sam := o.first("sAMAccountName"); sam != "" && !o.deleted {
		d.sams[strings.ToLower(sam)] = o
	}
}

func (d *Directory) unindexSAM(o *object) {
	key := strings.ToLower(o.first("sAMAccountName"))
	if d.sams[key] == o {
		delete(d.sams, key)
	}
}

var attrNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// setExtra applies caller-supplied attributes after checking them.
func setExtra(o *object, extra map[string][]string) error {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := checkWritable(k, extra[k]); err != nil {
			return err
		}
	}
	for _, k := range keys {
		o.set(k, extra[k]...)
	}
	return nil
}

func checkWritable(name string, vals []string) error {
	if !attrNameRE.MatchString(name) {
		return fmt.Errorf("%w: attribute name %q", ErrInvalid, name)
	}
	if why, ok := readOnly[strings.ToLower(name)]; ok {
		return fmt.Errorf("%w: %s: %s", ErrReadOnly, name, why)
	}
	if intSyntax[strings.ToLower(name)] {
		for _, v := range vals {
			if _, err := strconv.ParseInt(v, 10, 32); err != nil && v != "" {
				return fmt.Errorf("%w: %s value %q is not a 32-bit integer", ErrInvalid, name, v)
			}
		}
	}
	return nil
}

// AddUser creates a user (objectClass top/person/organizationalPerson/user,
// objectCategory Person) and returns its DN and objectGUID.
func (d *Directory) AddUser(u User) (Entry, error) {
	cn, sam := u.CN, u.SAMAccountName
	if cn == "" {
		cn = sam
	}
	if sam == "" {
		sam = cn
		if len(sam) > 20 {
			sam = sam[:20]
		}
		sam = samInvalid.ReplaceAllString(sam, "_")
	}
	e, err := d.addUserLike(kindUser, cn, sam, u)
	return e, opErr("AddUser", cn, err)
}

func (d *Directory) addUserLike(k kind, cn, sam string, u User) (Entry, error) {
	limit := 20
	if k == kindComputer {
		limit = 16
	}
	if err := validSAM(sam, limit); err != nil {
		return Entry{}, err
	}
	parent := u.Parent
	if parent == "" {
		parent = "CN=Users," + d.base
		if k == kindComputer {
			parent = "CN=Computers," + d.base
		}
	}
	for k := range u.Attributes {
		if err := checkWritable(k, u.Attributes[k]); err != nil {
			return Entry{}, err
		}
		if strings.EqualFold(k, "sAMAccountName") {
			return Entry{}, fmt.Errorf("%w: set %s with the User fields, not Attributes", ErrInvalid, k)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.samTaken(sam) {
		return Entry{}, fmt.Errorf("%w: sAMAccountName %q is in use", ErrExists, sam)
	}
	o, err := d.create(k, "CN", cn, parent)
	if err != nil {
		return Entry{}, err
	}
	uac := uacNormalAccount
	if k == kindComputer {
		uac = uacWorkstationTrust
	}
	if u.Disabled {
		uac |= uacAccountDisable
	}
	upn := u.UserPrincipalName
	if upn == "" && k == kindUser {
		upn = sam + "@" + d.domain
	}
	o.set("sAMAccountName", sam)
	o.set("userPrincipalName", upn)
	o.set("userAccountControl", strconv.Itoa(uac))
	if k == kindComputer {
		o.set("sAMAccountType", "805306369")
		o.set("dNSHostName", strings.ToLower(strings.TrimSuffix(sam, "$"))+"."+d.domain)
	} else {
		o.set("sAMAccountType", "805306368")
	}
	o.set("givenName", u.GivenName)
	o.set("sn", u.Surname)
	o.set("displayName", u.DisplayName)
	o.set("mail", u.Mail)
	o.set("proxyAddresses", u.ProxyAddresses...)
	_ = setExtra(o, u.Attributes)
	o.password = u.Password
	d.indexSAM(o)
	return entryOf(o), nil
}

// AddComputer creates a computer account (objectClass ... user/computer,
// objectCategory Computer) in parent (default CN=Computers,<base>): an
// object that (objectClass=user) matches and (objectCategory=person) does
// not.
func (d *Directory) AddComputer(name, parent string) (Entry, error) {
	e, err := d.addUserLike(kindComputer, name, strings.ToUpper(name)+"$", User{Parent: parent})
	return e, opErr("AddComputer", name, err)
}

// AddContact creates a contact (objectClass ... contact, objectCategory
// Person, no sAMAccountName).
func (d *Directory) AddContact(c Contact) (Entry, error) {
	e, err := d.addContact(c)
	return e, opErr("AddContact", c.CN, err)
}

func (d *Directory) addContact(c Contact) (Entry, error) {
	for k := range c.Attributes {
		if err := checkWritable(k, c.Attributes[k]); err != nil {
			return Entry{}, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	o, err := d.create(kindContact, "CN", c.CN, c.Parent)
	if err != nil {
		return Entry{}, err
	}
	o.set("displayName", c.DisplayName)
	o.set("mail", c.Mail)
	o.set("proxyAddresses", c.ProxyAddresses...)
	o.set("targetAddress", c.TargetAddress)
	_ = setExtra(o, c.Attributes)
	return entryOf(o), nil
}

// AddGroup creates a global security group named name in CN=Users,<base>
// with the given members (DNs of users, contacts, computers or groups).
// Use Move, SetMail and SetProxyAddresses for other placements and
// mail-enabled groups.
func (d *Directory) AddGroup(name string, members ...string) (Entry, error) {
	e, err := d.addGroup(name, members)
	return e, opErr("AddGroup", name, err)
}

func (d *Directory) addGroup(name string, members []string) (Entry, error) {
	if err := validSAM(name, 256); err != nil {
		return Entry{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []GUID
	seen := map[GUID]bool{}
	for _, m := range members {
		o, err := d.live(m)
		if err != nil {
			return Entry{}, fmt.Errorf("member: %w", err)
		}
		if !canBeMember(o) {
			return Entry{}, fmt.Errorf("%w: %s is a %s and cannot be a group member", ErrWrongKind, o.dn, o.kind)
		}
		if !seen[o.guid] {
			seen[o.guid] = true
			ids = append(ids, o.guid)
		}
	}
	if d.samTaken(name) {
		return Entry{}, fmt.Errorf("%w: sAMAccountName %q is in use", ErrExists, name)
	}
	o, err := d.create(kindGroup, "CN", name, "CN=Users,"+d.base)
	if err != nil {
		return Entry{}, err
	}
	o.set("sAMAccountName", name)
	o.set("sAMAccountType", "268435456")
	o.set("groupType", strconv.Itoa(groupTypeGlobalSecur))
	o.members = ids
	d.indexSAM(o)
	return entryOf(o), nil
}

func canBeMember(o *object) bool {
	switch o.kind {
	case kindUser, kindContact, kindGroup, kindComputer:
		return true
	}
	return false
}

// AddOU creates an organizational unit under parent ("" = the domain root).
func (d *Directory) AddOU(name, parent string) (Entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, err := d.create(kindOU, "OU", name, parent)
	if err != nil {
		return Entry{}, opErr("AddOU", name, err)
	}
	return entryOf(o), nil
}

// AddMember adds member to group. As on Active Directory only the group
// changes (its uSNChanged increases); the member's memberOf follows without
// a change of its own.
func (d *Directory) AddMember(group, member string) error {
	return opErr("AddMember", group, d.changeMember(group, member, true))
}

// RemoveMember removes member from group; see [Directory.AddMember].
func (d *Directory) RemoveMember(group, member string) error {
	return opErr("RemoveMember", group, d.changeMember(group, member, false))
}

func (d *Directory) changeMember(group, member string, add bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, err := d.live(group)
	if err != nil {
		return err
	}
	if g.kind != kindGroup {
		return fmt.Errorf("%w: %s is a %s, not a group", ErrWrongKind, g.dn, g.kind)
	}
	m, err := d.live(member)
	if err != nil {
		return fmt.Errorf("member: %w", err)
	}
	if !canBeMember(m) {
		return fmt.Errorf("%w: %s is a %s and cannot be a group member", ErrWrongKind, m.dn, m.kind)
	}
	has := false
	for _, id := range g.members {
		if id == m.guid {
			has = true
		}
	}
	switch {
	case add && has:
		return fmt.Errorf("%w: %s is already a member", ErrExists, m.dn)
	case !add && !has:
		return fmt.Errorf("%w: %s is not a member", ErrNotFound, m.dn)
	case add:
		g.members = append(g.members[:len(g.members):len(g.members)], m.guid)
	default:
		g.members = removeGUID(g.members, m.guid)
	}
	d.touch(g)
	return nil
}

// modify runs fn on the live object at dn under the write lock and records
// the change (new uSNChanged, whenChanged).
func (d *Directory) modify(op, dn string, fn func(o *object) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, err := d.live(dn)
	if err != nil {
		return opErr(op, dn, err)
	}
	if err := fn(o); err != nil {
		return opErr(op, dn, err)
	}
	d.touch(o)
	return nil
}

func mailKinds(o *object) error {
	switch o.kind {
	case kindUser, kindContact, kindGroup:
		return nil
	}
	return fmt.Errorf("%w: %s is a %s", ErrWrongKind, o.dn, o.kind)
}

// SetMail sets the mail attribute ("" removes it).
func (d *Directory) SetMail(dn, mail string) error {
	return d.modify("SetMail", dn, func(o *object) error {
		if err := mailKinds(o); err != nil {
			return err
		}
		o.set("mail", mail)
		return nil
	})
}

// SetProxyAddresses replaces proxyAddresses (none removes the attribute).
func (d *Directory) SetProxyAddresses(dn string, addrs ...string) error {
	return d.modify("SetProxyAddresses", dn, func(o *object) error {
		if err := mailKinds(o); err != nil {
			return err
		}
		o.set("proxyAddresses", addrs...)
		return nil
	})
}

// SetAttribute replaces any other attribute (no values removes it).
// Attributes the directory maintains (objectGUID, uSNChanged, member,
// memberOf, cn, ...) are refused with [ErrReadOnly].
func (d *Directory) SetAttribute(dn, name string, values ...string) error {
	if err := checkWritable(name, values); err != nil {
		return opErr("SetAttribute", dn, err)
	}
	return d.modify("SetAttribute", dn, func(o *object) error {
		if strings.EqualFold(name, "sAMAccountName") {
			if len(values) != 1 {
				return fmt.Errorf("%w: sAMAccountName takes one value", ErrInvalid)
			}
			if err := validSAM(values[0], 256); err != nil {
				return err
			}
			if !strings.EqualFold(o.first("sAMAccountName"), values[0]) && d.samTaken(values[0]) {
				return fmt.Errorf("%w: sAMAccountName %q is in use", ErrExists, values[0])
			}
			d.unindexSAM(o)
			o.set(name, values...)
			d.indexSAM(o)
			return nil
		}
		o.set(name, values...)
		return nil
	})
}

// SetPassword sets the password a user binds with ("" disables binding).
// Like a password change on Active Directory it is a write: uSNChanged
// increases.
func (d *Directory) SetPassword(dn, password string) error {
	return d.modify("SetPassword", dn, func(o *object) error {
		if o.kind != kindUser {
			return fmt.Errorf("%w: %s is a %s", ErrWrongKind, o.dn, o.kind)
		}
		o.password = password
		return nil
	})
}

// Disable sets the ACCOUNTDISABLE bit (0x2) of userAccountControl, keeping
// the other bits (512 becomes 514).
func (d *Directory) Disable(dn string) error { return d.setDisabled("Disable", dn, true) }

// Enable clears the ACCOUNTDISABLE bit of userAccountControl.
func (d *Directory) Enable(dn string) error { return d.setDisabled("Enable", dn, false) }

func (d *Directory) setDisabled(op, dn string, disabled bool) error {
	return d.modify(op, dn, func(o *object) error {
		if o.kind != kindUser && o.kind != kindComputer {
			return fmt.Errorf("%w: %s is a %s; only accounts can be disabled", ErrWrongKind, o.dn, o.kind)
		}
		uac, _ := strconv.Atoi(o.first("userAccountControl"))
		if disabled {
			uac |= uacAccountDisable
		} else {
			uac &^= uacAccountDisable
		}
		o.set("userAccountControl", strconv.Itoa(uac))
		return nil
	})
}

func isSystem(o *object) bool {
	return o.kind == kindDomain || o.kind == kindDSA || strings.EqualFold(o.first("isCriticalSystemObject"), "TRUE")
}

// Rename gives the object a new RDN value (cn, or ou for an OU) in the same
// container and returns the new DN. Objects under a renamed OU get new DNs
// without changes of their own (their uSNChanged stays), as on Active
// Directory.
func (d *Directory) Rename(dn, newName string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, err := d.live(dn)
	if err != nil {
		return "", opErr("Rename", dn, err)
	}
	if isSystem(o) {
		return "", opErr("Rename", dn, fmt.Errorf("%w: %s is a system object", ErrWrongKind, o.dn))
	}
	typ, _, parent, err := splitDN(o.dn)
	if err != nil {
		return "", opErr("Rename", dn, err)
	}
	if strings.TrimSpace(newName) == "" || len(newName) > 64 || strings.ContainsAny(newName, "\n\r\x00") {
		return "", opErr("Rename", dn, fmt.Errorf("%w: name %q", ErrInvalid, newName))
	}
	newDN := typ + "=" + escapeRDNValue(newName) + "," + parent
	if n := mustNormDN(newDN); n != o.ndn {
		if _, ok := d.byDN[n]; ok {
			return "", opErr("Rename", dn, fmt.Errorf("%w: %s", ErrExists, newDN))
		}
	}
	d.reDN(o, newDN)
	o.set(strings.ToLower(typ), newName)
	o.set("name", newName)
	d.touch(o)
	return o.dn, nil
}

// Move puts the object (with anything under it) into newParent and returns
// the new DN. Objects under a moved OU keep their uSNChanged.
func (d *Directory) Move(dn, newParent string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, err := d.live(dn)
	if err != nil {
		return "", opErr("Move", dn, err)
	}
	if isSystem(o) {
		return "", opErr("Move", dn, fmt.Errorf("%w: %s is a system object", ErrWrongKind, o.dn))
	}
	p, err := d.container(newParent)
	if err != nil {
		return "", opErr("Move", dn, err)
	}
	if p == o || strings.HasSuffix(p.ndn, ","+o.ndn) {
		return "", opErr("Move", dn, fmt.Errorf("%w: cannot move %s under itself", ErrInvalid, o.dn))
	}
	typ, val, _, err := splitDN(o.dn)
	if err != nil {
		return "", opErr("Move", dn, err)
	}
	newDN := typ + "=" + escapeRDNValue(val) + "," + p.dn
	if n := mustNormDN(newDN); n != o.ndn {
		if _, ok := d.byDN[n]; ok {
			return "", opErr("Move", dn, fmt.Errorf("%w: %s", ErrExists, newDN))
		}
	}
	d.reDN(o, newDN)
	d.touch(o)
	return o.dn, nil
}

// Delete deletes the object as Active Directory does: it becomes a
// tombstone named "CN=<name>\0ADEL:<guid>,CN=Deleted Objects,<base>" with
// isDeleted TRUE and most attributes stripped, visible only to searches
// with the show-deleted control ([OIDShowDeleted]). Groups that listed it
// lose the member and change. An object with children is refused with
// [ErrNotLeaf].
func (d *Directory) Delete(dn string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, err := d.live(dn)
	if err != nil {
		return opErr("Delete", dn, err)
	}
	if isSystem(o) {
		return opErr("Delete", dn, fmt.Errorf("%w: %s is a system object", ErrWrongKind, o.dn))
	}
	if d.hasChildren(o) {
		return opErr("Delete", dn, fmt.Errorf("%w: %s", ErrNotLeaf, o.dn))
	}
	d.tombstone(o)
	return nil
}

// DN returns the current DN of the object with the given objectGUID (text
// form), tombstones included.
func (d *Directory) DN(id string) (string, error) {
	g, err := ParseGUID(id)
	if err != nil {
		return "", opErr("DN", id, err)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	o := d.objs[g]
	if o == nil {
		return "", opErr("DN", id, fmt.Errorf("%w: objectGUID %s", ErrNotFound, id))
	}
	return o.dn, nil
}

// Attributes returns every attribute of the object at dn (a tombstone's DN
// works too) as a search would return them: objectGUID as its 16 raw bytes,
// uSNChanged in decimal, member and memberOf as DNs, without range
// retrieval.
func (d *Directory) Attributes(dn string) (map[string][]string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	o, err := d.resolve(dn)
	if err != nil {
		return nil, opErr("Attributes", dn, err)
	}
	e := d.render(o, d.memberOfIndex())
	out := make(map[string][]string, len(e.attrs))
	for _, a := range e.attrs {
		out[a.name] = append([]string(nil), a.vals...)
	}
	return out, nil
}

// HighestCommittedUSN returns the USN of the latest write, as the root DSE
// announces it.
func (d *Directory) HighestCommittedUSN() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.usn
}

// DSServiceName returns the DN of the current domain controller's NTDS
// Settings object, as the root DSE announces it.
func (d *Directory) DSServiceName() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.dsa.dn
}

// InvocationID returns the current domain controller's invocation ID, the
// invocationId attribute of the dsServiceName object.
func (d *Directory) InvocationID() GUID {
	d.mu.RLock()
	defer d.mu.RUnlock()
	g, _ := GUIDFromBytes([]byte(d.dsa.first("invocationId")))
	return g
}

// Undelete brings a tombstone back, as tombstone reanimation does on Active
// Directory: same objectGUID, the original name under lastKnownParent (or
// newParent when given), a new uSNChanged. Attributes stripped at deletion
// (mail, proxyAddresses, displayName, group memberships, ...) stay gone;
// set them again with SetMail and the like. It returns the new DN.
func (d *Directory) Undelete(tombstoneDN, newParent string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, err := d.resolve(tombstoneDN)
	if err != nil {
		return "", opErr("Undelete", tombstoneDN, err)
	}
	if !o.deleted || o == d.deletedObjects {
		return "", opErr("Undelete", tombstoneDN, fmt.Errorf("%w: %s is not a deleted object", ErrWrongKind, o.dn))
	}
	parent := newParent
	if parent == "" {
		parent = o.first("lastKnownParent")
	}
	p, err := d.container(parent)
	if err != nil {
		return "", opErr("Undelete", tombstoneDN, err)
	}
	name, _, _ := strings.Cut(o.first("name"), "\nDEL:")
	typ := "CN"
	if o.kind == kindOU {
		typ = "OU"
	}
	newDN := typ + "=" + escapeRDNValue(name) + "," + p.dn
	if _, ok := d.byDN[mustNormDN(newDN)]; ok {
		return "", opErr("Undelete", tombstoneDN, fmt.Errorf("%w: %s", ErrExists, newDN))
	}
	if sam := o.first("sAMAccountName"); sam != "" && d.samTaken(sam) {
		return "", opErr("Undelete", tombstoneDN, fmt.Errorf("%w: sAMAccountName %q is in use", ErrExists, sam))
	}
	o.deleted = false
	o.set("isDeleted")
	o.set("lastKnownParent")
	o.set(strings.ToLower(typ), name)
	o.set("name", name)
	o.set("objectCategory", d.categoryDN(o.kind))
	d.reDN(o, newDN)
	d.indexSAM(o)
	d.touch(o)
	return o.dn, nil
}

// Find returns the live objects under the base DN that match an LDAP
// filter, evaluated as a subtree search would, in creation order.
func (d *Directory) Find(filter string) ([]Entry, error) {
	f, err := ldap.CompileFilter(filter)
	if err != nil {
		return nil, opErr("Find", filter, fmt.Errorf("%w: filter: %v", ErrInvalid, err))
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	idx := d.memberOfIndex()
	ev := newEvaluator(d)
	var out []Entry
	for _, o := range d.sortedLive() {
		ok, err := ev.match(f, objectView{d: d, o: o, memberOf: idx})
		if err != nil {
			return nil, opErr("Find", filter, fmt.Errorf("%w: %v", ErrInvalid, err))
		}
		if ok {
			out = append(out, entryOf(o))
		}
	}
	return out, nil
}

// sortedLive returns the live objects of the domain partition in creation
// order.
func (d *Directory) sortedLive() []*object {
	var list []*object
	for _, o := range d.objs {
		if o.deleted || o.ndn == d.configNDN || strings.HasSuffix(o.ndn, ","+d.configNDN) {
			continue
		}
		list = append(list, o)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].usnCreated < list[j].usnCreated })
	return list
}

// LDIF returns the live objects of the domain in LDIF (RFC 2849), in
// creation order, for a failing test to log. Binary and non-printable
// values are base64-encoded; constructed attributes are left out.
func (d *Directory) LDIF() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	idx := d.memberOfIndex()
	var b strings.Builder
	for i, o := range d.sortedLive() {
		if i > 0 {
			b.WriteByte('\n')
		}
		writeLDIFLine(&b, "dn", o.dn)
		for _, a := range d.render(o, idx).attrs {
			if constructed[strings.ToLower(a.name)] {
				continue
			}
			for _, v := range a.vals {
				writeLDIFLine(&b, a.name, v)
			}
		}
	}
	return b.String()
}

func writeLDIFLine(b *strings.Builder, name, v string) {
	safe := utf8.ValidString(v) && (v == "" || (v[0] != ' ' && v[0] != ':' && v[0] != '<' && v[len(v)-1] != ' '))
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			safe = false
			break
		}
	}
	if safe {
		fmt.Fprintf(b, "%s: %s\n", name, v)
		return
	}
	fmt.Fprintf(b, "%s:: %s\n", name, base64.StdEncoding.EncodeToString([]byte(v)))
}
