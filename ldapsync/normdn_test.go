package ldapsync

import (
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parsedNormDN is normDN as it was before the unparsed path: every DN
// through ldap.ParseDN. Scope fingerprints stored in watermarks hold its
// keys, so normDN must return exactly the same.
func parsedNormDN(s string) string {
	d, err := ldap.ParseDN(s)
	if err != nil {
		return "\x02" + strings.ToLower(s)
	}
	var sb strings.Builder
	for i, r := range d.RDNs {
		if i > 0 {
			sb.WriteByte(0)
		}
		for j, a := range r.Attributes {
			if j > 0 {
				sb.WriteByte(1)
			}
			sb.WriteString(strings.ToLower(a.Type))
			sb.WriteByte('=')
			sb.WriteString(strings.ToLower(a.Value))
		}
	}
	return sb.String()
}

var normDNSeeds = []string{
	"CN=User1,OU=People,DC=Example,DC=com",
	"uid=u1,ou=people,dc=example,dc=com",
	"cn=John Smith+uid=js,dc=x",
	"CN=Smith\\, John,DC=x",
	"CN = A , DC = x",
	"CN=A ,DC=x",
	"CN= A,DC=x",
	"CN=A\\ ,DC=x",
	"2.5.4.3=A,DC=x",
	"CN=#04024869,DC=x",
	"CN=a#b,DC=x",
	"CN=a=b,DC=x",
	"CN=,DC=x",
	"=A,DC=x",
	"CN=A,,DC=x",
	"CN=A;DC=x",
	"CN=Ünïcode,DC=x",
	"CN=\xff,DC=x",
	"",
	"   ",
	"CN",
	"CN=A+",
	"CN=A,",
	"CN=<A>,DC=x",
	"CN=A\x00,DC=x",
	"CN=A\tB,DC=x",
	"cn=" + strings.Repeat("x", 300) + ",dc=x",
}

func TestNormDNPlainPath(t *testing.T) {
	for _, dn := range normDNSeeds {
		assert.Equal(t, parsedNormDN(dn), normDN(dn), "%q", dn)
	}
	_, ok := normDNPlain(nil, "CN=User1,OU=People,DC=Example,DC=com")
	assert.True(t, ok, "a DN as directories send it needs no parsing")
	_, ok = normDNPlain(nil, "CN=Smith\\, John,DC=x")
	assert.False(t, ok, "escapes go through the parser")
	assert.Equal(t, "cn=john smith\x01uid=js\x00dc=x", normDN("CN=John Smith+UID=js,DC=x"))
	buf := make([]byte, 0, 64)
	assert.Equal(t, 0.0, testing.AllocsPerRun(10, func() {
		if _, ok := normDNPlain(buf, "CN=User1,OU=People,DC=Example,DC=com"); !ok {
			t.Fatal("not plain")
		}
	}), "the key is written into the caller's buffer")
}

// FuzzNormDN: normDN equals the parsing implementation on every input.
func FuzzNormDN(f *testing.F) {
	for _, dn := range normDNSeeds {
		f.Add(dn)
	}
	f.Fuzz(func(t *testing.T, dn string) {
		want := parsedNormDN(dn)
		require.Equal(t, want, normDN(dn), "%q", dn)
		require.Equal(t, "prefix"+want, string(appendNormDN([]byte("prefix"), dn)), "%q", dn)
	})
}
