package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// factsBothWays reads the facts of every EntityDescriptor the scan finds
// (the root, or each entity of an aggregate) from the tokens, as
// ParseMetadata does without a signer, and from the etree tree the signed
// paths build. ok is false when the scan refuses the document.
func factsBothWays(tb testing.TB, data []byte) (stream, tree []*entityFacts, ok bool) {
	tb.Helper()
	data = bytes.TrimPrefix(data, utf8BOM)
	sc, err := scanDocument(data, DefaultMaxMetadataTokens, true)
	if err != nil {
		return nil, nil, false
	}
	if !sc.aggregate {
		require.NotNil(tb, sc.facts, "a single EntityDescriptor has its facts gathered by the scan")
		root, err := buildDOM(bytes.NewReader(data))
		require.NoError(tb, err, "the scan accepted what etree refuses")
		return []*entityFacts{sc.facts}, []*entityFacts{treeFacts(root)}, true
	}
	require.Nil(tb, sc.facts, "an aggregate's facts are read per entity")
	for _, e := range sc.entities {
		f, err := collectEntity(data[e.start:e.end], e.ns)
		require.NoError(tb, err, "entity %s", e.path)
		el, err := buildFragment(data[e.start:e.end], e.ns)
		require.NoError(tb, err, "entity %s", e.path)
		stream, tree = append(stream, f), append(tree, treeFacts(el))
	}
	return stream, tree, true
}

