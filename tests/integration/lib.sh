# lib.sh: shared helpers for the integration tests. Each test script sources
# it, starts the real daemon and the real example upstream on free loopback
# ports, talks to them with curl, and asserts on the client's answer, on
# what reached the upstream (its --record file) and on the access log.
# Every process started here is stopped by PID on exit.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=.}"
: "${SCOPEGATE:=$top_builddir/scopegate}"
UPSTREAM_BIN="$top_builddir/examples/example-upstream"
TOKEN_BIN="$top_builddir/scopegate-token"

# In the sanitizer build, keep AddressSanitizer's quarantine of freed
# memory small so that the memory-bound checks measure the gateway, not
# the sanitizer.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8:malloc_context_size=10"

T=$(mktemp -d "${TMPDIR:-/tmp}/sgtest.XXXXXX")
PIDS=()
NPASS=0
NFAIL=0

cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$NFAIL" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$T"
	else
		echo "# test files kept in $T" >&2
	fi
}
trap cleanup EXIT

ok() {
	NPASS=$((NPASS + 1))
	echo "ok - $*"
}

not_ok() {
	NFAIL=$((NFAIL + 1))
	echo "not ok - $*"
}

# check "description" command...: passes when the command succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# expect_eq "description" expected actual
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (expected '$2', got '$3')"; fi
}

finish() {
	echo "# $NPASS passed, $NFAIL failed"
	[ "$NFAIL" -eq 0 ]
	exit $?
}

# A free TCP port on 127.0.0.1 that this script has not handed out before.
# Ports are drawn at random below the kernel's ephemeral range (so that no
# outgoing connection of a concurrent test takes them) and remembered in
# $T/ports: asking the kernel for port 0 twice in a row can return the same
# port, and a daemon given one port for two listeners never starts (seen in
# CI). The window before our daemon binds the port is acceptable on loopback.
free_port() {
	python3 - "$T/ports" <<'PY'
import random, socket, sys
path = sys.argv[1]
try:
    used = set(open(path).read().split())
except FileNotFoundError:
    used = set()
lo, hi = 20000, 32767
try:
    lo_eph = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    if lo_eph - 1 >= lo + 1000:
        hi = min(hi, lo_eph - 1)
except (OSError, ValueError, IndexError):
    pass
for _ in range(1000):
    port = random.randint(lo, hi)
    if str(port) in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    with open(path, "a") as f:
        f.write("%d\n" % port)
    print(port)
    sys.exit(0)
sys.exit("free_port: no free port found")
PY
}

wait_port() {
	local port=$1 i tries=100
	# Under valgrind (tests/check-valgrind.sh) a start takes seconds.
	[ -n "${UNDER_VALGRIND:-}" ] && tries=1200
	for i in $(seq 1 "$tries"); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "# port $port never opened" >&2
	return 1
}

