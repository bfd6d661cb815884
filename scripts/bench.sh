#!/usr/bin/env bash
# Runs every gatehouse benchmark side by side with its alternatives and
# prints one table (also written to $GATEHOUSE_BENCH_DIR/table.txt).
#
#   scripts/bench.sh          run everything
#   scripts/bench.sh stop     stop the benchmark servers (keeps loaded data)
#   scripts/bench.sh clean    stop them and remove all data
#
# Parts (GATEHOUSE_BENCH_PARTS, default "verify metadata slapd samba"):
#   verify    SAML response verification: gatehouse, gosaml2, crewjam/saml
#             (go test -bench BenchmarkVerify in bench/)
#   metadata  metadata import, Entra ID document and a 20,000-entity
#             aggregate: gatehouse and crewjam/saml (BenchmarkMetadata, and
#             bench/cmd/mdpeak for the peak RSS of a parse in a fresh process)
#   slapd     directory sync against OpenLDAP slapd (bench/cmd/syncbench)
#             and ldapsearch -E pr=1000/noprompt on the same attributes
#   samba     the same against a Samba AD domain controller
#
# The directory parts use servers of their own, separate from the test
# servers of scripts/slapd.sh and scripts/samba-ad.sh: slapd on
# 127.0.0.1:$GATEHOUSE_BENCH_SLAPD_PORT (3891) and a Samba DC bound to
# $GATEHOUSE_BENCH_SAMBA_IP (127.0.0.9). Each directory holds the largest
# size of GATEHOUSE_BENCH_SIZES (default "10000 100000"; Samba:
# GATEHOUSE_BENCH_SAMBA_SIZES, default the same) generated users under
# OU=All, the first 10,000 of them under OU=Users10k inside it; every
# 100 users form a group. The data is loaded once (slapadd for slapd,
# ldapadd for Samba: about 15 minutes for 100,000 users) and kept in
# $GATEHOUSE_BENCH_DIR between runs; the servers are stopped at the end.
# The Samba DC is provisioned with the mdb backend: with the default tdb
# backend loading slows to a crawl past about 20,000 users.
#
# GATEHOUSE_BENCH_TIME (2s) and GATEHOUSE_BENCH_COUNT (6) set -benchtime and
# -count of the Go benchmarks; the table shows the median of the runs, and
# benchstat (golang.org/x/perf, $BENCHSTAT_VERSION, run with go run) sets
# the implementations side by side with the spread of the runs, in
# $GATEHOUSE_BENCH_DIR/verify.benchstat.txt and metadata.benchstat.txt.
#
# GATEHOUSE_BENCH_SYNC_FLAGS adds flags to every syncbench run, for example
# "-cpuprofile /tmp/cpu.out" (the full syncs) or "-incr-cpuprofile
# /tmp/incr.out" (the incremental run); see bench/cmd/syncbench. With
# several sizes the last run's profile is kept.
#
# Needs root, Go, and the Debian packages slapd, ldap-utils and samba.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${GATEHOUSE_BENCH_DIR:-/tmp/gatehouse-bench}
PARTS=${GATEHOUSE_BENCH_PARTS:-verify metadata slapd samba}
SIZES=${GATEHOUSE_BENCH_SIZES:-10000 100000}
SAMBA_SIZES=${GATEHOUSE_BENCH_SAMBA_SIZES:-$SIZES}
BENCHTIME=${GATEHOUSE_BENCH_TIME:-2s}
COUNT=${GATEHOUSE_BENCH_COUNT:-6}
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
SLAPD_PORT=${GATEHOUSE_BENCH_SLAPD_PORT:-3891}
SAMBA_IP=${GATEHOUSE_BENCH_SAMBA_IP:-127.0.0.9}
WAIT_SECONDS=60

SLAPD_DIR=$OUT/slapd
SLAPD_SUFFIX=dc=bench,dc=test
SLAPD_BINDDN="cn=admin,$SLAPD_SUFFIX"
SLAPD_PASS='Gatehouse-Bench-2026x'

SAMBA_DIR=$OUT/samba
SAMBA_REALM=BENCH.EXAMPLE.TEST
SAMBA_DNS=bench.example.test
SAMBA_BASE=DC=bench,DC=example,DC=test
SAMBA_BINDDN="CN=Administrator,CN=Users,$SAMBA_BASE"
SAMBA_PASS='Gatehouse-Bench-2026x'

