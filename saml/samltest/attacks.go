package samltest

import (
	"fmt"

	"github.com/beevik/etree"
)

// EvilNameID is the NameID that attack shapes put in the assertion the
// attacker wants accepted.
const EvilNameID = "attacker@evil.example"

// Attack is a reshaping of a correctly signed response that a vulnerable
// service provider would accept with attacker-chosen content. The XSW
// shapes follow the XML signature wrapping family of Somorovsky et al.,
// "On Breaking SAML: Be Whoever You Want to Be" (2012). XSW1 and XSW2 sign
// the Response; the other shapes sign the Assertion, whatever
// [WithSigning] says.
type Attack int

// Attack shapes.
const (
	NoAttack Attack = iota
	// XSW1: a new Response (new ID, evil assertion) carries the original
	// signature, whose ds:Object holds the original signed Response.
	XSW1
	// XSW2: like XSW1, but the original Response sits before the
	// signature as a sibling (a detached signature).
	XSW2
	// XSW3: an evil copy of the assertion (new ID, unsigned) is inserted
	// before the signed assertion.
	XSW3
	// XSW4: the signed assertion is moved inside an evil assertion.
	XSW4
	// XSW5: the evil assertion carries the signature; the original
	// assertion, without it, is appended to the Response.
	XSW5
	// XSW6: the evil assertion carries a copy of the signature whose
	// ds:Object holds the original signed assertion.
	XSW6
	// XSW7: the signed assertion is moved into samlp:Extensions and an evil
	// assertion takes its place.
	XSW7
	// XSW8: the evil assertion carries the signature, whose ds:Object holds
	// the original assertion without its signature.
	XSW8
	// AttackSecondAssertion appends an unsigned evil assertion after the
	// signed one.
	AttackSecondAssertion
	// AttackDuplicateID inserts, before the signed assertion, an evil
	// assertion with the same ID.
	AttackDuplicateID
)

func (a Attack) String() string {
	switch a {
	case NoAttack:
		return "none"
	case AttackSecondAssertion:
		return "second unsigned assertion"
	case AttackDuplicateID:
		return "duplicate ID"
	}
	if a >= XSW1 && a <= XSW8 {
		return fmt.Sprintf("XSW%d", int(a-XSW1)+1)
	}
	return fmt.Sprintf("Attack(%d)", int(a))
}

// Attacks lists every attack shape.
func Attacks() []Attack {
	return []Attack{XSW1, XSW2, XSW3, XSW4, XSW5, XSW6, XSW7, XSW8, AttackSecondAssertion, AttackDuplicateID}
}

func childByTag(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

func removeSignature(el *etree.Element) {
	if s := childByTag(el, "Signature"); s != nil {
		el.RemoveChild(s)
	}
}

// evilCopy returns an unsigned copy of assertion with a new ID and the
// attacker's NameID.
func evilCopy(a *etree.Element) *etree.Element {
	ev := a.Copy()
	removeSignature(ev)
	ev.CreateAttr("ID", "_evil"+a.SelectAttrValue("ID", ""))
	for _, n := range findAll(ev, "NameID") {
		n.SetText(EvilNameID)
	}
	return ev
}

func applyAttack(resp *etree.Element, attack Attack) (*etree.Element, error) {
	a := childByTag(resp, "Assertion")
	if a == nil {
		return nil, fmt.Errorf("%v: the response has no assertion", attack)
	}
	switch attack {
	case XSW1, XSW2:
		orig := resp.Copy()
		removeSignature(orig)
		evil := resp.Copy()
		evil.CreateAttr("ID", "_evil"+resp.SelectAttrValue("ID", ""))
		ea := childByTag(evil, "Assertion")
		evil.InsertChildAt(ea.Index(), evilCopy(ea))
		evil.RemoveChild(ea)
		sig := childByTag(evil, "Signature")
		if attack == XSW1 {
			sig.CreateElement("ds:Object").AddChild(orig)
		} else {
			evil.InsertChildAt(sig.Index(), orig)
		}
		return evil, nil
	case XSW3:
		resp.InsertChildAt(a.Index(), evilCopy(a))
	case XSW4:
		ev := evilCopy(a)
		resp.InsertChildAt(a.Index(), ev)
		resp.RemoveChild(a)
		ev.AddChild(a)
	case XSW5:
		ev := evilCopy(a)
		sig := childByTag(a, "Signature")
		a.RemoveChild(sig)
		ev.InsertChildAt(1, sig)
		resp.InsertChildAt(a.Index(), ev)
		resp.RemoveChild(a)
		resp.AddChild(a)
	case XSW6, XSW8:
		ev := evilCopy(a)
		sig := childByTag(a, "Signature").Copy()
		ev.InsertChildAt(1, sig)
		orig := a.Copy()
		if attack == XSW8 {
			removeSignature(orig)
		}
		sig.CreateElement("ds:Object").AddChild(orig)
		resp.InsertChildAt(a.Index(), ev)
		resp.RemoveChild(a)
	case XSW7:
		ev := evilCopy(a)
		resp.InsertChildAt(a.Index(), ev)
		resp.RemoveChild(a)
		ext := etree.NewElement("samlp:Extensions")
		ext.AddChild(a)
		resp.InsertChildAt(1, ext)
	case AttackSecondAssertion:
		resp.AddChild(evilCopy(a))
	case AttackDuplicateID:
		ev := evilCopy(a)
		ev.CreateAttr("ID", a.SelectAttrValue("ID", ""))
		resp.InsertChildAt(a.Index(), ev)
	default:
		return nil, fmt.Errorf("unknown attack %v", attack)
	}
	return resp, nil
}
