package ldapsync_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

// Two domains synchronised into one target. The child domain cannot be
// read in the second round, so the parent domain's removal waits for a
// round in which both could be read.
func ExampleMulti() {
	parent, err := ldapsynctest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer parent.Close()
	child, err := ldapsynctest.New(ldapsynctest.WithBaseDN("DC=child,DC=corp,DC=example,DC=test"))
	if err != nil {
		log.Fatal(err)
	}
	defer child.Close()
	leaver, _ := parent.AddUser(ldapsynctest.User{CN: "Leaver", Mail: "leaver@corp.example.test"})
	_, _ = child.AddUser(ldapsynctest.User{CN: "Kim", Mail: "kim@child.corp.example.test"})

	target := ldapsync.NewMemoryTarget()
	stores := []*ldapsync.MemoryStore{ldapsync.NewMemoryStore(), ldapsync.NewMemoryStore()}
	round := func(childPassword ldapsync.Secret) *ldapsync.MultiReport {
		pc, cc := parent.Config(), child.Config()
		pc.Name, cc.Name = "corp", "child"
		pc.MaxSyncDeletions, cc.MaxSyncDeletions = 10, 10
		if childPassword != "" {
			cc.BindPassword = childPassword
		}
		ps, err := ldapsync.NewSyncer(pc, target, stores[0])
		if err != nil {
			log.Fatal(err)
		}
		cs, err := ldapsync.NewSyncer(cc, target, stores[1])
		if err != nil {
			log.Fatal(err)
		}
		m, err := ldapsync.NewMulti(ps, cs)
		if err != nil {
			log.Fatal(err)
		}
		rep, err := m.Run(context.Background())
		if errors.Is(err, ldapsync.ErrAuthentication) {
			fmt.Println("an integration failed:", rep.Integration("child").Err != nil)
		}
		return rep
	}

	rep := round("")
	fmt.Println("round 1 added:", len(rep.Integration("corp").Report.Added), len(rep.Integration("child").Report.Added))

	_ = parent.Delete(leaver.DN)
	rep = round("wrong password")
	fmt.Println("round 2 paused:", rep.RemovalsPaused != "", "withheld:", len(rep.Integration("corp").Report.Withheld))

	rep = round("")
	fmt.Println("round 3 unlinked:", len(rep.Integration("corp").Report.Unlinked))
	// Output:
	// round 1 added: 1 1
	// an integration failed: true
	// round 2 paused: true withheld: 1
	// round 3 unlinked: 1
}
