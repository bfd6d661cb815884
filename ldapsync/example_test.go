package ldapsync_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// Synchronise an Active Directory (here an in-process test directory) into
// a MemoryTarget, then pick up a change incrementally.
func Example() {
	dir, err := ldapsynctest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dir.Close()
	alice, _ := dir.AddUser(ldapsynctest.User{CN: "Alice", ProxyAddresses: []string{"SMTP:alice@example.com", "smtp:a@example.com"}})
	bob, _ := dir.AddUser(ldapsynctest.User{CN: "Bob", Mail: "bob@example.com"})
	_, _ = dir.AddUser(ldapsynctest.User{CN: "NoMail"})
	_, _ = dir.AddGroup("Staff", alice.DN, bob.DN)

	cfg := dir.Config() // host, port, bind account and RootDN of the test directory
	cfg.AcknowledgeDisabledAccounts = true
	cfg.MaxSyncDeletions = 10

	target := ldapsync.NewMemoryTarget()
	syncer, err := ldapsync.NewSyncer(cfg, target, ldapsync.NewMemoryStore())
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	rep, err := syncer.Run(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: added %d, skipped %d\n", rep.Mode, len(rep.Added), len(rep.Skipped))

	_ = dir.Disable(bob.DN)
	rep, _ = syncer.Run(ctx)
	fmt.Printf("%s: added %d, disabled %d\n", rep.Mode, len(rep.Added), len(rep.Disabled))

	users, _ := target.Snapshot(ctx)
	fmt.Println(users[alice.ID].Email, users[alice.ID].Aliases, users[bob.ID].Disabled)
	// Output:
	// full: added 3, skipped 2
	// incremental: added 0, disabled 1
	// alice@example.com [a@example.com] true
}

// With MaxSyncDeletions exceeded, no removal is applied and Run says so.
func ExampleDeletionLimitError() {
	dir, err := ldapsynctest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dir.Close()
	var dns []string
	for _, name := range []string{"a", "b", "c"} {
		u, _ := dir.AddUser(ldapsynctest.User{CN: name, Mail: name + "@example.com"})
		dns = append(dns, u.DN)
	}
	cfg := dir.Config()
	cfg.MaxSyncDeletions = 1
	syncer, _ := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
	ctx := context.Background()
	_, _ = syncer.Run(ctx)

	for _, dn := range dns[:2] {
		_ = dir.Delete(dn)
	}
	rep, err := syncer.Run(ctx)
	var dle *ldapsync.DeletionLimitError
	if errors.As(err, &dle) {
		fmt.Printf("planned %d, limit %d, withheld %d, unlinked %d\n", dle.Planned, dle.Limit, len(rep.Withheld), len(rep.Unlinked))
	}
	// Output:
	// planned 2, limit 1, withheld 2, unlinked 0
}

func ExampleParseDomainList() {
	domains, err := ldapsync.ParseDomainList("example.com,example.net")
	fmt.Println(domains, err)
	_, err = ldapsync.ParseDomainList("example.com, example.net")
	fmt.Println(err)
	// Output:
	// [example.com example.net] <nil>
	// ldapsync: invalid domain list: item 2 " example.net" contains a space
}

// TestConnection checks a configuration before it is saved.
func ExampleTestConnection() {
	dir, err := ldapsynctest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dir.Close()
	_, _ = dir.AddUser(ldapsynctest.User{CN: "Alice", Mail: "alice@example.com"})

	rep := ldapsync.TestConnection(context.Background(), dir.Config(), "alice@example.com", "nobody@example.com")
	for _, s := range rep.Steps {
		fmt.Println(s.Name, s.Status)
	}
	fmt.Println("ok:", rep.OK())
	// Output:
	// hostname passed
	// connectivity passed
	// certificate skipped
	// authentication passed
	// sample-address passed
	// sample-address failed
	// ok: false
}

// Plan shows what a run would change without writing anything.
func ExampleSyncer_Plan() {
	dir, err := ldapsynctest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dir.Close()
	_, _ = dir.AddUser(ldapsynctest.User{CN: "Alice", Mail: "alice@example.com"})
	_, _ = dir.AddUser(ldapsynctest.User{CN: "Bob", Mail: "bob@example.com"})

	target := ldapsync.NewMemoryTarget()
	syncer, _ := ldapsync.NewSyncer(dir.Config(), target, ldapsync.NewMemoryStore())
	plan, err := syncer.Plan(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	var lines []string // changes come in ID order; sort by address for display
	for _, c := range plan.Changes {
		lines = append(lines, fmt.Sprint(c.Op, " ", c.User.Email))
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	fmt.Println("target writes:", target.Writes())
	// Output:
	// add alice@example.com
	// add bob@example.com
	// target writes: 0
}
