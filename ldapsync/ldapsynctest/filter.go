package ldapsynctest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// Attribute syntaxes that compare differently from case-insensitive text.
var (
	dnSyntax = map[string]bool{
		"distinguishedname": true, "member": true, "memberof": true, "objectcategory": true,
		"manager": true, "directreports": true, "lastknownparent": true, "dsservicename": true,
		"defaultnamingcontext": true, "servername": true,
	}
	intSyntax = map[string]bool{
		"usnchanged": true, "usncreated": true, "useraccountcontrol": true, "grouptype": true,
		"instancetype": true, "samaccounttype": true, "highestcommittedusn": true,
	}
	binarySyntax = map[string]bool{"objectguid": true, "invocationid": true, "objectsid": true}
	timeSyntax   = map[string]bool{"whenchanged": true, "whencreated": true, "modifytimestamp": true, "createtimestamp": true}
	// constructed attributes are computed on request: "*" does not return
	// them, naming them does.
	constructed = map[string]bool{"modifytimestamp": true, "createtimestamp": true}
)

// parseGeneralizedTime reads YYYYMMDDHHMMSS[.fraction]Z.
func parseGeneralizedTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, "Z") && !strings.HasSuffix(s, "z") {
		return time.Time{}, false
	}
	s = s[:len(s)-1]
	frac := ""
	if i := strings.IndexAny(s, ".,"); i >= 0 {
		s, frac = s[:i], s[i+1:]
	}
	t, err := time.Parse("20060102150405", s)
	if err != nil {
		return time.Time{}, false
	}
	if frac != "" {
		f, err := strconv.ParseFloat("0."+frac, 64)
		if err != nil {
			return time.Time{}, false
		}
		t = t.Add(time.Duration(f * float64(time.Second)))
	}
	return t, true
}

// categoryShorthand maps the class names Active Directory accepts in
// (objectCategory=<class>) to the CN of the category they stand for.
var categoryShorthand = map[string]string{
	"person": "person", "user": "person", "contact": "person", "organizationalperson": "person",
	"inetorgperson": "person", "group": "group", "computer": "computer",
	"organizationalunit": "organizational-unit", "container": "container", "domaindns": "domain-dns",
	"ntdsdsa": "ntds-dsa",
}

// evaluator matches compiled filters against entries; the directory's read
// lock is held while it runs.
type evaluator struct {
	d        *Directory
	chainDn  map[string]map[GUID]bool // group DN -> transitive members
	chainUp  map[string]map[GUID]bool // member DN -> transitive groups
	dnCache  map[string]string
	memberOf map[GUID][]*object
}

func newEvaluator(d *Directory) *evaluator {
	return &evaluator{d: d, chainDn: map[string]map[GUID]bool{}, chainUp: map[string]map[GUID]bool{}, dnCache: map[string]string{}}
}

func (ev *evaluator) norm(dn string) string {
	if n, ok := ev.dnCache[dn]; ok {
		return n
	}
	n, err := normDN(dn)
	if err != nil {
		n = "\x00invalid:" + strings.ToLower(dn)
	}
	ev.dnCache[dn] = n
	return n
}

// candidate is what a filter is evaluated against: a rendered entry or a
// stored object.
type candidate interface {
	get(name string) []string
	object() *object
}

