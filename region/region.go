package region

import (
	"fmt"
	"strings"
)

// Global API hosts. They serve every grid and so belong to no [Region].
const (
	// DiscoveryHost is the API 1.0 discovery host, which tells a client the
	// grid of an account.
	DiscoveryHost = "api.mimecast.com"
	// ServicesHost is the global API 2.0 host.
	ServicesHost = "api.services.mimecast.com"
	// ServicesHostUK is the API 2.0 host for data held in the United Kingdom.
	ServicesHostUK = "uk-api.services.mimecast.com"
	// ServicesHostUS is the API 2.0 host for data held in the United States.
	ServicesHostUS = "us-api.services.mimecast.com"
)

// Region is one Mimecast grid. It is a small comparable value: use == to
// compare regions and use it as a map key. The zero Region is no grid at
// all; [Region.IsZero] reports it, its accessors return "" and its methods
// that return errors fail with [ErrUnknownRegion].
//
// Get a Region from [Lookup], [ForAccount], [FromURL], [ParseEntityID],
// [All] or the named constructors such as [EU].
type Region struct {
	id uint8 // index into grids; 0 is the zero Region
}

type grid struct {
	code      string
	name      string
	apiHost   string
	loginHost string
	prefix    string   // account-code prefix, "" when not known
	aliases   []string // extra Lookup names, lower case
}

// grids is indexed by Region.id; entry 0 is the zero Region. The order of
// the rest is the order of All.
var grids = [...]grid{
	{},
	{code: "eu", name: "Europe", apiHost: "eu-api.mimecast.com", loginHost: "login-eu.mimecast.com", prefix: "CUK", aliases: []string{"uk"}},
	{code: "de", name: "Germany", apiHost: "de-api.mimecast.com", prefix: "CDE"},
	{code: "us", name: "United States", apiHost: "us-api.mimecast.com", loginHost: "login-us.mimecast.com", prefix: "CUSA"},
	{code: "usb", name: "United States (B grid)", apiHost: "usb-api.mimecast.com", prefix: "CUSB"},
	{code: "ca", name: "Canada", apiHost: "ca-api.mimecast.com", prefix: "CCA"},
	{code: "za", name: "South Africa", apiHost: "za-api.mimecast.com", loginHost: "login-za.mimecast.com", prefix: "CSA"},
	{code: "au", name: "Australia", apiHost: "au-api.mimecast.com", loginHost: "login-au.mimecast.com", prefix: "CAU"},
	{code: "jer", name: "Offshore", apiHost: "jer-api.mimecast.com", aliases: []string{"je", "je-api", "offshore", "jersey"}},
	{code: "uspcom", name: "US Public Sector", apiHost: "uspcom-api.mimecast-pscom-us.com"},
}

const (
	idEU uint8 = iota + 1
	idDE
	idUS
	idUSB
	idCA
	idZA
	idAU
	idJER
	idUSPCOM
)

// EU returns the Europe grid (code "eu", eu-api.mimecast.com). United
// Kingdom accounts (prefix CUK) live here.
func EU() Region { return Region{idEU} }

// DE returns the Germany grid (code "de", de-api.mimecast.com).
func DE() Region { return Region{idDE} }

// US returns the United States grid (code "us", us-api.mimecast.com).
func US() Region { return Region{idUS} }

// USB returns the United States B grid (code "usb", usb-api.mimecast.com).
func USB() Region { return Region{idUSB} }

// CA returns the Canada grid (code "ca", ca-api.mimecast.com).
func CA() Region { return Region{idCA} }

// ZA returns the South Africa grid (code "za", za-api.mimecast.com).
func ZA() Region { return Region{idZA} }

// AU returns the Australia grid (code "au", au-api.mimecast.com).
func AU() Region { return Region{idAU} }

// JER returns the Offshore (Jersey) grid (code "jer", jer-api.mimecast.com).
func JER() Region { return Region{idJER} }

// USPCOM returns the US Public Sector grid (code "uspcom",
// uspcom-api.mimecast-pscom-us.com).
func USPCOM() Region { return Region{idUSPCOM} }

// All returns every grid, in a stable order: eu, de, us, usb, ca, za, au,
// jer, uspcom. The slice is new on every call.
func All() []Region {
	out := make([]Region, 0, len(grids)-1)
	for id := 1; id < len(grids); id++ {
		out = append(out, Region{uint8(id)})
	}
	return out
}

func (r Region) grid() grid {
	if int(r.id) >= len(grids) {
		return grids[0]
	}
	return grids[r.id]
}

// IsZero reports whether r is the zero Region, which names no grid.
func (r Region) IsZero() bool { return r.grid().code == "" }

// Code returns the short code of the grid: "eu", "de", "us", "usb", "ca",
// "za", "au", "jer" or "uspcom".
func (r Region) Code() string { return r.grid().code }

// Name returns the display name of the grid, e.g. "Europe" or
// "United States (B grid)".
func (r Region) Name() string { return r.grid().name }

