package saml

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/beevik/etree"
)

// Reading metadata without building a tree.
//
// Unless a metadata signer is configured, nothing needs a tree of the
// document: the scan that enforces the limits also gathers, for a single
// EntityDescriptor, every fact [extractIdP] reads, and for an aggregate the
// picked entity's bytes are read once more the same way. A signed document
// is still built as a tree, since the values must be read from the element
// goxmldsig verified; the facts are then taken from that tree, so both
// paths share one set of checks.

// xmlNamespaceURI is the namespace the xml prefix is bound to.
const xmlNamespaceURI = "http://www.w3.org/XML/1998/namespace"

// nsBind is one namespace declaration in scope.
type nsBind struct{ prefix, uri string }

// openElement is an element whose end tag has not been read yet: its name
// as written and the number of declarations in scope outside it.
type openElement struct {
	name   xml.Name
	nBinds int
}

// nsReader reads tokens with [xml.Decoder.RawToken] (which keeps no
// namespace map and no element stack of its own, so it allocates less than
// Token) and does itself what [xml.Decoder.Token] adds:
// every end tag must match its start tag, the document must not end inside
// an element, and element names are resolved to their namespace URI the
// way Token resolves them. Attribute names stay as written (prefix in
// Name.Space), which is how the tree reads them too.
type nsReader struct {
	d     *xml.Decoder
	binds []nsBind
	open  []openElement
}

func newNSReader(data []byte, scope []xml.Attr) *nsReader {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = unsupportedCharset
	r := &nsReader{d: d, binds: make([]nsBind, 0, 8+len(scope)), open: make([]openElement, 0, 16)}
	for i := len(scope) - 1; i >= 0; i-- {
		r.declare(scope[i])
	}
	return r
}

// declare adds the declaration a makes, if it is one.
func (r *nsReader) declare(a xml.Attr) {
	switch {
	case a.Name.Space == "xmlns":
		r.binds = append(r.binds, nsBind{prefix: a.Name.Local, uri: a.Value})
	case a.Name.Space == "" && a.Name.Local == "xmlns":
		r.binds = append(r.binds, nsBind{uri: a.Value})
	}
}

// resolve returns the namespace URI of an element name as written, as
// [xml.Decoder.Token] reports it: an undeclared prefix stays as it is.
func (r *nsReader) resolve(n xml.Name) string {
	switch {
	case n.Space == "xmlns":
		return n.Space
	case n.Space == "xml":
		return xmlNamespaceURI
	case n.Space == "" && n.Local == "xmlns":
		return ""
	}
	for i := len(r.binds) - 1; i >= 0; i-- {
		if r.binds[i].prefix == n.Space {
			return r.binds[i].uri
		}
	}
	return n.Space
}

// elementNS returns the namespace URI of an element of a tree as
// [nsReader.resolve] (and [xml.Decoder.Token]) resolves it: the xml and
// xmlns prefixes are not looked up in the declarations, so the scan and
// the tree agree on what an element is.
func elementNS(el *etree.Element) string {
	switch el.Space {
	case "xml":
		return xmlNamespaceURI
	case "xmlns":
		return el.Space
	}
	return el.NamespaceURI()
}

// offset is the input offset after the last token read.
func (r *nsReader) offset() int64 { return r.d.InputOffset() }

func (r *nsReader) syntaxError(msg string) error {
	line, _ := r.d.InputPos()
	return &MetadataError{Element: "document", Reason: fmt.Sprintf("not well-formed XML (line %d): %s", line, msg), Err: ErrMalformed}
}

