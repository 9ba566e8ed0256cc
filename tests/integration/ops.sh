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
# metric NAME: the value of that exact series; a NAME without labels
# also sums every labelled series of that name.
metric() {
	python3 - "$T/metrics.txt" "$1" <<'PY'
import sys
total = 0.0
want = sys.argv[2]
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    name = line.rsplit(" ", 1)[0]
    if name == want or ("{" not in want and name.startswith(want + "{")):
        total += float(line.rsplit(" ", 1)[1])
print(int(total))
PY
}
expect_eq "metrics: allowed requests by action and status" 6 \
    "$(metric 'scopegate_requests_total{action="applicationApiToken.get",decision="allow",status="200"}')"
expect_eq "metrics: denied for scope" 3 \
    "$(metric 'scopegate_requests_total{action="applicationApiToken.get",decision="deny",status="403"}')"
expect_eq "metrics: 401s" 3 \
    "$(metric 'scopegate_requests_total{action="applicationApiToken.get",decision="deny",status="401"}')"
expect_eq "metrics: latency histograms count every request" 13 "$(metric scopegate_request_duration_seconds_count)"
expect_eq "metrics: latency histogram of the action" 12 \
    "$(metric 'scopegate_request_duration_seconds_count{action="applicationApiToken.get"}')"

# The same text through the official Prometheus client's parser: it must
# parse, and hold the operator's figures.
PYPROM=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import prometheus_client' 2>/dev/null; then PYPROM=$py; break; fi
done
if [ -z "$PYPROM" ]; then
	not_ok "python3-prometheus-client is not installed (setup.sh installs it)"
else
	start=$(date +%s)
	promcheck() {
		local desc=$1
		shift
		if out=$("$PYPROM" "$top_srcdir/tests/integration/promcheck.py" "$T/metrics.txt" "$@" 2>&1); then
			ok "prometheus_client: $desc"
		else
			not_ok "prometheus_client: $desc: $out"
		fi
	}
	promcheck "per-action latency histogram" \
	    'scopegate_request_duration_seconds_count{action="applicationApiToken.get"} == 12' \
	    'scopegate_request_duration_seconds_bucket{action="applicationApiToken.get",le="+Inf"} == 12' \
	    'scopegate_request_duration_seconds_count{action="none"} == 1'
	promcheck "upstream latency histogram: the 6 forwarded requests" \
	    'scopegate_upstream_duration_seconds_count == 6' 'scopegate_upstream_duration_seconds_sum > 0'
	promcheck "process figures" 'process_resident_memory_bytes > 1000000' \
	    'process_open_fds > 3' 'process_max_fds >= 1024' 'process_cpu_seconds_total > 0' \
	    "process_start_time_seconds > $((start - 120))" "process_start_time_seconds <= $start"
	promcheck "revocations held, token keys in force, no Redis link" 'scopegate_revocations == 0' \
	    'scopegate_token_keys == 1' 'scopegate_redis_link_up# == 0'
	promcheck "reload state at start" 'scopegate_config_last_reload_success == 1' \
	    "scopegate_config_last_reload_timestamp_seconds > $((start - 120))" \
	    'scopegate_config_generation == 1'
	check "promcheck fails when a figure is wrong" sh -c \
	    "! '$PYPROM' '$top_srcdir/tests/integration/promcheck.py' '$T/metrics.txt' 'scopegate_token_keys == 2' 2>/dev/null"
fi
expect_eq "metrics: verified tokens" 9 "$(metric 'scopegate_token_verifications_total{result="ok"}')"
expect_eq "metrics: bad signatures" 1 "$(metric 'scopegate_token_verifications_total{result="bad_signature"}')"
check "metrics: cache hits counted (>= 4)" test "$(metric 'scopegate_token_cache_total{result="hit"}')" -ge 4
check "metrics: Prometheus TYPE lines" grep -q '^# TYPE scopegate_requests_total counter' "$T/metrics.txt"

