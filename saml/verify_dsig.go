package saml

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
	"github.com/russellhaering/goxmldsig/types"
)

// The enveloped-signature check below is goxmldsig's
// ValidationContext.Validate taken apart: the same canonicalizers
// (etreeutils.TransformExcC14n, goxmldsig's Canonicalizers and its
// canonical serialization settings), the same namespace contexts, the
// same certificate and signature calls. What changes is the bookkeeping
// around them. Validate copies the signed element twice, walks the whole
// tree to find the signature, serializes the Signature to unmarshal it
// and canonicalizes SignedInfo for every candidate certificate; here the
// element is already a private parse, so it is transformed in place, the
// SignedInfo is canonicalized once, and the canonical bytes go to a
// pooled buffer. It is also stricter: exactly one Reference, naming the
// element's ID; only the enveloped-signature and exclusive
// canonicalization transforms, each exactly once; the algorithm
// allow-lists apply to the signed SignedInfo; an earlier Signature that
// goxmldsig would have picked instead (or failed on) is refused; and
// digests are compared in constant time.
//
// As with Validate, the element handed back is parsed from exactly the
// bytes whose digest the signature covers, so nothing read from it can
// differ from what the IdP signed.

// Reasons verifyEnveloped refuses a signature.
var (
	errCertNotValidNow = errors.New("the IdP signing certificate is expired or not yet valid")
	errSignatureFailed = errors.New("the signature does not verify")
	errDigestMismatch  = errors.New("the digest of the signed element does not match")
	errSignedInfo      = errors.New("missing or repeated SignedInfo")
	errSigValue        = errors.New("missing, repeated or not base64 SignatureValue")
	errOtherSignature  = errors.New("an earlier Signature in the element references it too or is malformed")
	errC14NMissing     = errors.New("missing CanonicalizationMethod")
	errReference       = errors.New("the signed SignedInfo does not hold exactly one Reference to the element's ID")
	errTransforms      = errors.New("the Reference must list the enveloped-signature transform and one exclusive canonicalization, nothing else")
)

// c14nWriteSettings are the serialization settings of goxmldsig's
// canonical output (its canonicalSerialize).
var c14nWriteSettings = etree.WriteSettings{
	CanonicalAttrVal: true,
	CanonicalEndTags: true,
	CanonicalText:    true,
}

// c14nBuffers holds the buffers the canonical form of signed elements is
// written to. Nothing keeps a reference into a buffer after it is put
// back: the verified element is parsed from it into fresh strings.
var c14nBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps an unusually large buffer out of the pool.
const maxPooledBuffer = 1 << 20

// x509SignatureAlgorithms maps the accepted XML signature methods to
// x509's names for them (goxmldsig's table, limited to what Verify
// accepts; SHA-1 is filtered by the caller's allow-list).
var x509SignatureAlgorithms = map[string]x509.SignatureAlgorithm{
	dsig.RSASHA1SignatureMethod:     x509.SHA1WithRSA,
	dsig.RSASHA256SignatureMethod:   x509.SHA256WithRSA,
	dsig.RSASHA384SignatureMethod:   x509.SHA384WithRSA,
	dsig.RSASHA512SignatureMethod:   x509.SHA512WithRSA,
	dsig.ECDSASHA1SignatureMethod:   x509.ECDSAWithSHA1,
	dsig.ECDSASHA256SignatureMethod: x509.ECDSAWithSHA256,
	dsig.ECDSASHA384SignatureMethod: x509.ECDSAWithSHA384,
	dsig.ECDSASHA512SignatureMethod: x509.ECDSAWithSHA512,
}

var digestHashes = map[string]crypto.Hash{
	digestSHA1:   crypto.SHA1,
	digestSHA256: crypto.SHA256,
	digestSHA384: crypto.SHA384,
	digestSHA512: crypto.SHA512,
}

// signatureAllowed reports whether the signature method alg may be used.
func signatureAllowed(alg string, allowSHA1 bool) bool {
	return strongSignatureMethods[alg] || (allowSHA1 && sha1SignatureMethods[alg])
}

// digestAllowed reports whether the digest method alg may be used.
func digestAllowed(alg string, allowSHA1 bool) bool {
	switch alg {
	case digestSHA256, digestSHA384, digestSHA512:
		return true
	case digestSHA1:
		return allowSHA1
	}
	return false
}

