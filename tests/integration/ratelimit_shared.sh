#!/usr/bin/env bash
# ratelimit_shared.sh: "rate_limits" through two real gateway instances
# (two workers each) and one real redis-server (started here):
#  - a shared limit holds across both instances: a client loop split over
#    them gets within 10% of the configured rate over 10 s (a local limit, as a
#    contrast, lets each instance allow its own: about double);
#  - a flood on one action does not limit another action of the same
#    subject; what is refused never reaches the upstream; RateLimit-*
#    fields only where rate_limit_headers says so;
#  - Redis hung (SIGSTOP): no answer waits longer than shared_timeout_ms
#    plus a loop pass, each instance falls back to rate/expected_instances,
#    counted in /metrics; Redis stopped: the same at once, and a limit with
#    on_outage deny answers 503 with nothing forwarded;
#  - Redis back (empty): shared counting resumes without a restart, its
#    keys hashed (no subject in a Redis key name).
# Skipped (77) when redis-server is not installed.
. "$(dirname "$0")/lib.sh"

REDIS_SERVER=$(command -v redis-server || true)
REDIS_CLI=$(command -v redis-cli || true)
if [ -z "$REDIS_SERVER" ]; then
	echo "# SKIP: redis-server not installed (Debian package redis-server)"
	exit 77
fi
KEYS="$top_srcdir/tests/data/keys"
FLOOD="$top_srcdir/tests/integration/rlflood.py"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
DEV=5f0d0d0d0d0d0d0d0d0d0d0d
RPORT=$(free_port)
REDIS_PID=
start_redis() {
	"$REDIS_SERVER" --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
	    --daemonize no --dir "$T" --logfile "$T/redis.log" &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_port "$RPORT"
}
stop_redis() {
	kill -CONT "$REDIS_PID" 2>/dev/null
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
}
start_redis
start_upstream up

# The shared limit: 20/s, 10 at once, per subject, on tokens.get, with
# the default shared_timeout_ms (5 ms) in a plain build. Under valgrind or
# the sanitizers the gateway itself is 3 to 30 times slower, and a batch's
# answer is read a whole (slow) loop pass after Redis sent it: there 5 ms
# would mostly measure the instrumentation, and every late answer is a
# fallback that the rate checks below would count, so 60 ms. The waits
# are measured against whichever applies.
if [ -n "${UNDER_VALGRIND:-}" ] || ldd "$SCOPEGATE" 2>/dev/null | grep -q libasan; then
	TIMEOUT_MS=${TIMEOUT_MS:-60}
	TIMEOUT_KEY=", \"shared_timeout_ms\": $TIMEOUT_MS"
else
	TIMEOUT_MS=${TIMEOUT_MS:-5}
	TIMEOUT_KEY=
	[ "$TIMEOUT_MS" = 5 ] || TIMEOUT_KEY=", \"shared_timeout_ms\": $TIMEOUT_MS"
