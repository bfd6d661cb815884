package ldapsync_test

// Integration tests against OpenLDAP slapd started by scripts/slapd.sh: a
// directory without Active Directory semantics (entryUUID identity,
// inetOrgPerson and groupOfNames).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// wantSource is the change source each kind of database serves.
var wantSource = map[string]string{"sessionlog": "syncrepl", "present": "syncrepl", "nosync": "timestamp"}

func TestOpenLDAPFullSync(t *testing.T) {
	e := slapd(t)
	for _, kind := range []string{"sessionlog", "present", "nosync"} {
		t.Run(kind, func(t *testing.T) {
			suffix := e.Suffix[kind]
			rig := newRig(t, e.config(suffix, "ou=people,"+suffix))
			rig.cfg.RootDN = suffix
			rep := rig.run()
			assert.Equal(t, ldapsync.SyncFull, rep.Mode)
			assert.Equal(t, e.Host, rep.Host)
			assert.Equal(t, wantSource[kind], rig.source())
			linked := rig.linked()
			require.Len(t, linked, e.Users)
			mail := usersByEmail(linked)
			u := mail["user07@example.org"]
			require.NotEmpty(t, u.ID)
			assert.Equal(t, "User 07", u.DisplayName)
			assert.Equal(t, "uid=user07,ou=people,"+suffix, u.DN)
			assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, u.ID, "entryUUID")
			assert.Equal(t, []string{"user07"}, u.Attributes["uid"])

			groups := rig.target.Groups()
			require.Len(t, groups, e.Groups)
			for _, g := range groups {
				assert.Len(t, g.Members, 10, g.Name)
				if g.Name == "team1" {
					assert.Contains(t, g.Members, u.ID)
				}
			}
			rep = rig.run()
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Empty(t, rep.Added)
			assert.Empty(t, rep.Updated)
			assert.Empty(t, rep.Unlinked)
		})
	}
}

func addPerson(t *testing.T, c *ldap.Conn, parent, uid, mail string) (dn, id string) {
	t.Helper()
	dn = fmt.Sprintf("uid=%s,%s", uid, parent)
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	req.Attribute("uid", []string{uid})
	req.Attribute("cn", []string{uid})
	req.Attribute("sn", []string{uid})
	req.Attribute("mail", []string{mail})
	require.NoError(t, c.Add(req), "add %s", dn)
	return dn, entryUUID(t, c, dn)
}

func addOpenLDAPOU(t *testing.T, c *ldap.Conn, parent, name string) string {
	t.Helper()
	ou := name + "-" + itSuffix()
	dn := fmt.Sprintf("ou=%s,%s", ou, parent)
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	req.Attribute("ou", []string{ou})
	require.NoError(t, c.Add(req), "add %s", dn)
	t.Cleanup(func() { deleteTree(c, dn) })
	return dn
}