// next returns the next token, or io.EOF after the last. The token's
// bytes are valid until the following call. Names are as written; for a
// StartElement, space is the namespace URI of its name.
func (r *nsReader) next() (tok xml.Token, space string, err error) {
	tok, err = r.d.RawToken()
	if err == io.EOF {
		if len(r.open) > 0 {
			return nil, "", r.syntaxError("unexpected EOF")
		}
		return nil, "", io.EOF
	}
	if err != nil {
		return nil, "", syntaxError(err)
	}
	switch t := tok.(type) {
	case xml.StartElement:
		r.open = append(r.open, openElement{name: t.Name, nBinds: len(r.binds)})
		for _, a := range t.Attr {
			r.declare(a)
		}
		return tok, r.resolve(t.Name), nil
	case xml.EndElement:
		if len(r.open) == 0 {
			return nil, "", r.syntaxError("unexpected end element </" + t.Name.Local + ">")
		}
		top := r.open[len(r.open)-1]
		switch {
		case top.name.Local != t.Name.Local:
			return nil, "", r.syntaxError("element <" + top.name.Local + "> closed by </" + t.Name.Local + ">")
		case top.name.Space != t.Name.Space:
			return nil, "", r.syntaxError("element <" + top.name.Local + "> with prefix " + top.name.Space + " closed by </" + t.Name.Local + "> with prefix " + t.Name.Space)
		}
		r.open = r.open[:len(r.open)-1]
		r.binds = r.binds[:top.nBinds]
	}
	return tok, "", nil
}

// scopeOfParent returns the namespace declarations in scope outside the
// innermost open element, nearest first, one per prefix: what an element
// cut out at that position needs declared to read as it did in place.
func (r *nsReader) scopeOfParent() []xml.Attr {
	n := len(r.binds)
	if len(r.open) > 0 {
		n = r.open[len(r.open)-1].nBinds
	}
	out := []xml.Attr{}
	for i := n - 1; i >= 0; i-- {
		b := r.binds[i]
		name := xml.Name{Local: "xmlns"}
		if b.prefix != "" {
			name = xml.Name{Space: "xmlns", Local: b.prefix}
		}
		if !slices.ContainsFunc(out, func(o xml.Attr) bool { return o.Name == name }) {
			out = append(out, xml.Attr{Name: name, Value: b.uri})
		}
	}
	return out
}

// entityFacts is what [extractIdP] reads from an EntityDescriptor.
type entityFacts struct {
	isEntity bool   // the element is an md:EntityDescriptor
	tag      string // its local name, for the error if not
	entityID string
	validity validityAttrs
	nIdPs    int  // IDPSSODescriptor children
	hasSP    bool // an SPSSODescriptor child
	idp      *idpFacts
}

type validityAttrs struct{ validUntil, cacheDuration string }

// idpFacts is the first IDPSSODescriptor that supports SAML 2.0.
type idpFacts struct {
	validity      validityAttrs
	wantSigned    string
	keys          []keyFacts
	sso, slo      []Endpoint // as written, not yet trimmed or checked
	nameIDFormats []string   // text as written
}

// keyFacts is one KeyDescriptor: its use and the certificates in its
// KeyInfo/X509Data elements.
type keyFacts struct {
	use   string
	certs []certFacts
}

// certFacts is one ds:X509Certificate, its base64 text already decoded.
type certFacts struct {
	index int    // 1-based position within its X509Data
	der   []byte // nil if err
	err   error
}

// decodeCert decodes the base64 text of a certificate with its whitespace
// removed.
func decodeCert(clean []byte) ([]byte, error) {
	if len(clean) == 0 {
		return nil, errors.New("empty certificate")
	}
	der := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
	n, err := base64.StdEncoding.Decode(der, clean)
	if err != nil {
		raw := bytes.TrimRight(clean, "=")
		der = make([]byte, base64.RawStdEncoding.DecodedLen(len(raw)))
		if n, err = base64.RawStdEncoding.Decode(der, raw); err != nil {
			return nil, fmt.Errorf("certificate is not base64: %w", err)
		}
	}
	return der[:n:n], nil
}

// appendClean appends text to dst without spaces, tabs and line breaks.
func appendClean[T string | []byte](dst []byte, text T) []byte {
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case ' ', '\t', '\r', '\n':
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// parseDER parses a decoded certificate.
func parseDER(der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate does not parse: %w", err)
	}
	return cert, nil
}

// What an element is to the collector.
const (
	kindOther uint8 = iota
	kindEntity
	kindIdP
	kindKey
	kindKeyInfo
	kindX509Data
	kindCert
	kindNameID
)

// factsCollector gathers entityFacts from the tokens of one
// EntityDescriptor, the way the tree walk of [treeFacts] reads them.
type factsCollector struct {
	f         entityFacts
	kinds     []uint8 // of the open elements, the entity first
	kindsBuf  [16]uint8
	text      []byte // text of the open X509Certificate or NameIDFormat
	textOpen  bool   // no child element or processing instruction yet
	x509Count int    // X509Certificate elements so far in the open X509Data
}