// verifyEnveloped checks that sig, a direct child of el, is a valid
// enveloped signature over el by one of certs at time now, and returns el
// as verified: parsed afresh from the canonical bytes the signature's
// digest covers. el must be self-contained (see xdetach) and private to
// the caller: it is transformed in place (sig removed, exclusive
// canonicalization applied).
//
// what names el in errors from parsing the verified bytes.
func verifyEnveloped(el, sig, signedInfo *etree.Element, certs []*x509.Certificate, now time.Time, allowSHA1 bool, what string) (*etree.Element, error) {
	if sig.Parent() != el {
		return nil, dsig.ErrMissingSignature
	}
	// goxmldsig's validateShape: children counted by local name.
	var nSignedInfo, nKeyInfo, nValue int
	var value *etree.Element
	for _, t := range sig.Child {
		c, ok := t.(*etree.Element)
		if !ok {
			continue
		}
		switch c.Tag {
		case "SignedInfo":
			nSignedInfo++
		case "KeyInfo":
			nKeyInfo++
		case "SignatureValue":
			nValue++
			value = c
		}
	}
	if nSignedInfo != 1 || nKeyInfo > 1 || nValue != 1 {
		return nil, errSignedInfo
	}
	if value.NamespaceURI() != dsig.Namespace {
		return nil, errSigValue
	}
	// goxmldsig validates the first Signature in document order that
	// references el, and fails on a malformed one before it; refuse
	// where it would have picked or failed on another.
	id, _ := xattr(el, "ID")
	if earlierSignatureConflicts(el, sig, id) {
		return nil, errOtherSignature
	}

	// SignedInfo, canonicalized once with its declared method, in the
	// namespace context goxmldsig gives it (el's, then sig's).
	ctx := etreeutils.NewDefaultNSContext()
	ctx, err := ctx.SubContext(el)
	if err != nil {
		return nil, err
	}
	if ctx, err = ctx.SubContext(sig); err != nil {
		return nil, err
	}
	if signedInfo == nil || signedInfo.Parent() != sig {
		return nil, errSignedInfo
	}
	detached, err := etreeutils.NSDetatch(ctx, signedInfo)
	if err != nil {
		return nil, err
	}
	cm, err := etreeutils.NSFindOneChildCtx(ctx, detached, dsig.Namespace, dsig.CanonicalizationMethodTag)
	if err != nil {
		return nil, err
	}
	if cm == nil {
		return nil, errC14NMissing
	}
	buf := c14nBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			c14nBuffers.Put(buf)
		}
	}()
	var canon dsig.Canonicalizer
	switch alg := dsig.AlgorithmID(cm.SelectAttrValue(dsig.AlgorithmAttr, "")); alg {
	case dsig.CanonicalXML10ExclusiveAlgorithmId, dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId:
		// What goxmldsig's exclusive Canonicalizer does, written to the
		// pooled buffer; like goxmldsig, without a PrefixList here.
		if err := etreeutils.TransformExcC14n(detached, "", alg == dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId); err != nil {
			return nil, err
		}
		detached.WriteTo(buf, &c14nWriteSettings)
	case dsig.CanonicalXML11AlgorithmId:
		canon = dsig.MakeC14N11Canonicalizer()
	case dsig.CanonicalXML10RecAlgorithmId:
		canon = dsig.MakeC14N10RecCanonicalizer()
	case dsig.CanonicalXML11WithCommentsAlgorithmId:
		canon = dsig.MakeC14N11WithCommentsCanonicalizer()
	case dsig.CanonicalXML10WithCommentsAlgorithmId:
		canon = dsig.MakeC14N10WithCommentsCanonicalizer()
	default:
		return nil, fmt.Errorf("unsupported CanonicalizationMethod %q", alg)
	}
	if canon != nil {
		b, err := canon.Canonicalize(detached)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	canonicalSignedInfo := buf.Bytes()
	// Everything taken from SignedInfo from here on is read from the
	// canonical bytes, which are what the signature covers.
	var si types.SignedInfo
	if err := xml.Unmarshal(canonicalSignedInfo, &si); err != nil {
		return nil, err
	}
	algo, ok := x509SignatureAlgorithms[si.SignatureMethod.Algorithm]
	if !ok || !signatureAllowed(si.SignatureMethod.Algorithm, allowSHA1) {
		return nil, fmt.Errorf("signature method %q not allowed", si.SignatureMethod.Algorithm)
	}
	signature, err := base64.StdEncoding.DecodeString(directText(value))
	if err != nil {
		return nil, errSigValue
	}

	// The key: a trusted certificate, valid now, whose key made the
	// signature over the canonical SignedInfo.
	err = errSignatureFailed
	for _, cert := range certs {
		if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
			err = errCertNotValidNow
			continue
		}
		if err = cert.CheckSignature(algo, canonicalSignedInfo, signature); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}

	// The reference: exactly one, naming el.
	if len(si.References) != 1 || id == "" || si.References[0].URI != "#"+id {
		return nil, errReference
	}
	ref := &si.References[0]
	hash, ok := digestHashes[ref.DigestAlgo.Algorithm]
	if !ok || !digestAllowed(ref.DigestAlgo.Algorithm, allowSHA1) {
		return nil, fmt.Errorf("digest method %q not allowed", ref.DigestAlgo.Algorithm)
	}
	want, err := base64.StdEncoding.DecodeString(ref.DigestValue)
	if err != nil {
		return nil, errDigestMismatch
	}
	var enveloped, exclusive int
	var prefixList string
	var comments bool
	for _, t := range ref.Transforms.Transforms {
		switch dsig.AlgorithmID(t.Algorithm) {
		case dsig.EnvelopedSignatureAltorithmId:
			enveloped++
		case dsig.CanonicalXML10ExclusiveAlgorithmId, dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId:
			exclusive++
			comments = dsig.AlgorithmID(t.Algorithm) == dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId
			if t.InclusiveNamespaces != nil {
				prefixList = t.InclusiveNamespaces.PrefixList
			}
		default:
			return nil, errTransforms
		}
	}
	if enveloped != 1 || exclusive != 1 {
		return nil, errTransforms
	}

	// Transform and canonicalize el in place: the enveloped-signature
	// transform removes sig, then exclusive canonicalization.
	el.RemoveChild(sig)
	if err := etreeutils.TransformExcC14n(el, prefixList, comments); err != nil {
		return nil, err
	}
	buf.Reset() // SignedInfo is no longer needed
	el.WriteTo(buf, &c14nWriteSettings)

	h := hash.New()
	h.Write(buf.Bytes())
	var sum [64]byte
	got := h.Sum(sum[:0])
	if len(got) < 20 || subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, errDigestMismatch
	}
	// Only these bytes are verified: read them afresh.
	return parseBounded(buf.Bytes(), what)
}

