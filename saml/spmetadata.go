package saml

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
)

type spEntityDescriptor struct {
	XMLName  xml.Name        `xml:"md:EntityDescriptor"`
	XMLNSMD  string          `xml:"xmlns:md,attr"`
	XMLNSDS  string          `xml:"xmlns:ds,attr"`
	EntityID string          `xml:"entityID,attr"`
	SP       spSSODescriptor `xml:"md:SPSSODescriptor"`
}

type spSSODescriptor struct {
	AuthnRequestsSigned  bool              `xml:"AuthnRequestsSigned,attr"`
	WantAssertionsSigned bool              `xml:"WantAssertionsSigned,attr"`
	Protocol             string            `xml:"protocolSupportEnumeration,attr"`
	Keys                 []spKeyDescriptor `xml:"md:KeyDescriptor"`
	NameIDFormats        []string          `xml:"md:NameIDFormat"`
	ACS                  []spACS           `xml:"md:AssertionConsumerService"`
}

type spKeyDescriptor struct {
	Use  string `xml:"use,attr,omitempty"`
	Cert string `xml:"ds:KeyInfo>ds:X509Data>ds:X509Certificate"`
}

type spACS struct {
	Binding   string `xml:"Binding,attr"`
	Location  string `xml:"Location,attr"`
	Index     int    `xml:"index,attr"`
	IsDefault bool   `xml:"isDefault,attr"`
}

// Metadata returns this service provider's SAML metadata, for the IdP
// administrator: entity ID, the assertion consumer service with the
// HTTP-POST binding, the requested NameID format, and — only when the SP
// has keys — KeyDescriptors for signing and encryption.
func (sp *ServiceProvider) Metadata() ([]byte, error) {
	if !sp.made() {
		return nil, errNotMade
	}
	cfg := &sp.cfg
	d := spEntityDescriptor{
		XMLNSMD:  NamespaceMetadata,
		XMLNSDS:  NamespaceXMLDSig,
		EntityID: cfg.EntityID,
		SP: spSSODescriptor{
			AuthnRequestsSigned:  cfg.SigningKey != nil,
			WantAssertionsSigned: true,
			Protocol:             ProtocolSAML20,
			ACS: []spACS{{
				Binding:   BindingHTTPPost,
				Location:  cfg.ACSURL,
				Index:     0,
				IsDefault: true,
			}},
		},
	}
	certText := func(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }
	_, signingIsRSA := cfg.SigningKey.(*rsa.PrivateKey)
	switch {
	case cfg.SigningCert != nil && cfg.EncryptionCert != nil:
		d.SP.Keys = append(d.SP.Keys,
			spKeyDescriptor{Use: "signing", Cert: certText(cfg.SigningCert)},
			spKeyDescriptor{Use: "encryption", Cert: certText(cfg.EncryptionCert)})
	case cfg.SigningCert != nil && signingIsRSA && cfg.EncryptionKey == nil:
		// The signing key also decrypts (see Config.EncryptionKey).
		d.SP.Keys = append(d.SP.Keys, spKeyDescriptor{Cert: certText(cfg.SigningCert)})
	case cfg.SigningCert != nil:
		d.SP.Keys = append(d.SP.Keys, spKeyDescriptor{Use: "signing", Cert: certText(cfg.SigningCert)})
	case cfg.EncryptionCert != nil:
		d.SP.Keys = append(d.SP.Keys, spKeyDescriptor{Use: "encryption", Cert: certText(cfg.EncryptionCert)})
	}
	if cfg.NameIDFormat != "" {
		d.SP.NameIDFormats = []string{cfg.NameIDFormat}
	}
	out, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
