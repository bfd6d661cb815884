package ldapsync_test

// Helpers for the integration tests against real directory servers. The
// servers are started by scripts/samba-ad.sh and scripts/slapd.sh (both run
// by scripts/test.sh), which export the GATEHOUSE_SAMBA_* and
// GATEHOUSE_SLAPD_* variables read here. Without them the tests skip.

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

const skipHint = "set by scripts/test.sh; run ./scripts/test.sh as root with samba, slapd and ldap-utils installed"

func mustEnv(t testing.TB, server, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s not available: %s is %s", server, name, skipHint)
	}
	return v
}

func envInt(t testing.TB, server, name string) int {
	t.Helper()
	n, err := strconv.Atoi(mustEnv(t, server, name))
	require.NoError(t, err, name)
	return n
}

// sambaEnv describes the Samba AD DC started by scripts/samba-ad.sh.
type sambaEnv struct {
	Host, BaseDN, RootDN, LargeRootDN, ScratchDN string
	Port, LDAPSPort, GCPort, GCLDAPSPort         int
	BindDN, BindUPN, Password                    string
	ReaderDN, ReaderPassword                     string
	CAs, IntermediateCAs                         *x509.CertPool
	SelfSignedHost, WeakKeyHost, ChainHost       string
	DeadHost                                     string
	Staff, StaffDisabled, NoMail, Contacts       int
	Groups, Large                                int
}

func samba(t testing.TB) *sambaEnv {
	t.Helper()
	const s = "Samba AD DC"
	e := &sambaEnv{
		Host:           mustEnv(t, s, "GATEHOUSE_SAMBA_HOST"),
		BaseDN:         mustEnv(t, s, "GATEHOUSE_SAMBA_BASEDN"),
		RootDN:         mustEnv(t, s, "GATEHOUSE_SAMBA_ROOTDN"),
		LargeRootDN:    mustEnv(t, s, "GATEHOUSE_SAMBA_LARGE_ROOTDN"),
		ScratchDN:      mustEnv(t, s, "GATEHOUSE_SAMBA_SCRATCH_DN"),
		Port:           envInt(t, s, "GATEHOUSE_SAMBA_PORT"),
		LDAPSPort:      envInt(t, s, "GATEHOUSE_SAMBA_LDAPS_PORT"),
		GCPort:         envInt(t, s, "GATEHOUSE_SAMBA_GC_PORT"),
		GCLDAPSPort:    envInt(t, s, "GATEHOUSE_SAMBA_GC_LDAPS_PORT"),
		BindDN:         mustEnv(t, s, "GATEHOUSE_SAMBA_BINDDN"),
		BindUPN:        mustEnv(t, s, "GATEHOUSE_SAMBA_BINDUPN"),
		Password:       mustEnv(t, s, "GATEHOUSE_SAMBA_PASSWORD"),
		ReaderDN:       mustEnv(t, s, "GATEHOUSE_SAMBA_READER_BINDDN"),
		ReaderPassword: mustEnv(t, s, "GATEHOUSE_SAMBA_READER_PASSWORD"),
		SelfSignedHost: mustEnv(t, s, "GATEHOUSE_SAMBA_SELFSIGNED_HOST"),
		WeakKeyHost:    mustEnv(t, s, "GATEHOUSE_SAMBA_WEAKKEY_HOST"),
		ChainHost:      mustEnv(t, s, "GATEHOUSE_SAMBA_CHAIN_HOST"),
		DeadHost:       mustEnv(t, s, "GATEHOUSE_SAMBA_DEAD_HOST"),
		Staff:          envInt(t, s, "GATEHOUSE_SAMBA_STAFF"),
		StaffDisabled:  envInt(t, s, "GATEHOUSE_SAMBA_STAFF_DISABLED"),
		NoMail:         envInt(t, s, "GATEHOUSE_SAMBA_NOMAIL"),
		Contacts:       envInt(t, s, "GATEHOUSE_SAMBA_CONTACTS"),
		Groups:         envInt(t, s, "GATEHOUSE_SAMBA_GROUPS"),
		Large:          envInt(t, s, "GATEHOUSE_SAMBA_LARGE"),
	}
	e.CAs = loadPool(t, mustEnv(t, s, "GATEHOUSE_SAMBA_CAFILE"))
	e.IntermediateCAs = loadPool(t, mustEnv(t, s, "GATEHOUSE_SAMBA_INTERMEDIATE_CAFILE"))
	return e
}

