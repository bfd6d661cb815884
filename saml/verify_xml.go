package saml

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/beevik/etree"
)

// SAML namespaces used when reading responses.
const (
	// NamespaceAssertion is the SAML 2.0 assertion namespace.
	NamespaceAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	// NamespaceProtocol is the SAML 2.0 protocol namespace.
	NamespaceProtocol = "urn:oasis:names:tc:SAML:2.0:protocol"

	// StatusSuccess is the top-level status code of a successful response.
	StatusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"

	subjectConfirmationBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// decodeResponse turns the posted form value into XML bytes: base64 with
// optional line breaks, optionally raw-DEFLATE compressed (which the POST
// binding does not use, but some IdPs send), all within maxBytes.
//
// The bytes may be in a buffer from decodeBuffers; call release when done
// with them (nothing may refer to them afterwards).
func decodeResponse(encoded string, maxBytes int) (raw []byte, release func(), err error) {
	limit := base64.StdEncoding.EncodedLen(maxBytes)
	limit += limit/64 + 8 // line breaks
	if len(encoded) > limit {
		return nil, nop, verr(ErrMalformed, "SAMLResponse", fmt.Sprintf("%d base64 characters is more than the %d-byte limit allows", len(encoded), maxBytes))
	}
	encoded = strings.TrimSpace(encoded)
	if encoded == "" {
		return nil, nop, verr(ErrMalformed, "SAMLResponse", "empty")
	}
	bp := decodeBuffers.Get().(*[]byte)
	if need := base64.StdEncoding.DecodedLen(len(encoded)); cap(*bp) < need {
		*bp = make([]byte, need)
	}
	raw = (*bp)[:cap(*bp)]
	release = func() {
		if cap(*bp) <= maxPooledBuffer {
			decodeBuffers.Put(bp)
		}
	}
	// Decode reads the string's bytes in place instead of copying them;
	// it never writes to its source.
	n, err := base64.StdEncoding.Decode(raw, unsafe.Slice(unsafe.StringData(encoded), len(encoded)))
	if err != nil {
		release()
		return nil, nop, &VerifyError{Element: "SAMLResponse", Reason: "not valid base64", Err: ErrMalformed, Cause: err}
	}
	raw = raw[:n]
	if len(raw) > maxBytes {
		release()
		return nil, nop, verr(ErrMalformed, "SAMLResponse", fmt.Sprintf("%d bytes exceeds the limit of %d", len(raw), maxBytes))
	}
	trimmed := bytes.TrimLeft(raw, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '<' {
		return raw, release, nil
	}
	defer release()
	// Not XML: try raw DEFLATE, bounded.
	fr := flate.NewReader(bytes.NewReader(raw))
	defer fr.Close()
	inflated, err := io.ReadAll(io.LimitReader(fr, int64(maxBytes)+1))
	if err != nil {
		return nil, nop, &VerifyError{Element: "SAMLResponse", Reason: "neither XML nor DEFLATE-compressed XML", Err: ErrMalformed, Cause: err}
	}
	if len(inflated) > maxBytes {
		return nil, nop, verr(ErrMalformed, "SAMLResponse", fmt.Sprintf("inflates to more than the limit of %d bytes", maxBytes))
	}
	return inflated, nop, nil
}

// decodeBuffers holds the buffers responses are base64-decoded into.
var decodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

func nop() {}

// parseBounded parses XML once into an etree element tree, refusing what a
// SAML message never needs: DOCTYPE and other declarations (so no
// entities), processing instructions other than the XML declaration,
// duplicate attributes, non-UTF-8 encodings, more than
// [DefaultMaxResponseTokens] tokens and nesting deeper than
// [MaxResponseDepth]. The tree is built directly from encoding/xml's raw
// tokens (as etree does, without its buffering copies).
func parseBounded(data []byte, what string) (*etree.Element, error) {
	malformed := func(reason string, cause error) error {
		return &VerifyError{Element: what, Reason: reason, Err: ErrMalformed, Cause: cause}
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var root, cur *etree.Element
	depth, tokens := 0, 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformed("not well-formed XML", err)
		}
		if tokens++; tokens > DefaultMaxResponseTokens {
			return nil, malformed(fmt.Sprintf("more than %d XML tokens", DefaultMaxResponseTokens), nil)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if cur == nil && root != nil {
				return nil, malformed("more than one root element", nil)
			}
			if depth++; depth > MaxResponseDepth {
				return nil, malformed(fmt.Sprintf("elements nested deeper than %d", MaxResponseDepth), nil)
			}
			el := etree.NewElement(t.Name.Local)
			el.Space = t.Name.Space
			if len(t.Attr) > 0 {
				el.Attr = make([]etree.Attr, 0, len(t.Attr))
			}
			for i, a := range t.Attr {
				for _, b := range t.Attr[:i] {
					if a.Name == b.Name {
						return nil, malformed(fmt.Sprintf("duplicate attribute %q on %s", a.Name.Local, t.Name.Local), nil)
					}
				}
				// Appended directly: etree's CreateAttr would need the
				// "prefix:name" string built first. (Attr's parent link is
				// only used by Attr.Element and Attr.NamespaceURI, which
				// this package and goxmldsig do not call.)
				el.Attr = append(el.Attr, etree.Attr{Space: a.Name.Space, Key: a.Name.Local, Value: a.Value})
			}
			if cur == nil {
				root = el
			} else {
				cur.AddChild(el)
			}
			cur = el
		case xml.EndElement:
			if cur == nil || cur.Tag != t.Name.Local || cur.Space != t.Name.Space {
				return nil, malformed("mismatched end tag", nil)
			}
			depth--
			cur = cur.Parent()
		case xml.CharData:
			if cur != nil {
				cur.AddChild(etree.NewText(string(t)))
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, malformed("text outside the root element", nil)
			}
		case xml.Comment:
			if cur != nil {
				cur.AddChild(etree.NewComment(string(t)))
			}
		case xml.ProcInst:
			if t.Target != "xml" || root != nil {
				return nil, malformed("processing instructions are not allowed", nil)
			}
		case xml.Directive:
			return nil, malformed("DOCTYPE, ENTITY and other declarations are not allowed", nil)
		}
	}
	if root == nil {
		return nil, malformed("no root element", nil)
	}
	if cur != nil {
		return nil, malformed("not well-formed XML: unexpected end", nil)
	}
	return root, nil
}

// xattr returns the value of the unqualified attribute key ("" if absent).
// Unlike etree's SelectAttr it does not match a prefixed attribute of the
// same local name.
func xattr(el *etree.Element, key string) (string, bool) {
	for i := range el.Attr {
		if el.Attr[i].Space == "" && el.Attr[i].Key == key {
			return el.Attr[i].Value, true
		}
	}
	return "", false
}

// xattrOr returns the value of the unqualified attribute key, "" if absent.
func xattrOr(el *etree.Element, key string) string {
	v, _ := xattr(el, key)
	return v
}

// xis reports whether el is the element {ns}tag.
func xis(el *etree.Element, ns, tag string) bool {
	return el.Tag == tag && el.NamespaceURI() == ns
}

// xchild returns the only child {ns}tag of el, nil if there is none, and
// an error naming path if there are several.
func xchild(el *etree.Element, ns, tag, path string) (*etree.Element, error) {
	var found *etree.Element
	for _, t := range el.Child {
		c, ok := t.(*etree.Element)
		if !ok || c.Tag != tag || c.NamespaceURI() != ns {
			continue
		}
		if found != nil {
			return nil, verr(ErrMalformed, path, "appears more than once")
		}
		found = c
	}
	return found, nil
}

// xchildren returns the children {ns}tag of el.
func xchildren(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok && c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// xtext returns the whole text content of el: every text node
// concatenated. It refuses content that is not plain text (comments,
// elements, processing instructions), so a value is never cut at a
// comment.
func xtext(el *etree.Element, path string) (string, error) {
	var s string
	n := 0
	for _, t := range el.Child {
		switch c := t.(type) {
		case *etree.CharData:
			if n == 0 {
				s = c.Data
			} else {
				s += c.Data
			}
			n++
		case *etree.Comment:
			return "", verr(ErrMalformed, path, "contains an XML comment")
		default:
			return "", verr(ErrMalformed, path, "contains markup where text is expected")
		}
	}
	return s, nil
}

// xtime parses an xs:dateTime attribute.
func xtime(v, path string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, &VerifyError{Element: path, Reason: fmt.Sprintf("%q is not an xs:dateTime with time zone", v), Err: ErrMalformed, Cause: err}
	}
	return t, nil
}

// xdetach makes el self-contained by declaring on it the namespace
// prefixes in scope from its ancestors that it does not declare itself.
// With all set, every in-scope prefix is declared (as inclusive
// canonicalization needs); otherwise only the prefixes used by el and its
// descendants, plus keep, which is all exclusive canonicalization renders.
// Either way the element keeps its meaning: cut out, it reads and
// canonicalizes as it did in place.
func xdetach(el *etree.Element, all bool, keep []string) {
	var used []string
	if !all {
		used = xusedPrefixes(el, append(used, keep...))
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			var prefix string
			switch {
			case a.Space == "xmlns":
				prefix = a.Key
			case a.Space == "" && a.Key == "xmlns":
				prefix = ""
			default:
				continue
			}
			if !all && !slices.Contains(used, prefix) {
				continue
			}
			if !xdeclares(el, prefix) {
				if prefix == "" {
					el.Attr = append(el.Attr, etree.Attr{Key: "xmlns", Value: a.Value})
				} else {
					el.Attr = append(el.Attr, etree.Attr{Space: "xmlns", Key: prefix, Value: a.Value})
				}
			}
		}
	}
}

