package ldapsync_test

// Integration tests against a real Active Directory: a Samba AD DC started by
// scripts/samba-ad.sh. The base data (OU=Gatehouse: staff, mail-less users,
// contacts, groups; OU=Large: 3,000 users in one group) is read-only here;
// tests that change the directory work in an OU of their own.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

func TestSambaFullSync(t *testing.T) {
	e := samba(t)
	rig := newRig(t, e.config(e.RootDN))
	rig.cfg.AcknowledgeDisabledAccounts = true
	rep := rig.run()

	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.Equal(t, e.Host, rep.Host)
	linked := rig.linked()
	var users, contacts, disabled int
	for _, u := range linked {
		if u.Contact {
			contacts++
		} else {
			users++
		}
		if u.Disabled {
			disabled++
		}
	}
	assert.Equal(t, e.Staff, users, "users with mail")
	assert.Equal(t, e.Contacts, contacts)
	assert.Equal(t, e.StaffDisabled, disabled)

	mail := usersByEmail(linked)
	u010 := mail["staff010@corp.example.test"]
	require.NotEmpty(t, u010.ID, "staff010 synchronised")
	assert.Equal(t, []string{"alias-staff010@corp.example.test"}, u010.Aliases, "smtp: aliases kept, X500 dropped")
	assert.Equal(t, "Staff 010", u010.DisplayName)
	assert.Contains(t, u010.DN, "CN=staff010,OU=Staff,")
	assert.Len(t, u010.ID, 36)
	assert.Equal(t, []string{"staff010"}, u010.Attributes["sAMAccountName"])
	assert.True(t, mail["staff250@corp.example.test"].Disabled)
	assert.False(t, mail["staff001@corp.example.test"].Disabled)
	assert.True(t, mail["contact07@external.example.test"].Contact)
	assert.Contains(t, mail, "staff005@partner.example.test")

	// Mail-less users are reported, not synchronised.
	var noMail int
	for _, s := range rep.Skipped {
		if strings.Contains(s.DN, "OU=NoMail,") {
			noMail++
			assert.Contains(t, s.Reason, "no usable email address")
		}
	}
	assert.Equal(t, e.NoMail, noMail)

	groups := rig.target.Groups()
	byName := map[string]ldapsync.Group{}
	for _, g := range groups {
		byName[g.Name] = g
	}
	assert.Len(t, groups, e.Groups+1, "group01..group%02d and managers", e.Groups)
	g01 := byName["group01"]
	assert.Equal(t, "group01@corp.example.test", g01.Email)
	require.Len(t, g01.Members, 25)
	assert.Contains(t, g01.Members, mail["staff001@corp.example.test"].ID)
	assert.Contains(t, g01.Members, mail["staff025@corp.example.test"].ID)
	assert.NotContains(t, g01.Members, mail["staff026@corp.example.test"].ID)
	assert.Contains(t, byName["managers"].Members, mail["staff101@corp.example.test"].ID)
	assert.Contains(t, mail["staff001@corp.example.test"].Groups, g01.ID)
	assert.Len(t, rep.Added, e.Staff+e.Contacts+e.Groups+1)

	// Nothing changed: the next run is incremental and writes nothing.
	writes := rig.target.Writes()
	rep = rig.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Empty(t, rep.Added)
	assert.Empty(t, rep.Updated)
	assert.Empty(t, rep.Unlinked)
	assert.Equal(t, writes, rig.target.Writes())
}

func TestSambaContactsOff(t *testing.T) {
	e := samba(t)
	cfg := e.config(e.RootDN)
	cfg.IncludeContacts = false
	rig := newRig(t, cfg)
	rig.run()
	for _, u := range rig.linked() {
		require.False(t, u.Contact, "contact %s synchronised with IncludeContacts off", u.DN)
	}
	assert.Len(t, rig.linked(), e.Staff)
}

func TestSambaDisabledAccountsPolicy(t *testing.T) {
	e := samba(t)
	staffOU := "OU=Staff," + e.RootDN
	for _, ack := range []bool{true, false} {
		t.Run(fmt.Sprintf("acknowledge=%v", ack), func(t *testing.T) {
			cfg := e.config(staffOU)
			cfg.AcknowledgeDisabledAccounts = ack
			rig := newRig(t, cfg)
			rig.run()
			linked := rig.linked()
			require.Len(t, linked, e.Staff, "disabled users are synchronised either way")
			var disabled []string
			for _, u := range linked {
				if u.Disabled {
					disabled = append(disabled, u.Email)
				}
			}
			if ack {
				assert.Len(t, disabled, e.StaffDisabled)
				assert.Contains(t, disabled, fmt.Sprintf("staff%03d@corp.example.test", e.Staff))
			} else {
				assert.Empty(t, disabled, "the disabled bit is ignored when not acknowledged")
			}
		})
	}
}

func TestSambaEmailDomainFilter(t *testing.T) {
	e := samba(t)
	partner := e.Staff / 25 // staff005, staff030, ... live in partner.example.test
	for _, tc := range []struct {
		domains []string
		want    int
	}{
		{[]string{"partner.example.test"}, partner},
		{[]string{"corp.example.test"}, e.Staff - partner},
		{[]string{"corp.example.test", "partner.example.test"}, e.Staff},
		{[]string{"elsewhere.example.test"}, 0},
	} {
		t.Run(strings.Join(tc.domains, ","), func(t *testing.T) {
			cfg := e.config("OU=Staff," + e.RootDN)
			cfg.FilterEmailDomains = tc.domains
			rig := newRig(t, cfg)
			rep := rig.run()
			linked := rig.linked()
			assert.Len(t, linked, tc.want)
			for _, u := range linked {
				assert.Contains(t, tc.domains, u.Email[strings.LastIndex(u.Email, "@")+1:])
				for _, a := range u.Aliases {
					assert.Contains(t, tc.domains, a[strings.LastIndex(a, "@")+1:], "alias %s", a)
				}
			}
			var filtered int
			for _, s := range rep.Skipped {
				if strings.Contains(s.Reason, "FilterEmailDomains") {
					filtered++
				}
			}
			assert.Equal(t, e.Staff-tc.want, filtered)
		})
	}
}

