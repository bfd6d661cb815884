package saml

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// DsigComparison is the outcome of checking the signature of one element
// of a response twice: with verifySignature, and with the verification it
// replaced (the same checks around goxmldsig's ValidationContext.Validate,
// kept below as legacyVerifySignature).
type DsigComparison struct {
	// Applicable: the document parses and the target has a Signature child.
	Applicable bool
	// Err and RefErr are the refusals of verifySignature and of the
	// reference verification.
	Err, RefErr error
	// C14N and RefC14N are the canonical bytes of the elements each
	// returned as verified.
	C14N, RefC14N []byte
}

// CompareWithGoxmldsig verifies the signature on target ("Response" or
// "Response/Assertion") of doc both ways, each on its own parse.
func (sp *ServiceProvider) CompareWithGoxmldsig(doc []byte, target string, now time.Time) DsigComparison {
	var out DsigComparison
	find := func() (el, sig *etree.Element) {
		root, err := parseBounded(doc, "Response")
		if err != nil {
			return nil, nil
		}
		el = root
		if target == "Response/Assertion" {
			el = firstChild(root, NamespaceAssertion, "Assertion")
			if el == nil {
				return nil, nil
			}
		}
		sig, err = xchild(el, NamespaceXMLDSig, "Signature", "")
		if err != nil || sig == nil {
			return nil, nil
		}
		return el, sig
	}
	el, sig := find()
	refEl, refSig := find()
	if el == nil {
		return out
	}
	out.Applicable = true
	v, err := sp.verifySignature(el, sig, target, now)
	out.Err = err
	if err == nil {
		out.C14N = canonicalBytes(v)
	}
	rv, err := sp.legacyVerifySignature(refEl, refSig, target, now)
	out.RefErr = err
	if err == nil {
		out.RefC14N = canonicalBytes(rv)
	}
	return out
}

func canonicalBytes(el *etree.Element) []byte {
	var b bytes.Buffer
	el.WriteTo(&b, &c14nWriteSettings)
	return b.Bytes()
}

// legacyVerifySignature is verifySignature as it was when it called
// goxmldsig's ValidationContext.Validate for each candidate certificate.
func (sp *ServiceProvider) legacyVerifySignature(el, sig *etree.Element, path string, now time.Time) (*etree.Element, error) {
	// Paths in errors are built only on failure.
	at := func(sub string) string { return path + "/Signature" + sub }
	id, _ := xattr(el, "ID")
	if id == "" {
		return nil, verr(ErrSignature, path+"@ID", "missing on a signed element")
	}
	signedInfo, err := xchild(sig, NamespaceXMLDSig, "SignedInfo", "")
	if err != nil || signedInfo == nil {
		return nil, verr(ErrSignature, at("/SignedInfo"), "missing or repeated")
	}
	method, err := xchild(signedInfo, NamespaceXMLDSig, "SignatureMethod", "")
	if err != nil || method == nil {
		return nil, verr(ErrSignature, at("/SignedInfo/SignatureMethod"), "missing or repeated")
	}
	alg, _ := xattr(method, "Algorithm")
	switch {
	case strongSignatureMethods[alg]:
	case sha1SignatureMethods[alg] && sp.cfg.InsecureAllowSHA1:
	case sha1SignatureMethods[alg]:
		return nil, verr(ErrSignature, at("/SignedInfo/SignatureMethod"), fmt.Sprintf("%s uses SHA-1 and Config.InsecureAllowSHA1 is off", alg))
	default:
		return nil, verr(ErrSignature, at("/SignedInfo/SignatureMethod"), fmt.Sprintf("unsupported algorithm %q", alg))
	}
	var ref *etree.Element
	nrefs := 0
	for _, t := range signedInfo.Child {
		if c, ok := t.(*etree.Element); ok && c.Tag == "Reference" && c.NamespaceURI() == NamespaceXMLDSig {
			ref = c
			nrefs++
		}
	}
	if nrefs != 1 {
		return nil, verr(ErrSignature, at("/SignedInfo/Reference"), fmt.Sprintf("%d references, exactly one is allowed", nrefs))
	}
	if uri, _ := xattr(ref, "URI"); len(uri) != len(id)+1 || uri[0] != '#' || uri[1:] != id {
		return nil, verr(ErrSignature, at("/SignedInfo/Reference@URI"), fmt.Sprintf("%q does not reference the signed element's ID %q (signature wrapping)", uri, id))
	}
	dm, err := xchild(ref, NamespaceXMLDSig, "DigestMethod", "")
	if err != nil || dm == nil {
		return nil, verr(ErrSignature, at("/SignedInfo/Reference/DigestMethod"), "missing or repeated")
	}
	switch d, _ := xattr(dm, "Algorithm"); d {
	case digestSHA256, digestSHA384, digestSHA512:
	case digestSHA1:
		if !sp.cfg.InsecureAllowSHA1 {
			return nil, verr(ErrSignature, at("/SignedInfo/Reference/DigestMethod"), "SHA-1 digest and Config.InsecureAllowSHA1 is off")
		}
	default:
		return nil, verr(ErrSignature, at("/SignedInfo/Reference/DigestMethod"), fmt.Sprintf("unsupported algorithm %q", d))
	}

	if el.Parent() != nil {
		all, keep := c14nScope(signedInfo, ref)
		xdetach(el, all, keep)
	}
	// KeyInfo is outside SignedInfo, so it names a key but proves nothing.
	// Match its certificate against the IdP's by bytes and hand goxmldsig
	// only that one: the signature is checked against a trusted key and
	// nothing else, and the certificate is not parsed on every call.
	// One goxmldsig store per IdP certificate.
	certStores := make([]dsig.X509CertificateStore, len(sp.certs))
	for i, c := range sp.certs {
		certStores[i] = &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}}
	}
	stores := certStores
	if ki, err := xchild(sig, NamespaceXMLDSig, "KeyInfo", ""); err != nil {
		return nil, verr(ErrSignature, at("/KeyInfo"), "appears more than once")
	} else if ki != nil {
		i, err := sp.matchKeyInfo(ki, path+"/Signature/KeyInfo")
		if err != nil {
			return nil, err
		}
		sig.RemoveChild(ki)
		if i >= 0 {
			stores = certStores[i : i+1]
		}
	}
	clock := dsig.NewFakeClockAt(now)
	var verified *etree.Element
	for _, store := range stores {
		vc := dsig.NewDefaultValidationContext(store)
		vc.Clock = clock
		if verified, err = vc.Validate(el); err == nil {
			break
		}
	}
	if err != nil {
		reason := "does not verify"
		switch err.Error() {
		case "Could not verify certificate against trusted certs":
			reason = "the certificate in KeyInfo is not one of the IdP's signing certificates"
		case "Cert is not valid at this time":
			reason = "the IdP signing certificate is expired or not yet valid"
		case "Missing x509 Element":
			reason = "no KeyInfo certificate and the IdP has several signing certificates"
		}
		return nil, &VerifyError{Element: at(""), Reason: reason, Err: ErrSignature, Cause: err}
	}
	if verified == nil || verified.Tag != el.Tag || verified.NamespaceURI() != el.NamespaceURI() {
		return nil, verr(ErrSignature, at(""), "the verified element is not the signed element")
	}
	if vid, _ := xattr(verified, "ID"); vid != id {
		return nil, verr(ErrSignature, at(""), "the verified element is not the signed element")
	}
	return verified, nil
}