// xusedPrefixes appends to dst the namespace prefixes of el and its
// descendants' element and attribute names ("" for unprefixed elements).
func xusedPrefixes(el *etree.Element, dst []string) []string {
	if !slices.Contains(dst, el.Space) {
		dst = append(dst, el.Space)
	}
	for _, a := range el.Attr {
		if a.Space != "" && a.Space != "xmlns" && !slices.Contains(dst, a.Space) {
			dst = append(dst, a.Space)
		}
	}
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok {
			dst = xusedPrefixes(c, dst)
		}
	}
	return dst
}

func xdeclares(el *etree.Element, prefix string) bool {
	for _, a := range el.Attr {
		if prefix == "" && a.Space == "" && a.Key == "xmlns" {
			return true
		}
		if prefix != "" && a.Space == "xmlns" && a.Key == prefix {
			return true
		}
	}
	return false
}

// docScan is the result of one pass over a parsed response.
type docScan struct {
	assertions int // elements named Assertion or EncryptedAssertion
	responses  int // elements named Response
	dupID      string
	undeclared string // a namespace prefix used without declaration
	ids        []string
	ns         []nsDecl
}

type nsDecl struct{ prefix, uri string }

func (s *docScan) resolve(prefix string) string {
	for i := len(s.ns) - 1; i >= 0; i-- {
		if s.ns[i].prefix == prefix {
			return s.ns[i].uri
		}
	}
	return ""
}

