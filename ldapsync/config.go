package ldapsync

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Encryption is how the connection to the directory is protected.
type Encryption string

// Encryption choices.
const (
	EncryptionNone     Encryption = "none"
	EncryptionLDAPS    Encryption = "ldaps"
	EncryptionStartTLS Encryption = "starttls"
)

// TrustMode says how strictly the directory's TLS certificate is checked.
type TrustMode string

// Trust modes. The zero value is strict.
const (
	// ModeStrict: the certificate must chain to the system roots or RootCAs,
	// match the host name and carry a key longer than 1024 bits.
	ModeStrict TrustMode = "strict"
	// ModeRelaxed: self-signed certificates, short keys and incomplete chains
	// are accepted; traffic is still encrypted.
	ModeRelaxed TrustMode = "relaxed"
)

// Defaults applied by [Config.WithDefaults].
const (
	DefaultPageSize  = 500
	DefaultTimeout   = 30 * time.Second
	DefaultPortLDAP  = 389
	DefaultPortLDAPS = 636
)

// Secret is a password that never prints: String, GoString and JSON
// marshalling redact it. Use string(s) where the value itself is needed.
type Secret string

const redacted = "[REDACTED]"

// String returns a redaction marker, or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return fmt.Sprintf("ldapsync.Secret(%q)", s.String()) }

// Format keeps every fmt verb (%s, %v, %q, %x, ...) from printing the secret.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(s.String()))
	case 'q':
		_, _ = fmt.Fprintf(f, "%q", s.String())
	default:
		_, _ = f.Write([]byte(s.String()))
	}
}

// MarshalJSON writes the redaction marker, so a configuration logged or
// stored as JSON never carries the password.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a password. The redaction marker MarshalJSON writes
// reads as no password at all, never as the marker: a configuration saved
// as JSON loads without its password, which must then be set (from the
// environment, a secret store) before [Config.Validate] accepts it.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("bindPassword: %w", err)
	}
	if v == redacted {
		v = ""
	}
	*s = Secret(v)
	return nil
}

// Config describes one directory integration.
type Config struct {
	// Name identifies the integration. Validate does not require it, but
	// [Multi] needs a non-empty name, unique among its integrations.
	Name string `json:"name"`
	// Host is the directory server's host name or IP address, without
	// scheme, port or path. Required.
	Host string `json:"host"`
	// AlternateHost, optional, is tried when Host fails to resolve,
	// connect or complete TLS; not after a failed bind.
	AlternateHost string `json:"alternateHost,omitempty"`
	// Port is the TCP port for both hosts. 0: DefaultPortLDAPS (636) for
	// EncryptionLDAPS, else DefaultPortLDAP (389).
	Port int `json:"port,omitempty"`
	// Encryption protects the connection. "" is EncryptionNone, but is
	// refused with a BindPassword: name "none" to send it unencrypted.
	Encryption Encryption `json:"encryption,omitempty"`
	// Mode is how the server certificate is checked. "" is ModeStrict.
	Mode TrustMode `json:"mode,omitempty"`
	// RootCAs are the roots trusted in ModeStrict; nil: the system roots.
	RootCAs *x509.CertPool `json:"-"`
	// BindDN is the account to bind as, sent unchanged in a simple bind: a
	// DN, or on Active Directory also user@domain or DOMAIN\user. "": no bind.
	BindDN string `json:"bindDN"`
	// BindPassword is BindDN's password; required when BindDN is set, and
	// only allowed with one.
	BindPassword Secret `json:"bindPassword"`
	// RootDN is the DN of the subtree read, for example
	// "DC=corp,DC=example,DC=com". Required.
	RootDN string `json:"rootDN"`

	// AcknowledgeDisabledAccounts marks users whose userAccountControl has
	// the 0x2 bit as disabled in the target. Off, the bit is ignored (the
	// Exchange resource-domain case).
	AcknowledgeDisabledAccounts bool `json:"acknowledgeDisabledAccounts"`
	// FilterEmailDomains, when not empty, keeps only objects whose primary
	// address is in one of these domains. See [ParseDomainList].
	FilterEmailDomains []string `json:"filterEmailDomains,omitempty"`
	// IncludeContacts also synchronises objectClass=contact entries.
	IncludeContacts bool `json:"includeContacts"`
	// MaxSyncDeletions bounds the removals of one run: unlinks and
	// deletes of users and contacts, and deletions of groups, together.
	// Over the limit none is applied. 0 allows none.
	MaxSyncDeletions int `json:"maxSyncDeletions"`
	// DeleteUsers deletes removed objects instead of unlinking them.
	DeleteUsers bool `json:"deleteUsers"`

	// PageSize is the paged-search page size, at most 100000. 0:
	// DefaultPageSize.
	PageSize int `json:"pageSize,omitempty"`
	// Timeout bounds each request and each dial. 0: DefaultTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// WithDefaults returns a copy with the zero values of Port, Encryption,
// Mode, PageSize and Timeout replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.Encryption == "" {
		c.Encryption = EncryptionNone
	}
	if c.Mode == "" {
		c.Mode = ModeStrict
	}
	if c.Port == 0 {
		c.Port = DefaultPortLDAP
		if c.Encryption == EncryptionLDAPS {
			c.Port = DefaultPortLDAPS
		}
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	c.FilterEmailDomains = append([]string(nil), c.FilterEmailDomains...)
	return c
}

