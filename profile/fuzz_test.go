package profile_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gatehouse-id/gatehouse/profile"
)

// FuzzUnmarshalJSON checks that reading a profile never panics, that every
// refusal is a *FieldError matching ErrInvalid and leaves the target
// unchanged, and that what is accepted round-trips through JSON.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		`{"description":"d","provider":"okta","loginURL":"https://idp.example.com/sso","enforceSAMLApplications":true}`,
		`{"description":"d","provider":"entra-id","metadataURL":"https://login.microsoftonline.com/t/federationmetadata/2007-06/federationmetadata.xml?appid=x"}`,
		`{"provider":"jumpcloud","provider":"okta"}`,
		`{"Provider":"okta"}`,
		`{"allowSingleSignOn":"yes"}`,
		`{"idpCertificates":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`,
		`[]`, `null`, `{}`, `{"domainAuthentication":"none"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := profile.New(profile.Google)
		before := p
		if err := p.UnmarshalJSON(data); err != nil {
			var fe *profile.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, profile.ErrInvalid) {
				t.Fatalf("error is not a *FieldError matching ErrInvalid: %v", err)
			}
			if p != before {
				t.Fatalf("refused document changed the profile")
			}
			return
		}
		_ = p.Validate()
		_ = p.String()
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back profile.Profile
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-read of %s: %v", out, err)
		}
		out2, err := json.Marshal(back)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("round trip changed %s into %s (%v)", out, out2, err)
		}
	})
}
