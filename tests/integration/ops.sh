#!/usr/bin/env bash
# Operating the daemon: the systemd notify protocol over a real datagram
# socket, the admin listener (/healthz, /readyz, /metrics counted after known
# traffic), SIGUSR1 log reopening, reload counters, draining on SIGTERM.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111

# A real NOTIFY_SOCKET: a python process collects datagrams into a file.
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a") as out:
    try:
        while True:
            d = s.recv(4096).decode()
            out.write(d.replace("\n", "|") + "\n")
            out.flush()
            if "STOPPING=1" in d:
                break
    except socket.timeout:
        pass
PY
PIDS+=($!)
for _ in $(seq 1 50); do [ -S "$T/notify.sock" ] && break; sleep 0.05; done

start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT }"
NOTIFY_SOCKET="$T/notify.sock" start_gateway "$T/gw.json"
A="http://127.0.0.1:$ADMIN_PORT"
U="http://127.0.0.1:$GW_PORT/applications/$APP/tokens"

for _ in $(seq 1 50); do grep -q READY=1 "$T/notify.log" 2>/dev/null && break; sleep 0.05; done
check "READY=1 after binding" grep -q '^READY=1' "$T/notify.log"

expect_eq "/healthz" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$A/healthz")"
expect_eq "/readyz with the upstream up" 200 "$(curl -s -o "$T/r.json" -w '%{http_code}' "$A/readyz")"
expect_eq "/readyz names the generation" 1 "$(json_get "$T/r.json" 'd["generation"]')"
expect_eq "admin is not on the traffic port" 404 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/metrics")"

# Known traffic: 6 allowed (one token: a miss then cache hits), 3 denied
# for scope, 2 without a token, 1 bad signature; plus the 404 above.
GOOD=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --scope applicationApiToken.get)
OTHER=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --scope device.get)
# One connection, so one worker and one token cache sees them all.
urls=()
for i in 1 2 3 4 5 6; do urls+=(-o /dev/null "$U/$TOK"); done
curl -s -H "Authorization: Bearer $GOOD" "${urls[@]}"
for i in 1 2 3; do curl -s -o /dev/null -H "Authorization: Bearer $OTHER" "$U/$TOK"; done
for i in 1 2; do curl -s -o /dev/null "$U/$TOK"; done
BADSIG=$(python3 -c 'import sys; h,p,s=sys.argv[1].split("."); print(h+"."+p+"."+("B" if s[0]=="A" else "A")+s[1:])' "$GOOD")
curl -s -o /dev/null -H "Authorization: Bearer $BADSIG" "$U/$TOK"
curl -s "$A/metrics" > "$T/metrics.txt"
metric() {
	python3 - "$T/metrics.txt" "$1" <<'PY'
import sys
total = 0.0
for line in open(sys.argv[1]):
    if line.startswith(sys.argv[2] + " ") or line.startswith(sys.argv[2] + "{") and False:
        pass
    name = line.split(" ")[0]
    if name == sys.argv[2]:
        total += float(line.split(" ")[1])
print(int(total))
PY
}
expect_eq "metrics: allowed requests by action and status" 6 \
    "$(metric 'scopegate_requests_total{action="applicationApiToken.get",decision="allow",status="200"}')"
expect_eq "metrics: denied for scope" 3 \
    "$(metric 'scopegate_requests_total{action="applicationApiToken.get",decision="deny",status="403"}')"
expect_eq "metrics: 401s" 3 \
    "$(metric 'scopegate_requests_total{action="applicationApiToken.get",decision="deny",status="401"}')"
expect_eq "metrics: latency histogram counts every request" 13 "$(metric scopegate_request_duration_seconds_count)"
expect_eq "metrics: verified tokens" 9 "$(metric 'scopegate_token_verifications_total{result="ok"}')"
expect_eq "metrics: bad signatures" 1 "$(metric 'scopegate_token_verifications_total{result="bad_signature"}')"
check "metrics: cache hits counted (>= 4)" test "$(metric 'scopegate_token_cache_total{result="hit"}')" -ge 4
check "metrics: Prometheus TYPE lines" grep -q '^# TYPE scopegate_requests_total counter' "$T/metrics.txt"

# Reload: one good, one broken; counters and the notify protocol.
kill -HUP "$GW_PID"
for _ in $(seq 1 50); do grep -q 'in force' "$T/gateway.err" && break; sleep 0.05; done
cp "$T/gw.json" "$T/gw.good"
echo '{ "listeners": ' > "$T/gw.json"
kill -HUP "$GW_PID"
for _ in $(seq 1 50); do grep -q 'reload failed' "$T/gateway.err" && break; sleep 0.05; done
cp "$T/gw.good" "$T/gw.json"
curl -s "$A/metrics" > "$T/metrics.txt"
expect_eq "metrics: reloads ok" 1 "$(metric 'scopegate_reloads_total{result="ok"}')"
expect_eq "metrics: reloads failed" 1 "$(metric 'scopegate_reloads_total{result="failed"}')"
expect_eq "metrics: generation" 2 "$(metric scopegate_config_generation)"
check "RELOADING=1 with MONOTONIC_USEC" grep -qE '^RELOADING=1\|MONOTONIC_USEC=[0-9]+' "$T/notify.log"
expect_eq "READY=1 after each reload (start + 2)" 3 "$(grep -c 'READY=1' "$T/notify.log")"

# SIGUSR1: logrotate moves the file, the gateway reopens it.
mv "$T/access.log" "$T/access.log.1"
kill -USR1 "$GW_PID"
sleep 0.3
curl -s -o /dev/null -H "Authorization: Bearer $GOOD" "$U/$TOK"
sleep 0.2
check "SIGUSR1 reopened the access log" test -s "$T/access.log"
expect_eq "the old file kept its lines" 13 "$(wc -l < "$T/access.log.1" | tr -d ' ')"

# Upstream gone: not ready.
kill "$UP_PID"; wait "$UP_PID" 2>/dev/null
expect_eq "/readyz with the upstream down" 503 "$(curl -s -o /dev/null -w '%{http_code}' "$A/readyz")"

kill -TERM "$GW_PID"
wait "$GW_PID"
expect_eq "exit 0 on SIGTERM" 0 "$?"
sleep 0.2
check "STOPPING=1 on SIGTERM" grep -q 'STOPPING=1' "$T/notify.log"
finish
