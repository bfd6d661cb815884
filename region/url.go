package region

import (
	"net/url"
	"strings"
)

// target is an input split into the parts this package looks at.
type target struct {
	host     string // lower case, without port or trailing dot
	rawHost  string // host as written (case kept), without port
	path     string // escaped path
	query    bool   // a query or fragment was present
	explicit bool   // the input carried a scheme
}

// split parses s as an http(s) URL or, without a scheme, as a host
// optionally followed by a path. It refuses user info, other schemes and
// ports other than the scheme's default.
func split(fn, s string) (target, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return target{}, newError(fn, s, ErrInvalidURL, "empty")
	}
	explicit := strings.Contains(in, "://")
	raw := in
	if !explicit {
		if strings.HasPrefix(in, "/") {
			return target{}, newError(fn, s, ErrInvalidURL, "no host")
		}
		raw = "https://" + in
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, newError(fn, s, ErrInvalidURL, "cannot parse: %v", unwrapURLError(err))
	}
	switch u.Scheme {
	case "https", "http":
	default:
		return target{}, newError(fn, s, ErrInvalidURL, "scheme %q is not http or https", u.Scheme)
	}
	if u.Opaque != "" {
		return target{}, newError(fn, s, ErrInvalidURL, "no host")
	}
	if u.User != nil {
		return target{}, newError(fn, s, ErrInvalidURL, "user info (the part before @) is never part of a Mimecast URL; the host is %q", u.Hostname())
	}
	if port := u.Port(); port != "" {
		if !(u.Scheme == "https" && port == "443") && !(u.Scheme == "http" && port == "80") {
			return target{}, newError(fn, s, ErrInvalidURL, "port %s is not the default port of %s", port, u.Scheme)
		}
	}
	rawHost := strings.TrimSuffix(u.Hostname(), ".")
	if rawHost == "" {
		return target{}, newError(fn, s, ErrInvalidURL, "no host")
	}
	return target{
		host:     strings.ToLower(rawHost),
		rawHost:  rawHost,
		path:     u.EscapedPath(),
		query:    u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(in, "#"),
		explicit: explicit,
	}, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// byAPIHost returns the grid whose API host is host (lower case).
func byAPIHost(host string) (Region, bool) {
	for id := 1; id < len(grids); id++ {
		if host == grids[id].apiHost {
			return Region{uint8(id)}, true
		}
	}
	return Region{}, false
}

// byHost returns the grid whose API or login host is host (lower case).
func byHost(host string) (Region, bool) {
	if r, ok := byAPIHost(host); ok {
		return r, true
	}
	for id := 1; id < len(grids); id++ {
		if grids[id].loginHost != "" && host == grids[id].loginHost {
			return Region{uint8(id)}, true
		}
	}
	return Region{}, false
}

// legacy splits "<api-host>.<ACCOUNT>" (host part in any case).
func legacy(s string) (Region, string, bool) {
	for id := 1; id < len(grids); id++ {
		h := grids[id].apiHost
		if len(s) > len(h)+1 && strings.EqualFold(s[:len(h)], h) && s[len(h)] == '.' {
			return Region{uint8(id)}, s[len(h)+1:], true
		}
	}
	return Region{}, "", false
}

func unknownHost(fn, s, host string) error {
	switch host {
	case DiscoveryHost, ServicesHost, ServicesHostUK, ServicesHostUS:
		return newError(fn, s, ErrUnknownRegion, "%s is a global API host that serves every grid", host)
	}
	return newError(fn, s, ErrUnknownRegion, "host %q is not a Mimecast grid host", host)
}

// FromURL returns the grid named by s, which may be any URL on a grid's
// API or login host (an ACS URL such as
// "https://eu-api.mimecast.com/login/saml"), an entity ID in either form
// ("https://eu-api.mimecast.com/sso/CUK123ABC" or
// "eu-api.mimecast.com.CUK123ABC") or a bare host ("eu-api.mimecast.com").
//
// Surrounding spaces, host case, a trailing slash or dot, http instead of
// https and the scheme's default port are accepted. Nothing is guessed:
// the host must be exactly a grid host, so "eu-api.mimecast.com.evil.example"
// and the global API hosts are errors wrapping [ErrUnknownRegion]. Input
// that is not an http(s) URL or host, carries user info
// ("https://eu-api.mimecast.com@evil.example/") or another port is an
// error wrapping [ErrInvalidURL].
func FromURL(s string) (Region, error) {
	t, err := split("FromURL", s)
	if err != nil {
		return Region{}, err
	}
	if r, ok := byHost(t.host); ok {
		return r, nil
	}
	if !t.explicit && strings.Trim(t.path, "/") == "" && !t.query {
		if r, acct, ok := legacy(t.rawHost); ok {
			if _, err := NormalizeAccount(acct); err == nil {
				return r, nil
			}
		}
	}
	return Region{}, unknownHost("FromURL", s, t.host)
}

