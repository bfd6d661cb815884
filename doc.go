// Package gatehouse is an embeddable Go SDK for the identity side of a
// Mimecast-style email-security service: SAML single sign-on from Microsoft
// Entra ID, JumpCloud, Okta, ADFS, Google and any SAML 2.0 identity provider,
// and directory synchronisation from Active Directory and other LDAP servers.
//
// The root package holds no code; the work is done by its packages.
//
// # Packages
//
//   - [github.com/gatehouse-id/gatehouse/region]: Mimecast grids, their hosts,
//     SAML entity IDs and ACS URLs, and account-code prefixes.
//   - [github.com/gatehouse-id/gatehouse/saml]: a strict SAML 2.0 service
//     provider: IdP metadata import, AuthnRequests, response verification and
//     SP metadata.
//   - [github.com/gatehouse-id/gatehouse/saml/samltest]: a real signing test
//     IdP for unit tests, with builders for known attacks.
//   - [github.com/gatehouse-id/gatehouse/profile]: authentication profiles as an
//     administrator fills them in, turned into a ready service provider.
//   - [github.com/gatehouse-id/gatehouse/ldapsync]: incremental directory sync
//     with safe removal policies and a test-connection report.
//   - [github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest]: an in-process
//     LDAP server with Active Directory semantics for unit tests.
//
// # Getting started
//
// Run the end-to-end demonstration with
//
//	go run ./examples/quickstart
//
// and every test with
//
//	./scripts/test.sh
package gatehouse
