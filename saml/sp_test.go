package saml_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

func newSP(t testing.TB, idp *samltest.IdP, mod ...func(*saml.Config)) *saml.ServiceProvider {
	t.Helper()
	cfg := idp.SPConfig()
	for _, m := range mod {
		m(&cfg)
	}
	sp, err := saml.NewServiceProvider(cfg)
	require.NoError(t, err)
	return sp
}

func TestVerifyAccepts(t *testing.T) {
	idp := samltest.NewIdP(t)
	sp := newSP(t, idp)
	for _, s := range []samltest.Signing{samltest.SignAssertion, samltest.SignResponse, samltest.SignBoth} {
		resp := idp.Response(samltest.WithSigning(s), samltest.WithInResponseTo("id-1"))
		a, err := sp.Verify(context.Background(), resp, "id-1")
		require.NoError(t, err)
		require.Equal(t, samltest.DefaultNameID, a.NameID)
	}
}
