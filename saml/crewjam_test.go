package saml_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
)

// Fixtures from crewjam/saml: real OneLogin and Google responses and XML
// signature wrapping permutations of them. See the README in the fixture
// folder for their clocks and request IDs.
const (
	crewjamDir       = "testdata/crewjam"
	crewjamSPEntity  = "https://29ee6d2e.ngrok.io/saml/metadata"
	crewjamACS       = "https://29ee6d2e.ngrok.io/saml/acs"
	oneloginRequest  = "id-d40c15c104b52691eccf0a2a5c8a15595be75423"
	googleRequest    = "id-fd419a5ab0472645427f8e07d87a3a5dd0b2e9a6"
	oneloginMetadata = "TestSPCanHandleOneloginResponse_IDPMetadata"
	googleMetadata   = "TestSPRejectsInjectedComment_IDPMetadata"
)

var (
	oneloginClock = time.Date(2016, 1, 5, 17, 53, 12, 0, time.UTC)
	googleClock   = time.Date(2016, 1, 5, 16, 55, 39, 0, time.UTC)
)

func crewjamFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(crewjamDir, name))
	require.NoError(t, err)
	return data
}

// crewjamSP builds the fixtures' service provider. The OneLogin responses
// are signed with RSA-SHA1, so those tests switch InsecureAllowSHA1 on:
// the refusals they check must come from the wrapping, not from SHA-1.
func crewjamSP(t *testing.T, metadata string, clock time.Time, allowSHA1 bool) *saml.ServiceProvider {
	t.Helper()
	md, err := saml.ParseMetadata(crewjamFile(t, metadata), saml.WithNow(func() time.Time { return clock }))
	require.NoError(t, err)
	sp, err := saml.NewServiceProvider(saml.Config{
		EntityID:          crewjamSPEntity,
		ACSURL:            crewjamACS,
		IdP:               md,
		Now:               func() time.Time { return clock },
		InsecureAllowSHA1: allowSHA1,
	})
	require.NoError(t, err)
	return sp
}

func crewjamResponse(t *testing.T, name string) string {
	return strings.TrimSpace(string(crewjamFile(t, name)))
}

func TestCrewjamOneloginAccepted(t *testing.T) {
	sp := crewjamSP(t, oneloginMetadata, oneloginClock, true)
	a, err := sp.Verify(context.Background(), crewjamResponse(t, "TestSPCanHandleOneloginResponse_response"), oneloginRequest)
	require.NoError(t, err)
	assert.Equal(t, "https://app.onelogin.com/saml/metadata/503983", a.Issuer)
	assert.Equal(t, "ross@kndr.org", a.NameID)
	assert.Equal(t, saml.NameIDFormatEmailAddress, a.NameIDFormat)
	assert.Equal(t, "_ebdcbe80-95ff-0133-d871-38ca3a662f1c", a.SessionIndex)
	assert.Equal(t, saml.AuthnContextPasswordProtectedTransport, a.AuthnContext)
	assert.Equal(t, oneloginRequest, a.InResponseTo)
	assert.Equal(t, time.Date(2016, 1, 5, 17, 53, 10, 0, time.UTC), a.AuthnInstant)
	assert.Equal(t, time.Date(2016, 1, 5, 17, 56, 11, 0, time.UTC), a.NotOnOrAfter)
	assert.Equal(t, map[string][]string{
		"User.email":        {"ross@kndr.org"},
		"memberOf":          {""},
		"User.LastName":     {"Kinder"},
		"PersonImmutableID": {""},
		"User.FirstName":    {"Ross"},
	}, a.Attributes)
}

func TestCrewjamOneloginSHA1RefusedByDefault(t *testing.T) {
	sp := crewjamSP(t, oneloginMetadata, oneloginClock, false)
	_, err := sp.Verify(context.Background(), crewjamResponse(t, "TestSPCanHandleOneloginResponse_response"), oneloginRequest)
	require.ErrorIs(t, err, saml.ErrSignature)
	assert.Contains(t, err.Error(), "SHA-1")
}

func TestCrewjamXSWPermutationsRejected(t *testing.T) {
	for _, n := range []string{"One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"} {
		t.Run(n, func(t *testing.T) {
			sp := crewjamSP(t, oneloginMetadata, oneloginClock, true)
			a, err := sp.Verify(context.Background(), crewjamResponse(t, "TestXswPermutation"+n+"IsRejected_response"), oneloginRequest)
			require.ErrorIs(t, err, saml.ErrSignature, "XSW permutation %s", n)
			require.Nil(t, a)
		})
	}
}

func TestCrewjamInjectedComment(t *testing.T) {
	raw, err := base64.StdEncoding.DecodeString(crewjamResponse(t, "TestSPRejectsInjectedComment_response"))
	require.NoError(t, err)
	require.Contains(t, string(raw), "ross@octolabs.io")
	encode := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	t.Run("as is", func(t *testing.T) {
		sp := crewjamSP(t, googleMetadata, googleClock, false)
		a, err := sp.Verify(context.Background(), encode(string(raw)), googleRequest)
		require.NoError(t, err)
		assert.Equal(t, "ross@octolabs.io", a.NameID)
	})
	t.Run("comment inside the signed value", func(t *testing.T) {
		sp := crewjamSP(t, googleMetadata, googleClock, false)
		mutated := strings.Replace(string(raw), "ross@octolabs.io", "ross@<!-- c -->octolabs.io", 1)
		require.NotEqual(t, string(raw), mutated)
		a, err := sp.Verify(context.Background(), encode(mutated), googleRequest)
		if err == nil {
			assert.Equal(t, "ross@octolabs.io", a.NameID, "never a NameID cut at the comment")
		} else {
			require.ErrorIs(t, err, saml.ErrMalformed)
		}
	})
	t.Run("text appended after a comment", func(t *testing.T) {
		sp := crewjamSP(t, googleMetadata, googleClock, false)
		mutated := strings.Replace(string(raw), "ross@octolabs.io", "ross@octolabs.io<!-- c -->.example.com", 1)
		_, err := sp.Verify(context.Background(), encode(mutated), googleRequest)
		require.ErrorIs(t, err, saml.ErrSignature)
	})
}
