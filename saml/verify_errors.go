package saml

import (
	"errors"
	"strings"
)

// ErrConfig: a [Config] is incomplete or inconsistent; see [ConfigError].
var ErrConfig = errors.New("saml: invalid config")

// VerifyError reports why [ServiceProvider.Verify] refused a response. It
// names the element (or attribute) at fault and unwraps to exactly one
// sentinel, so callers branch with errors.Is(err, ErrAudience) and so on.
type VerifyError struct {
	// Element is the path of the element or attribute at fault, for
	// example "Response/Assertion/Conditions@NotOnOrAfter".
	Element string
	// Reason says what is wrong, in words.
	Reason string
	// Err is the sentinel the error matches with [errors.Is].
	Err error
	// Cause is the underlying error, if any (for example the XML
	// signature library's report). It is part of the message but does not
	// take part in errors.Is, so that every failure matches one sentinel.
	Cause error
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	b.WriteString(": ")
	b.WriteString(e.Element)
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *VerifyError) Unwrap() error { return e.Err }

// StatusError reports a Response whose Status is not Success: the IdP
// refused or failed the login. It unwraps to [ErrStatus].
type StatusError struct {
	// Code is the top-level StatusCode value, for example
	// "urn:oasis:names:tc:SAML:2.0:status:Responder".
	Code string
	// SubCode is the nested StatusCode value, if any, for example
	// "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".
	SubCode string
	// Message is the IdP's StatusMessage, if any. It is text chosen by the
	// IdP: show it to administrators, not as HTML.
	Message string
}

func (e *StatusError) Error() string {
	msg := "saml: status: Response/Status: " + e.Code
	if e.SubCode != "" {
		msg += " / " + e.SubCode
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns ErrStatus.
func (e *StatusError) Unwrap() error { return ErrStatus }

// ConfigError reports a problem with one field of a [Config] or with an
// argument. It unwraps to [ErrConfig].
type ConfigError struct {
	// Field names the field at fault, for example "ACSURL".
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *ConfigError) Error() string { return "saml: config " + e.Field + ": " + e.Reason }

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

func verr(sentinel error, element, reason string) *VerifyError {
	return &VerifyError{Element: element, Reason: reason, Err: sentinel}
}
