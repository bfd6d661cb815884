// Command quickstart walks through the whole gatehouse SDK on one machine,
// with nothing but loopback networking:
//
//  1. the grid, hosts, entity IDs and ACS URLs of a Mimecast account code
//     (package region);
//  2. an authentication profile filled from a test identity provider's
//     metadata (packages profile and saml/samltest);
//  3. an SP-initiated sign-in over real HTTP: AuthnRequest to the IdP, the
//     IdP's signed response posted to the ACS, and the verified assertion
//     (package saml);
//  4. two directory synchronisations from an in-process Active Directory
//     into a memory target: one disabled user, and a run stopped by the
//     deletion limit (packages ldapsync and ldapsync/ldapsynctest).
//
// Usage:
//
//	go run ./examples/quickstart [flags]
//
//	-account CUK123ABC     account code; its prefix selects the grid
//	-region eu             grid, for codes that do not tell it (jer, uspcom)
//	-app applications      applications, personal-portal or admin-console
//	-metadata-url URL      a real IdP's metadata URL instead of the test IdP
//	                       (prints the sign-in URL to open in a browser)
//	-ldap-config FILE      a real directory instead of the test one: an
//	                       ldapsync.Config as JSON, bind password from the
//	                       GATEHOUSE_LDAP_PASSWORD environment variable
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse-id/gatehouse/region"
)

type options struct {
	account     string
	grid        string
	app         string
	metadataURL string
	ldapConfig  string
}

func main() {
	var o options
	flag.StringVar(&o.account, "account", "CUK123ABC", "Mimecast account code; its prefix selects the grid")
	flag.StringVar(&o.grid, "region", "", "grid code or name, for accounts whose code does not tell it (e.g. jer, uspcom)")
	flag.StringVar(&o.app, "app", "applications", "application to sign in to: applications, personal-portal or admin-console")
	flag.StringVar(&o.metadataURL, "metadata-url", "", "metadata URL of a real identity provider (default: a test IdP on loopback)")
	flag.StringVar(&o.ldapConfig, "ldap-config", "", "ldapsync config JSON of a real directory; password from $GATEHOUSE_LDAP_PASSWORD (default: a test directory on loopback)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, o options) error {
	out := &printer{w: w}
	acct, r, app, err := resolve(o)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "gatehouse quickstart")
	if err := showRegion(out, acct, r); err != nil {
		return err
	}
	nameID, err := demoSSO(ctx, out, acct, r, app, o.metadataURL)
	if err != nil {
		return err
	}
	return demoSync(ctx, out, o.ldapConfig, nameID)
}

// resolve reads the account, grid and application from the flags.
func resolve(o options) (string, region.Region, region.App, error) {
	acct, err := region.NormalizeAccount(o.account)
	if err != nil {
		return "", region.Region{}, 0, err
	}
	byCode, codeErr := region.ForAccount(acct)
	var r region.Region
	switch {
	case o.grid != "":
		if r, err = region.Lookup(o.grid); err != nil {
			return "", region.Region{}, 0, err
		}
		if codeErr == nil && r != byCode {
			return "", region.Region{}, 0, fmt.Errorf("-region %s: account %s is on the %s grid (%s), by its code", o.grid, acct, byCode.Code(), byCode.Name())
		}
	case codeErr != nil:
		if errors.Is(codeErr, region.ErrUnknownRegion) {
			return "", region.Region{}, 0, fmt.Errorf("%w; name the grid with -region (for example -region jer or -region uspcom)", codeErr)
		}
		return "", region.Region{}, 0, codeErr
	default:
		r = byCode
	}
	app, err := region.ParseApp(o.app)
	if err != nil {
		return "", region.Region{}, 0, err
	}
	return acct, r, app, nil
}

func showRegion(out *printer, acct string, r region.Region) error {
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
	out.section("Account " + acct)
	out.kv("Region", fmt.Sprintf("%s (%s)", r.Name(), r.Code()))
	out.kv("API host", r.APIHost())
	out.kv("Login host", loginHost)
	out.kv("Entity ID", entityID)
	out.kv("Legacy entity ID", legacyID)
	for _, app := range region.Apps() {
		out.kv("ACS URL, "+app.String(), r.ACSURL(app))
	}
	return out.flush()
}

// printer writes titled sections of aligned key/value lines.
type printer struct {
	w  io.Writer
	tw *tabwriter.Writer
}

func (p *printer) section(title string) {
	_ = p.flush()
	fmt.Fprintf(p.w, "\n%s\n", title)
}

func (p *printer) kv(key, value string) {
	if p.tw == nil {
		p.tw = tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	}
	lines := strings.Split(value, "\n")
	fmt.Fprintf(p.tw, "  %s\t%s\n", key, lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(p.tw, "  \t%s\n", l)
	}
}

func (p *printer) flush() error {
	if p.tw == nil {
		return nil
	}
	err := p.tw.Flush()
	p.tw = nil
	return err
}