// String returns the code of the grid, or "" for the zero Region.
func (r Region) String() string { return r.grid().code }

// APIHost returns the grid's API host, e.g. "eu-api.mimecast.com". SAML
// entity IDs and ACS URLs are built on it.
func (r Region) APIHost() string { return r.grid().apiHost }

// LoginHost returns the grid's login host, e.g. "login-eu.mimecast.com",
// or "" where it is not known (de, usb, ca, jer, uspcom).
func (r Region) LoginHost() string { return r.grid().loginHost }

// AccountPrefix returns the account-code prefix of the grid, e.g. "CUK"
// for eu, or "" where account codes do not tell the grid (jer, uspcom).
func (r Region) AccountPrefix() string { return r.grid().prefix }

// BaseURL returns "https://" followed by the API host, or "" for the zero
// Region.
func (r Region) BaseURL() string {
	if r.IsZero() {
		return ""
	}
	return "https://" + r.APIHost()
}

// ACSURL returns the SAML assertion consumer service URL of app on this
// grid, e.g. "https://eu-api.mimecast.com/login/saml" for [Applications].
// It returns "" for the zero Region or an App that is not one of the
// defined constants.
func (r Region) ACSURL(app App) string {
	if r.IsZero() || !app.valid() {
		return ""
	}
	return "https://" + r.APIHost() + app.Path()
}

// EntityID returns the SAML service-provider entity ID of account on this
// grid: "https://<api-host>/sso/<ACCOUNT>". The account code is trimmed of
// surrounding spaces, upper-cased and validated as [NormalizeAccount] does.
func (r Region) EntityID(account string) (string, error) {
	acct, err := r.checkAccount("EntityID", account)
	if err != nil {
		return "", err
	}
	return "https://" + r.APIHost() + "/sso/" + acct, nil
}

// LegacyEntityID returns the older form of the entity ID:
// "<api-host>.<ACCOUNT>", e.g. "eu-api.mimecast.com.CUK123ABC". Accounts
// set up before the URL form keep using it.
func (r Region) LegacyEntityID(account string) (string, error) {
	acct, err := r.checkAccount("LegacyEntityID", account)
	if err != nil {
		return "", err
	}
	return r.APIHost() + "." + acct, nil
}

func (r Region) checkAccount(fn, account string) (string, error) {
	if r.IsZero() {
		return "", newError(fn, account, ErrUnknownRegion, "the zero Region names no grid")
	}
	return NormalizeAccount(account)
}

// MarshalText returns the code of the grid, so a Region is stored in JSON
// as e.g. "eu". The zero Region marshals as "".
func (r Region) MarshalText() ([]byte, error) { return []byte(r.Code()), nil }

// UnmarshalText sets r from anything [Lookup] accepts. Empty text gives the
// zero Region.
func (r *Region) UnmarshalText(text []byte) error {
	if strings.TrimSpace(string(text)) == "" {
		*r = Region{}
		return nil
	}
	got, err := Lookup(string(text))
	if err != nil {
		return err
	}
	*r = got
	return nil
}

// Lookup finds a grid by its code ("eu"), code with "-api" ("eu-api"),
// display name ("United States (B grid)"), API host ("eu-api.mimecast.com"),
// login host ("login-eu.mimecast.com") or alias: "uk" for eu; "je",
// "je-api", "jersey" and "offshore" for jer. Case does not matter and
// surrounding or repeated spaces are ignored. Anything else is an error
// wrapping [ErrUnknownRegion]. For URLs and entity IDs use [FromURL].
func Lookup(s string) (Region, error) {
	key := strings.ToLower(strings.Join(strings.Fields(s), " "))
	if key != "" {
		for id := 1; id < len(grids); id++ {
			g := grids[id]
			if key == g.code || key == g.code+"-api" || key == strings.ToLower(g.name) ||
				key == g.apiHost || (g.loginHost != "" && key == g.loginHost) {
				return Region{uint8(id)}, nil
			}
			for _, a := range g.aliases {
				if key == a {
					return Region{uint8(id)}, nil
				}
			}
		}
	}
	return Region{}, newError("Lookup", s, ErrUnknownRegion, "not a grid code, name, host or alias (known codes: %s)", strings.Join(codes(), ", "))
}

func codes() []string {
	out := make([]string, 0, len(grids)-1)
	for _, r := range All() {
		out = append(out, r.Code())
	}
	return out
}

// ForAccount returns the grid of an account from its account-code prefix:
// CUK → eu, CDE → de, CUSA → us, CUSB → usb, CCA → ca, CSA → za, CAU → au.
// The code is normalised first (see [NormalizeAccount]); an invalid code
// is an [*AccountError]. A code with none of these prefixes, including
// Offshore and US Public Sector accounts whose codes do not tell the grid,
// is an error wrapping [ErrUnknownRegion].
func ForAccount(account string) (Region, error) {
	acct, err := NormalizeAccount(account)
	if err != nil {
		return Region{}, err
	}
	best, bestLen := Region{}, 0
	for id := 1; id < len(grids); id++ {
		p := grids[id].prefix
		if p != "" && len(p) > bestLen && strings.HasPrefix(acct, p) {
			best, bestLen = Region{uint8(id)}, len(p)
		}
	}
	if best.IsZero() {
		var prefixes []string
		for _, r := range All() {
			if p := r.AccountPrefix(); p != "" {
				prefixes = append(prefixes, p)
			}
		}
		return Region{}, newError("ForAccount", account, ErrUnknownRegion, "account code %q has no known grid prefix (%s)", acct, strings.Join(prefixes, ", "))
	}
	return best, nil
}