TABLE=$OUT/table.tsv

die() {
	echo "bench: $*" >&2
	exit 1
}
log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
max() { tr ' ' '\n' <<<"$1" | sort -n | tail -1; }

# loaded DIR N: DIR holds a directory loaded with at least N users (the
# first 10,000 are always in their own OU, so a larger load serves both).
loaded() {
	local f
	for f in "$1"/loaded-*; do
		[ -f "$f" ] && [ "${f##*/loaded-}" -ge "$2" ] && return 0
	done
	return 1
}

# row AREA CASE IMPLEMENTATION TIME MEMORY NOTE TARGET
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TABLE"; }

# benchstat NAME: benchstat of $OUT/NAME.txt with one column per
# implementation (the first, gatehouse, is the base of the comparisons),
# written to $OUT/NAME.benchstat.txt and shown. Without benchstat (no
# network for go run, say) the table alone is made.
benchstat_of() {
	local in=$OUT/$1.txt out=$OUT/$1.benchstat.txt
	if (cd "$REPO/bench" && go run "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" -col /impl "$in") >"$out" 2>"$out.err"; then
		cat "$out" >&2
	else
		log "benchstat did not run ($(tail -1 "$out.err")); the table has the medians"
	fi
}

build() {
	mkdir -p "$OUT/bin"
	(cd "$REPO/bench" && go build -o "$OUT/bin/" ./cmd/syncbench ./cmd/mdpeak)
}

# ---------------------------------------------------------------- verify

part_verify() {
	log "BenchmarkVerify (benchtime $BENCHTIME, count $COUNT, -cpu 1)"
	(cd "$REPO/bench" && go test -run '^$' -bench 'BenchmarkVerify' -benchmem -cpu 1 \
		-benchtime "$BENCHTIME" -count "$COUNT" .) | tee "$OUT/verify.txt" >&2
	benchstat_of verify
	# Median of the runs of each case.
	awk '$1 ~ /^BenchmarkVerify\// {
		split($1, p, "/"); sub(/-[0-9]+$/, "", p[4]); for (j = 2; j <= 4; j++) sub(/^[^=]*=/, "", p[j])
		key = p[2] "\t" p[3] "\t" p[4]
		for (i = 2; i <= NF; i++) {
			if ($i == "ns/op") ns[key] = ns[key] " " $(i-1)
			if ($i == "cpu-ns/op") cpu[key] = cpu[key] " " $(i-1)
			if ($i == "B/op") by[key] = by[key] " " $(i-1)
			if ($i == "allocs/op") al[key] = al[key] " " $(i-1)
		}
		if (!(key in seen)) { seen[key] = 1; order[++n] = key }
	}
	function median(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((k + 1) / 2)]
	}
	END {
		for (i = 1; i <= n; i++) {
			split(order[i], k, "\t")
			m = median(ns[order[i]]); c = median(cpu[order[i]]); b = median(by[order[i]]); a = median(al[order[i]])
			target = "-"
			if (k[3] == "gatehouse") target = "<= 0.5 ms" ((c <= 500000) ? " (met, CPU)" : " (missed, CPU)") "; <= 150 KB" ((b <= 150000) ? " (met)" : " (missed)")
			printf "verify\t%s %s\t%s\t%.3f ms CPU, %.3f ms wall\t%.1f KB/op\t%d allocs/op, %.0f verifications/s per core\t%s\n",
				k[1], k[2], k[3], c / 1e6, m / 1e6, b / 1000, a, 1e9 / c, target
		}
	}' "$OUT/verify.txt" >>"$TABLE"
}

# -------------------------------------------------------------- metadata

