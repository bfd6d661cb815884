package ldapsync

import (
	"fmt"
	"strings"
)

// policies holds the settings that decide, record by record, what a run
// wants in the target. The full plan (compute) and the incremental one
// (computeIncremental) both go through it.
type policies struct {
	domains  map[string]bool
	contacts bool
	ack      bool
}

func newPolicies(cfg Config) *policies {
	p := &policies{domains: map[string]bool{}, contacts: cfg.IncludeContacts, ack: cfg.AcknowledgeDisabledAccounts}
	for _, d := range cfg.FilterEmailDomains {
		p.domains[strings.ToLower(strings.TrimSpace(d))] = true
	}
	return p
}

func (p *policies) allowed(a string) bool { return len(p.domains) == 0 || p.domains[addressDomain(a)] }

// What the policies make of a record.
const (
	wantNothing = iota // a contact while contacts are not synchronised
	wantUser           // a user or contact
	wantGroup
	wantSkip // reported as skipped
)

// classify says what the policies make of rec.
func (p *policies) classify(rec *Record) int {
	switch rec.Kind {
	case KindUser, KindContact:
		if rec.Kind == KindContact && !p.contacts {
			return wantNothing
		}
		if rec.Email == "" || !p.allowed(rec.Email) {
			return wantSkip
		}
		return wantUser
	case KindGroup:
		return wantGroup
	}
	return wantNothing
}

// skipReason explains why classify skips rec.
func (p *policies) skipReason(rec *Record) string {
	if rec.Email == "" {
		reason := "no usable email address (proxyAddresses SMTP: or mail)"
		if len(rec.Problems) > 0 {
			reason += ": " + strings.Join(rec.Problems, "; ")
		}
		return reason
	}
	return fmt.Sprintf("primary address domain %s is not in FilterEmailDomains", addressDomain(rec.Email))
}

// user is the user or contact the policies make of rec (classified
// wantUser).
func (p *policies) user(id string, rec *Record) User {
	u := User{ID: id, DN: rec.DN, Email: rec.Email, DisplayName: rec.DisplayName,
		Contact: rec.Kind == KindContact, Attributes: rec.Attributes, attrs: rec.attrs}
	for _, a := range rec.Aliases {
		if p.allowed(a) {
			u.Aliases = append(u.Aliases, a)
		}
	}
	if rec.Kind == KindUser && p.ack {
		u.Disabled = rec.Disabled
	}
	return u
}

// group is the group the policies make of rec (classified wantGroup),
// without members.
func (p *policies) group(id string, rec *Record) *Group {
	g := &Group{ID: id, DN: rec.DN, Name: rec.DisplayName}
	if rec.Email != "" && p.allowed(rec.Email) {
		g.Email = rec.Email
	}
	return g
}

// claims calls f with every address the object of rec claims in the
// target (a user's primary address and allowed aliases, a group's allowed
// address), in the order the full plan claims them.
func (p *policies) claims(rec *Record, f func(a string)) {
	if rec == nil {
		return
	}
	switch p.classify(rec) {
	case wantUser:
		p.userClaims(rec, f)
	case wantGroup:
		if rec.Email != "" && p.allowed(rec.Email) {
			f(rec.Email)
		}
	}
}

// userClaims calls f with the addresses the user made of rec (classified
// wantUser) claims: its primary address and its allowed aliases.
func (p *policies) userClaims(rec *Record, f func(a string)) {
	f(rec.Email)
	for _, a := range rec.Aliases {
		if p.allowed(a) {
			f(a)
		}
	}
}
