// Package harness holds the plumbing the example programs share for their
// demonstrations on loopback: a TLS certificate for a public host name, a
// cookie-keeping HTTP client that routes such a host to a local server, and
// a reader for the SAML HTTP-POST binding's auto-posting form.
package harness