// TestOpenLDAPIncremental changes the directory step by step on each kind
// of database: content sync with a session log, content sync with a
// present phase, and no content sync at all.
func TestOpenLDAPIncremental(t *testing.T) {
	e := slapd(t)
	for _, kind := range []string{"sessionlog", "present", "nosync"} {
		t.Run(kind, func(t *testing.T) {
			suffix := e.Suffix[kind]
			c := e.admin(t, suffix)
			root := addOpenLDAPOU(t, c, suffix, "inc")
			outside := addOpenLDAPOU(t, c, suffix, "outside")
			sfx := itSuffix()
			addr := func(n string) string { return n + "-" + sfx + "@example.org" }
			annDN, ann := addPerson(t, c, root, "ann", addr("ann"))
			benDN, ben := addPerson(t, c, root, "ben", addr("ben"))
			cyDN, cy := addPerson(t, c, root, "cy", addr("cy"))
			dotDN, dot := addPerson(t, c, root, "dot", addr("dot"))
			greq := ldap.NewAddRequest("cn=crew,"+root, nil)
			greq.Attribute("objectClass", []string{"groupOfNames"})
			greq.Attribute("cn", []string{"crew"})
			greq.Attribute("member", []string{benDN, cyDN})
			require.NoError(t, c.Add(greq))
			groupDN := "cn=crew," + root
			group := entryUUID(t, c, groupDN)

			cfg := e.config(suffix, root)
			cfg.MaxSyncDeletions = 5
			rig := newRig(t, cfg)
			rep := rig.run()
			require.Equal(t, ldapsync.SyncFull, rep.Mode)
			assert.ElementsMatch(t, []string{ann, ben, cy, dot, group}, rep.Added)
			require.Equal(t, wantSource[kind], rig.source())

			step := func(name string) *ldapsync.Report {
				t.Helper()
				rep := rig.run()
				require.Equal(t, ldapsync.SyncIncremental, rep.Mode, name)
				return rep
			}

			_, eve := addPerson(t, c, root, "eve", addr("eve"))
			rep = step("add")
			assert.Equal(t, []string{eve}, rep.Added)
			assert.Empty(t, rep.Updated)

			adModify(t, c, benDN, "mail", addr("benjamin"))
			rep = step("modify")
			assert.Equal(t, []string{ben}, rep.Updated)
			assert.Equal(t, addr("benjamin"), rig.linked()[ben].Email)

			// Rename a user outside the group: without the refint overlay a
			// group keeps naming the old DN of a renamed member.
			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(annDN, "uid=anna", true, "")))
			rep = step("rename")
			assert.Equal(t, []string{ann}, rep.Updated)
			assert.Empty(t, rep.Added)
			assert.Empty(t, rep.Unlinked)
			assert.Equal(t, "uid=anna,"+root, rig.linked()[ann].DN)

			adModify(t, c, groupDN, "member", benDN, cyDN, dotDN)
			rep = step("group member added")
			assert.Equal(t, []string{group}, rep.Updated)
			assert.ElementsMatch(t, []string{ben, cy, dot}, rig.target.Groups()[group].Members)

			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(dotDN, "uid=dot", true, outside)))
			rep = step("move out")
			assert.Equal(t, []string{dot}, rep.Unlinked)
			assert.NotContains(t, rig.linked(), dot)

			require.NoError(t, c.Del(ldap.NewDelRequest(benDN, nil)))
			rep = step("delete")
			assert.Equal(t, []string{ben}, rep.Unlinked)
			assert.NotContains(t, rig.linked(), ben)
			assert.Contains(t, rig.target.Unlinked(), ben)

			rep = step("idle")
			assert.Empty(t, rep.Added)
			assert.Empty(t, rep.Updated)
			assert.Empty(t, rep.Unlinked)
			assert.ElementsMatch(t, []string{ann, cy, eve}, keys(rig.linked()))
			assert.Equal(t, wantSource[kind], rig.source())

			// With DeleteUsers the next removal is a deletion.
			rig.cfg.DeleteUsers = true
			rig.run() // the policy change may force a full read
			require.NoError(t, c.Del(ldap.NewDelRequest("uid=eve,"+root, nil)))
			rep = rig.run()
			assert.Equal(t, []string{eve}, rep.Deleted)
			assert.NotContains(t, rig.target.Unlinked(), eve)
		})
	}
}

func TestOpenLDAPDeletionLimit(t *testing.T) {
	e := slapd(t)
	suffix := e.Suffix["sessionlog"]
	c := e.admin(t, suffix)
	root := addOpenLDAPOU(t, c, suffix, "limit")
	var dns []string
	for i := range 4 {
		dn, _ := addPerson(t, c, root, fmt.Sprintf("p%d", i), fmt.Sprintf("p%d-%s@example.org", i, itSuffix()))
		dns = append(dns, dn)
	}
	cfg := e.config(suffix, root)
	cfg.MaxSyncDeletions = 1
	rig := newRig(t, cfg)
	rig.run()
	for _, dn := range dns[:2] {
		require.NoError(t, c.Del(ldap.NewDelRequest(dn, nil)))
	}
	rep, err := rig.tryRun()
	require.ErrorIs(t, err, ldapsync.ErrDeletionLimit)
	assert.Len(t, rep.Withheld, 2)
	assert.Len(t, rig.linked(), 4)
}

