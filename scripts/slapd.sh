#!/usr/bin/env bash
# Starts and stops a throw-away OpenLDAP slapd for the integration tests of
# ldapsync.
#
#   scripts/slapd.sh start   write slapd.conf, start, load test data, print the env
#   scripts/slapd.sh stop    stop slapd and remove the directory
#   scripts/slapd.sh env     print the environment the tests read
#   scripts/slapd.sh status  exit 0 when slapd answers
#
# Needs the Debian packages slapd and ldap-utils (the distribution's own slapd
# service is not used; .ci/run installs the package unconfigured). Runs as
# root so it can read the system schema; listens on 127.0.0.1 only.
#
# Three back_mdb databases, each with its own rootdn (cn=admin,<suffix>):
#   dc=example,dc=org   syncprov with a session log: RFC 4533 refreshOnly
#                       reports deletes in a syncIdSet
#   dc=present,dc=test  syncprov without a session log: deletes come through
#                       the present phase
#   dc=nosync,dc=test   no syncprov: the content-sync control is refused, so a
#                       client must fall back to modifyTimestamp + entryUUID
set -euo pipefail

DIR=${GATEHOUSE_SLAPD_DIR:-/tmp/gatehouse-slapd}
PORT=${GATEHOUSE_SLAPD_PORT:-3890}
PASS='Gatehouse-Slapd-2026x'
WAIT_SECONDS=${GATEHOUSE_SLAPD_WAIT:-30}
SUFFIXES=(dc=example,dc=org dc=present,dc=test dc=nosync,dc=test)
USERS=50   # inetOrgPerson entries in ou=people of each database
GROUP_COUNT=5 # groupOfNames of 10 people each in ou=groups

die() {
	echo "slapd: $*" >&2
	exit 1
}
log() { echo "slapd: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

find_slapd() {
	local c
	for c in slapd /usr/sbin/slapd; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

need() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	SLAPD=$(find_slapd) || die "slapd not found; install with: apt-get install -y slapd ldap-utils"
	local c
	for c in ldapadd ldapsearch slappasswd; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
			die "$c not found; install with: apt-get install -y slapd ldap-utils"
	done
	[ -f /etc/ldap/schema/inetorgperson.schema ] || die "/etc/ldap/schema/inetorgperson.schema missing (package slapd)"
	MODULEPATH=/usr/lib/ldap
	[ -e "$MODULEPATH/back_mdb.so" ] || MODULEPATH=$(dirname "$(find /usr/lib -name 'back_mdb.so' -print -quit 2>/dev/null)")
	[ -e "$MODULEPATH/syncprov.so" ] || die "syncprov module not found under /usr/lib"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ldap_up() {
	ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "ldap://127.0.0.1:$PORT" -b '' -s base namingContexts >/dev/null 2>&1
}

alive() { [ -f "$DIR/slapd.pid" ] && kill -0 "$(cat "$DIR/slapd.pid")" 2>/dev/null; }

status() { [ -f "$DIR/env" ] && alive && ldap_up; }

stop() {
	local pid i
	if [ -f "$DIR/slapd.pid" ]; then
		pid=$(cat "$DIR/slapd.pid")
		if kill "$pid" 2>/dev/null; then
			for i in $(seq 1 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	case "$DIR" in
	/ | "") die "refusing to remove '$DIR'" ;;
	esac
	rm -rf "$DIR"
}

write_conf() {
	local hash s n=0 log
	hash=$(slappasswd -s "$PASS" 2>/dev/null || /usr/sbin/slappasswd -s "$PASS")
	{
		cat <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath $MODULEPATH
moduleload back_mdb
moduleload syncprov
pidfile $DIR/slapd.pid
argsfile $DIR/slapd.args
sizelimit 5000
EOF
		for s in "${SUFFIXES[@]}"; do
			n=$((n + 1))
			mkdir -p "$DIR/db$n"
			cat <<EOF

database mdb
suffix "$s"
rootdn "cn=admin,$s"
rootpw $hash
directory $DIR/db$n
maxsize 268435456
dbnosync
index objectClass eq
index entryUUID,entryCSN eq
index mail eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
EOF
			case "$s" in
			dc=example,dc=org) log="syncprov-sessionlog 1000" ;;
			dc=present,dc=test) log="" ;;
			*) continue ;;
			esac
			printf 'overlay syncprov\nsyncprov-checkpoint 100 10\n%s\n' "$log"
		done
	} >"$DIR/slapd.conf"
	chmod 600 "$DIR/slapd.conf"
}