func streamTestDocs(tb testing.TB) map[string][]byte {
	tb.Helper()
	docs := map[string][]byte{}
	for _, pattern := range []string{filepath.Join("testdata", "metadata", "*.xml"), filepath.Join("testdata", "crewjam", "*_IDPMetadata")} {
		files, err := filepath.Glob(pattern)
		require.NoError(tb, err)
		for _, name := range files {
			data, err := os.ReadFile(name)
			require.NoError(tb, err)
			docs[filepath.Base(name)] = data
		}
	}
	_, cert := mdNewCert(tb, "stream", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	b64 := mdCertB64(cert)
	docs["tricky aggregate"] = []byte(strings.ReplaceAll(trickyAggregate, "{{CERT}}", b64))
	for name, inner := range streamEdgeCases(b64) {
		docs[name] = []byte(inner)
	}
	return docs
}

const streamDocOpen = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.com">`

// streamEdgeCases are documents whose facts depend on details of how text,
// namespaces and attributes are read.
func streamEdgeCases(b64 string) map[string]string {
	half := len(b64) / 2
	idp := func(inner string) string {
		return streamDocOpen + `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + inner +
			ssoRedirect + `</md:IDPSSODescriptor></md:EntityDescriptor>`
	}
	cert := func(text string) string {
		return `<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + text + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
	}
	return map[string]string{
		"certificate split by a comment":       idp(cert(b64[:half] + "<!-- rollover -->" + b64[half:])),
		"certificate split by CDATA":           idp(cert(b64[:half] + "<![CDATA[" + b64[half:] + "]]>")),
		"certificate text then an element":     idp(cert(b64[:half] + "<ds:Extra/>" + b64[half:])),
		"certificate text then a PI":           idp(cert(b64[:half] + "<?pi x?>" + b64[half:])),
		"certificate with character reference": idp(cert(b64[:half] + "&#10;  " + b64[half:])),
		"certificate in a nested element":      idp(cert("<ds:Inner>" + b64 + "</ds:Inner>")),
		"empty certificate":                    idp(cert("")),
		"NameIDFormat with markup": idp(cert(b64) + `<md:NameIDFormat> urn:a<!-- c -->:b </md:NameIDFormat>` +
			`<md:NameIDFormat>urn:c<x/>:d</md:NameIDFormat><md:NameIDFormat>urn:a:b</md:NameIDFormat><md:NameIDFormat/>`),
		"repeated attributes": strings.Replace(idp(cert(b64)), `entityID="https://idp.example.com"`,
			`entityID="https://first.example.com" entityID="https://idp.example.com"`, 1),
		"prefixed attributes are not read": strings.Replace(idp(cert(b64)), `entityID="https://idp.example.com"`,
			`xmlns:p="" p:validUntil="2000-01-01T00:00:00Z" entityID="https://idp.example.com"`, 1),
		"ds namespace undeclared below": idp(`<md:KeyDescriptor><ds:KeyInfo xmlns:ds=""><ds:X509Data><ds:X509Certificate>` + b64 +
			`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` + cert(b64)),
		"default namespace changes": idp(`<KeyDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">` +
			`<X509Data><X509Certificate>` + b64 + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
			`<KeyDescriptor xmlns=""><KeyInfo><X509Data><X509Certificate>` + b64 + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>`),
		"xml prefix rebound": idp(`<xml:KeyDescriptor xmlns:xml="urn:oasis:names:tc:SAML:2.0:metadata">` +
			`<ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64 + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></xml:KeyDescriptor>` + cert(b64)),
		"encryption key not read": idp(`<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%%%</ds:X509Certificate>` +
			`</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` + cert(b64)),
		"two X509Data": idp(`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64 + `</ds:X509Certificate>` +
			`<ds:X509Certificate>bad</ds:X509Certificate></ds:X509Data><ds:X509Data><ds:X509Certificate>` + b64 + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`),
		"second descriptor is SAML 2.0": streamDocOpen + `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol">` + cert("bad") +
			`</md:IDPSSODescriptor><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="1" cacheDuration="PT1H">` +
			cert(b64) + ssoRedirect + `</md:IDPSSODescriptor><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
			cert("bad") + `</md:IDPSSODescriptor></md:EntityDescriptor>`,
		"service provider": `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.com">` +
			`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>`,
		"entity nested in an aggregate with a prefix redeclared": `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="urn:example:not-dsig" validUntil="2030-01-01T00:00:00Z">` +
			`<md:EntitiesDescriptor xmlns:ds="http://www.w3.org/2000/09/xmldsig#" cacheDuration="PT2H">` +
			strings.Replace(idp(cert(b64)), ` xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"`, "", 1) +
			`</md:EntitiesDescriptor></md:EntitiesDescriptor>`,
	}
}

// The tokens and the tree yield the same facts, so metadata reads the same
// with and without a signer.
func TestStreamFactsMatchTree(t *testing.T) {
	for name, data := range streamTestDocs(t) {
		t.Run(name, func(t *testing.T) {
			stream, tree, ok := factsBothWays(t, data)
			require.True(t, ok, "the scan accepts the document")
			require.NotEmpty(t, stream)
			assert.Equal(t, tree, stream)
		})
	}
}

// Concrete readings of the edge cases, through ParseMetadata without a
// signer (the token path).
func TestParseMetadataStreamEdgeCases(t *testing.T) {
	_, cert := mdNewCert(t, "stream", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	docs := streamEdgeCases(mdCertB64(cert))
	parse := func(name string, opts ...MetadataOption) (*IdPMetadata, error) {
		return ParseMetadata([]byte(docs[name]), append([]MetadataOption{WithNow(func() time.Time { return mdNow })}, opts...)...)
	}
	for _, name := range []string{"certificate split by a comment", "certificate split by CDATA", "certificate with character reference",
		"ds namespace undeclared below", "default namespace changes", "xml prefix rebound", "encryption key not read"} {
		md, err := parse(name)
		require.NoError(t, err, name)
		require.Len(t, md.SigningCerts, 1, name)
		assert.True(t, md.SigningCerts[0].Equal(cert), name)
	}

	var me *MetadataError
	for _, name := range []string{"certificate text then an element", "certificate text then a PI"} {
		_, err := parse(name)
		require.ErrorIs(t, err, ErrMalformed, name)
		require.ErrorAs(t, err, &me, name)
		assert.Equal(t, "EntityDescriptor/IDPSSODescriptor/KeyDescriptor[1]/KeyInfo/X509Data/X509Certificate[1]", me.Element, name)
	}
	_, err := parse("empty certificate")
	require.ErrorAs(t, err, &me)
	assert.Contains(t, me.Reason, "empty certificate")
	_, err = parse("certificate in a nested element")
	require.ErrorAs(t, err, &me)
	assert.Contains(t, me.Reason, "empty certificate")
	_, err = parse("two X509Data")
	require.ErrorAs(t, err, &me)
	assert.Equal(t, "EntityDescriptor/IDPSSODescriptor/KeyDescriptor[1]/KeyInfo/X509Data/X509Certificate[2]", me.Element)

	md, err := parse("NameIDFormat with markup")
	require.NoError(t, err)
	assert.Equal(t, []string{"urn:a:b", "urn:c"}, md.NameIDFormats)

	md, err = parse("repeated attributes")
	require.NoError(t, err)
	assert.Equal(t, "https://idp.example.com", md.EntityID, "the last of a repeated attribute counts, as in the tree")
	_, err = parse("repeated attributes", WithEntityID("https://first.example.com"))
	require.ErrorIs(t, err, ErrEntityNotFound)

	md, err = parse("prefixed attributes are not read")
	require.NoError(t, err)
	assert.True(t, md.ValidUntil.IsZero())

	md, err = parse("second descriptor is SAML 2.0")
	require.NoError(t, err)
	assert.True(t, md.WantAuthnRequestsSigned)
	assert.Equal(t, time.Hour, md.CacheDuration)

	_, err = parse("service provider")
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "service-provider metadata")

	md, err = parse("entity nested in an aggregate with a prefix redeclared", WithEntityID("https://idp.example.com"))
	require.NoError(t, err)
	assert.True(t, md.SigningCerts[0].Equal(cert), "ds is the XML Signature namespace where the entity stands")
	assert.Equal(t, 2*time.Hour, md.CacheDuration)
	assert.Equal(t, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), md.ValidUntil)
}

// A signed document is read from the tree goxmldsig verified, an unsigned
// one from the tokens: on the same documents both give the same metadata.
func TestParseMetadataSignedAndUnsignedAgree(t *testing.T) {
	now := WithNow(func() time.Time { return mdNow })
	entra := mdFixture(t, "entra-id.xml")
	plain, err := ParseMetadata(entra, now)
	require.NoError(t, err)
	signed, err := ParseMetadata(entra, now, WithMetadataSigner(mdPEMCert(t, "entra-id-signing.pem")))
	require.NoError(t, err)
	assert.Equal(t, signed, plain)
	assert.Len(t, plain.SigningCerts, 2)

	key, signer := mdNewCert(t, "federation", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), true)
	_, cert := mdNewCert(t, "stream", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	for name, agg := range map[string][]byte{
		"federation": mdFixture(t, "federation.xml"),
		"tricky":     []byte(strings.ReplaceAll(trickyAggregate, "{{CERT}}", mdCertB64(cert))),
	} {
		signedAgg := mdSignDocument(t, agg, key, signer, "ds", true)
		sc, err := scanMetadata(bytes.TrimPrefix(agg, utf8BOM), DefaultMaxMetadataTokens)
		require.NoError(t, err)
		n := 0
		for _, e := range sc.entities {
			plain, errPlain := ParseMetadata(agg, now, WithEntityID(e.entityID))
			signed, errSigned := ParseMetadata(signedAgg, now, WithEntityID(e.entityID), WithMetadataSigner(signer))
			if errPlain != nil {
				require.EqualError(t, errSigned, errPlain.Error(), "%s: %s", name, e.entityID)
				continue
			}
			require.NoError(t, errSigned, "%s: %s", name, e.entityID)
			assert.Equal(t, signed, plain, "%s: %s", name, e.entityID)
			n++
		}
		assert.NotZero(t, n, name)
	}
}

// The reader that tracks namespaces and nesting itself reports the same
// tokens, names and errors as encoding/xml's Token.
func TestNSReaderMatchesToken(t *testing.T) {
	docs := streamTestDocs(t)
	for name, doc := range map[string]string{
		"mismatched":        `<a:x xmlns:a="urn:a"></x>`,
		"mismatched prefix": `<a:x xmlns:a="urn:a" xmlns:b="urn:a"></b:x>`,
		"unclosed":          `<a><b></b>`,
		"stray end":         `<a/></a>`,
		"undeclared prefix": `<p:a><p:b xmlns:p="urn:p"/><c/></p:a>`,
		"xml prefix":        `<xml:a xmlns:xml="urn:other"><xmlns:b/></xml:a>`,
		"redeclared":        `<a xmlns="urn:1"><a xmlns="urn:2"><a xmlns=""/></a><a/></a>`,
	} {
		docs[name] = []byte(doc)
	}
	for name, data := range docs {
		t.Run(name, func(t *testing.T) {
			nsReaderMatchesToken(t, bytes.TrimPrefix(data, utf8BOM))
		})
	}
}

func nsReaderMatchesToken(tb testing.TB, data []byte) {
	tb.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = unsupportedCharset
	r := newNSReader(data, nil)
	for i := 0; ; i++ {
		want, errWant := d.Token()
		got, space, errGot := r.next()
		if errWant != nil || errGot != nil {
			if errWant == io.EOF || errGot == io.EOF {
				require.Equal(tb, errWant, errGot, "token %d", i)
				return
			}
			require.Error(tb, errWant, "token %d: only the reader fails: %v", i, errGot)
			require.Error(tb, errGot, "token %d: only Token fails: %v", i, errWant)
			require.ErrorIs(tb, errGot, ErrMalformed)
			return
		}
		switch w := want.(type) {
		case xml.StartElement:
			g, ok := got.(xml.StartElement)
			require.True(tb, ok, "token %d: %T", i, got)
			require.Equal(tb, w.Name.Local, g.Name.Local, "token %d", i)
			require.Equal(tb, w.Name.Space, space, "token %d <%s>: namespace", i, w.Name.Local)
			require.Len(tb, g.Attr, len(w.Attr))
			for j := range w.Attr {
				require.Equal(tb, w.Attr[j].Name.Local, g.Attr[j].Name.Local)
				require.Equal(tb, w.Attr[j].Value, g.Attr[j].Value)
			}
		case xml.EndElement:
			g, ok := got.(xml.EndElement)
			require.True(tb, ok, "token %d: %T", i, got)
			require.Equal(tb, w.Name.Local, g.Name.Local, "token %d", i)
		default:
			require.Equal(tb, want, got, "token %d", i)
		}
	}
}

// FuzzMetadataStream checks on arbitrary documents that the token reader
// agrees with encoding/xml's Token, and that whenever the scan accepts a
// document the facts read from its tokens equal those read from its tree.
func FuzzMetadataStream(f *testing.F) {
	for _, data := range streamTestDocs(f) {
		f.Add(data)
	}
	f.Add([]byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>AAAA</X509Certificate></X509Data></KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		nsReaderMatchesToken(t, bytes.TrimPrefix(data, utf8BOM))
		stream, tree, ok := factsBothWays(t, data)
		if !ok {
			return
		}
		if !assert.Equal(t, tree, stream) {
			t.FailNow()
		}
		// The metadata itself agrees too.
		for i := range stream {
			a, errA := idpFromFacts(stream[i], "EntityDescriptor", nil, mdNow)
			b, errB := idpFromFacts(tree[i], "EntityDescriptor", nil, mdNow)
			require.Equal(t, errB == nil, errA == nil)
			if errA != nil {
				require.Equal(t, errB.Error(), errA.Error())
				require.True(t, errors.Is(errA, ErrMalformed) || errors.Is(errA, ErrMetadataExpired))
				continue
			}
			require.Equal(t, b, a)
		}
	})
}
