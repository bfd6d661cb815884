#!/usr/bin/env bash
# Runs every check and test of the project: formatting, vet, and the tests
# with the race detector. Real directory servers are started when available.
#
# Integration tests (ldapsync/*_integration_test.go) run against a Samba AD
# DC (scripts/samba-ad.sh) and OpenLDAP slapd (scripts/slapd.sh). They are
# started when this runs as root with the packages installed, or always when
# CI=true (then a failure to start them fails the run). Set
# GATEHOUSE_INTEGRATION=0 to skip them; without the servers those tests skip
# with a message saying how to run them.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
if command -v staticcheck >/dev/null 2>&1; then
	staticcheck ./...
elif [ "${CI:-}" = true ]; then
	echo "staticcheck is not installed (.ci/run installs it)"; exit 1
else
	echo "staticcheck not installed: skipped (go install honnef.co/go/tools/cmd/staticcheck@v0.8.2)"
fi

echo "== go vet in bench/ (benchmarks compile; the root module's compile with go vet above)"
(cd bench && go vet ./...)

servers=no
want_servers() {
	[ "${GATEHOUSE_INTEGRATION:-}" = 0 ] && return 1
	[ "${CI:-}" = true ] && return 0
	[ "$(id -u)" = 0 ] || return 1
	command -v samba-tool >/dev/null 2>&1 && command -v ldapadd >/dev/null 2>&1 &&
		{ command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; }
}
# Servers that were already running (started by hand with the scripts) are
# reused and left running; the ones started here are stopped on exit.
stop_samba=yes stop_slapd=yes
stop_servers() {
	[ "$stop_samba" = no ] || ./scripts/samba-ad.sh stop || true
	[ "$stop_slapd" = no ] || ./scripts/slapd.sh stop || true
}
if want_servers; then
	echo "== starting Samba AD DC and OpenLDAP slapd"
	! ./scripts/samba-ad.sh status || stop_samba=no
	! ./scripts/slapd.sh status || stop_slapd=no
	trap stop_servers EXIT
	samba_env=$(./scripts/samba-ad.sh start)
	slapd_env=$(./scripts/slapd.sh start)
	eval "$samba_env"
	eval "$slapd_env"
	servers=yes
fi

echo "== go test -race"
log=$(mktemp)
trap 'rm -f "$log"; [ "$servers" = no ] || stop_servers' EXIT
# -v so the integration tests can be counted; the listing keeps the short
# form of a plain "go test": package lines, and failures with their output.
status=0
go test -race -count=1 -v ./... >"$log" 2>&1 || status=$?
awk '
function tname(line) { sub(/^[[:space:]]*(=== [A-Z]+|--- [A-Z]+:)[[:space:]]+/, "", line); sub(/ \(.*$/, "", line); return line }
/^=== (RUN|CONT|NAME|PAUSE)/ { cur = tname($0); after = 0; next }
/^[[:space:]]*--- (PASS|SKIP):/ { delete buf[tname($0)]; after = 0; next }
/^[[:space:]]*--- FAIL:/ { n = tname($0); printf "%s", buf[n]; delete buf[n]; print; after = 1; next }
/^(ok|\?)[[:space:]]/ || /^FAIL/ { print; cur = ""; after = 0; split("", buf); next }
/^PASS$/ { cur = ""; next }
after || cur == "" { print; next }
{ buf[cur] = buf[cur] $0 "\n" }
' "$log"

count() { grep -cE "^--- $1: Test$2" "$log" || true; }
samba_pass=$(count PASS Samba) samba_fail=$(count FAIL Samba) samba_skip=$(count SKIP Samba)
ldap_pass=$(count PASS OpenLDAP) ldap_fail=$(count FAIL OpenLDAP) ldap_skip=$(count SKIP OpenLDAP)
if [ "$servers" = yes ]; then
	echo "== integration: ran against real servers: Samba AD DC $(samba -V 2>/dev/null | awk '{print $2}') on" \
		"${GATEHOUSE_SAMBA_HOST}:${GATEHOUSE_SAMBA_PORT} ($samba_pass passed, $samba_fail failed, $samba_skip skipped)," \
		"OpenLDAP slapd on ${GATEHOUSE_SLAPD_HOST}:${GATEHOUSE_SLAPD_PORT} ($ldap_pass passed, $ldap_fail failed, $ldap_skip skipped)"
	if [ $((samba_skip + ldap_skip)) -ne 0 ] || [ $((samba_pass + ldap_pass)) -eq 0 ]; then
		echo "integration tests skipped although the servers were started"
		[ $status -ne 0 ] || status=1
	fi
else
	echo "== integration: NOT run (Samba AD DC and OpenLDAP not started: needs root and" \
		"apt-get install samba ldap-utils slapd; $((samba_skip + ldap_skip)) skipped)"
fi
exit $status
