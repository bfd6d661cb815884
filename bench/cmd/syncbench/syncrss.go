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
	return samples("sync alone", append(os.Args[1:], "-sync-rss-child"), func(out string, v *int64) error {
		_, err := fmt.Sscanf(out, "sync_rss=%d", v)
		return err
	})
}

// samples runs this command with args peakSamples times, each in a
// process of its own, and returns the values parse reads from their
// outputs, sorted; what names the measure in errors.
func samples(what string, args []string, parse func(out string, v *int64) error) ([]int64, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var vs []int64
	for range peakSamples {
		out, err := exec.Command(self, args...).Output()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		var v int64
		if err := parse(strings.TrimSpace(string(out)), &v); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", what, out, err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs, nil
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
