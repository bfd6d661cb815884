// Command dirsync synchronises an Active Directory or other LDAP directory
// into a local JSON file with package ldapsync, or checks a configuration
// first.
//
// Usage:
//
//	dirsync -config ldap.json -test [-sample alice@example.com,bob@example.com]
//	dirsync -config ldap.json -dry-run
//	dirsync -config ldap.json [-state dirsync-state.json] [-target dirsync-target.json]
//
// The config file is an ldapsync.Config in JSON (unknown fields are
// refused). The bind password comes from the GATEHOUSE_LDAP_PASSWORD
// environment variable, so it need not be stored in the file; -ca adds a
// PEM file of CA certificates to trust for LDAPS and StartTLS.
//
// -test runs ldapsync.TestConnection (host name, connectivity, certificate,
// authentication, sample addresses) and exits 2 when a step fails.
// -dry-run prints the changes a sync would make without writing anything.
// Otherwise the sync runs: the directory is read (incrementally after the
// first run, from the state file), the changes are written to the target
// file and the state is saved. Progress goes to stderr (-v for more); the
// report goes to stdout (-json for JSON). When the removals exceed
// maxSyncDeletions none is applied and dirsync exits 3.
package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

type options struct {
	config, state, target, ca string
	test, dryRun, verbose     bool
	jsonOut                   bool
	samples                   string
}

// parseFlags reads the command line.
func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("dirsync", flag.ContinueOnError)
	fs.StringVar(&o.config, "config", "", "ldapsync config JSON file (required)")
	fs.StringVar(&o.state, "state", "dirsync-state.json", "sync state file")
	fs.StringVar(&o.target, "target", "dirsync-target.json", "target file the directory is synchronised into")
	fs.StringVar(&o.ca, "ca", "", "PEM file of CA certificates to trust")
	fs.BoolVar(&o.test, "test", false, "test the connection instead of syncing")
	fs.Func("sample", "an address -test looks up (comma-separated, or the flag repeated)", func(v string) error {
		if o.samples != "" {
			v = o.samples + "," + v
		}
		o.samples = v
		return nil
	})
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan; write nothing")
	fs.BoolVar(&o.verbose, "v", false, "more progress output")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report, plan or test result as JSON")
	err := fs.Parse(args)
	return o, err
}

// Exit codes.
const (
	exitError    = 1
	exitTestFail = 2
	exitLimit    = 3
)

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(exitError) // the flag package has said why
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	code, err := run(ctx, os.Stdout, os.Stderr, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dirsync:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, stdout, stderr io.Writer, o options) (int, error) {
	cfg, err := loadConfig(o.config, o.ca)
	if err != nil {
		return exitError, err
	}
	if o.test {
		var samples []string
		for _, s := range strings.Split(o.samples, ",") {
			if s = strings.TrimSpace(s); s != "" {
				samples = append(samples, s)
			}
		}
		rep := ldapsync.TestConnection(ctx, cfg, samples...)
		if err := printTest(stdout, rep, o.jsonOut); err != nil {
			return exitError, err
		}
		if !rep.OK() {
			return exitTestFail, errors.New("connection test failed")
		}
		return 0, nil
	}

	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	target, err := openFileTarget(ctx, o.target)
	if err != nil {
		return exitError, err
	}
	store := stateStore{StateStore: ldapsync.NewFileStore(o.state), target: target}
	syncer, err := ldapsync.NewSyncer(cfg, target, store, ldapsync.WithLogger(logger))
	if err != nil {
		return exitError, err
	}

	var limit *ldapsync.DeletionLimitError
	if o.dryRun {
		plan, err := syncer.Plan(ctx)
		if err != nil && !errors.As(err, &limit) {
			return exitError, err
		}
		if err := printPlan(stdout, plan, o.jsonOut); err != nil {
			return exitError, err
		}
		if limit != nil {
			return exitLimit, err
		}
		return 0, nil
	}
	rep, runErr := syncer.Run(ctx)
	if rep != nil {
		if err := printReport(ctx, stdout, rep, target, o.jsonOut); err != nil {
			return exitError, err
		}
	}
	switch {
	case runErr == nil:
		return 0, nil
	case errors.As(runErr, &limit):
		return exitLimit, runErr
	default:
		return exitError, runErr
	}
}

