package saml_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
)

// A ServiceProvider or MetadataCache that its constructor did not make
// (a zero value, a nil pointer) refuses every operation with a
// configuration error instead of panicking: a zero ServiceProvider trusts
// no IdP and accepts nothing.
func TestZeroValuesRefuseWithoutPanicking(t *testing.T) {
	ctx := context.Background()
	var cfgErr *saml.ConfigError
	for name, sp := range map[string]*saml.ServiceProvider{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			a, err := sp.Verify(ctx, "PHNhbWxwOlJlc3BvbnNlLz4=")
			assert.Nil(t, a)
			require.ErrorIs(t, err, saml.ErrConfig)
			require.True(t, errors.As(err, &cfgErr))
			assert.Equal(t, "ServiceProvider", cfgErr.Field)

			req, err := sp.AuthnRequest("")
			assert.Nil(t, req)
			require.ErrorIs(t, err, saml.ErrConfig)

			md, err := sp.Metadata()
			assert.Nil(t, md)
			require.ErrorIs(t, err, saml.ErrConfig)

			assert.Empty(t, sp.EntityID())
			assert.Empty(t, sp.ACSURL())
			assert.Equal(t, saml.IdPMetadata{}, sp.IdP())
		})
	}

	var c saml.MetadataCache
	md, err := c.Get(ctx)
	assert.Nil(t, md)
	require.ErrorIs(t, err, saml.ErrConfig)
	require.True(t, errors.As(err, &cfgErr))
	assert.Equal(t, "MetadataCache", cfgErr.Field)
	_, err = c.Refresh(ctx)
	require.ErrorIs(t, err, saml.ErrConfig)
	assert.Equal(t, saml.MetadataCacheStatus{}, c.Status())
}
