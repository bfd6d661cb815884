package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// demoSync synchronises a directory into a memory target: the test
// directory (two runs, the second stopped by the deletion limit) or, with
// configPath, a real one (one run).
func demoSync(ctx context.Context, out *printer, configPath, nameID string) error {
	if configPath != "" {
		return realSync(ctx, out, configPath)
	}
	dir, err := ldapsynctest.New()
	if err != nil {
		return err
	}
	defer dir.Close()

	people := []ldapsynctest.User{
		{CN: "Alice Example", SAMAccountName: "alice", DisplayName: "Alice Example", Mail: demoUser},
		{CN: "Bob Baker", SAMAccountName: "bob", DisplayName: "Bob Baker", Mail: "bob@example.com"},
		{CN: "Carol Chen", SAMAccountName: "carol", DisplayName: "Carol Chen", ProxyAddresses: []string{"SMTP:carol@example.com", "smtp:c.chen@example.com"}},
		{CN: "Dave Diaz", SAMAccountName: "dave", DisplayName: "Dave Diaz", Mail: "dave@example.com"},
		{CN: "Erin Evans", SAMAccountName: "erin", DisplayName: "Erin Evans", Mail: "erin@example.com", Disabled: true},
	}
	entries := map[string]ldapsynctest.Entry{}
	for _, u := range people {
		e, err := dir.AddUser(u)
		if err != nil {
			return err
		}
		entries[u.SAMAccountName] = e
	}
	staff, err := dir.AddGroup("Staff", entries["alice"].DN, entries["bob"].DN, entries["carol"].DN)
	if err != nil {
		return err
	}
	if err := dir.SetMail(staff.DN, "staff@example.com"); err != nil {
		return err
	}

	cfg := dir.Config()
	cfg.Name = "quickstart"
	cfg.AcknowledgeDisabledAccounts = true
	cfg.MaxSyncDeletions = 1
	target := ldapsync.NewMemoryTarget()
	syncer, err := ldapsync.NewSyncer(cfg, target, ldapsync.NewMemoryStore())
	if err != nil {
		return err
	}

	out.section("Directory (in-process Active Directory)")
	out.kv("URL", dir.URL())
	out.kv("Root DN", cfg.RootDN)
	out.kv("Objects", fmt.Sprintf("%d users (1 disabled, Erin), the Administrator account without mail, 1 group", len(people)))
	out.kv("Policy", fmt.Sprintf("acknowledge disabled accounts; at most %d removal per run; unlink, don't delete", cfg.MaxSyncDeletions))

	names := newNamer()
	rep, err := syncer.Run(ctx)
	if err != nil {
		return fmt.Errorf("first sync: %w", err)
	}
	names.learn(ctx, target)
	showReport(out, "Sync 1", rep, names, nil)

	// Bob and Dave leave; Carol's primary address changes.
	for _, who := range []string{"bob", "dave"} {
		if err := dir.Delete(entries[who].DN); err != nil {
			return err
		}
	}
	if err := dir.SetProxyAddresses(entries["carol"].DN, "SMTP:carol.chen@example.com", "smtp:carol@example.com"); err != nil {
		return err
	}
	out.section("Directory changes: Bob and Dave deleted, Carol's primary address now carol.chen@example.com")
	rep, err = syncer.Run(ctx)
	var limit *ldapsync.DeletionLimitError
	if err != nil && !errors.As(err, &limit) {
		return fmt.Errorf("second sync: %w", err)
	}
	names.learn(ctx, target)
	showReport(out, "Sync 2", rep, names, limit)

	snap, err := target.Snapshot(ctx)
	if err != nil {
		return err
	}
	out.section("Target after both runs")
	var linked []string
	for _, u := range snap {
		s := u.Email
		if u.Disabled {
			s += " (disabled)"
		}
		linked = append(linked, s)
	}
	sort.Strings(linked)
	out.kv("Linked users", strings.Join(linked, ", "))
	if nameID != "" {
		status := "not in the directory"
		for _, u := range snap {
			if strings.EqualFold(u.Email, nameID) {
				status = "synced and enabled"
				if u.Disabled {
					status = "synced but disabled"
				}
			}
		}
		out.kv("Signed-in user", nameID+": "+status)
	}
	return out.flush()
}