part_metadata() {
	log "BenchmarkMetadata (count $COUNT)"
	(cd "$REPO/bench" && go test -run '^$' -bench 'BenchmarkMetadata' -benchmem -cpu 1 -count "$COUNT" .) |
		tee "$OUT/metadata.txt" >&2
	benchstat_of metadata
	local agg=$OUT/aggregate-20000.xml entity=https://idp13333.example.edu/idp/shibboleth
	[ -f "$agg" ] || "$OUT/bin/mdpeak" -gen 20000 -out "$agg"
	: >"$OUT/mdpeak.txt"
	local p f
	for p in gatehouse crewjam; do
		for f in entra-id aggregate-20000; do
			if [ "$f" = entra-id ]; then
				"$OUT/bin/mdpeak" -parser "$p" -file "$REPO/saml/testdata/metadata/entra-id.xml"
			else
				"$OUT/bin/mdpeak" -parser "$p" -file "$agg" -entity "$entity"
			fi | sed "s/^/doc=$f /" >>"$OUT/mdpeak.txt"
		done
	done
	cat "$OUT/mdpeak.txt" >&2
	awk 'FNR == NR {
		if ($1 !~ /^doc=/) next
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		# The peak RSS of a fresh process moves by whole spans and arenas of
		# the runtime: under a MiB it says little of the parse.
		if (v["rss_growth"] < 1048576)
			rss[v["doc"] "\t" v["parser"]] = sprintf("RSS +%d KiB (too small a file for RSS to resolve)", v["rss_growth"] / 1024)
		else
			rss[v["doc"] "\t" v["parser"]] = sprintf("RSS +%.1f MiB (%.2fx file)", v["rss_growth"] / 1048576, v["growth_per_file"])
		next
	}
	$1 ~ /^BenchmarkMetadata\// {
		split($1, p, "/"); sub(/-[0-9]+$/, "", p[4]); for (j = 2; j <= 4; j++) sub(/^[^=]*=/, "", p[j])
		key = p[2] "\t" p[4]; size[p[2]] = p[3]
		for (i = 2; i <= NF; i++) {
			if ($i == "ns/op") ns[key] = ns[key] " " $(i-1)
			if ($i == "cpu-ns/op") cpu[key] = cpu[key] " " $(i-1)
			if ($i == "peak-heap/file") pf[key] = pf[key] " " $(i-1)
			if ($i == "peak-heap-MiB") pm[key] = pm[key] " " $(i-1)
			if ($i == "B/op") by[key] = by[key] " " $(i-1)
		}
		if (!(key in seen)) { seen[key] = 1; order[++n] = key }
	}
	function median(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((k + 1) / 2)]
	}
	END {
		for (i = 1; i <= n; i++) {
			split(order[i], k, "\t")
			m = median(ns[order[i]]); c = median(cpu[order[i]])
			t = (m >= 1e8) ? sprintf("%.0f ms CPU, %.0f ms wall", c / 1e6, m / 1e6) : sprintf("%.3f ms CPU, %.3f ms wall", c / 1e6, m / 1e6)
			target = "-"
			f = median(pf[order[i]])
			if (k[2] == "gatehouse") target = "peak < 4x file" ((f < 4) ? " (met)" : " (missed)")
			printf "metadata\t%s %s\t%s\t%s\tpeak heap %.2f MiB (%.2fx file)\t%s; allocated %.1f MB/op\t%s\n",
				k[1], size[k[1]], k[2], t, median(pm[order[i]]), f, rss[order[i]], median(by[order[i]]) / 1e6, target
		}
	}' "$OUT/mdpeak.txt" "$OUT/metadata.txt" >>"$TABLE"
}

# ------------------------------------------------------- directory sync

# proc_cpu PID: the CPU time (user+system, all threads) process PID has
# used so far, in clock ticks (/proc/PID/stat fields 14 and 15, counted
# after the parenthesised command name); 0 when PID is empty.
proc_cpu() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# ldapsearch_time PID URL BINDDN PASS BASE FILTER ATTRS...: best of three
# paged reads of everything in scope, output discarded; prints seconds,
# the number of entries, and, of the best read, the server's CPU seconds
# (PID being the server's process; 0 when unknown) and ldapsearch's own.
ldapsearch_time() {
	local pid=$1 url=$2 dn=$3 pw=$4 base=$5 filter=$6 t0 best="" n i s c0 c1 scpu=0 ccpu=0 tf
	shift 6
	tf=$(mktemp)
	for i in 1 2 3; do
		c0=$(proc_cpu "$pid")
		t0=$(now)
		# time's report goes to $tf, ldapsearch's own errors to stderr.
		n=$( (TIMEFORMAT='%U %S'; time ldapsearch -x -LLL -o ldif-wrap=no -o nettimeout=600 -H "$url" -D "$dn" -w "$pw" -b "$base" \
			-E pr=1000/noprompt "$filter" "$@" 2>&4) 4>&2 2>"$tf" | grep -c '^dn:' || true)
		s=$(since "$t0")
		c1=$(proc_cpu "$pid")
		if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$s
			scpu=$(awk -v a="$c0" -v b="$c1" -v p="$pid" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
				'BEGIN { printf "%.2f", (p == "") ? -1 : (b - a) / hz }')
			ccpu=$(awk '{ printf "%.2f", $1 + $2 }' "$tf")
		fi
	done
	rm -f "$tf"
	echo "$best $n $scpu $ccpu"
}

