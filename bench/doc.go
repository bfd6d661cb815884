// Package bench measures gatehouse side by side with the libraries its
// users would otherwise pick: SAML response verification against gosaml2
// and crewjam/saml, metadata import against crewjam/saml's metadata types,
// and directory synchronisation against ldapsearch on real OpenLDAP and
// Samba AD servers.
//
// It is a module of its own so that crewjam/saml never becomes a
// dependency of the library. Nothing here runs in the normal test run;
// scripts/bench.sh runs everything and prints one table, and
// BENCHMARKS.md records the figures.
//
// # Benchmarks
//
//	go test -run '^$' -bench . -benchmem -cpu 1 -count 6 . >bench.txt
//	benchstat -col /impl bench.txt
//
// BenchmarkVerify and BenchmarkMetadata are ordinary Go benchmarks, named
// key=value (case or doc, size, impl) so that benchstat
// (golang.org/x/perf/cmd/benchstat) sets the implementations side by
// side, gatehouse first as the base of the comparisons. The
// directory benchmarks need servers, so they are a command,
// cmd/syncbench, driven by scripts/bench.sh.
package bench
