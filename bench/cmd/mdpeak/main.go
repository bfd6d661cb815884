// Command mdpeak parses one metadata document once in a fresh process and
// prints the process' peak resident set size (getrusage ru_maxrss) before
// and after the parse, so that the growth can be compared with the file
// size. With -gen N it writes a federation aggregate of N entities instead.
//
//	mdpeak -gen 20000 -out agg.xml
//	mdpeak -parser gatehouse -file agg.xml -entity https://idp13333.example.edu/idp/shibboleth
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/gatehouse-id/gatehouse/bench"
	"github.com/gatehouse-id/gatehouse/saml"
)

func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}

func main() {
	parser := flag.String("parser", "gatehouse", "gatehouse or crewjam")
	file := flag.String("file", "", "metadata document")
	entity := flag.String("entity", "", "entity ID to pick from an aggregate")
	gen := flag.Int("gen", 0, "write an aggregate of this many entities to -out and exit")
	out := flag.String("out", "", "output of -gen")
	flag.Parse()
	if err := run(*parser, *file, *entity, *gen, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mdpeak:", err)
		os.Exit(1)
	}
}

func run(parser, file, entity string, gen int, out string) error {
	if gen > 0 {
		data, err := bench.Aggregate(gen)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	runtime.GC()
	before := maxRSS()
	start := time.Now()
	var got string
	switch parser {
	case "gatehouse":
		opts := []saml.MetadataOption{saml.WithMaxBytes(256 << 20), saml.WithMaxTokens(64 << 20)}
		if entity != "" {
			opts = append(opts, saml.WithEntityID(entity))
		}
		md, perr := saml.ParseMetadata(data, opts...)
		if perr != nil {
			return perr
		}
		got = md.EntityID
	case "crewjam":
		got, err = bench.CrewjamPick(data, entity)
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown parser %q", parser)
	}
	took := time.Since(start)
	after := maxRSS()
	if entity != "" && got != entity {
		return fmt.Errorf("picked %q, want %q", got, entity)
	}
	runtime.KeepAlive(data)
	fmt.Printf("parser=%s file_bytes=%d parse_ms=%.1f rss_before=%d rss_peak=%d rss_growth=%d growth_per_file=%.2f\n",
		parser, len(data), float64(took.Microseconds())/1000, before, after, after-before,
		float64(after-before)/float64(len(data)))
	return nil
}
