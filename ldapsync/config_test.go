package ldapsync

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validConfig() Config {
	return Config{Host: "dc1.corp.example", Encryption: EncryptionNone, BindDN: "CN=svc,DC=corp,DC=example", BindPassword: "s3cret!",
		RootDN: "DC=corp,DC=example"}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, validConfig().Validate())
	cases := map[string]func(*Config){
		"host":               func(c *Config) { c.Host = "" },
		"alternateHost":      func(c *Config) { c.AlternateHost = "ldap://x" },
		"port":               func(c *Config) { c.Port = 70000 },
		"encryption":         func(c *Config) { c.Encryption = "tls" },
		"mode":               func(c *Config) { c.Mode = "lenient" },
		"bindPassword":       func(c *Config) { c.BindPassword = "" },
		"rootDN":             func(c *Config) { c.RootDN = "not a dn" },
		"filterEmailDomains": func(c *Config) { c.FilterEmailDomains = []string{"ok.example", "bad domain"} },
		"maxSyncDeletions":   func(c *Config) { c.MaxSyncDeletions = -1 },
		"pageSize":           func(c *Config) { c.PageSize = -5 },
		"timeout":            func(c *Config) { c.Timeout = -time.Second },
	}
	for field, mut := range cases {
		c := validConfig()
		mut(&c)
		err := c.Validate()
		assert.ErrorIs(t, err, ErrInvalidConfig, field)
		assert.ErrorContains(t, err, field)
	}
	// Every problem is reported at once.
	err := Config{}.Validate()
	assert.ErrorContains(t, err, "host")
	assert.ErrorContains(t, err, "rootDN")
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig()
	c.Encryption = ""
	c = c.WithDefaults()
	assert.Equal(t, 389, c.Port)
	assert.Equal(t, EncryptionNone, c.Encryption)
	assert.Equal(t, ModeStrict, c.Mode)
	assert.Equal(t, 500, c.PageSize)
	assert.Equal(t, DefaultTimeout, c.Timeout)
	l := validConfig()
	l.Encryption = EncryptionLDAPS
	assert.Equal(t, 636, l.WithDefaults().Port)
	l.Port = 3269
	assert.Equal(t, 3269, l.WithDefaults().Port)
	s := validConfig()
	s.Encryption = EncryptionStartTLS
	assert.Equal(t, 389, s.WithDefaults().Port)
}

func TestSecretRedaction(t *testing.T) {
	c := validConfig()
	for _, out := range []string{
		fmt.Sprint(c.BindPassword), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c.BindPassword, c.BindPassword, c.BindPassword),
		c.BindPassword.String(), c.BindPassword.GoString(),
	} {
		assert.NotContains(t, out, "s3cret!")
	}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "s3cret")
	assert.Contains(t, string(b), `"bindPassword":"[REDACTED]"`)
	assert.Equal(t, "", Secret("").String())

	// Saved as JSON and loaded again: no password, never the marker, and
	// Validate asks for one until it is set.
	var back Config
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, Secret(""), back.BindPassword, "the marker is not taken as a password")
	err = back.Validate()
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "bindPassword: required")
	back.BindPassword = "s3cret!"
	require.NoError(t, back.Validate())
	require.NoError(t, json.Unmarshal([]byte(`{"bindPassword":"pw"}`), &back))
	assert.Equal(t, Secret("pw"), back.BindPassword)
}
