package profile

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Provider is the identity provider a profile signs users in with. Its
// JSON form is the constant's value, e.g. "entra-id".
type Provider string

// The identity providers with presets. Other covers any SAML 2.0 IdP.
const (
	EntraID   Provider = "entra-id"
	JumpCloud Provider = "jumpcloud"
	Okta      Provider = "okta"
	ADFS      Provider = "adfs"
	Google    Provider = "google"
	Other     Provider = "other"
)

// Providers returns every Provider, in a stable order.
func Providers() []Provider { return []Provider{EntraID, JumpCloud, Okta, ADFS, Google, Other} }

// Valid reports whether p is one of the defined providers.
func (p Provider) Valid() bool {
	for _, q := range Providers() {
		if p == q {
			return true
		}
	}
	return false
}

// DisplayName returns the provider's name as an administrator knows it,
// e.g. "Microsoft Entra ID"; for an undefined provider, its raw value.
func (p Provider) DisplayName() string {
	switch p {
	case EntraID:
		return "Microsoft Entra ID"
	case JumpCloud:
		return "JumpCloud"
	case Okta:
		return "Okta"
	case ADFS:
		return "Active Directory Federation Services"
	case Google:
		return "Google Workspace"
	case Other:
		return "SAML 2.0 identity provider"
	}
	return string(p)
}

// ParseProvider reads a provider from its value ("entra-id") or a common
// name ("Entra ID", "Azure AD", "AD FS", "Google Workspace"), in any case.
func ParseProvider(s string) (Provider, error) {
	key := strings.ToLower(strings.Join(strings.Fields(s), " "))
	switch key {
	case "entra-id", "entra id", "entra", "entraid", "microsoft entra id", "azure ad", "azure", "azuread", "azure active directory":
		return EntraID, nil
	case "jumpcloud", "jump cloud":
		return JumpCloud, nil
	case "okta":
		return Okta, nil
	case "adfs", "ad fs", "active directory federation services":
		return ADFS, nil
	case "google", "google workspace", "g suite", "gsuite":
		return Google, nil
	case "other", "saml", "saml 2.0", "generic":
		return Other, nil
	}
	return "", fieldErr("provider", "unknown provider %q (one of %s)", s, providerList())
}

func providerList() string {
	var names []string
	for _, p := range Providers() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

// JumpCloudLogoutURL is where JumpCloud users land after signing out: the
// JumpCloud user console. [New] puts it in JumpCloud profiles.
const JumpCloudLogoutURL = "https://console.jumpcloud.com/userconsole/"

// New returns a profile for provider with the provider's recommended
// defaults. Nothing is enforced yet: the administrator imports the IdP's
// metadata ([Profile.Import] or [Profile.ImportMetadata]) and then turns on
// the Enforce switches.
//
//   - EntraID: both authentication-context switches off (Entra ID refuses
//     requests for a context it did not use); metadata monitoring on, since
//     Entra ID publishes a metadata URL and rolls its certificates over.
//   - JumpCloud: logout URL [JumpCloudLogoutURL]; metadata is a download, so
//     no monitoring.
//   - Okta, ADFS: metadata monitoring on.
//   - Google, Other: metadata is a download, no monitoring.
//
// A provider that is not defined gives a profile that [Profile.Validate]
// refuses.
func New(provider Provider) Profile {
	p := Profile{
		Provider:             provider,
		Description:          provider.DisplayName() + " single sign-on",
		DomainAuthentication: DomainAuthNone,
	}
	switch provider {
	case EntraID:
		p.MonitorMetadataURL = true
		p.UsePasswordProtectedContext = false
		p.UseIntegratedAuthContext = false
	case JumpCloud:
		p.LogoutURL = JumpCloudLogoutURL
	case Okta, ADFS:
		p.MonitorMetadataURL = true
	}
	return p
}

var (
	guidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE   = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
	jcAppRE    = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)
	entraHosts = []string{"login.microsoftonline.com", "login.microsoftonline.us"}
)

