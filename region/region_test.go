package region_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/region"
)

type gridWant struct {
	ctor      func() region.Region
	code      string
	name      string
	apiHost   string
	loginHost string
	prefix    string
}

var wantGrids = []gridWant{
	{region.EU, "eu", "Europe", "eu-api.mimecast.com", "login-eu.mimecast.com", "CUK"},
	{region.DE, "de", "Germany", "de-api.mimecast.com", "", "CDE"},
	{region.US, "us", "United States", "us-api.mimecast.com", "login-us.mimecast.com", "CUSA"},
	{region.USB, "usb", "United States (B grid)", "usb-api.mimecast.com", "", "CUSB"},
	{region.CA, "ca", "Canada", "ca-api.mimecast.com", "", "CCA"},
	{region.ZA, "za", "South Africa", "za-api.mimecast.com", "login-za.mimecast.com", "CSA"},
	{region.AU, "au", "Australia", "au-api.mimecast.com", "login-au.mimecast.com", "CAU"},
	{region.JER, "jer", "Offshore", "jer-api.mimecast.com", "", ""},
	{region.USPCOM, "uspcom", "US Public Sector", "uspcom-api.mimecast-pscom-us.com", "", ""},
}

func TestAllStableOrderAndFields(t *testing.T) {
	all := region.All()
	require.Len(t, all, len(wantGrids))
	for i, w := range wantGrids {
		r := all[i]
		t.Run(w.code, func(t *testing.T) {
			assert.Equal(t, w.ctor(), r, "All()[%d] is the named constructor's region", i)
			assert.False(t, r.IsZero())
			assert.Equal(t, w.code, r.Code())
			assert.Equal(t, w.code, r.String())
			assert.Equal(t, w.name, r.Name())
			assert.Equal(t, w.apiHost, r.APIHost())
			assert.Equal(t, w.loginHost, r.LoginHost())
			assert.Equal(t, w.prefix, r.AccountPrefix())
			assert.Equal(t, "https://"+w.apiHost, r.BaseURL())
		})
	}
	// A fresh slice each call: changing it changes nothing for the next caller.
	all[0] = region.Region{}
	assert.Equal(t, region.EU(), region.All()[0])
}

func TestRegionsAreDistinct(t *testing.T) {
	seen := map[region.Region]string{}
	for _, r := range region.All() {
		_, dup := seen[r]
		require.False(t, dup, "duplicate region %s", r.Code())
		seen[r] = r.Code()
	}
}

func TestGlobalHosts(t *testing.T) {
	assert.Equal(t, "api.mimecast.com", region.DiscoveryHost)
	assert.Equal(t, "api.services.mimecast.com", region.ServicesHost)
	assert.Equal(t, "uk-api.services.mimecast.com", region.ServicesHostUK)
	assert.Equal(t, "us-api.services.mimecast.com", region.ServicesHostUS)
	for _, h := range []string{region.DiscoveryHost, region.ServicesHost, region.ServicesHostUK, region.ServicesHostUS} {
		_, err := region.FromURL("https://" + h + "/api/login")
		require.ErrorIs(t, err, region.ErrUnknownRegion, h)
		assert.Contains(t, err.Error(), "global API host")
	}
}