// walk visits every element once, resolving namespaces with a stack, to
// count Assertions and Responses and to find duplicate IDs.
func (s *docScan) walk(el *etree.Element) {
	mark := len(s.ns)
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			s.ns = append(s.ns, nsDecl{a.Key, a.Value})
		case a.Space == "" && a.Key == "xmlns":
			s.ns = append(s.ns, nsDecl{"", a.Value})
		}
	}
	if el.Space != "" && el.Space != "xml" && s.undeclared == "" && s.resolve(el.Space) == "" {
		s.undeclared = el.Space
	}
	nID := 0
	for _, a := range el.Attr {
		if a.Space != "" && a.Space != "xmlns" && a.Space != "xml" && s.undeclared == "" && s.resolve(a.Space) == "" {
			s.undeclared = a.Space
		}
		if a.Key != "ID" || a.Space == "xmlns" {
			continue
		}
		nID++
		for _, id := range s.ids {
			if id == a.Value && s.dupID == "" {
				s.dupID = id
			}
		}
		s.ids = append(s.ids, a.Value)
	}
	if nID > 1 && s.dupID == "" {
		s.dupID = "(two ID attributes on " + el.Tag + ")"
	}
	// Counted by local name in any namespace: an element that merely
	// looks like an assertion to some other parser is refused as well.
	switch el.Tag {
	case "Assertion", "EncryptedAssertion":
		s.assertions++
	case "Response":
		s.responses++
	}
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok {
			s.walk(c)
		}
	}
	s.ns = s.ns[:mark]
}
