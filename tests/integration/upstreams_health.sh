#!/bin/bash
# upstreams_health.sh: active health checks of named upstreams through the
# real daemon, with real example upstream processes killed and restarted.
# Passive ejection is off here, so every "down" is the active check's
# doing. Checks reach each server on its path; a server killed under a
# 4-client load loop is marked down within interval x unhealthy_threshold
# (plus one check's timeout), after which it gets no more attempts (its
# connect errors stop growing) and no idempotent request failed; restarted,
# it is marked up and gets traffic again; a reload under the same load
# swaps a server, checked at once; all servers down answer 503 in
# the Losant error shape at once and /readyz says which upstream is not
# ready (also for a routed upstream that is not the default, never for an
# unrouted one); bad health_check settings are refused at their JSON
# pointers by -t and by a reload, which keeps the old configuration.
# connect_timeout_ms bounds a TLS handshake that never ends, timeout_ms
# (not the shorter connect bound) an answer that never comes.
# route_settings give an action (or glob) its own upstream timeout and
# body limit, the first entry naming an action winning; bad entries are
# refused at their pointers and a reload with one keeps the old values.
. "$(dirname "$0")/lib.sh"

INTERVAL=200
UNHEALTHY=2
HC_TIMEOUT=150
# What polling and a busy machine add to a measured time (seconds); more
# with the daemon under valgrind.
SLACK=0.3 SLACK_MS=300
[ -n "${UNDER_VALGRIND:-}" ] && SLACK=1.5 SLACK_MS=1500

declare -A HPID HPORT
restart_upstream() {	# NAME [PORT]: (re)start it, on PORT when given
	local name=$1 port=${2:-0} i
	rm -f "$T/$name.port"
	"$UPSTREAM_BIN" --listen "127.0.0.1:$port" --port-file "$T/$name.port" \
	    --record "$T/$name.record" --quiet 2>>"$T/$name.err" &
	HPID[$name]=$!
	PIDS+=("$!")
	for i in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.05
	done
	HPORT[$name]=$(cat "$T/$name.port")
	touch "$T/$name.record"
}
for n in h1 h2 h3 h4 s1; do restart_upstream $n; done
THIRD=h3	# trio's third server; a reload swaps in h4
DEAD=$(free_port)	# nothing listens there
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
GW="http://127.0.0.1:$GW_PORT"
ADM="http://127.0.0.1:$ADMIN_PORT"

# gwconf FILE [HEALTH_CHECK_JSON of trio]
gwconf() {
	local hc=${2:-"{ \"path\": \"/__test/echo/health\", \"interval_ms\": $INTERVAL, \"timeout_ms\": $HC_TIMEOUT, \"healthy_threshold\": 2, \"unhealthy_threshold\": $UNHEALTHY }"}
	cat > "$1" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "workers": 2,
  "upstreams": {
    "trio": {
      "servers": [ { "url": "http://127.0.0.1:${HPORT[h1]}" }, { "url": "http://127.0.0.1:${HPORT[h2]}" },
                   { "url": "http://127.0.0.1:${HPORT[$THIRD]}" } ],
      "retries": 2,
      "outlier": { "consecutive_failures": 0 },
      "health_check": $hc
    },
    "spare": {
      "servers": [ { "url": "http://127.0.0.1:${HPORT[s1]}" } ],
      "health_check": { "path": "/__test/status?code=204", "interval_ms": $INTERVAL,
                        "timeout_ms": $HC_TIMEOUT, "unhealthy_threshold": 1, "expected_status": [ 204 ] }
    },
    "idle": {
      "servers": [ { "url": "http://127.0.0.1:$DEAD" } ],
      "health_check": { "path": "/", "interval_ms": $INTERVAL, "timeout_ms": $HC_TIMEOUT }
    }
  },
  "default_upstream": "trio",
  "upstream_routes": [ { "path_prefix": "/spare", "upstream": "spare" } ],
  "admin": { "address": "127.0.0.1", "port": $ADMIN_PORT },
  "log": { "access": "$T/access.log" }
}
EOT
}
gwconf "$T/gw.json"
check "health checks pass -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json" || { not_ok "gateway started"; finish; }

