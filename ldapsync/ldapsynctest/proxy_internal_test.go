package ldapsynctest

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadMessage(t *testing.T) {
	startTLS := []byte{0x30, 0x1d, 0x02, 0x01, 0x05, 0x77, 0x18, 0x80, 0x16}
	startTLS = append(startTLS, oidStartTLS...)
	long := append([]byte{0x30, 0x81, byte(len(startTLS) - 2)}, startTLS[2:]...) // same message, long-form length
	for _, msg := range [][]byte{startTLS, long} {
		got, err := readMessage(bufio.NewReader(bytes.NewReader(append(append([]byte{}, msg...), 0x30))))
		require.NoError(t, err)
		assert.Equal(t, msg, got)
		op, id, ok := messageOp(got)
		require.True(t, ok)
		assert.Equal(t, byte(tagExtendedRequest), op)
		assert.EqualValues(t, 5, id)
		assert.Equal(t, oidStartTLS, extendedName(got))
	}
	for _, bad := range [][]byte{{0x31, 0x00}, {0x30, 0x80}, {0x30, 0x85, 1, 2, 3, 4, 5}, {0x30, 0x05, 0x02}, {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}} {
		_, err := readMessage(bufio.NewReader(bytes.NewReader(bad)))
		assert.Error(t, err, "% x", bad)
	}
}

// FuzzReadMessage feeds arbitrary client bytes to the relay's message
// framing: errors are fine, panics are not.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00})
	f.Add([]byte{0x30, 0x81, 0x03, 0x02, 0x01, 0x01})
	f.Add(extendedResponse(7, 0, "x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := readMessage(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if op, _, ok := messageOp(msg); ok && op == tagExtendedRequest {
			_ = extendedName(msg)
		}
	})
}

// FuzzParseDirSync feeds arbitrary control values to the DirSync request
// parser.
func FuzzParseDirSync(f *testing.F) {
	f.Add([]byte{0x30, 0x0a, 0x02, 0x04, 0x80, 0x00, 0x00, 0x01, 0x02, 0x00, 0x04, 0x00})
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseDirSync(string(b))
		if err == nil && len(b) < 5 {
			t.Fatalf("accepted %x as %+v", b, r)
		}
	})
}

func TestParseDirSync(t *testing.T) {
	r, err := parseDirSync(string([]byte{0x30, 0x0d, 0x02, 0x04, 0x80, 0x00, 0x00, 0x01, 0x02, 0x00, 0x04, 0x03, 'a', 'b', 'c'}))
	require.NoError(t, err)
	assert.Equal(t, uint32(0x80000001), r.flags)
	assert.Equal(t, []byte("abc"), r.cookie)
	_, err = parseDirSync("junk")
	assert.Error(t, err)
}