# Reload: one good, one broken; counters and the notify protocol.
# (reload_and_wait: a reload under valgrind takes seconds.)
check "good reload" reload_and_wait
cp "$T/gw.json" "$T/gw.good"
echo '{ "listeners": ' > "$T/gw.json"
check "broken reload" reload_and_wait
cp "$T/gw.good" "$T/gw.json"
curl -s "$A/metrics" > "$T/metrics.txt"
expect_eq "metrics: reloads ok" 1 "$(metric 'scopegate_reloads_total{result="ok"}')"
expect_eq "metrics: reloads failed" 1 "$(metric 'scopegate_reloads_total{result="failed"}')"
expect_eq "metrics: generation" 2 "$(metric scopegate_config_generation)"
check "RELOADING=1 with MONOTONIC_USEC" grep -qE '^RELOADING=1\|MONOTONIC_USEC=[0-9]+' "$T/notify.log"
expect_eq "READY=1 after each reload (start + 2)" 3 "$(grep -c 'READY=1' "$T/notify.log")"
check "STATUS names the failed reload and its first error" \
    grep -qE '^STATUS=reload failed \(1 error\(s\): .*gw.json:.*\); serving generation 2$' "$T/notify.log"
expect_eq "metrics: last reload failed" 0 "$(metric scopegate_config_last_reload_success)"
now=$(date +%s)
check "metrics: last reload timestamp is now" \
    test $((now - $(metric scopegate_config_last_reload_timestamp_seconds))) -le 5

# A change only a restart applies: a second listener. The rest of the file
# is published, but the reload is not reported as applied, and the new port
# is not served.
NEW_PORT=$(free_port)
python3 - "$T/gw.json" "$NEW_PORT" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["listeners"].append({"address": "127.0.0.1", "port": int(sys.argv[2])})
json.dump(c, open(sys.argv[1], "w"))
PY
check "reload with a new listener" reload_and_wait
check "log: restart needed for the listeners" \
    grep -q 'warning: configuration generation 3 in force except listeners: restart needed' "$T/gateway.err"
check "log: the change is named, not applied live" \
    grep -q 'reload: listeners changed; not applied live, restart to apply it' "$T/gateway.err"
check "STATUS: restart needed, not serving as applied" \
    grep -q '^STATUS=generation 3 in force except listeners: restart needed$' "$T/notify.log"
check "the new listener is not served" sh -c "! curl -s -o /dev/null --max-time 2 http://127.0.0.1:$NEW_PORT/"
curl -s "$A/metrics" > "$T/metrics.txt"
expect_eq "metrics: restart required for listeners" 1 \
    "$(metric 'scopegate_config_restart_required{setting="listeners"}')"
expect_eq "metrics: the reload is counted as restart_needed" 1 \
    "$(metric 'scopegate_reloads_total{result="restart_needed"}')"
expect_eq "metrics: ... and not as ok" 1 "$(metric 'scopegate_reloads_total{result="ok"}')"
expect_eq "metrics: last reload not a success" 0 "$(metric scopegate_config_last_reload_success)"
# Another reload of the same file still needs the restart (compared with
# what the process started with, not with the previous reload).
check "same file reloaded" reload_and_wait
check "log: still restart needed" grep -q 'generation 4 in force except listeners' "$T/gateway.err"
# Back to the started listeners: everything in force again.
cp "$T/gw.good" "$T/gw.json"
check "reload back to the started listeners" reload_and_wait
check "log: generation 5 in force" grep -q 'info: configuration generation 5 in force$' "$T/gateway.err"
check "STATUS: serving generation 5" grep -q '^STATUS=serving, generation 5$' "$T/notify.log"
curl -s "$A/metrics" > "$T/metrics.txt"
expect_eq "metrics: last reload a success" 1 "$(metric scopegate_config_last_reload_success)"
check "metrics: no restart required any more" sh -c "! grep -q '^scopegate_config_restart_required{' '$T/metrics.txt'"
expect_eq "metrics: generation 5" 5 "$(metric scopegate_config_generation)"