func newFactsCollector() *factsCollector {
	c := &factsCollector{}
	c.kinds = c.kindsBuf[:0]
	return c
}

// lastAttr returns the last unprefixed attribute named local: where an
// attribute is repeated, the tree keeps the last value.
func lastAttr(attrs []xml.Attr, local string) string {
	v := ""
	for _, a := range attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			v = a.Value
		}
	}
	return v
}

// start takes a start tag and the namespace URI of its name.
func (c *factsCollector) start(t xml.StartElement, space string) {
	kind := kindOther
	parent := kindOther
	if len(c.kinds) > 0 {
		parent = c.kinds[len(c.kinds)-1]
	}
	md := space == NamespaceMetadata
	ds := space == NamespaceXMLDSig
	switch {
	case len(c.kinds) == 0:
		kind = kindEntity
		c.f.isEntity = md && t.Name.Local == "EntityDescriptor"
		c.f.tag = t.Name.Local
		c.f.entityID = lastAttr(t.Attr, "entityID")
		c.f.validity = validityAttrs{lastAttr(t.Attr, "validUntil"), lastAttr(t.Attr, "cacheDuration")}
	case parent == kindCert || parent == kindNameID:
		c.textOpen = false
	case parent == kindEntity && md && t.Name.Local == "IDPSSODescriptor":
		c.f.nIdPs++
		if c.f.idp == nil && supportsSAML20(lastAttr(t.Attr, "protocolSupportEnumeration")) {
			kind = kindIdP
			c.f.idp = &idpFacts{
				validity:   validityAttrs{lastAttr(t.Attr, "validUntil"), lastAttr(t.Attr, "cacheDuration")},
				wantSigned: lastAttr(t.Attr, "WantAuthnRequestsSigned"),
			}
		}
	case parent == kindEntity && md && t.Name.Local == "SPSSODescriptor":
		c.f.hasSP = true
	case parent == kindIdP && md:
		idp := c.f.idp
		switch t.Name.Local {
		case "KeyDescriptor":
			// Every KeyDescriptor is listed, so errors count them as the
			// document does; an encryption key's certificates are not read.
			use := lastAttr(t.Attr, "use")
			if use != "encryption" {
				kind = kindKey
			}
			idp.keys = append(idp.keys, keyFacts{use: use})
		case "SingleSignOnService":
			idp.sso = append(idp.sso, Endpoint{Binding: lastAttr(t.Attr, "Binding"), Location: lastAttr(t.Attr, "Location")})
		case "SingleLogoutService":
			idp.slo = append(idp.slo, Endpoint{Binding: lastAttr(t.Attr, "Binding"), Location: lastAttr(t.Attr, "Location")})
		case "NameIDFormat":
			kind = kindNameID
			c.text, c.textOpen = c.text[:0], true
		}
	case parent == kindKey && ds && t.Name.Local == "KeyInfo":
		kind = kindKeyInfo
	case parent == kindKeyInfo && ds && t.Name.Local == "X509Data":
		kind = kindX509Data
		c.x509Count = 0
	case parent == kindX509Data && ds && t.Name.Local == "X509Certificate":
		kind = kindCert
		c.x509Count++
		c.text, c.textOpen = c.text[:0], true
	}
	c.kinds = append(c.kinds, kind)
}

// charData takes text directly inside the innermost open element.
func (c *factsCollector) charData(t []byte) {
	if !c.textOpen || len(c.kinds) == 0 {
		return
	}
	switch c.kinds[len(c.kinds)-1] {
	case kindCert:
		c.text = appendClean(slices.Grow(c.text, len(t)), t)
	case kindNameID:
		c.text = append(c.text, t...)
	}
}

// procInst takes a processing instruction: like a child element, it ends
// the text of the element it stands in.
func (c *factsCollector) procInst() {
	if k := c.innermost(); k == kindCert || k == kindNameID {
		c.textOpen = false
	}
}