func loadPool(t testing.TB, path string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(path)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem), "no certificate in %s", path)
	return pool
}

// config is a plain-LDAP configuration bound as Administrator.
func (e *sambaEnv) config(rootDN string) ldapsync.Config {
	return ldapsync.Config{
		Name:             "samba",
		Host:             e.Host,
		Port:             e.Port,
		Encryption:       ldapsync.EncryptionNone,
		BindDN:           e.BindDN,
		BindPassword:     ldapsync.Secret(e.Password),
		RootDN:           rootDN,
		IncludeContacts:  true,
		MaxSyncDeletions: 1000,
		Timeout:          20 * time.Second,
	}
}

// admin opens a bound administrative connection for changing test data.
func (e *sambaEnv) admin(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(fmt.Sprintf("ldap://%s:%d", e.Host, e.Port))
	require.NoError(t, err)
	c.SetTimeout(20 * time.Second)
	require.NoError(t, c.Bind(e.BindDN, e.Password))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func itSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// scratchOU creates an organizational unit of its own under parent and
// removes it with everything below when the test ends.
func scratchOU(t *testing.T, c *ldap.Conn, parent, name string) string {
	t.Helper()
	dn := fmt.Sprintf("OU=%s-%s,%s", name, itSuffix(), parent)
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	require.NoError(t, c.Add(req), "add %s", dn)
	t.Cleanup(func() { deleteTree(c, dn) })
	return dn
}

// deleteTree removes dn and its subtree, children first.
func deleteTree(c *ldap.Conn, dn string) {
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		return
	}
	// Longest DNs are the deepest.
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	for i := range dns {
		for j := i + 1; j < len(dns); j++ {
			if len(dns[j]) > len(dns[i]) {
				dns[i], dns[j] = dns[j], dns[i]
			}
		}
	}
	for _, d := range dns {
		_ = c.Del(ldap.NewDelRequest(d, nil))
	}
}

// adUser describes a user to create on Samba.
type adUser struct {
	CN, Mail string
	Proxy    []string
	Disabled bool
	Contact  bool
}

// addADUser creates a user (enabled unless Disabled) or contact under
// parent and returns its DN and objectGUID in the engine's form.
func addADUser(t *testing.T, c *ldap.Conn, parent string, u adUser) (dn, id string) {
	t.Helper()
	dn = fmt.Sprintf("CN=%s,%s", ldap.EscapeDN(u.CN), parent)
	req := ldap.NewAddRequest(dn, nil)
	if u.Contact {
		req.Attribute("objectClass", []string{"contact"})
	} else {
		req.Attribute("objectClass", []string{"user"})
		req.Attribute("sAMAccountName", []string{"gh" + itSuffix()})
		uac := 0x200 | 0x20 // normal account, no password required
		if u.Disabled {
			uac |= 0x2
		}
		req.Attribute("userAccountControl", []string{strconv.Itoa(uac)})
	}
	req.Attribute("displayName", []string{u.CN})
	if u.Mail != "" {
		req.Attribute("mail", []string{u.Mail})
	}
	if len(u.Proxy) > 0 {
		req.Attribute("proxyAddresses", u.Proxy)
	}
	require.NoError(t, c.Add(req), "add %s", dn)
	return dn, adGUID(t, c, dn)
}

func addADGroup(t *testing.T, c *ldap.Conn, parent, cn, mail string, members ...string) (dn, id string) {
	t.Helper()
	dn = fmt.Sprintf("CN=%s,%s", ldap.EscapeDN(cn), parent)
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"group"})
	req.Attribute("sAMAccountName", []string{"gh" + itSuffix()})
	if mail != "" {
		req.Attribute("mail", []string{mail})
	}
	if len(members) > 0 {
		req.Attribute("member", members)
	}
	require.NoError(t, c.Add(req), "add %s", dn)
	return dn, adGUID(t, c, dn)
}

// adGUID reads an object's objectGUID as a lower-case UUID string.
func adGUID(t *testing.T, c *ldap.Conn, dn string) string {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"objectGUID"}, nil))
	require.NoError(t, err, dn)
	require.Len(t, res.Entries, 1, dn)
	b := res.Entries[0].GetRawAttributeValue("objectGUID")
	require.Len(t, b, 16, "objectGUID of %s", dn)
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%s",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], hex.EncodeToString(b[10:]))
}