// Validate reports every problem with the configuration, each naming its
// field; the result wraps [ErrInvalidConfig].
func (c Config) Validate() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(c.Host) == "" {
		add("host: required")
	} else if err := validHost(c.Host); err != nil {
		add("host: %v", err)
	}
	if c.AlternateHost != "" {
		if err := validHost(c.AlternateHost); err != nil {
			add("alternateHost: %v", err)
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		add("port: %d is out of range 1-65535", c.Port)
	}
	switch c.Encryption {
	case "", EncryptionNone, EncryptionLDAPS, EncryptionStartTLS:
	default:
		add("encryption: unknown value %q (want none, ldaps or starttls)", string(c.Encryption))
	}
	switch c.Mode {
	case "", ModeStrict, ModeRelaxed:
	default:
		add("mode: unknown value %q (want strict or relaxed)", string(c.Mode))
	}
	if c.BindDN != "" && c.BindPassword == "" {
		add("bindPassword: required when bindDN is set (an empty password would be an unauthenticated bind)")
	}
	if c.BindPassword != "" && c.Encryption == "" {
		add("encryption: required when bindPassword is set (ldaps or starttls; none only to send the password unencrypted on purpose)")
	}
	if c.BindDN == "" && c.BindPassword != "" {
		add("bindDN: required when bindPassword is set")
	}
	if strings.TrimSpace(c.RootDN) == "" {
		add("rootDN: required")
	} else if _, err := parseDN(c.RootDN); err != nil {
		add("rootDN: %v", err)
	}
	for i, d := range c.FilterEmailDomains {
		if err := validDomain(d); err != nil {
			add("filterEmailDomains[%d]: %v", i, err)
		}
	}
	if c.MaxSyncDeletions < 0 {
		add("maxSyncDeletions: %d is negative", c.MaxSyncDeletions)
	}
	if c.PageSize < 0 {
		add("pageSize: %d is negative", c.PageSize)
	} else if c.PageSize > 100000 {
		add("pageSize: %d is above 100000", c.PageSize)
	}
	if c.Timeout < 0 {
		add("timeout: %v is negative", c.Timeout)
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(probs, "; "))
	}
	return nil
}

func validHost(h string) error {
	if strings.ContainsAny(h, " \t/:@") && net.ParseIP(h) == nil {
		return fmt.Errorf("%q is not a host name or IP address (no scheme, port or path)", h)
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return errors.New("longer than 253 characters")
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%q has an empty or over-long label", h)
		}
		for _, r := range l {
			if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return fmt.Errorf("%q contains %q", h, r)
			}
		}
	}
	return nil
}

// port returns the effective port.
func (c Config) port() int {
	if c.Port != 0 {
		return c.Port
	}
	if c.Encryption == EncryptionLDAPS {
		return DefaultPortLDAPS
	}
	return DefaultPortLDAP
}
