#!/usr/bin/env bash
# revoke_outage.sh: gateways sharing revocations through a real
# redis-server, attacked: the reproduction of issue 22 (revoke, reinstate,
# Redis down, revoke again, restart the gateway, Redis back: the token must
# end refused everywhere), a forged PUBLISH on the channel, a flood of
# entries from Redis against redis_max_entries, and a reload that brings a
# new Redis password. Skipped (77) without redis-server.
. "$(dirname "$0")/lib.sh"

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "# SKIP: redis-server/redis-cli not installed (Debian package redis-server)"
	exit 77
fi
KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
X=5f6666666666666666666666
mkdir -p "$T/state" "$T/redis"
start_upstream up

RPORT=$(free_port)
REDIS_PID=
# Persistent (append-only file, synced on every write), so that the
# Redis that comes back holds what it held before: the old tombstone.
start_redis() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly yes \
	    --appendfsync always --dir "$T/redis" --logfile "$T/redis.log" --daemonize no &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_port "$RPORT"
}
stop_redis() {
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
}
rcli() { redis-cli -p "$RPORT" --raw "$@"; }

gw_config() {	# FILE PORT ADMIN JOURNAL [extra members of "revocations"]
	cat > "$1" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $2 } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "policy": "$top_srcdir/conf/policy.json",
  "tokens": { "keys": [ { "file": "$KEYS/ec256.pem", "kid": "e1" } ] },
  "admin": { "address": "127.0.0.1", "port": $3 },
  "revocations": { "journal": "$4", "redis": "redis://127.0.0.1:${REDIS_PORT:-$RPORT}"${5:+, $5} },
  "log": { "access": "$T/access.log" }
}
EOT
}
mint() {
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 3600 --jti "$1" \
	    --scope "applicationApiTokens.get"
}
code() {	# PORT TOKEN
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" \
	    "http://127.0.0.1:$1/applications/$APP/tokens"
}
# until_code PORT TOKEN WANT: poll (up to 15 s: a reconnect backs off up
# to 5 s) until the answer is WANT; prints the last answer.
until_code() {
	local got i
	for i in $(seq 1 300); do
		got=$(code "$1" "$2")
		[ "$got" = "$3" ] && break
		sleep 0.05
	done
	echo "$got"
}
# start_gw NAME CONFIG PORT: sets PID_<NAME>
start_gw() {
	"$SCOPEGATE" -f -c "$2" 2>>"$T/$1.err" &
	eval "PID_$1=$!"
	PIDS+=("$!")
	wait_port "$3"
}
synced() {	# NAME [count]: wait until NAME logged its count-th synchronization
	local i n=${2:-1}
	for i in $(seq 1 300); do
		[ "$(grep -c 'synchronized' "$T/$1.err" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

start_redis
GA=$(free_port); AA=$(free_port); GB=$(free_port); AB=$(free_port)
gw_config "$T/a.json" "$GA" "$AA" "$T/state/a.journal"
gw_config "$T/b.json" "$GB" "$AB" "$T/state/b.journal"
start_gw A "$T/a.json" "$GA"
start_gw B "$T/b.json" "$GB"
check "A synchronized with Redis" synced A
check "B synchronized with Redis" synced B
TOK=$(mint "$X")
expect_eq "the token works on B" 200 "$(code "$GB" "$TOK")"

# --- issue 22's reproduction ------------------------------------------------
expect_eq "revoke through A" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d "{\"id\":\"$X\"}" "http://127.0.0.1:$AA/revocations")"
expect_eq "B refuses it" 401 "$(until_code "$GB" "$TOK" 401)"
expect_eq "reinstate through A" 204 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Content-Type: application/json" \
    "http://127.0.0.1:$AA/revocations/$X")"
expect_eq "B serves it again" 200 "$(until_code "$GB" "$TOK" 200)"
check "Redis holds the tombstone" bash -c "redis-cli -p $RPORT --raw HGET scopegate:revoked:state $X | grep -q '^- '"
stop_redis
expect_eq "Redis down: revoke again through A" 201 "$(curl -s -o /dev/null -w '%{http_code}' \
    -X POST -H 'Content-Type: application/json' -d "{\"id\":\"$X\"}" \
    "http://127.0.0.1:$AA/revocations")"
check "A's journal marks it not yet pushed" grep -q "^+ $X [0-9]* [0-9]* operator p$" "$T/state/a.journal"
kill "$PID_A"
wait "$PID_A" 2>/dev/null
start_gw A "$T/a.json" "$GA"
before=$(record_count)
expect_eq "restarted A refuses it (Redis still down)" 401 "$(code "$GA" "$TOK")"
expect_eq "... nothing reached the upstream" "$before" "$(record_count)"
check "A will push the pending change" grep -q "1 change(s) not yet in Redis" "$T/A.err"
start_redis
check "Redis came back with its old tombstone" bash -c "redis-cli -p $RPORT --raw HGET scopegate:revoked:state $X | grep -q ."
check "A resynchronized" synced A 2
expect_eq "B refuses it once Redis is back" 401 "$(until_code "$GB" "$TOK" 401)"
before=$(record_count)
sleep 0.5
expect_eq "... and still (no later undo)" 401 "$(code "$GB" "$TOK")"
expect_eq "A refuses it" 401 "$(code "$GA" "$TOK")"
expect_eq "nothing reached the upstream" "$before" "$(record_count)"
check "Redis holds the revocation" bash -c "redis-cli -p $RPORT --raw HGET scopegate:revoked:state $X | grep -q '^+ '"
check "A journaled the acknowledgement" grep -q "^a $X " "$T/state/a.journal"

# --- messages are hints: a forged PUBLISH changes nothing ---------------------
before=$(record_count)
nrein=$(grep -c "^- $X " "$T/state/b.journal")
rcli PUBLISH scopegate:revocations "- $X" > /dev/null
rcli PUBLISH scopegate:revocations "- $X 1 99999999999999999 operator" > /dev/null
Y=5f7777777777777777777777
TOKY=$(mint "$Y")
rcli PUBLISH scopegate:revocations "+ $Y 99999999999 99999999999999999 operator" > /dev/null
sleep 0.5
expect_eq "forged '- id': B still refuses" 401 "$(code "$GB" "$TOK")"
expect_eq "forged '- id': A still refuses" 401 "$(code "$GA" "$TOK")"
expect_eq "nothing reached the upstream" "$before" "$(record_count)"
expect_eq "forged '+ id' revokes nothing either" 200 "$(code "$GB" "$TOKY")"
expect_eq "B journaled no reinstatement" "$nrein" "$(grep -c "^- $X " "$T/state/b.journal")"

# --- a version from Redis far in the future (red22) ---------------------------
# One state written straight into Redis with the largest version the parser
# takes: without a bound, every instance's next version overflowed (negative,
# a journal line no replay accepts, a state no peer applies).
rcli HSET scopegate:revoked:state poison "+ 99999999999 9223372036854775807 operator" > /dev/null
rcli ZADD scopegate:revoked 99999999999 poison > /dev/null
rcli PUBLISH scopegate:revocations "+ poison" > /dev/null
sleep 0.5
rcli HDEL scopegate:revoked:state poison > /dev/null
rcli ZREM scopegate:revoked poison > /dev/null
Z=5f8888888888888888888888
TOKZ=$(mint "$Z")
expect_eq "A revokes a new id after the poison" 201 "$(curl -s -o /dev/null -w '%{http_code}' \
    -X POST -H 'Content-Type: application/json' -d "{\"id\":\"$Z\"}" "http://127.0.0.1:$AA/revocations")"
expect_eq "B refuses it (the change reached it)" 401 "$(until_code "$GB" "$TOKZ" 401)"
check "no journal line with a negative version" bash -c "! grep -qE ' -[0-9]' '$T/state/a.journal' '$T/state/b.journal'"
check "the far-future change is logged" grep -q 'ahead of this clock: kept, dated at the bound' "$T/B.err"

# --- the bound on entries from Redis -------------------------------------------
for i in 1 2 3 4 5; do
	curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
	    -d "{\"id\":\"flood-$i\"}" "http://127.0.0.1:$AA/revocations"
done
GC=$(free_port); AC=$(free_port)
gw_config "$T/c.json" "$GC" "$AC" "$T/state/c.journal" '"redis_max_entries": 3'
start_gw C "$T/c.json" "$GC"
check "C synchronized" synced C
curl -s "http://127.0.0.1:$AC/metrics" > "$T/c.metrics"
expect_eq "C holds at most redis_max_entries entries from Redis" 3 \
    "$(sed -n 's/^scopegate_revocations_from_redis //p' "$T/c.metrics")"
check "C counts the refused ones" bash -c "[ \"\$(sed -n 's/^scopegate_revocations_refused_total //p' '$T/c.metrics')\" -ge 1 ]"
check "C says it is full, once" bash -c "[ \"\$(grep -c 'the most redis_max_entries allows' '$T/C.err')\" -eq 1 ]"
expect_eq "C's own revocations are not bounded" 201 "$(curl -s -o /dev/null -w '%{http_code}' \
    -X POST -H 'Content-Type: application/json' -d '{"id":"local-c"}' "http://127.0.0.1:$AC/revocations")"
expect_eq "... and enforced" 401 "$(code "$GC" "$(mint local-c)")"

# --- a reload brings a new Redis password -----------------------------------------
RPW=$(free_port)
PW="right-$RANDOM-$RANDOM"
redis-server --port "$RPW" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --requirepass "$PW" --logfile "$T/redis-pw.log" &
PIDS+=($!)
wait_port "$RPW"
printf 'wrong\n' > "$T/pw"
chmod 600 "$T/pw"
GD=$(free_port); AD=$(free_port)
REDIS_PORT=$RPW gw_config "$T/d.json" "$GD" "$AD" "$T/state/d.journal" "\"redis_password_file\": \"$T/pw\""
start_gw D "$T/d.json" "$GD"
for _ in $(seq 1 100); do grep -q "authentication refused" "$T/D.err" && break; sleep 0.05; done
check "a wrong password is an outage" grep -q "authentication refused" "$T/D.err"
printf '%s\n' "$PW" > "$T/pw"
kill -HUP "$PID_D"
check "the reload applies the new password" synced D
check "... said in the log" grep -q "redis password changed" "$T/D.err"
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"id":"pw-1"}' \
    "http://127.0.0.1:$AD/revocations"
for _ in $(seq 1 100); do
	redis-cli -p "$RPW" -a "$PW" --no-auth-warning --raw HGET scopegate:revoked:state pw-1 | grep -q . && break
	sleep 0.05
done
check "D writes to the protected Redis" bash -c "redis-cli -p $RPW -a '$PW' --no-auth-warning --raw HGET scopegate:revoked:state pw-1 | grep -q '^+ '"
stop_redis
finish
