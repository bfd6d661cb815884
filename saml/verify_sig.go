package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/russellhaering/gosaml2/types"
	dsig "github.com/russellhaering/goxmldsig"
)

// Signature and digest algorithms accepted without InsecureAllowSHA1.
var strongSignatureMethods = map[string]bool{
	dsig.RSASHA256SignatureMethod:   true,
	dsig.RSASHA384SignatureMethod:   true,
	dsig.RSASHA512SignatureMethod:   true,
	dsig.ECDSASHA256SignatureMethod: true,
	dsig.ECDSASHA384SignatureMethod: true,
	dsig.ECDSASHA512SignatureMethod: true,
}

var sha1SignatureMethods = map[string]bool{
	dsig.RSASHA1SignatureMethod:   true,
	dsig.ECDSASHA1SignatureMethod: true,
}

const (
	digestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	digestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	digestSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	digestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)

// verifySignature checks the enveloped signature sig (a direct child of el)
// and returns el as verified: a fresh element parsed from the exact bytes
// whose digest the signature covers (see verifyEnveloped). el is changed
// in place and must not be read afterwards. path names el in errors.
//
// Before the cryptography it checks the shape: el has an ID, SignedInfo
// holds exactly one Reference and its URI is "#" + that ID, and the
// algorithms are allowed.
func (sp *ServiceProvider) verifySignature(el, sig *etree.Element, path string, now time.Time) (*etree.Element, error) {
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
	// Match its certificate against the IdP's by bytes and check the
	// signature with that one only: the signature is checked against a
	// trusted key and nothing else, and no certificate is parsed per call.
	certs := sp.certs
	if ki, err := xchild(sig, NamespaceXMLDSig, "KeyInfo", ""); err != nil {
		return nil, verr(ErrSignature, at("/KeyInfo"), "appears more than once")
	} else if ki != nil {
		i, err := sp.matchKeyInfo(ki, path+"/Signature/KeyInfo")
		if err != nil {
			return nil, err
		}
		sig.RemoveChild(ki)
		if i >= 0 {
			certs = sp.certs[i : i+1]
		}
	}
	verified, err := verifyEnveloped(el, sig, signedInfo, certs, now, sp.cfg.InsecureAllowSHA1, path)
	if err != nil {
		reason := "does not verify"
		var ve *VerifyError
		switch {
		case errors.As(err, &ve):
			return nil, err
		case errors.Is(err, errCertNotValidNow):
			reason = "the IdP signing certificate is expired or not yet valid"
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

// matchKeyInfo returns the index of the IdP certificate that KeyInfo's
// first X509Certificate is, byte for byte, or -1 when KeyInfo holds no
// certificate.
func (sp *ServiceProvider) matchKeyInfo(ki *etree.Element, path string) (int, error) {
	var certEl *etree.Element
	for _, d := range xchildren(ki, NamespaceXMLDSig, "X509Data") {
		if certEl = firstChild(d, NamespaceXMLDSig, "X509Certificate"); certEl != nil {
			break
		}
	}
	if certEl == nil {
		// KeyName or KeyValue only: every IdP certificate is tried.
		return -1, nil
	}
	text, err := xtext(certEl, path+"/X509Data/X509Certificate")
	if err != nil {
		return 0, &VerifyError{Element: path + "/X509Data/X509Certificate", Reason: "not base64 text", Err: ErrSignature}
	}
	if strings.ContainsAny(text, " \t\r\n") {
		text = strings.Map(dropSpace, text)
	}
	// Canonical base64 of the DER bytes, as computed for each IdP
	// certificate up front: equal text means equal certificate.
	for i, c := range sp.certsB64 {
		if c == text {
			return i, nil
		}
	}
	return 0, verr(ErrSignature, path, "the certificate in KeyInfo is not one of the IdP's signing certificates")
}

func dropSpace(r rune) rune {
	switch r {
	case ' ', '\t', '\r', '\n':
		return -1
	}
	return r
}

func firstChild(el *etree.Element, ns, tag string) *etree.Element {
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok && c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// c14nScope reports whether the canonicalizations named by signedInfo
// and ref need every in-scope namespace declaration (inclusive
// canonicalization, or anything unknown) and, if not, the prefixes their
// InclusiveNamespaces PrefixLists name.
func c14nScope(signedInfo, ref *etree.Element) (all bool, keep []string) {
	var methods []*etree.Element
	if cm, _ := xchild(signedInfo, NamespaceXMLDSig, "CanonicalizationMethod", ""); cm != nil {
		methods = append(methods, cm)
	}
	if ts, _ := xchild(ref, NamespaceXMLDSig, "Transforms", ""); ts != nil {
		methods = append(methods, xchildren(ts, NamespaceXMLDSig, "Transform")...)
	}
	for _, m := range methods {
		alg, _ := xattr(m, "Algorithm")
		switch dsig.AlgorithmID(alg) {
		case dsig.EnvelopedSignatureAltorithmId:
		case dsig.CanonicalXML10ExclusiveAlgorithmId, dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId:
			for _, c := range m.ChildElements() {
				if c.Tag == "InclusiveNamespaces" {
					pl, _ := xattr(c, "PrefixList")
					for _, p := range strings.Fields(pl) {
						if p == "#default" {
							p = ""
						}
						keep = append(keep, p)
					}
				}
			}
		default:
			return true, nil
		}
	}
	return false, keep
}

// decryptAssertion decrypts an EncryptedAssertion with the SP's key and
// parses the plaintext with the same bounds as the response.
func (sp *ServiceProvider) decryptAssertion(enc *etree.Element) (*etree.Element, error) {
	const path = "Response/EncryptedAssertion"
	if sp.decryptKey == nil {
		return nil, verr(ErrMalformed, path, "the SP has no decryption key (Config.EncryptionKey)")
	}
	if enc.Parent() != nil {
		xdetach(enc, true, nil)
	}
	doc := etree.NewDocument()
	doc.SetRoot(enc.Copy())
	data, err := doc.WriteToBytes()
	if err != nil {
		return nil, &VerifyError{Element: path, Reason: "cannot serialize", Err: ErrMalformed, Cause: err}
	}
	var ea types.EncryptedAssertion
	if err := xml.Unmarshal(data, &ea); err != nil {
		return nil, &VerifyError{Element: path, Reason: "not an EncryptedAssertion", Err: ErrMalformed, Cause: err}
	}
	plain, err := decryptBytes(&ea, sp)
	if err != nil {
		return nil, &VerifyError{Element: path, Reason: "cannot be decrypted", Err: ErrMalformed, Cause: err}
	}
	if len(plain) > sp.maxBytes {
		return nil, verr(ErrMalformed, path, "decrypted assertion exceeds the size limit")
	}
	root, err := parseBounded(bytes.TrimSpace(plain), path)
	if err != nil {
		return nil, err
	}
	if !xis(root, NamespaceAssertion, "Assertion") {
		return nil, verr(ErrMalformed, path, "does not decrypt to an Assertion")
	}
	var scan docScan
	scan.walk(root)
	if scan.undeclared != "" {
		return nil, verr(ErrMalformed, path, fmt.Sprintf("namespace prefix %q is used but not declared", scan.undeclared))
	}
	if scan.assertions != 1 {
		return nil, verr(ErrSignature, path, "the decrypted assertion holds another assertion (signature wrapping)")
	}
	if scan.dupID != "" {
		return nil, verr(ErrSignature, path, fmt.Sprintf("duplicate ID %q (signature wrapping)", scan.dupID))
	}
	return root, nil
}

func decryptBytes(ea *types.EncryptedAssertion, sp *ServiceProvider) (out []byte, err error) {
	defer func() {
		// The decryption code indexes attacker-controlled ciphertext;
		// never let a malformed one take the process down.
		if r := recover(); r != nil {
			out, err = nil, errors.New("malformed ciphertext")
		}
	}()
	return ea.DecryptBytes(sp.decryptKey)
}
