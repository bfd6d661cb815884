package saml

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// FuzzParseMetadata feeds arbitrary documents to ParseMetadata: it must
// never panic, and it either returns complete metadata or an error that
// matches one of the package's sentinels.
func FuzzParseMetadata(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "metadata", "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	crewjam, err := filepath.Glob(filepath.Join("testdata", "crewjam", "*_IDPMetadata"))
	if err != nil {
		f.Fatal(err)
	}
	files = append(files, crewjam...)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		``,
		`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>`,
		`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`,
		`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x" validUntil="2020-01-01T00:00:00Z" cacheDuration="P1Y2M3DT4H5M6.7S"/>`,
		"\xEF\xBB\xBF<a/>",
	} {
		f.Add([]byte(s))
	}
	signer := mdPEMCert(f, "entra-id-signing.pem")
	now := func() time.Time { return mdNow }
	// A signed federation aggregate, for the streamed signature check.
	fedKey, fedSigner := mdNewCert(f, "federation", mdNow.AddDate(-1, 0, 0), mdNow.AddDate(1, 0, 0), false)
	f.Add(mdSignDocument(f, mdFixture(f, "federation.xml"), fedKey, fedSigner, "ds", true))
	sentinels := []error{ErrMalformed, ErrSignature, ErrMetadataExpired, ErrEntityNotFound, ErrEntityAmbiguous}

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range [][]MetadataOption{
			{WithNow(now)},
			{WithNow(now), WithMetadataSigner(signer)},
			{WithNow(now), WithEntityID("https://idp.uni-a.example/idp/shibboleth"), WithMaxTokens(5000)},
			{WithNow(now), WithEntityID("https://idp.uni-b.example/idp/shibboleth"), WithMetadataSigner(fedSigner)},
		} {
			md, err := ParseMetadata(data, opts...)
			if err != nil {
				if md != nil {
					t.Fatalf("metadata and error: %v", err)
				}
				known := false
				for _, s := range sentinels {
					known = known || errors.Is(err, s)
				}
				if !known {
					t.Fatalf("error matches no sentinel: %v", err)
				}
				continue
			}
			if md.EntityID == "" || len(md.SSO) == 0 || len(md.SigningCerts) == 0 {
				t.Fatalf("incomplete metadata without error: %+v", md)
			}
		}
	})
}

// FuzzParseDuration checks the cacheDuration parser never panics and never
// returns a negative duration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT6H", "P1Y2M3DT4H5M6.789S", "P2W", "PT0,5S", "-PT1H", "P", "PT", "P99999999999999999Y", "PT2562047H"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("%q: negative %v", s, d)
		}
		if err == nil && (len(s) < 3 || s[0] != 'P') {
			t.Fatalf("%q accepted", s)
		}
	})
}

// FuzzAggregateCanonical compares the child-by-child canonical form of an
// aggregate with the one goxmldsig computes on the whole tree: they must
// be equal whenever both succeed, or a signed aggregate could verify on one
// path and not the other.
func FuzzAggregateCanonical(f *testing.F) {
	f.Add([]byte(strings.ReplaceAll(trickyAggregate, "{{CERT}}", "MIIB")))
	f.Add(mdFixture(f, "federation.xml"))
	f.Add(mdFixture(f, "federation-one-idp.xml"))
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"> <ds:Signature/> <a xmlns="urn:a" b:c="d" xmlns:b="urn:b"><e/></a></md:EntitiesDescriptor>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimPrefix(data, utf8BOM)
		sc, err := scanMetadata(data, 20000)
		if err != nil || !sc.aggregate {
			return
		}
		hasSig := false
		for _, k := range sc.rootKids {
			hasSig = hasSig || k.signature
		}
		if !hasSig {
			return
		}
		a, err := newAggregateC14n(data, sc)
		if err != nil {
			return
		}
		var got bytes.Buffer
		if err := a.write(&got, -1, nil); err != nil {
			return
		}
		d := etree.NewDocument()
		if err := d.ReadFromBytes(data); err != nil {
			t.Fatalf("scan accepted what etree refuses: %v", err)
		}
		root := d.Root().Copy()
		for _, c := range root.ChildElements() {
			if c.Tag == "Signature" && c.NamespaceURI() == NamespaceXMLDSig {
				root.RemoveChild(c)
			}
		}
		want, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(root)
		if err != nil {
			return
		}
		if !bytes.Equal(want, got.Bytes()) {
			t.Fatalf("canonical forms differ\nwhole tree: %s\nstreamed:   %s", want, got.Bytes())
		}
	})
}
