#!/usr/bin/env bash
# ratelimit_late.sh: a late Redis answer gives no second budget. One
# gateway (one worker), one real redis-server, a shared limit of 5 per
# hour, burst 5, per subject, with the default shared_timeout_ms (5 ms)
# and expected_instances 1; 5 requests one by one (answered in time:
# the burst taken in Redis), then waves of concurrent requests with one
# token, each on its own connection, all written at once:
#  - a wave while Redis sleeps (DEBUG SLEEP, sent just before it): every
#    answer is late, every request falls back to the local cell;
#  - a plain wave (a long loop pass: some answers come late, some not);
#  - the same two again;
# then, another subject, three plain waves from a whole burst (the red
# team's reproduction).
# In all, at most 5 admitted (the burst; nothing comes back in an hour),
# only those reached the upstream, every other request got 429, and the
# fallback was used (/metrics). The attack this is: requests that fell
# back were admitted from a local budget that what Redis had admitted on
# this instance never charged (twice the burst, 10, before the fix).
# Skipped (77) when redis-server is not installed.
. "$(dirname "$0")/lib.sh"

REDIS_SERVER=$(command -v redis-server || true)
REDIS_CLI=$(command -v redis-cli || true)
if [ -z "$REDIS_SERVER" ] || [ -z "$REDIS_CLI" ]; then
	echo "# SKIP: redis-server or redis-cli not installed (Debian package redis-server)"
	exit 77
fi
KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
N=${N:-250}	# requests per wave
RPORT=$(free_port)
"$REDIS_SERVER" --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$T" --logfile "$T/redis.log" --enable-debug-command local &
PIDS+=("$!")
wait_port "$RPORT"
start_upstream up

GW_PORT=$(free_port)
ADMIN=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"workers\": 1,
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN },
  \"revocations\": { \"redis\": \"redis://127.0.0.1:$RPORT\" },
  \"rate_limits\": [
    { \"match\": { \"actions\": [ \"applicationApiTokens.get\" ] }, \"key\": \"subject\",
      \"per_hour\": 5, \"burst\": 5, \"scope\": \"shared\" }
  ]"
start_gateway "$T/gw.json"
. "$(dirname "$0")/rl_lib.sh"
wait_link
expect_eq "the worker's Redis link is up" 1 "$(metric scopegate_ratelimit_redis_links_up)"
TOKEN=$(mint mallory)
EVE=$(mint eve)
# The tokens verified once before (the key cache), on an action no limit
# matches, so that a wave's requests reach the limit together.
for t in "$TOKEN" "$EVE"; do
	curl -s -o /dev/null -H "Authorization: Bearer $t" "http://127.0.0.1:$GW_PORT/applications/$APP"
done

# wave FILE SLEEP_MS [TOKEN]: N requests, each on its own connection: all
# connections opened, then (SLEEP_MS > 0) Redis told to sleep that long,
# then every request written, then every answer read. Writes
# {status: count}.
wave() {
	python3 - "$GW_PORT" "/applications/$APP/tokens" "${3:-$TOKEN}" "$N" "$RPORT" "$2" > "$1" <<'PY'
import json, socket, sys, time
port, path, tok, n, rport, sleep_ms = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
if sleep_ms > 0:
    r = socket.create_connection(("127.0.0.1", rport))
    r.sendall(b"DEBUG SLEEP %.3f\r\n" % (sleep_ms / 1000))
    time.sleep(0.01)	# Redis is asleep before the first request
req = ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
       "Authorization: Bearer %s\r\n\r\n" % (path, tok)).encode()
for s in socks:
    s.sendall(req)
out = {}
for s in socks:
    s.settimeout(30)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "none"
    out[status] = out.get(status, 0) + 1
if sleep_ms > 0:
    r.settimeout(30)
    if not r.recv(64).startswith(b"+OK"):
        out["debug-sleep-failed"] = 1
print(json.dumps(out))
PY
}
val() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

n0=$(record_count)
# First 5 one after the other: Redis answers each in time and admits it
# (the burst). The local cell is the fallback's; before the fix nothing
# but fallbacks charged it, so the sleeping wave below got 5 more.
total=0
for _ in 1 2 3 4 5; do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	    "http://127.0.0.1:$GW_PORT/applications/$APP/tokens")" = 200 ] && total=$((total + 1))
done
echo "# one by one: $total of 5 allowed"
i=0
for sleep_ms in 300 0 300 0; do
	i=$((i + 1))
	wave "$T/w$i.json" "$sleep_ms"
	sed "s/^/# wave $i (Redis asleep $sleep_ms ms): /" "$T/w$i.json"
	ok=$(val "$T/w$i.json" "d.get('200', 0)")
	expect_eq "wave $i: all $N answered 200 or 429 ($ok allowed)" "$N" \
	    "$(val "$T/w$i.json" "d.get('200', 0) + d.get('429', 0)")"
	total=$((total + ok))
done
check "at most the burst of 5 allowed in all ($total)" test "$total" -le 5
check "... at least 1 (the limit did not refuse everything)" test "$total" -ge 1
expect_eq "only those reached the upstream" "$total" $(($(record_count) - n0))

# The red team's way, another subject: only waves at once, the first
# from a whole burst (the pass's first batch answered in time, the later
# ones late or not, depending on the machine).
n0=$(record_count)
total=0
for i in 1 2 3; do
	wave "$T/e$i.json" 0 "$EVE"
	sed "s/^/# eve, wave $i: /" "$T/e$i.json"
	expect_eq "eve, wave $i: all $N answered 200 or 429" "$N" \
	    "$(val "$T/e$i.json" "d.get('200', 0) + d.get('429', 0)")"
	total=$((total + $(val "$T/e$i.json" "d.get('200', 0)")))
done
check "eve: at most the burst of 5 allowed in all ($total)" test "$total" -le 5 -a "$total" -ge 1
expect_eq "eve: only those reached the upstream" "$total" $(($(record_count) - n0))
fb=$(metric scopegate_ratelimit_fallback_total)
check "late answers were exercised: $fb requests fell back" test "${fb:-0}" -gt 0
finish
