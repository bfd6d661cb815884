package samltest

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-id/gatehouse/saml"
)

// Signing says which elements of a response carry a signature.
type Signing int

// Signing choices.
const (
	// SignAssertion signs the Assertion only (the default, as Entra ID does).
	SignAssertion Signing = iota
	// SignResponse signs the Response only.
	SignResponse
	// SignBoth signs the Assertion, then the Response around it.
	SignBoth
	// SignNone signs nothing.
	SignNone
)

// ResponseOption shapes a response made by [IdP.Response].
type ResponseOption func(*responseSpec)

type attribute struct {
	name   string
	values []string
}

type responseSpec struct {
	now                        time.Time
	issuer, assertionIssuer    string
	audiences                  []string
	recipient, destination     string
	noDestination              bool
	nameID, nameIDFormat       string
	attrs                      []attribute
	inResponseTo               string
	notBefore, notOnOrAfter    time.Time
	scdNotOnOrAfter            time.Time
	sessionNotOnOrAfter        time.Time
	signing                    Signing
	sigMethod                  string
	statusCode, subStatus, msg string
	assertionID, responseID    string
	sessionIndex, authnContext string
	attack                     Attack
	commentAt                  int
	signer                     crypto.Signer
	signerCert                 *x509.Certificate
	keyInfoCert                *x509.Certificate
	tamper                     []func(*etree.Element)
	deflate                    bool
	encryptFor                 *x509.Certificate
	signedComments             bool
}

// At issues the response at t instead of the IdP clock's time; validity
// windows are computed from it.
func At(t time.Time) ResponseOption { return func(s *responseSpec) { s.now = t } }

// WithValidity sets Conditions NotBefore/NotOnOrAfter and the
// SubjectConfirmationData NotOnOrAfter (default: issue time -30s/+5m).
func WithValidity(notBefore, notOnOrAfter time.Time) ResponseOption {
	return func(s *responseSpec) {
		s.notBefore, s.notOnOrAfter, s.scdNotOnOrAfter = notBefore, notOnOrAfter, notOnOrAfter
	}
}

// WithSubjectConfirmationNotOnOrAfter sets only the
// SubjectConfirmationData NotOnOrAfter.
func WithSubjectConfirmationNotOnOrAfter(t time.Time) ResponseOption {
	return func(s *responseSpec) { s.scdNotOnOrAfter = t }
}

// WithSessionNotOnOrAfter sets AuthnStatement@SessionNotOnOrAfter.
func WithSessionNotOnOrAfter(t time.Time) ResponseOption {
	return func(s *responseSpec) { s.sessionNotOnOrAfter = t }
}

// WithAudience sets the Audience values (default: the SP entity ID). No
// argument leaves the AudienceRestriction out.
func WithAudience(audiences ...string) ResponseOption {
	return func(s *responseSpec) { s.audiences = append([]string{}, audiences...) }
}

// WithRecipient sets SubjectConfirmationData@Recipient (default: ACS URL).
func WithRecipient(url string) ResponseOption { return func(s *responseSpec) { s.recipient = url } }

// WithDestination sets Response@Destination (default: ACS URL).
func WithDestination(url string) ResponseOption {
	return func(s *responseSpec) { s.destination, s.noDestination = url, false }
}

// WithoutDestination leaves Response@Destination out.
func WithoutDestination() ResponseOption { return func(s *responseSpec) { s.noDestination = true } }

// WithNameID sets the subject NameID value.
func WithNameID(value string) ResponseOption { return func(s *responseSpec) { s.nameID = value } }

// WithNameIDFormat sets the NameID Format (default emailAddress).
func WithNameIDFormat(format string) ResponseOption {
	return func(s *responseSpec) { s.nameIDFormat = format }
}

// WithAttribute sets an attribute's values, replacing an attribute of the
// same name.
func WithAttribute(name string, values ...string) ResponseOption {
	return func(s *responseSpec) {
		for i := range s.attrs {
			if s.attrs[i].name == name {
				s.attrs[i].values = values
				return
			}
		}
		s.attrs = append(s.attrs, attribute{name, values})
	}
}

// WithAttributes replaces the attributes (sorted by name in the document).
func WithAttributes(attrs map[string][]string) ResponseOption {
	return func(s *responseSpec) {
		s.attrs = nil
		for _, k := range sortedKeys(attrs) {
			s.attrs = append(s.attrs, attribute{k, attrs[k]})
		}
	}
}

