#!/usr/bin/env bash
# Socket activation (sd_listen_fds(3)): tests/integration/sockact.py plays
# systemd's part, binding the sockets itself and starting the daemon with
# them as descriptors 3.. and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES set.
# A restart (SIGTERM, start) with the sockets held by that parent loses
# no connection attempt, plain or TLS; a socket that no listener claims, a
# listener with no socket, a name bound to another address than the
# configuration says (a TLS port served as plain), a socket that is not
# listening and variables that disagree are fatal, named in the log.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
SOCKACT="$top_srcdir/tests/integration/sockact.py"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
PKI="$T/pki"
copy_tls_pki

start_upstream up
P1=$(free_port)
P2=$(free_port)
P3=$(free_port)
# sa_config FILE NAME1 NAME2: listener 1 plain on P1, listener 2 TLS on P2;
# a name "" leaves that listener unnamed.
sa_config() {
	local n1="" n2=""
	[ -n "$2" ] && n1=", \"name\": \"$2\""
	[ -n "$3" ] && n2=", \"name\": \"$3\""
	cat > "$1" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $P1$n1 },
    { "address": "127.0.0.1", "port": $P2$n2,
      "tls": { "certificates": [ { "cert": "$PKI/server-ec.pem", "key": "$PKI/server-ec.key" } ] } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "policy": "$top_srcdir/conf/policy.json",
  "tokens": { "keys": [ { "file": "$KEYS/ec256.pem", "kid": "e1" } ] },
  "workers": 2,
  "limits": { "header_timeout_ms": 1500 },
  "log": { "access": "$T/access.log" }
}
EOT
}
sa_config "$T/named.json" web secure
sa_config "$T/unnamed.json" "" ""
check "a listener name passes -t" "$SCOPEGATE" -t -c "$T/named.json"

GOOD=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 \
    --scope applicationApiToken.get)
P="/applications/$APP/tokens/$TOK"

# --- a restart with the sockets held: not one connection attempt lost ---
python3 "$SOCKACT" --restart --log "$T/gateway.err" --cafile "$PKI/ca.pem" \
    --header "Authorization: Bearer $GOOD" \
    --client "http://127.0.0.1:$P1$P" --client "http://127.0.0.1:$P1$P" \
    --client "https://127.0.0.1:$P2$P" \
    "web=127.0.0.1:$P1" "secure=127.0.0.1:$P2" -- "$SCOPEGATE" -f -c "$T/named.json" \
    > "$T/restart.json"
cat "$T/restart.json"
expect_eq "restart: both starts served the passed sockets" 2 "$(json_get "$T/restart.json" 'd["starts"]')"
expect_eq "restart: the first instance drained and exited 0" 0 \
    "$(json_get "$T/restart.json" 'd["first_exit"]')"
expect_eq "restart: no connection attempt failed (plain or TLS)" "[]" \
    "$(json_get "$T/restart.json" 'd["failures"]')"
attempts=$(json_get "$T/restart.json" 'd["attempts"]')
ok200=$(json_get "$T/restart.json" 'd["statuses"].get("200", 0)')
check "restart: clients kept trying across it ($attempts attempts)" [ "$attempts" -ge 30 ]
expect_eq "restart: every attempt answered 200 by the upstream" "$attempts" "$ok200"
expect_eq "restart: the upstream saw each of them" "$attempts" "$(record_count)"
check "the daemon says where its sockets came from" \
    grep -q 'socket activation: 2 listener socket(s) from the service manager' "$T/gateway.err"
expect_eq "both instances said so" 2 \
    "$(grep -c 'socket activation: 2 listener socket' "$T/gateway.err")"

# sa_fail DESC PATTERN SOCKACT-ARGS...: the start is fatal, exit 1,
# with PATTERN in a fatal: line and nothing forwarded.
sa_fail() {
	local desc=$1 pat=$2 out before
	shift 2
	before=$(record_count)
	: > "$T/fail.err"
	out=$(python3 "$SOCKACT" --once --log "$T/fail.err" "$@")
	expect_eq "$desc: exit status" "exited 1" "$out"
	if grep -q "fatal: .*$pat" "$T/fail.err"; then
		ok "$desc: fatal line"
	else
		not_ok "$desc: no fatal line matching '$pat'"
		cat "$T/fail.err"
	fi
	check "$desc: the last line says it exits" grep -q 'exiting' <(tail -n 1 "$T/fail.err")
	expect_eq "$desc: nothing reached the upstream" "$before" "$(record_count)"
}
RUN=(-- "$SCOPEGATE" -f -c "$T/named.json")

