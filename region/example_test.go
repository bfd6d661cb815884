package region_test

import (
	"errors"
	"fmt"

	"github.com/gatehouse-id/gatehouse/region"
)

func Example() {
	r, err := region.ForAccount("CUK123ABC")
	if err != nil {
		panic(err)
	}
	id, _ := r.EntityID("CUK123ABC")
	fmt.Println(r.Name(), r.APIHost())
	fmt.Println(id)
	fmt.Println(r.ACSURL(region.AdminConsole))
	// Output:
	// Europe eu-api.mimecast.com
	// https://eu-api.mimecast.com/sso/CUK123ABC
	// https://eu-api.mimecast.com/login/sso/adcon
}

func ExampleAll() {
	for _, r := range region.All() {
		fmt.Printf("%-7s %-23s %s\n", r.Code(), r.Name(), r.APIHost())
	}
	// Output:
	// eu      Europe                  eu-api.mimecast.com
	// de      Germany                 de-api.mimecast.com
	// us      United States           us-api.mimecast.com
	// usb     United States (B grid)  usb-api.mimecast.com
	// ca      Canada                  ca-api.mimecast.com
	// za      South Africa            za-api.mimecast.com
	// au      Australia               au-api.mimecast.com
	// jer     Offshore                jer-api.mimecast.com
	// uspcom  US Public Sector        uspcom-api.mimecast-pscom-us.com
}

func ExampleLookup() {
	for _, s := range []string{"eu", "UK", " offshore ", "United States (B grid)", "za-api.mimecast.com", "mars"} {
		r, err := region.Lookup(s)
		if err != nil {
			fmt.Println(errors.Is(err, region.ErrUnknownRegion), err)
			continue
		}
		fmt.Printf("%q -> %s\n", s, r.Code())
	}
	// Output:
	// "eu" -> eu
	// "UK" -> eu
	// " offshore " -> jer
	// "United States (B grid)" -> usb
	// "za-api.mimecast.com" -> za
	// true region: Lookup "mars": unknown region: not a grid code, name, host or alias (known codes: eu, de, us, usb, ca, za, au, jer, uspcom)
}

func ExampleForAccount() {
	for _, acct := range []string{"CUK123ABC", "cusb77", "CUSA1", "CXX1", "CUK-1"} {
		r, err := region.ForAccount(acct)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(acct, "->", r.Code())
	}
	// Output:
	// CUK123ABC -> eu
	// cusb77 -> usb
	// CUSA1 -> us
	// region: ForAccount "CXX1": unknown region: account code "CXX1" has no known grid prefix (CUK, CDE, CUSA, CUSB, CCA, CSA, CAU)
	// region: invalid account code "CUK-1": character '-' at position 4 is not an ASCII letter or digit
}

func ExampleFromURL() {
	for _, s := range []string{
		"https://au-api.mimecast.com/login/sso/mpp",
		" HTTP://US-API.MIMECAST.COM/ ",
		"eu-api.mimecast.com.CUK123ABC",
		"https://eu-api.mimecast.com.evil.example/login/saml",
		"https://eu-api.mimecast.com@evil.example/",
	} {
		r, err := region.FromURL(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(r.Code())
	}
	// Output:
	// au
	// us
	// eu
	// region: FromURL "https://eu-api.mimecast.com.evil.example/login/saml": unknown region: host "eu-api.mimecast.com.evil.example" is not a Mimecast grid host
	// region: FromURL "https://eu-api.mimecast.com@evil.example/": invalid URL: user info (the part before @) is never part of a Mimecast URL; the host is "evil.example"
}

func ExampleParseEntityID() {
	for _, s := range []string{"https://de-api.mimecast.com/sso/cde42x", "eu-api.mimecast.com.CUK123ABC"} {
		r, acct, err := region.ParseEntityID(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(r.Code(), acct)
	}
	// Output:
	// de CDE42X
	// eu CUK123ABC
}

func ExampleRegion_EntityID() {
	r := region.US()
	id, _ := r.EntityID("cusa123")
	legacy, _ := r.LegacyEntityID("cusa123")
	fmt.Println(id)
	fmt.Println(legacy)
	// Output:
	// https://us-api.mimecast.com/sso/CUSA123
	// us-api.mimecast.com.CUSA123
}

func ExampleRegion_ACSURL() {
	for _, app := range region.Apps() {
		fmt.Printf("%-15s %s\n", app, region.ZA().ACSURL(app))
	}
	// Output:
	// Applications    https://za-api.mimecast.com/login/saml
	// Personal Portal https://za-api.mimecast.com/login/sso/mpp
	// Admin Console   https://za-api.mimecast.com/login/sso/adcon
}

func ExampleParseACSURL() {
	r, app, err := region.ParseACSURL("https://ca-api.mimecast.com/login/sso/adcon")
	fmt.Println(r.Code(), app, err)
	// Output:
	// ca Admin Console <nil>
}

func ExampleNormalizeAccount() {
	acct, err := region.NormalizeAccount("  cuk123abc ")
	fmt.Println(acct, err)
	_, err = region.NormalizeAccount("CUK 123")
	var ae *region.AccountError
	if errors.As(err, &ae) {
		fmt.Printf("position %d: %q\n", ae.Pos, ae.Char)
	}
	// Output:
	// CUK123ABC <nil>
	// position 4: ' '
}