func TestApps(t *testing.T) {
	tests := []struct {
		app   region.App
		path  string
		name  string
		token string
	}{
		{region.Applications, "/login/saml", "Applications", "applications"},
		{region.PersonalPortal, "/login/sso/mpp", "Personal Portal", "personal-portal"},
		{region.AdminConsole, "/login/sso/adcon", "Admin Console", "admin-console"},
	}
	require.Equal(t, []region.App{region.Applications, region.PersonalPortal, region.AdminConsole}, region.Apps())
	var zero region.App
	assert.Equal(t, region.Applications, zero, "the zero App is Applications")
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			assert.Equal(t, tt.path, tt.app.Path())
			assert.Equal(t, tt.name, tt.app.String())
			txt, err := tt.app.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, tt.token, string(txt))
			for _, in := range []string{tt.token, tt.name, strings.ToUpper(tt.name), " " + tt.path + "/ ", tt.path} {
				got, err := region.ParseApp(in)
				require.NoError(t, err, in)
				assert.Equal(t, tt.app, got, in)
			}
			for _, r := range region.All() {
				assert.Equal(t, "https://"+r.APIHost()+tt.path, r.ACSURL(tt.app))
				gr, ga, err := region.ParseACSURL(r.ACSURL(tt.app))
				require.NoError(t, err)
				assert.Equal(t, r, gr)
				assert.Equal(t, tt.app, ga)
			}
		})
	}
	for _, in := range []string{"mpp", "adcon", "apps"} {
		_, err := region.ParseApp(in)
		require.NoError(t, err, in)
	}
	bad := region.App(7)
	assert.Equal(t, "", bad.Path())
	assert.Equal(t, "App(7)", bad.String())
	assert.Equal(t, "", region.EU().ACSURL(bad))
	_, err := bad.MarshalText()
	require.Error(t, err)
	assert.Equal(t, "", region.App(-1).Path())
	_, err = region.ParseApp("webmail")
	require.ErrorIs(t, err, region.ErrUnknownApp)
	assert.Contains(t, err.Error(), `"webmail"`)
	_, err = region.ParseApp("/login/other")
	require.ErrorIs(t, err, region.ErrUnknownApp)
}

func TestAppJSON(t *testing.T) {
	type cfg struct {
		App region.App `json:"app"`
	}
	for _, a := range region.Apps() {
		b, err := json.Marshal(cfg{a})
		require.NoError(t, err)
		var back cfg
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, a, back.App)
	}
	var c cfg
	err := json.Unmarshal([]byte(`{"app":"webmail"}`), &c)
	require.ErrorIs(t, err, region.ErrUnknownApp)
}

func TestEntityIDs(t *testing.T) {
	for _, w := range wantGrids {
		r := w.ctor()
		t.Run(w.code, func(t *testing.T) {
			id, err := r.EntityID(" cuk123Abc ")
			require.NoError(t, err)
			assert.Equal(t, "https://"+w.apiHost+"/sso/CUK123ABC", id)
			legacy, err := r.LegacyEntityID("cuk123abc")
			require.NoError(t, err)
			assert.Equal(t, w.apiHost+".CUK123ABC", legacy)

			for _, form := range []string{id, legacy} {
				gr, acct, err := region.ParseEntityID(form)
				require.NoError(t, err, form)
				assert.Equal(t, r, gr, form)
				assert.Equal(t, "CUK123ABC", acct, form)
				fr, err := region.FromURL(form)
				require.NoError(t, err, form)
				assert.Equal(t, r, fr, form)
			}
		})
	}
}

func TestEntityIDRejectsBadAccounts(t *testing.T) {
	_, err := region.EU().EntityID("CUK-123")
	var ae *region.AccountError
	require.ErrorAs(t, err, &ae)
	require.ErrorIs(t, err, region.ErrInvalidAccount)
	assert.Equal(t, 4, ae.Pos)
	assert.Equal(t, '-', ae.Char)
	assert.Equal(t, `region: invalid account code "CUK-123": character '-' at position 4 is not an ASCII letter or digit`, err.Error())

	_, err = region.EU().LegacyEntityID("")
	require.ErrorIs(t, err, region.ErrInvalidAccount)

	_, err = region.Region{}.EntityID("CUK1")
	require.ErrorIs(t, err, region.ErrUnknownRegion)
	_, err = region.Region{}.LegacyEntityID("CUK1")
	require.ErrorIs(t, err, region.ErrUnknownRegion)
}