PYPROM=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import prometheus_client' 2>/dev/null; then PYPROM=$py; break; fi
done
[ -n "$PYPROM" ] || { not_ok "python3-prometheus-client is not installed (setup.sh installs it)"; finish; }
metrics() { curl -s "$ADM/metrics" > "$T/metrics.txt"; }
prom() { metrics; "$PYPROM" "$top_srcdir/tests/integration/promcheck.py" "$T/metrics.txt" "$@"; }
srv() { echo "http://127.0.0.1:${HPORT[$1]}"; }
# wait_prom SECONDS CHECK...: poll /metrics until the checks hold.
# wait_prom_ms T0 SECONDS CHECK...: the same, printing the milliseconds
# from T0 (date +%s%3N) until they were seen to hold.
wait_prom() {
	"$PYPROM" "$top_srcdir/tests/integration/promwait.py" "$ADM/metrics" "$@" > /dev/null
}
wait_prom_ms() {
	local t0=$1 seen
	shift
	seen=$("$PYPROM" "$top_srcdir/tests/integration/promwait.py" "$ADM/metrics" "$@") &&
	    echo $((seen - t0))
}

check "every server of trio is checked and up" wait_prom 5 \
    "scopegate_upstream_server_healthy{upstream=\"trio\"}==3" \
    "scopegate_upstream_server_health_checks_total{upstream=\"trio\",result=\"ok\"}>=3"
check "the check went to each server on its path, with Host and User-Agent" \
    python3 - "$T/h1.record" "$T/h2.record" "$T/h3.record" <<'PY'
import json, sys
for f in sys.argv[1:]:
    recs = [json.loads(l) for l in open(f) if l.strip()]
    hits = [r for r in recs if r.get("uri") == "/__test/echo/health"]
    assert hits and all(r["method"] == "GET" for r in hits), (f, recs[:2])
    hdrs = {k.lower(): v for k, v in hits[0]["headers"]}
    assert hdrs.get("user-agent") == "scopegate-health-check", hdrs
    assert hdrs.get("host", "").startswith("127.0.0.1:"), hdrs
PY
check "the server nobody routes to is down (nothing listens)" wait_prom 5 \
    "scopegate_upstream_server_healthy{upstream=\"idle\"}==0"
code=$(curl -s -o "$T/ready.json" -w '%{http_code}' "$ADM/readyz")
expect_eq "/readyz ready: an unrouted upstream down does not count" 200 "$code"

# --- per-server figures: 5xx, latency histogram -----------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' "$GW/__test/status?code=503")
expect_eq "a server's 503 passes through" 503 "$code"
check "/metrics: counted as a 5xx of trio, once" \
    prom "scopegate_upstream_server_errors_total{upstream=\"trio\",kind=\"5xx\"}==1" \
    "scopegate_upstream_server_duration_seconds_count{upstream=\"trio\"}==1" \
    "scopegate_upstream_server_duration_seconds_bucket{upstream=\"trio\",le=\"+Inf\"}==1" \
    "scopegate_upstream_server_duration_seconds_bucket#{upstream=\"trio\"}==45"

# --- one server killed under load ----------------------------------------------
rm -f "$T/stop"
python3 "$top_srcdir/tests/integration/loadloop.py" "$GW_PORT" /__test/echo x "$T/stop" > "$T/load.json" &
LOOP=$!
PIDS+=("$LOOP")
sleep 0.5
t0=$(date +%s%3N)
kill -9 "${HPID[h2]}"
wait "${HPID[h2]}" 2>/dev/null
ms=$(wait_prom_ms "$t0" 5 "scopegate_upstream_server_healthy{server=\"$(srv h2)\"}==0")
check "the killed server is marked down" [ -n "$ms" ]
# One check may have just passed when it died: at most the next
# unhealthy_threshold checks, each failing within its timeout, plus the
# polling's own slack.
limit=$((INTERVAL * UNHEALTHY + HC_TIMEOUT + SLACK_MS))
check "within interval x unhealthy_threshold (+ one timeout): ${ms} ms <= $limit ms" \
    [ "${ms:-99999}" -le "$limit" ]
