// Package profile holds authentication profiles: the form an administrator
// fills in to sign users in with a SAML identity provider, checked as a
// whole and turned into a ready service provider for any grid, account and
// application.
//
// # Presets
//
// [New] returns a [Profile] with a [Provider]'s recommended defaults:
// [EntraID], [JumpCloud], [Okta], [ADFS], [Google] or [Other]. Entra ID
// profiles request no authentication context (Entra ID fails sign-ins that
// ask for one) and their metadata URL must have the form
// [EntraMetadataURL] builds; JumpCloud profiles get the user-console logout
// URL and their login URL must have the form [JumpCloudIdPURL] builds.
//
// # Importing metadata
//
// [Profile.Import] fetches the IdP's metadata from MetadataURL and
// [Profile.ImportMetadata] reads a downloaded document. Both fill IssuerURL,
// LoginURL, LogoutURL (when the IdP publishes a logout endpoint) and every
// signing certificate, and leave the profile untouched on error. With
// MonitorMetadataURL on, a [Monitor] keeps those details current from the
// metadata URL through the saml package's metadata cache, so rolled-over
// certificates are picked up.
//
// # Validation and JSON
//
// [Profile.Validate] reports every problem at once, each a [*FieldError]
// naming the field by its JSON name; the joined error matches [ErrInvalid].
// Reading JSON ([Decode], or [encoding/json.Unmarshal] into a Profile) is
// strict: unknown or mis-cased fields, duplicates and wrong types are
// refused with the field named. [Profile.String] and JSON output never show
// passwords embedded in URLs, and String shows certificates by subject and
// fingerprint only.
//
// # Service providers
//
// [Profile.ServiceProvider] builds a *saml.ServiceProvider for an account on
// a grid ([region.Region]) and an application ([region.App]): entity ID
// https://<api-host>/sso/<ACCOUNT> (or the legacy form with
// [WithLegacyEntityID]), the application's ACS URL, the IdP from the
// profile, AllowIdPInitiated from AllowSingleSignOn and
// RequestedAuthnContext from UsePasswordProtectedContext
// ([AuthnContextPasswordProtected]) and UseIntegratedAuthContext
// ([AuthnContextIntegrated]). [Profile.Config] returns the saml.Config
// instead, for callers that adjust it further.
//
// # Errors
//
// Problems with the profile match [ErrInvalid] ([*FieldError]); failed
// metadata imports match [ErrImport] ([*ImportError]) and the saml error
// underneath.
package profile
