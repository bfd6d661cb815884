package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// utime 150 and stime 25 ticks, after a command name with a space
	// and a parenthesis in it.
	stat := "4242 (sl apd) x) S 1 4242 4242 0 -1 4194560 6330 0 0 0 150 25 0 0 20 0 5 0 123 0 0\n"
	d, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if d != 1750*time.Millisecond {
		t.Fatalf("got %v, want 1.75s", d)
	}
	if _, err := parseStatCPU("4242 (slapd) S 1 2"); err == nil {
		t.Fatal("a short stat line was accepted")
	}
}

func TestProcessCPUGrows(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: not Linux")
	}
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged at least two ticks (bounded).
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for i := range 1 << 20 {
			x ^= i
		}
		if d, _ := processCPU(os.Getpid()); d-before >= 2*time.Second/clockTicks {
			return
		}
	}
	t.Fatalf("CPU time did not grow in 5s of spinning (%d)", x)
}
