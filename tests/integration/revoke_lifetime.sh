#!/usr/bin/env bash
# revoke_lifetime.sh: tokens.max_lifetime_s through the real daemon, with a
# real redis-server and the example upstream. A token claiming to live
# longer than the bound (exp far ahead, no exp, or its own iat saying it
# was issued for longer) is refused 401 and reaches nothing; revocations of
# unknown expiry (operator, learnt from a DELETE) last the bound instead of
# for ever; entries forged into Redis with an expiry of 2^63 - 1 (a state
# hash entry with a PUBLISH hint, a bare sorted-set member, a tombstone)
# are held with the expiry capped at now + the bound, shown so by GET
# /revocations and kept so across a restart; a reload to a shorter bound
# refuses a token the old one accepted (cached included), keeps the held
# entries' expiry and caps what comes next at the new bound. Skipped (77)
# without redis-server.
. "$(dirname "$0")/lib.sh"

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "# SKIP: redis-server/redis-cli not installed (Debian package redis-server)"
	exit 77
fi
KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
MAX=3600
LEEWAY=30
LIFE=$((MAX + 2 * LEEWAY))	# how long a token accepted now may still verify
SLACK=60			# revoke_int.h REVOKE_RELEARN_SLACK_S
INT64_MAX=9223372036854775807
mkdir -p "$T/state"
start_upstream up

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --logfile "$T/redis.log" --daemonize no &
PIDS+=($!)
wait_port "$RPORT"
rcli() { redis-cli -p "$RPORT" --raw "$@"; }
now_us() { python3 -c 'import time; print(int(time.time() * 1000000))'; }

# Forged before the gateway starts: read at its first synchronization.
# A state entry claiming 2^63 - 1, and a member of the sorted set without
# a state (the form an older gateway or a hand wrote) scored 1e300.
rcli HSET scopegate:revoked:state forged-sync "+ $INT64_MAX $(now_us) operator" > /dev/null
rcli ZADD scopegate:revoked "$INT64_MAX" forged-sync > /dev/null
rcli ZADD scopegate:revoked 1e300 forged-bare > /dev/null

GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
cat > "$T/gw.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "policy": "$top_srcdir/conf/policy.json",
  "tokens": { "keys": [ { "file": "$KEYS/ec256.pem", "kid": "e1" } ],
              "max_lifetime_s": $MAX, "leeway_s": $LEEWAY },
  "admin": { "address": "127.0.0.1", "port": $ADMIN_PORT },
  "revocations": { "journal": "$T/state/revocations.journal",
                   "redis": "redis://127.0.0.1:$RPORT", "retention_s": 600 },
  "log": { "access": "$T/access.log" }
}
EOT
t0=$(date +%s)
start_gateway "$T/gw.json"
for _ in $(seq 1 600); do grep -q synchronized "$T/gateway.err" && break; sleep 0.05; done
check "synchronized with Redis" grep -q synchronized "$T/gateway.err"
t1=$(date +%s)
U="http://127.0.0.1:$GW_PORT/applications/$APP/tokens"
A="http://127.0.0.1:$ADMIN_PORT"
J=(-H 'Content-Type: application/json')