check "the log says so" grep -q "upstream trio: server $(srv h2) failed $UNHEALTHY health checks in a row.*: down" "$T/gateway.err"
check "its connections are closed (gauge 0) and the others' open" \
    wait_prom 5 "scopegate_upstream_server_connections{server=\"$(srv h2)\"}==0" \
    "scopegate_upstream_server_connections{upstream=\"trio\"}>=2"
sleep 0.3
metrics
c0=$(grep -F "scopegate_upstream_server_errors_total{upstream=\"trio\",server=\"$(srv h2)\",kind=\"connect\"}" "$T/metrics.txt" | awk '{print $NF}')
sleep 1
check "while down it gets no more attempts (connect errors stay at $c0)" \
    prom "scopegate_upstream_server_errors_total{server=\"$(srv h2)\",kind=\"connect\"}==$c0"
code=$(curl -s -o "$T/ready.json" -w '%{http_code}' "$ADM/readyz")
expect_eq "/readyz still ready with two of three servers up" 200 "$code"

# --- restarted, it comes back ----------------------------------------------------
t0=$(date +%s%3N)
restart_upstream h2 "${HPORT[h2]}"
ms=$(wait_prom_ms "$t0" 5 "scopegate_upstream_server_healthy{server=\"$(srv h2)\"}==1")
check "restarted, it is marked up again ($ms ms)" [ -n "$ms" ]
check "the log says so" grep -q "upstream trio: server $(srv h2) passed 2 health checks in a row: up" "$T/gateway.err"
n0=$(grep -c '"/__test/echo"' "$T/h2.record")
sleep 1
check "and gets traffic again" [ "$(grep -c '"/__test/echo"' "$T/h2.record")" -gt "$n0" ]
# A reload under load swaps h3 for h4: h4 is checked at once and gets
# traffic, h3 none, and the other servers' verdicts stay.
THIRD=h4
gwconf "$T/gw.json"
check "reload replacing h3 by h4 under load" reload_and_wait
check "h4 is checked and up" wait_prom 5 \
    "scopegate_upstream_server_healthy{server=\"$(srv h4)\"}==1" \
    "scopegate_upstream_server_health_checks_total{server=\"$(srv h4)\",result=\"ok\"}>=1"
sleep 0.3
n3=$(grep -c '"/__test/echo"' "$T/h3.record"); n4=$(grep -c '"/__test/echo"' "$T/h4.record")
sleep 1
expect_eq "h3 gets no more requests" "$n3" "$(grep -c '"/__test/echo"' "$T/h3.record")"
check "h4 gets traffic" [ "$(grep -c '"/__test/echo"' "$T/h4.record")" -gt "$n4" ]
touch "$T/stop"
wait "$LOOP"
expect_eq "no request failed or reset under load" 0 "$(json_get "$T/load.json" 'd["errors"]')"
expect_eq "only 200 answers under load" 200 "$(json_get "$T/load.json" '",".join(sorted(d["statuses"]))')"
check "the load loop really ran (>= 200 requests)" \
    [ "$(json_get "$T/load.json" 'sum(d["statuses"].values())')" -ge 200 ]
n=$(json_get "$T/load.json" 'sum(d["statuses"].values())')
check "/metrics: a latency observation per answer of the load loop (>= $n)" \
    prom "scopegate_upstream_server_duration_seconds_count{upstream=\"trio\"}>=$n" \
    "scopegate_upstream_server_duration_seconds_count{server=\"$(srv h2)\"}>=1"

# --- every server down: 503 at once, /readyz names the upstream -------------------
for n in h1 h2 h4; do kill -9 "${HPID[$n]}"; wait "${HPID[$n]}" 2>/dev/null; done
check "all three marked down" wait_prom 5 "scopegate_upstream_server_healthy{server=\"$(srv h1)\"}==0" \
    "scopegate_upstream_server_healthy{server=\"$(srv h2)\"}==0" \
    "scopegate_upstream_server_healthy{server=\"$(srv h4)\"}==0"
check "the server the reload removed is no longer checked (-1)" \
    prom "scopegate_upstream_server_healthy{server=\"$(srv h3)\"}==-1"
