package saml

import "errors"

// Sentinel errors. Every verification failure wraps exactly one of them, so
// callers can branch with [errors.Is].
var (
	// ErrSignature: a required XML signature is missing, invalid, made with a
	// key that is not trusted, or does not cover the element that was used.
	ErrSignature = errors.New("saml: signature")
	// ErrIssuer: the Issuer is not the configured IdP entity ID.
	ErrIssuer = errors.New("saml: issuer")
	// ErrDestination: the Response Destination is not this SP's ACS URL.
	ErrDestination = errors.New("saml: destination")
	// ErrRecipient: SubjectConfirmationData Recipient is not this SP's ACS URL.
	ErrRecipient = errors.New("saml: recipient")
	// ErrAudience: the assertion is not addressed to this SP's entity ID.
	ErrAudience = errors.New("saml: audience")
	// ErrExpired: NotOnOrAfter has passed (after clock skew).
	ErrExpired = errors.New("saml: expired")
	// ErrNotYetValid: NotBefore is still in the future (after clock skew).
	ErrNotYetValid = errors.New("saml: not yet valid")
	// ErrInResponseTo: InResponseTo does not match any outstanding request ID.
	ErrInResponseTo = errors.New("saml: InResponseTo")
	// ErrUnsolicited: an IdP-initiated response arrived while AllowIdPInitiated is off.
	ErrUnsolicited = errors.New("saml: unsolicited response")
	// ErrReplay: the assertion ID was already accepted once.
	ErrReplay = errors.New("saml: replay")
	// ErrStatus: the IdP answered with a status other than Success.
	ErrStatus = errors.New("saml: status")
	// ErrMalformed: the input is not a well-formed, bounded SAML document.
	ErrMalformed = errors.New("saml: malformed")
	// ErrMetadataExpired: the metadata validUntil has passed.
	ErrMetadataExpired = errors.New("saml: metadata expired")
)
