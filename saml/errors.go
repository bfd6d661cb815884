package saml

import (
	"errors"
	"fmt"
	"strings"
)

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
	// ErrEntityNotFound: the metadata holds no identity provider with the
	// entity ID asked for (or none at all).
	ErrEntityNotFound = errors.New("saml: metadata entity not found")
	// ErrEntityAmbiguous: the metadata holds several identity providers and
	// none was picked with WithEntityID, or the entity ID appears twice.
	ErrEntityAmbiguous = errors.New("saml: metadata entity ambiguous")
	// ErrFetch: metadata could not be fetched; see [FetchError] for the stage.
	ErrFetch = errors.New("saml: metadata fetch")
)

// MetadataError reports a problem with one element or attribute of an
// identity provider's metadata. It unwraps to a sentinel ([ErrMalformed],
// [ErrSignature] or [ErrMetadataExpired]) and to the underlying cause.
type MetadataError struct {
	// Element is the path of the element at fault, for example
	// "EntityDescriptor/IDPSSODescriptor/KeyDescriptor[2]", or "document".
	Element string
	// Attr is the attribute at fault, if any.
	Attr string
	// Reason says what is wrong.
	Reason string
	// Err is the sentinel the error matches with [errors.Is].
	Err error
	// Cause is the underlying error, if any.
	Cause error
}

func (e *MetadataError) Error() string {
	where := e.Element
	if e.Attr != "" {
		where += "@" + e.Attr
	}
	return "saml: metadata " + where + ": " + e.Reason
}

// Unwrap returns the sentinel and the cause.
func (e *MetadataError) Unwrap() []error {
	var out []error
	if e.Err != nil {
		out = append(out, e.Err)
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// EntitySelectionError reports that the metadata does not name exactly one
// identity provider to use. It unwraps to [ErrEntityNotFound] or
// [ErrEntityAmbiguous].
type EntitySelectionError struct {
	// Wanted is the entity ID asked for with WithEntityID, or "".
	Wanted string
	// IdPs lists the entity IDs of the identity providers in the document.
	IdPs []string
	// Duplicate is set when Wanted appears more than once.
	Duplicate bool
	// Err is ErrEntityNotFound or ErrEntityAmbiguous.
	Err error
}

func (e *EntitySelectionError) Error() string {
	var b strings.Builder
	switch {
	case e.Duplicate:
		fmt.Fprintf(&b, "saml: metadata: entity ID %q appears more than once", e.Wanted)
	case e.Wanted != "":
		fmt.Fprintf(&b, "saml: metadata: no entity with ID %q", e.Wanted)
	case len(e.IdPs) == 0:
		b.WriteString("saml: metadata: no identity provider (IDPSSODescriptor) in the document")
	default:
		fmt.Fprintf(&b, "saml: metadata: %d identity providers and none picked (use WithEntityID)", len(e.IdPs))
	}
	if len(e.IdPs) > 0 && !e.Duplicate {
		const show = 10
		ids := e.IdPs
		more := 0
		if len(ids) > show {
			ids, more = ids[:show], len(ids)-show
		}
		b.WriteString("; identity providers: ")
		for i, id := range ids {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", id)
		}
		if more > 0 {
			fmt.Fprintf(&b, " and %d more", more)
		}
	}
	return b.String()
}

// Unwrap returns ErrEntityNotFound or ErrEntityAmbiguous.
func (e *EntitySelectionError) Unwrap() error { return e.Err }

// FetchStage names the step of a metadata fetch that failed.
type FetchStage string

// Stages of [FetchMetadata].
const (
	FetchStageURL      FetchStage = "url"
	FetchStageDNS      FetchStage = "dns"
	FetchStageConnect  FetchStage = "connect"
	FetchStageTLS      FetchStage = "tls"
	FetchStageTimeout  FetchStage = "timeout"
	FetchStageRedirect FetchStage = "redirect"
	FetchStageStatus   FetchStage = "status"
	FetchStageTooLarge FetchStage = "too large"
	FetchStageRead     FetchStage = "read"
	FetchStageParse    FetchStage = "parse"
)

// FetchError reports a failed metadata fetch and the stage that failed. It
// unwraps to [ErrFetch] and to the underlying error (for the parse stage a
// [*MetadataError], so errors.Is(err, ErrMalformed) holds).
type FetchError struct {
	// URL is the requested URL with any password redacted.
	URL string
	// Stage is the step that failed.
	Stage FetchStage
	// StatusCode is the HTTP status for the status stage.
	StatusCode int
	// Err is the underlying error.
	Err error
}

func (e *FetchError) Error() string {
	msg := "saml: fetch metadata " + e.URL + ": " + string(e.Stage)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" %d", e.StatusCode)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrFetch and the underlying error.
func (e *FetchError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrFetch}
	}
	return []error{ErrFetch, e.Err}
}
