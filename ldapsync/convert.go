package ldapsync

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Attribute slots: the attributes convert looks at, found once per entry.
const (
	slotObjectGUID = iota
	slotEntryUUID
	slotObjectClass
	slotProxyAddresses
	slotMail
	slotMember
	slotUniqueMember
	slotCN
	slotName
	slotDisplayName
	slotUserAccountControl
	slotModifyTimestamp
	slotExtra // extraAttributes follow, in order
	nSlots    = slotExtra + 12
)

var slotNames = [slotExtra]string{"objectGUID", "entryUUID", "objectClass", "proxyAddresses", "mail", "member",
	"uniqueMember", "cn", "name", "displayName", "userAccountControl", "modifyTimestamp"}

// attrSlots maps attribute names, as spelt here and lower-cased, to slots.
var attrSlots = func() map[string]int {
	if len(extraAttributes) != nSlots-slotExtra {
		panic("ldapsync: extraAttributes and nSlots disagree")
	}
	m := map[string]int{}
	add := func(name string, slot int) {
		m[name] = slot
		m[strings.ToLower(name)] = slot
	}
	for i, n := range slotNames {
		add(n, i)
	}
	for i, n := range extraAttributes {
		add(n, slotExtra+i)
	}
	return m
}()

// entryIndex holds, per slot, the first attribute of an entry with that
// name (compared case-insensitively, as go-ldap's GetEqualFold... do).
type entryIndex [nSlots]*ldap.EntryAttribute

func (ix *entryIndex) index(e *ldap.Entry) {
	*ix = entryIndex{}
	for _, a := range e.Attributes {
		slot, ok := attrSlots[a.Name]
		if !ok {
			slot, ok = attrSlots[strings.ToLower(a.Name)]
		}
		if ok && ix[slot] == nil {
			ix[slot] = a
		}
	}
}

func (ix *entryIndex) values(slot int) []string {
	if a := ix[slot]; a != nil {
		return a.Values
	}
	return nil
}

func (ix *entryIndex) first(slot int) string {
	if v := ix.values(slot); len(v) > 0 {
		return v[0]
	}
	return ""
}

// convert turns an entry into a record. skip is set when the entry cannot
// be an object at all (no usable ID, unknown class).
func (r *reader) convert(e *ldap.Entry) (id string, rec *Record, skip string) {
	var ix entryIndex
	ix.index(e)
	return r.convertIndexed(e, &ix)
}

// convertIndexed is convert with the entry already indexed. The record
// and the ID share no memory with the entry.
func (r *reader) convertIndexed(e *ldap.Entry, ix *entryIndex) (id string, rec *Record, skip string) {
	if r.idAttr == "objectGUID" {
		var raw []byte
		if a := ix[slotObjectGUID]; a != nil && len(a.ByteValues) > 0 {
			raw = a.ByteValues[0]
		}
		g, err := formatGUID(raw)
		if err != nil {
			return "", nil, err.Error()
		}
		id = g
	} else {
		slot, ok := attrSlots[strings.ToLower(r.idAttr)]
		if !ok {
			return "", nil, "no " + r.idAttr
		}
		id = strings.ToLower(strings.TrimSpace(ix.first(slot)))
		if id == "" {
			return "", nil, "no " + r.idAttr
		}
	}
	rec = &Record{DN: e.DN}
	var group, contact, user bool
	for _, c := range ix.values(slotObjectClass) {
		switch {
		case strings.EqualFold(c, "group"), strings.EqualFold(c, "groupOfNames"), strings.EqualFold(c, "groupOfUniqueNames"):
			group = true
		case strings.EqualFold(c, "contact"):
			contact = true
		case strings.EqualFold(c, "user"), strings.EqualFold(c, "inetOrgPerson"):
			user = true
		}
	}
	switch {
	case group:
		rec.Kind = KindGroup
	case contact:
		rec.Kind = KindContact
	case user:
		rec.Kind = KindUser
	default:
		return id, nil, "object class is neither user, contact nor group"
	}
	primary, aliases, problems := addresses(ix.values(slotProxyAddresses), ix.first(slotMail))
	sort.Strings(aliases)
	rec.Email, rec.Aliases = primary, aliases
	rec.Problems = append(rec.Problems, problems...)
	firstOf := func(slots ...int) string {
		for _, s := range slots {
			if v := ix.first(s); v != "" {
				return v
			}
		}
		return ""
	}
	switch rec.Kind {
	case KindGroup:
		m, u := ix.values(slotMember), ix.values(slotUniqueMember)
		if len(m)+len(u) > 0 {
			rec.MemberDNs = make([]string, 0, len(m)+len(u))
			rec.MemberDNs = append(append(rec.MemberDNs, m...), u...)
		}
		rec.DisplayName = firstOf(slotCN, slotName, slotDisplayName)
	default:
		rec.DisplayName = firstOf(slotDisplayName, slotCN, slotName)
		if v := ix.first(slotUserAccountControl); v != "" && rec.Kind == KindUser {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				rec.Problems = append(rec.Problems, fmt.Sprintf("userAccountControl %q is not a number", v))
			} else {
				rec.Disabled = n&0x2 != 0
			}
		}
		var p attrPacker
		for _, i := range extraOrder {
			if vals := ix.values(slotExtra + i); len(vals) > 0 {
				p.add(extraAttributes[i], vals)
			}
		}
		rec.attrs = p.block()
	}
	return pack(id, rec), rec, ""
}

// extraOrder lists the indexes of extraAttributes in name order, the
// order of an attrBlock.
var extraOrder = func() []int {
	o := make([]int, len(extraAttributes))
	for i := range o {
		o[i] = i
	}
	slices.SortFunc(o, func(a, b int) int { return strings.Compare(extraAttributes[a], extraAttributes[b]) })
	return o
}()

// pack copies every string of rec into one new block, and id into a
// string of its own (reports and states keep IDs longer than records):
// an entry's strings share its whole message, which a record kept for
// the run would otherwise hold on to.
func pack(id string, rec *Record) string {
	n := len(rec.DN) + len(rec.Email) + len(rec.DisplayName)
	for _, a := range rec.Aliases {
		n += len(a)
	}
	for _, d := range rec.MemberDNs {
		n += len(d)
	}
	for _, vs := range rec.Attributes {
		for _, v := range vs {
			n += len(v)
		}
	}
	var b strings.Builder
	b.Grow(n)
	type span struct {
		p          *string
		start, end int
	}
	spans := make([]span, 0, 3+len(rec.Aliases)+len(rec.MemberDNs)+2*len(rec.Attributes))
	keep := func(p *string) {
		start := b.Len()
		b.WriteString(*p)
		spans = append(spans, span{p, start, b.Len()})
	}
	keep(&rec.DN)
	keep(&rec.Email)
	keep(&rec.DisplayName)
	for i := range rec.Aliases {
		keep(&rec.Aliases[i])
	}
	for i := range rec.MemberDNs {
		keep(&rec.MemberDNs[i])
	}
	for _, vs := range rec.Attributes {
		for i := range vs {
			keep(&vs[i])
		}
	}
	all := b.String()
	for _, sp := range spans {
		*sp.p = all[sp.start:sp.end]
	}
	return strings.Clone(id)
}
