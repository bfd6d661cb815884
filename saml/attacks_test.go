package saml_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// genuineSignatures counts the elements named tag in the document whose
// enveloped signature verifies against cert: the attack documents must
// still carry the IdP's real signature, or they would prove nothing.
func genuineSignatures(t *testing.T, raw []byte, tag string, cert *x509.Certificate) int {
	t.Helper()
	doc := etree.NewDocument()
	require.NoError(t, doc.ReadFromBytes(raw))
	n := 0
	var walk func(el *etree.Element)
	walk = func(el *etree.Element) {
		if el.Tag == tag {
			ctx, err := etreeutils.NSBuildParentContext(el)
			require.NoError(t, err)
			detached, err := etreeutils.NSDetatch(ctx, el)
			require.NoError(t, err)
			vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
			vc.Clock = dsig.NewFakeClockAt(testClock)
			if _, err := vc.Validate(detached); err == nil {
				n++
			}
		}
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	walk(doc.Root())
	return n
}

func TestVerifyRefusesSignatureWrapping(t *testing.T) {
	idp := newTestIdP(t)
	for _, attack := range samltest.Attacks() {
		for _, signing := range []samltest.Signing{samltest.SignAssertion, samltest.SignBoth} {
			t.Run(attack.String(), func(t *testing.T) {
				opts := []samltest.ResponseOption{samltest.WithInResponseTo(reqID), samltest.WithAttack(attack), samltest.WithSigning(signing)}
				raw := idp.ResponseXML(opts...)
				require.Contains(t, string(raw), samltest.EvilNameID, "the attack carries the attacker's assertion")
				// XSW5 and XSW8 move the signature away from the element it
				// signs; the other shapes keep a signed assertion intact.
				if attack != samltest.XSW5 && attack != samltest.XSW8 {
					require.Positive(t, genuineSignatures(t, raw, "Assertion", idp.Certificate()), "the attack keeps a genuine signature")
				}

				sp := newSP(t, idp, func(c *saml.Config) { c.AllowIdPInitiated = true })
				a, err := sp.Verify(context.Background(), base64.StdEncoding.EncodeToString(raw), reqID)
				require.Nil(t, a)
				requireOnly(t, err, saml.ErrSignature)
				assert.Contains(t, err.Error(), "signature wrapping")

				// gosaml2 refuses them too (or at least never yields the
				// attacker's NameID).
				info, gerr := gosaml2SP(idp).RetrieveAssertionInfo(base64.StdEncoding.EncodeToString(raw))
				if gerr == nil {
					assert.NotEqual(t, samltest.EvilNameID, info.NameID)
				}
			})
		}
	}
}

// TestVerifyReadsOnlySignedContent changes values outside the signed
// element of an assertion-signed response: none of them may reach the
// result or flip a decision.
func TestVerifyReadsOnlySignedContent(t *testing.T) {
	idp := newTestIdP(t)
	sp := newSP(t, idp)
	// A comment and whitespace reformatting inside the signed assertion do
	// not change the canonical form; the values read stay the signed ones.
	resp := idp.Response(samltest.WithInResponseTo(reqID), samltest.WithTamper(func(r *etree.Element) {
		a := r.SelectElement("Assertion")
		a.InsertChildAt(0, etree.NewComment(" reformatted "))
	}))
	got, err := sp.Verify(context.Background(), resp, reqID)
	require.NoError(t, err)
	assert.Equal(t, samltest.DefaultNameID, got.NameID)

	// Attributes injected into the unsigned Response around a signed
	// assertion are never read.
	resp = idp.Response(samltest.WithInResponseTo(reqID), samltest.WithTamper(func(r *etree.Element) {
		st := r.CreateElement("saml:AttributeStatement")
		st.CreateElement("saml:Attribute").CreateAttr("Name", "role")
	}))
	got, err = sp.Verify(context.Background(), resp, reqID)
	require.NoError(t, err)
	assert.NotContains(t, got.Attributes, "role")
}
