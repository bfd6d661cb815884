// Package region knows the Mimecast grids (regions): their API and login
// hosts, the SAML entity IDs and assertion consumer service (ACS) URLs a
// service provider uses on each, and how to tell a grid from an account
// code, a URL, a host or an entity ID.
//
// # Grids
//
// A [Region] is a small comparable value. The grids, in the order [All]
// returns them:
//
//	code    name                    API host                          login host
//	eu      Europe                  eu-api.mimecast.com               login-eu.mimecast.com
//	de      Germany                 de-api.mimecast.com
//	us      United States           us-api.mimecast.com               login-us.mimecast.com
//	usb     United States (B grid)  usb-api.mimecast.com
//	ca      Canada                  ca-api.mimecast.com
//	za      South Africa            za-api.mimecast.com               login-za.mimecast.com
//	au      Australia               au-api.mimecast.com               login-au.mimecast.com
//	jer     Offshore                jer-api.mimecast.com
//	uspcom  US Public Sector        uspcom-api.mimecast-pscom-us.com
//
// Get one with a named constructor ([EU], [DE], [US], [USB], [CA], [ZA],
// [AU], [JER], [USPCOM]) or from user input with [Lookup] (code, name,
// host or the aliases "uk", "je", "je-api", "jersey", "offshore"),
// [ForAccount], [FromURL] or [ParseEntityID]. The zero Region names no grid
// ([Region.IsZero]).
//
// The global API hosts that serve every grid are constants:
// [DiscoveryHost], [ServicesHost], [ServicesHostUK] and [ServicesHostUS].
//
// # Applications and ACS URLs
//
// A SAML login is for one of three applications ([App]), each with its own
// ACS path on the grid's API host:
//
//	Applications    /login/saml        (the default, the zero App)
//	PersonalPortal  /login/sso/mpp
//	AdminConsole    /login/sso/adcon
//
// [Region.ACSURL] builds the URL, e.g. https://eu-api.mimecast.com/login/saml;
// [ParseACSURL] takes one apart and [ParseApp] reads an application name.
//
// # Entity IDs and account codes
//
// The service-provider entity ID of an account has two forms:
// [Region.EntityID] gives "https://eu-api.mimecast.com/sso/CUK123ABC" and
// [Region.LegacyEntityID] the older "eu-api.mimecast.com.CUK123ABC".
// [ParseEntityID] reads either back into grid and account code.
//
// Account codes are ASCII letters and digits, at most [MaxAccountLength]
// characters, compared in upper case. [NormalizeAccount] returns the
// canonical form and [ValidateAccount] checks one; a bad code is an
// [*AccountError] naming the first offending character and its position.
// [ForAccount] finds the grid from the code's prefix: CUK → eu, CDE → de,
// CUSA → us, CUSB → usb, CCA → ca, CSA → za, CAU → au. Offshore and US
// Public Sector codes do not tell their grid; use [Lookup] for those.
//
// # Input handling
//
// Functions that read user input ignore surrounding spaces and case, and
// URL readers accept http as well as https, a trailing slash and the
// scheme's default port. Nothing is guessed: a host must be exactly a grid
// host, so "eu-api.mimecast.com.evil.example" or
// "https://eu-api.mimecast.com@evil.example/" are refused.
//
// # Errors
//
// Every error wraps one of [ErrUnknownRegion], [ErrInvalidURL],
// [ErrInvalidAccount] or [ErrUnknownApp]; test with [errors.Is]. Look-up
// and parse failures are an [*Error] naming the function and the input;
// account-code problems are an [*AccountError].
package region