# sync_rows SERVER SIZE URL BINDDN PASS ROOT FILTER KIND HOST PORT PIDFILE
sync_rows() {
	local server=$1 size=$2 url=$3 dn=$4 pw=$5 root=$6 filter=$7 kind=$8 host=$9 port=${10} pidfile=${11}
	local attrs ls lsec lents lscpu lccpu line pid=""
	[ -f "$pidfile" ] && pid=$(cat "$pidfile")
	read -r -a attrs <<<"$("$OUT/bin/syncbench" -print-attrs "$kind")"
	log "$server $size: ldapsearch baseline"
	ls=$(ldapsearch_time "$pid" "$url" "$dn" "$pw" "$root" "$filter" "${attrs[@]}")
	read -r lsec lents lscpu lccpu <<<"$ls"
	log "$server $size: ldapsearch ${lsec}s for $lents entries; syncbench"
	# shellcheck disable=SC2086 # flags are words
	line=$(SYNCBENCH_PASSWORD="$pw" "$OUT/bin/syncbench" -host "$host" -port "$port" -binddn "$dn" \
		-root "$root" -expect "$size" -label "$server-$size" -server-pid "${pid:-0}" ${GATEHOUSE_BENCH_SYNC_FLAGS:-})
	echo "$line ldapsearch_s=$lsec ldapsearch_entries=$lents ldapsearch_server_cpu_s=$lscpu ldapsearch_cpu_s=$lccpu" | tee -a "$OUT/sync.txt" >&2
	awk -v line="$line" -v lsec="$lsec" -v lents="$lents" -v lscpu="$lscpu" -v lccpu="$lccpu" -v cores="$(nproc)" -v server="$server" -v size="$size" '
	function secs(ms) { return (ms < 0) ? "not measured" : sprintf("%.2f s", ms / 1000) }
	BEGIN {
		k = split(line, f, " ")
		for (i = 1; i <= k; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
		full = v["full_ms"] / 1000; incr = v["incr_ms"] / 1000
		ratio = full / lsec
		c = server " " size " users"
		printf "sync\t%s\tldapsearch -E pr=1000\t%.2f s wall, %.2f s client CPU\t-\t%d entries; server CPU %.2f s\t-\n", c, lsec, lccpu, lents, lscpu
		printf "sync\t%s\tgo-ldap paged search only\t%.2f s\t-\t%d entries\t-\n", c, v["raw_ms"] / 1000, v["raw_entries"]
		printf "sync\t%s\tgatehouse full\t%.2f s wall, %.2f s client CPU\tpeak RSS growth %.0f MiB (median of 3 processes): %.0f B/user over the target'"'"'s own peak RSS (%.0f MiB), %.0f to %.0f over the 3; over its live storage: RSS %.0f, heap peak %.0f, retained %.0f\t%d objects, %.2fx ldapsearch, %.2fx go-ldap; read %.2f s (client CPU %.2f s, server CPU %s), plan %.2f s, apply and save %.2f s; target storage %.0f B/user live\t<= 1.3x ldapsearch%s; < 1 KiB/user%s\n",
			c, full, v["full_cpu_ms"] / 1000, v["sync_rss"] / 1048576, v["over_target_rss_per_user"], v["target_rss"] / 1048576,
			v["over_target_rss_min"], v["over_target_rss_max"],
			v["over_rss_per_user"], v["over_heap_per_user"], v["over_retained_per_user"],
			v["objects"], ratio, v["full_ms"] / v["raw_ms"], v["read_ms"] / 1000, v["read_cpu_ms"] / 1000, secs(v["server_read_cpu_ms"]),
			v["plan_ms"] / 1000, v["apply_ms"] / 1000, v["target_bytes"] / v["objects"],
			(ratio <= 1.3) ? " (met)" : " (missed)", (v["over_target_rss_per_user"] < 1024) ? " (met)" : " (missed)"
		# The CPU both processes used, spread over every core: no schedule
		# of that work ends sooner, however it overlaps.
		if (v["server_cpu_ms"] >= 0 && lscpu >= 0) {
			gcpu = (v["full_cpu_ms"] + v["server_cpu_ms"]) / 1000; lcpu = lccpu + lscpu
			printf "sync\t%s\tCPU of both processes, over %d cores\t-\t-\tgatehouse full: client %.2f s + server %.2f s = %.2f s, so no less than %.2f s wall however it overlaps (%.2fx ldapsearch); ldapsearch: client %.2f s + server %.2f s = %.2f s, no less than %.2f s\t-\n",
				c, cores, v["full_cpu_ms"] / 1000, v["server_cpu_ms"] / 1000, gcpu, gcpu / cores, gcpu / cores / lsec, lccpu, lscpu, lcpu, lcpu / cores
		}
		t = "-"
		if (size + 0 >= 100000) t = ">= 20x faster than full" ((v["full_over_incr"] >= 20) ? " (met)" : " (missed)")
		printf "sync\t%s\tgatehouse incremental, 10 changes\t%.3f s wall, %.3f s client CPU\t-\t%.1fx faster than full; ID enumeration alone (go-ldap) %.2f s\t%s\n",
			c, incr, v["incr_cpu_ms"] / 1000, v["full_over_incr"], v["enum_ms"] / 1000, t
	}' >>"$TABLE"
}

# sync_growth SERVER: the memory each added user costs, from the rows of
# the sizes just measured (the largest against the smallest): what the
# fixed costs of a process and a run do not blur.
sync_growth() {
	local server=$1
	awk -v server="$server" '
		{ delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		  if (v["label"] !~ "^" server "-") next
		  n = v["objects"]; over[n] = v["sync_rss"] - v["target_rss"]; ret[n] = v["retained"] - v["target_bytes"] }
		END {
			lo = hi = ""
			for (n in over) { if (lo == "" || n + 0 < lo + 0) lo = n; if (hi == "" || n + 0 > hi + 0) hi = n }
			if (lo == hi) exit
			d = hi - lo; g = (over[hi] - over[lo]) / d
			printf "sync\t%s %d to %d users\tgatehouse full, per added object\t-\t%.0f B peak RSS over the target'"'"'s own, %.0f B retained\tmemory linear in users: from one size to the other\t< 1 KiB/user%s\n",
				server, lo - lo % 10000, hi - hi % 10000, g, (ret[hi] - ret[lo]) / d, (g < 1024) ? " (met)" : " (missed)"
		}' "$OUT/sync.txt" >>"$TABLE"
}

slapd_bin() {
	local c
	for c in slapd /usr/sbin/slapd; do command -v "$c" >/dev/null 2>&1 && command -v "$c" && return 0; done
	return 1
}

# stop_pidfile FILE: stop the process FILE names (TERM, then KILL after
# 10 s) and remove FILE.
stop_pidfile() {
	local pid i
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	if kill "$pid" 2>/dev/null; then
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

slapd_stop() { stop_pidfile "$SLAPD_DIR/slapd.pid"; }

# slapd_ldif N: suffix, OU=All, the first 10,000 users in ou=users10k, the
# rest in ou=more; a groupOfNames per 100 users next to them. Entries get
# createTimestamp/modifyTimestamp one second apart from 2025-01-01, as in
# a directory that grew over time (slapadd would otherwise stamp them all
# with the same second).
slapd_ldif() {
	awk -v n="$1" -v s="$SLAPD_SUFFIX" '
	function ts(i) { return sprintf("202501%02d%02d%02d%02dZ", 1 + int(i / 86400), int(i % 86400 / 3600), int(i % 3600 / 60), i % 60) }
	BEGIN {
		printf "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: bench\n\n", s
		printf "dn: ou=all,%s\nobjectClass: organizationalUnit\nou: all\n\n", s
		printf "dn: ou=users10k,ou=all,%s\nobjectClass: organizationalUnit\nou: users10k\n\n", s
		printf "dn: ou=more,ou=all,%s\nobjectClass: organizationalUnit\nou: more\n\n", s
		for (i = 1; i <= n; i++) {
			ou = (i <= 10000) ? "users10k" : "more"
			printf "dn: uid=user%06d,ou=%s,ou=all,%s\nobjectClass: inetOrgPerson\nuid: user%06d\ncn: User %06d\nsn: %06d\ngivenName: User\ndisplayName: User %06d\nmail: user%06d@bench.example.test\ntitle: Engineer\ntelephoneNumber: +1 555 %07d\ncreateTimestamp: %s\nmodifyTimestamp: %s\n\n", i, ou, s, i, i, i, i, i, i, ts(i), ts(i)
			if (i % 100 == 0) {
				printf "dn: cn=group%05d,ou=%s,ou=all,%s\nobjectClass: groupOfNames\ncn: group%05d\n", i / 100, ou, s, i / 100
				for (j = i - 99; j <= i; j++) printf "member: uid=user%06d,ou=%s,ou=all,%s\n", j, ou, s
				printf "createTimestamp: %s\nmodifyTimestamp: %s\n\n", ts(i), ts(i)
			}
		}
	}'
}

slapd_start() {
	local slapd n modpath hash deadline t0
	slapd=$(slapd_bin) || die "slapd not found; install with: apt-get install -y slapd ldap-utils"
	n=$(max "$SIZES")
	modpath=/usr/lib/ldap
	[ -e "$modpath/back_mdb.so" ] || modpath=$(dirname "$(find /usr/lib -name 'back_mdb.so' -print -quit 2>/dev/null)")
	slapd_stop
	if ! loaded "$SLAPD_DIR" "$n"; then
		rm -rf "$SLAPD_DIR"
		mkdir -p "$SLAPD_DIR/db"
		chmod 700 "$SLAPD_DIR"
		hash=$(slappasswd -s "$SLAPD_PASS" 2>/dev/null || /usr/sbin/slappasswd -s "$SLAPD_PASS")
		cat >"$SLAPD_DIR/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath $modpath
moduleload back_mdb
moduleload syncprov
pidfile $SLAPD_DIR/slapd.pid
argsfile $SLAPD_DIR/slapd.args
sizelimit 5000
threads 4

database mdb
suffix "$SLAPD_SUFFIX"
rootdn "$SLAPD_BINDDN"
rootpw $hash
directory $SLAPD_DIR/db
maxsize 8589934592
dbnosync
index objectClass eq
index entryUUID,entryCSN eq
index modifyTimestamp eq
index mail eq
overlay syncprov
syncprov-checkpoint 100 10
syncprov-sessionlog 1000
EOF
		chmod 600 "$SLAPD_DIR/slapd.conf"
		slapd_ldif "$n" >"$SLAPD_DIR/data.ldif"
		t0=$(now)
		"${slapd%slapd}slapadd" -q -f "$SLAPD_DIR/slapd.conf" -l "$SLAPD_DIR/data.ldif" >"$SLAPD_DIR/load.log" 2>&1 ||
			"$slapd" -Ta -q -f "$SLAPD_DIR/slapd.conf" -l "$SLAPD_DIR/data.ldif" >"$SLAPD_DIR/load.log" 2>&1 ||
			{
				tail -5 "$SLAPD_DIR/load.log" >&2
				die "slapadd failed; see $SLAPD_DIR/load.log"
			}
		log "slapd: loaded $(grep -c '^dn: ' "$SLAPD_DIR/data.ldif") entries with slapadd -q in $(since "$t0")s"
		echo "slapadd $(since "$t0")" >"$SLAPD_DIR/loaded-$n"
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$SLAPD_PORT") 2>/dev/null; then
		die "something already listens on 127.0.0.1:$SLAPD_PORT; set GATEHOUSE_BENCH_SLAPD_PORT"
	fi
	"$slapd" -f "$SLAPD_DIR/slapd.conf" -h "ldap://127.0.0.1:$SLAPD_PORT/" >"$SLAPD_DIR/slapd.out" 2>&1 ||
		die "slapd failed to start; see $SLAPD_DIR/slapd.out"
	deadline=$((SECONDS + WAIT_SECONDS))
	until ldapsearch -x -LLL -o nettimeout=2 -H "ldap://127.0.0.1:$SLAPD_PORT" -b '' -s base namingContexts >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || die "slapd did not answer on 127.0.0.1:$SLAPD_PORT"
		sleep 0.1
	done
}

part_slapd() {
	slapd_start
	trap slapd_stop EXIT
	local size root
	for size in $SIZES; do
		case "$size" in
		10000) root="ou=users10k,ou=all,$SLAPD_SUFFIX" ;;
		"$(max "$SIZES")") root="ou=all,$SLAPD_SUFFIX" ;;
		*) die "sizes are 10000 and the largest" ;;
		esac
		sync_rows slapd "$size" "ldap://127.0.0.1:$SLAPD_PORT" "$SLAPD_BINDDN" "$SLAPD_PASS" "$root" \
			"(|(objectClass=inetOrgPerson)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))" ldap 127.0.0.1 "$SLAPD_PORT" "$SLAPD_DIR/slapd.pid"
	done
	sync_growth slapd
	slapd_stop
	trap - EXIT
}