// namer turns object IDs into addresses or group names for printing.
type namer struct {
	byID    map[string]string
	isGroup map[string]bool
}

func newNamer() *namer { return &namer{byID: map[string]string{}, isGroup: map[string]bool{}} }

func (n *namer) learn(ctx context.Context, t *ldapsync.MemoryTarget) {
	add := func(id string, u ldapsync.User) {
		n.byID[id] = u.Email
		if u.Disabled {
			n.byID[id] += " (disabled)"
		}
	}
	if snap, err := t.Snapshot(ctx); err == nil {
		for id, u := range snap {
			add(id, u)
		}
	}
	for id, u := range t.Unlinked() {
		add(id, u)
	}
	for id, g := range t.Groups() {
		n.byID[id] = g.Name + " (group)"
		n.isGroup[id] = true
	}
}

// names lists the objects by name: users first, then groups.
func (n *namer) names(ids []string) string {
	var users, groups []string
	for _, id := range ids {
		s, ok := n.byID[id]
		if !ok || s == "" {
			s = id
		}
		if n.isGroup[id] {
			groups = append(groups, s)
		} else {
			users = append(users, s)
		}
	}
	sort.Strings(users)
	sort.Strings(groups)
	return strings.Join(append(users, groups...), ", ")
}

func showReport(out *printer, title string, rep *ldapsync.Report, n *namer, limit *ldapsync.DeletionLimitError) {
	out.section(fmt.Sprintf("%s (%s) from %s", title, rep.Mode, rep.Host))
	rows := []struct {
		label string
		ids   []string
	}{
		{"Added", rep.Added}, {"Updated", rep.Updated}, {"Disabled", rep.Disabled}, {"Enabled", rep.Enabled},
		{"Unlinked", rep.Unlinked}, {"Deleted", rep.Deleted}, {"Withheld", rep.Withheld},
	}
	var counts []string
	for _, r := range rows {
		counts = append(counts, fmt.Sprintf("%s %d", strings.ToLower(r.label), len(r.ids)))
	}
	counts = append(counts, fmt.Sprintf("skipped %d", len(rep.Skipped)))
	out.kv("Counts", strings.Join(counts, ", "))
	for _, r := range rows {
		if len(r.ids) > 0 {
			out.kv(r.label, n.names(r.ids))
		}
	}
	for _, s := range rep.Skipped {
		out.kv("Skipped", fmt.Sprintf("%s: %s", s.DN, s.Reason))
	}
	for _, w := range rep.Warnings {
		out.kv("Note", w)
	}
	if limit != nil {
		noun := "removals"
		if limit.Planned == 1 {
			noun = "removal"
		}
		out.kv("Deletion limit", fmt.Sprintf("hit: %d %s planned, %d allowed; Run returned ErrDeletionLimit", limit.Planned, noun, limit.Limit))
	}
}

// realSync runs one sync of a real directory into a memory target; nothing
// is written to the directory.
func realSync(ctx context.Context, out *printer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg ldapsync.Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if pw := os.Getenv("GATEHOUSE_LDAP_PASSWORD"); pw != "" {
		cfg.BindPassword = ldapsync.Secret(pw)
	}
	target := ldapsync.NewMemoryTarget()
	syncer, err := ldapsync.NewSyncer(cfg, target, ldapsync.NewMemoryStore())
	if err != nil {
		return err
	}
	out.section("Directory " + cfg.Host)
	out.kv("Root DN", cfg.RootDN)
	rep, err := syncer.Run(ctx)
	var limit *ldapsync.DeletionLimitError
	if err != nil && !errors.As(err, &limit) {
		return err
	}
	n := newNamer()
	n.learn(ctx, target)
	showReport(out, "Sync", rep, n, limit)
	return out.flush()
}