// TestSambaIncremental changes a directory one step at a time and checks
// that each incremental run reports exactly that change.
func TestSambaIncremental(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	root := scratchOU(t, c, e.ScratchDN, "inc")
	outside := scratchOU(t, c, e.ScratchDN, "outside")
	const dom = "@corp.example.test"
	sfx := itSuffix()
	addr := func(n string) string { return n + "-" + sfx + dom }

	_, alice := addADUser(t, c, root, adUser{CN: "alice", Mail: addr("alice")})
	bobDN, bob := addADUser(t, c, root, adUser{CN: "bob", Mail: addr("bob")})
	carolDN, carol := addADUser(t, c, root, adUser{CN: "carol", Mail: addr("carol")})
	daveDN, dave := addADUser(t, c, root, adUser{CN: "dave", Mail: addr("dave"), Disabled: true})
	erinDN, erin := addADUser(t, c, root, adUser{CN: "erin", Mail: addr("erin")})
	groupDN, group := addADGroup(t, c, root, "team", addr("team"), bobDN, carolDN)

	cfg := e.config(root)
	cfg.AcknowledgeDisabledAccounts = true
	cfg.MaxSyncDeletions = 5
	rig := newRig(t, cfg)
	rep := rig.run()
	require.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.ElementsMatch(t, []string{alice, bob, carol, dave, erin, group}, rep.Added)
	require.True(t, rig.linked()[dave].Disabled)
	require.Equal(t, "dirsync", rig.source(), "Administrator may use DirSync")

	step := func(name string) *ldapsync.Report {
		t.Helper()
		rep := rig.run()
		require.Equal(t, ldapsync.SyncIncremental, rep.Mode, "%s: incremental run", name)
		return rep
	}

	// add
	_, frank := addADUser(t, c, root, adUser{CN: "frank", Mail: addr("frank")})
	rep = step("add")
	assert.Equal(t, []string{frank}, rep.Added)
	assert.Empty(t, rep.Updated)
	assert.Contains(t, rig.linked(), frank)

	// modify: new primary address and an alias
	adModify(t, c, bobDN, "proxyAddresses", "SMTP:"+addr("robert"), "smtp:"+addr("bob"))
	rep = step("modify")
	assert.Equal(t, []string{bob}, rep.Updated)
	assert.Empty(t, rep.Added)
	assert.Equal(t, addr("robert"), rig.linked()[bob].Email)
	assert.Equal(t, []string{addr("bob")}, rig.linked()[bob].Aliases)

	// rename: same object, new DN
	require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(carolDN, "CN=caroline", true, "")))
	carolDN = "CN=caroline," + root
	rep = step("rename")
	assert.Equal(t, []string{carol}, rep.Updated)
	assert.Empty(t, rep.Added)
	assert.Empty(t, rep.Unlinked)
	assert.Equal(t, carolDN, rig.linked()[carol].DN)
	assert.Contains(t, rig.target.Groups()[group].Members, carol, "membership follows the rename")

	// group membership change
	adModify(t, c, groupDN, "member", bobDN, carolDN, erinDN)
	rep = step("group member added")
	assert.Equal(t, []string{group}, rep.Updated)
	assert.ElementsMatch(t, []string{bob, carol, erin}, rig.target.Groups()[group].Members)

	// disable and enable
	adModify(t, c, erinDN, "userAccountControl", "546")
	rep = step("disable")
	assert.Equal(t, []string{erin}, rep.Disabled)
	assert.True(t, rig.linked()[erin].Disabled)
	adModify(t, c, daveDN, "userAccountControl", "544")
	rep = step("enable")
	assert.Equal(t, []string{dave}, rep.Enabled)
	assert.False(t, rig.linked()[dave].Disabled)

	// move out of RootDN: removed (unlinked) like a deletion
	require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(erinDN, "CN=erin", true, outside)))
	rep = step("move out")
	assert.Equal(t, []string{erin}, rep.Unlinked)
	assert.NotContains(t, rig.linked(), erin)
	assert.Contains(t, rig.target.Unlinked(), erin)
	assert.NotContains(t, rig.target.Groups()[group].Members, erin)

	// delete
	require.NoError(t, c.Del(ldap.NewDelRequest(bobDN, nil)))
	rep = step("delete")
	assert.Equal(t, []string{bob}, rep.Unlinked)
	assert.NotContains(t, rig.linked(), bob)
	assert.Equal(t, []string{carol}, rig.target.Groups()[group].Members)

	// delete the group
	require.NoError(t, c.Del(ldap.NewDelRequest(groupDN, nil)))
	rep = step("delete group")
	assert.Equal(t, []string{group}, rep.Deleted)
	assert.NotContains(t, rig.target.Groups(), group)

	// nothing more
	rep = step("idle")
	assert.Empty(t, rep.Added)
	assert.Empty(t, rep.Updated)
	assert.Empty(t, rep.Unlinked)
	assert.Empty(t, rep.Deleted)
	assert.ElementsMatch(t, []string{alice, carol, dave, frank}, keys(rig.linked()))
	assert.Equal(t, "dirsync", rig.source())
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSambaReadOnlyUser syncs with a plain domain user that has no
// replication rights: DirSync is refused, so uSNChanged polling serves the
// incremental runs.
func TestSambaReadOnlyUser(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	root := scratchOU(t, c, e.ScratchDN, "reader")
	_, a := addADUser(t, c, root, adUser{CN: "a", Mail: "a-" + itSuffix() + "@corp.example.test"})
	cfg := e.config(root)
	cfg.BindDN, cfg.BindPassword = e.ReaderDN, ldapsync.Secret(e.ReaderPassword)
	rig := newRig(t, cfg)
	rep := rig.run()
	assert.Equal(t, []string{a}, rep.Added)
	assert.Equal(t, "usn", rig.source(), "DirSync needs replication rights")

	bDN, b := addADUser(t, c, root, adUser{CN: "b", Mail: "b-" + itSuffix() + "@corp.example.test"})
	rep = rig.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{b}, rep.Added)

	require.NoError(t, c.Del(ldap.NewDelRequest(bDN, nil)))
	rep = rig.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{b}, rep.Unlinked)
	assert.ElementsMatch(t, []string{a}, keys(rig.linked()))
	assert.Equal(t, "usn", rig.source())

	// The same integration bound as Administrator switches to DirSync:
	// one full read, then incremental again.
	rig.cfg.BindDN, rig.cfg.BindPassword = e.BindDN, ldapsync.Secret(e.Password)
	rep = rig.run()
	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.True(t, anyContains(rep.Warnings, "another change source"), "%q", rep.Warnings)
	assert.Empty(t, rep.Added, "nothing new for the target")
	assert.Empty(t, rep.Unlinked)
	assert.Equal(t, "dirsync", rig.source())
	_, c2 := addADUser(t, c, root, adUser{CN: "c", Mail: "c-" + itSuffix() + "@corp.example.test"})
	rep = rig.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{c2}, rep.Added)
}

