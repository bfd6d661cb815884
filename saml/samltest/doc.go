// Package samltest is a SAML 2.0 identity provider for tests: it serves
// real metadata and a single sign-on endpoint on a loopback httptest
// server and signs responses for real with goxmldsig, so that code using
// package saml can be tested without mocks — including against attacks.
//
// # Starting an IdP
//
// [NewIdP] starts the server (TLS by default; [IdP.Client] trusts it) and
// registers its shutdown with the test's Cleanup. [IdP.SPConfig] returns a
// saml.Config for a service provider that trusts the IdP, and
// [IdP.Metadata] and [IdP.MetadataURL] give its metadata as XML, for code
// that imports metadata itself.
//
//	idp := samltest.NewIdP(t)
//	sp, err := saml.NewServiceProvider(idp.SPConfig())
//	a, err := sp.Verify(ctx, idp.Response(samltest.WithInResponseTo(id)), id)
//
// # Responses
//
// [IdP.Response] returns a base64 SAMLResponse as the IdP would post it,
// signed with RSA-2048 and RSA-SHA256 using exclusive canonicalization.
// Options change the audience ([WithAudience]), recipient and destination
// ([WithRecipient], [WithDestination], [WithoutDestination]), subject
// ([WithNameID], [WithAttribute], [WithAttributes]), request
// ([WithInResponseTo]), issuer ([WithIssuer], [WithAssertionIssuer]),
// validity ([At], [WithValidity], [WithSessionNotOnOrAfter]), what is signed
// ([WithSigning]: [SignAssertion], [SignResponse], [SignBoth], [SignNone]),
// the algorithm ([WithSignatureMethod]), the status ([WithStatus]) and
// encryption ([WithEncryption]).
//
// # Attacks
//
// [WithAttack] reshapes a correctly signed response into an XML signature
// wrapping attack ([XSW1] to [XSW8], [AttackSecondAssertion],
// [AttackDuplicateID]); [WithNameIDComment] splits the NameID with a
// comment after signing; [WithForeignKey] and [WithKeyInfoCertificate] sign
// with an untrusted key or present another certificate; [WithTamper]
// changes anything after signing. A correct service provider refuses
// every one of them.
//
// # Single sign-on over HTTP
//
// The endpoint at [IdP.SSOURL] accepts AuthnRequests with the HTTP-Redirect
// and HTTP-POST bindings and answers with an auto-posting HTML form that
// carries a signed response for the user set with [WithUser] to the
// request's AssertionConsumerServiceURL, with the RelayState. Received
// requests are available from [IdP.AuthnRequests]; with
// [WithSPCertificate], their signatures are checked.
//
// The server goroutines never call t.Fatal: problems become HTTP errors.
package samltest
