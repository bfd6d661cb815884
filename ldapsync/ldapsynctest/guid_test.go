package ldapsynctest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

func TestGUIDTextForm(t *testing.T) {
	// The example GUID of Microsoft's documentation and its wire bytes.
	wire := []byte{0xff, 0x19, 0x96, 0x6f, 0x86, 0x8b, 0x11, 0xd0, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	g, err := ldapsynctest.GUIDFromBytes(wire)
	require.NoError(t, err)
	assert.Equal(t, "6f9619ff-8b86-d011-b42d-00c04fc964ff", g.String())
	back, err := ldapsynctest.ParseGUID("{6F9619FF-8B86-D011-B42D-00C04FC964FF}")
	require.NoError(t, err)
	assert.Equal(t, wire, back.Bytes())

	for _, bad := range []string{"", "6f9619ff8b86d011b42d00c04fc964ff", "6f9619ff-8b86-d011-b42d-00c04fc964fg", "6f9619ff-8b86-d011-b42d_00c04fc964ff"} {
		_, err := ldapsynctest.ParseGUID(bad)
		assert.ErrorIs(t, err, ldapsynctest.ErrInvalid, bad)
	}
	_, err = ldapsynctest.GUIDFromBytes(wire[:15])
	assert.ErrorIs(t, err, ldapsynctest.ErrInvalid)
}

func FuzzParseGUID(f *testing.F) {
	f.Add("6f9619ff-8b86-d011-b42d-00c04fc964ff")
	f.Add("{00000000-0000-0000-0000-000000000000}")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ldapsynctest.ParseGUID(s)
		if err != nil {
			return
		}
		again, err := ldapsynctest.ParseGUID(g.String())
		require.NoError(t, err)
		require.Equal(t, g, again)
	})
}
