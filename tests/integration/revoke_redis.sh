#!/bin/bash
# revoke_redis.sh: two revocation store instances in two processes
# (tests/revoke_peer) sharing revocations through a real redis-server on a
# free loopback port: an id revoked through A is seen by B within 100 ms;
# a reinstatement propagates too; while Redis is stopped B still enforces
# its local journal and A keeps revoking locally; after Redis restarts
# (empty: no persistence) both reconnect, A's change made during the
# outage reaches B, and B's local entries repopulate Redis so that a third
# instance with an empty journal learns them.
# Skipped (77) when redis-server is not installed.
. "$(dirname "$0")/lib.sh"

PEER="$top_builddir/tests/revoke_peer"
REDIS_SERVER=$(command -v redis-server || true)
REDIS_CLI=$(command -v redis-cli || true)
if [ -z "$REDIS_SERVER" ]; then
	echo "# SKIP: redis-server not installed (Debian package redis-server)"
	exit 77
fi

RPORT=$(free_port)
URL="redis://127.0.0.1:$RPORT"
REDIS_PID=

start_redis() {
	"$REDIS_SERVER" --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
	    --daemonize no --dir "$T" --logfile "$T/redis.log" &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_port "$RPORT"
}

stop_redis() {
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
}

# zscore MEMBER: the member's score in the shared set ("" when absent).
zscore() {
	if [ -n "$REDIS_CLI" ]; then
		"$REDIS_CLI" -p "$RPORT" --raw ZSCORE scopegate:revoked "$1"
	else
		echo skipped
	fi
}

# field FILE WORD: the number after "WORD ... at" on the line of FILE.
at_ms() {
	sed -n "s/^$2 .* at \([0-9]*\)$/\1/p" "$1" | tail -n 1
}

start_redis

# --- propagation within 100 ms -------------------------------------------
# (B runs its Redis link on a thread of its own, as the daemon does.)
"$PEER" --journal "$T/b.journal" --redis "$URL" --thread --ready-file "$T/b.ready" \
    --wait-for tok-A1 --timeout-ms 10000 >"$T/b1.out" 2>"$T/b1.err" &
B=$!
PIDS+=("$B")
for i in $(seq 1 100); do [ -s "$T/b.ready" ] && break; sleep 0.05; done
check "B is synchronized with redis" test -s "$T/b.ready"

"$PEER" --journal "$T/a.journal" --redis "$URL" --revoke tok-A1 \
    >"$T/a1.out" 2>"$T/a1.err"
expect_eq "A revoked and Redis acknowledged it" 0 $?
wait "$B"
expect_eq "B saw tok-A1" 0 $?
T_REV=$(at_ms "$T/a1.out" revoked)
T_SEEN=$(at_ms "$T/b1.out" seen)
if [ -n "$T_REV" ] && [ -n "$T_SEEN" ] && [ $((T_SEEN - T_REV)) -le 100 ]; then
	ok "B saw it $((T_SEEN - T_REV)) ms after A's revoke_add returned (<= 100)"
else
	not_ok "propagation too slow or missing (revoked at '$T_REV', seen at '$T_SEEN')"
fi
check "B journaled what it learnt" grep -q '^+ tok-A1 ' "$T/b.journal"
check "A journaled its revocation" grep -q '^+ tok-A1 ' "$T/a.journal"
S=$(zscore tok-A1)
check "the shared sorted set holds tok-A1 with an expiry" test -n "$S"

# --- a reinstatement propagates --------------------------------------------
rm -f "$T/b.ready"
"$PEER" --journal "$T/b.journal" --redis "$URL" --ready-file "$T/b.ready" \
    --wait-for tok-A2 --timeout-ms 10000 >"$T/b2.out" 2>"$T/b2.err" &
B=$!
PIDS+=("$B")
for i in $(seq 1 100); do [ -s "$T/b.ready" ] && break; sleep 0.05; done
"$PEER" --journal "$T/a.journal" --redis "$URL" --revoke tok-A2 >/dev/null 2>"$T/a2.err"
wait "$B"
expect_eq "B saw tok-A2" 0 $?

rm -f "$T/b.ready"
"$PEER" --journal "$T/b.journal" --redis "$URL" --ready-file "$T/b.ready" \
    --wait-gone tok-A2 --timeout-ms 10000 >"$T/b3.out" 2>"$T/b3.err" &
B=$!
PIDS+=("$B")
for i in $(seq 1 100); do [ -s "$T/b.ready" ] && break; sleep 0.05; done
"$PEER" --journal "$T/a.journal" --redis "$URL" --reinstate tok-A2 >/dev/null 2>"$T/a3.err"
wait "$B"
expect_eq "B saw tok-A2 reinstated" 0 $?
"$PEER" --journal "$T/b.journal" --check tok-A2 >/dev/null 2>&1
expect_eq "B's journal keeps the reinstatement" 1 $?

# --- Redis down: local enforcement -----------------------------------------
stop_redis
"$PEER" --journal "$T/b.journal" --redis "$URL" --connect-timeout-ms 300 \
    --check tok-A1 >"$T/b4.out" 2>"$T/b4.err"
expect_eq "with Redis stopped B still enforces its journal" 0 $?
check "the outage is logged" grep -q 'redis .* unavailable' "$T/b4.err"

# B waits for tok-A3 and A revokes it while Redis is down; both keep
# retrying with backoff.
"$PEER" --journal "$T/b.journal" --redis "$URL" --connect-timeout-ms 100 \
    --wait-for tok-A3 --timeout-ms 20000 >"$T/b5.out" 2>"$T/b5.err" &
B=$!
PIDS+=("$B")
"$PEER" --journal "$T/a.journal" --redis "$URL" --connect-timeout-ms 100 \
    --revoke tok-A3 --flush-timeout-ms 20000 >"$T/a5.out" 2>"$T/a5.err" &
A=$!
PIDS+=("$A")
sleep 0.5
"$PEER" --journal "$T/c-check.journal" --check tok-A3 >/dev/null 2>&1
expect_eq "an instance that never saw A knows nothing of tok-A3" 1 $?
check "A revoked tok-A3 locally during the outage" grep -q '^revoked tok-A3' "$T/a5.out"
check "A journaled tok-A3 during the outage" grep -q '^+ tok-A3 ' "$T/a.journal"

# --- Redis back (empty): catch up --------------------------------------------
sleep 0.5
start_redis
wait "$A"
expect_eq "A pushed its outage-time revocation once Redis was back" 0 $?
wait "$B"
expect_eq "B caught up with tok-A3 after Redis restarted" 0 $?
check "B logged the return of Redis" grep -q 'is back, synchronized' "$T/b5.err"
S=$(zscore tok-A1)
check "B's and A's local entries repopulated the empty Redis" test -n "$S"

"$PEER" --journal "$T/c.journal" --redis "$URL" --wait-for tok-A1 --timeout-ms 5000 \
    >"$T/c.out" 2>"$T/c.err"
expect_eq "a new instance with an empty journal learns tok-A1 from Redis" 0 $?
"$PEER" --journal "$T/c.journal" --check tok-A3 >/dev/null 2>&1
expect_eq "and tok-A3, durably" 0 $?
"$PEER" --journal "$T/c.journal" --check tok-A2 >/dev/null 2>&1
expect_eq "but not the reinstated tok-A2" 1 $?

stop_redis
finish