func TestSambaDeletionLimit(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	root := scratchOU(t, c, e.ScratchDN, "limit")
	var dns, ids []string
	for i := range 6 {
		dn, id := addADUser(t, c, root, adUser{CN: fmt.Sprintf("u%d", i), Mail: fmt.Sprintf("u%d-%s@corp.example.test", i, itSuffix())})
		dns, ids = append(dns, dn), append(ids, id)
	}
	cfg := e.config(root)
	cfg.MaxSyncDeletions = 2
	rig := newRig(t, cfg)
	rig.run()
	require.Len(t, rig.linked(), 6)

	for _, dn := range dns[:3] {
		require.NoError(t, c.Del(ldap.NewDelRequest(dn, nil)))
	}
	_, newID := addADUser(t, c, root, adUser{CN: "late", Mail: "late-" + itSuffix() + "@corp.example.test"})
	rep, err := rig.tryRun()
	require.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
	var dle *ldapsync.DeletionLimitError
	require.ErrorAs(t, err, &dle)
	assert.Equal(t, 3, dle.Planned)
	assert.Equal(t, 2, dle.Limit)
	require.NotNil(t, rep)
	assert.ElementsMatch(t, ids[:3], rep.Withheld)
	assert.Empty(t, rep.Unlinked)
	assert.Equal(t, []string{newID}, rep.Added, "everything but the removals is applied")
	assert.Len(t, rig.linked(), 7, "nothing removed")

	// Within the limit the withheld removals go through.
	rig.cfg.MaxSyncDeletions = 3
	rep = rig.run()
	assert.ElementsMatch(t, ids[:3], rep.Unlinked)
	assert.Len(t, rig.linked(), 4)
}

func TestSambaUnlinkVersusDelete(t *testing.T) {
	e := samba(t)
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprintf("DeleteUsers=%v", del), func(t *testing.T) {
			c := e.admin(t)
			root := scratchOU(t, c, e.ScratchDN, "removal")
			dn, id := addADUser(t, c, root, adUser{CN: "gone", Mail: "gone-" + itSuffix() + "@corp.example.test"})
			cdn, cid := addADUser(t, c, root, adUser{CN: "gone contact", Mail: "gc-" + itSuffix() + "@external.example.test", Contact: true})
			cfg := e.config(root)
			cfg.DeleteUsers = del
			rig := newRig(t, cfg)
			rig.run()
			require.Len(t, rig.linked(), 2)
			require.NoError(t, c.Del(ldap.NewDelRequest(dn, nil)))
			require.NoError(t, c.Del(ldap.NewDelRequest(cdn, nil)))
			rep := rig.run()
			assert.Empty(t, rig.linked())
			if del {
				assert.ElementsMatch(t, []string{id, cid}, rep.Deleted)
				assert.Empty(t, rep.Unlinked)
				assert.Empty(t, rig.target.Unlinked())
			} else {
				assert.ElementsMatch(t, []string{id, cid}, rep.Unlinked)
				assert.Empty(t, rep.Deleted)
				assert.Contains(t, rig.target.Unlinked(), id, "the address stays, unlinked")
			}
		})
	}
}

