package samltest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"

	"github.com/gatehouse-id/gatehouse/saml"
	"github.com/gatehouse-id/gatehouse/saml/samltest"
)

// In a test: start an IdP, build the service provider from it, and check
// that a login is accepted and an attack refused.
func ExampleNewIdP() {
	testLogin := func(t *testing.T) {
		idp := samltest.NewIdP(t) // shut down by t.Cleanup
		sp, err := saml.NewServiceProvider(idp.SPConfig())
		if err != nil {
			t.Fatal(err)
		}
		a, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo("id-1")), "id-1")
		if err != nil || a.NameID != samltest.DefaultNameID {
			t.Fatalf("login refused: %v", err)
		}
		_, err = sp.Verify(context.Background(),
			idp.Response(samltest.WithInResponseTo("id-2"), samltest.WithAttack(samltest.XSW3)), "id-2")
		if !errors.Is(err, saml.ErrSignature) {
			t.Fatalf("signature wrapping accepted: %v", err)
		}
	}
	_ = testLogin
}

func ExampleWithAttack() {
	idp, err := samltest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()
	sp, err := saml.NewServiceProvider(idp.SPConfig())
	if err != nil {
		log.Fatal(err)
	}
	for _, attack := range samltest.Attacks() {
		_, err := sp.Verify(context.Background(), idp.Response(samltest.WithInResponseTo("id-1"), samltest.WithAttack(attack)), "id-1")
		fmt.Println(attack, errors.Is(err, saml.ErrSignature))
	}
	// Output:
	// XSW1 true
	// XSW2 true
	// XSW3 true
	// XSW4 true
	// XSW5 true
	// XSW6 true
	// XSW7 true
	// XSW8 true
	// second unsigned assertion true
	// duplicate ID true
}