// EntraMetadataURL returns the federation metadata URL of an Entra ID
// enterprise application:
// https://login.microsoftonline.com/<tenant>/federationmetadata/2007-06/federationmetadata.xml?appid=<appID>.
func EntraMetadataURL(tenant, appID string) string {
	return "https://login.microsoftonline.com/" + url.PathEscape(tenant) +
		"/federationmetadata/2007-06/federationmetadata.xml?appid=" + url.QueryEscape(appID)
}

// ParseEntraMetadataURL checks that s is an Entra ID federation metadata
// URL of the form EntraMetadataURL builds (login.microsoftonline.com, or
// login.microsoftonline.us for government tenants; path in any case) and
// returns its tenant (a GUID or a domain such as contoso.onmicrosoft.com)
// and application ID (a GUID). The error says which part is wrong.
func ParseEntraMetadataURL(s string) (tenant, appID string, err error) {
	const want = "https://login.microsoftonline.com/<tenant>/federationmetadata/2007-06/federationmetadata.xml?appid=<application ID>"
	u, perr := url.Parse(strings.TrimSpace(s))
	if perr != nil || u.Scheme == "" || u.Host == "" {
		return "", "", fmt.Errorf("not a URL; expected %s", want)
	}
	if u.Scheme != "https" {
		return "", "", fmt.Errorf("scheme is %s, not https", u.Scheme)
	}
	host := strings.ToLower(u.Host)
	known := false
	for _, h := range entraHosts {
		known = known || host == h || host == h+":443"
	}
	if !known {
		return "", "", fmt.Errorf("host %q is not login.microsoftonline.com; expected %s", u.Host, want)
	}
	if u.User != nil {
		return "", "", fmt.Errorf("URL carries user info")
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 4 || !strings.EqualFold(parts[1], "federationmetadata") ||
		parts[2] != "2007-06" || !strings.EqualFold(parts[3], "federationmetadata.xml") {
		return "", "", fmt.Errorf("path %q is not /<tenant>/federationmetadata/2007-06/federationmetadata.xml", u.Path)
	}
	tenant = parts[0]
	if !guidRE.MatchString(tenant) && !domainRE.MatchString(tenant) {
		return "", "", fmt.Errorf("tenant %q is neither a tenant ID (GUID) nor a domain", tenant)
	}
	q := u.Query()
	var apps []string
	for k, v := range q {
		if strings.EqualFold(k, "appid") {
			apps = append(apps, v...)
		}
	}
	switch {
	case len(apps) == 0:
		return "", "", fmt.Errorf("appid query parameter missing; without it Entra ID serves the tenant's metadata with the wrong signing certificate")
	case len(apps) > 1:
		return "", "", fmt.Errorf("appid given %d times", len(apps))
	case !guidRE.MatchString(apps[0]):
		return "", "", fmt.Errorf("appid %q is not an application ID (GUID)", apps[0])
	}
	return tenant, apps[0], nil
}

// JumpCloudIdPURL returns the IdP URL (single sign-on URL) of a JumpCloud
// SAML application: https://sso.jumpcloud.com/saml2/<app>.
func JumpCloudIdPURL(app string) string {
	return "https://sso.jumpcloud.com/saml2/" + url.PathEscape(app)
}

// ParseJumpCloudIdPURL checks that s is a JumpCloud IdP URL
// (https://sso.jumpcloud.com/saml2/<app>) and returns the application's
// name in it.
func ParseJumpCloudIdPURL(s string) (app string, err error) {
	u, perr := url.Parse(strings.TrimSpace(s))
	if perr != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("not a URL; expected https://sso.jumpcloud.com/saml2/<app>")
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("scheme is %s, not https", u.Scheme)
	}
	if h := strings.ToLower(u.Host); h != "sso.jumpcloud.com" && h != "sso.jumpcloud.com:443" {
		return "", fmt.Errorf("host %q is not sso.jumpcloud.com", u.Host)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("unexpected user info, query or fragment")
	}
	rest, ok := strings.CutPrefix(u.Path, "/saml2/")
	rest = strings.TrimSuffix(rest, "/")
	if !ok || !jcAppRE.MatchString(rest) {
		return "", fmt.Errorf("path %q is not /saml2/<app>", u.Path)
	}
	return rest, nil
}
