package ldapsync

import (
	"crypto/x509"
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

// Secret is a password that never prints: String, GoString and JSON
// marshalling redact it.
type Secret string

// Config describes one directory integration.
type Config struct {
	Name          string         `json:"name"`
	Host          string         `json:"host"`
	AlternateHost string         `json:"alternateHost,omitempty"`
	Port          int            `json:"port,omitempty"`
	Encryption    Encryption     `json:"encryption,omitempty"`
	Mode          TrustMode      `json:"mode,omitempty"`
	RootCAs       *x509.CertPool `json:"-"`
	BindDN        string         `json:"bindDN"`
	BindPassword  Secret         `json:"bindPassword"`
	RootDN        string         `json:"rootDN"`

	AcknowledgeDisabledAccounts bool     `json:"acknowledgeDisabledAccounts"`
	FilterEmailDomains          []string `json:"filterEmailDomains,omitempty"`
	IncludeContacts             bool     `json:"includeContacts"`
	MaxSyncDeletions            int      `json:"maxSyncDeletions"`
	DeleteUsers                 bool     `json:"deleteUsers"`

	PageSize int           `json:"pageSize,omitempty"`
	Timeout  time.Duration `json:"timeout,omitempty"`
}