samba_stop() { stop_pidfile "$SAMBA_DIR/samba.pid"; }

samba_up() {
	ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "ldap://$SAMBA_IP" -b '' -s base dsServiceName >/dev/null 2>&1
}

samba_ldif() {
	awk -v n="$1" -v b="$SAMBA_BASE" -v dom="$SAMBA_DNS" 'BEGIN {
		printf "dn: OU=All,%s\nobjectClass: organizationalUnit\n\n", b
		printf "dn: OU=Users10k,OU=All,%s\nobjectClass: organizationalUnit\n\n", b
		printf "dn: OU=More,OU=All,%s\nobjectClass: organizationalUnit\n\n", b
		for (i = 1; i <= n; i++) {
			ou = (i <= 10000) ? "Users10k" : "More"
			u = sprintf("user%06d", i)
			printf "dn: CN=%s,OU=%s,OU=All,%s\nobjectClass: user\nsAMAccountName: %s\nuserPrincipalName: %s@%s\ngivenName: User\nsn: %06d\ndisplayName: User %06d\nmail: %s@%s\ntitle: Engineer\ndepartment: Department %02d\nuserAccountControl: 544\n\n", u, ou, b, u, u, dom, i, i, u, dom, i % 50
			if (i % 100 == 0) {
				g = sprintf("group%05d", i / 100)
				printf "dn: CN=%s,OU=%s,OU=All,%s\nobjectClass: group\nsAMAccountName: %s\nmail: %s@%s\n", g, ou, b, g, g, dom
				for (j = i - 99; j <= i; j++) printf "member: CN=user%06d,OU=%s,OU=All,%s\n", j, ou, b
				printf "\n"
			}
		}
	}'
}

