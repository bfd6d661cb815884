package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/examples/internal/harness"
	"github.com/gatehouse-id/gatehouse/profile"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

type fixture struct {
	idp     *samltest.IdP
	ts      *httptest.Server
	srv     *server
	browser *http.Client
	acs     string
	entity  string
}

// start runs the sp-server on a loopback TLS server, configured from a
// profile JSON file filled from a test IdP's metadata.
func start(t *testing.T, edit func(*profile.Profile)) *fixture {
	t.Helper()
	idp := samltest.NewIdP(t)
	p := profile.New(profile.Other)
	p.Description = "test"
	require.NoError(t, p.ImportMetadata(idp.Metadata()))
	p.EnforceSAMLApplications = true
	if edit != nil {
		edit(&p)
	}
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))

	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)

	cfg, err := loadConfig(path, "cuk123abc", "", "applications", ts.URL)
	require.NoError(t, err)
	srv, err := newServer(cfg)
	require.NoError(t, err)
	ts.Config.Handler = srv

	roots, err := harness.RootCAs(idp.Client())
	require.NoError(t, err)
	roots = roots.Clone()
	roots.AddCert(ts.Certificate())
	return &fixture{
		idp: idp, ts: ts, srv: srv, browser: harness.Browser(nil, roots),
		acs: ts.URL + "/login/saml", entity: ts.URL + "/sso/CUK123ABC",
	}
}

