package profile

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with [errors.Is].
var (
	// ErrInvalid: the profile, or the JSON it was read from, is not
	// acceptable. Every problem is a [*FieldError] naming the field.
	ErrInvalid = errors.New("profile: invalid")
	// ErrImport: identity-provider metadata could not be fetched or read.
	// The error also wraps the saml package's error (for example
	// saml.ErrMalformed or saml.ErrFetch).
	ErrImport = errors.New("profile: metadata import failed")
)

// FieldError reports a problem with one field of a [Profile]. Field is the
// field's JSON name, for example "loginURL". It wraps [ErrInvalid].
type FieldError struct {
	// Field is the JSON name of the field at fault, or "" when the problem
	// concerns the profile as a whole.
	Field string
	// Reason says what is wrong with the field.
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "profile: " + e.Reason
	}
	return fmt.Sprintf("profile: %s: %s", e.Field, e.Reason)
}

// Unwrap returns [ErrInvalid].
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ImportError reports a failed metadata import. It wraps [ErrImport] and the
// underlying saml error. The profile is left as it was.
type ImportError struct {
	// URL is the metadata URL fetched ("" for ImportMetadata), with any
	// password removed.
	URL string
	// Err is the saml package's error.
	Err error
}

func (e *ImportError) Error() string {
	if e.URL == "" {
		return "profile: import metadata: " + e.Err.Error()
	}
	return fmt.Sprintf("profile: import metadata from %s: %v", e.URL, e.Err)
}

// Unwrap returns [ErrImport] and the underlying error.
func (e *ImportError) Unwrap() []error { return []error{ErrImport, e.Err} }