# SIGUSR1: logrotate moves the file, the gateway reopens it.
mv "$T/access.log" "$T/access.log.1"
kill -USR1 "$GW_PID"
sleep 0.3
curl -s -o /dev/null -H "Authorization: Bearer $GOOD" "$U/$TOK"
sleep 0.2
check "SIGUSR1 reopened the access log" test -s "$T/access.log"
expect_eq "the old file kept its lines" 13 "$(wc -l < "$T/access.log.1" | tr -d ' ')"

# logrotate -f with the shipped snippet (installed as is; systemd-verify.sh
# checks the installed copy): only the log path and the way to signal this
# daemon (not a systemd service here) are changed for the test.
if command -v logrotate >/dev/null 2>&1; then
	sed -e "s|^/var/log/scopegate/\*.log {|$T/access.log {|" \
	    -e "s|systemctl kill --kill-whom=main --signal=USR1 scopegate.service|kill -USR1 $GW_PID|" \
	    "$top_srcdir/systemd/scopegate.logrotate" > "$T/logrotate.conf"
	check "logrotate config rewritten for the test" grep -q "kill -USR1 $GW_PID" "$T/logrotate.conf"
	before=$(wc -l < "$T/access.log" | tr -d ' ')
	check "logrotate -f" logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf"
	check "rotated file kept its lines" test "$(wc -l < "$T/access.log.1" | tr -d ' ')" = "$before"
	for _ in $(seq 1 600); do grep -c 'access log reopened' "$T/gateway.err" | grep -q 2 && break; sleep 0.1; done
	curl -s -o /dev/null -H "Authorization: Bearer $GOOD" "$U/$TOK"
	for _ in $(seq 1 100); do [ -s "$T/access.log" ] && break; sleep 0.1; done
	expect_eq "after logrotate the daemon writes to the new file" 1 "$(wc -l < "$T/access.log" | tr -d ' ')"
	check "the previous rotation was compressed" test -s "$T/access.log.2.gz"
else
	echo "# logrotate not installed: rotation test skipped"
fi

# Upstream gone: not ready.
kill "$UP_PID"; wait "$UP_PID" 2>/dev/null
expect_eq "/readyz with the upstream down" 503 "$(curl -s -o /dev/null -w '%{http_code}' "$A/readyz")"

kill -TERM "$GW_PID"
wait "$GW_PID"
expect_eq "exit 0 on SIGTERM" 0 "$?"
sleep 0.2
check "STOPPING=1 on SIGTERM" grep -q 'STOPPING=1' "$T/notify.log"
expect_eq "last line: exits and why" "scopegate: info: exiting with status 0: stopped by signal 15 (SIGTERM)" \
    "$(tail -n 1 "$T/gateway.err")"

# A port in use (a plain socket, no SO_REUSEPORT, so the daemon's bind
# fails): a fatal line, a last line saying it exits and why, status 1.
python3 - "$T/busy.port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(30)
PY
BUSY=$!
PIDS+=("$BUSY")
for _ in $(seq 1 50); do [ -s "$T/busy.port" ] && break; sleep 0.05; done
GW_PORT=$(cat "$T/busy.port")
write_config "$T/busy.json"
"$SCOPEGATE" -f -c "$T/busy.json" 2>"$T/busy.err"
expect_eq "port in use: exit status 1" 1 "$?"
check "port in use: the cause is logged" grep -q "cannot listen on 127.0.0.1:$GW_PORT: address in use" "$T/busy.err"
check "port in use: a fatal line" grep -q '^scopegate: fatal: ' "$T/busy.err"
check "port in use: the last line says it exits and why" \
    grep -q '^scopegate: warning: exiting with status 1: .*listeners' <(tail -n 1 "$T/busy.err")
# A configuration that does not load at start: fatal, exit line.
echo '{ "listeners": ' > "$T/broken.json"
"$SCOPEGATE" -f -c "$T/broken.json" 2>"$T/broken.err"
expect_eq "broken configuration: exit status 1" 1 "$?"
check "broken configuration: a fatal line" grep -q "^scopegate: fatal: $T/broken.json: 1 error(s), configuration not loaded" "$T/broken.err"
expect_eq "broken configuration: last line" "scopegate: warning: exiting with status 1: the configuration did not load" \
    "$(tail -n 1 "$T/broken.err")"
finish