samba_start() {
	command -v samba >/dev/null 2>&1 && command -v samba-tool >/dev/null 2>&1 ||
		die "samba not found; install with: apt-get install -y samba ldap-utils"
	local n t0 conf deadline
	n=$(max "$SAMBA_SIZES")
	samba_stop
	if samba_up; then die "something already answers LDAP on $SAMBA_IP; set GATEHOUSE_BENCH_SAMBA_IP"; fi
	conf=$SAMBA_DIR/etc/smb.conf
	if ! loaded "$SAMBA_DIR" "$n"; then
		rm -rf "$SAMBA_DIR"
		mkdir -p "$OUT"
		t0=$(now)
		samba-tool domain provision --realm="$SAMBA_REALM" --domain=BENCH --server-role=dc \
			--dns-backend=NONE --backend-store=mdb --adminpass="$SAMBA_PASS" --targetdir="$SAMBA_DIR" --host-name=ghbench \
			--host-ip="$SAMBA_IP" --option="interfaces = $SAMBA_IP/8" --option="bind interfaces only = yes" \
			>"$OUT/samba-provision.log" 2>&1 || {
			tail -20 "$OUT/samba-provision.log" >&2
			die "samba-tool domain provision failed"
		}
		sed -i -e "s#^\([[:space:]]*\)server services = .*#\1server services = ldap#" \
			-e "s#^\([[:space:]]*\)log file = .*#\1log file = $SAMBA_DIR/log.%m#" "$conf"
		sed -i "s#^\[global\]#[global]\n\tldap server require strong auth = no\n\tpid directory = $SAMBA_DIR\n\tldb:nosync = true#" "$conf"
		log "samba: provisioned in $(since "$t0")s"
	fi
	setsid samba -s "$conf" -F --debug-stdout -M single </dev/null >"$SAMBA_DIR/samba.out" 2>&1 &
	deadline=$((SECONDS + WAIT_SECONDS))
	until samba_up; do
		[ $SECONDS -lt $deadline ] || die "samba did not answer LDAP on $SAMBA_IP; see $SAMBA_DIR/samba.out"
		sleep 0.2
	done
	if ! loaded "$SAMBA_DIR" "$n"; then
		samba_ldif "$n" >"$SAMBA_DIR/data.ldif"
		log "samba: loading $(grep -c '^dn: ' "$SAMBA_DIR/data.ldif") entries with ldapadd (minutes)"
		t0=$(now)
		ldapadd -x -c -H "ldap://$SAMBA_IP" -D "$SAMBA_BINDDN" -w "$SAMBA_PASS" -f "$SAMBA_DIR/data.ldif" \
			>"$SAMBA_DIR/load.log" 2>&1 || {
			tail -5 "$SAMBA_DIR/load.log" >&2
			die "ldapadd into samba failed; see $SAMBA_DIR/load.log"
		}
		log "samba: loaded in $(since "$t0")s"
		echo "ldapadd $(since "$t0")" >"$SAMBA_DIR/loaded-$n"
	fi
}

