package ldapsynctest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// kind is the Active Directory object class family of an object.
type kind int

const (
	kindDomain kind = iota
	kindContainer
	kindOU
	kindUser
	kindContact
	kindGroup
	kindComputer
	kindDSA
)

func (k kind) String() string {
	switch k {
	case kindDomain:
		return "domain"
	case kindContainer:
		return "container"
	case kindOU:
		return "organizationalUnit"
	case kindUser:
		return "user"
	case kindContact:
		return "contact"
	case kindGroup:
		return "group"
	case kindComputer:
		return "computer"
	case kindDSA:
		return "nTDSDSA"
	}
	return "unknown"
}

// Flags of userAccountControl.
const (
	uacAccountDisable    = 0x2
	uacNormalAccount     = 0x200
	uacWorkstationTrust  = 0x1000
	uacDontExpirePasswd  = 0x10000
	groupTypeGlobalSecur = -2147483646
)

type attr struct {
	name string
	vals []string
}

// object is one stored directory object. Objects are only touched with
// Directory.mu held.
type object struct {
	guid       GUID
	kind       kind
	dn         string
	ndn        string
	parentNDN  string
	attrs      map[string]*attr // key: lower-case attribute name
	members    []GUID           // groups: forward links of member, in order
	deleted    bool
	usnCreated int64
	usnChanged int64
	created    time.Time
	changed    time.Time
	password   string // users: enables simple bind when set
}

func (o *object) get(name string) []string {
	if a := o.attrs[strings.ToLower(name)]; a != nil {
		return a.vals
	}
	return nil
}

