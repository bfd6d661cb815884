package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/gatehouse-id/gatehouse/ldapsync"
)

// targetLine is one object of a target dump: a user or a group.
type targetLine struct {
	User  *ldapsync.User  `json:"user,omitempty"`
	Group *ldapsync.Group `json:"group,omitempty"`
}

// targetRSS measures the target's own storage at its peak: a fresh
// process (this command with -target-rss) fills a MemoryTarget with the
// given users and groups, read one at a time from a file, and reports its
// peak RSS growth (VmHWM), the median of peakSamples processes. This is what the same objects
// cost a process that only stores them, garbage collector headroom
// included, which the sync's own peak RSS growth is compared with.
func targetRSS(users map[string]ldapsync.User, groups map[string]ldapsync.Group) (rss, live int64, err error) {
	f, err := os.CreateTemp("", "syncbench-target-*.jsonl")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, u := range users {
		if err := enc.Encode(targetLine{User: &u}); err != nil {
			return 0, 0, err
		}
	}
	for _, g := range groups {
		if err := enc.Encode(targetLine{Group: &g}); err != nil {
			return 0, 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, 0, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, err
	}
	peaks, err := samples("target alone", []string{"-target-rss", f.Name()}, func(out string, v *int64) error {
		_, err := fmt.Sscanf(out, "target_rss=%d target_live=%d", v, &live)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return median(peaks), live, nil
}

// fillTarget is the child of targetRSS.
func fillTarget(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx := context.Background()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0, rss0 := ms.HeapAlloc, hwm()
	t := ldapsync.NewMemoryTarget()
	ids := map[string]string{} // group IDs, shared by their members' lists as in a sync
	dec := json.NewDecoder(bufio.NewReader(f))
	for dec.More() {
		var l targetLine
		if err := dec.Decode(&l); err != nil {
			return err
		}
		switch {
		case l.User != nil:
			err = t.Upsert(ctx, compact(*l.User, ids))
		case l.Group != nil:
			err = t.UpsertGroup(ctx, *l.Group)
		}
		if err != nil {
			return err
		}
	}
	rss := hwm() - rss0
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(t)
	fmt.Printf("target_rss=%d target_live=%d\n", rss, int64(ms.HeapAlloc)-int64(heap0))
	return nil
}

// compact lays u out in memory as a sync hands it to the target: its text
// in one buffer, the group IDs in its list shared with the other members.
func compact(u ldapsync.User, ids map[string]string) ldapsync.User {
	n := len(u.DN) + len(u.Email) + len(u.DisplayName)
	for _, a := range u.Aliases {
		n += len(a)
	}
	for k, vs := range u.Attributes {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	var b strings.Builder
	b.Grow(n)
	own := func(s string) string {
		start := b.Len()
		b.WriteString(s)
		return b.String()[start:]
	}
	u.DN, u.Email, u.DisplayName = own(u.DN), own(u.Email), own(u.DisplayName)
	for i := range u.Aliases {
		u.Aliases[i] = own(u.Aliases[i])
	}
	attrs := make(map[string][]string, len(u.Attributes))
	for k, vs := range u.Attributes {
		for i := range vs {
			vs[i] = own(vs[i])
		}
		attrs[own(k)] = vs
	}
	if u.Attributes != nil {
		u.Attributes = attrs
	}
	for i, g := range u.Groups {
		if id, ok := ids[g]; ok {
			u.Groups[i] = id
		} else {
			ids[g] = g
		}
	}
	return u
}

// hwm returns the process' peak resident set size from /proc/self/status
// (VmHWM): unlike getrusage's ru_maxrss, it starts afresh in a process
// made by exec.
func hwm() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return -1
}
