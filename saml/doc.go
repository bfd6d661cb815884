// Package saml is a strict SAML 2.0 service provider for single sign-on
// from Microsoft Entra ID, JumpCloud, Okta, ADFS, Google and any other SAML
// 2.0 identity provider (IdP): it imports the IdP's metadata, sends
// AuthnRequests, verifies the responses posted back and publishes the
// service provider's own metadata.
//
// # Metadata import
//
// [ParseMetadata] reads the metadata document an IdP publishes and returns
// an [IdPMetadata]: entity ID, single sign-on and logout [Endpoint]s, every
// signing certificate, NameID formats, validUntil and cacheDuration. It is
// what an administrator's "Metadata URL → Import" button runs; after it
// every IdP field of a profile is filled.
//
// It accepts a single EntityDescriptor or an EntitiesDescriptor aggregate
// (Shibboleth-style federation metadata). In an aggregate, [WithEntityID]
// picks the IdP; an aggregate with exactly one IdP needs no choice, and one
// with several fails with an [*EntitySelectionError] listing their entity
// IDs. Elements are matched by namespace, never by prefix. What real IdPs
// publish is handled as they publish it: the byte order mark and leading
// enveloped signature of Entra ID, WS-Federation RoleDescriptors (whose keys
// are not SAML signing keys) in Entra ID and ADFS metadata, KeyDescriptors
// without a use attribute, certificates broken over several lines, several
// signing certificates during a key rollover. Expired certificates are kept
// and reported by [IdPMetadata.ExpiredCerts]; an expired validUntil is
// [ErrMetadataExpired].
//
// The input is bounded before it is parsed: [WithMaxBytes] and
// [WithMaxTokens] cap size and token count, nesting is limited to
// [MaxMetadataDepth], and DOCTYPE or entity declarations are refused, so
// entity-expansion payloads never reach the parser. Large aggregates are
// scanned as a stream and only the picked EntityDescriptor is read again.
// Without [WithMetadataSigner] no tree is built at all: the values are read
// from the tokens.
//
// [WithMetadataSigner] requires the metadata to be signed by a pinned
// certificate; the signature is checked with goxmldsig and only the signed
// content is used. A signed aggregate is verified as a whole: with the
// usual exclusive canonicalization child by child, so a federation
// aggregate is never held as one tree. SHA-1 signature and digest methods
// are refused with [ErrSignature] unless [WithInsecureSHA1] is given.
//
// [FetchMetadata] downloads and parses metadata: https only unless
// [WithInsecureHTTP], bound to its context, with a size cap, a redirect
// limit and no https-to-http redirect, and with [WithHTTPClient] for a
// custom transport. A [*FetchError] says which step failed (DNS, connect,
// TLS, timeout, redirect, status, size, parse).
//
// [MetadataCache] keeps one IdP's metadata current for a running service:
// it refreshes when cacheDuration says so (or after a default interval),
// keeps serving the last good copy while the IdP is unreachable, up to its
// validUntil, and takes its clock from [MetadataCacheConfig].Now.
//
// # Service provider
//
// A service provider is configured with a [Config] — its entity ID, ACS
// URL and the IdP's metadata — and built with [NewServiceProvider], which
// validates and copies the configuration and applies secure defaults
// (3 minutes of clock skew, an in-memory [ReplayCache], SHA-1 refused,
// IdP-initiated login refused). [Config.Validate] lists every problem as a
// [*ConfigError].
//
// [ServiceProvider.AuthnRequest] starts a login: keep its ID with the
// user's session and send the browser to [AuthnRequest.RedirectURL]
// (HTTP-Redirect binding, with the query-string signature when the SP has
// a SigningKey) or serve [AuthnRequest.PostForm] (HTTP-POST binding, an
// auto-submitting, escaped HTML form). Requested authentication contexts
// ([AuthnContextPasswordProtectedTransport], [AuthnContextWindows]) are
// sent with Comparison "exact". [ServiceProvider.Metadata] is the SP
// metadata for the IdP administrator; KeyDescriptors appear only when the
// SP has keys.
//
// # Verification
//
// [ServiceProvider.Verify] checks a posted SAMLResponse; every check is an
// error, never a warning. The response is parsed once, bounded in size,
// tokens and depth, with no DOCTYPE; the Response or the Assertion must
// carry an enveloped signature by one of the IdP's certificates whose
// single Reference names the signed element, with goxmldsig's exclusive
// canonicalization; every value is read from the verified element, parsed
// afresh from the canonical bytes the digest covers. Exactly one assertion may
// appear in the document and IDs must be unique, which defeats XML
// signature wrapping. Then issuer, Destination, Recipient, audience,
// NotBefore/NotOnOrAfter, status, InResponseTo against the caller's
// request IDs, and one-time use are checked. Verify keeps no record of
// requests: once a response is accepted, drop the request ID it answers
// from the user's session, so that a second response to the same request
// is refused (the replay cache covers assertion IDs). Encrypted assertions are
// decrypted with the SP's key. RSA-SHA256/384/512 and ECDSA signatures are
// accepted; SHA-1 only with [Config.InsecureAllowSHA1]. [Verifier] is the
// interface to depend on; package samltest provides a real signing IdP,
// with attack shapes, for tests.
//
// # Errors
//
// Every failure wraps one sentinel, tested with [errors.Is]: [ErrSignature],
// [ErrIssuer], [ErrDestination], [ErrRecipient], [ErrAudience], [ErrExpired],
// [ErrNotYetValid], [ErrInResponseTo], [ErrUnsolicited], [ErrReplay],
// [ErrStatus], [ErrMalformed] and [ErrMetadataExpired]. Metadata import adds
// [ErrEntityNotFound], [ErrEntityAmbiguous] and [ErrFetch]. Typed errors
// carry the details and unwrap to those sentinels: [*MetadataError] names
// the element and attribute at fault, [*EntitySelectionError] lists the
// identity providers of an aggregate, and [*FetchError] gives the failed
// stage and HTTP status. [*VerifyError] names the response element that
// failed verification, [*StatusError] carries the IdP's status code and
// message ([ErrStatus]), and [*ConfigError] names a bad [Config] field
// ([ErrConfig]), or a ServiceProvider or MetadataCache its constructor did
// not make (a zero value does nothing but refuse).
package saml