part_samba() {
	samba_start
	trap samba_stop EXIT
	local size root
	for size in $SAMBA_SIZES; do
		case "$size" in
		10000) root="OU=Users10k,OU=All,$SAMBA_BASE" ;;
		"$(max "$SAMBA_SIZES")") root="OU=All,$SAMBA_BASE" ;;
		*) die "sizes are 10000 and the largest" ;;
		esac
		sync_rows samba "$size" "ldap://$SAMBA_IP" "$SAMBA_BINDDN" "$SAMBA_PASS" "$root" \
			"(|(&(objectClass=user)(objectCategory=person))(objectClass=group))" ad "$SAMBA_IP" 389 "$SAMBA_DIR/samba.pid"
	done
	sync_growth samba
	samba_stop
	trap - EXIT
}

# ----------------------------------------------------------------- main

print_table() {
	{
		printf 'AREA\tCASE\tIMPLEMENTATION\tTIME\tMEMORY\tNOTES\tTARGET\n'
		cat "$TABLE"
	} | column -t -s "$(printf '\t')" | tee "$OUT/table.txt"
}

main() {
	[ "$(id -u)" = 0 ] || case " $PARTS " in *" slapd "* | *" samba "*) die "the directory parts need root" ;; esac
	mkdir -p "$OUT"
	: >"$TABLE"
	: >"$OUT/sync.txt"
	{
		echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "nproc: $(nproc)"
		echo "cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p')"
		echo "memory: $(free -m | awk '/^Mem:/ { print $2 " MiB" }')"
		echo "go: $(go version)"
		echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	} | tee "$OUT/machine.txt" >&2
	build
	local p
	for p in $PARTS; do
		case "$p" in
		verify) part_verify ;;
		metadata) part_metadata ;;
		slapd) part_slapd ;;
		samba) part_samba ;;
		*) die "unknown part $p" ;;
		esac
	done
	echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt" >&2
	cat "$OUT/machine.txt"
	print_table
}

# The dispatch is one brace group ending in exit, so that bash has read all
# of it before running it.
{
	case "${1:-}" in
	"") main ;;
	stop)
		slapd_stop
		samba_stop
		;;
	clean)
		slapd_stop
		samba_stop
		case "$OUT" in / | "") die "refusing to remove '$OUT'" ;; esac
		rm -rf "$OUT"
		;;
	*)
		echo "usage: $0 [stop|clean]" >&2
		exit 2
		;;
	esac
	exit 0
}
