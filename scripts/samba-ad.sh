#!/usr/bin/env bash
# Starts and stops a throw-away Samba Active Directory domain controller for
# the integration tests of ldapsync.
#
#   scripts/samba-ad.sh start   provision, start, load test data, print the env
#   scripts/samba-ad.sh stop    stop every instance and remove the directory
#   scripts/samba-ad.sh env     print the environment the tests read
#   scripts/samba-ad.sh status  exit 0 when every instance answers
#
# Needs root and the Debian packages samba, ldap-utils and openssl.
#
# Layout (GATEHOUSE_SAMBA_DIR, default /tmp/gatehouse-samba):
#   tls/         a test root CA, an intermediate CA and the server certificates
#   dc/          the provisioned domain; serves 127.0.0.1 (and ::1) with a
#                certificate issued by the test root CA
#   selfsigned/  copy of the freshly provisioned domain on 127.0.0.3 with a
#                self-signed certificate
#   weakkey/     copy on 127.0.0.4 with a 1024-bit RSA key issued by the root CA
#   chain/       copy on 127.0.0.5 whose certificate is issued by the
#                intermediate CA, served without the intermediate
#   env          the variables for the tests (see "env")
#
# Samba reads one certificate per process, so the TLS variants are separate
# processes, each a copy of the same freshly provisioned database bound to its
# own loopback address (Samba's ports 389/636/3268/3269 are fixed). The copies
# are taken before the test data is loaded: they serve the same domain and the
# same Administrator, which is all the transport and trust tests need. Tests
# pick the certificate by picking the address; nothing is restarted. Nothing
# listens on 127.0.0.2, which the failover tests use as a dead primary.
set -euo pipefail

DIR=${GATEHOUSE_SAMBA_DIR:-/tmp/gatehouse-samba}
REALM=CORP.EXAMPLE.TEST
DOMAIN=CORP
DNSDOMAIN=corp.example.test
BASEDN=DC=corp,DC=example,DC=test
ADMIN_PASS='Gatehouse-Admin-2026x'
READER_NAME=gatehouse-reader
READER_PASS='Gatehouse-Reader-2026x'
WAIT_SECONDS=${GATEHOUSE_SAMBA_WAIT:-60}

# Test data sizes (exported in env so the tests and this script agree).
STAFF=250        # users in OU=Staff with mail
STAFF_DISABLED=20 # the last 20 of them are disabled (userAccountControl 546)
NOMAIL=5         # enabled users without mail in OU=NoMail
CONTACTS=50      # contacts in OU=Contacts
GROUP_COUNT=10        # groups of 25 staff each in OU=Groups (plus one nested group)
LARGE=3000       # users in OU=Large, all members of CN=Large Group

# name ip certificate-basename
INSTANCES=(
	"dc 127.0.0.1 server"
	"selfsigned 127.0.0.3 selfsigned"
	"weakkey 127.0.0.4 weakkey"
	"chain 127.0.0.5 chain"
)