// WithInResponseTo sets InResponseTo on the Response and on the
// SubjectConfirmationData (default: none, an IdP-initiated response).
func WithInResponseTo(id string) ResponseOption { return func(s *responseSpec) { s.inResponseTo = id } }

// WithIssuer sets the Issuer of both Response and Assertion.
func WithIssuer(entityID string) ResponseOption {
	return func(s *responseSpec) { s.issuer, s.assertionIssuer = entityID, entityID }
}

// WithAssertionIssuer sets the Issuer of the Assertion only.
func WithAssertionIssuer(entityID string) ResponseOption {
	return func(s *responseSpec) { s.assertionIssuer = entityID }
}

// WithSigning chooses which elements are signed.
func WithSigning(sign Signing) ResponseOption { return func(s *responseSpec) { s.signing = sign } }

// WithSignatureMethod sets the signature algorithm URI, for example
// dsig.RSASHA1SignatureMethod (the digest follows the same hash).
func WithSignatureMethod(uri string) ResponseOption {
	return func(s *responseSpec) { s.sigMethod = uri }
}

// WithStatus sets the top-level status code, an optional second-level code
// and a StatusMessage. Non-success responses carry no assertion.
func WithStatus(code, subCode, message string) ResponseOption {
	return func(s *responseSpec) { s.statusCode, s.subStatus, s.msg = code, subCode, message }
}

// WithAssertionID sets the Assertion ID (default: random).
func WithAssertionID(id string) ResponseOption { return func(s *responseSpec) { s.assertionID = id } }

// WithResponseID sets the Response ID (default: random).
func WithResponseID(id string) ResponseOption { return func(s *responseSpec) { s.responseID = id } }

// WithSessionIndex sets AuthnStatement@SessionIndex.
func WithSessionIndex(idx string) ResponseOption {
	return func(s *responseSpec) { s.sessionIndex = idx }
}

// WithAuthnContext sets the AuthnContextClassRef (default
// PasswordProtectedTransport).
func WithAuthnContext(classRef string) ResponseOption {
	return func(s *responseSpec) { s.authnContext = classRef }
}

// WithSigner signs with key and puts cert in KeyInfo instead of the IdP's
// own key pair.
func WithSigner(key crypto.Signer, cert *x509.Certificate) ResponseOption {
	return func(s *responseSpec) { s.signer, s.signerCert = key, cert }
}

// WithForeignKey signs with a key and certificate the IdP's metadata does
// not list (see [ForeignKey]).
func WithForeignKey() ResponseOption {
	return func(s *responseSpec) { s.signer, s.signerCert = ForeignKey() }
}

// WithKeyInfoCertificate replaces, after signing, the certificate in every
// KeyInfo with cert (which may differ from the signing one).
func WithKeyInfoCertificate(cert *x509.Certificate) ResponseOption {
	return func(s *responseSpec) { s.keyInfoCert = cert }
}

// WithNameIDComment inserts the comment <!----> into the NameID text at
// byte offset at, after signing. Exclusive canonicalization ignores
// comments, so the signature still verifies: a verifier that reads only
// the first text node sees a truncated NameID.
func WithNameIDComment(at int) ResponseOption { return func(s *responseSpec) { s.commentAt = at } }

// WithSignedComments signs with exclusive canonicalization WithComments,
// and inserts the [WithNameIDComment] comment before signing, so that the
// comment is part of the signed content.
func WithSignedComments() ResponseOption { return func(s *responseSpec) { s.signedComments = true } }

// WithAttack reshapes the signed response into an attack; see [Attack].
func WithAttack(a Attack) ResponseOption { return func(s *responseSpec) { s.attack = a } }

// WithTamper runs f on the Response element after signing (and after any
// attack), to build shapes of one's own.
func WithTamper(f func(response *etree.Element)) ResponseOption {
	return func(s *responseSpec) { s.tamper = append(s.tamper, f) }
}

// Deflated raw-DEFLATE-compresses the XML before base64 (as the Redirect
// binding does; the POST binding does not).
func Deflated() ResponseOption { return func(s *responseSpec) { s.deflate = true } }

// Response returns a base64 SAMLResponse, as an IdP posts it to the ACS,
// signed for real. It fails the test on error (panics for an IdP made
// with [Start]).
func (p *IdP) Response(opts ...ResponseOption) string {
	out, err := p.response(opts)
	if err != nil {
		p.fail("Response", err)
	}
	return out
}

// NewResponse is like [IdP.Response] but returns any error.
func (p *IdP) NewResponse(opts ...ResponseOption) (string, error) { return p.response(opts) }