func TestOpenLDAPTestConnection(t *testing.T) {
	e := slapd(t)
	suffix := e.Suffix["sessionlog"]
	cfg := e.config(suffix, suffix)
	r := ldapsync.TestConnection(context.Background(), cfg, "user01@example.org", "nobody@example.org")
	assert.Equal(t, e.Host, r.Host)
	var st []ldapsync.StepStatus
	for _, s := range r.Steps {
		if s.Name == ldapsync.StepSampleAddress {
			st = append(st, s.Status)
		}
	}
	assert.Equal(t, []ldapsync.StepStatus{ldapsync.Passed, ldapsync.Failed}, st)
	assert.Equal(t, ldapsync.Passed, r.Step(ldapsync.StepAuthentication).Status)
	assert.Equal(t, ldapsync.Skipped, r.Step(ldapsync.StepCertificate).Status)

	cfg.BindPassword = "wrong"
	r = ldapsync.TestConnection(context.Background(), cfg)
	assert.Equal(t, ldapsync.Failed, r.Step(ldapsync.StepAuthentication).Status)
}

// TestOpenLDAPPlainUser syncs bound as an ordinary directory user (not the
// rootdn): content sync works with read access alone.
func TestOpenLDAPPlainUser(t *testing.T) {
	e := slapd(t)
	suffix := e.Suffix["sessionlog"]
	c := e.admin(t, suffix)
	root := addOpenLDAPOU(t, c, suffix, "plain")
	_, a := addPerson(t, c, root, "pa", "pa-"+itSuffix()+"@example.org")
	cfg := e.config(suffix, root)
	cfg.BindDN = "uid=user01,ou=people," + suffix
	rig := newRig(t, cfg)
	rep := rig.run()
	assert.Equal(t, []string{a}, rep.Added)
	assert.Equal(t, "syncrepl", rig.source())

	bDN, b := addPerson(t, c, root, "pb", "pb-"+itSuffix()+"@example.org")
	rep = rig.run()
	assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
	assert.Equal(t, []string{b}, rep.Added)
	require.NoError(t, c.Del(ldap.NewDelRequest(bDN, nil)))
	rep = rig.run()
	assert.Equal(t, []string{b}, rep.Unlinked)
	assert.Equal(t, "syncrepl", rig.source())
}

// TestOpenLDAPOUMovedIn: an OU with entries (one in a nested OU) is moved
// from outside RootDN under it. The entries keep their modifyTimestamp and
// content sync need not name them; the same incremental run adds them on
// every kind of database.
func TestOpenLDAPOUMovedIn(t *testing.T) {
	e := slapd(t)
	for _, kind := range []string{"sessionlog", "present", "nosync"} {
		t.Run(kind, func(t *testing.T) {
			suffix := e.Suffix[kind]
			c := e.admin(t, suffix)
			root := addOpenLDAPOU(t, c, suffix, "in")
			outside := addOpenLDAPOU(t, c, suffix, "out")
			team := addOpenLDAPOU(t, c, outside, "team")
			sub := addOpenLDAPOU(t, c, team, "sub")
			sfx := itSuffix()
			_, a := addPerson(t, c, team, "alice", "alice-"+sfx+"@example.org")
			bDN, b := addPerson(t, c, sub, "bob", "bob-"+sfx+"@example.org")
			// modifyTimestamp has one-second steps: the watermark (the
			// newest entry in scope) must be newer than the entries moved
			// in, or a timestamp poll would read them anyway.
			time.Sleep(1100 * time.Millisecond)
			_, stays := addPerson(t, c, root, "stays", "stays-"+sfx+"@example.org")
			rig := newRig(t, e.config(suffix, root))
			rig.run()
			require.Equal(t, wantSource[kind], rig.source())
			require.Equal(t, []string{stays}, keys(rig.linked()))

			teamRDN := strings.SplitN(team, ",", 2)[0]
			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(team, teamRDN, true, root)))
			rep := rig.run()
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.ElementsMatch(t, []string{a, b}, rep.Added)
			movedB := strings.Replace(bDN, outside, root, 1)
			assert.True(t, strings.EqualFold(movedB, rig.linked()[b].DN), "%s / %s", movedB, rig.linked()[b].DN)
			assert.ElementsMatch(t, []string{stays, a, b}, keys(rig.linked()))
			assert.Equal(t, wantSource[kind], rig.source())

			rep = rig.run()
			assert.Equal(t, ldapsync.SyncIncremental, rep.Mode)
			assert.Empty(t, rep.Added)
			assert.Empty(t, rep.Updated)
		})
	}
}

