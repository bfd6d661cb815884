package ldapsync_test

import (
	"context"
	"sort"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// wireAgainstGoLDAP reads everything under cfg.RootDN twice on one
// connection, with the package's own message reader and with go-ldap, and
// requires the same entries (every attribute and value, binary ones
// included) and the same referrals.
func wireAgainstGoLDAP(t *testing.T, cfg ldapsync.Config, attrs []string) (entries, referrals int) {
	t.Helper()
	ctx := context.Background()
	w, err := ldapsync.OpenWireSession(ctx, cfg)
	require.NoError(t, err)
	defer w.Close()
	res, err := w.GoLDAP().SearchWithPaging(ldap.NewSearchRequest(cfg.RootDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil), 50)
	require.NoError(t, err)
	want := map[string]*ldap.Entry{}
	for _, e := range res.Entries {
		want[e.DN] = e
	}
	got := map[string]*ldap.Entry{}
	refs, err := w.Search(ctx, "(objectClass=*)", attrs, 50, func(e *ldap.Entry) error {
		got[e.DN] = e
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for dn, we := range want {
		ge := got[dn]
		require.NotNil(t, ge, dn)
		require.Len(t, ge.Attributes, len(we.Attributes), dn)
		for i, a := range we.Attributes {
			assert.Equal(t, a.Name, ge.Attributes[i].Name, dn)
			assert.Equal(t, a.ByteValues, ge.Attributes[i].ByteValues, "%s %s", dn, a.Name)
			assert.Equal(t, a.Values, ge.Attributes[i].Values, "%s %s", dn, a.Name)
		}
	}
	sort.Strings(refs)
	sort.Strings(res.Referrals)
	assert.Equal(t, res.Referrals, refs)
	return len(want), len(refs)
}

func TestSambaWireSearchMatchesGoLDAP(t *testing.T) {
	e := samba(t)
	attrs := []string{"objectGUID", "objectSid", "objectClass", "proxyAddresses", "mail", "member", "cn",
		"userAccountControl", "uSNChanged", "whenChanged", "nTSecurityDescriptor", "displayName"}
	for _, enc := range []ldapsync.Encryption{ldapsync.EncryptionNone, ldapsync.EncryptionLDAPS, ldapsync.EncryptionStartTLS} {
		t.Run(string(enc), func(t *testing.T) {
			cfg := e.config(e.BaseDN)
			cfg.Encryption, cfg.RootCAs = enc, e.CAs
			if enc == ldapsync.EncryptionLDAPS {
				cfg.Port = e.LDAPSPort
			}
			n, refs := wireAgainstGoLDAP(t, cfg, attrs)
			assert.Greater(t, n, e.Staff, "the whole domain was read")
			assert.NotZero(t, refs, "the domain's search references (DomainDnsZones, ...) arrive")
		})
	}
}

func TestOpenLDAPWireSearchMatchesGoLDAP(t *testing.T) {
	e := slapd(t)
	for kind, suffix := range e.Suffix {
		t.Run(kind, func(t *testing.T) {
			n, _ := wireAgainstGoLDAP(t, e.config(suffix, suffix), []string{"*", "+"})
			assert.Greater(t, n, e.Users)
		})
	}
}