// ResponseXML is like [IdP.Response] but returns the XML document.
func (p *IdP) ResponseXML(opts ...ResponseOption) []byte {
	out, err := p.build(p.spec(opts))
	if err != nil {
		p.fail("ResponseXML", err)
	}
	return out
}

func (p *IdP) fail(what string, err error) {
	if p.tb == nil {
		panic("samltest: " + what + ": " + err.Error())
	}
	p.tb.Helper()
	p.tb.Fatalf("samltest: %s: %v", what, err)
}

// response builds a response without touching tb (safe in server
// goroutines).
func (p *IdP) response(opts []ResponseOption) (string, error) {
	s := p.spec(opts)
	xmlBytes, err := p.build(s)
	if err != nil {
		return "", err
	}
	if s.deflate {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.DefaultCompression)
		_, _ = w.Write(xmlBytes)
		if err := w.Close(); err != nil {
			return "", err
		}
		xmlBytes = b.Bytes()
	}
	return base64.StdEncoding.EncodeToString(xmlBytes), nil
}

func (p *IdP) spec(opts []ResponseOption) *responseSpec {
	s := &responseSpec{
		now:          p.now(),
		issuer:       p.entityID,
		recipient:    p.acsURL,
		destination:  p.acsURL,
		nameID:       p.nameID,
		nameIDFormat: saml.NameIDFormatEmailAddress,
		sigMethod:    dsig.RSASHA256SignatureMethod,
		statusCode:   saml.StatusSuccess,
		authnContext: saml.AuthnContextPasswordProtectedTransport,
		commentAt:    -1,
		audiences:    []string{p.spEntityID},
		signer:       p.key,
		signerCert:   p.cert,
	}
	for _, k := range sortedKeys(p.attrs) {
		s.attrs = append(s.attrs, attribute{k, p.attrs[k]})
	}
	for _, o := range p.defaults {
		o(s)
	}
	for _, o := range opts {
		o(s)
	}
	if s.assertionIssuer == "" {
		s.assertionIssuer = s.issuer
	}
	if s.assertionID == "" {
		s.assertionID = newID()
	}
	if s.responseID == "" {
		s.responseID = newID()
	}
	if s.sessionIndex == "" {
		s.sessionIndex = newID()
	}
	if s.notBefore.IsZero() {
		s.notBefore = s.now.Add(-30 * time.Second)
	}
	if s.notOnOrAfter.IsZero() {
		s.notOnOrAfter = s.now.Add(5 * time.Minute)
	}
	if s.scdNotOnOrAfter.IsZero() {
		s.scdNotOnOrAfter = s.notOnOrAfter
	}
	if s.sessionNotOnOrAfter.IsZero() {
		s.sessionNotOnOrAfter = s.now.Add(8 * time.Hour)
	}
	return s
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "_" + hex.EncodeToString(b[:])
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// build returns the response XML.
func (p *IdP) build(s *responseSpec) ([]byte, error) {
	resp := p.responseElement(s)
	if s.statusCode == saml.StatusSuccess {
		a := p.assertionElement(s)
		if s.signedComments && s.commentAt >= 0 {
			if err := insertComment(a, s.commentAt); err != nil {
				return nil, err
			}
		}
		if s.signing == SignAssertion || s.signing == SignBoth || (s.attack >= XSW3 && s.attack <= XSW8) {
			if err := sign(a, s); err != nil {
				return nil, err
			}
		}
		if s.encryptFor != nil {
			ea, err := encryptAssertion(a, s.encryptFor)
			if err != nil {
				return nil, err
			}
			a = ea
		}
		resp.AddChild(a)
	}
	if s.signing == SignResponse || s.signing == SignBoth || s.attack == XSW1 || s.attack == XSW2 {
		if err := sign(resp, s); err != nil {
			return nil, err
		}
	}
	if s.attack != NoAttack {
		var err error
		if resp, err = applyAttack(resp, s.attack); err != nil {
			return nil, err
		}
	}
	if s.keyInfoCert != nil {
		for _, c := range findAll(resp, "X509Certificate") {
			c.SetText(base64.StdEncoding.EncodeToString(s.keyInfoCert.Raw))
		}
	}
	if s.commentAt >= 0 && !s.signedComments {
		if err := insertComment(resp, s.commentAt); err != nil {
			return nil, err
		}
	}
	for _, f := range s.tamper {
		f(resp)
	}
	doc := etree.NewDocument()
	doc.SetRoot(resp)
	return doc.WriteToBytes()
}

func (p *IdP) responseElement(s *responseSpec) *etree.Element {
	r := etree.NewElement("samlp:Response")
	r.CreateAttr("xmlns:samlp", saml.NamespaceProtocol)
	r.CreateAttr("xmlns:saml", saml.NamespaceAssertion)
	r.CreateAttr("ID", s.responseID)
	r.CreateAttr("Version", "2.0")
	r.CreateAttr("IssueInstant", ts(s.now))
	if !s.noDestination {
		r.CreateAttr("Destination", s.destination)
	}
	if s.inResponseTo != "" {
		r.CreateAttr("InResponseTo", s.inResponseTo)
	}
	r.CreateElement("saml:Issuer").SetText(s.issuer)
	st := r.CreateElement("samlp:Status")
	code := st.CreateElement("samlp:StatusCode")
	code.CreateAttr("Value", s.statusCode)
	if s.subStatus != "" {
		code.CreateElement("samlp:StatusCode").CreateAttr("Value", s.subStatus)
	}
	if s.msg != "" {
		st.CreateElement("samlp:StatusMessage").SetText(s.msg)
	}
	return r
}

func (p *IdP) assertionElement(s *responseSpec) *etree.Element {
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", saml.NamespaceAssertion)
	a.CreateAttr("ID", s.assertionID)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", ts(s.now))
	a.CreateElement("saml:Issuer").SetText(s.assertionIssuer)
	subj := a.CreateElement("saml:Subject")
	nid := subj.CreateElement("saml:NameID")
	if s.nameIDFormat != "" {
		nid.CreateAttr("Format", s.nameIDFormat)
	}
	nid.SetText(s.nameID)
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	scd.CreateAttr("NotOnOrAfter", ts(s.scdNotOnOrAfter))
	if s.recipient != "" {
		scd.CreateAttr("Recipient", s.recipient)
	}
	if s.inResponseTo != "" {
		scd.CreateAttr("InResponseTo", s.inResponseTo)
	}
	cond := a.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", ts(s.notBefore))
	cond.CreateAttr("NotOnOrAfter", ts(s.notOnOrAfter))
	if len(s.audiences) > 0 {
		ar := cond.CreateElement("saml:AudienceRestriction")
		for _, au := range s.audiences {
			ar.CreateElement("saml:Audience").SetText(au)
		}
	}
	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", ts(s.now.Add(-time.Second)))
	as.CreateAttr("SessionIndex", s.sessionIndex)
	as.CreateAttr("SessionNotOnOrAfter", ts(s.sessionNotOnOrAfter))
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(s.authnContext)
	if len(s.attrs) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		for _, at := range s.attrs {
			ae := st.CreateElement("saml:Attribute")
			ae.CreateAttr("Name", at.name)
			for _, v := range at.values {
				ae.CreateElement("saml:AttributeValue").SetText(v)
			}
		}
	}
	return a
}