# --- names that do not match ---
sa_fail "a listener's name not passed" \
    'listener /listeners/1 ("secure", 127.0.0.1:'"$P2"'): no socket of that name' \
    "web=127.0.0.1:$P1" "other=127.0.0.1:$P2" "${RUN[@]}"
# The attack: systemd's sockets swapped, the TLS listener's name on the
# plain port. Served, the TLS port would speak plain HTTP.
sa_fail "names swapped between the plain and the TLS port" \
    "configured for 127.0.0.1:$P1 but the socket named \"web\" is bound to 127.0.0.1:$P2" \
    "web=127.0.0.1:$P2" "secure=127.0.0.1:$P1" "${RUN[@]}"
sa_fail "a socket no listener claims" \
    "the socket \"spare\" (descriptor 5, 127.0.0.1:$P3) matches no listener" \
    "web=127.0.0.1:$P1" "secure=127.0.0.1:$P2" "spare=127.0.0.1:$P3" "${RUN[@]}"
sa_fail "a socket that is not listening" \
    'descriptor 4 ("secure") is not a listening TCP socket' \
    "web=127.0.0.1:$P1" "!secure=127.0.0.1:$P2" "${RUN[@]}"
sa_fail "LISTEN_FDNAMES naming fewer sockets than LISTEN_FDS" \
    'LISTEN_FDNAMES names 1 descriptor(s), LISTEN_FDS=2' --fdnames web \
    "web=127.0.0.1:$P1" "secure=127.0.0.1:$P2" "${RUN[@]}"
# Not for this process (LISTEN_PID of its parent): the variables are
# ignored, so the daemon binds by itself and finds the ports taken.
sa_fail "LISTEN_PID of another process" 'address in use' --pid-env \
    "web=127.0.0.1:$P1" "secure=127.0.0.1:$P2" "${RUN[@]}"

# --- unnamed listeners take the socket bound to their address ---
out=$(python3 "$SOCKACT" --once --log "$T/unnamed.err" "-=127.0.0.1:$P2" "-=127.0.0.1:$P1" \
    -- "$SCOPEGATE" -f -c "$T/unnamed.json")
expect_eq "unnamed listeners, no LISTEN_FDNAMES, sockets in another order: served" started "$out"
sa_fail "an unnamed listener with no socket at its address" \
    "listener /listeners/1 (127.0.0.1:$P2): no socket bound to that address" \
    "-=127.0.0.1:$P1" "-=127.0.0.1:$P3" -- "$SCOPEGATE" -f -c "$T/unnamed.json"

# --- reload: a listener change with sockets from systemd needs a restart ---
rm -f "$T/sa.pid"
python3 "$SOCKACT" --serve "$T/sa.pid" --log "$T/serve.err" \
    "web=127.0.0.1:$P1" "secure=127.0.0.1:$P2" "${RUN[@]}" &
SA_PID=$!
PIDS+=("$SA_PID")
for _ in $(seq 1 200); do [ -s "$T/sa.pid" ] && break; sleep 0.05; done
GW_PID=$(cat "$T/sa.pid")
sed -i "s/\"port\": $P1/\"port\": $P3/" "$T/named.json"
before=$(grep -c 'restart needed' "$T/serve.err")
kill -HUP "$GW_PID"
for _ in $(seq 1 200); do
	[ "$(grep -c 'restart needed' "$T/serve.err")" -gt "$before" ] && break
	sleep 0.05
done
check "reload: the listener change is restart-only" \
    grep -q 'in force except listeners: restart needed' "$T/serve.err"
check "reload: it says the socket unit must change too" \
    grep -q 'sockets come from systemd: change the socket unit' "$T/serve.err"
expect_eq "reload: the passed socket still serves" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $GOOD" "http://127.0.0.1:$P1$P")"
# A drain waits for connections accepted but not yet sending (their
# request may be on its way), but only until the header timeout: one that
# never sends does not hold the stop up. (Whether a worker accepted it
# before the signal, or it still waits in the queue, is up to timing.)
python3 - "$P1" > "$T/silent.out" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(30)
t = time.time()
try:
    d = s.recv(64)
except OSError:
    d = b""
print("%.1f %s" % (time.time() - t, d.split(b"\r\n")[0].decode()))
PY
SIL=$!
PIDS+=("$SIL")
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$GW_PID"
wait "$SA_PID"
expect_eq "the activated daemon exits 0 on SIGTERM" 0 $?
el=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$SIL"
check "a silent connection held the stop up no longer than the header timeout (${el} ms; $(cat "$T/silent.out"))" \
    [ "$el" -lt 5000 ]
finish
