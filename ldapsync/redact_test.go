package ldapsync

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Syncer printed with any verb, as a debugging line would, never shows
// the bind password (its Config is an unexported field, which fmt prints
// without calling Secret's methods).
func TestSyncerPrintsNoSecret(t *testing.T) {
	cfg := validConfig()
	cfg.Encryption = EncryptionLDAPS
	s, err := NewSyncer(cfg, NewMemoryTarget(), NewMemoryStore())
	require.NoError(t, err)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v|%+v|%#v", s, s, s),
		fmt.Sprintf("%v|%+v", []*Syncer{s}, map[string]*Syncer{"a": s}),
	} {
		assert.NotContains(t, out, "s3cret!")
	}
}

// A password is never sent unencrypted by default: a configuration with a
// bind password must name its encryption; EncryptionNone is accepted only
// when chosen explicitly.
func TestConfigPasswordNeedsExplicitEncryption(t *testing.T) {
	c := validConfig()
	c.Encryption = ""
	err := c.Validate()
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.ErrorContains(t, err, "encryption")
	_, err = NewSyncer(c, NewMemoryTarget(), NewMemoryStore())
	require.ErrorIs(t, err, ErrInvalidConfig)

	c.Encryption = EncryptionNone
	require.NoError(t, c.Validate(), "plain LDAP chosen explicitly")
	c.Encryption = EncryptionStartTLS
	require.NoError(t, c.Validate())

	anon := validConfig()
	anon.Encryption, anon.BindDN, anon.BindPassword = "", "", ""
	require.NoError(t, anon.Validate(), "no password, nothing to protect")
}

// A Syncer not made by NewSyncer fails with a clear error, not a panic.
func TestZeroSyncer(t *testing.T) {
	var s Syncer
	_, err := s.Run(context.Background())
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.ErrorContains(t, err, "NewSyncer")
	_, err = s.Plan(context.Background())
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = (&Multi{syncers: []*Syncer{&s}, names: []string{"x"}}).Run(context.Background())
	require.ErrorIs(t, err, ErrInvalidConfig)
}