// insertComment splits the text of every NameID under el with <!---->.
func insertComment(el *etree.Element, at int) error {
	for _, n := range findAll(el, "NameID") {
		text := n.Text()
		if at > len(text) {
			return fmt.Errorf("WithNameIDComment(%d): NameID %q is shorter", at, text)
		}
		n.SetText(text[:at])
		n.CreateComment("")
		n.CreateText(text[at:])
	}
	return nil
}

// sign adds an enveloped signature to el, right after its Issuer as the
// SAML schema places it.
func sign(el *etree.Element, s *responseSpec) error {
	ctx, err := dsig.NewSigningContext(s.signer, [][]byte{s.signerCert.Raw})
	if err != nil {
		return err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if s.signedComments {
		ctx.Canonicalizer = dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList("")
	}
	method := s.sigMethod
	if _, isEC := s.signer.Public().(*ecdsa.PublicKey); isEC && method == dsig.RSASHA256SignatureMethod {
		method = dsig.ECDSASHA256SignatureMethod
	}
	if err := ctx.SetSignatureMethod(method); err != nil {
		return err
	}
	sig, err := ctx.ConstructSignature(el, true)
	if err != nil {
		return err
	}
	el.InsertChildAt(1, sig)
	return nil
}

func findAll(el *etree.Element, tag string) []*etree.Element {
	var out []*etree.Element
	var walk func(*etree.Element)
	walk = func(e *etree.Element) {
		if e.Tag == tag {
			out = append(out, e)
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(el)
	return out
}