// TestOpenLDAPContentSyncPhases: how an incremental content-sync read finds
// removals. With a session log the server names the deletions (delete
// phase); without one it reports every unchanged entry present (present
// phase) and those IDs are the enumeration. Only a changed container makes
// the run list every ID.
func TestOpenLDAPContentSyncPhases(t *testing.T) {
	e := slapd(t)
	for _, tc := range []struct{ kind, phase string }{
		{"sessionlog", "delete phase"},
		{"present", "present phase"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			suffix := e.Suffix[tc.kind]
			c := e.admin(t, suffix)
			root := addOpenLDAPOU(t, c, suffix, "phases")
			outside := addOpenLDAPOU(t, c, suffix, "elsewhere")
			team := addOpenLDAPOU(t, c, root, "team")
			sfx := itSuffix()
			addr := func(n string) string { return n + "-" + sfx + "@example.org" }
			annDN, ann := addPerson(t, c, root, "ann", addr("ann"))
			benDN, ben := addPerson(t, c, root, "ben", addr("ben"))
			cyDN, cy := addPerson(t, c, root, "cy", addr("cy"))
			_, dot := addPerson(t, c, team, "dot", addr("dot"))
			cfg := e.config(suffix, root)
			cfg.MaxSyncDeletions = 5
			rig := newRig(t, cfg)
			rep := rig.run()
			require.Equal(t, ldapsync.SyncFull, rep.Mode)
			require.ElementsMatch(t, []string{ann, ben, cy, dot}, keys(rig.linked()))

			step := func(name string) (*ldapsync.Report, []string) {
				t.Helper()
				s, err := ldapsync.NewSyncer(rig.cfg, rig.target, rig.store)
				require.NoError(t, err)
				ctx, reads := ldapsync.WithSyncReplReads(context.Background())
				rep, err := s.Run(ctx)
				require.NoError(t, err, name)
				require.Equal(t, ldapsync.SyncIncremental, rep.Mode, name)
				require.Equal(t, "syncrepl", rig.source(), name)
				return rep, reads.Outcomes()
			}

			rep, how := step("idle")
			assert.Equal(t, []string{"delete phase"}, how, "nothing changed")
			assert.Empty(t, rep.Updated)
			assert.Empty(t, rep.Unlinked)

			adModify(t, c, annDN, "mail", addr("anna"))
			rep, how = step("modify")
			assert.Equal(t, []string{tc.phase}, how)
			assert.Equal(t, []string{ann}, rep.Updated)
			assert.Empty(t, rep.Unlinked)

			require.NoError(t, c.Del(ldap.NewDelRequest(benDN, nil)))
			rep, how = step("delete")
			assert.Equal(t, []string{tc.phase}, how)
			assert.Equal(t, []string{ben}, rep.Unlinked)
			assert.Empty(t, rep.Updated)

			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(cyDN, "uid=cy", true, outside)))
			rep, how = step("user moved out")
			assert.Len(t, how, 1)
			assert.Equal(t, []string{cy}, rep.Unlinked)

			// A renamed container: its entries change DN without changing.
			teamRDN := strings.SplitN(team, ",", 2)[0]
			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(team, teamRDN+"x", true, "")))
			rep, how = step("container renamed")
			assert.Equal(t, []string{"enumerated: a container changed"}, how)
			assert.Equal(t, []string{dot}, rep.Updated)
			assert.True(t, strings.HasPrefix(strings.ToLower(rig.linked()[dot].DN), "uid=dot,"+strings.ToLower(teamRDN)+"x,"), rig.linked()[dot].DN)

			// A container moved out of RootDN takes its entries along.
			require.NoError(t, c.ModifyDN(ldap.NewModifyDNRequest(teamRDN+"x,"+root, teamRDN+"x", true, outside)))
			rep, how = step("container moved out")
			assert.Len(t, how, 1)
			assert.Equal(t, []string{dot}, rep.Unlinked)

			rep, how = step("idle again")
			assert.Equal(t, []string{"delete phase"}, how)
			assert.Empty(t, rep.Updated)
			assert.Empty(t, rep.Unlinked)
			assert.ElementsMatch(t, []string{ann}, keys(rig.linked()))
		})
	}
}
