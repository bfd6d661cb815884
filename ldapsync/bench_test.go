package ldapsync_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/gatehouse-id/gatehouse/ldapsync"
	"github.com/gatehouse-id/gatehouse/ldapsync/ldapsynctest"
)

const benchUsers = 10000

// benchDirectory fills a directory with benchUsers users in 100 groups.
func benchDirectory(b *testing.B) (*ldapsynctest.Directory, []ldapsynctest.Entry) {
	b.Helper()
	dir := ldapsynctest.Start(b)
	users := make([]ldapsynctest.Entry, 0, benchUsers)
	var dns []string
	for i := range benchUsers {
		u, err := dir.AddUser(ldapsynctest.User{CN: fmt.Sprintf("User%05d", i),
			ProxyAddresses: []string{fmt.Sprintf("SMTP:user%05d@example.com", i), fmt.Sprintf("smtp:u%05d@example.net", i)}})
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, u)
		dns = append(dns, u.DN)
	}
	for g := range 100 {
		if _, err := dir.AddGroup(fmt.Sprintf("Group%03d", g), dns[g*100:(g+1)*100]...); err != nil {
			b.Fatal(err)
		}
	}
	return dir, users
}

// perUser reports time and allocation (client, and the in-process
// server's share) per directory user.
func perUser(b *testing.B, before runtime.MemStats) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	n := float64(b.N) * benchUsers
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/user")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/user")
}

func BenchmarkSync(b *testing.B) {
	dir, users := benchDirectory(b)
	cfg := dir.Config()
	cfg.MaxSyncDeletions = 100
	ctx := context.Background()

	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ResetTimer()
		for b.Loop() {
			s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
			if err != nil {
				b.Fatal(err)
			}
			rep, err := s.Run(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(rep.Added) != benchUsers+100 {
				b.Fatalf("added %d", len(rep.Added))
			}
		}
		perUser(b, ms)
	})

	b.Run("incremental-10-changes", func(b *testing.B) {
		target, store := ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore()
		s, err := ldapsync.NewSyncer(cfg, target, store)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Run(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ResetTimer()
		round := 0
		for b.Loop() {
			b.StopTimer()
			round++
			for i := range 10 {
				u := users[(round*10+i)%benchUsers]
				if err := dir.SetMail(u.DN, fmt.Sprintf("r%d-%d@example.com", round, i)); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			rep, err := s.Run(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Mode != ldapsync.SyncIncremental {
				b.Fatalf("mode %s", rep.Mode)
			}
		}
		perUser(b, ms)
	})

	b.Run("incremental-idle", func(b *testing.B) {
		s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Run(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ResetTimer()
		for b.Loop() {
			if _, err := s.Run(ctx); err != nil {
				b.Fatal(err)
			}
		}
		perUser(b, ms)
	})
}