ldif() {
	local s=$1 dc i k m
	dc=${s%%,*}
	dc=${dc#dc=}
	printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n\n' "$s" "$dc" "$dc"
	for ou in people groups; do printf 'dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n' "$ou" "$s" "$ou"; done
	for i in $(seq 1 $USERS); do
		printf 'dn: uid=user%02d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: user%02d\ncn: User %02d\nsn: %02d\n' "$i" "$s" "$i" "$i" "$i"
		printf 'givenName: User\ndisplayName: User %02d\nmail: user%02d@example.org\nuserPassword: %s\n\n' "$i" "$i" "$PASS"
	done
	for k in $(seq 1 $GROUP_COUNT); do
		printf 'dn: cn=team%d,ou=groups,%s\nobjectClass: groupOfNames\ncn: team%d\n' "$k" "$s" "$k"
		for m in $(seq $(((k - 1) * 10 + 1)) $((k * 10))); do printf 'member: uid=user%02d,ou=people,%s\n' "$m" "$s"; done
		echo
	done
}

load_data() {
	local t0 s
	t0=$(now)
	for s in "${SUFFIXES[@]}"; do
		ldif "$s" >"$DIR/data-${s%%,*}.ldif"
		if ! ldapadd -x -H "ldap://127.0.0.1:$PORT" -D "cn=admin,$s" -w "$PASS" -f "$DIR/data-${s%%,*}.ldif" \
			>>"$DIR/load.log" 2>&1; then
			tail -5 "$DIR/load.log" >&2
			die "loading test data into $s failed; see $DIR/load.log"
		fi
	done
	log "loaded $(cat "$DIR"/data-*.ldif | grep -c '^dn: ') entries over LDAP in $(since "$t0")s"
}

write_env() {
	cat >"$DIR/env.tmp" <<EOF
export GATEHOUSE_SLAPD_DIR='$DIR'
export GATEHOUSE_SLAPD_HOST='127.0.0.1'
export GATEHOUSE_SLAPD_PORT='$PORT'
export GATEHOUSE_SLAPD_BASEDN='dc=example,dc=org'
export GATEHOUSE_SLAPD_BINDDN='cn=admin,dc=example,dc=org'
export GATEHOUSE_SLAPD_PASSWORD='$PASS'
export GATEHOUSE_SLAPD_PRESENT_BASEDN='dc=present,dc=test'
export GATEHOUSE_SLAPD_PRESENT_BINDDN='cn=admin,dc=present,dc=test'
export GATEHOUSE_SLAPD_NOSYNC_BASEDN='dc=nosync,dc=test'
export GATEHOUSE_SLAPD_NOSYNC_BINDDN='cn=admin,dc=nosync,dc=test'
export GATEHOUSE_SLAPD_USERS='$USERS'
export GATEHOUSE_SLAPD_GROUPS='$GROUP_COUNT'
EOF
	mv "$DIR/env.tmp" "$DIR/env"
}

start() {
	need
	if status; then
		log "already running (from $DIR)"
		cat "$DIR/env"
		return 0
	fi
	stop
	if listening "$PORT"; then
		die "something already listens on 127.0.0.1:$PORT; stop it or set GATEHOUSE_SLAPD_PORT"
	fi
	mkdir -p "$DIR"
	chmod 700 "$DIR"
	write_conf
	local t0 deadline
	t0=$(now)
	if ! "$SLAPD" -Tt -u -f "$DIR/slapd.conf" >"$DIR/slaptest.log" 2>&1; then
		cat "$DIR/slaptest.log" >&2
		die "slapd.conf rejected; see $DIR/slapd.conf"
	fi
	# slapd daemonizes and writes its pid file once it listens.
	if ! "$SLAPD" -f "$DIR/slapd.conf" -h "ldap://127.0.0.1:$PORT/" >"$DIR/slapd.out" 2>&1; then
		cat "$DIR/slapd.out" >&2
		die "slapd failed to start"
	fi
	deadline=$((SECONDS + WAIT_SECONDS))
	until ldap_up; do
		[ $SECONDS -lt $deadline ] || die "slapd did not answer on 127.0.0.1:$PORT within ${WAIT_SECONDS}s"
		sleep 0.1
	done
	log "started on 127.0.0.1:$PORT in $(since "$t0")s"
	load_data
	write_env
	cat "$DIR/env"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env)
	[ -f "$DIR/env" ] || die "not running (no $DIR/env); run: $0 start"
	cat "$DIR/env"
	;;
status) status ;;
*)
	echo "usage: $0 start|stop|env|status" >&2
	exit 2
	;;
esac