mint() {	# JTI SCOPE token-tool-options...
	local jti=$1 scope=$2
	shift 2
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --jti "$jti" --scope "$scope" "$@"
}
code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$U"; }
# expires_at of ID in GET /revocations ("null": never; "absent": not listed)
listed_exp() {
	curl -s "$A/revocations" > "$T/list.json"
	json_get "$T/list.json" \
	    "next((e['expires_at'] for e in d['revocations'] if e['id'] == '$1'), 'absent')"
}
# within LO HI VALUE
within() { [ "$3" != null ] && [ "$3" != absent ] && [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }

# --- tokens claiming a longer life are refused, nothing reaches the upstream ---
expect_eq "a token living the bound works" 200 \
    "$(code "$(mint ok-1 applicationApiTokens.get --exp-in $MAX)")"
before=$(record_count)
expect_eq "exp one hour past the bound: 401" 401 \
    "$(code "$(mint long-1 applicationApiTokens.get --exp-in $((MAX + 3600)) --no-iat)")"
expect_eq "exp ten years ahead: 401" 401 \
    "$(code "$(mint long-2 applicationApiTokens.get --exp-in 315360000 --no-iat)")"
expect_eq "exp 2^63 - 1: 401" 401 \
    "$(code "$(mint long-3 applicationApiTokens.get --claim exp=$INT64_MAX --no-iat)")"
expect_eq "no exp: 401" 401 "$(code "$(mint long-4 applicationApiTokens.get --no-exp)")"
# Issued (iat) 2 h ago for 3 h: within the bound from now, but issued to
# live longer: refused even in its last hour.
expect_eq "iat says issued for longer: 401" 401 \
    "$(code "$(mint long-5 applicationApiTokens.get --exp-in 3600 --iat-offset -7200)")"
# A back-dated iat does not buy a far exp either.
expect_eq "old iat with far exp: 401" 401 \
    "$(code "$(mint long-6 applicationApiTokens.get --exp-in 86400 --iat-offset -86400)")"
expect_eq "nothing reached the upstream" "$before" "$(record_count)"
expect_eq "the access log says why" 5 "$(grep -c '"reason":"lifetime_too_long"' "$T/access.log")"
check "... and missing_exp for the token without exp" grep -q '"reason":"missing_exp"' "$T/access.log"

# --- entries forged into Redis are held with a capped expiry ---------------------
check "forged state entry (2^63 - 1) held until at most now + the bound" \
    within $((t0 + LIFE)) $((t1 + LIFE)) "$(listed_exp forged-sync)"
check "forged bare member (1e300) likewise" \
    within $((t0 + LIFE)) $((t1 + LIFE)) "$(listed_exp forged-bare)"
# Live: the state hash written, then a PUBLISH hint (what anyone with
# write access to Redis can do).
t0=$(date +%s)
rcli HSET scopegate:revoked:state forged-live "+ $INT64_MAX $(now_us) operator" > /dev/null
rcli PUBLISH scopegate:revocations "+ forged-live $INT64_MAX 1 operator" > /dev/null
for _ in $(seq 1 600); do [ "$(listed_exp forged-live)" != absent ] && break; sleep 0.05; done
t1=$(date +%s)
check "forged live entry held until at most now + the bound" \
    within $((t0 + LIFE)) $((t1 + LIFE)) "$(listed_exp forged-live)"
check "the journal holds the capped expiry, not 2^63 - 1" within $((t0 + LIFE)) $((t1 + LIFE)) \
    "$(sed -n 's/^+ forged-live \([0-9]*\) .*/\1/p' "$T/state/revocations.journal" | tail -n 1)"
# A forged tombstone for an id held: kept no longer than now + the bound
# (retention_s 600 is shorter here).
curl -s -o /dev/null -X POST "${J[@]}" -d '{"id":"tomb-1","expires_at":'$((t0 + 100000))'}' \
    "$A/revocations"
t0=$(date +%s)
rcli HSET scopegate:revoked:state tomb-1 "- $INT64_MAX $(($(now_us) + 1000000)) operator" > /dev/null
rcli PUBLISH scopegate:revocations "- tomb-1" > /dev/null
for _ in $(seq 1 600); do grep -q '^- tomb-1 ' "$T/state/revocations.journal" && break; sleep 0.05; done
t1=$(date +%s)
tomb=$(sed -n 's/^- tomb-1 \([0-9]*\) .*/\1/p' "$T/state/revocations.journal" | tail -n 1)
check "forged tombstone kept until at most now + the bound" within $((t0 + LIFE)) $((t1 + LIFE)) "$tomb"

# --- revocations of unknown expiry last the bound, not for ever ----------------------
ADMIN_TOK=$(mint admin-1 all.Application --exp-in 600)
t0=$(date +%s)
expect_eq "operator revocation without expires_at" 201 "$(curl -s -o /dev/null -w '%{http_code}' \
    -X POST "${J[@]}" -d '{"id":"ops-1"}' "$A/revocations")"
curl -s -o "$T/new.json" -X POST "${J[@]}" -d '{"name":"doomed","scope":["all.Application.read"]}' \
    -H "Authorization: Bearer $ADMIN_TOK" "$U"
NEWID=$(json_get "$T/new.json" 'd["id"]')
NEW_TOK=$(mint "$NEWID" applicationApiTokens.get --exp-in 600)
expect_eq "the new token works" 200 "$(code "$NEW_TOK")"
expect_eq "DELETE through the gateway" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE \
    -H "Authorization: Bearer $ADMIN_TOK" "$U/$NEWID")"
t1=$(date +%s)
before=$(record_count)
expect_eq "the deleted token is refused" 401 "$(code "$NEW_TOK")"
expect_eq "... and reaches nothing" "$before" "$(record_count)"
check "operator revocation kept for the bound" \
    within $((t0 + LIFE + SLACK)) $((t1 + LIFE + SLACK)) "$(listed_exp ops-1)"
check "learnt revocation kept for the bound" \
    within $((t0 + LIFE + SLACK)) $((t1 + LIFE + SLACK)) "$(listed_exp "$NEWID")"

# --- a restart keeps the capped expiries ----------------------------------------------
live=$(listed_exp forged-live)
learnt=$(listed_exp "$NEWID")
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null
start_gateway "$T/gw.json"
expect_eq "after a restart: the forged entry's capped expiry" "$live" "$(listed_exp forged-live)"
expect_eq "after a restart: the learnt entry's expiry" "$learnt" "$(listed_exp "$NEWID")"
expect_eq "after a restart: the deleted token is refused" 401 "$(code "$NEW_TOK")"

# --- a reload to a shorter bound ---------------------------------------------------------
# A token accepted (and cached by every worker) under the old bound is
# refused at once under the new one; entries held keep their expiry (a
# token accepted under the old bound may still verify); what Redis sends
# from then on is capped at the new bound.
MID_TOK=$(mint mid-1 applicationApiTokens.get --exp-in 1800)
expect_eq "a token living 30 min works under the 1 h bound" 200 "$(code "$MID_TOK")"
sed -i "s/\"max_lifetime_s\": $MAX/\"max_lifetime_s\": 600/" "$T/gw.json"
check "reload to max_lifetime_s 600" reload_and_wait
check "... in force" bash -c "grep -E 'in force|reload failed' '$T/gateway.err' | tail -n 1 | grep -q 'in force'"
before=$(record_count)
expect_eq "the same token is refused after the reload" 401401401 \
    "$(code "$MID_TOK")$(code "$MID_TOK")$(code "$MID_TOK")"
expect_eq "... and reaches nothing" "$before" "$(record_count)"
expect_eq "held entries keep their expiry" "$live $learnt" \
    "$(listed_exp forged-live) $(listed_exp "$NEWID")"
t0=$(date +%s)
rcli HSET scopegate:revoked:state forged-new "+ $INT64_MAX $(now_us) operator" > /dev/null
rcli PUBLISH scopegate:revocations "+ forged-new" > /dev/null
for _ in $(seq 1 600); do [ "$(listed_exp forged-new)" != absent ] && break; sleep 0.05; done
t1=$(date +%s)
check "a forged entry after the reload is capped at the new bound" \
    within $((t0 + 600 + 2 * LEEWAY)) $((t1 + 600 + 2 * LEEWAY)) "$(listed_exp forged-new)"
finish