// earlierSignatureConflicts reports whether a Signature element in the
// XML signature namespace comes before sig in document order within el
// and either has a shape goxmldsig refuses (SignedInfo, SignatureValue
// and KeyInfo counts, a supported CanonicalizationMethod) or has a
// Reference that goxmldsig takes to name el (URI empty, or naming id).
// Other signatures, such as an Assertion's inside a Response signed
// after it, are skipped as goxmldsig skips them.
func earlierSignatureConflicts(el, sig *etree.Element, id string) bool {
	done, conflict := false, false
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, t := range e.Child {
			if done {
				return
			}
			c, ok := t.(*etree.Element)
			if !ok {
				continue
			}
			if c == sig {
				done = true
				return
			}
			if c.Tag == "Signature" && c.NamespaceURI() == dsig.Namespace && signatureConflicts(c, id) {
				done, conflict = true, true
				return
			}
			walk(c)
		}
	}
	walk(el)
	return conflict
}

func signatureConflicts(s *etree.Element, id string) bool {
	var signedInfo *etree.Element
	var nSignedInfo, nKeyInfo, nValue int
	for _, c := range s.ChildElements() {
		switch c.Tag {
		case "SignedInfo":
			nSignedInfo++
			if signedInfo == nil && c.NamespaceURI() == dsig.Namespace {
				signedInfo = c
			}
		case "KeyInfo":
			nKeyInfo++
		case "SignatureValue":
			nValue++
		}
	}
	if nSignedInfo != 1 || nKeyInfo > 1 || nValue != 1 || signedInfo == nil {
		return true
	}
	cm := firstChild(signedInfo, dsig.Namespace, dsig.CanonicalizationMethodTag)
	if cm == nil {
		return true
	}
	switch dsig.AlgorithmID(cm.SelectAttrValue(dsig.AlgorithmAttr, "")) {
	case dsig.CanonicalXML10ExclusiveAlgorithmId, dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId,
		dsig.CanonicalXML11AlgorithmId, dsig.CanonicalXML11WithCommentsAlgorithmId,
		dsig.CanonicalXML10RecAlgorithmId, dsig.CanonicalXML10WithCommentsAlgorithmId:
	default:
		return true
	}
	for _, r := range signedInfo.ChildElements() {
		if r.Tag != "Reference" || r.NamespaceURI() != dsig.Namespace {
			continue
		}
		if uri, _ := xattr(r, "URI"); uri == "" || uri[1:] == id {
			return true
		}
	}
	return false
}

// directText concatenates el's own character data, skipping comments and
// child elements, as encoding/xml fills a ",chardata" field.
func directText(el *etree.Element) string {
	var s string
	for _, t := range el.Child {
		if c, ok := t.(*etree.CharData); ok {
			s += c.Data
		}
	}
	return s
}