// TestSambaLargeGroup reads a group of 3,000 members (more than Active
// Directory's 1,500-value range) and 3,000 users over several pages.
func TestSambaLargeGroup(t *testing.T) {
	e := samba(t)
	cfg := e.config(e.LargeRootDN)
	cfg.PageSize = 700
	rig := newRig(t, cfg)
	rep := rig.run()
	linked := rig.linked()
	require.Len(t, linked, e.Large)
	var large ldapsync.Group
	for _, g := range rig.target.Groups() {
		if g.Name == "Large Group" {
			large = g
		}
	}
	require.Len(t, large.Members, e.Large, "every member, none lost at a range boundary")
	assert.ElementsMatch(t, keys(linked), large.Members)
	assert.Len(t, rep.Added, e.Large+1)

	// The server really splits the attribute when asked for a range.
	c := e.admin(t)
	res, err := c.Search(ldap.NewSearchRequest("CN=Large Group,"+e.LargeRootDN, ldap.ScopeBaseObject,
		ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", []string{"member;range=0-1499"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	require.Len(t, res.Entries[0].Attributes, 1)
	assert.Equal(t, "member;range=0-1499", res.Entries[0].Attributes[0].Name)
	assert.Len(t, res.Entries[0].Attributes[0].Values, 1500)
}

// sambaTLSCase is one transport/trust combination.
type sambaTLSCase struct {
	name       string
	host       string
	port       int
	enc        ldapsync.Encryption
	mode       ldapsync.TrustMode
	roots      bool   // trust the test CA
	wantErr    error  // nil: the run succeeds
	errContain string // part of the certificate error
}

func TestSambaTransportAndTrust(t *testing.T) {
	e := samba(t)
	const (
		none     = ldapsync.EncryptionNone
		ldaps    = ldapsync.EncryptionLDAPS
		starttls = ldapsync.EncryptionStartTLS
		strict   = ldapsync.ModeStrict
		relaxed  = ldapsync.ModeRelaxed
	)
	cases := []sambaTLSCase{
		{name: "plain 389", host: e.Host, port: e.Port, enc: none},
		{name: "StartTLS 389 strict trusted CA", host: e.Host, port: e.Port, enc: starttls, mode: strict, roots: true},
		{name: "LDAPS 636 strict trusted CA", host: e.Host, port: e.LDAPSPort, enc: ldaps, mode: strict, roots: true},
		{name: "LDAPS 636 strict by host name", host: "localhost", port: e.LDAPSPort, enc: ldaps, mode: strict, roots: true},
		{name: "LDAPS 636 strict system roots", host: e.Host, port: e.LDAPSPort, enc: ldaps, mode: strict,
			wantErr: ldapsync.ErrCertificate, errContain: "unknown authority"},
		{name: "LDAPS 636 relaxed untrusted CA", host: e.Host, port: e.LDAPSPort, enc: ldaps, mode: relaxed},
		{name: "self-signed strict", host: e.SelfSignedHost, port: e.LDAPSPort, enc: ldaps, mode: strict, roots: true,
			wantErr: ldapsync.ErrCertificate, errContain: "unknown authority"},
		{name: "self-signed StartTLS strict", host: e.SelfSignedHost, port: e.Port, enc: starttls, mode: strict, roots: true,
			wantErr: ldapsync.ErrCertificate, errContain: "unknown authority"},
		{name: "self-signed relaxed", host: e.SelfSignedHost, port: e.LDAPSPort, enc: ldaps, mode: relaxed},
		{name: "self-signed StartTLS relaxed", host: e.SelfSignedHost, port: e.Port, enc: starttls, mode: relaxed},
		{name: "1024-bit key strict", host: e.WeakKeyHost, port: e.LDAPSPort, enc: ldaps, mode: strict, roots: true,
			wantErr: ldapsync.ErrCertificate, errContain: "1024"},
		{name: "1024-bit key relaxed", host: e.WeakKeyHost, port: e.LDAPSPort, enc: ldaps, mode: relaxed},
		{name: "incomplete chain strict", host: e.ChainHost, port: e.LDAPSPort, enc: ldaps, mode: strict, roots: true,
			wantErr: ldapsync.ErrCertificate, errContain: "unknown authority"},
		{name: "incomplete chain relaxed", host: e.ChainHost, port: e.LDAPSPort, enc: ldaps, mode: relaxed},
		{name: "Global Catalog 3268", host: e.Host, port: e.GCPort, enc: none},
		{name: "Global Catalog 3269 LDAPS strict", host: e.Host, port: e.GCLDAPSPort, enc: ldaps, mode: strict, roots: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The TLS variants are copies of the domain taken before the
			// test data was loaded: read CN=Users there.
			rootDN := "OU=Groups," + e.RootDN
			if tc.host != e.Host && tc.host != "localhost" {
				rootDN = "CN=Users," + e.BaseDN
			}
			cfg := e.config(rootDN)
			cfg.Host, cfg.Port, cfg.Encryption, cfg.Mode = tc.host, tc.port, tc.enc, tc.mode
			if tc.roots {
				cfg.RootCAs = e.CAs
			}
			rig := newRig(t, cfg)
			rep, err := rig.tryRun()
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.ErrorContains(t, err, tc.errContain)
				var ce *ldapsync.ConnectError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, ldapsync.StepCertificate, ce.Step)
				assert.Equal(t, tc.host, ce.Host)
				assert.Nil(t, rep)
				assert.Zero(t, rig.target.Writes(), "nothing written after a refused certificate")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.host, rep.Host)
			assert.NotEmpty(t, rep.Added, "the run read the directory")

			// TestConnection agrees, and describes the certificate.
			tr := ldapsync.TestConnection(context.Background(), cfg)
			require.True(t, tr.OK(), "%+v", tr.Steps)
			cert := tr.Step(ldapsync.StepCertificate)
			require.NotNil(t, cert)
			if tc.enc == none {
				assert.Equal(t, ldapsync.Skipped, cert.Status)
			} else {
				assert.Equal(t, ldapsync.Passed, cert.Status)
				assert.Contains(t, cert.Detail, "TLS")
			}
		})
	}
}

// TestSambaStrictTrustsConfiguredIntermediate: with the issuing
// intermediate in RootCAs, the chain the server sends (leaf only) verifies.
func TestSambaStrictTrustsConfiguredIntermediate(t *testing.T) {
	e := samba(t)
	cfg := e.config("CN=Users," + e.BaseDN)
	cfg.Host, cfg.Port, cfg.Encryption, cfg.Mode = e.ChainHost, e.LDAPSPort, ldapsync.EncryptionLDAPS, ldapsync.ModeStrict
	cfg.RootCAs = e.IntermediateCAs
	rig := newRig(t, cfg)
	rep, err := rig.tryRun()
	require.NoError(t, err)
	assert.Equal(t, e.ChainHost, rep.Host)
}

