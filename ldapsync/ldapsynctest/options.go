package ldapsynctest

import (
	"fmt"
	"strings"
	"time"
)

// Option configures [Start].
type Option func(*options)

// TLSMode says how clients protect the connection to the test directory.
type TLSMode int

// TLS modes of the test directory.
const (
	// TLSNone: plain LDAP; StartTLS is refused.
	TLSNone TLSMode = iota
	// TLSLDAPS: the listener speaks TLS from the first byte (ldaps://).
	TLSLDAPS
	// TLSStartTLS: plain LDAP that accepts the StartTLS extended operation.
	TLSStartTLS
)

type options struct {
	base         string
	bindDN       string
	bindPassword string
	tls          TLSMode
	sizeLimit    int
	maxPageSize  int
	maxValRange  int
	serverName   string
	invocationID GUID
	haveInvID    bool
	now          func() time.Time
	faults       Faults
	maxCookies   int
	notBefore    time.Time
	notAfter     time.Time
	keyBits      int
	referrals    bool
}

func defaultOptions() options {
	return options{
		base:         DefaultBaseDN,
		bindPassword: DefaultPassword,
		sizeLimit:    1000,
		maxPageSize:  1000,
		maxValRange:  1500,
		serverName:   "DC1",
		now:          time.Now,
		maxCookies:   1000,
		keyBits:      2048,
	}
}

// Defaults of the test directory.
const (
	// DefaultBaseDN is the domain naming context: corp.example.test.
	DefaultBaseDN = "DC=corp,DC=example,DC=test"
	// DefaultPassword is the password of the default bind account,
	// CN=Administrator,CN=Users,<base DN>.
	DefaultPassword = "Adm1n!Passw0rd"
)

// WithBaseDN sets the domain naming context, e.g. "DC=example,DC=com".
// Every DN component must be DC=.
func WithBaseDN(dn string) Option { return func(o *options) { o.base = dn } }

// WithBindCredentials sets the account clients bind as. The DN need not be
// an object in the directory; when it is CN=Administrator,CN=Users,<base>
// (the default) the Administrator user also exists as an object and can be
// named as administrator@<dns domain> or <NETBIOS>\Administrator.
func WithBindCredentials(dn, password string) Option {
	return func(o *options) { o.bindDN, o.bindPassword = dn, password }
}

// WithTLS selects LDAPS or StartTLS with a certificate chained to a CA the
// directory generates (see [Directory.CertPool]).
func WithTLS(mode TLSMode) Option { return func(o *options) { o.tls = mode } }

// WithCertificateValidity sets the validity period of the server
// certificate (default: from an hour ago for a day, by the real clock, not
// [WithNow]). A period in the past serves an expired certificate.
func WithCertificateValidity(notBefore, notAfter time.Time) Option {
	return func(o *options) { o.notBefore, o.notAfter = notBefore, notAfter }
}

// WithKeyBits sets the RSA key size of the CA and server certificate
// (default 2048), e.g. 1024 to test a client that refuses short keys.
func WithKeyBits(bits int) Option { return func(o *options) { o.keyBits = bits } }

// WithReferrals makes subtree searches based at the domain root end with
// the continuation references Active Directory sends for the naming
// contexts below it (DomainDnsZones, ForestDnsZones, Configuration), as
// SearchResultReference messages on the last page. Off by default.
func WithReferrals() Option { return func(o *options) { o.referrals = true } }

// WithSizeLimit sets the most entries a search without the paged results
// control returns before it ends with sizeLimitExceeded (4), like Active
// Directory's MaxPageSize (default 1000). The entries up to the limit are
// still sent.
func WithSizeLimit(n int) Option { return func(o *options) { o.sizeLimit = n } }

// WithMaxPageSize caps the page size of paged searches (default 1000): a
// client asking for more gets pages of this size.
func WithMaxPageSize(n int) Option { return func(o *options) { o.maxPageSize = n } }

// WithMaxValRange sets how many values of a multi-valued attribute (member,
// proxyAddresses, ...) one entry carries before range retrieval applies,
// like Active Directory's MaxValRange (default 1500).
func WithMaxValRange(n int) Option { return func(o *options) { o.maxValRange = n } }

// WithServerName sets the domain controller's name (default "DC1"), which
// appears in dsServiceName.
func WithServerName(name string) Option { return func(o *options) { o.serverName = name } }

// WithInvocationID fixes the DC's invocation ID (default random).
func WithInvocationID(id GUID) Option {
	return func(o *options) { o.invocationID, o.haveInvID = id, true }
}

// WithNow sets the clock used for whenCreated and whenChanged.
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithFaults starts the directory with faults already injected; see
// [Directory.SetFaults].
func WithFaults(f Faults) Option { return func(o *options) { o.faults = f } }

// Validate reports every problem with the options, naming the option.
func (o *options) validate() error {
	var probs []string
	if _, err := domainFromBase(o.base); err != nil {
		probs = append(probs, "WithBaseDN: "+err.Error())
	}
	if o.bindDN != "" {
		if _, err := normDN(o.bindDN); err != nil {
			probs = append(probs, "WithBindCredentials: "+err.Error())
		}
	}
	if o.bindPassword == "" {
		probs = append(probs, "WithBindCredentials: empty password")
	}
	if o.tls < TLSNone || o.tls > TLSStartTLS {
		probs = append(probs, fmt.Sprintf("WithTLS: unknown mode %d", o.tls))
	}
	if o.keyBits < 1024 || o.keyBits > 8192 {
		probs = append(probs, fmt.Sprintf("WithKeyBits: %d is outside 1024-8192", o.keyBits))
	}
	if !o.notBefore.IsZero() && !o.notAfter.After(o.notBefore) {
		probs = append(probs, "WithCertificateValidity: notAfter is not after notBefore")
	}
	if o.sizeLimit < 1 {
		probs = append(probs, fmt.Sprintf("WithSizeLimit: %d is not positive", o.sizeLimit))
	}
	if o.maxPageSize < 1 {
		probs = append(probs, fmt.Sprintf("WithMaxPageSize: %d is not positive", o.maxPageSize))
	}
	if o.maxValRange < 1 {
		probs = append(probs, fmt.Sprintf("WithMaxValRange: %d is not positive", o.maxValRange))
	}
	if strings.TrimSpace(o.serverName) == "" || strings.ContainsAny(o.serverName, ",=+\\\"<>;\n") {
		probs = append(probs, fmt.Sprintf("WithServerName: %q is not a valid computer name", o.serverName))
	}
	if o.now == nil {
		probs = append(probs, "WithNow: nil clock")
	}
	if err := o.faults.Validate(); err != nil {
		probs = append(probs, "WithFaults: "+err.Error())
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(probs, "; "))
	}
	return nil
}

// domainFromBase turns DC=corp,DC=example,DC=test into corp.example.test.
func domainFromBase(base string) (string, error) {
	if strings.TrimSpace(base) == "" {
		return "", fmt.Errorf("empty base DN")
	}
	n, err := normDN(base)
	if err != nil {
		return "", err
	}
	var labels []string
	for _, part := range strings.Split(n, ",") {
		v, ok := strings.CutPrefix(part, "dc=")
		if !ok || v == "" {
			return "", fmt.Errorf("base DN %q: every component must be DC=", base)
		}
		labels = append(labels, v)
	}
	return strings.Join(labels, "."), nil
}
