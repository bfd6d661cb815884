package saml_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// signedCrafted builds an unsigned response, lets mutate reshape its
// Assertion, and then signs the reshaped Assertion with the fuzz IdP's key:
// the crafted content is covered by a genuine signature, so only the
// semantic checks of Verify stand between it and the caller.
func signedCrafted(t *testing.T, idp *samltest.IdP, mutate func(a *etree.Element), opts ...samltest.ResponseOption) string {
	t.Helper()
	base := append([]samltest.ResponseOption{samltest.WithInResponseTo(reqID), samltest.WithSigning(samltest.SignNone)}, opts...)
	d := etree.NewDocument()
	require.NoError(t, d.ReadFromBytes(idp.ResponseXML(base...)))
	a := d.Root().FindElement("./Assertion")
	require.NotNil(t, a)
	mutate(a)
	raw, err := d.WriteToBytes()
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(resignAssertion(t, raw, dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")))
}

func TestAttackReviewSignedCraftedAssertions(t *testing.T) {
	idp, sp, _ := fuzzSetupT(t)
	cases := []struct {
		name   string
		mutate func(a *etree.Element)
		opts   []samltest.ResponseOption
		want   error
	}{
		{name: "control: crafted but honest", mutate: func(a *etree.Element) {}},
		{name: "processing instruction splits NameID", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			n := a.FindElement("./Subject/NameID")
			n.SetText("attacker@evil.example")
			n.AddChild(etree.NewProcInst("x", "y"))
			n.CreateText(".good.example")
		}},
		{name: "CDATA splits NameID", mutate: func(a *etree.Element) {
			n := a.FindElement("./Subject/NameID")
			n.SetText("user@")
			n.CreateCData("example.com")
		}},
		{name: "NameID in a foreign namespace", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			n := a.FindElement("./Subject/NameID")
			n.Space = "evil"
			n.CreateAttr("xmlns:evil", "urn:evil")
		}},
		{name: "saml prefix redeclared on Subject", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			a.FindElement("./Subject").CreateAttr("xmlns:saml", "urn:evil")
		}},
		{name: "Assertion in a foreign default namespace", want: saml.ErrSignature, mutate: func(a *etree.Element) {
			a.RemoveAttr("xmlns:saml")
			a.CreateAttr("xmlns:saml", "urn:evil")
		}},
		{name: "Conditions redeclared to a foreign namespace", want: saml.ErrAudience, mutate: func(a *etree.Element) {
			c := a.FindElement("./Conditions")
			c.CreateAttr("xmlns:saml", "urn:evil")
		}},
		{name: "holder-of-key only confirmation", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			a.FindElement("./Subject/SubjectConfirmation").CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")
		}},
		{name: "SubjectConfirmationData without NotOnOrAfter", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData").RemoveAttr("NotOnOrAfter")
		}},
		{name: "two SubjectConfirmationData, second with evil Recipient", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			sc := a.FindElement("./Subject/SubjectConfirmation")
			d := sc.FindElement("./SubjectConfirmationData").Copy()
			d.CreateAttr("Recipient", "https://evil.example/acs")
			sc.AddChild(d)
		}},
		{name: "second SubjectConfirmation with evil Recipient", mutate: func(a *etree.Element) {
			s := a.FindElement("./Subject")
			sc := s.FindElement("./SubjectConfirmation").Copy()
			sc.FindElement("./SubjectConfirmationData").CreateAttr("Recipient", "https://evil.example/acs")
			s.AddChild(sc)
		}},
		{name: "second SubjectConfirmation expired", mutate: func(a *etree.Element) {
			s := a.FindElement("./Subject")
			sc := s.FindElement("./SubjectConfirmation").Copy()
			sc.FindElement("./SubjectConfirmationData").CreateAttr("NotOnOrAfter", "2001-01-01T00:00:00Z")
			s.AddChild(sc)
		}},
		{name: "Conditions without NotOnOrAfter", mutate: func(a *etree.Element) {
			a.FindElement("./Conditions").RemoveAttr("NotOnOrAfter")
		}},
		{name: "second AudienceRestriction for another SP", want: saml.ErrAudience, mutate: func(a *etree.Element) {
			c := a.FindElement("./Conditions")
			c.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText("https://other.example")
		}},
		{name: "two Conditions", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			c := a.FindElement("./Conditions").Copy()
			c.CreateAttr("NotOnOrAfter", "2001-01-01T00:00:00Z")
			a.InsertChildAt(a.FindElement("./Conditions").Index()+1, c)
		}},
		{name: "Audience with trailing space", mutate: func(a *etree.Element) {
			au := a.FindElement("./Conditions/AudienceRestriction/Audience")
			au.SetText(au.Text() + " ")
		}},
		{name: "Audience with zero-width space", want: saml.ErrAudience, mutate: func(a *etree.Element) {
			au := a.FindElement("./Conditions/AudienceRestriction/Audience")
			au.SetText(au.Text() + "\u200b")
		}},
		{name: "Audience upper-cased", want: saml.ErrAudience, mutate: func(a *etree.Element) {
			au := a.FindElement("./Conditions/AudienceRestriction/Audience")
			au.SetText("HTTPS" + au.Text()[5:])
		}},
		{name: "Issuer with zero-width space", want: saml.ErrIssuer, mutate: func(a *etree.Element) {
			is := a.FindElement("./Issuer")
			is.SetText(is.Text() + "\u200b")
		}},
		{name: "Issuer with trailing newline", mutate: func(a *etree.Element) {
			is := a.FindElement("./Issuer")
			is.SetText(is.Text() + "\n")
		}},
		{name: "Issuer with emailAddress Format", want: saml.ErrIssuer, mutate: func(a *etree.Element) {
			a.FindElement("./Issuer").CreateAttr("Format", saml.NameIDFormatEmailAddress)
		}},
		{name: "Issuer with entity Format", mutate: func(a *etree.Element) {
			a.FindElement("./Issuer").CreateAttr("Format", saml.NameIDFormatEntity)
		}},
		{name: "Issuer split by CDATA", mutate: func(a *etree.Element) {
			is := a.FindElement("./Issuer")
			txt := is.Text()
			is.SetText(txt[:8])
			is.CreateCData(txt[8:])
		}},
		{name: "SubjectConfirmationData InResponseTo other request", want: saml.ErrInResponseTo, mutate: func(a *etree.Element) {
			a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData").CreateAttr("InResponseTo", "id-other")
		}},
		{name: "ID attribute lower-case duplicate", mutate: func(a *etree.Element) {
			a.CreateAttr("id", "_evil")
		}},
		{name: "namespace-qualified ID beside ID", want: saml.ErrSignature, mutate: func(a *etree.Element) {
			a.CreateAttr("xmlns:x", "urn:x")
			a.CreateAttr("x:ID", "_evil")
		}},
		{name: "second AuthnStatement", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			s := a.FindElement("./AuthnStatement").Copy()
			s.CreateAttr("SessionNotOnOrAfter", "2001-01-01T00:00:00Z")
			a.AddChild(s)
		}},
		{name: "second Subject", want: saml.ErrMalformed, mutate: func(a *etree.Element) {
			s := a.FindElement("./Subject").Copy()
			s.FindElement("./NameID").SetText(samltest.EvilNameID)
			a.InsertChildAt(a.FindElement("./Subject").Index(), s)
		}},
		{name: "NameID in Advice", mutate: func(a *etree.Element) {
			adv := etree.NewElement("saml:Advice")
			adv.CreateElement("saml:Subject").CreateElement("saml:NameID").SetText(samltest.EvilNameID)
			a.InsertChildAt(a.FindElement("./Conditions").Index()+1, adv)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sp.Verify(context.Background(), signedCrafted(t, idp, tc.mutate, tc.opts...), reqID)
			if tc.want != nil {
				require.Nil(t, got)
				requireOnly(t, err, tc.want)
				return
			}
			// Accepted shapes are benign: only the signed values are read.
			require.NoError(t, err)
			require.NotEqual(t, samltest.EvilNameID, got.NameID)
			require.Contains(t, []string{"alice@example.com", "user@example.com"}, got.NameID)
		})
	}
}