// NormalizeAccount returns account in canonical form: surrounding spaces
// removed and upper-cased. It is an [*AccountError] (wrapping
// [ErrInvalidAccount]) when the code is empty, longer than
// [MaxAccountLength] characters, or contains anything but the ASCII
// letters A–Z, a–z and the digits 0–9; the error names the first offending
// character and its position.
func NormalizeAccount(account string) (string, error) {
	acct := strings.TrimSpace(account)
	if acct == "" {
		return "", &AccountError{Reason: "empty"}
	}
	pos := 0
	for _, c := range acct {
		pos++
		if !isAlnum(c) {
			return "", &AccountError{Account: acct, Pos: pos, Char: c, Reason: "is not an ASCII letter or digit"}
		}
	}
	if pos > MaxAccountLength {
		return "", &AccountError{Account: acct, Reason: fmt.Sprintf("%d characters long, at most %d allowed", pos, MaxAccountLength)}
	}
	return strings.ToUpper(acct), nil
}

// ValidateAccount reports whether account is a valid account code, with
// the same rules and errors as [NormalizeAccount].
func ValidateAccount(account string) error {
	_, err := NormalizeAccount(account)
	return err
}

func isAlnum(c rune) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// App is one of the Mimecast applications a SAML login can be for. Each
// has its own ACS path. The zero App is [Applications].
type App int

// The applications. Their ACS paths are fixed by the service.
const (
	// Applications is the end-user applications (the default):
	// ACS path /login/saml.
	Applications App = iota
	// PersonalPortal is the Mimecast Personal Portal: ACS path /login/sso/mpp.
	PersonalPortal
	// AdminConsole is the Administration Console: ACS path /login/sso/adcon.
	AdminConsole
)

type appInfo struct {
	path, name, token string
	aliases           []string
}

var apps = [...]appInfo{
	Applications:   {path: "/login/saml", name: "Applications", token: "applications", aliases: []string{"apps", "application", "saml"}},
	PersonalPortal: {path: "/login/sso/mpp", name: "Personal Portal", token: "personal-portal", aliases: []string{"mpp", "personal portal", "portal"}},
	AdminConsole:   {path: "/login/sso/adcon", name: "Admin Console", token: "admin-console", aliases: []string{"adcon", "admin console", "administration console", "administration-console"}},
}

// Apps returns every App in a stable order: Applications, PersonalPortal,
// AdminConsole.
func Apps() []App { return []App{Applications, PersonalPortal, AdminConsole} }

func (a App) valid() bool { return a >= 0 && int(a) < len(apps) }

// Path returns the ACS path of the application, e.g. "/login/sso/mpp", or
// "" for an undefined App.
func (a App) Path() string {
	if !a.valid() {
		return ""
	}
	return apps[a].path
}

// String returns the display name: "Applications", "Personal Portal" or
// "Admin Console"; an undefined App prints as "App(n)".
func (a App) String() string {
	if !a.valid() {
		return fmt.Sprintf("App(%d)", int(a))
	}
	return apps[a].name
}

// MarshalText returns "applications", "personal-portal" or "admin-console".
func (a App) MarshalText() ([]byte, error) {
	if !a.valid() {
		return nil, fmt.Errorf("region: cannot marshal undefined App(%d)", int(a))
	}
	return []byte(apps[a].token), nil
}

// UnmarshalText sets a from anything [ParseApp] accepts.
func (a *App) UnmarshalText(text []byte) error {
	got, err := ParseApp(string(text))
	if err != nil {
		return err
	}
	*a = got
	return nil
}

// ParseApp finds an App by its display name ("Admin Console"), its text
// form ("admin-console"), its ACS path ("/login/sso/adcon") or a short
// name ("apps", "mpp", "adcon"), in any case and ignoring surrounding
// spaces. Anything else is an error wrapping [ErrUnknownApp].
func ParseApp(s string) (App, error) {
	key := strings.ToLower(strings.Join(strings.Fields(s), " "))
	for i, info := range apps {
		if key == strings.ToLower(info.name) || key == info.token || key == info.path || key == info.path+"/" {
			return App(i), nil
		}
		for _, al := range info.aliases {
			if key == al {
				return App(i), nil
			}
		}
	}
	return 0, newError("ParseApp", s, ErrUnknownApp, "known: applications (%s), personal-portal (%s), admin-console (%s)", apps[0].path, apps[1].path, apps[2].path)
}