code=$(curl -s -o "$T/ready.json" -w '%{http_code}' "$ADM/readyz")
expect_eq "/readyz not ready" 503 "$code"
check "and says which upstream" grep -q '"reason":"upstream trio: no server passes its health check"' "$T/ready.json"
read -r code t < <(curl -s -o "$T/503.json" -w '%{http_code} %{time_total}\n' -m 5 "$GW/__test/echo")
expect_eq "a request gets 503" 503 "$code"
check "at once ($t s)" python3 -c "import sys; sys.exit(float('$t') >= 0.7 + $SLACK)"
expect_eq "in the Losant error shape" "ServiceUnavailable" "$(json_get "$T/503.json" 'd["type"]')"
for n in h1 h2 h4; do restart_upstream $n "${HPORT[$n]}"; done
check "restarted, all up again" wait_prom 5 "scopegate_upstream_server_healthy{server=\"$(srv h1)\"}==1" \
    "scopegate_upstream_server_healthy{server=\"$(srv h2)\"}==1" \
    "scopegate_upstream_server_healthy{server=\"$(srv h4)\"}==1"
code=$(curl -s -o "$T/ready.json" -w '%{http_code}' "$ADM/readyz")
expect_eq "/readyz ready again" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$GW/__test/echo")
expect_eq "and requests pass again" 200 "$code"

# --- a routed upstream that is not the default ------------------------------------
kill -9 "${HPID[s1]}"; wait "${HPID[s1]}" 2>/dev/null
check "its only server marked down" wait_prom 5 "scopegate_upstream_server_healthy{upstream=\"spare\"}==0"
code=$(curl -s -o "$T/ready.json" -w '%{http_code}' "$ADM/readyz")
expect_eq "/readyz not ready when a routed upstream has no server up" 503 "$code"
check "naming it" grep -q 'upstream spare: no server' "$T/ready.json"
n0=$(wc -l < "$T/h1.record")
code=$(curl -s -o /dev/null -w '%{http_code}' "$GW/spare/x")
expect_eq "its requests get 503" 503 "$code"
restart_upstream s1 "${HPORT[s1]}"
check "restarted, up (one 204 is enough after a fall: healthy_threshold 2)" \
    wait_prom 5 "scopegate_upstream_server_healthy{upstream=\"spare\"}==1"
code=$(curl -s -o "$T/ready.json" -w '%{http_code}' "$ADM/readyz")
expect_eq "/readyz ready again" 200 "$code"

# --- bad health_check settings -------------------------------------------------------
bad() {	# WHAT HEALTH_CHECK_JSON POINTER
	gwconf "$T/bad.json" "$2"
	"$SCOPEGATE" -t -c "$T/bad.json" > "$T/bad.out" 2>&1
	check "-t refuses $1 at $3" grep -qF "$3" "$T/bad.out"
}
HC=/upstreams/trio/health_check
bad "a path without a leading slash" '{ "path": "health" }' "$HC/path"
bad "a path with a space" '{ "path": "/a b" }' "$HC/path"
bad "healthy_threshold 0" '{ "path": "/h", "healthy_threshold": 0 }' "$HC/healthy_threshold"
bad "unhealthy_threshold 0" '{ "path": "/h", "unhealthy_threshold": 0 }' "$HC/unhealthy_threshold"
bad "interval_ms 0" '{ "path": "/h", "interval_ms": 0 }' "$HC/interval_ms"
bad "timeout_ms 0" '{ "path": "/h", "timeout_ms": 0 }' "$HC/timeout_ms"
bad "a timeout longer than the interval" '{ "path": "/h", "interval_ms": 500, "timeout_ms": 600 }' "$HC"
bad "a status out of range" '{ "path": "/h", "expected_status": [ 200, 600 ] }' "$HC/expected_status/1"
bad "a reversed range" '{ "path": "/h", "expected_status": [ "299-200" ] }' "$HC/expected_status/0"
bad "an empty status list" '{ "path": "/h", "expected_status": [ ] }' "$HC/expected_status"
bad "a Host with CRLF" '{ "path": "/h", "host": "a\r\nX: y" }' "$HC/host"
bad "a missing path" '{ "interval_ms": 1000 }' "$HC"
bad "an unknown key" '{ "path": "/h", "intervall_ms": 1000 }' "$HC/intervall_ms"
gwconf "$T/gw.json" '{ "path": "nope", "unhealthy_threshold": 0 }'
check "a reload with a bad health check" reload_and_wait
check "is refused at its JSON pointer" grep -q "$HC/path" "$T/gateway.err"
prom "scopegate_upstream_server_health_checks_total{upstream=\"trio\",result=\"ok\"}>=0"
before=$("$PYPROM" - "$T/metrics.txt" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
t = 0
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        if s.name == "scopegate_upstream_server_health_checks_total" and s.labels.get("upstream") == "trio" and s.labels["result"] == "ok":
            t += s.value
print(int(t))
PY
)
sleep 0.6
check "the old checks keep running" \
    prom "scopegate_upstream_server_health_checks_total{upstream=\"trio\",result=\"ok\"}>$before"
