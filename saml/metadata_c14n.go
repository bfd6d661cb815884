package saml

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
	"github.com/russellhaering/goxmldsig/types"
)

// Verifying a signed aggregate without building its whole tree.
//
// A federation signs its EntitiesDescriptor as a whole, with an enveloped
// signature and exclusive canonicalization. Building the tree of a large
// aggregate costs many times its size, so for that common profile the
// digest is computed child by child instead: the canonical form of the root
// is its canonical start tag, then each child's canonical form in the
// namespace context the root renders, then the end tag. Each child is built
// as a small tree, canonicalized with goxmldsig's own exclusive
// canonicalization and streamed into the hash; the picked entity's
// canonical bytes (exactly what was hashed) are kept and used. Anything
// outside that profile falls back to goxmldsig on the full tree.

// errC14nFallback: the document is outside the streamed profile; verify it
// on the full tree instead.
var errC14nFallback = errors.New("saml: signed aggregate outside the streamed profile")

// probeNamespace binds the prefix of the synthetic parent used to
// canonicalize a child in its context. Documents using it take the
// full-tree path.
const probeNamespace = "urn:gatehouse:metadata:c14n-context"

// rootKid is a direct child of the root of an aggregate: an element (its
// byte range) or whitespace text.
type rootKid struct {
	start, end int64
	text       string
	isText     bool
	signature  bool
	entity     int // index into scanResult.entities, or -1
}

// canonicalWriteSettings are goxmldsig's settings for canonical output.
func canonicalWriteSettings() etree.WriteSettings {
	return etree.WriteSettings{CanonicalAttrVal: true, CanonicalEndTags: true, CanonicalText: true}
}

func writeCanonical(w io.Writer, el *etree.Element) error {
	doc := etree.NewDocument()
	doc.WriteSettings = canonicalWriteSettings()
	doc.SetRoot(el)
	_, err := doc.WriteTo(w)
	return err
}

// aggregateC14n canonicalizes the root of an aggregate piece by piece.
type aggregateC14n struct {
	data      []byte
	rootStart string       // canonical start tag of the root
	rootEnd   string       // canonical end tag of the root
	scopeNS   []etree.Attr // namespace declarations on the root
	rendered  []etree.Attr // declarations the canonical root renders
	kids      []rootKid    // the root's children, from the scan
	probe     string       // prefix bound to probeNamespace
	nsAttrs   []xml.Attr   // the root's declarations, for building children
	sigKid    int          // index of the root's Signature in kids
}

// newAggregateC14n prepares the root's canonical start and end tags and its
// rendered namespace context.
func newAggregateC14n(data []byte, sc *scanResult) (*aggregateC14n, error) {
	if sc.rootUnsupported || sc.rootStartEnd <= 0 || bytes.Contains(data, []byte(probeNamespace)) {
		return nil, errC14nFallback
	}
	sig := -1
	for i, k := range sc.rootKids {
		if k.signature {
			if sig >= 0 {
				return nil, errC14nFallback
			}
			sig = i
		}
	}
	if sig < 0 {
		return nil, errC14nFallback
	}
	// The root alone: its start tag and a matching end tag.
	startTag := data[sc.rootStart:sc.rootStartEnd]
	if bytes.HasSuffix(startTag, []byte("/>")) {
		return nil, errC14nFallback
	}
	name := startTag[1:]
	if i := bytes.IndexAny(name, " \t\r\n/>"); i >= 0 {
		name = name[:i]
	}
	root, err := buildDOM(io.MultiReader(bytes.NewReader(startTag), strings.NewReader("</"+string(name)+">")))
	if err != nil {
		return nil, err
	}
	a := &aggregateC14n{data: data, kids: sc.rootKids, sigKid: sig}
	for _, at := range root.Attr {
		if at.Space == "xmlns" || (at.Space == "" && at.Key == "xmlns") {
			a.scopeNS = append(a.scopeNS, at)
		}
	}
	if err := etreeutils.TransformExcC14n(root, "", false); err != nil {
		return nil, errC14nFallback
	}
	for _, at := range root.Attr {
		if at.Space == "xmlns" || (at.Space == "" && at.Key == "xmlns") {
			a.rendered = append(a.rendered, at)
		}
	}
	var buf bytes.Buffer
	tag := root.FullTag()
	if err := writeCanonical(&buf, root); err != nil {
		return nil, err
	}
	a.rootEnd = "</" + tag + ">"
	s := buf.String()
	if !strings.HasSuffix(s, a.rootEnd) {
		return nil, errC14nFallback
	}
	a.rootStart = strings.TrimSuffix(s, a.rootEnd)

	// A prefix for the synthetic parent that nothing in scope uses.
	a.probe = "ghc14n"
	for n := 0; a.hasScopePrefix(a.probe); n++ {
		a.probe = fmt.Sprintf("ghc14n%d", n)
	}
	for _, at := range a.scopeNS {
		name := xml.Name{Space: "xmlns", Local: at.Key}
		if at.Space == "" {
			name = xml.Name{Local: "xmlns"}
		}
		a.nsAttrs = append(a.nsAttrs, xml.Attr{Name: name, Value: at.Value})
	}
	return a, nil
}