func adModify(t *testing.T, c *ldap.Conn, dn string, attr string, values ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, values)
	require.NoError(t, c.Modify(req), "modify %s %s", dn, attr)
}

// slapdEnv describes the OpenLDAP server started by scripts/slapd.sh.
type slapdEnv struct {
	Host     string
	Port     int
	Password string
	Users    int
	Groups   int
	// Suffixes by kind: "sessionlog" (syncprov with a session log),
	// "present" (syncprov without one), "nosync" (no syncprov).
	Suffix map[string]string
}

func slapd(t *testing.T) *slapdEnv {
	t.Helper()
	const s = "OpenLDAP slapd"
	return &slapdEnv{
		Host:     mustEnv(t, s, "GATEHOUSE_SLAPD_HOST"),
		Port:     envInt(t, s, "GATEHOUSE_SLAPD_PORT"),
		Password: mustEnv(t, s, "GATEHOUSE_SLAPD_PASSWORD"),
		Users:    envInt(t, s, "GATEHOUSE_SLAPD_USERS"),
		Groups:   envInt(t, s, "GATEHOUSE_SLAPD_GROUPS"),
		Suffix: map[string]string{
			"sessionlog": mustEnv(t, s, "GATEHOUSE_SLAPD_BASEDN"),
			"present":    mustEnv(t, s, "GATEHOUSE_SLAPD_PRESENT_BASEDN"),
			"nosync":     mustEnv(t, s, "GATEHOUSE_SLAPD_NOSYNC_BASEDN"),
		},
	}
}

func (e *slapdEnv) config(suffix, rootDN string) ldapsync.Config {
	return ldapsync.Config{
		Name:             "openldap",
		Host:             e.Host,
		Port:             e.Port,
		Encryption:       ldapsync.EncryptionNone,
		BindDN:           "cn=admin," + suffix,
		BindPassword:     ldapsync.Secret(e.Password),
		RootDN:           rootDN,
		MaxSyncDeletions: 1000,
		Timeout:          20 * time.Second,
	}
}

func (e *slapdEnv) admin(t *testing.T, suffix string) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(fmt.Sprintf("ldap://%s:%d", e.Host, e.Port))
	require.NoError(t, err)
	c.SetTimeout(20 * time.Second)
	require.NoError(t, c.Bind("cn=admin,"+suffix, e.Password))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// entryUUID reads an entry's entryUUID.
func entryUUID(t *testing.T, c *ldap.Conn, dn string) string {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"entryUUID"}, nil))
	require.NoError(t, err, dn)
	require.Len(t, res.Entries, 1, dn)
	return strings.ToLower(res.Entries[0].GetAttributeValue("entryUUID"))
}

// syncer builds a Syncer on a fresh target and store unless given.
type syncRig struct {
	t      *testing.T
	target *ldapsync.MemoryTarget
	store  *ldapsync.MemoryStore
	cfg    ldapsync.Config
}

func newRig(t *testing.T, cfg ldapsync.Config) *syncRig {
	return &syncRig{t: t, target: ldapsync.NewMemoryTarget(), store: ldapsync.NewMemoryStore(), cfg: cfg}
}

func (r *syncRig) tryRun() (*ldapsync.Report, error) {
	r.t.Helper()
	s, err := ldapsync.NewSyncer(r.cfg, r.target, r.store)
	require.NoError(r.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return s.Run(ctx)
}

func (r *syncRig) run() *ldapsync.Report {
	r.t.Helper()
	rep, err := r.tryRun()
	require.NoError(r.t, err)
	require.NotNil(r.t, rep)
	return rep
}

// source is the change source that wrote the stored watermark.
func (r *syncRig) source() string {
	r.t.Helper()
	st, err := r.store.Load(context.Background())
	require.NoError(r.t, err)
	return st.Watermark.Source
}

func (r *syncRig) linked() map[string]ldapsync.User {
	r.t.Helper()
	m, err := r.target.Snapshot(context.Background())
	require.NoError(r.t, err)
	return m
}

// usersByEmail indexes users by primary address.
func usersByEmail(users map[string]ldapsync.User) map[string]ldapsync.User {
	m := make(map[string]ldapsync.User, len(users))
	for _, u := range users {
		m[u.Email] = u
	}
	return m
}