func (c *factsCollector) innermost() uint8 {
	if len(c.kinds) == 0 {
		return kindOther
	}
	return c.kinds[len(c.kinds)-1]
}

func (c *factsCollector) end() {
	if len(c.kinds) == 0 {
		return
	}
	kind := c.kinds[len(c.kinds)-1]
	c.kinds = c.kinds[:len(c.kinds)-1]
	switch kind {
	case kindCert:
		c.addCert(c.x509Count, c.text)
	case kindNameID:
		c.f.idp.nameIDFormats = append(c.f.idp.nameIDFormats, string(c.text))
	}
	c.textOpen = false
}

// addCert decodes the cleaned text of the index-th certificate of an
// X509Data in the current KeyDescriptor.
func (c *factsCollector) addCert(index int, clean []byte) {
	k := &c.f.idp.keys[len(c.f.idp.keys)-1]
	der, err := decodeCert(clean)
	k.certs = append(k.certs, certFacts{index: index, der: der, err: err})
}

// collectEntity reads the facts of the EntityDescriptor cut out of a
// scanned document as data, with the namespace declarations in scope
// where it stands.
func collectEntity(data []byte, scope []xml.Attr) (*entityFacts, error) {
	r := newNSReader(data, scope)
	c := newFactsCollector()
	for {
		tok, space, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c.start(t, space)
		case xml.EndElement:
			c.end()
		case xml.CharData:
			c.charData(t)
		case xml.ProcInst:
			c.procInst()
		case xml.Directive:
			return nil, &MetadataError{Element: "document", Reason: "DOCTYPE and ENTITY declarations are not accepted", Err: ErrMalformed}
		}
	}
	if c.f.tag == "" {
		return nil, &MetadataError{Element: "EntityDescriptor", Reason: "could not be isolated", Err: ErrMalformed}
	}
	return &c.f, nil
}

// treeFacts reads the facts of an EntityDescriptor from its tree.
func treeFacts(ent *etree.Element) *entityFacts {
	f := &entityFacts{
		isEntity: ent.Tag == "EntityDescriptor" && elementNS(ent) == NamespaceMetadata,
		tag:      ent.Tag,
		entityID: attr(ent, "entityID"),
		validity: validityAttrs{attr(ent, "validUntil"), attr(ent, "cacheDuration")},
	}
	idps := mdChildren(ent, "IDPSSODescriptor")
	f.nIdPs = len(idps)
	f.hasSP = len(mdChildren(ent, "SPSSODescriptor")) > 0
	var idp *etree.Element
	for _, d := range idps {
		if supportsSAML20(attr(d, "protocolSupportEnumeration")) {
			idp = d
			break
		}
	}
	if idp == nil {
		return f
	}
	f.idp = &idpFacts{
		validity:   validityAttrs{attr(idp, "validUntil"), attr(idp, "cacheDuration")},
		wantSigned: attr(idp, "WantAuthnRequestsSigned"),
	}
	var clean []byte
	for _, kd := range mdChildren(idp, "KeyDescriptor") {
		k := keyFacts{use: attr(kd, "use")}
		if k.use == "encryption" {
			f.idp.keys = append(f.idp.keys, k)
			continue
		}
		for _, ki := range dsChildren(kd, "KeyInfo") {
			for _, xd := range dsChildren(ki, "X509Data") {
				for j, xc := range dsChildren(xd, "X509Certificate") {
					clean = appendClean(clean[:0], xc.Text())
					der, err := decodeCert(clean)
					k.certs = append(k.certs, certFacts{index: j + 1, der: der, err: err})
				}
			}
		}
		f.idp.keys = append(f.idp.keys, k)
	}
	for _, e := range mdChildren(idp, "SingleSignOnService") {
		f.idp.sso = append(f.idp.sso, Endpoint{Binding: attr(e, "Binding"), Location: attr(e, "Location")})
	}
	for _, e := range mdChildren(idp, "SingleLogoutService") {
		f.idp.slo = append(f.idp.slo, Endpoint{Binding: attr(e, "Binding"), Location: attr(e, "Location")})
	}
	for _, nf := range mdChildren(idp, "NameIDFormat") {
		f.idp.nameIDFormats = append(f.idp.nameIDFormats, nf.Text())
	}
	return f
}