func (a *aggregateC14n) hasScopePrefix(p string) bool {
	for _, at := range a.scopeNS {
		if at.Space == "xmlns" && at.Key == p {
			return true
		}
	}
	return false
}

// canonicalKid writes the canonical form of root child k, in the context
// the canonical root renders, to w.
func (a *aggregateC14n) canonicalKid(w io.Writer, k rootKid) error {
	if k.isText {
		_, err := io.WriteString(w, strings.ReplaceAll(k.text, "\r", "&#xD;"))
		return err
	}
	// The child, parsed with the root's declarations in scope (as it stands
	// in the document)...
	child, err := buildFragment(a.data[k.start:k.end], a.nsAttrs)
	if err != nil {
		return err
	}
	// ...under a synthetic parent that declares what the root declares and
	// visibly uses exactly the prefixes the canonical root renders, so the
	// child is canonicalized as it is inside the root.
	parent := etree.NewElement("p")
	parent.Space = a.probe
	parent.Attr = append(parent.Attr, a.scopeNS...)
	parent.CreateAttr("xmlns:"+a.probe, probeNamespace)
	for _, at := range a.rendered {
		if at.Space == "" { // the default namespace: the parent uses it
			parent.Space = ""
			continue
		}
		parent.Attr = append(parent.Attr, etree.Attr{Space: at.Key, Key: "p", Value: ""})
	}
	// Declarations copied onto the child from the root have the values the
	// parent declares, so they change nothing in its canonical form.
	parent.AddChild(child)
	if err := etreeutils.TransformExcC14n(parent, "", false); err != nil {
		return errC14nFallback
	}
	return writeCanonical(w, child)
}

// write writes the canonical form of the root without its Signature to w,
// and the canonical form of the entity with index keep also to kept.
func (a *aggregateC14n) write(w io.Writer, keep int, kept io.Writer) error {
	if _, err := io.WriteString(w, a.rootStart); err != nil {
		return err
	}
	for i, k := range a.kids {
		if i == a.sigKid {
			continue // the enveloped-signature transform
		}
		to := w
		if !k.isText && k.entity >= 0 && k.entity == keep && kept != nil {
			to = io.MultiWriter(w, kept)
		}
		if err := a.canonicalKid(to, k); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, a.rootEnd)
	return err
}