func TestZeroRegion(t *testing.T) {
	var r region.Region
	assert.True(t, r.IsZero())
	assert.Equal(t, "", r.Code())
	assert.Equal(t, "", r.Name())
	assert.Equal(t, "", r.APIHost())
	assert.Equal(t, "", r.LoginHost())
	assert.Equal(t, "", r.BaseURL())
	assert.Equal(t, "", r.ACSURL(region.Applications))
	assert.Equal(t, "", r.String())
}

func TestNormalizeAccount(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		pos     int
		char    rune
		message string
	}{
		{in: "CUK123ABC", want: "CUK123ABC"},
		{in: "  cuk123abc\t", want: "CUK123ABC"},
		{in: "c", want: "C"},
		{in: strings.Repeat("A", 32), want: strings.Repeat("A", 32)},
		{in: "", message: "region: invalid account code: empty"},
		{in: "   ", message: "region: invalid account code: empty"},
		{in: strings.Repeat("A", 33), message: "33 characters long, at most 32 allowed"},
		{in: "CUK 123", pos: 4, char: ' ', message: `character ' ' at position 4`},
		{in: "CUK_1", pos: 4, char: '_'},
		{in: "CUK123/", pos: 7, char: '/'},
		{in: "ÄBC", pos: 1, char: 'Ä', message: "not an ASCII letter or digit"},
		{in: "CUKé9", pos: 4, char: 'é'},
		{in: "CUK\x00", pos: 4, char: 0},
		{in: "ab\xffcd", pos: 3, char: '\uFFFD'},
		{in: "CUK.1", pos: 4, char: '.'},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := region.NormalizeAccount(tt.in)
			if tt.want != "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				assert.NoError(t, region.ValidateAccount(tt.in))
				return
			}
			require.ErrorIs(t, err, region.ErrInvalidAccount)
			assert.Equal(t, err, region.ValidateAccount(tt.in))
			var ae *region.AccountError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.pos, ae.Pos)
			if tt.pos > 0 {
				assert.Equal(t, tt.char, ae.Char)
			}
			if tt.message != "" {
				assert.Contains(t, err.Error(), tt.message)
			}
		})
	}
}