func read(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// signIn follows the browser through the whole SP-initiated flow starting
// at path and returns the IdP's form fields and the final page.
func (f *fixture) signIn(t *testing.T, path string) (url.Values, *http.Response) {
	t.Helper()
	resp, err := f.browser.Get(f.ts.URL + path)
	require.NoError(t, err)
	page := read(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	require.True(t, strings.HasPrefix(resp.Request.URL.String(), f.idp.SSOURL()), "the browser ends at the IdP: %s", resp.Request.URL)
	action, fields, err := harness.ParsePostForm([]byte(page))
	require.NoError(t, err)
	require.Equal(t, f.acs, action)
	resp, err = f.browser.PostForm(action, fields)
	require.NoError(t, err)
	return fields, resp
}

func TestSignInFlow(t *testing.T) {
	f := start(t, nil)
	_, resp := f.signIn(t, "/")
	page := read(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	assert.Equal(t, f.ts.URL+"/", resp.Request.URL.String())
	assert.Contains(t, page, "Hello, alice@example.com")
	assert.Contains(t, page, "Alice Example")

	reqs := f.idp.AuthnRequests()
	require.Len(t, reqs, 1)
	assert.Equal(t, f.entity, reqs[0].Issuer)
	assert.Equal(t, f.acs, reqs[0].ACSURL)

	// The ACS answered 303 with the session cookie: HttpOnly, Secure and
	// SameSite=Lax.
	acsResp := resp.Request.Response
	require.NotNil(t, acsResp)
	assert.Equal(t, http.StatusSeeOther, acsResp.StatusCode)
	var setCookie, clearLogin string
	for _, v := range acsResp.Header.Values("Set-Cookie") {
		switch {
		case strings.HasPrefix(v, cookieName+"="):
			setCookie = v
		case strings.HasPrefix(v, loginCookie+"="):
			clearLogin = v
		}
	}
	assert.Contains(t, clearLogin, "Max-Age=0", "the sign-in cookie is cleared at the ACS")
	assert.Contains(t, setCookie, cookieName+"=")
	assert.Contains(t, setCookie, "HttpOnly")
	assert.Contains(t, setCookie, "Secure")
	assert.Contains(t, setCookie, "SameSite=Lax")

	// Signed in: / answers directly.
	resp, err := f.browser.Get(f.ts.URL + "/")
	require.NoError(t, err)
	assert.Contains(t, read(t, resp), "Hello, alice@example.com")
	assert.Len(t, f.idp.AuthnRequests(), 1, "no second trip to the IdP")

	// A link cannot sign out: GET /logout is not served.
	resp, err = f.browser.Get(f.ts.URL + "/logout")
	require.NoError(t, err)
	read(t, resp)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = f.browser.Get(f.ts.URL + "/")
	require.NoError(t, err)
	assert.Contains(t, read(t, resp), "Hello, alice@example.com", "still signed in")

	// Sign out: the session is gone.
	resp, err = f.browser.Post(f.ts.URL+"/logout", "application/x-www-form-urlencoded", nil)
	require.NoError(t, err)
	assert.Contains(t, read(t, resp), "signed out")
	noRedirect := *f.browser
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = noRedirect.Get(f.ts.URL + "/")
	require.NoError(t, err)
	read(t, resp)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/login?return=%2F", resp.Header.Get("Location"))
}

func TestReturnPathStaysOnSite(t *testing.T) {
	f := start(t, nil)
	_, resp := f.signIn(t, "/login?return="+url.QueryEscape("https://evil.example/"))
	read(t, resp)
	assert.Equal(t, f.ts.URL+"/", resp.Request.URL.String())

	for in, want := range map[string]string{
		"/reports?x=1": "/reports?x=1", "//evil.example/": "/", "/\\evil.example": "/",
		"https://evil.example": "/", "": "/", "relative": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		assert.Equal(t, want, localPath(in), in)
	}
}

func TestACSRefusesReplayAndForgery(t *testing.T) {
	f := start(t, nil)
	fields, resp := f.signIn(t, "/")
	read(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// The same response, posted again: its RelayState is used up, so no
	// request is outstanding and its InResponseTo matches none. Refused.
	resp, err := f.browser.PostForm(f.acs, fields)
	require.NoError(t, err)
	body := read(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "sign-in refused: InResponseTo")

	// A response signed by a key the IdP metadata does not list.
	forged := f.idp.Response(samltest.WithAudience(f.entity), samltest.WithDestination(f.acs), samltest.WithRecipient(f.acs), samltest.WithForeignKey())
	resp, err = f.browser.PostForm(f.acs, url.Values{"SAMLResponse": {forged}})
	require.NoError(t, err)
	body = read(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "sign-in refused")

	// Garbage.
	resp, err = f.browser.PostForm(f.acs, url.Values{"SAMLResponse": {"not base64!"}})
	require.NoError(t, err)
	read(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestIdPInitiated(t *testing.T) {
	// Off (the default): an unsolicited response is refused.
	f := start(t, nil)
	resp, err := f.browser.PostForm(f.acs, url.Values{"SAMLResponse": {
		f.idp.Response(samltest.WithAudience(f.entity), samltest.WithDestination(f.acs), samltest.WithRecipient(f.acs)),
	}})
	require.NoError(t, err)
	assert.Contains(t, read(t, resp), "unsolicited")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	// On: accepted once, refused when replayed.
	f = start(t, func(p *profile.Profile) { p.AllowSingleSignOn = true })
	response := f.idp.Response(samltest.WithAudience(f.entity), samltest.WithDestination(f.acs), samltest.WithRecipient(f.acs))
	resp, err = f.browser.PostForm(f.acs, url.Values{"SAMLResponse": {response}})
	require.NoError(t, err)
	assert.Contains(t, read(t, resp), "Hello, alice@example.com")
	resp, err = f.browser.PostForm(f.acs, url.Values{"SAMLResponse": {response}})
	require.NoError(t, err)
	assert.Contains(t, read(t, resp), "replay")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestMetadataEndpoint(t *testing.T) {
	f := start(t, nil)
	resp, err := f.browser.Get(f.ts.URL + "/metadata")
	require.NoError(t, err)
	body := read(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/samlmetadata+xml", resp.Header.Get("Content-Type"))
	assert.Contains(t, body, `entityID="`+f.entity+`"`)
	assert.Contains(t, body, `Location="`+f.acs+`"`)
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"description":"x","provider":"okta","enforceSAMLApplication":true}`), 0o600))
	_, err := loadConfig(path, "CUK1", "", "applications", "")
	require.ErrorIs(t, err, profile.ErrInvalid)
	assert.Contains(t, err.Error(), "enforceSAMLApplication: unknown field")

	_, err = loadConfig("", "CUK1", "", "applications", "")
	require.Error(t, err)

	require.NoError(t, os.WriteFile(path, []byte(`{"description":"x","provider":"okta"}`), 0o600))
	cfg, err := loadConfig(path, "CUK1", "", "applications", "")
	require.NoError(t, err)
	_, err = newServer(cfg)
	require.ErrorIs(t, err, profile.ErrInvalid, "a profile without an IdP cannot serve")

	_, err = loadConfig(path, "CUK1", "", "webmail", "")
	require.Error(t, err)
}

// Login CSRF: a response to a sign-in started in one browser, posted from
// another browser, is refused; the browser that started it gets in.
func TestACSRefusesSignInFromAnotherBrowser(t *testing.T) {
	f := start(t, nil)
	resp, err := f.browser.Get(f.ts.URL + "/")
	require.NoError(t, err)
	page := read(t, resp)
	require.True(t, strings.HasPrefix(resp.Request.URL.String(), f.idp.SSOURL()), "the browser ends at the IdP: %s", resp.Request.URL)
	action, fields, err := harness.ParsePostForm([]byte(page))
	require.NoError(t, err)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	other := *f.browser
	other.Jar = jar
	resp, err = other.PostForm(action, fields)
	require.NoError(t, err)
	body := read(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "started in another browser")
	assert.NotContains(t, body, "Hello, alice@example.com")

	// The pending sign-in was used up by the refused attempt: the starting
	// browser has to sign in again, and then it works.
	_, resp = f.signIn(t, "/")
	assert.Contains(t, read(t, resp), "Hello, alice@example.com")
}
