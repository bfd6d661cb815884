package region

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with [errors.Is].
var (
	// ErrUnknownRegion: the input names no Mimecast grid this package knows,
	// for example a host that is not a grid host or an account code without
	// a known grid prefix.
	ErrUnknownRegion = errors.New("region: unknown region")
	// ErrInvalidAccount: an account code is empty, too long or contains
	// something other than ASCII letters and digits. The error is an
	// [*AccountError] that says what is wrong.
	ErrInvalidAccount = errors.New("region: invalid account code")
	// ErrInvalidURL: the input is not a URL, host or entity ID of the
	// expected shape (wrong scheme, user info, unexpected port, wrong path).
	ErrInvalidURL = errors.New("region: invalid URL")
	// ErrUnknownApp: the input names none of the applications ([App]).
	ErrUnknownApp = errors.New("region: unknown application")
)

// MaxAccountLength is the longest account code accepted, in characters.
const MaxAccountLength = 32

// AccountError reports why an account code was refused. It wraps
// [ErrInvalidAccount].
type AccountError struct {
	// Account is the account code as given (surrounding spaces removed).
	Account string
	// Pos is the 1-based character position of the offending character, or
	// 0 when the problem is not a single character (empty, too long).
	Pos int
	// Char is the offending character when Pos is not 0.
	Char rune
	// Reason says what is wrong, in words.
	Reason string
}

func (e *AccountError) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("region: invalid account code %q: character %q at position %d %s", e.Account, e.Char, e.Pos, e.Reason)
	}
	if e.Account == "" {
		return "region: invalid account code: " + e.Reason
	}
	return fmt.Sprintf("region: invalid account code %q: %s", e.Account, e.Reason)
}

// Unwrap returns [ErrInvalidAccount].
func (e *AccountError) Unwrap() error { return ErrInvalidAccount }

// Error reports a failed look-up or parse: which function, of what input,
// and why. Err wraps [ErrUnknownRegion], [ErrInvalidURL], [ErrUnknownApp]
// or (as an [*AccountError]) [ErrInvalidAccount].
type Error struct {
	// Func is the function that failed, e.g. "FromURL".
	Func string
	// Input is the input as given.
	Input string
	// Err says what is wrong.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("region: %s %q: %s", e.Func, e.Input, strings.TrimPrefix(e.Err.Error(), "region: "))
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func newError(fn, input string, sentinel error, format string, args ...any) *Error {
	return &Error{Func: fn, Input: input, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}