die() {
	echo "samba-ad: $*" >&2
	exit 1
}
log() { echo "samba-ad: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need() {
	[ "$(id -u)" = 0 ] || die "must run as root (Samba binds the fixed LDAP ports 389/636/3268/3269)"
	local missing=()
	for c in samba samba-tool ldapadd ldapsearch openssl iconv base64; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	[ ${#missing[@]} = 0 ] || die "missing ${missing[*]}; install with: apt-get install -y samba ldap-utils openssl"
}

listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

ldap_up() {
	ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "ldap://$1" -b '' -s base dsServiceName >/dev/null 2>&1
}

pid_of() { [ -f "$DIR/$1/samba.pid" ] && cat "$DIR/$1/samba.pid"; }

alive() {
	local pid
	pid=$(pid_of "$1") || return 1
	kill -0 "$pid" 2>/dev/null
}

status() {
	[ -f "$DIR/env" ] || return 1
	local inst name ip
	for inst in "${INSTANCES[@]}"; do
		read -r name ip _ <<<"$inst"
		alive "$name" && ldap_up "$ip" || return 1
	done
}

stop() {
	local inst name pid pids=() i
	for inst in "${INSTANCES[@]}"; do
		read -r name _ <<<"$inst"
		pid=$(pid_of "$name") || continue
		kill "$pid" 2>/dev/null && pids+=("$pid")
	done
	# Bounded wait for all of them together, then SIGKILL what is left.
	for i in $(seq 1 50); do
		[ ${#pids[@]} = 0 ] && break
		local left=()
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
		pids=("${left[@]+"${left[@]}"}")
		[ ${#pids[@]} = 0 ] || sleep 0.1
	done
	for pid in "${pids[@]+"${pids[@]}"}"; do kill -9 "$pid" 2>/dev/null || true; done
	case "$DIR" in
	/ | "") die "refusing to remove '$DIR'" ;;
	esac
	rm -rf "$DIR"
}

# cert NAME CN SAN BITS ISSUER(ca|inter|self) [extra-ext]
cert() {
	local name=$1 cn=$2 san=$3 bits=$4 issuer=$5 ext=$6 serial
	local t="$DIR/tls"
	serial=0x$(openssl rand -hex 12 | sed 's/^./4/') # positive, never a leading zero byte
	openssl req -newkey "rsa:$bits" -nodes -keyout "$t/$name.key" -out "$t/$name.csr" -subj "/O=Gatehouse Test/CN=$cn" 2>/dev/null
	printf '%s\n' "$ext" >"$t/$name.ext"
	[ -n "$san" ] && echo "subjectAltName=$san" >>"$t/$name.ext"
	if [ "$issuer" = self ]; then
		openssl x509 -req -in "$t/$name.csr" -signkey "$t/$name.key" -set_serial "$serial" -days 3650 \
			-extfile "$t/$name.ext" -out "$t/$name.pem" 2>/dev/null
	else
		openssl x509 -req -in "$t/$name.csr" -CA "$t/$issuer.pem" -CAkey "$t/$issuer.key" -set_serial "$serial" \
			-days 3650 -extfile "$t/$name.ext" -out "$t/$name.pem" 2>/dev/null
	fi
	chmod 600 "$t/$name.key"
	rm -f "$t/$name.csr" "$t/$name.ext"
}

make_certs() {
	mkdir -p "$DIR/tls"
	local ca="basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign"
	local leaf="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
	cert ca "Gatehouse Test Root CA" "" 2048 self "$ca"
	cert inter "Gatehouse Test Intermediate CA" "" 2048 ca "$ca"
	cert server localhost "IP:127.0.0.1,IP:::1,DNS:localhost" 2048 ca "$leaf"
	cert selfsigned localhost "IP:127.0.0.3,DNS:localhost" 2048 self "$leaf"
	cert weakkey localhost "IP:127.0.0.4,DNS:localhost" 1024 ca "$leaf"
	cert chain localhost "IP:127.0.0.5,DNS:localhost" 2048 inter "$leaf"
}

# configure NAME IP CERT: point a provisioned tree's smb.conf at NAME's paths.
configure() {
	local name=$1 ip=$2 crt=$3 conf="$DIR/$1/etc/smb.conf" iface
	if [ "$name" = dc ]; then iface=lo; else iface="$ip/8"; fi
	# The provisioned smb.conf names the provision directory; rewrite it.
	sed -i \
		-e "s#$DIR/dc/#$DIR/$name/#g" \
		-e "s#$DIR/dc\$#$DIR/$name#" \
		-e "s#^\([[:space:]]*\)server services = .*#\1server services = ldap#" \
		-e "s#^\([[:space:]]*\)interfaces = .*#\1interfaces = $iface#" \
		-e "s#^\([[:space:]]*\)log file = .*#\1log file = $DIR/$name/log.%m#" \
		"$conf"
	if ! grep -q 'gatehouse test settings' "$conf"; then
		sed -i "s#^\[global\]#[global]\n\t\# gatehouse test settings\n\tldap server require strong auth = no\n\tpid directory = $DIR/$name\n\tldb:nosync = true\n\ttls enabled = yes\n\ttls keyfile = $DIR/tls/$crt.key\n\ttls certfile = $DIR/tls/$crt.pem\n\ttls cafile = $DIR/tls/ca.pem#" "$conf"
	fi
}

start_instance() {
	local name=$1 ip=$2
	if listening "$ip" 389; then
		die "something already listens on $ip:389 (another Samba or slapd?); stop it first"
	fi
	# -F keeps it in the foreground of its own session; -i would stop it as
	# soon as stdin reaches EOF. Samba writes its pid to $DIR/$name/samba.pid.
	setsid samba -s "$DIR/$name/etc/smb.conf" -F --debug-stdout -M single </dev/null >"$DIR/$name/samba.out" 2>&1 &
}

wait_instance() {
	local name=$1 ip=$2 deadline=$((SECONDS + WAIT_SECONDS))
	until ldap_up "$ip"; do
		if [ -f "$DIR/$name/samba.pid" ] && ! alive "$name"; then
			tail -20 "$DIR/$name/samba.out" >&2 || true
			die "samba ($name on $ip) exited; log above, full log in $DIR/$name/samba.out"
		fi
		[ $SECONDS -lt $deadline ] || die "samba ($name on $ip) did not answer LDAP within ${WAIT_SECONDS}s; see $DIR/$name/samba.out"
		sleep 0.2
	done
}

ldif() {
	local b=$BASEDN i n k m mail uac
	for ou in Gatehouse; do printf 'dn: OU=%s,%s\nobjectClass: organizationalUnit\n\n' "$ou" "$b"; done
	for ou in Staff NoMail Contacts Groups; do
		printf 'dn: OU=%s,OU=Gatehouse,%s\nobjectClass: organizationalUnit\n\n' "$ou" "$b"
	done
	printf 'dn: OU=Large,%s\nobjectClass: organizationalUnit\n\n' "$b"
	printf 'dn: OU=Scratch,%s\nobjectClass: organizationalUnit\n\n' "$b"
	for i in $(seq 1 $STAFF); do
		n=$(printf 'staff%03d' "$i")
		mail="$n@$DNSDOMAIN"
		# every 25th user (5, 30, 55, ...) lives in the partner domain
		[ $((i % 25)) = 5 ] && mail="$n@partner.example.test"
		uac=512
		[ "$i" -gt $((STAFF - STAFF_DISABLED)) ] && uac=514
		printf 'dn: CN=%s,OU=Staff,OU=Gatehouse,%s\nobjectClass: user\nsAMAccountName: %s\nuserPrincipalName: %s@%s\n' "$n" "$b" "$n" "$n" "$DNSDOMAIN"
		printf 'givenName: Staff\nsn: %03d\ndisplayName: Staff %03d\nmail: %s\nuserAccountControl: %d\n' "$i" "$i" "$mail" $((uac | 32))
		if [ $((i % 10)) = 0 ]; then
			printf 'proxyAddresses: SMTP:%s\nproxyAddresses: smtp:alias-%s@%s\nproxyAddresses: X500:/o=Gatehouse/cn=%s\n' "$mail" "$n" "$DNSDOMAIN" "$n"
		fi
		echo
	done
	for i in $(seq 1 $NOMAIL); do
		n=$(printf 'nomail%02d' "$i")
		printf 'dn: CN=%s,OU=NoMail,OU=Gatehouse,%s\nobjectClass: user\nsAMAccountName: %s\nuserAccountControl: 544\n\n' "$n" "$b" "$n"
	done
	for i in $(seq 1 $CONTACTS); do
		n=$(printf 'contact%02d' "$i")
		printf 'dn: CN=%s,OU=Contacts,OU=Gatehouse,%s\nobjectClass: contact\ndisplayName: Contact %02d\nmail: %s@external.example.test\n\n' "$n" "$b" "$i" "$n"
	done
	for k in $(seq 1 $GROUP_COUNT); do
		n=$(printf 'group%02d' "$k")
		printf 'dn: CN=%s,OU=Groups,OU=Gatehouse,%s\nobjectClass: group\nsAMAccountName: %s\nmail: %s@%s\n' "$n" "$b" "$n" "$n" "$DNSDOMAIN"
		for m in $(seq $(((k - 1) * 25 + 1)) $((k * 25))); do
			printf 'member: CN=staff%03d,OU=Staff,OU=Gatehouse,%s\n' "$m" "$b"
		done
		echo
	done
	printf 'dn: CN=managers,OU=Groups,OU=Gatehouse,%s\nobjectClass: group\nsAMAccountName: managers\nmail: managers@%s\n' "$b" "$DNSDOMAIN"
	printf 'member: CN=group01,OU=Groups,OU=Gatehouse,%s\nmember: CN=staff101,OU=Staff,OU=Gatehouse,%s\n\n' "$b" "$b"
	for i in $(seq 1 $LARGE); do
		printf 'dn: CN=large%04d,OU=Large,%s\nobjectClass: user\nsAMAccountName: large%04d\nmail: large%04d@%s\nuserAccountControl: 544\n\n' "$i" "$b" "$i" "$i" "$DNSDOMAIN"
	done
	printf 'dn: CN=Large Group,OU=Large,%s\nobjectClass: group\nsAMAccountName: large-group\nmail: large-group@%s\n' "$b" "$DNSDOMAIN"
	for i in $(seq 1 $LARGE); do printf 'member: CN=large%04d,OU=Large,%s\n' "$i" "$b"; done
	echo
}

load_data() {
	local t0 pw
	t0=$(now)
	ldif >"$DIR/data.ldif"
	if ! ldapadd -x -H ldap://127.0.0.1 -D "CN=Administrator,CN=Users,$BASEDN" -w "$ADMIN_PASS" \
		-f "$DIR/data.ldif" >"$DIR/load.log" 2>&1; then
		tail -5 "$DIR/load.log" >&2
		die "loading test data failed; see $DIR/load.log"
	fi
	# A plain domain user with a password: may read, may not replicate
	# (no "Replicating Directory Changes"). unicodePwd needs an encrypted
	# connection.
	pw=$(printf '"%s"' "$READER_PASS" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)
	printf 'dn: CN=%s,CN=Users,%s\nobjectClass: user\nsAMAccountName: %s\nuserPrincipalName: %s@%s\nunicodePwd:: %s\nuserAccountControl: 66048\n\n' \
		"$READER_NAME" "$BASEDN" "$READER_NAME" "$READER_NAME" "$DNSDOMAIN" "$pw" >"$DIR/reader.ldif"
	if ! LDAPTLS_CACERT="$DIR/tls/ca.pem" ldapadd -x -H ldaps://127.0.0.1 -D "CN=Administrator,CN=Users,$BASEDN" \
		-w "$ADMIN_PASS" -f "$DIR/reader.ldif" >>"$DIR/load.log" 2>&1; then
		tail -5 "$DIR/load.log" >&2
		die "creating $READER_NAME failed; see $DIR/load.log"
	fi
	log "loaded $(grep -c '^dn: ' "$DIR/data.ldif") entries over LDAP in $(since "$t0")s"
}

write_env() {
	cat >"$DIR/env.tmp" <<EOF
export GATEHOUSE_SAMBA_DIR='$DIR'
export GATEHOUSE_SAMBA_HOST='127.0.0.1'
export GATEHOUSE_SAMBA_PORT='389'
export GATEHOUSE_SAMBA_LDAPS_PORT='636'
export GATEHOUSE_SAMBA_GC_PORT='3268'
export GATEHOUSE_SAMBA_GC_LDAPS_PORT='3269'
export GATEHOUSE_SAMBA_REALM='$REALM'
export GATEHOUSE_SAMBA_DOMAIN='$DNSDOMAIN'
export GATEHOUSE_SAMBA_BASEDN='$BASEDN'
export GATEHOUSE_SAMBA_ROOTDN='OU=Gatehouse,$BASEDN'
export GATEHOUSE_SAMBA_LARGE_ROOTDN='OU=Large,$BASEDN'
export GATEHOUSE_SAMBA_SCRATCH_DN='OU=Scratch,$BASEDN'
export GATEHOUSE_SAMBA_BINDDN='CN=Administrator,CN=Users,$BASEDN'
export GATEHOUSE_SAMBA_BINDUPN='Administrator@$DNSDOMAIN'
export GATEHOUSE_SAMBA_PASSWORD='$ADMIN_PASS'
export GATEHOUSE_SAMBA_READER_BINDDN='CN=$READER_NAME,CN=Users,$BASEDN'
export GATEHOUSE_SAMBA_READER_PASSWORD='$READER_PASS'
export GATEHOUSE_SAMBA_CAFILE='$DIR/tls/ca.pem'
export GATEHOUSE_SAMBA_INTERMEDIATE_CAFILE='$DIR/tls/inter.pem'
export GATEHOUSE_SAMBA_SELFSIGNED_HOST='127.0.0.3'
export GATEHOUSE_SAMBA_WEAKKEY_HOST='127.0.0.4'
export GATEHOUSE_SAMBA_CHAIN_HOST='127.0.0.5'
export GATEHOUSE_SAMBA_DEAD_HOST='127.0.0.2'
export GATEHOUSE_SAMBA_STAFF='$STAFF'
export GATEHOUSE_SAMBA_STAFF_DISABLED='$STAFF_DISABLED'
export GATEHOUSE_SAMBA_NOMAIL='$NOMAIL'
export GATEHOUSE_SAMBA_CONTACTS='$CONTACTS'
export GATEHOUSE_SAMBA_GROUPS='$GROUP_COUNT'
export GATEHOUSE_SAMBA_LARGE='$LARGE'
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
	mkdir -p "$DIR"
	chmod 700 "$DIR"
	local t0 inst name ip crt
	t0=$(now)
	make_certs
	if ! samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" --server-role=dc \
		--dns-backend=NONE --adminpass="$ADMIN_PASS" --targetdir="$DIR/dc" --host-name=ghdc \
		--host-ip=127.0.0.1 --option="interfaces = lo" --option="bind interfaces only = yes" \
		>"$DIR/provision.log" 2>&1; then
		tail -20 "$DIR/provision.log" >&2
		die "samba-tool domain provision failed; see $DIR/provision.log"
	fi
	log "provisioned $REALM in $(since "$t0")s"
	# Copies for the TLS variants, taken before the first start.
	for inst in "${INSTANCES[@]}"; do
		read -r name ip crt <<<"$inst"
		[ "$name" = dc ] || cp -a "$DIR/dc" "$DIR/$name"
	done
	for inst in "${INSTANCES[@]}"; do
		read -r name ip crt <<<"$inst"
		configure "$name" "$ip" "$crt"
	done
	t0=$(now)
	for inst in "${INSTANCES[@]}"; do
		read -r name ip _ <<<"$inst"
		start_instance "$name" "$ip"
	done
	for inst in "${INSTANCES[@]}"; do
		read -r name ip _ <<<"$inst"
		wait_instance "$name" "$ip"
	done
	log "${#INSTANCES[@]} domain controllers answer LDAP after $(since "$t0")s"
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