func (ev *evaluator) match(f *ber.Packet, e candidate) (bool, error) {
	switch f.Tag {
	case ldap.FilterAnd:
		for _, c := range f.Children {
			ok, err := ev.match(c, e)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case ldap.FilterOr:
		for _, c := range f.Children {
			ok, err := ev.match(c, e)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case ldap.FilterNot:
		if len(f.Children) != 1 {
			return false, fmt.Errorf("malformed NOT filter")
		}
		ok, err := ev.match(f.Children[0], e)
		return !ok, err
	case ldap.FilterPresent:
		name := strings.ToLower(f.Data.String())
		if name == "objectclass" {
			return true, nil
		}
		return len(e.get(name)) > 0, nil
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(f.Children) != 2 {
			return false, fmt.Errorf("malformed comparison filter")
		}
		name := strings.ToLower(f.Children[0].Data.String())
		want := f.Children[1].Data.String()
		for _, v := range e.get(name) {
			var ok bool
			switch f.Tag {
			case ldap.FilterGreaterOrEqual:
				ok = ev.compare(name, v, want) >= 0
			case ldap.FilterLessOrEqual:
				ok = ev.compare(name, v, want) <= 0
			default:
				ok = ev.equal(name, v, want)
			}
			if ok {
				return true, nil
			}
		}
		return false, nil
	case ldap.FilterSubstrings:
		if len(f.Children) != 2 {
			return false, fmt.Errorf("malformed substring filter")
		}
		name := strings.ToLower(f.Children[0].Data.String())
		for _, v := range e.get(name) {
			if substringMatch(name, v, f.Children[1].Children) {
				return true, nil
			}
		}
		return false, nil
	case ldap.FilterExtensibleMatch:
		return ev.extensible(f, e)
	}
	return false, fmt.Errorf("unsupported filter type %d", f.Tag)
}

func (ev *evaluator) equal(name, have, want string) bool {
	switch {
	case binarySyntax[name]:
		return have == want
	case timeSyntax[name]:
		return ev.compare(name, have, want) == 0
	case intSyntax[name]:
		a, err1 := strconv.ParseInt(have, 10, 64)
		b, err2 := strconv.ParseInt(strings.TrimSpace(want), 10, 64)
		return err1 == nil && err2 == nil && a == b
	case name == "objectcategory" && !strings.Contains(want, "="):
		cn := strings.ToLower(want)
		if short, ok := categoryShorthand[cn]; ok {
			cn = short
		}
		_, v, _, err := splitDN(have)
		return err == nil && strings.EqualFold(v, cn)
	case dnSyntax[name]:
		return ev.norm(have) == ev.norm(want)
	}
	return strings.EqualFold(have, want)
}

func (ev *evaluator) compare(name, have, want string) int {
	if timeSyntax[name] {
		a, ok1 := parseGeneralizedTime(have)
		b, ok2 := parseGeneralizedTime(want)
		if ok1 && ok2 {
			return a.Compare(b)
		}
	}
	if intSyntax[name] {
		a, err1 := strconv.ParseInt(have, 10, 64)
		b, err2 := strconv.ParseInt(strings.TrimSpace(want), 10, 64)
		if err1 == nil && err2 == nil {
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		}
	}
	if binarySyntax[name] {
		return bytes.Compare([]byte(have), []byte(want))
	}
	return strings.Compare(strings.ToLower(have), strings.ToLower(want))
}

func substringMatch(name, v string, parts []*ber.Packet) bool {
	if !binarySyntax[name] {
		v = strings.ToLower(v)
	}
	pos := 0
	for i, p := range parts {
		s := p.Data.String()
		if !binarySyntax[name] {
			s = strings.ToLower(s)
		}
		switch p.Tag {
		case ldap.FilterSubstringsInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			pos = len(s)
		case ldap.FilterSubstringsAny:
			j := strings.Index(v[pos:], s)
			if j < 0 {
				return false
			}
			pos += j + len(s)
		case ldap.FilterSubstringsFinal:
			if i != len(parts)-1 || len(v)-pos < len(s) || !strings.HasSuffix(v, s) {
				return false
			}
		}
	}
	return true
}

func (ev *evaluator) extensible(f *ber.Packet, e candidate) (bool, error) {
	var rule, name, value string
	for _, c := range f.Children {
		switch c.Tag {
		case ldap.MatchingRuleAssertionMatchingRule:
			rule = c.Data.String()
		case ldap.MatchingRuleAssertionType:
			name = strings.ToLower(c.Data.String())
		case ldap.MatchingRuleAssertionMatchValue:
			value = c.Data.String()
		}
	}
	switch rule {
	case "":
		for _, v := range e.get(name) {
			if ev.equal(name, v, value) {
				return true, nil
			}
		}
		return false, nil
	case OIDMatchingRuleBitAnd, OIDMatchingRuleBitOr:
		want, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return false, fmt.Errorf("matching rule %s needs an integer, got %q", rule, value)
		}
		for _, v := range e.get(name) {
			have, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			// Active Directory compares the 32-bit two's complement
			// values (groupType is negative).
			h, w := uint32(have), uint32(want)
			if (rule == OIDMatchingRuleBitAnd && h&w == w) || (rule == OIDMatchingRuleBitOr && h&w != 0) {
				return true, nil
			}
		}
		return false, nil
	case OIDMatchingRuleInChain:
		o := e.object()
		if o == nil {
			return false, nil
		}
		switch name {
		case "memberof":
			return ev.transitiveMembers(value)[o.guid], nil
		case "member":
			return ev.transitiveGroups(value)[o.guid], nil
		}
		for _, v := range e.get(name) {
			if ev.equal(name, v, value) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("matching rule %s is not supported", rule)
}

// transitiveMembers returns every object reachable from group dn through
// member links.
func (ev *evaluator) transitiveMembers(dn string) map[GUID]bool {
	key := ev.norm(dn)
	if s, ok := ev.chainDn[key]; ok {
		return s
	}
	set := map[GUID]bool{}
	if g := ev.d.byDN[key]; g != nil && !g.deleted {
		queue := []*object{g}
		seen := map[GUID]bool{g.guid: true}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, m := range cur.members {
				set[m] = true
				if !seen[m] {
					seen[m] = true
					if o := ev.d.objs[m]; o != nil && o.kind == kindGroup && !o.deleted {
						queue = append(queue, o)
					}
				}
			}
		}
	}
	ev.chainDn[key] = set
	return set
}

// transitiveGroups returns every group that holds dn directly or through
// nested groups.
func (ev *evaluator) transitiveGroups(dn string) map[GUID]bool {
	key := ev.norm(dn)
	if s, ok := ev.chainUp[key]; ok {
		return s
	}
	if ev.memberOf == nil {
		ev.memberOf = ev.d.memberOfIndex()
	}
	set := map[GUID]bool{}
	if o := ev.d.byDN[key]; o != nil && !o.deleted {
		queue := []GUID{o.guid}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, g := range ev.memberOf[cur] {
				if !set[g.guid] {
					set[g.guid] = true
					queue = append(queue, g.guid)
				}
			}
		}
	}
	ev.chainUp[key] = set
	return set
}

// objectView reads a stored object's attributes, computed ones included,
// without rendering the whole entry.
type objectView struct {
	d        *Directory
	o        *object
	memberOf map[GUID][]*object
}

func (v objectView) object() *object { return v.o }

func (v objectView) get(name string) []string {
	o := v.o
	switch strings.ToLower(name) {
	case "distinguishedname":
		return []string{o.dn}
	case "objectguid":
		return []string{string(o.guid[:])}
	case "usncreated":
		return []string{strconv.FormatInt(o.usnCreated, 10)}
	case "usnchanged":
		return []string{strconv.FormatInt(o.usnChanged, 10)}
	case "whencreated", "createtimestamp":
		return []string{generalizedTime(o.created)}
	case "whenchanged", "modifytimestamp":
		return []string{generalizedTime(o.changed)}
	case "member":
		return v.d.memberDNList(o)
	case "memberof":
		gs := v.memberOf[o.guid]
		out := make([]string, len(gs))
		for i, g := range gs {
			out[i] = g.dn
		}
		return out
	}
	return o.get(name)
}
