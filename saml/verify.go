package saml

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Verify checks a SAMLResponse as posted to the assertion consumer service
// (the base64 form value) and returns the assertion it carries.
//
// requestIDs are the IDs of this user's outstanding AuthnRequests (see
// [AuthnRequest.ID]); a response answering another request is refused with
// [ErrInResponseTo]. A response without InResponseTo is IdP-initiated and
// accepted only with [Config.AllowIdPInitiated] ([ErrUnsolicited]
// otherwise).
//
// Verify keeps no record of requests: the caller owns them. Once a
// response is accepted, drop the request it answers
// ([Assertion.InResponseTo]) from the user's outstanding requests, so
// that a second response to the same request, even a validly signed one,
// is refused. The replay cache covers assertion IDs, not request IDs.
//
// The response is parsed once, with size, token and depth bounds, and
// without DOCTYPE, processing instructions, duplicate attributes or
// undeclared prefixes ([ErrMalformed]). Either the Response or the
// Assertion must carry an enveloped XML signature by one of the IdP's
// certificates (valid at the current time; a certificate in KeyInfo must
// be one of them) whose single Reference names the signed element's ID
// and lists only the enveloped-signature transform and exclusive
// canonicalization; every value is read from the verified element, parsed
// afresh from the canonical bytes the digest covers, never from the
// posted bytes. Exactly one element named Assertion or
// EncryptedAssertion may appear in the whole document, no Response may be
// nested, and IDs must be unique, which defeats signature wrapping
// ([ErrSignature]). An EncryptedAssertion is decrypted with the SP's key.
//
// Then: Status must be Success ([*StatusError]); Response and Assertion
// Issuer must be the IdP entity ID, its Format omitted or
// [NameIDFormatEntity] ([ErrIssuer]); Destination must be the
// ACS URL — required on a signed Response, as the POST binding demands,
// and checked when present on an unsigned one ([ErrDestination]); a bearer
// SubjectConfirmationData must name the ACS URL as Recipient
// ([ErrRecipient]) and carry NotOnOrAfter; the audience restriction must
// contain the SP entity ID ([ErrAudience]); NotBefore and NotOnOrAfter of
// Conditions and SubjectConfirmationData, and SessionNotOnOrAfter, must
// hold within ClockSkew ([ErrNotYetValid], [ErrExpired]); the assertion ID
// must not have been accepted before ([ErrReplay]).
//
// When only the Assertion is signed, InResponseTo is taken from its
// SubjectConfirmationData (an unsigned Response's InResponseTo must agree
// with it and cannot make an unsolicited assertion solicited).
//
// Every refusal is a [*VerifyError] naming the element (or a
// [*StatusError]) and matches exactly one sentinel with errors.Is. A
// ServiceProvider that NewServiceProvider did not make (a zero value)
// refuses everything with a [*ConfigError].
func (sp *ServiceProvider) Verify(ctx context.Context, encodedResponse string, requestIDs ...string) (*Assertion, error) {
	if !sp.made() {
		return nil, errNotMade
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := sp.now()
	raw, release, err := decodeResponse(encodedResponse, sp.maxBytes)
	if err != nil {
		return nil, err
	}
	// The tree holds copies of everything it needs from raw.
	root, err := parseBounded(raw, "Response")
	release()
	if err != nil {
		return nil, err
	}
	if !xis(root, NamespaceProtocol, "Response") {
		return nil, verr(ErrMalformed, root.Tag, "the document is not a SAML 2.0 protocol Response")
	}
	if err := checkStatus(root); err != nil {
		return nil, err
	}

	// Structure: one Response, one assertion, unique IDs.
	var scan docScan
	var nsBuf [8]nsDecl
	var idBuf [4]string
	scan.ns, scan.ids = nsBuf[:0], idBuf[:0]
	scan.walk(root)
	if scan.undeclared != "" {
		return nil, verr(ErrMalformed, "Response", fmt.Sprintf("namespace prefix %q is used but not declared", scan.undeclared))
	}
	if scan.responses != 1 {
		return nil, verr(ErrSignature, "Response", "a Response nested in the Response (signature wrapping)")
	}
	if scan.dupID != "" {
		return nil, verr(ErrSignature, "Response", fmt.Sprintf("duplicate ID %q (signature wrapping)", scan.dupID))
	}
	var assertionEl *etree.Element
	var respSig *etree.Element
	for _, t := range root.Child {
		c, ok := t.(*etree.Element)
		if !ok {
			continue
		}
		switch {
		case (c.Tag == "Assertion" || c.Tag == "EncryptedAssertion") && c.NamespaceURI() == NamespaceAssertion:
			assertionEl = c
		case c.Tag == "Signature" && c.NamespaceURI() == NamespaceXMLDSig:
			if respSig != nil {
				return nil, verr(ErrSignature, "Response/Signature", "appears more than once")
			}
			respSig = c
		}
	}
	switch {
	case scan.assertions == 0:
		return nil, verr(ErrMalformed, "Response/Assertion", "missing")
	case scan.assertions > 1:
		return nil, verr(ErrSignature, "Response/Assertion", fmt.Sprintf("%d assertions in the document, exactly one is allowed (signature wrapping)", scan.assertions))
	case assertionEl == nil:
		return nil, verr(ErrSignature, "Response/Assertion", "the assertion is not a child of the Response (signature wrapping)")
	}

	// Signatures. resp and assertion end up as verified elements, except
	// resp when only the assertion is signed.
	resp := root
	responseSigned := respSig != nil
	if responseSigned {
		resp, err = sp.verifySignature(root, respSig, "Response", now)
		if err != nil {
			return nil, err
		}
		assertionEl = nil
		for _, t := range resp.Child {
			if c, ok := t.(*etree.Element); ok && (c.Tag == "Assertion" || c.Tag == "EncryptedAssertion") && c.NamespaceURI() == NamespaceAssertion {
				if assertionEl != nil {
					return nil, verr(ErrSignature, "Response/Assertion", "more than one assertion in the signed Response")
				}
				assertionEl = c
			}
		}
		if assertionEl == nil {
			return nil, verr(ErrSignature, "Response/Assertion", "not in the signed Response")
		}
	}
	if assertionEl.Tag == "EncryptedAssertion" {
		assertionEl, err = sp.decryptAssertion(assertionEl)
		if err != nil {
			return nil, err
		}
	}
	assertionSig, err := xchild(assertionEl, NamespaceXMLDSig, "Signature", "Response/Assertion/Signature")
	if err != nil {
		return nil, &VerifyError{Element: "Response/Assertion/Signature", Reason: "appears more than once", Err: ErrSignature}
	}
	assertion := assertionEl
	switch {
	case assertionSig != nil:
		assertion, err = sp.verifySignature(assertionEl, assertionSig, "Response/Assertion", now)
		if err != nil {
			return nil, err
		}
	case !responseSigned:
		return nil, verr(ErrSignature, "Response/Assertion", "neither the Response nor the Assertion is signed")
	}

	return sp.checkAssertion(ctx, resp, responseSigned, assertion, now, requestIDs)
}

func checkStatus(root *etree.Element) error {
	status, err := xchild(root, NamespaceProtocol, "Status", "Response/Status")
	if err != nil {
		return err
	}
	if status == nil {
		return verr(ErrMalformed, "Response/Status", "missing")
	}
	code, err := xchild(status, NamespaceProtocol, "StatusCode", "Response/Status/StatusCode")
	if err != nil {
		return err
	}
	if code == nil {
		return verr(ErrMalformed, "Response/Status/StatusCode", "missing")
	}
	value, _ := xattr(code, "Value")
	if value == StatusSuccess {
		return nil
	}
	se := &StatusError{Code: value}
	if sub, _ := xchild(code, NamespaceProtocol, "StatusCode", ""); sub != nil {
		se.SubCode, _ = xattr(sub, "Value")
	}
	if msg, _ := xchild(status, NamespaceProtocol, "StatusMessage", ""); msg != nil {
		se.Message, _ = xtext(msg, "")
		se.Message = strings.TrimSpace(se.Message)
	}
	return se
}

// checkAssertion reads and checks the verified elements. resp is the
// verified Response when responseSigned, else the posted one; assertion
// is always verified.
func (sp *ServiceProvider) checkAssertion(ctx context.Context, resp *etree.Element, responseSigned bool, a *etree.Element, now time.Time, requestIDs []string) (*Assertion, error) {
	idp := sp.cfg.IdP.EntityID
	if v, _ := xattr(resp, "Version"); v != "2.0" {
		return nil, verr(ErrMalformed, "Response@Version", fmt.Sprintf("%q, want \"2.0\"", v))
	}
	if _, err := xtime(xattrOr(resp, "IssueInstant"), "Response@IssueInstant"); err != nil {
		return nil, err
	}
	if iss, err := xchild(resp, NamespaceAssertion, "Issuer", "Response/Issuer"); err != nil {
		return nil, err
	} else if iss != nil {
		v, err := xtext(iss, "Response/Issuer")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(v) != idp {
			return nil, verr(ErrIssuer, "Response/Issuer", fmt.Sprintf("%q is not the IdP %q", v, idp))
		}
		if err := checkIssuerFormat(iss, "Response/Issuer"); err != nil {
			return nil, err
		}
	}
	dest, hasDest := xattr(resp, "Destination")
	switch {
	case hasDest && dest != sp.cfg.ACSURL:
		return nil, verr(ErrDestination, "Response@Destination", fmt.Sprintf("%q is not the ACS URL %q", dest, sp.cfg.ACSURL))
	case !hasDest && responseSigned:
		return nil, verr(ErrDestination, "Response@Destination", "missing on a signed Response")
	}
	respIRT, _ := xattr(resp, "InResponseTo")

	out := &Assertion{}
	const ap = "Response/Assertion"
	id, _ := xattr(a, "ID")
	if id == "" {
		return nil, verr(ErrMalformed, ap+"@ID", "missing")
	}
	if _, err := xtime(xattrOr(a, "IssueInstant"), ap+"@IssueInstant"); err != nil {
		return nil, err
	}
	iss, err := xchild(a, NamespaceAssertion, "Issuer", ap+"/Issuer")
	if err != nil {
		return nil, err
	}
	if iss == nil {
		return nil, verr(ErrIssuer, ap+"/Issuer", "missing")
	}
	v, err := xtext(iss, ap+"/Issuer")
	if err != nil {
		return nil, err
	}
	if out.Issuer = strings.TrimSpace(v); out.Issuer != idp {
		return nil, verr(ErrIssuer, ap+"/Issuer", fmt.Sprintf("%q is not the IdP %q", v, idp))
	}
	if err := checkIssuerFormat(iss, ap+"/Issuer"); err != nil {
		return nil, err
	}

	// Subject.
	subject, err := xchild(a, NamespaceAssertion, "Subject", ap+"/Subject")
	if err != nil {
		return nil, err
	}
	if subject == nil {
		return nil, verr(ErrMalformed, ap+"/Subject", "missing")
	}
	nameID, err := xchild(subject, NamespaceAssertion, "NameID", ap+"/Subject/NameID")
	if err != nil {
		return nil, err
	}
	if nameID == nil {
		if enc, _ := xchild(subject, NamespaceAssertion, "EncryptedID", ""); enc != nil {
			return nil, verr(ErrMalformed, ap+"/Subject/EncryptedID", "encrypted NameIDs are not supported")
		}
		return nil, verr(ErrMalformed, ap+"/Subject/NameID", "missing")
	}
	if v, err = xtext(nameID, ap+"/Subject/NameID"); err != nil {
		return nil, err
	}
	if out.NameID = strings.TrimSpace(v); out.NameID == "" {
		return nil, verr(ErrMalformed, ap+"/Subject/NameID", "empty")
	}
	out.NameIDFormat, _ = xattr(nameID, "Format")

	scIRT, scEnd, err := sp.checkSubjectConfirmation(subject, now)
	if err != nil {
		return nil, err
	}
	out.NotOnOrAfter = scEnd

	// Conditions.
	cond, err := xchild(a, NamespaceAssertion, "Conditions", ap+"/Conditions")
	if err != nil {
		return nil, err
	}
	if cond == nil {
		return nil, verr(ErrAudience, ap+"/Conditions", "missing, so the audience cannot be checked")
	}
	if s, ok := xattr(cond, "NotBefore"); ok {
		t, err := xtime(s, ap+"/Conditions@NotBefore")
		if err != nil {
			return nil, err
		}
		if now.Add(sp.skew).Before(t) {
			return nil, verr(ErrNotYetValid, ap+"/Conditions@NotBefore", fmt.Sprintf("%s is after now (%s) plus clock skew", s, now.UTC().Format(time.RFC3339)))
		}
	}
	if s, ok := xattr(cond, "NotOnOrAfter"); ok {
		t, err := xtime(s, ap+"/Conditions@NotOnOrAfter")
		if err != nil {
			return nil, err
		}
		if !now.Add(-sp.skew).Before(t) {
			return nil, verr(ErrExpired, ap+"/Conditions@NotOnOrAfter", fmt.Sprintf("%s is not after now (%s) minus clock skew", s, now.UTC().Format(time.RFC3339)))
		}
		if t.Before(out.NotOnOrAfter) {
			out.NotOnOrAfter = t
		}
	}
	restrictions := xchildren(cond, NamespaceAssertion, "AudienceRestriction")
	if len(restrictions) == 0 {
		return nil, verr(ErrAudience, ap+"/Conditions/AudienceRestriction", "missing")
	}
	for _, r := range restrictions {
		found := false
		var seen []string
		for _, au := range xchildren(r, NamespaceAssertion, "Audience") {
			v, err := xtext(au, ap+"/Conditions/AudienceRestriction/Audience")
			if err != nil {
				return nil, err
			}
			v = strings.TrimSpace(v)
			seen = append(seen, v)
			if v == sp.cfg.EntityID {
				found = true
				break
			}
		}
		if !found {
			return nil, verr(ErrAudience, ap+"/Conditions/AudienceRestriction/Audience", fmt.Sprintf("%q does not include the SP entity ID %q", seen, sp.cfg.EntityID))
		}
	}

	// AuthnStatement.
	authn, err := xchild(a, NamespaceAssertion, "AuthnStatement", ap+"/AuthnStatement")
	if err != nil {
		return nil, err
	}
	if authn == nil {
		return nil, verr(ErrMalformed, ap+"/AuthnStatement", "missing")
	}
	s, ok := xattr(authn, "AuthnInstant")
	if !ok {
		return nil, verr(ErrMalformed, ap+"/AuthnStatement@AuthnInstant", "missing")
	}
	if out.AuthnInstant, err = xtime(s, ap+"/AuthnStatement@AuthnInstant"); err != nil {
		return nil, err
	}
	out.SessionIndex, _ = xattr(authn, "SessionIndex")
	if s, ok := xattr(authn, "SessionNotOnOrAfter"); ok {
		t, err := xtime(s, ap+"/AuthnStatement@SessionNotOnOrAfter")
		if err != nil {
			return nil, err
		}
		if !now.Add(-sp.skew).Before(t) {
			return nil, verr(ErrExpired, ap+"/AuthnStatement@SessionNotOnOrAfter", fmt.Sprintf("%s is not after now (%s) minus clock skew", s, now.UTC().Format(time.RFC3339)))
		}
	}
	if ac, _ := xchild(authn, NamespaceAssertion, "AuthnContext", ""); ac != nil {
		if ref, _ := xchild(ac, NamespaceAssertion, "AuthnContextClassRef", ""); ref != nil {
			v, err := xtext(ref, ap+"/AuthnStatement/AuthnContext/AuthnContextClassRef")
			if err != nil {
				return nil, err
			}
			out.AuthnContext = strings.TrimSpace(v)
		}
	}

	// Attributes.
	statements := xchildren(a, NamespaceAssertion, "AttributeStatement")
	n := 0
	for _, st := range statements {
		n += len(st.Child)
	}
	out.Attributes = make(map[string][]string, n)
	for _, st := range statements {
		for _, at := range st.Child {
			at, ok := at.(*etree.Element)
			if !ok || at.Tag != "Attribute" || at.NamespaceURI() != NamespaceAssertion {
				continue
			}
			name, _ := xattr(at, "Name")
			if name == "" {
				return nil, verr(ErrMalformed, ap+"/AttributeStatement/Attribute@Name", "missing")
			}
			values := out.Attributes[name]
			for _, t := range at.Child {
				av, ok := t.(*etree.Element)
				if !ok || av.Tag != "AttributeValue" || av.NamespaceURI() != NamespaceAssertion {
					continue
				}
				if kids := av.ChildElements(); len(kids) == 1 {
					// A structured value such as a NameID: take its text.
					av = kids[0]
				}
				v, err := xtext(av, "")
				if err != nil {
					reason := err.Error()
					if ve := (*VerifyError)(nil); errors.As(err, &ve) {
						reason = ve.Reason
					}
					return nil, verr(ErrMalformed, ap+"/AttributeStatement/Attribute[@Name="+name+"]/AttributeValue", reason)
				}
				values = append(values, v)
			}
			if values == nil {
				values = []string{}
			}
			out.Attributes[name] = values
		}
	}

	// InResponseTo: from signed content only.
	irt := scIRT
	switch {
	case responseSigned && respIRT != "":
		if scIRT != "" && scIRT != respIRT {
			return nil, verr(ErrInResponseTo, ap+"/Subject/SubjectConfirmation/SubjectConfirmationData@InResponseTo", fmt.Sprintf("%q differs from Response@InResponseTo %q", scIRT, respIRT))
		}
		irt = respIRT
	case !responseSigned && respIRT != "" && respIRT != scIRT:
		return nil, verr(ErrInResponseTo, "Response@InResponseTo", fmt.Sprintf("%q is not the signed assertion's InResponseTo %q", respIRT, scIRT))
	}
	if irt == "" {
		if !sp.cfg.AllowIdPInitiated {
			return nil, verr(ErrUnsolicited, "Response@InResponseTo", "missing: the response is IdP-initiated and AllowIdPInitiated is off")
		}
	} else {
		if len(requestIDs) == 0 {
			return nil, verr(ErrInResponseTo, "Response@InResponseTo", fmt.Sprintf("%q answers a request, but no outstanding request IDs were given", irt))
		}
		if !slices.Contains(requestIDs, irt) {
			return nil, verr(ErrInResponseTo, "Response@InResponseTo", fmt.Sprintf("%q is not an outstanding request ID", irt))
		}
	}
	out.InResponseTo = irt

	// One-time use, last, so that a refused response does not burn the ID.
	seen, err := sp.replay.Seen(ctx, id, out.NotOnOrAfter.Add(sp.skew))
	if err != nil {
		return nil, fmt.Errorf("saml: replay cache: %w", err)
	}
	if seen {
		return nil, verr(ErrReplay, ap+"@ID", fmt.Sprintf("assertion %q was already used", id))
	}
	return out, nil
}

// checkIssuerFormat refuses an Issuer whose Format is not the entity
// format: an IdP's Issuer is its entity ID, and SAML core (2.3.3, 3.2.2)
// allows no other Format on the Issuer of a Response or Assertion.
func checkIssuerFormat(iss *etree.Element, path string) error {
	if f, ok := xattr(iss, "Format"); ok && f != NameIDFormatEntity {
		return verr(ErrIssuer, path+"@Format", fmt.Sprintf("%q: the Issuer is an entity ID (Format omitted or %s)", f, NameIDFormatEntity))
	}
	return nil
}

// checkSubjectConfirmation finds a bearer SubjectConfirmation whose data
// passes every check and returns its InResponseTo and NotOnOrAfter. When
// none passes, the first one's failure is returned.
func (sp *ServiceProvider) checkSubjectConfirmation(subject *etree.Element, now time.Time) (string, time.Time, error) {
	const path = "Response/Assertion/Subject/SubjectConfirmation"
	var firstErr error
	for _, sc := range xchildren(subject, NamespaceAssertion, "SubjectConfirmation") {
		if m, _ := xattr(sc, "Method"); m != subjectConfirmationBearer {
			continue
		}
		irt, end, err := sp.checkBearer(sc, now)
		if err == nil {
			return irt, end, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = verr(ErrMalformed, path, "no bearer SubjectConfirmation")
	}
	return "", time.Time{}, firstErr
}

func (sp *ServiceProvider) checkBearer(sc *etree.Element, now time.Time) (string, time.Time, error) {
	const path = "Response/Assertion/Subject/SubjectConfirmation/SubjectConfirmationData"
	data, err := xchild(sc, NamespaceAssertion, "SubjectConfirmationData", path)
	if err != nil {
		return "", time.Time{}, err
	}
	if data == nil {
		return "", time.Time{}, verr(ErrMalformed, path, "missing")
	}
	rcpt, ok := xattr(data, "Recipient")
	if !ok {
		return "", time.Time{}, verr(ErrRecipient, path+"@Recipient", "missing")
	}
	if rcpt != sp.cfg.ACSURL {
		return "", time.Time{}, verr(ErrRecipient, path+"@Recipient", fmt.Sprintf("%q is not the ACS URL %q", rcpt, sp.cfg.ACSURL))
	}
	if s, ok := xattr(data, "NotBefore"); ok {
		t, err := xtime(s, path+"@NotBefore")
		if err != nil {
			return "", time.Time{}, err
		}
		if now.Add(sp.skew).Before(t) {
			return "", time.Time{}, verr(ErrNotYetValid, path+"@NotBefore", fmt.Sprintf("%s is after now (%s) plus clock skew", s, now.UTC().Format(time.RFC3339)))
		}
	}
	s, ok := xattr(data, "NotOnOrAfter")
	if !ok {
		return "", time.Time{}, verr(ErrMalformed, path+"@NotOnOrAfter", "missing (required for bearer confirmation)")
	}
	end, err := xtime(s, path+"@NotOnOrAfter")
	if err != nil {
		return "", time.Time{}, err
	}
	if !now.Add(-sp.skew).Before(end) {
		return "", time.Time{}, verr(ErrExpired, path+"@NotOnOrAfter", fmt.Sprintf("%s is not after now (%s) minus clock skew", s, now.UTC().Format(time.RFC3339)))
	}
	irt, _ := xattr(data, "InResponseTo")
	return irt, end, nil
}
