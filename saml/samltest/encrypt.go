package samltest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SHA-1 here is OAEP's mask hash, the xmlenc default, not a signature
	"crypto/x509"
	"encoding/base64"
	"fmt"

	"github.com/beevik/etree"

	"github.com/gatehouse-id/gatehouse/saml"
)

const (
	xmlencNS      = "http://www.w3.org/2001/04/xmlenc#"
	aes256GCM     = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	rsaOAEPMGF1P  = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	digestSHA1URI = "http://www.w3.org/2000/09/xmldsig#sha1"
)

// WithEncryption encrypts the (signed) assertion for the service provider
// holding cert's RSA key: AES-256-GCM content encryption, RSA-OAEP key
// transport, as an EncryptedAssertion.
func WithEncryption(cert *x509.Certificate) ResponseOption {
	return func(s *responseSpec) { s.encryptFor = cert }
}

// encryptAssertion returns an EncryptedAssertion holding a.
func encryptAssertion(a *etree.Element, cert *x509.Certificate) (*etree.Element, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("WithEncryption: certificate key is %T, not RSA", cert.PublicKey)
	}
	doc := etree.NewDocument()
	doc.SetRoot(a)
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	data := gcm.Seal(nonce, nonce, plain, nil)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return nil, err
	}

	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml", saml.NamespaceAssertion)
	ed := ea.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", xmlencNS)
	ed.CreateAttr("Type", xmlencNS+"Element")
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", aes256GCM)
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", saml.NamespaceXMLDSig)
	ek := ki.CreateElement("xenc:EncryptedKey")
	em := ek.CreateElement("xenc:EncryptionMethod")
	em.CreateAttr("Algorithm", rsaOAEPMGF1P)
	em.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digestSHA1URI)
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(data))
	return ea, nil
}