func (o *object) first(name string) string {
	if v := o.get(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (o *object) set(name string, vals ...string) {
	key := strings.ToLower(name)
	var keep []string
	for _, v := range vals {
		if v != "" {
			keep = append(keep, v)
		}
	}
	if len(keep) == 0 {
		delete(o.attrs, key)
		return
	}
	if canon, ok := canonicalNames[key]; ok {
		name = canon
	} else if old := o.attrs[key]; old != nil {
		name = old.name
	}
	o.attrs[key] = &attr{name: name, vals: keep}
}

// canonicalNames maps lower-case attribute names to their lDAPDisplayName.
var canonicalNames = map[string]string{}

func init() {
	for _, n := range []string{
		"objectClass", "objectCategory", "cn", "name", "ou", "dc", "displayName", "mail",
		"proxyAddresses", "sAMAccountName", "sAMAccountType", "userPrincipalName",
		"userAccountControl", "givenName", "sn", "initials", "description", "groupType",
		"instanceType", "isDeleted", "lastKnownParent", "telephoneNumber", "title",
		"department", "company", "manager", "targetAddress", "mailNickname", "employeeID",
		"physicalDeliveryOfficeName", "invocationId", "dNSHostName", "isCriticalSystemObject",
		"showInAdvancedViewOnly", "objectGUID", "distinguishedName", "uSNCreated",
		"uSNChanged", "whenCreated", "whenChanged", "member", "memberOf", "info",
	} {
		canonicalNames[strings.ToLower(n)] = n
	}
}

// readOnly lists attributes SetAttribute and the Add methods refuse.
var readOnly = map[string]string{
	"objectguid":        "objectGUID is assigned by the directory",
	"distinguishedname": "use Rename or Move",
	"cn":                "use Rename",
	"name":              "use Rename",
	"ou":                "use Rename",
	"dc":                "the domain component cannot change",
	"usncreated":        "maintained by the directory",
	"usnchanged":        "maintained by the directory",
	"whencreated":       "maintained by the directory",
	"whenchanged":       "maintained by the directory",
	"member":            "use AddMember or RemoveMember",
	"memberof":          "a back link: use AddMember or RemoveMember on the group",
	"isdeleted":         "use Delete",
	"lastknownparent":   "maintained by the directory",
	"objectclass":       "fixed when the object is created",
	"objectcategory":    "fixed when the object is created",
	"instancetype":      "maintained by the directory",
	"invocationid":      "use Restore or SwitchDC",
}

// generalizedTime formats t as Active Directory prints whenChanged.
func generalizedTime(t time.Time) string {
	return t.UTC().Format("20060102150405") + ".0Z"
}

// categoryDN returns the objectCategory DN for a kind.
func (d *Directory) categoryDN(k kind) string {
	schema := "CN=Schema,CN=Configuration," + d.base
	switch k {
	case kindUser, kindContact:
		return "CN=Person," + schema
	case kindGroup:
		return "CN=Group," + schema
	case kindComputer:
		return "CN=Computer," + schema
	case kindOU:
		return "CN=Organizational-Unit," + schema
	case kindDomain:
		return "CN=Domain-DNS," + schema
	case kindDSA:
		return "CN=NTDS-DSA," + schema
	}
	return "CN=Container," + schema
}

func objectClasses(k kind) []string {
	switch k {
	case kindDomain:
		return []string{"top", "domain", "domainDNS"}
	case kindOU:
		return []string{"top", "organizationalUnit"}
	case kindUser:
		return []string{"top", "person", "organizationalPerson", "user"}
	case kindComputer:
		return []string{"top", "person", "organizationalPerson", "user", "computer"}
	case kindContact:
		return []string{"top", "person", "organizationalPerson", "contact"}
	case kindGroup:
		return []string{"top", "group"}
	case kindDSA:
		return []string{"top", "applicationSettings", "nTDSDSA"}
	}
	return []string{"top", "container"}
}

// touch records a write to o: a new USN and whenChanged.
func (d *Directory) touch(o *object) {
	d.usn++
	o.usnChanged = d.usn
	o.changed = d.now()
}

// insert stores a new object under dn without checking its parent (used for
// the objects every domain starts with).
func (d *Directory) insert(k kind, dn string) *object {
	_, _, parent, _ := splitDN(dn)
	d.usn++
	now := d.now()
	o := &object{
		guid:       newGUID(),
		kind:       k,
		dn:         dn,
		ndn:        mustNormDN(dn),
		parentNDN:  mustNormDN(parent),
		attrs:      map[string]*attr{},
		usnCreated: d.usn,
		usnChanged: d.usn,
		created:    now,
		changed:    now,
	}
	if parent == "" {
		o.parentNDN = ""
	}
	typ, val, _, _ := splitDN(dn)
	o.set("objectClass", objectClasses(k)...)
	o.set("objectCategory", d.categoryDN(k))
	o.set("instanceType", "4")
	o.set("name", val)
	o.set(strings.ToLower(typ), val)
	d.objs[o.guid] = o
	d.byDN[o.ndn] = o
	return o
}

// create adds a new object named rdnType=rdnValue under parentDN after the
// checks Active Directory makes.
func (d *Directory) create(k kind, rdnType, rdnValue, parentDN string) (*object, error) {
	if strings.TrimSpace(rdnValue) == "" {
		return nil, fmt.Errorf("%w: empty name", ErrInvalid)
	}
	if len(rdnValue) > 64 {
		return nil, fmt.Errorf("%w: name %q is longer than 64 characters", ErrInvalid, rdnValue)
	}
	if strings.ContainsAny(rdnValue, "\n\r\x00") {
		return nil, fmt.Errorf("%w: name %q contains a control character", ErrInvalid, rdnValue)
	}
	parent, err := d.container(parentDN)
	if err != nil {
		return nil, err
	}
	dn := rdnType + "=" + escapeRDNValue(rdnValue) + "," + parent.dn
	ndn, err := normDN(dn)
	if err != nil {
		return nil, err
	}
	if _, ok := d.byDN[ndn]; ok {
		return nil, fmt.Errorf("%w: %s", ErrExists, dn)
	}
	return d.insert(k, dn), nil
}

// container resolves a parent DN ("" = the domain root) to a live object
// that may hold children.
func (d *Directory) container(dn string) (*object, error) {
	if strings.TrimSpace(dn) == "" {
		dn = d.base
	}
	o, err := d.live(dn)
	if err != nil {
		return nil, fmt.Errorf("parent: %w", err)
	}
	switch o.kind {
	case kindDomain, kindContainer, kindOU:
		return o, nil
	}
	return nil, fmt.Errorf("%w: parent %s is a %s, not a container", ErrWrongKind, o.dn, o.kind)
}

// live resolves a DN, or <GUID=...>, to a live (not deleted) object.
func (d *Directory) live(dn string) (*object, error) {
	o, err := d.resolve(dn)
	if err != nil {
		return nil, err
	}
	if o.deleted {
		return nil, fmt.Errorf("%w: %s is deleted", ErrNotFound, dn)
	}
	return o, nil
}

// resolve finds any object, tombstones included, by DN or <GUID=...>.
func (d *Directory) resolve(dn string) (*object, error) {
	if g, ok, err := parseGUIDBase(dn); ok {
		if err != nil {
			return nil, err
		}
		if o := d.objs[g]; o != nil {
			return o, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, dn)
	}
	if strings.TrimSpace(dn) == "" {
		return nil, fmt.Errorf("%w: empty DN", ErrInvalid)
	}
	n, err := normDN(dn)
	if err != nil {
		return nil, err
	}
	if o := d.byDN[n]; o != nil {
		return o, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, dn)
}

// parseGUIDBase recognises the "<GUID=...>" DN form Active Directory accepts
// (hex of the wire bytes or the dashed text form).
func parseGUIDBase(dn string) (GUID, bool, error) {
	s := strings.TrimSpace(dn)
	if len(s) < 7 || !strings.EqualFold(s[:6], "<GUID=") || !strings.HasSuffix(s, ">") {
		return GUID{}, false, nil
	}
	v := s[6 : len(s)-1]
	if len(v) == 32 && !strings.Contains(v, "-") {
		var g GUID
		for i := 0; i < 16; i++ {
			b, err := strconv.ParseUint(v[2*i:2*i+2], 16, 8)
			if err != nil {
				return g, true, fmt.Errorf("%w: %s", ErrInvalid, dn)
			}
			g[i] = byte(b)
		}
		return g, true, nil
	}
	g, err := ParseGUID(v)
	return g, true, err
}

// children reports whether any object (tombstones excluded) lives directly
// under o.
func (d *Directory) hasChildren(o *object) bool {
	for _, c := range d.objs {
		if !c.deleted && c.parentNDN == o.ndn {
			return true
		}
	}
	return false
}

// reDN gives o (and, for containers, everything under it) a new DN.
func (d *Directory) reDN(o *object, newDN string) {
	oldN := o.ndn
	oldDN := o.dn
	newN := mustNormDN(newDN)
	for _, c := range d.objs {
		if c != o && strings.HasSuffix(c.ndn, ","+oldN) {
			delete(d.byDN, c.ndn)
			c.dn = c.dn[:len(c.dn)-len(oldDN)] + newDN
			c.ndn = mustNormDN(c.dn)
			_, _, p, _ := splitDN(c.dn)
			c.parentNDN = mustNormDN(p)
			d.byDN[c.ndn] = c
		}
	}
	delete(d.byDN, oldN)
	o.dn = newDN
	o.ndn = newN
	_, _, p, _ := splitDN(newDN)
	o.parentNDN = mustNormDN(p)
	d.byDN[newN] = o
}

// groupsOf returns the live groups that list g as a member.
func (d *Directory) groupsOf(g GUID) []*object {
	var out []*object
	for _, o := range d.objs {
		if o.kind != kindGroup || o.deleted {
			continue
		}
		for _, m := range o.members {
			if m == g {
				out = append(out, o)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].usnCreated < out[j].usnCreated })
	return out
}

// tombstoneKeep lists the attributes a deleted object keeps, as Active
// Directory strips the rest.
var tombstoneKeep = map[string]bool{
	"objectclass": true, "samaccountname": true, "samaccounttype": true, "instancetype": true,
	"useraccountcontrol": true, "lastknownparent": true, "isdeleted": true, "name": true, "cn": true,
	"ou": true, "grouptype": true,
}

// tombstone turns o into a deleted object under CN=Deleted Objects.
func (d *Directory) tombstone(o *object) {
	// Forward links to o disappear from every group; each group changes.
	for _, g := range d.groupsOf(o.guid) {
		g.members = removeGUID(g.members, o.guid)
		d.touch(g)
	}
	d.unindexSAM(o)
	name := o.first("name")
	lastParent := ""
	if _, _, p, err := splitDN(o.dn); err == nil {
		lastParent = p
	}
	for k := range o.attrs {
		if !tombstoneKeep[k] {
			delete(o.attrs, k)
		}
	}
	o.members = nil
	o.deleted = true
	o.password = ""
	newName := name + "\nDEL:" + o.guid.String()
	typ := "CN"
	if o.kind == kindOU {
		typ = "OU"
	}
	if o.attrs["ou"] != nil {
		o.set("ou", newName)
	} else {
		o.set("cn", newName)
	}
	o.set("name", newName)
	o.set("isDeleted", "TRUE")
	o.set("lastKnownParent", lastParent)
	d.reDN(o, typ+"="+escapeRDNValue(newName)+","+d.deletedObjects.dn)
	d.touch(o)
}

func removeGUID(list []GUID, g GUID) []GUID {
	out := list[:0:0]
	for _, m := range list {
		if m != g {
			out = append(out, m)
		}
	}
	return out
}
