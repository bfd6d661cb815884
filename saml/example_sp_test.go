package saml_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// A service provider sends the user to the IdP with an AuthnRequest and
// verifies the response the IdP posts back. samltest plays the IdP here.
func ExampleServiceProvider_Verify() {
	idp, err := samltest.Start(samltest.WithUser("alice@example.com", map[string][]string{"groups": {"staff"}}))
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()

	sp, err := saml.NewServiceProvider(saml.Config{
		EntityID: "https://sp.example.com/saml/metadata",
		ACSURL:   "https://sp.example.com/saml/acs",
		IdP:      idp.IdPMetadata(), // or saml.FetchMetadata / saml.ParseMetadata
	})
	if err != nil {
		log.Fatal(err)
	}

	req, err := sp.AuthnRequest("/inbox")
	if err != nil {
		log.Fatal(err)
	}
	// Keep req.ID with the user's session, redirect to req.RedirectURL();
	// the IdP signs the user in and posts SAMLResponse to the ACS URL:
	posted := idp.Response(samltest.WithInResponseTo(req.ID),
		samltest.WithNameID("alice@example.com"), samltest.WithAttribute("groups", "staff"))

	a, err := sp.Verify(context.Background(), posted, req.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.NameID, a.Attributes["groups"], a.InResponseTo == req.ID)

	// The same response cannot be used twice.
	_, err = sp.Verify(context.Background(), posted, req.ID)
	fmt.Println(errors.Is(err, saml.ErrReplay))
	// Output:
	// alice@example.com [staff] true
	// true
}

// Every refusal matches one sentinel and names the element at fault.
func ExampleVerifyError() {
	idp, err := samltest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()
	sp, err := saml.NewServiceProvider(idp.SPConfig())
	if err != nil {
		log.Fatal(err)
	}
	posted := idp.Response(samltest.WithInResponseTo("id-1"), samltest.WithAudience("https://someone-else.example"))
	_, err = sp.Verify(context.Background(), posted, "id-1")
	var ve *saml.VerifyError
	if errors.As(err, &ve) {
		fmt.Println(errors.Is(err, saml.ErrAudience), ve.Element)
	}
	// Output: true Response/Assertion/Conditions/AudienceRestriction/Audience
}

func ExampleAuthnRequest_RedirectURL() {
	idp, err := samltest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()
	sp, err := saml.NewServiceProvider(saml.Config{
		EntityID:              "https://sp.example.com/saml/metadata",
		ACSURL:                "https://sp.example.com/saml/acs",
		IdP:                   idp.IdPMetadata(),
		RequestedAuthnContext: []string{saml.AuthnContextPasswordProtectedTransport},
	})
	if err != nil {
		log.Fatal(err)
	}
	req, err := sp.AuthnRequest("/inbox")
	if err != nil {
		log.Fatal(err)
	}
	target, err := req.RedirectURL()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(target, idp.SSOURL()+"?SAMLRequest="), strings.Contains(target, "&RelayState=%2Finbox"))
	// Output: true true
}

// An assertion consumer service: the request ID was stored in a cookie
// when the user was sent to the IdP.
func ExampleServiceProvider_Verify_handler() {
	var sp *saml.ServiceProvider // from saml.NewServiceProvider
	acs := func(w http.ResponseWriter, r *http.Request) {
		var ids []string
		if c, err := r.Cookie("saml_request"); err == nil {
			ids = append(ids, c.Value)
		}
		a, err := sp.Verify(r.Context(), r.PostFormValue("SAMLResponse"), ids...)
		var status *saml.StatusError
		switch {
		case errors.As(err, &status):
			http.Error(w, "the identity provider refused the login", http.StatusForbidden)
			return
		case err != nil:
			http.Error(w, "login failed", http.StatusForbidden)
			return
		}
		// Start a session for a.NameID, then go where RelayState says
		// (after checking it is one of your own paths).
		_ = a
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
	http.HandleFunc("/saml/acs", acs)
}

func ExampleServiceProvider_Metadata() {
	idp, err := samltest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()
	sp, err := saml.NewServiceProvider(idp.SPConfig())
	if err != nil {
		log.Fatal(err)
	}
	md, err := sp.Metadata()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Contains(string(md), `Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.com/saml/acs"`))
	// Output: true
}
