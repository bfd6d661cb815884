// Command quickstart shows what gatehouse resolves for a Mimecast account:
// the grid from the account code, its hosts, the SAML entity IDs and the
// ACS URL of every application.
//
//	go run ./examples/quickstart [-account CUK123ABC] [-region eu]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/gatehouse-id/gatehouse/region"
)

func main() {
	account := flag.String("account", "CUK123ABC", "Mimecast account code; its prefix selects the grid")
	grid := flag.String("region", "", "grid code or name, for accounts whose code does not tell it (e.g. jer, uspcom)")
	flag.Parse()
	if err := run(os.Stdout, *account, *grid); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, account, grid string) error {
	var r region.Region
	var err error
	if grid != "" {
		r, err = region.Lookup(grid)
	} else {
		r, err = region.ForAccount(account)
	}
	if err != nil {
		return err
	}
	acct, _ := region.NormalizeAccount(account)
	entityID, err := r.EntityID(acct)
	if err != nil {
		return err
	}
	legacyID, err := r.LegacyEntityID(acct)
	if err != nil {
		return err
	}
	loginHost := r.LoginHost()
	if loginHost == "" {
		loginHost = "(not published)"
	}

	fmt.Fprintf(w, "Account %s\n\n", acct)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  Region\t%s (%s)\n", r.Name(), r.Code())
	fmt.Fprintf(tw, "  API host\t%s\n", r.APIHost())
	fmt.Fprintf(tw, "  Login host\t%s\n", loginHost)
	fmt.Fprintf(tw, "  Entity ID\t%s\n", entityID)
	fmt.Fprintf(tw, "  Legacy entity ID\t%s\n", legacyID)
	for _, app := range region.Apps() {
		fmt.Fprintf(tw, "  ACS URL, %s\t%s\n", app, r.ACSURL(app))
	}
	return tw.Flush()
}