// TestSambaStrictChecksHostName: a trusted certificate for another name is
// refused in strict mode and accepted in relaxed mode.
func TestSambaStrictChecksHostName(t *testing.T) {
	e := samba(t)
	// The configured name is not in the certificate; the dialer still
	// reaches the real server.
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(e.Host, fmt.Sprint(e.LDAPSPort)))
	}
	cfg := e.config("OU=Groups," + e.RootDN)
	cfg.Host, cfg.Port, cfg.Encryption, cfg.RootCAs = "dc1.corp.example.test", e.LDAPSPort, ldapsync.EncryptionLDAPS, e.CAs
	s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore(), ldapsync.WithDialer(dial))
	require.NoError(t, err)
	_, err = s.Run(context.Background())
	require.ErrorIs(t, err, ldapsync.ErrCertificate)
	assert.ErrorContains(t, err, "dc1.corp.example.test")

	cfg.Mode = ldapsync.ModeRelaxed
	s, err = ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore(), ldapsync.WithDialer(dial))
	require.NoError(t, err)
	rep, err := s.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "dc1.corp.example.test", rep.Host)
}

func TestSambaGlobalCatalogWarnsAboutMembers(t *testing.T) {
	e := samba(t)
	cfg := e.config(e.RootDN)
	cfg.Port = e.GCPort
	rig := newRig(t, cfg)
	rep := rig.run()
	assert.Len(t, rig.linked(), e.Staff+e.Contacts, "the Global Catalog serves the users")
	found := false
	for _, w := range rep.Warnings {
		if strings.Contains(w, "Global Catalog") && strings.Contains(w, "member") {
			found = true
		}
	}
	assert.True(t, found, "warnings: %q", rep.Warnings)

	// The regular port does not warn.
	rig2 := newRig(t, e.config(e.RootDN))
	rep = rig2.run()
	for _, w := range rep.Warnings {
		assert.NotContains(t, w, "Global Catalog")
	}
}

func TestSambaAlternateHost(t *testing.T) {
	e := samba(t)
	rootDN := "OU=Groups," + e.RootDN

	t.Run("primary does not listen", func(t *testing.T) {
		cfg := e.config(rootDN)
		cfg.Host, cfg.AlternateHost = e.DeadHost, e.Host
		rig := newRig(t, cfg)
		rep := rig.run()
		assert.Equal(t, e.Host, rep.Host, "the report names the host that served the run")
		assert.NotEmpty(t, rep.Added)
		// The next run fails over again and continues incrementally.
		rep = rig.run()
		assert.Equal(t, e.Host, rep.Host)
		assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	})
	t.Run("primary fails TLS", func(t *testing.T) {
		cfg := e.config(rootDN)
		cfg.Host, cfg.AlternateHost = e.SelfSignedHost, e.Host
		cfg.Port, cfg.Encryption, cfg.RootCAs = e.LDAPSPort, ldapsync.EncryptionLDAPS, e.CAs
		rep := newRig(t, cfg).run()
		assert.Equal(t, e.Host, rep.Host)
	})
	t.Run("primary name does not resolve", func(t *testing.T) {
		cfg := e.config(rootDN)
		cfg.Host, cfg.AlternateHost = "gatehouse-missing.invalid", e.Host
		s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore(),
			ldapsync.WithResolver(deadResolver(t)))
		require.NoError(t, err)
		rep, err := s.Run(context.Background())
		require.NoError(t, err)
		assert.Equal(t, e.Host, rep.Host)
	})
	t.Run("wrong password does not fail over", func(t *testing.T) {
		cfg := e.config(rootDN)
		// The alternate would accept the right password, and this one too
		// if a failover happened with it: it must not be tried.
		cfg.AlternateHost = e.SelfSignedHost
		cfg.BindPassword = "wrong-password"
		rig := newRig(t, cfg)
		rep, err := rig.tryRun()
		require.ErrorIs(t, err, ldapsync.ErrAuthentication)
		assert.Nil(t, rep)
		var ce *ldapsync.ConnectError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, e.Host, ce.Host)
		assert.NotContains(t, err.Error(), e.SelfSignedHost, "the alternate host was not tried")
	})
	t.Run("both down", func(t *testing.T) {
		cfg := e.config(rootDN)
		cfg.Host, cfg.AlternateHost = e.DeadHost, "127.0.0.6"
		cfg.Timeout = 5 * time.Second
		rep, err := newRig(t, cfg).tryRun()
		require.ErrorIs(t, err, ldapsync.ErrConnect)
		assert.Nil(t, rep)
		assert.ErrorContains(t, err, e.DeadHost)
		assert.ErrorContains(t, err, "127.0.0.6")
	})
}

// deadResolver resolves nothing: its DNS server is a closed loopback port.
func deadResolver(t *testing.T) *net.Resolver {
	port := closedLoopbackPort(t)
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
	}}
}

func closedLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestSambaTestConnection(t *testing.T) {
	e := samba(t)
	ctx := context.Background()
	steps := func(r *ldapsync.TestReport, host string) map[string]ldapsync.StepStatus {
		m := map[string]ldapsync.StepStatus{}
		for _, s := range r.Steps {
			if s.Host == host {
				m[s.Name] = s.Status
			}
		}
		return m
	}

	t.Run("all steps pass over StartTLS", func(t *testing.T) {
		cfg := e.config(e.RootDN)
		cfg.Encryption, cfg.RootCAs = ldapsync.EncryptionStartTLS, e.CAs
		r := ldapsync.TestConnection(ctx, cfg, "staff001@corp.example.test", "ALIAS-staff010@corp.example.test")
		require.True(t, r.OK(), "%+v", r.Steps)
		assert.Equal(t, e.Host, r.Host)
		for _, name := range []string{ldapsync.StepHostname, ldapsync.StepConnectivity, ldapsync.StepCertificate,
			ldapsync.StepAuthentication, ldapsync.StepSampleAddress} {
			assert.Equal(t, ldapsync.Passed, steps(r, e.Host)[name], name)
		}
		var samples int
		for _, s := range r.Steps {
			if s.Name == ldapsync.StepSampleAddress {
				samples++
				assert.Contains(t, s.Detail, "found")
			}
		}
		assert.Equal(t, 2, samples)
	})
	t.Run("unknown host", func(t *testing.T) {
		cfg := e.config(e.RootDN)
		cfg.Host = "gatehouse-missing.invalid"
		r := ldapsync.TestConnectionWith(ctx, cfg, ldapsync.TestOptions{Resolver: deadResolver(t)})
		assert.False(t, r.OK())
		s := r.Step(ldapsync.StepHostname)
		require.NotNil(t, s)
		assert.Equal(t, ldapsync.Failed, s.Status)
		assert.NotEmpty(t, s.Hint)
		assert.Equal(t, ldapsync.Skipped, r.Step(ldapsync.StepAuthentication).Status)
	})
	t.Run("closed port", func(t *testing.T) {
		cfg := e.config(e.RootDN)
		cfg.Port = closedLoopbackPort(t)
		r := ldapsync.TestConnection(ctx, cfg)
		assert.False(t, r.OK())
		s := r.Step(ldapsync.StepConnectivity)
		assert.Equal(t, ldapsync.Failed, s.Status)
		assert.Contains(t, s.Hint, "port")
		assert.Equal(t, ldapsync.Skipped, r.Step(ldapsync.StepCertificate).Status)
		assert.Equal(t, ldapsync.Skipped, r.Step(ldapsync.StepSampleAddress).Status)
	})
	t.Run("untrusted certificate in strict mode", func(t *testing.T) {
		cfg := e.config("CN=Users," + e.BaseDN)
		cfg.Host, cfg.Port, cfg.Encryption, cfg.RootCAs = e.SelfSignedHost, e.LDAPSPort, ldapsync.EncryptionLDAPS, e.CAs
		r := ldapsync.TestConnection(ctx, cfg)
		assert.False(t, r.OK())
		s := r.Step(ldapsync.StepCertificate)
		assert.Equal(t, ldapsync.Failed, s.Status)
		assert.Contains(t, s.Detail, "certificate")
		assert.Contains(t, s.Hint, "ModeRelaxed")
		assert.Equal(t, ldapsync.Skipped, r.Step(ldapsync.StepAuthentication).Status)
		// Relaxed mode accepts it and reports the connection as encrypted.
		cfg.Mode = ldapsync.ModeRelaxed
		r = ldapsync.TestConnection(ctx, cfg)
		require.True(t, r.OK(), "%+v", r.Steps)
		assert.Contains(t, r.Step(ldapsync.StepCertificate).Detail, "encrypted")
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := e.config(e.RootDN)
		cfg.BindPassword = "not-the-password"
		cfg.AlternateHost = e.SelfSignedHost
		r := ldapsync.TestConnection(ctx, cfg, "staff001@corp.example.test")
		assert.False(t, r.OK())
		s := r.Step(ldapsync.StepAuthentication)
		assert.Equal(t, ldapsync.Failed, s.Status)
		assert.Equal(t, e.Host, s.Host)
		assert.Contains(t, s.Hint, "password")
		assert.Equal(t, ldapsync.Skipped, r.Step(ldapsync.StepSampleAddress).Status)
		assert.Empty(t, steps(r, e.SelfSignedHost), "no failover on an authentication failure")
	})
	t.Run("primary down, alternate answers", func(t *testing.T) {
		cfg := e.config(e.RootDN)
		cfg.Host, cfg.AlternateHost = e.DeadHost, e.Host
		cfg.Timeout = 5 * time.Second
		r := ldapsync.TestConnection(ctx, cfg, "staff002@corp.example.test")
		assert.True(t, r.OK(), "%+v", r.Steps)
		assert.Equal(t, e.Host, r.Host)
		assert.Equal(t, ldapsync.Failed, steps(r, e.DeadHost)[ldapsync.StepConnectivity])
		assert.Equal(t, ldapsync.Passed, steps(r, e.Host)[ldapsync.StepSampleAddress])
	})
	t.Run("sample address not found", func(t *testing.T) {
		r := ldapsync.TestConnection(ctx, e.config(e.RootDN), "nobody@corp.example.test")
		assert.False(t, r.OK())
		s := r.Step(ldapsync.StepSampleAddress)
		assert.Equal(t, ldapsync.Failed, s.Status)
		assert.Contains(t, s.Detail, "not found")
		assert.NotEmpty(t, s.Hint)
		// An address outside RootDN is not found either.
		cfg := e.config("OU=Contacts," + e.RootDN)
		r = ldapsync.TestConnection(ctx, cfg, "staff001@corp.example.test")
		assert.Equal(t, ldapsync.Failed, r.Step(ldapsync.StepSampleAddress).Status)
	})
	t.Run("sample address with filter metacharacters", func(t *testing.T) {
		c := e.admin(t)
		root := scratchOU(t, c, e.ScratchDN, "meta")
		sfx := itSuffix()
		star := "o*neil-" + sfx + "@corp.example.test"
		addADUser(t, c, root, adUser{CN: "star", Mail: star})
		addADUser(t, c, root, adUser{CN: "plain", Mail: "oxneil-" + sfx + "@corp.example.test"})
		cfg := e.config(root)
		// Escaped, "*" matches itself only: one object, not two.
		r := ldapsync.TestConnection(ctx, cfg, star)
		s := r.Step(ldapsync.StepSampleAddress)
		assert.Equal(t, ldapsync.Passed, s.Status, "%+v", s)
		assert.Contains(t, s.Detail, "CN=star,")
		// A wildcard address matches nothing instead of every object.
		r = ldapsync.TestConnection(ctx, cfg, "*@corp.example.test")
		assert.Equal(t, ldapsync.Failed, r.Step(ldapsync.StepSampleAddress).Status)
		// Injection attempts are refused or not found, never matched.
		for _, a := range []string{"x)(mail=*)@corp.example.test", `a\2a@corp.example.test`, "*)(|(mail=*"} {
			r = ldapsync.TestConnection(ctx, cfg, a)
			assert.Equal(t, ldapsync.Failed, r.Step(ldapsync.StepSampleAddress).Status, a)
		}
	})
	t.Run("runs before the configuration is valid", func(t *testing.T) {
		cfg := e.config(e.RootDN)
		cfg.BindDN = ""
		cfg.RootDN = ""
		r := ldapsync.TestConnection(ctx, cfg)
		assert.False(t, r.OK())
		assert.NotEmpty(t, r.Steps)
	})
}

