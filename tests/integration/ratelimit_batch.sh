#!/usr/bin/env bash
# ratelimit_batch.sh: shared limits counted exactly when many requests
# reach one worker at once (they then share script calls to Redis: one
# per loop pass, ratelimit_redis.h). Two subjects' requests, interleaved,
# all sent together on their own connections, against two shared limits
# of one action: per subject (burst 10) and per client address (burst 15,
# the same for all of them), both 1 per hour (nothing comes back during
# the test):
#  - exactly 15 allowed in all, each subject at most 10: no request
#    counted twice or lost in a batch, and one refused by its subject's
#    limit took nothing from the client's (all or nothing per request,
#    across the requests of a batch);
#  - only those reached the upstream, the rest got 429;
#  - the cells in Redis say the same (what each subject and the client
#    took), read with redis-cli;
#  - a second wave, all refused, changes no cell (refused requests in a
#    batch take nothing);
#  - the requests were batched (fewer script calls than requests), so the
#    above attacked the batches, not one call per request.
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
N=${N:-100}	# requests per subject and wave
RPORT=$(free_port)
"$REDIS_SERVER" --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$T" --logfile "$T/redis.log" &
PIDS+=("$!")
wait_port "$RPORT"
rcli() { "$REDIS_CLI" -p "$RPORT" --raw "$@"; }
start_upstream up

# One worker: every request goes through one Redis link, so they share
# batches. The timeout is long: a request that got no answer in time
# would be counted by the local fallback instead, and this test is about
# Redis's count (the fallback counter is checked to stay 0).
GW_PORT=$(free_port)
ADMIN=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"workers\": 1,
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN },
  \"revocations\": { \"redis\": \"redis://127.0.0.1:$RPORT\" },
  \"rate_limits\": [
    { \"match\": { \"actions\": [ \"applicationApiTokens.get\" ] }, \"key\": \"subject\",
      \"per_hour\": 1, \"burst\": 10, \"scope\": \"shared\", \"shared_timeout_ms\": 5000 },
    { \"match\": { \"actions\": [ \"applicationApiTokens.get\" ] }, \"key\": \"client\",
      \"per_hour\": 1, \"burst\": 15, \"scope\": \"shared\", \"shared_timeout_ms\": 5000 }
  ]"
start_gateway "$T/gw.json"
. "$(dirname "$0")/rl_lib.sh"
wait_link
expect_eq "the worker's Redis link is up" 1 "$(metric scopegate_ratelimit_redis_links_up)"
ALICE=$(mint alice)
BOB=$(mint bob)
# Both tokens verified once before (the key cache), so that the wave's
# requests reach the limits together. On another action: no limit taken.
for t in "$ALICE" "$BOB"; do
	curl -s -o /dev/null -H "Authorization: Bearer $t" "http://127.0.0.1:$GW_PORT/applications/$APP"
done

# wave FILE: N requests per subject, interleaved, each on its own
# connection: all connections opened first, then every request written,
# then every answer read. Writes {"alice": {status: count}, "bob": ...}.
wave() {
	python3 - "$GW_PORT" "/applications/$APP/tokens" "$ALICE" "$BOB" "$N" > "$1" <<'PY'
import json, socket, sys
port, path, alice, bob, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
who = [("alice", alice), ("bob", bob)] * n
socks = [socket.create_connection(("127.0.0.1", port)) for _ in who]
for s, (_, tok) in zip(socks, who):
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               "Authorization: Bearer %s\r\n\r\n" % (path, tok)).encode())
out = {"alice": {}, "bob": {}}
for s, (name, _) in zip(socks, who):
    s.settimeout(30)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "none"
    out[name][status] = out[name].get(status, 0) + 1
print(json.dumps(out))
PY
}
val() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# cells: each rate-limit cell in Redis as the requests it holds now
# (ceil((tat - now) / interval), interval one hour), sorted, one line.
cells() {
	local now
	now=$(rcli TIME | python3 -c 'import sys; s, us = sys.stdin.read().split(); print(int(s) * 1000000 + int(us))')
	for k in $(rcli --scan --pattern '*:rl:*'); do
		echo "$k $(rcli GET "$k")"
	done | python3 -c '
import math, sys
now = int(sys.argv[1])
print(" ".join(str(c) for c in sorted(math.ceil((int(v) - now) / 3600e6) for _, v in (l.split() for l in sys.stdin))))' "$now"
}
evalsha() {
	rcli INFO commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'
}

e0=$(evalsha)
n0=$(record_count)
wave "$T/w1.json"
cat "$T/w1.json" | sed 's/^/# /'
a=$(val "$T/w1.json" "d['alice'].get('200', 0)")
b=$(val "$T/w1.json" "d['bob'].get('200', 0)")
expect_eq "exactly 15 allowed in all (the client's burst)" 15 $((a + b))
check "each subject at most its burst of 10 (alice $a, bob $b)" test "$a" -le 10 -a "$b" -le 10
expect_eq "the rest refused with 429" $((2 * N - 15)) \
    "$(val "$T/w1.json" "d['alice'].get('429', 0) + d['bob'].get('429', 0)")"
expect_eq "only the allowed reached the upstream" 15 $(($(record_count) - n0))
expect_eq "no request fell back to a local count" 0 "$(metric scopegate_ratelimit_fallback_total)"
c1=$(cells)
expect_eq "the cells in Redis: what each subject and the client took" \
    "$(printf '%s\n' "$a" "$b" 15 | sort -n | tr '\n' ' ' | sed 's/ $//')" "$c1"
e1=$(evalsha)
check "the requests were batched: $((e1 - e0)) script calls for $((2 * N)) requests" \
    test $((e1 - e0)) -ge 1 -a $((e1 - e0)) -lt $((2 * N))

n0=$(record_count)
wave "$T/w2.json"
cat "$T/w2.json" | sed 's/^/# /'
expect_eq "second wave: all $((2 * N)) refused" $((2 * N)) \
    "$(val "$T/w2.json" "d['alice'].get('429', 0) + d['bob'].get('429', 0)")"
expect_eq "... nothing reached the upstream" "$n0" "$(record_count)"
expect_eq "... and no cell changed (a refused request takes nothing)" "$c1" "$(cells)"
finish