# copy_tls_pki: the test PKI (tests/data/tls: certificates, keys, the
# client certificate's fingerprint) copied into $PKI, keys readable by
# the owner only (git does not keep modes).
copy_tls_pki() {
	mkdir -p "$PKI"
	cp "$top_srcdir"/tests/data/tls/*.pem "$top_srcdir"/tests/data/tls/*.key \
	    "$top_srcdir"/tests/data/tls/client.sha256 "$PKI/"
	chmod 600 "$PKI"/*.key
}

# issue_via_intermediate CA_DIR ENDDATE NAME: an intermediate CA,
# $PKI/inter.pem (CA:TRUE, ending at ENDDATE, YYMMDDHHMMSSZ), signed by the
# client CA with the `openssl ca` configuration CA_DIR/ca.cnf; and a client
# certificate of 30 days signed by it: $PKI/NAME.pem alone and
# $PKI/NAME-chain.pem with the intermediate (keys NAME.key, NAME-chain.key);
# SUBJECT, when given, is the certificate's (default /O=.../CN=NAME.test).
issue_via_intermediate() {
	local dir=$1 end=$2 name=$3 subject=${4:-"/O=scopegate tests/CN=$3.test"}
	grep -q '^\[ subca \]' "$dir/ca.cnf" || cat >> "$dir/ca.cnf" <<EOT
[ subca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
EOT
	printf 'basicConstraints = critical,CA:FALSE\nextendedKeyUsage = clientAuth\n' > "$dir/leaf.ext"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/inter.key" 2>/dev/null
	openssl req -new -key "$PKI/inter.key" -subj "/O=scopegate tests/CN=intermediate" \
	    -out "$dir/inter.csr" 2>/dev/null
	openssl ca -batch -config "$dir/ca.cnf" -extensions subca -cert "$PKI/client-ca.pem" \
	    -keyfile "$PKI/client-ca.key" -in "$dir/inter.csr" -enddate "$end" -notext \
	    -out "$PKI/inter.pem" 2>>"$dir/ca.err"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key" 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
	openssl x509 -req -in "$dir/$name.csr" -CA "$PKI/inter.pem" -CAkey "$PKI/inter.key" \
	    -CAcreateserial -CAserial "$dir/inter.srl" -days 30 -extfile "$dir/leaf.ext" \
	    -out "$PKI/$name.pem" 2>/dev/null
	cat "$PKI/$name.pem" "$PKI/inter.pem" > "$PKI/$name-chain.pem"
	cp "$PKI/$name.key" "$PKI/$name-chain.key"
	chmod 600 "$PKI/inter.key" "$PKI/$name.key" "$PKI/$name-chain.key"
}

# start_upstream [NAME [ARGS...]]: starts the example upstream with ARGS
# (--add-header ...) added; sets UP_PORT and UP_PID, records requests into
# $T/NAME.record.
start_upstream() {
	local name=${1:-up}
	[ $# -gt 0 ] && shift
	rm -f "$T/$name.port"
	"$UPSTREAM_BIN" --listen 127.0.0.1:0 --port-file "$T/$name.port" \
	    --record "$T/$name.record" --quiet "$@" 2>"$T/$name.err" &
	UP_PID=$!
	PIDS+=("$UP_PID")
	local i
	for i in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.05
	done
	UP_PORT=$(cat "$T/$name.port")
	RECORD="$T/$name.record"
	touch "$RECORD"
}

# start_chunk_upstream: tests/integration/chunkupstream.py, an upstream
# that reads the request framing byte for byte, recording every request
# into $RECORD (also $REC); sets UP_PORT.
start_chunk_upstream() {
	RECORD="$T/chunk.record"
	REC=$RECORD
	touch "$RECORD"
	python3 "$top_srcdir/tests/integration/chunkupstream.py" "$T/chunk.port" "$RECORD" &
	PIDS+=("$!")
	local i
	for i in $(seq 1 100); do
		[ -s "$T/chunk.port" ] && break
		sleep 0.05
	done
	UP_PORT=$(cat "$T/chunk.port")
}

# wait_record N: wait (3 s at most, 30 under valgrind) until N requests
# are in $RECORD.
wait_record() {
	local tries=60 i
	[ -n "${UNDER_VALGRIND:-}" ] && tries=600
	for i in $(seq 1 "$tries"); do
		[ "$(record_count)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# The npm packages the tests run: installed by ./setup.sh deps (npm ci from
# tests/node/package-lock.json) into this folder.
NODE_MODULES=${SCOPEGATE_NODE_MODULES:-$top_srcdir/tests/node/node_modules}

# node_package NAME: fails the script, saying what to run, unless node and
# the package at the version tests/node/package-lock.json pins are there.
node_package() {
	local name=$1 want have
	if ! command -v node >/dev/null; then
		not_ok "node is not installed: run ./setup.sh deps"
		finish
	fi
	want=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/" + sys.argv[2]]["version"])' \
	    "$top_srcdir/tests/node/package-lock.json" "$name")
	have=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
	    "$NODE_MODULES/$name/package.json" 2>/dev/null)
	if [ "$have" != "$want" ]; then
		not_ok "npm package $name@$want is not in $NODE_MODULES (found '${have:-nothing}'): run ./setup.sh deps"
		finish
	fi
	ok "npm package $name@$have (tests/node)"
}

# start_gateway CONFIG: starts scopegate in the foreground mode; sets
# GW_PID. The caller wrote CONFIG with port $GW_PORT.
start_gateway() {
	local before i tries=200
	before=$(grep -c ' started: ' "$T/gateway.err" 2>/dev/null || true)
	"$SCOPEGATE" -f -c "$1" 2>>"$T/gateway.err" &
	GW_PID=$!
	PIDS+=("$GW_PID")
	wait_port "$GW_PORT" || return 1
	# The listeners are bound first (a port in use is fatal before
	# anything starts), so an open port is not yet a served one: wait
	# for the line that says it is (key sets fetched, workers running).
	[ -n "${UNDER_VALGRIND:-}" ] && tries=2400
	for i in $(seq 1 "$tries"); do
		[ "$(grep -c ' started: ' "$T/gateway.err" 2>/dev/null || true)" -gt "${before:-0}" ] &&
		    return 0
		kill -0 "$GW_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# the gateway did not start (see $T/gateway.err)" >&2
	return 1
}

# reload_and_wait: SIGHUP to $GW_PID, then wait (up to 60 s: a reload
# stalls a daemon under valgrind for seconds) until $T/gateway.err reports
# its result, a new configuration in force or a failed reload.
reload_and_wait() {
	local before i
	before=$(grep -cE 'in force|reload failed' "$T/gateway.err")
	kill -HUP "$GW_PID"
	for i in $(seq 1 600); do
		[ "$(grep -cE 'in force|reload failed' "$T/gateway.err")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}

# write_config FILE [extra top-level JSON members]: a config for
# GW_PORT -> UP_PORT, access log in $T/access.log.
write_config() {
	local file=$1 extra=${2:-}
	cat > "$file" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT", "timeout_ms": ${UP_TIMEOUT_MS:-5000} },
  "log": { "access": "$T/access.log" }${extra:+,
  $extra}
}
EOT
}

# Number of requests the upstream recorded so far.
record_count() {
	wc -l < "$RECORD" | tr -d ' '
}

# jq-like access with python: json_get FILE_OR_- EXPR (python expression
# over `d`).
json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]) if sys.argv[1]!="-" else sys.stdin); v=eval(sys.argv[2]); print(json.dumps(v) if not isinstance(v,str) else v)' "$@"
}

# The last line of a JSON-lines file, as a file.
last_line() {
	tail -n 1 "$1" > "$T/last.json"
	echo "$T/last.json"
}