// TestSambaDuplicateAddressAcrossObjects: two objects claiming one address
// are both reported and neither is synchronised.
func TestSambaDuplicateAddress(t *testing.T) {
	e := samba(t)
	c := e.admin(t)
	root := scratchOU(t, c, e.ScratchDN, "dup")
	shared := "shared-" + itSuffix() + "@corp.example.test"
	_, a := addADUser(t, c, root, adUser{CN: "a", Mail: shared})
	_, b := addADUser(t, c, root, adUser{CN: "b", Mail: "b-" + itSuffix() + "@corp.example.test", Proxy: []string{
		"SMTP:b2-" + itSuffix() + "@corp.example.test", "smtp:" + shared}})
	rig := newRig(t, e.config(root))
	rep := rig.run()
	assert.Empty(t, rig.linked())
	skipped := map[string]string{}
	for _, s := range rep.Skipped {
		skipped[s.ID] = s.Reason
	}
	assert.Contains(t, skipped[a], shared)
	assert.Contains(t, skipped[b], shared)
	assert.True(t, anyContains(rep.Warnings, shared), "%q", rep.Warnings)
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestSambaCancelledRunWritesNothing: a context that ends during the read
// leaves the target and the state untouched.
func TestSambaCancelledRunWritesNothing(t *testing.T) {
	e := samba(t)
	rig := newRig(t, e.config(e.LargeRootDN))
	s, err := ldapsync.NewSyncer(rig.cfg, rig.target, rig.store)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.Run(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ldapsync.ErrConnect), "%v", err)
	assert.Zero(t, rig.target.Writes())
	st, err := rig.store.Load(context.Background())
	require.NoError(t, err)
	assert.Empty(t, st.Objects)
}

// BenchmarkSambaFullSync reads OU=Large (3,000 users and a group of 3,000
// members) into an empty target.
func BenchmarkSambaFullSync(b *testing.B) {
	e := samba(b)
	cfg := e.config(e.LargeRootDN)
	b.ReportAllocs()
	for b.Loop() {
		s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
		require.NoError(b, err)
		rep, err := s.Run(context.Background())
		require.NoError(b, err)
		require.Len(b, rep.Added, e.Large+1)
	}
	b.ReportMetric(float64(e.Large)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkSambaIncremental runs incremental syncs of OU=Large after one
// user changed, with DirSync (Administrator) and with uSNChanged polling
// (a plain reader), and with nothing changed.
func BenchmarkSambaIncremental(b *testing.B) {
	e := samba(b)
	c := e.admin(b)
	dn := "CN=large0001," + e.LargeRootDN
	for _, tc := range []struct {
		name       string
		bind, pass string
		change     bool
	}{
		{"dirsync/one-change", e.BindDN, e.Password, true},
		{"usn/one-change", e.ReaderDN, e.ReaderPassword, true},
		{"dirsync/idle", e.BindDN, e.Password, false},
		{"usn/idle", e.ReaderDN, e.ReaderPassword, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := e.config(e.LargeRootDN)
			cfg.BindDN, cfg.BindPassword = tc.bind, ldapsync.Secret(tc.pass)
			s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
			require.NoError(b, err)
			_, err = s.Run(context.Background())
			require.NoError(b, err)
			i := 0
			for b.Loop() {
				if tc.change {
					b.StopTimer()
					i++
					req := ldap.NewModifyRequest(dn, nil)
					req.Replace("displayName", []string{fmt.Sprintf("Large %d", i)})
					require.NoError(b, c.Modify(req))
					b.StartTimer()
				}
				rep, err := s.Run(context.Background())
				require.NoError(b, err)
				require.Equal(b, ldapsync.SyncIncremental, rep.Mode)
				if tc.change {
					require.Len(b, rep.Updated, 1)
				}
			}
		})
	}
	b.Cleanup(func() {
		req := ldap.NewModifyRequest(dn, nil)
		req.Delete("displayName", nil)
		_ = c.Modify(req)
	})
}

// TestSambaWatermarkFromRestoredCopy: the TLS variants are copies of the
// domain controller's database taken before the test data was loaded, the
// way a restored backup is: same dsServiceName and invocationId, lower USNs.
// A watermark from the live DC must not be applied to such a copy: the run
// reads everything instead of trusting changes "since" a USN the copy never
// reached.
func TestSambaWatermarkFromRestoredCopy(t *testing.T) {
	e := samba(t)
	cfg := e.config("CN=Users," + e.BaseDN)
	rig := newRig(t, cfg)
	rep := rig.run()
	require.Equal(t, ldapsync.SyncFull, rep.Mode)
	require.NotEmpty(t, rep.Added, "the built-in groups")
	rep = rig.run()
	require.Equal(t, ldapsync.SyncIncremental, rep.Mode)

	rig.cfg.Host = e.SelfSignedHost // plain LDAP on the copy
	rep = rig.run()
	assert.Equal(t, ldapsync.SyncFull, rep.Mode)
	assert.Equal(t, e.SelfSignedHost, rep.Host)
	assert.True(t, anyContains(rep.Warnings, "went back"), "%q", rep.Warnings)
	assert.Empty(t, rep.Unlinked)
	assert.Empty(t, rep.Deleted)
	rep = rig.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode, "the copy's own watermark is used from now on")
}