// ParseEntityID splits a service-provider entity ID in either form,
// "https://<api-host>/sso/<ACCOUNT>" or "<api-host>.<ACCOUNT>", into its
// grid and canonical (upper-case) account code. It is the inverse of
// [Region.EntityID] and [Region.LegacyEntityID]. Surrounding spaces, case,
// http instead of https and a trailing slash are accepted; a query,
// fragment, other path or login host is an error wrapping [ErrInvalidURL],
// an unknown host one wrapping [ErrUnknownRegion] and a bad account code an
// [*AccountError].
func ParseEntityID(s string) (Region, string, error) {
	const fn = "ParseEntityID"
	in := strings.TrimSpace(s)
	if !strings.Contains(in, "://") {
		in = strings.TrimRight(in, "/")
		r, acct, ok := legacy(in)
		if !ok {
			if _, known := byHost(strings.TrimSuffix(strings.ToLower(in), ".")); known {
				return Region{}, "", newError(fn, s, ErrInvalidURL, "a host alone is not an entity ID; expected <host>.<ACCOUNT> or https://<host>/sso/<ACCOUNT>")
			}
			if in == "" {
				return Region{}, "", newError(fn, s, ErrInvalidURL, "empty")
			}
			return Region{}, "", newError(fn, s, ErrUnknownRegion, "not of the form <grid-api-host>.<ACCOUNT> or https://<grid-api-host>/sso/<ACCOUNT>")
		}
		if strings.Contains(acct, ".") {
			return Region{}, "", unknownHost(fn, s, strings.ToLower(in))
		}
		norm, err := NormalizeAccount(acct)
		if err != nil {
			return Region{}, "", &Error{Func: fn, Input: s, Err: err}
		}
		return r, norm, nil
	}
	t, err := split(fn, s)
	if err != nil {
		return Region{}, "", err
	}
	r, ok := byAPIHost(t.host)
	if !ok {
		if _, login := byHost(t.host); login {
			return Region{}, "", newError(fn, s, ErrInvalidURL, "entity IDs are on the API host, not the login host %q", t.host)
		}
		return Region{}, "", unknownHost(fn, s, t.host)
	}
	if t.query {
		return Region{}, "", newError(fn, s, ErrInvalidURL, "an entity ID has no query or fragment")
	}
	p := strings.TrimRight(t.path, "/")
	if len(p) < len("/sso/") || !strings.EqualFold(p[:len("/sso/")], "/sso/") {
		return Region{}, "", newError(fn, s, ErrInvalidURL, "path %q is not /sso/<ACCOUNT>", t.path)
	}
	norm, err := NormalizeAccount(p[len("/sso/"):])
	if err != nil {
		return Region{}, "", &Error{Func: fn, Input: s, Err: err}
	}
	return r, norm, nil
}

// ParseACSURL returns the grid and application of an assertion consumer
// service URL such as "https://eu-api.mimecast.com/login/sso/adcon". It
// accepts what [FromURL] accepts in case, spaces, scheme and trailing
// slash, but the host must be an API host and the path one of the ACS
// paths ([App.Path]); anything else is an error wrapping [ErrInvalidURL] or
// [ErrUnknownRegion].
func ParseACSURL(s string) (Region, App, error) {
	const fn = "ParseACSURL"
	t, err := split(fn, s)
	if err != nil {
		return Region{}, 0, err
	}
	r, ok := byAPIHost(t.host)
	if !ok {
		if _, login := byHost(t.host); login {
			return Region{}, 0, newError(fn, s, ErrInvalidURL, "ACS URLs are on the API host, not the login host %q", t.host)
		}
		return Region{}, 0, unknownHost(fn, s, t.host)
	}
	if t.query {
		return Region{}, 0, newError(fn, s, ErrInvalidURL, "an ACS URL has no query or fragment")
	}
	p := strings.ToLower(strings.TrimRight(t.path, "/"))
	for _, a := range Apps() {
		if p == a.Path() {
			return r, a, nil
		}
	}
	return Region{}, 0, newError(fn, s, ErrInvalidURL, "path %q is not an ACS path (%s, %s or %s)", t.path, Applications.Path(), PersonalPortal.Path(), AdminConsole.Path())
}
