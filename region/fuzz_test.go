package region_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/region"
)

// FuzzFromURL checks that FromURL never panics, that every region it
// returns is a real grid, that the grid's own URLs lead back to it, and
// that a result never comes from a host that is not exactly a grid host.
func FuzzFromURL(f *testing.F) {
	for _, s := range []string{
		"https://eu-api.mimecast.com/login/saml",
		"eu-api.mimecast.com",
		"eu-api.mimecast.com.CUK123ABC",
		"https://eu-api.mimecast.com/sso/CUK123ABC",
		"http://US-API.mimecast.com:80/",
		"https://eu-api.mimecast.com@evil.example/",
		"eu-api.mimecast.com.evil.example",
		"https://uspcom-api.mimecast-pscom-us.com/login/sso/adcon",
		"login-za.mimecast.com",
		" https://[::1]:443/%zz ",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := region.FromURL(s)
		if err != nil {
			if !r.IsZero() {
				t.Fatalf("FromURL(%q) returned region %q with error %v", s, r.Code(), err)
			}
			if err.Error() == "" {
				t.Fatalf("FromURL(%q): empty error message", s)
			}
			return
		}
		if r.IsZero() {
			t.Fatalf("FromURL(%q) returned the zero region without error", s)
		}
		// The input must name the grid's API or login host.
		low := strings.ToLower(s)
		if !strings.Contains(low, r.APIHost()) && (r.LoginHost() == "" || !strings.Contains(low, r.LoginHost())) {
			t.Fatalf("FromURL(%q) = %q but the input does not contain its host", s, r.Code())
		}
		for _, a := range region.Apps() {
			back, err := region.FromURL(r.ACSURL(a))
			if err != nil || back != r {
				t.Fatalf("FromURL(ACSURL) of %q: %v, %v", r.Code(), back, err)
			}
		}
		if got, err := region.Lookup(r.Code()); err != nil || got != r {
			t.Fatalf("Lookup(%q) = %v, %v", r.Code(), got, err)
		}
	})
}

// FuzzParseEntityID checks that ParseEntityID never panics and that what
// it returns round-trips through both entity ID forms.
func FuzzParseEntityID(f *testing.F) {
	for _, s := range []string{
		"https://eu-api.mimecast.com/sso/CUK123ABC",
		"eu-api.mimecast.com.CUK123ABC",
		"http://EU-API.mimecast.com/sso/cuk1/",
		"https://eu-api.mimecast.com/sso/CUK%41",
		"eu-api.mimecast.com.evil.example",
		"https://eu-api.mimecast.com@evil.example/sso/X",
		"jer-api.mimecast.com." + strings.Repeat("A", 33),
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, acct, err := region.ParseEntityID(s)
		if err != nil {
			if !r.IsZero() || acct != "" {
				t.Fatalf("ParseEntityID(%q) returned %q, %q with error %v", s, r.Code(), acct, err)
			}
			return
		}
		if r.IsZero() {
			t.Fatalf("ParseEntityID(%q) returned the zero region", s)
		}
		norm, err := region.NormalizeAccount(acct)
		if err != nil || norm != acct {
			t.Fatalf("ParseEntityID(%q) account %q is not canonical: %v", s, acct, err)
		}
		id, err := r.EntityID(acct)
		if err != nil {
			t.Fatal(err)
		}
		legacy, err := r.LegacyEntityID(acct)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []string{id, legacy} {
			r2, acct2, err := region.ParseEntityID(form)
			if err != nil || r2 != r || acct2 != acct {
				t.Fatalf("round trip of %q via %q: %v %q %v", s, form, r2, acct2, err)
			}
			if r3, err := region.FromURL(form); err != nil || r3 != r {
				t.Fatalf("FromURL(%q) = %v, %v; want %q", form, r3, err, r.Code())
			}
		}
	})
}