fi
SLACK_MS=${SLACK_MS:-250}
RATE=20
BURST=10
# config FILE GW_PORT ADMIN_PORT HEADERS [APP_BURST]
config() {
	GW_PORT=$2 write_config "$1" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"workers\": 2,
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $3 },
  \"revocations\": { \"redis\": \"redis://127.0.0.1:$RPORT${REDIS_DB_PATH:-}\" },
  \"rate_limit_headers\": $4,
  \"rate_limits\": [
    { \"match\": { \"actions\": [ \"applicationApiTokens.get\" ] }, \"key\": \"subject\",
      \"per_second\": $RATE, \"burst\": $BURST, \"scope\": \"shared\",
      \"expected_instances\": 2$TIMEOUT_KEY },
    { \"match\": { \"actions\": [ \"application.get\" ] }, \"key\": \"param:applicationId\",
      \"${APP_UNIT:-per_second}\": ${APP_RATE:-10}, \"burst\": ${5:-5} },
    { \"match\": { \"actions\": [ \"device.get\" ], \"methods\": [ \"GET\" ] },
      \"key\": \"claim:org\", \"per_minute\": 600, \"scope\": \"shared\",
      \"on_outage\": \"deny\"$TIMEOUT_KEY },
    { \"match\": { \"actions\": [ \"applicationApiToken.patch\" ] }, \"key\": \"token_id\",
      \"per_minute\": 600, \"scope\": \"shared\"$TIMEOUT_KEY }
  ]"
}
PA=$(free_port); AA=$(free_port); PB=$(free_port); AB=$(free_port)
config "$T/a.json" "$PA" "$AA" true
config "$T/b.json" "$PB" "$AB" false
check "scopegate -t accepts the configuration" "$SCOPEGATE" -t -c "$T/a.json"
GW_PORT=$PA start_gateway "$T/a.json"
GWA=$GW_PID
GW_PORT=$PB start_gateway "$T/b.json"

mint() {	# SUB SCOPE [ORG]
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --sub "$1" --jti "j-$1" \
	    --exp-in 600 --scope "$2" ${3:+--claim "org=\"$3\""}
}
ALICE=$(mint alice "applicationApiTokens.get application.get")
TOKENS=/applications/$APP/tokens
metric() {	# ADMIN_PORT NAME
	curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
# links_up ADMIN_PORT: wait until both workers' links are up.
links_up() {
	for _ in $(seq 1 100); do
		[ "$(metric "$1" scopegate_ratelimit_redis_links_up)" = 2 ] && return 0
		sleep 0.1
	done
	return 1
}
check "instance A: both workers' Redis links up" links_up "$AA"
check "instance B: both workers' Redis links up" links_up "$AB"
# json FILE EXPR
val() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# within FILE RATE BURST [LOW [LATE]]: allowed within 10% of burst + rate
# * elapsed (with LOW, between LOW times that and 10% over it; with LATE,
# that many more at most: answers Redis gave too late, which the fallback
# decided, each perhaps allowing one that Redis refused).
within() {
	python3 - "$1" "$2" "$3" "${4:-0.9}" "${5:-0}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); rate, burst = float(sys.argv[2]), float(sys.argv[3])
low, late = float(sys.argv[4]), int(sys.argv[5])
got = sum(v for k, v in d["statuses"].items() if k != "429")
want = burst + rate * d["elapsed"]
print("# allowed %d of %d in %.2f s, expected %.1f (+ %d late)" % (got, sum(d["statuses"].values()), d["elapsed"], want, late))
sys.exit(0 if low * want <= got <= 1.1 * want + late else 1)
PY
}

# --- shared limit across two instances ------------------------------------
# Over 10 s (the issue's measure): the burst is then a small part of
# what is allowed, the rate most of it.
n0=$(record_count)
fa0=$(metric "$AA" scopegate_ratelimit_fallback_total)
fb0=$(metric "$AB" scopegate_ratelimit_fallback_total)
python3 "$FLOOD" 10 "$TOKENS" "$ALICE" "$PA" "$PB" > "$T/shared.json"
cat "$T/shared.json" | sed 's/^/# /'
# A loaded machine (six test suites on two cores) was seen to answer up
# to 15 of these 3000 requests later than 5 ms: each is allowed for.
late=$(( $(metric "$AA" scopegate_ratelimit_fallback_total) - fa0 +
    $(metric "$AB" scopegate_ratelimit_fallback_total) - fb0 ))
check "shared: both instances together within 10% of $RATE/s (+ burst $BURST) over 10 s" \
    within "$T/shared.json" "$RATE" "$BURST" 0.9 "$late"
check "... nearly all decided by Redis in time ($late of $(val "$T/shared.json" "sum(d['statuses'].values())") late)" \
    test "$late" -le 100
check "shared: the flood was over the limit (429s seen on both instances)" \
    test "$(val "$T/shared.json" "d['per_port']['$PA'].get('429',0) > 0 and d['per_port']['$PB'].get('429',0) > 0")" = True
expect_eq "shared: no errors" 0 "$(val "$T/shared.json" "d['errors']")"
expect_eq "shared: only the allowed requests reached the upstream" \
    "$(val "$T/shared.json" "d['statuses'].get('200',0)")" $(( $(record_count) - n0 ))
expect_eq "shared: only 200 and 429" 0 \
    "$(val "$T/shared.json" "sum(v for k, v in d['statuses'].items() if k not in ('200','429'))")"
# One subject spends tokens.get (as fast as one keep-alive connection
# goes, until the first 429), then asks for application.get at once:
# another action, its own limit.
GINA=$(mint gina "applicationApiTokens.get application.get")
n0=$(record_count)
python3 - "$PA" "$TOKENS" "/applications/$APP" "$GINA" "$T" <<'PY'
import http.client, json, sys
port, spent, other, tok, t = sys.argv[1:]
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
h = {"Authorization": "Bearer " + tok}
code, n = 0, 0
while code != 429 and n < 500:
    c.request("GET", spent, headers=h)
    r = c.getresponse()
    body = r.read()
    code, n = r.status, n + 1
open(t + "/r.json", "wb").write(body)
open(t + "/h.txt", "w").write("".join("%s: %s\n" % kv for kv in r.getheaders()))
c.request("GET", other, headers=h)
r2 = c.getresponse()
r2.read()
open(t + "/h2.txt", "w").write("".join("%s: %s\n" % kv for kv in r2.getheaders()))
open(t + "/codes", "w").write("%d %d %d\n" % (code, r2.status, n))
PY
read -r code code2 ntries < "$T/codes"
n1=$(record_count)
echo "# tokens.get refused after $ntries requests"
# (Cells expire once their burst is whole again: look while gina's lives.)
if [ -n "$REDIS_CLI" ]; then
	keys=$("$REDIS_CLI" -p "$RPORT" --raw KEYS '*:rl:*')
	check "Redis holds the cells, hashed: $(echo "$keys" | head -1)" test -n "$keys"
	check "... no subject in a key name" sh -c "! echo '$keys' | grep -q -e gina -e alice"
fi
expect_eq "per action: the flooded action is limited" 429 "$code"
expect_eq "... in the Losant error shape" TooManyRequests "$(json_get "$T/r.json" 'd["type"]')"
check "... with Retry-After" grep -qi '^Retry-After: [1-9]' "$T/h.txt"
check "... and RateLimit-Remaining: 0 (headers on, instance A)" grep -qi '^RateLimit-Remaining: 0' "$T/h.txt"
# (The example upstream has no such application: its 404 says the
# request went through.)
expect_eq "per action: another action of the same subject is not limited" 404 "$code2"
expect_eq "... and reached the upstream (with the $((ntries - 1)) allowed before)" \
    $((n0 + ntries)) "$n1"
check "... RateLimit-Limit of its own limit (5)" grep -qi '^RateLimit-Limit: 5' "$T/h2.txt"
check "... RateLimit-Remaining 4" grep -qi '^RateLimit-Remaining: 4' "$T/h2.txt"
check "... RateLimit-Reset in seconds" grep -qi '^RateLimit-Reset: [0-9]' "$T/h2.txt"
code=$(curl -s -o /dev/null -D "$T/h.txt" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
    "http://127.0.0.1:$PB/applications/$APP")
expect_eq "instance B forwards it too" 404 "$code"
check "... without RateLimit-* (rate_limit_headers off by default)" \
    sh -c "! grep -qi '^RateLimit-' '$T/h.txt'"
BOB=$(mint bob applicationApiTokens.get)
expect_eq "another subject is not limited" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $BOB" "http://127.0.0.1:$PB$TOKENS")"

# --- local limit as a contrast: each instance counts alone -------------------
python3 "$FLOOD" 2 "/applications/$APP" "$ALICE" "$PA" "$PB" > "$T/local.json"
check "local: about double across two instances (each allows 10/s + 5)" \
    python3 -c "import json,sys; d=json.load(open('$T/local.json')); g=sum(v for k, v in d['statuses'].items() if k != '429'); w=5+10*d['elapsed']; print('# local allowed', g, 'one instance', round(w,1)); sys.exit(0 if g >= 1.6*w else 1)"

# --- Redis hung: waits bounded, fallback applies ------------------------------
f0=$(metric "$AA" scopegate_ratelimit_fallback_total)
CAROL=$(mint carol applicationApiTokens.get)
kill -STOP "$REDIS_PID"
python3 "$FLOOD" 2 "$TOKENS" "$CAROL" "$PA" "$PB" > "$T/hung.json"
# A body comes while its head waits for Redis: it is read and forwarded
# whole once the limit (here the fallback) allowed it.
PAT=$(mint pat applicationApiToken.patch)
n0=$(record_count)
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $PAT" \
    -H 'Content-Type: application/json' -d '{"name":"renamed-during-wait"}' \
    "http://127.0.0.1:$PA$TOKENS/5f1111111111111111111111")
expect_eq "a body sent during the wait: forwarded" 200 "$code"
expect_eq "... once" $((n0 + 1)) "$(record_count)"
expect_eq "... unchanged" '{"name":"renamed-during-wait"}' "$(json_get "$(last_line "$RECORD")" 'd["body"]')"
# Clients that go away while their request waits: the gateway forgets
# them (the sanitizer and valgrind runs check the memory) and goes on.
python3 - "$PA" "$PB" "$CAROL" <<'PY'
import socket, sys
for port in (int(sys.argv[1]), int(sys.argv[2])):
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(("GET /applications/5f0c0c0c0c0c0c0c0c0c0c0c/tokens HTTP/1.1\r\n"
                   "Host: x\r\nAuthorization: Bearer %s\r\n\r\n" % sys.argv[3]).encode())
        s.close()
PY
sleep 0.3
check "clients gone during the wait: instance A still answers" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PA/applications/$APP")" = 401
check "... instance B too" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PB/applications/$APP")" = 401
kill -CONT "$REDIS_PID"
cat "$T/hung.json" | sed 's/^/# /'
# The gateway's own measure (the access log's latency, from the head
# read to the answer): the wait plus one loop pass. A loop pass on a
# machine shared by sanitizer builds at load 10 was seen to take 200 ms:
# SLACK_MS (250 by default) allows for that and stays far below what an
# unbounded wait would show (the PING watchdog: 1 to 2 s; TCP: minutes).
sleep 0.3
maxus=$(grep '"subject":"carol"' "$T/access.log" | python3 -c '
import json, sys
print(max(json.loads(l)["latency_us"] for l in sys.stdin))')
check "hung Redis: no request waited longer than ${TIMEOUT_MS} ms + a loop pass (max $maxus us)" \
    test "$maxus" -lt $(( (TIMEOUT_MS + SLACK_MS) * 1000 ))
# While requests wait for a hung Redis, fewer come: the fallback is
# checked to let through no more than the shared rate, and most of it.
check "hung Redis: the fallback (rate / 2 on each of 2 instances) allows $RATE/s, not more" \
    within "$T/hung.json" "$RATE" "$BURST" 0.6
f1=$(metric "$AA" scopegate_ratelimit_fallback_total)
check "hung Redis: fallbacks counted in /metrics ($f0 -> $f1)" test "$f1" -gt "$f0"
check "hung Redis: the outage logged" grep -q 'rate limits: redis .* unavailable' "$T/gateway.err"

# --- Redis stopped: fallback at once, on_outage deny -> 503 ------------------
stop_redis
DAVE=$(mint dave applicationApiTokens.get)
python3 "$FLOOD" 1.5 "$TOKENS" "$DAVE" "$PA" "$PB" > "$T/down.json"
cat "$T/down.json" | sed 's/^/# /'
# (A stall of the machine at the start, bucket full, loses a few.)
check "Redis down: fallback allows $RATE/s, not more" within "$T/down.json" "$RATE" "$BURST" 0.7
sleep 0.3
maxus=$(grep '"subject":"dave"' "$T/access.log" | python3 -c '
import json, sys
print(max(json.loads(l)["latency_us"] for l in sys.stdin))')
check "Redis down: no request waited longer than ${TIMEOUT_MS} ms + a loop pass (max $maxus us)" \
    test "$maxus" -lt $(( (TIMEOUT_MS + SLACK_MS) * 1000 ))
expect_eq "metrics: links down" 0 "$(metric "$AA" scopegate_ratelimit_redis_links_up)"
check "metrics: an outage counted" test "$(metric "$AB" scopegate_ratelimit_redis_outages_total)" -ge 1
ERIN=$(mint erin device.get acme)
n0=$(record_count)
code=$(curl -s -o "$T/r.json" -w '%{http_code}' -H "Authorization: Bearer $ERIN" \
    "http://127.0.0.1:$PA/applications/$APP/devices/$DEV")
expect_eq "on_outage deny: 503" 503 "$code"
expect_eq "... ServiceUnavailable" ServiceUnavailable "$(json_get "$T/r.json" 'd["type"]')"
expect_eq "... nothing reached the upstream" "$n0" "$(record_count)"
check "... counted in /metrics" test "$(metric "$AA" scopegate_ratelimit_outage_denied_total)" -ge 1
sleep 0.3
last=$(last_line "$T/access.log")
expect_eq "... access log reason" rate_limit_unavailable "$(json_get "$last" 'd["reason"]')"

# --- Redis back: shared counting resumes ----------------------------------------
start_redis
check "Redis back: instance A's links up again" links_up "$AA"
check "Redis back: instance B's links up again" links_up "$AB"
check "... logged" grep -q 'shared limits counted in Redis again' "$T/gateway.err"
s0=$(metric "$AA" scopegate_ratelimit_shared_total)
FRANK=$(mint frank applicationApiTokens.get)
python3 "$FLOOD" 3 "$TOKENS" "$FRANK" "$PA" "$PB" > "$T/back.json"
cat "$T/back.json" | sed 's/^/# /'
check "Redis back: shared within 10% of $RATE/s again" within "$T/back.json" "$RATE" "$BURST"
s1=$(metric "$AA" scopegate_ratelimit_shared_total)
check "... decided by Redis ($s0 -> $s1)" test "$s1" -gt "$s0"
# Up to three tries: on a loaded machine one Redis answer can come later
# than shared_timeout_ms (5 ms natively), which is an outage for that
# request (503), as for the script reload below.
for i in 1 2 3; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ERIN" \
	    "http://127.0.0.1:$PB/applications/$APP/devices/$DEV")
	[ "$code" != 404 ] || break
	sleep 0.2
done
expect_eq "on_outage deny limit: forwarded again (the upstream's 404)" 404 "$code"
# The script gone from Redis (SCRIPT FLUSH, as after a failover): the
# NOSCRIPT answer makes the gateway send it whole, and Redis decides.
# Two round trips and a script compilation within shared_timeout_ms (5 ms
# natively): on a loaded machine the answer can be late and the request
# decided by the fallback (seen once: 1954 for 1955); tried up to three
# times, each after its own SCRIPT FLUSH.
if [ -n "$REDIS_CLI" ]; then
	for try in 1 2 3; do
		"$REDIS_CLI" -p "$RPORT" SCRIPT FLUSH >/dev/null
		f0=$(metric "$AA" scopegate_ratelimit_fallback_total)
		s0=$(metric "$AA" scopegate_ratelimit_shared_total)
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOB" \
		    "http://127.0.0.1:$PA$TOKENS")
		[ "$(metric "$AA" scopegate_ratelimit_fallback_total)" = "$f0" ] && break
		echo "# after SCRIPT FLUSH, try $try: the answer came late (fallback)"
	done
	expect_eq "after SCRIPT FLUSH: allowed" 200 "$code"
	expect_eq "... decided by Redis" $((s0 + 1)) "$(metric "$AA" scopegate_ratelimit_shared_total)"
	expect_eq "... not by the fallback" "$f0" "$(metric "$AA" scopegate_ratelimit_fallback_total)"
	check "... the script sent whole (EVAL)" sh -c "'$REDIS_CLI' -p '$RPORT' INFO commandstats | grep -q '^cmdstat_eval:calls=[1-9]'"
fi

# --- reload: new limits for new requests; a bad one keeps the old ---------------
APP2=5f0e0e0e0e0e0e0e0e0e0e0e
APP_UNIT=per_minute APP_RATE=1 config "$T/a.json" "$PA" "$AA" true 1
GW_PID=$GWA
check "reload with application.get at 1 per minute, burst 1" reload_and_wait
codes=""
for i in 1 2; do
	codes="$codes$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
	    "http://127.0.0.1:$PA/applications/$APP2")"
done
expect_eq "after the reload: one at once, the second refused" 404429 "$codes"
APP_UNIT=per_minute APP_RATE=0 config "$T/a.json" "$PA" "$AA" true 5
check "a reload with a zero rate ..." reload_and_wait
check "... fails, naming the limit's pointer" grep -q 'a.json: /rate_limits/1/per_minute: must be between 1' "$T/gateway.err"
expect_eq "... and the old limits stay" 429 "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $ALICE" "http://127.0.0.1:$PA/applications/$APP2")"

# --- a reload moving Redis: restart needed, shared limits stay where they were --
if [ -n "$REDIS_CLI" ]; then
	REDIS_DB_PATH=/1 config "$T/a.json" "$PA" "$AA" true
	check "a reload moving Redis to db 1 ..." reload_and_wait
	check "... says restart needed" grep -q 'revocations.redis.*restart needed\|restart needed.*revocations.redis' "$T/gateway.err"
	s0=$(metric "$AA" scopegate_ratelimit_shared_total)
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
	    "http://127.0.0.1:$PA$TOKENS")
	expect_eq "... a shared-limited request after it: allowed" 200 "$code"
	expect_eq "... decided by Redis" $((s0 + 1)) "$(metric "$AA" scopegate_ratelimit_shared_total)"
	expect_eq "... in the database the process started with, none in db 1" 0 \
	    "$("$REDIS_CLI" -p "$RPORT" -n 1 --scan --pattern '*:rl:*' | wc -l)"
fi
finish