// loadConfig reads the config strictly, takes the password from the
// environment and adds the CA file.
func loadConfig(path, caFile string) (ldapsync.Config, error) {
	var cfg ldapsync.Config
	if path == "" {
		return cfg, errors.New("-config is required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if pw, ok := os.LookupEnv("GATEHOUSE_LDAP_PASSWORD"); ok {
		cfg.BindPassword = ldapsync.Secret(pw)
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return cfg, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return cfg, fmt.Errorf("%s: no PEM certificates", caFile)
		}
		cfg.RootCAs = pool
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func printTest(w io.Writer, rep *ldapsync.TestReport, asJSON bool) error {
	if asJSON {
		return writeJSON(w, rep)
	}
	tw := newTable(w)
	for _, s := range rep.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Status, s.Name, s.Host, s.Detail)
		if s.Hint != "" {
			fmt.Fprintf(tw, "\t\t\thint: %s\n", s.Hint)
		}
	}
	result := "connection test passed"
	if !rep.OK() {
		result = "connection test FAILED"
	}
	fmt.Fprintf(tw, "\n%s\n", result)
	return tw.Flush()
}

func printPlan(w io.Writer, plan *ldapsync.Plan, asJSON bool) error {
	if asJSON {
		return writeJSON(w, plan)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Plan (%s read from %s): %d changes, %d withheld, %d skipped; nothing written\n",
		plan.Mode, plan.Host, len(plan.Changes), len(plan.Withheld), len(plan.Skipped))
	for _, c := range plan.Changes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Op, changeName(c), c.DN)
	}
	for _, c := range plan.Withheld {
		fmt.Fprintf(tw, "  withheld %s\t%s\t%s\n", c.Op, changeName(c), c.DN)
	}
	for _, s := range plan.Skipped {
		fmt.Fprintf(tw, "  skipped\t%s\t%s\n", s.DN, s.Reason)
	}
	for _, warn := range plan.Warnings {
		fmt.Fprintf(tw, "  note\t%s\n", warn)
	}
	return tw.Flush()
}

func changeName(c ldapsync.Change) string {
	switch {
	case c.User != nil && c.User.Email != "":
		return c.User.Email
	case c.Group != nil && c.Group.Name != "":
		return c.Group.Name
	}
	return c.ID
}

func printReport(ctx context.Context, w io.Writer, rep *ldapsync.Report, t *fileTarget, asJSON bool) error {
	if asJSON {
		return writeJSON(w, rep)
	}
	names := map[string]string{}
	if snap, err := t.Snapshot(ctx); err == nil {
		for id, u := range snap {
			names[id] = u.Email
		}
	}
	for id, u := range t.Unlinked() {
		names[id] = u.Email
	}
	for id, g := range t.Groups() {
		names[id] = g.Name + " (group)"
	}
	list := func(ids []string) string {
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			if n := names[id]; n != "" {
				out = append(out, n)
			} else {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return strings.Join(out, ", ")
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Sync (%s) from %s in %s\n", rep.Mode, rep.Host, rep.Duration.Round(1e6))
	for _, row := range []struct {
		label string
		ids   []string
	}{
		{"added", rep.Added}, {"updated", rep.Updated}, {"disabled", rep.Disabled}, {"enabled", rep.Enabled},
		{"unlinked", rep.Unlinked}, {"deleted", rep.Deleted}, {"withheld", rep.Withheld},
	} {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", row.label, len(row.ids), list(row.ids))
	}
	fmt.Fprintf(tw, "  skipped\t%d\t\n", len(rep.Skipped))
	for _, s := range rep.Skipped {
		fmt.Fprintf(tw, "  \t\t%s: %s\n", s.DN, s.Reason)
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(tw, "  note\t\t%s\n", warn)
	}
	return tw.Flush()
}

// table is a tabwriter whose lines carry no trailing padding (that of an
// empty last cell).
type table struct {
	*tabwriter.Writer
	buf bytes.Buffer
	out io.Writer
}

func newTable(out io.Writer) *table {
	t := &table{out: out}
	t.Writer = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	return t
}

// Flush aligns the cells written so far and writes the lines, trimmed.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(t.buf.String(), "\n") {
		body, nl := strings.CutSuffix(line, "\n")
		b.WriteString(strings.TrimRight(body, " "))
		if nl {
			b.WriteByte('\n')
		}
	}
	t.buf.Reset()
	_, err := io.WriteString(t.out, b.String())
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