code=$(curl -s -o /dev/null -w '%{http_code}' "$GW/__test/echo")
expect_eq "and the old configuration serves" 200 "$code"
check "gateway still running" kill -0 "$GW_PID"
# --- connect_timeout_ms apart from timeout_ms ----------------------------------------
# A server that accepts TCP connections and never says a word: over TLS
# the handshake never ends (connect_timeout_ms bounds it); over plain
# HTTP the connection is made at once and the answer never comes
# (timeout_ms bounds that, not the shorter connect_timeout_ms).
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
"$PYPROM" -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    held.append(s.accept()[0])
' "$T/silent.port" &
PIDS+=("$!")
for i in $(seq 1 100); do [ -s "$T/silent.port" ] && break; sleep 0.05; done
SP=$(cat "$T/silent.port")
GW_PORT=$(free_port)
GW="http://127.0.0.1:$GW_PORT"
cat > "$T/ct.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "upstreams": {
    "tls": { "servers": [ { "url": "https://127.0.0.1:$SP" } ], "tls": { "verify": false },
             "connect_timeout_ms": 300, "timeout_ms": 4000, "retries": 0 },
    "plain": { "servers": [ { "url": "http://127.0.0.1:$SP" } ],
               "connect_timeout_ms": 300, "timeout_ms": 1500, "retries": 0 }
  },
  "default_upstream": "tls",
  "upstream_routes": [ { "path_prefix": "/plain", "upstream": "plain" } ],
  "admin": { "address": "127.0.0.1", "port": $ADMIN_PORT }
}
EOT
check "connect_timeout_ms passes -t" "$SCOPEGATE" -t -c "$T/ct.json"
start_gateway "$T/ct.json" || { not_ok "third gateway started"; finish; }
read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -m 10 "$GW/x")
expect_eq "a TLS handshake that never ends: 504" 504 "$code"
check "after connect_timeout_ms, not timeout_ms ($t s)" \
    "$PYPROM" -c "import sys; sys.exit(not (0.25 <= float('$t') < 1.7 + $SLACK))"
check "logged as a connect timeout" grep -q "timeout connecting (TLS handshake included)" "$T/gateway.err"
read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -m 10 "$GW/plain")
expect_eq "connected, no answer: 504" 504 "$code"
check "after timeout_ms, not connect_timeout_ms ($t s)" \
    "$PYPROM" -c "import sys; sys.exit(not (1.4 <= float('$t') < 3.7 + $SLACK))"
check "/metrics: each a timeout of its server, no answer observed" \
    prom "scopegate_upstream_server_errors_total{upstream=\"tls\",kind=\"timeout\"}==1" \
    "scopegate_upstream_server_errors_total{upstream=\"plain\",kind=\"timeout\"}==1" \
    "scopegate_upstream_server_duration_seconds_count{upstream=\"plain\"}==0"
bad_ct() {
	sed "s/\"connect_timeout_ms\": 300, \"timeout_ms\": 1500/\"connect_timeout_ms\": $1, \"timeout_ms\": 1500/" \
	    "$T/ct.json" > "$T/ctbad.json"
	"$SCOPEGATE" -t -c "$T/ctbad.json" > "$T/bad.out" 2>&1
	check "-t refuses connect_timeout_ms $1 at its pointer" \
	    grep -qF "/upstreams/plain/connect_timeout_ms" "$T/bad.out"
}
bad_ct 0
bad_ct '"300"'
check "gateway still running" kill -0 "$GW_PID"
# --- route_settings: a timeout and a body limit per action --------------------------
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
cat > "$T/rs-policy.json" <<'EOT'
{ "actions": [
  { "action": "slow.get", "method": "GET", "path": "/__test/slow", "public": true },
  { "action": "slow.post", "method": "POST", "path": "/__test/slow", "public": true },
  { "action": "echo.post", "method": "POST", "path": "/__test/echo", "public": true } ] }