// verifyAggregateStreamed checks the root signature of a signed aggregate
// against certs and returns the picked entity as signed (parsed from its
// canonical bytes), with the validity chain of the root. SHA-1 signature
// and digest methods are refused unless allowSHA1.
func verifyAggregateStreamed(data []byte, sc *scanResult, ent *scanEntity, certs []*x509.Certificate, now time.Time, allowSHA1 bool) (*etree.Element, []validity, error) {
	a, err := newAggregateC14n(data, sc)
	if err != nil {
		return nil, nil, err
	}
	direct := false
	for _, k := range a.kids {
		direct = direct || (!k.isText && k.entity == ent.index)
	}
	if !direct {
		// The entity sits in a nested EntitiesDescriptor.
		return nil, nil, errC14nFallback
	}
	sigKid := a.kids[a.sigKid]
	sigEl, err := buildFragment(data[sigKid.start:sigKid.end], a.nsAttrs)
	if err != nil {
		return nil, nil, err
	}
	fail := func(reason string, cause error) error {
		msg := "signature check failed: " + reason
		if cause != nil {
			msg += ": " + cause.Error()
		}
		return &MetadataError{Element: "EntitiesDescriptor/Signature", Reason: msg, Err: ErrSignature, Cause: cause}
	}

	// Shape, as goxmldsig requires it.
	counts := map[string]int{}
	for _, c := range sigEl.ChildElements() {
		counts[c.Tag]++
	}
	if counts["SignedInfo"] != 1 || counts["KeyInfo"] > 1 || counts["SignatureValue"] != 1 {
		return nil, nil, fail("Signature must hold one SignedInfo, one SignatureValue and at most one KeyInfo", nil)
	}
	var sig types.Signature
	if err := etreeutils.NSUnmarshalElement(etreeutils.NewDefaultNSContext(), sigEl, &sig); err != nil {
		return nil, nil, fail("unreadable Signature", err)
	}

	// The signed info, canonicalized as goxmldsig does.
	var siEl *etree.Element
	for _, c := range sigEl.ChildElements() {
		if c.Tag == "SignedInfo" && c.NamespaceURI() == NamespaceXMLDSig {
			siEl = c
		}
	}
	if siEl == nil || sig.SignedInfo == nil || sig.SignatureValue == nil {
		return nil, nil, fail("no SignedInfo", nil)
	}
	if dsig.AlgorithmID(sig.SignedInfo.CanonicalizationMethod.Algorithm) != dsig.CanonicalXML10ExclusiveAlgorithmId {
		return nil, nil, errC14nFallback
	}
	nsCtx, err := etreeutils.NSBuildParentContext(siEl)
	if err != nil {
		return nil, nil, fail("SignedInfo namespaces", err)
	}
	detached, err := etreeutils.NSDetatch(nsCtx, siEl)
	if err != nil {
		return nil, nil, fail("SignedInfo namespaces", err)
	}
	if err := etreeutils.TransformExcC14n(detached, "", false); err != nil {
		return nil, nil, fail("SignedInfo canonicalization", err)
	}
	var canonSI bytes.Buffer
	if err := writeCanonical(&canonSI, detached); err != nil {
		return nil, nil, fail("SignedInfo canonicalization", err)
	}

	// The certificate: one of the pinned ones, valid now.
	var cert *x509.Certificate
	if sig.KeyInfo != nil {
		if len(sig.KeyInfo.X509Data.X509Certificates) == 0 || sig.KeyInfo.X509Data.X509Certificates[0].Data == "" {
			return nil, nil, fail("missing X509Certificate within KeyInfo", nil)
		}
		c, err := parseCertText(sig.KeyInfo.X509Data.X509Certificates[0].Data)
		if err != nil {
			return nil, nil, fail("KeyInfo certificate", err)
		}
		for _, pinned := range certs {
			if pinned.Equal(c) {
				cert = pinned
			}
		}
	} else if len(certs) == 1 {
		cert = certs[0]
	}
	if cert == nil {
		return nil, nil, fail("not signed by a pinned certificate", nil)
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, nil, fail("the signing certificate is not valid now", nil)
	}
	if alg := sig.SignedInfo.SignatureMethod.Algorithm; !allowSHA1 && sha1SignatureMethods[alg] {
		return nil, nil, &MetadataError{Element: "EntitiesDescriptor/Signature/SignedInfo/SignatureMethod", Attr: "Algorithm",
			Reason: alg + " uses SHA-1, refused unless WithInsecureSHA1 is given", Err: ErrSignature}
	}
	algo, ok := x509SignatureAlgorithms[sig.SignedInfo.SignatureMethod.Algorithm]
	if !ok {
		return nil, nil, errC14nFallback
	}
	sigValue, err := base64.StdEncoding.DecodeString(sig.SignatureValue.Data)
	if err != nil {
		return nil, nil, fail("SignatureValue is not base64", err)
	}
	if err := cert.CheckSignature(algo, canonSI.Bytes(), sigValue); err != nil {
		return nil, nil, fail("SignedInfo", err)
	}

	// The reference, read from the verified canonical SignedInfo only.
	var si types.SignedInfo
	if err := xml.Unmarshal(canonSI.Bytes(), &si); err != nil {
		return nil, nil, fail("SignedInfo", err)
	}
	rootID := attrOfStartTag(data[sc.rootStart:sc.rootStartEnd], "ID")
	var ref *types.Reference
	for i := range si.References {
		if u := si.References[i].URI; u == "" || (len(u) > 1 && u[1:] == rootID) {
			ref = &si.References[i]
			break
		}
	}
	if ref == nil {
		return nil, nil, fail("no Reference to the EntitiesDescriptor", nil)
	}
	tr := ref.Transforms.Transforms
	if len(tr) != 2 || dsig.AlgorithmID(tr[0].Algorithm) != dsig.EnvelopedSignatureAltorithmId ||
		dsig.AlgorithmID(tr[1].Algorithm) != dsig.CanonicalXML10ExclusiveAlgorithmId ||
		(tr[1].InclusiveNamespaces != nil && strings.TrimSpace(tr[1].InclusiveNamespaces.PrefixList) != "") {
		return nil, nil, errC14nFallback
	}
	if alg := ref.DigestAlgo.Algorithm; !allowSHA1 && alg == digestSHA1 {
		return nil, nil, &MetadataError{Element: "EntitiesDescriptor/Signature/SignedInfo/Reference/DigestMethod", Attr: "Algorithm",
			Reason: alg + " is SHA-1, refused unless WithInsecureSHA1 is given", Err: ErrSignature}
	}
	hash, ok := digestHashes[ref.DigestAlgo.Algorithm]
	if !ok || !hash.Available() {
		return nil, nil, errC14nFallback
	}
	want, err := base64.StdEncoding.DecodeString(ref.DigestValue)
	if err != nil {
		return nil, nil, fail("DigestValue is not base64", err)
	}

	// The digest, child by child; the picked entity is kept as hashed.
	h := hash.New()
	var picked bytes.Buffer
	if err := a.write(h, ent.index, &picked); err != nil {
		if errors.Is(err, errC14nFallback) {
			return nil, nil, err
		}
		return nil, nil, fail("canonicalization", err)
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return nil, nil, fail("the digest does not match: the document was changed after signing", nil)
	}

	// The entity as signed, read in the namespace context the canonical
	// root renders.
	renderedNS := make([]xml.Attr, 0, len(a.rendered))
	for _, at := range a.rendered {
		name := xml.Name{Space: "xmlns", Local: at.Key}
		if at.Space == "" {
			name = xml.Name{Local: "xmlns"}
		}
		renderedNS = append(renderedNS, xml.Attr{Name: name, Value: at.Value})
	}
	el, err := buildFragment(picked.Bytes(), renderedNS)
	if err != nil {
		return nil, nil, err
	}
	rootAttrs, err := buildDOM(strings.NewReader(a.rootStart + a.rootEnd))
	if err != nil {
		return nil, nil, err
	}
	return el, []validity{validityEl(rootAttrs, "EntitiesDescriptor")}, nil
}

// attrOfStartTag returns an unprefixed attribute of a start tag.
func attrOfStartTag(tag []byte, local string) string {
	d := xml.NewDecoder(bytes.NewReader(tag))
	d.Strict = false
	tok, err := d.RawToken()
	if err != nil {
		return ""
	}
	if se, ok := tok.(xml.StartElement); ok {
		for _, a := range se.Attr {
			if a.Name.Space == "" && a.Name.Local == local {
				return a.Value
			}
		}
	}
	return ""
}
