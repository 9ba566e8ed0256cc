#!/usr/bin/env bash
# The upstream named by a host name: resolved when the configuration loads
# (workers never wait for DNS), resolved again on SIGHUP, a name that does
# not resolve refused at its JSON pointer (by -t and by a reload, which
# keeps the running configuration). A name with several addresses: an
# address that refuses connections is skipped for the next one, for the
# request at hand and for later connections, and /readyz does the same.
# The multi-address cases run the daemon in a private mount namespace with
# its own /etc/hosts (unshare -m, as root); without one they are skipped
# and said so.
. "$(dirname "$0")/lib.sh"

start_upstream a
A_PORT=$UP_PORT
A_RECORD=$RECORD
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)

# config FILE URL
config() {
	cat > "$1" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "upstream": { "url": "$2", "timeout_ms": 5000 },
  "admin": { "address": "127.0.0.1", "port": $ADMIN_PORT },
  "log": { "access": "$T/access.log" }
}
EOT
}
get() {
	curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/__test/echo${1:-}"
}
stop_gateway() {
	kill "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
}

# 1. A name (localhost) resolved at load.
config "$T/name.json" "http://localhost:$A_PORT"
start_gateway "$T/name.json"
n0=$(record_count)
expect_eq "upstream given as localhost: answered" 200 "$(get)"
expect_eq "... by the upstream" $((n0 + 1)) "$(record_count)"
check "the start line names the resolved address" \
    grep -q "upstream http://localhost:$A_PORT (127.0.0.1)" "$T/gateway.err"

# 2. A name that does not resolve: -t names the key; a reload to it keeps
# the running configuration.
config "$T/bad.json" "http://no-such-host.invalid:$A_PORT"
out=$("$SCOPEGATE" -t -c "$T/bad.json" 2>&1)
check "-t refuses an unresolvable upstream name at /upstream/url" \
    grep -q '/upstream/url: cannot resolve "no-such-host.invalid"' <<<"$out"
# explain never connects: it does not need the name to resolve.
python3 - "$T/bad.json" "$T/explain.json" "$top_srcdir" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["policy"] = sys.argv[3] + "/conf/policy.json"
c["tokens"] = {"keys": [{"file": sys.argv[3] + "/tests/data/keys/ec256.pem", "kid": "e1"}]}
json.dump(c, open(sys.argv[2], "w"))
PY
out=$("$SCOPEGATE" explain -c "$T/explain.json" GET /applications/5f0c0c0c0c0c0c0c0c0c0c0c/tokens \
    --scopes applicationApiTokens.get 2>&1)
check "explain works with an upstream name that does not resolve" \
    grep -q '"decision": "allow"' <<<"$out"
cp "$T/bad.json" "$T/name.json"
check "a reload to an unresolvable name is reported" reload_and_wait
check "... naming the key" grep -q 'reload.*/upstream/url: cannot resolve "no-such-host.invalid"' "$T/gateway.err"
expect_eq "... and the running configuration keeps serving" 200 "$(get)"
stop_gateway

# 3. Several addresses, in a namespace with our own /etc/hosts.
HOSTS="$T/hosts"
printf '127.0.0.3 twoaddr.test\n127.0.0.1 twoaddr.test\n' > "$HOSTS"
if ! unshare -m sh -c 'mount --bind "$0" /etc/hosts' "$HOSTS" 2>/dev/null; then
	echo "# SKIP: no private mount namespace here (unshare -m as root); multi-address cases not run"
	finish
fi
# inns CMD...: run CMD with $HOSTS as /etc/hosts (unshare and sh exec
# it: CMD keeps the PID).
INNS=(unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$HOSTS")
# The resolver sorts the addresses (RFC 6724): nothing listens on the one
# it puts first.
mapfile -t order < <("${INNS[@]}" getent ahostsv4 twoaddr.test | awk '$2 == "STREAM" { print $1 }')
expect_eq "the test name has two addresses" 2 "${#order[@]}"
DEAD=${order[0]}
LIVE=${order[1]}
"$UPSTREAM_BIN" --listen "$LIVE:0" --port-file "$T/live.port" --record "$T/live.record" \
    --quiet 2>"$T/live.err" &
PIDS+=($!)
for i in $(seq 1 100); do [ -s "$T/live.port" ] && break; sleep 0.05; done
L_PORT=$(cat "$T/live.port")
touch "$T/live.record"

config "$T/two.json" "http://twoaddr.test:$L_PORT"
: > "$T/gateway.err"
"${INNS[@]}" "$SCOPEGATE" -f -c "$T/two.json" 2>>"$T/gateway.err" &
GW_PID=$!
PIDS+=("$GW_PID")
wait_port "$GW_PORT"
codes=""
for i in $(seq 1 10); do codes="$codes$(get "?i=$i")"; done
expect_eq "first address refuses: every request answered through the second" \
    "200200200200200200200200200200" "$codes"
expect_eq "... all 10 reached the upstream on $LIVE" 10 "$(wc -l < "$T/live.record")"
check "the refused address is logged" \
    grep -q "cannot connect to $DEAD: .*; trying its next address" "$T/gateway.err"
# Each worker learns it once; new connections then start at the live address.
skips=$(grep -c "cannot connect to $DEAD" "$T/gateway.err")
check "... once per worker at most, not per request ($skips)" test "$skips" -le 2
expect_eq "/readyz tries the next address too" 200 \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")"

# 4. SIGHUP resolves the name again: point it at another address, where a
# second upstream listens on the same port.
"$UPSTREAM_BIN" --listen "127.0.0.2:$L_PORT" --port-file "$T/b.port" --record "$T/b.record" \
    --quiet 2>"$T/b.err" &
PIDS+=($!)
for i in $(seq 1 100); do [ -s "$T/b.port" ] && break; sleep 0.05; done
touch "$T/b.record"
if [ -s "$T/b.port" ]; then
	# Rewritten in place: the bind mount follows the file, not a name.
	printf '127.0.0.2 twoaddr.test\n' > "$HOSTS"
	check "reload after the name moved" reload_and_wait
	check "... in force" grep -q "in force" "$T/gateway.err"
	check "... and the new address logged" grep -q "reload: upstream http://twoaddr.test:$L_PORT now at 127.0.0.2" "$T/gateway.err"
	before=$(wc -l < "$T/live.record")
	codes=""
	for i in 1 2 3 4; do codes="$codes$(get "?moved=$i")"; done
	expect_eq "requests after the reload answered" "200200200200" "$codes"
	expect_eq "... by the upstream at the new address" 4 "$(wc -l < "$T/b.record")"
	expect_eq "... and none by the old one" "$before" "$(wc -l < "$T/live.record")"
else
	not_ok "second upstream on 127.0.0.2:$L_PORT did not start: $(cat "$T/b.err")"
fi
finish