EOT
GW_PORT=$(free_port)
GW="http://127.0.0.1:$GW_PORT"
# rsconf FILE ROUTE_SETTINGS_JSON
rsconf() {
	cat > "$1" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "workers": 1,
  "policy": "$T/rs-policy.json",
  "upstreams": { "one": { "servers": [ { "url": "http://127.0.0.1:${HPORT[h1]}" } ], "timeout_ms": 3000 } },
  "route_settings": $2
}
EOT
}
rsconf "$T/rs.json" '[ { "actions": [ "slow.get" ], "timeout_ms": 300 },
                       { "actions": [ "echo.*" ], "max_body_bytes": 10 },
                       { "actions": [ "slow.*", "echo.post" ], "timeout_ms": 2000, "max_body_bytes": 1 } ]'
check "route_settings pass -t" "$SCOPEGATE" -t -c "$T/rs.json"
start_gateway "$T/rs.json" || { not_ok "fourth gateway started"; finish; }
n0=$(wc -l < "$T/h1.record")
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 0123456789 "$GW/__test/echo")
expect_eq "echo.post: 10 bytes, its own limit, pass (the later glob does not override)" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 0123456789A "$GW/__test/echo")
expect_eq "echo.post: 11 bytes: 413" 413 "$code"
expect_eq "and only the first reached the server" $((n0 + 1)) "$(wc -l < "$T/h1.record")"
# The first on the connection the echo left idle, the second on a new
# one (a timed-out connection is closed): both paths get the bound.
for i in 1 2; do
	read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -m 10 "$GW/__test/slow?ms=1500")
	expect_eq "slow.get ($i): its own 300 ms timeout gives 504" 504 "$code"
	check "after about 300 ms, not the upstream's 3 s nor the answer's 1.5 s ($t s)" \
	    "$PYPROM" -c "import sys; sys.exit(not (0.25 <= float('$t') < 0.9 + $SLACK))"
done
read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -m 10 -X POST "$GW/__test/slow?ms=1000")
expect_eq "slow.post: the glob's 2 s timeout lets a 1 s answer through" 200 "$code"
read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -m 10 -X POST "$GW/__test/slow?ms=2500")
expect_eq "slow.post: a 2.5 s answer gets 504" 504 "$code"
check "after about 2 s, not the upstream's 3 s ($t s)" \
    "$PYPROM" -c "import sys; sys.exit(not (1.9 <= float('$t') < 2.6 + $SLACK))"
bad_rs() {	# WHAT JSON POINTER
	rsconf "$T/rsbad.json" "$2"
	"$SCOPEGATE" -t -c "$T/rsbad.json" > "$T/bad.out" 2>&1
	check "-t refuses $1 at $3" grep -qF "$3:" "$T/bad.out"
}
bad_rs "a glob matching no action" '[ { "actions": [ "slow.gte" ], "timeout_ms": 10 } ]' /route_settings/0/actions/0
bad_rs "timeout_ms 0" '[ { "actions": [ "slow.get" ], "timeout_ms": 0 } ]' /route_settings/0/timeout_ms
bad_rs "a negative body limit" '[ { "actions": [ "slow.get" ], "max_body_bytes": -1 } ]' /route_settings/0/max_body_bytes
bad_rs "an entry setting nothing" '[ { "actions": [ "slow.get" ] } ]' /route_settings/0
bad_rs "no actions" '[ { "timeout_ms": 10 } ]' /route_settings/0
bad_rs "an action that is not a name" '[ { "actions": [ "slow get" ], "timeout_ms": 10 } ]' /route_settings/0/actions/0
rsconf "$T/rs.json" '[ { "actions": [ "slow.get" ], "timeout_ms": 0 } ]'
check "a reload with a bad route setting" reload_and_wait
read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -m 10 "$GW/__test/slow?ms=1500")
expect_eq "is refused: slow.get keeps its 300 ms timeout" 504 "$code"
check "gateway still running" kill -0 "$GW_PID"
finish
