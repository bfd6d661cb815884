package saml

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
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
	sentinels := []error{ErrMalformed, ErrSignature, ErrMetadataExpired, ErrEntityNotFound, ErrEntityAmbiguous}

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range [][]MetadataOption{
			{WithNow(now)},
			{WithNow(now), WithMetadataSigner(signer)},
			{WithNow(now), WithEntityID("https://idp.uni-a.example/idp/shibboleth"), WithMaxTokens(5000)},
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