// TestSambaOUMoves: renaming or moving an OU changes the DNs below it
// without changing those objects; both change sources notice.
func TestSambaOUMoves(t *testing.T) {
	e := samba(t)
	for _, tc := range []struct{ source, bind, pass string }{
		{"dirsync", e.BindDN, e.Password},
		{"usn", e.ReaderDN, e.ReaderPassword},
	} {
		t.Run(tc.source, func(t *testing.T) {
			c := e.admin(t)
			root := scratchOU(t, c, e.ScratchDN, "ou")
			outside := scratchOU(t, c, e.ScratchDN, "away")
			team := "OU=team," + root
			req := ldap.NewAddRequest(team, nil)
			req.Attribute("objectClass", []string{"organizationalUnit"})
			require.NoError(t, c.Add(req))
			_, u := addADUser(t, c, team, adUser{CN: "member", Mail: "member-" + itSuffix() + "@corp.example.test"})
			cfg := e.config(root)
			cfg.BindDN, cfg.BindPassword = tc.bind, ldapsync.Secret(tc.pass)
			rig := newRig(t, cfg)
			rig.run()
			require.Equal(t, tc.source, rig.source())
			require.Contains(t, rig.linked(), u)

			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(team, "OU=crew", true, "")))
			rep := rig.run()
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Equal(t, []string{u}, rep.Updated)
			assert.Equal(t, "CN=member,OU=crew,"+root, rig.linked()[u].DN)

			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest("OU=crew,"+root, "OU=crew", true, outside)))
			rep = rig.run()
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Equal(t, []string{u}, rep.Unlinked)
			assert.Empty(t, rig.linked())
			assert.Equal(t, tc.source, rig.source())
		})
	}
}

// TestSambaPlanWritesNothing: a dry run over the real directory lists the
// writes a run would make and leaves the target and the state alone.
func TestSambaPlanWritesNothing(t *testing.T) {
	e := samba(t)
	rig := newRig(t, e.config(e.RootDN))
	s, err := ldapsync.NewSyncer(rig.cfg, rig.target, rig.store)
	require.NoError(t, err)
	plan, err := s.Plan(context.Background())
	require.NoError(t, err)
	assert.Equal(t, ldapsync.SyncFull, plan.Mode)
	assert.Equal(t, e.Host, plan.Host)
	assert.Len(t, plan.Changes, e.Staff+e.Contacts+e.Groups+1)
	assert.Zero(t, rig.target.Writes())
	st, err := rig.store.Load(context.Background())
	require.NoError(t, err)
	assert.Empty(t, st.Watermark.Source)

	rep := rig.run()
	assert.Len(t, rep.Added, len(plan.Changes), "the run does what the plan said")
}

// TestSambaOUMovedIn: an OU with a user and a nested OU is moved from
// outside RootDN under it; only the OU's uSNChanged moves, yet the same
// incremental run adds what it holds, with DirSync and with uSNChanged
// polling.
func TestSambaOUMovedIn(t *testing.T) {
	e := samba(t)
	for _, tc := range []struct{ source, bind, pass string }{
		{"dirsync", e.BindDN, e.Password},
		{"usn", e.ReaderDN, e.ReaderPassword},
	} {
		t.Run(tc.source, func(t *testing.T) {
			c := e.admin(t)
			root := scratchOU(t, c, e.ScratchDN, "in")
			outside := scratchOU(t, c, e.ScratchDN, "out")
			team := "OU=team," + outside
			sub := "OU=sub," + team
			for _, dn := range []string{team, sub} {
				req := ldap.NewAddRequest(dn, nil)
				req.Attribute("objectClass", []string{"organizationalUnit"})
				require.NoError(t, c.Add(req))
			}
			sfx := itSuffix()
			_, stays := addADUser(t, c, root, adUser{CN: "stays", Mail: "stays-" + sfx + "@corp.example.test"})
			_, a := addADUser(t, c, team, adUser{CN: "alice", Mail: "alice-" + sfx + "@corp.example.test"})
			_, b := addADUser(t, c, sub, adUser{CN: "bob", Mail: "bob-" + sfx + "@corp.example.test"})
			cfg := e.config(root)
			cfg.BindDN, cfg.BindPassword = tc.bind, ldapsync.Secret(tc.pass)
			rig := newRig(t, cfg)
			rig.run()
			require.Equal(t, tc.source, rig.source())
			require.Equal(t, []string{stays}, keys(rig.linked()))

			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(team, "OU=team", true, root)))
			rep := rig.run()
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.ElementsMatch(t, []string{a, b}, rep.Added)
			assert.Equal(t, "CN=bob,OU=sub,OU=team,"+root, rig.linked()[b].DN)
			assert.ElementsMatch(t, []string{stays, a, b}, keys(rig.linked()))
			assert.Equal(t, tc.source, rig.source())

			rep = rig.run()
			assert.Empty(t, rep.Added)
			assert.Empty(t, rep.Updated)
		})
	}
}
