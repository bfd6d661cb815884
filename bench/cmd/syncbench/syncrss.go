package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// peakSamples is how many fresh processes syncRSS and targetRSSMedian
// measure: the peak RSS of one Go process depends on where the
// collector's cycles fall, so one sample can be far off.
const peakSamples = 3

// syncRSS measures the peak RSS growth of one full sync into an empty
// MemoryTarget, each in a fresh process (this command again, with
// -sync-rss-child), peakSamples times; it returns the samples sorted.
func syncRSS() ([]int64, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var out []int64
	for range peakSamples {
		b, err := exec.Command(self, append(os.Args[1:], "-sync-rss-child")...).Output()
		if err != nil {
			return nil, fmt.Errorf("sync alone: %w", err)
		}
		var rss int64
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "sync_rss=%d", &rss); err != nil {
			return nil, fmt.Errorf("sync alone: %q: %w", b, err)
		}
		out = append(out, rss)
	}
	slices.Sort(out)
	return out, nil
}

// syncOnce is the child of syncRSS: one full sync, its peak RSS growth
// (VmHWM after, minus before) printed.
func syncOnce(ctx context.Context, cfg ldapsync.Config) error {
	runtime.GC()
	rss0 := hwm()
	s, err := ldapsync.NewSyncer(cfg, ldapsync.NewMemoryTarget(), ldapsync.NewMemoryStore())
	if err != nil {
		return err
	}
	rep, err := s.Run(ctx)
	if err != nil {
		return err
	}
	if rep.Mode != ldapsync.SyncFull {
		return fmt.Errorf("run was %s", rep.Mode)
	}
	fmt.Printf("sync_rss=%d\n", hwm()-rss0)
	runtime.KeepAlive(s)
	return nil
}

// median of sorted samples.
func median(sorted []int64) int64 { return sorted[len(sorted)/2] }