func TestForAccount(t *testing.T) {
	tests := []struct {
		account string
		want    region.Region
	}{
		{"CUK123ABC", region.EU()},
		{"cuk123abc", region.EU()},
		{" CDE1A2 ", region.DE()},
		{"CUSA12345", region.US()},
		{"CUSB12345", region.USB()},
		{"cusb9", region.USB()},
		{"CCA77", region.CA()},
		{"CSA1", region.ZA()},
		{"CAU1B2", region.AU()},
		// Prefixes are matched on the whole prefix: CUSB is never CUSA.
		{"CUSAB1", region.US()},
		{"CUSBA1", region.USB()},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			got, err := region.ForAccount(tt.account)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for _, r := range region.All() {
		if r.AccountPrefix() == "" {
			continue
		}
		got, err := region.ForAccount(r.AccountPrefix() + "0X1")
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}

	for _, bad := range []string{"CUS123", "CUSC1", "XUK123", "CU", "C", "UK123", "CJE1"} {
		_, err := region.ForAccount(bad)
		require.ErrorIs(t, err, region.ErrUnknownRegion, bad)
		assert.NotErrorIs(t, err, region.ErrInvalidAccount, bad)
		assert.Contains(t, err.Error(), "no known grid prefix", bad)
	}
	for _, bad := range []string{"", "CUK-1", "CUK 1", strings.Repeat("C", 40)} {
		_, err := region.ForAccount(bad)
		require.ErrorIs(t, err, region.ErrInvalidAccount, bad)
		assert.NotErrorIs(t, err, region.ErrUnknownRegion, bad)
	}
}

func TestLookup(t *testing.T) {
	for _, w := range wantGrids {
		r := w.ctor()
		inputs := []string{
			w.code, strings.ToUpper(w.code), " " + w.code + " ", w.code + "-api",
			w.name, strings.ToUpper(w.name), strings.ToLower(w.name), "  " + strings.ReplaceAll(w.name, " ", "   ") + "\n",
			w.apiHost, strings.ToUpper(w.apiHost),
		}
		if w.loginHost != "" {
			inputs = append(inputs, w.loginHost)
		}
		for _, in := range inputs {
			got, err := region.Lookup(in)
			require.NoError(t, err, "%q", in)
			assert.Equal(t, r, got, "%q", in)
		}
	}
	aliases := map[string]region.Region{
		"uk": region.EU(), "UK": region.EU(),
		"je": region.JER(), "JE": region.JER(), "je-api": region.JER(), "Je-Api": region.JER(),
		"offshore": region.JER(), "Offshore": region.JER(), "jersey": region.JER(),
		"united states (b grid)": region.USB(), "us public sector": region.USPCOM(),
	}
	for in, want := range aliases {
		got, err := region.Lookup(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", " ", "europe2", "eu-api.mimecast.com.evil.example", "https://eu-api.mimecast.com", "api.mimecast.com", "gb", "u s", "mimecast"} {
		_, err := region.Lookup(bad)
		require.ErrorIs(t, err, region.ErrUnknownRegion, "%q", bad)
		var re *region.Error
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "Lookup", re.Func)
		assert.Equal(t, bad, re.Input)
		assert.Contains(t, err.Error(), "known codes: eu, de, us, usb, ca, za, au, jer, uspcom")
	}
}

func TestRegionJSON(t *testing.T) {
	type cfg struct {
		Region region.Region `json:"region"`
	}
	for _, r := range region.All() {
		b, err := json.Marshal(cfg{r})
		require.NoError(t, err)
		assert.JSONEq(t, `{"region":"`+r.Code()+`"}`, string(b))
		var back cfg
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, r, back.Region)
	}
	var c cfg
	require.NoError(t, json.Unmarshal([]byte(`{"region":"UK"}`), &c))
	assert.Equal(t, region.EU(), c.Region)
	require.NoError(t, json.Unmarshal([]byte(`{"region":""}`), &c))
	assert.True(t, c.Region.IsZero())
	err := json.Unmarshal([]byte(`{"region":"mars"}`), &c)
	require.ErrorIs(t, err, region.ErrUnknownRegion)
	b, err := json.Marshal(cfg{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"region":""}`, string(b))
}

func TestFromURLAccepts(t *testing.T) {
	for _, w := range wantGrids {
		r := w.ctor()
		h := w.apiHost
		inputs := []string{
			h, h + "/", strings.ToUpper(h), "  " + h + "  ", h + ".",
			"https://" + h, "https://" + h + "/", "http://" + h + "/", "HTTPS://" + strings.ToUpper(h) + "/",
			"https://" + h + ":443/login/saml", "http://" + h + ":80/login/saml", h + ":443",
			"https://" + h + "/login/saml", "https://" + h + "/login/sso/mpp/", "https://" + h + "/login/sso/adcon",
			"https://" + h + "/sso/CUK123ABC", "https://" + h + "/sso/cuk123abc/", h + ".CUK123ABC", h + ".cuk1",
			" https://" + h + "/login/saml?x=1 ", "https://" + h + "./login/saml",
		}
		if w.loginHost != "" {
			inputs = append(inputs, w.loginHost, "https://"+w.loginHost+"/")
		}
		for _, in := range inputs {
			got, err := region.FromURL(in)
			require.NoError(t, err, "%q", in)
			assert.Equal(t, r, got, "%q", in)
		}
	}
}

func TestFromURLRejects(t *testing.T) {
	tests := []struct {
		in   string
		want error
		msg  string
	}{
		{"eu-api.mimecast.com.evil.example", region.ErrUnknownRegion, `host "eu-api.mimecast.com.evil.example" is not a Mimecast grid host`},
		{"https://eu-api.mimecast.com.evil.example/login/saml", region.ErrUnknownRegion, "not a Mimecast grid host"},
		{"https://evil.example/eu-api.mimecast.com", region.ErrUnknownRegion, `"evil.example"`},
		{"https://evil.example/?host=eu-api.mimecast.com", region.ErrUnknownRegion, ""},
		{"https://eu-api.mimecast.com@evil.example/", region.ErrInvalidURL, "user info"},
		{"eu-api.mimecast.com@evil.example", region.ErrInvalidURL, "user info"},
		{"https://user:pw@eu-api.mimecast.com/", region.ErrInvalidURL, "user info"},
		{"https://evil.example#@eu-api.mimecast.com", region.ErrUnknownRegion, ""},
		{"https://evil.example\\@eu-api.mimecast.com/", region.ErrInvalidURL, ""},
		{"https://eu-api.mimecast.com:8443/login/saml", region.ErrInvalidURL, "port 8443"},
		{"http://eu-api.mimecast.com:443/", region.ErrInvalidURL, "port 443"},
		{"eu-api.mimecast.com:80", region.ErrInvalidURL, "port 80"},
		{"ftp://eu-api.mimecast.com/", region.ErrInvalidURL, `scheme "ftp"`},
		{"javascript://eu-api.mimecast.com/", region.ErrInvalidURL, "scheme"},
		{"", region.ErrInvalidURL, "empty"},
		{"   ", region.ErrInvalidURL, "empty"},
		{"/login/saml", region.ErrInvalidURL, "no host"},
		{"https:///login/saml", region.ErrInvalidURL, "no host"},
		{"https://eu-api.mimecast.com\n/x", region.ErrInvalidURL, "cannot parse"},
		{"mimecast.com", region.ErrUnknownRegion, ""},
		{"xeu-api.mimecast.com", region.ErrUnknownRegion, ""},
		{"eu-api.mimecast.com.", nil, ""},
		{"https://eu-api.mimecast.com.CUK123/", region.ErrUnknownRegion, ""},
		{"eu-api.mimecast.com.CUK123/login/saml", region.ErrUnknownRegion, ""},
		{"api.mimecast.com", region.ErrUnknownRegion, "global API host"},
		{"eu-api-mimecast.com", region.ErrUnknownRegion, ""},
		{"https://[::1]/login/saml", region.ErrUnknownRegion, ""},
		{"https://127.0.0.1/login/saml", region.ErrUnknownRegion, ""},
		{"https://eu-api.mimecast.com%2eevil.example/", region.ErrInvalidURL, "cannot parse"},
		{"https://eu-api.mimecast.com%2Eevil.example/", region.ErrInvalidURL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := region.FromURL(tt.in)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			assert.True(t, r.IsZero())
			var re *region.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "FromURL", re.Func)
			assert.Contains(t, err.Error(), "region: FromURL ")
			if tt.msg != "" {
				assert.Contains(t, err.Error(), tt.msg)
			}
		})
	}
}

func TestParseEntityIDRejects(t *testing.T) {
	tests := []struct {
		in   string
		want error
		msg  string
	}{
		{"eu-api.mimecast.com", region.ErrInvalidURL, "a host alone"},
		{"eu-api.mimecast.com.", region.ErrInvalidURL, "a host alone"},
		{"eu-api.mimecast.com.evil.example", region.ErrUnknownRegion, "not a Mimecast grid host"},
		{"eu-api.mimecast.com.CUK-1", region.ErrInvalidAccount, "'-' at position 4"},
		{"https://eu-api.mimecast.com/sso/", region.ErrInvalidURL, "not /sso/<ACCOUNT>"},
		{"https://eu-api.mimecast.com/sso/CUK1/extra", region.ErrInvalidAccount, "'/' at position 5"},
		{"https://eu-api.mimecast.com/sso/CUK%41", region.ErrInvalidAccount, "'%'"},
		{"https://eu-api.mimecast.com/login/saml", region.ErrInvalidURL, "not /sso/<ACCOUNT>"},
		{"https://eu-api.mimecast.com/", region.ErrInvalidURL, "not /sso/<ACCOUNT>"},
		{"https://eu-api.mimecast.com/sso/CUK1?x=1", region.ErrInvalidURL, "query"},
		{"https://eu-api.mimecast.com/sso/CUK1#frag", region.ErrInvalidURL, "query or fragment"},
		{"https://login-eu.mimecast.com/sso/CUK1", region.ErrInvalidURL, "login host"},
		{"https://eu-api.mimecast.com.evil.example/sso/CUK1", region.ErrUnknownRegion, ""},
		{"https://eu-api.mimecast.com@evil.example/sso/CUK1", region.ErrInvalidURL, "user info"},
		{"https://eu-api.mimecast.com:8443/sso/CUK1", region.ErrInvalidURL, "port"},
		{"evil.example.CUK1", region.ErrUnknownRegion, ""},
		{"", region.ErrInvalidURL, "empty"},
		{"https://api.mimecast.com/sso/CUK1", region.ErrUnknownRegion, "global"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, acct, err := region.ParseEntityID(tt.in)
			require.ErrorIs(t, err, tt.want)
			assert.True(t, r.IsZero())
			assert.Empty(t, acct)
			var re *region.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "ParseEntityID", re.Func)
			if tt.msg != "" {
				assert.Contains(t, err.Error(), tt.msg)
			}
		})
	}
}

func TestParseEntityIDAccepts(t *testing.T) {
	tests := []struct {
		in   string
		want region.Region
		acct string
	}{
		{"https://eu-api.mimecast.com/sso/CUK123ABC", region.EU(), "CUK123ABC"},
		{"  http://EU-API.mimecast.com/sso/cuk123abc/  ", region.EU(), "CUK123ABC"},
		{"https://eu-api.mimecast.com:443/SSO/CUK123ABC", region.EU(), "CUK123ABC"},
		{"eu-api.mimecast.com.CUK123ABC", region.EU(), "CUK123ABC"},
		{"EU-API.MIMECAST.COM.cuk123abc/", region.EU(), "CUK123ABC"},
		{"jer-api.mimecast.com.X1", region.JER(), "X1"},
		{"https://uspcom-api.mimecast-pscom-us.com/sso/ABC", region.USPCOM(), "ABC"},
	}
	for _, tt := range tests {
		r, acct, err := region.ParseEntityID(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, r, tt.in)
		assert.Equal(t, tt.acct, acct, tt.in)
	}
}

func TestParseACSURLRejects(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"https://eu-api.mimecast.com/login", region.ErrInvalidURL},
		{"https://eu-api.mimecast.com/sso/CUK1", region.ErrInvalidURL},
		{"https://eu-api.mimecast.com/login/saml?x", region.ErrInvalidURL},
		{"https://login-eu.mimecast.com/login/saml", region.ErrInvalidURL},
		{"https://eu-api.mimecast.com.evil.example/login/saml", region.ErrUnknownRegion},
		{"https://eu-api.mimecast.com@evil.example/login/saml", region.ErrInvalidURL},
	}
	for _, tt := range tests {
		_, _, err := region.ParseACSURL(tt.in)
		require.ErrorIs(t, err, tt.want, tt.in)
	}
	r, a, err := region.ParseACSURL(" HTTP://AU-API.mimecast.com/LOGIN/SSO/ADCON/ ")
	require.NoError(t, err)
	assert.Equal(t, region.AU(), r)
	assert.Equal(t, region.AdminConsole, a)
}

func TestErrorsAreDistinct(t *testing.T) {
	sentinels := []error{region.ErrUnknownRegion, region.ErrInvalidURL, region.ErrInvalidAccount, region.ErrUnknownApp}
	for i, a := range sentinels {
		for j, b := range sentinels {
			assert.Equal(t, i == j, errors.Is(a, b))
		}
	}
}
