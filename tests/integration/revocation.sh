#!/usr/bin/env bash
# Token lifecycle through the real daemon: the gateway learns revocations
# from the upstream's answers (DELETE, PATCH status inactive/active), keeps
# them in a synced journal that survives SIGKILL, takes operator input on
# the admin listener, and shares them between two instances through a real
# redis-server.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK2=5f2222222222222222222222
mkdir -p "$T/state"

start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
gw_config() {	# FILE PORT ADMIN JOURNAL [redis url [password file]]
	local redis=""
	[ -n "${5:-}" ] && redis=", \"redis\": \"$5\""
	[ -n "${6:-}" ] && redis="$redis, \"redis_password_file\": \"$6\""
	cat > "$1" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $2 } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "policy": "$top_srcdir/conf/policy.json",
  "tokens": { "keys": [ { "file": "$KEYS/ec256.pem", "kid": "e1" } ] },
  "admin": { "address": "127.0.0.1", "port": $3 },
  "revocations": { "journal": "$4"$redis },
  "log": { "access": "$T/access.log" }
}
EOT
}
gw_config "$T/gw.json" "$GW_PORT" "$ADMIN_PORT" "$T/state/revocations.journal"
start_gateway "$T/gw.json"
U="http://127.0.0.1:$GW_PORT/applications/$APP/tokens"
A="http://127.0.0.1:$ADMIN_PORT"

mint() {	# JTI SCOPE
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --jti "$1" --scope "$2"
}
# Status of a GET with TOKEN on fresh connections (so every worker and
# its cache is asked): prints the statuses of 4 requests.
statuses() {
	local tok=$1 out="" i
	for i in 1 2 3 4; do
		out="$out$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$U")"
	done
	echo "$out"
}
USER_TOK=$(mint "$TOK2" "applicationApiTokens.get")
ADMIN_TOK=$(mint admin-1 "all.Application")
J=(-H 'Content-Type: application/json')

expect_eq "token works (cached by every worker)" 200200200200 "$(statuses "$USER_TOK")"

# --- PATCH status inactive revokes, active reinstates -------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "${J[@]}" -d '{"status":"inactive"}' \
    -H "Authorization: Bearer $ADMIN_TOK" "$U/$TOK2")
expect_eq "PATCH inactive answered" 200 "$code"
expect_eq "deactivated token refused on its very next requests" 401401401401 "$(statuses "$USER_TOK")"
check "log says revoked" grep -q '"reason":"revoked"' "$T/access.log"
check "journal synced" grep -q "^+ $TOK2 " "$T/state/revocations.journal"
# Learnt again (the same PATCH repeated, answered 200 again): known already,
# it costs nothing: no journal line, no log line.
jl=$(wc -l < "$T/state/revocations.journal")
ll=$(grep -c "$TOK2 revoked (confirmed" "$T/gateway.err")
for i in 1 2 3; do
	curl -s -o /dev/null -X PATCH "${J[@]}" -d '{"status":"inactive"}' \
	    -H "Authorization: Bearer $ADMIN_TOK" "$U/$TOK2"
done
expect_eq "a known revocation learnt again writes no journal line" "$jl" \
    "$(wc -l < "$T/state/revocations.journal")"
expect_eq "... and no log line" "1 $ll" "$(grep -c "$TOK2 revoked (confirmed" "$T/gateway.err") $ll"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "${J[@]}" -d '{"status":"active"}' \
    -H "Authorization: Bearer $ADMIN_TOK" "$U/$TOK2")
expect_eq "PATCH active answered" 200 "$code"
expect_eq "reactivated token works again" 200200200200 "$(statuses "$USER_TOK")"

# A refused PATCH (403) must not revoke anything.
curl -s -o /dev/null -X PATCH "${J[@]}" -d '{"status":"inactive"}' \
    -H "Authorization: Bearer $USER_TOK" "$U/$TOK2"
expect_eq "a denied PATCH changes nothing" 200200200200 "$(statuses "$USER_TOK")"

# --- DELETE, then SIGKILL right after the answer ---------------------------------
curl -s -o "$T/new.json" -X POST "${J[@]}" -d '{"name":"doomed","scope":["all.Application.read"]}' \
    -H "Authorization: Bearer $ADMIN_TOK" "$U"
NEWID=$(json_get "$T/new.json" 'd["id"]')
NEW_TOK=$(mint "$NEWID" "applicationApiTokens.get")
expect_eq "new token works" 200200200200 "$(statuses "$NEW_TOK")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $ADMIN_TOK" "$U/$NEWID")
kill -KILL "$GW_PID"
wait "$GW_PID" 2>/dev/null
expect_eq "DELETE answered before the crash" 200 "$code"
start_gateway "$T/gw.json"
expect_eq "deleted token still refused after SIGKILL and restart" 401401401401 "$(statuses "$NEW_TOK")"
expect_eq "other tokens unaffected" 200200200200 "$(statuses "$USER_TOK")"

# --- operators -------------------------------------------------------------------------
OPS_TOK=$(mint ops-42 "applicationApiTokens.get")
expect_eq "POST /revocations" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"id":"ops-42"}' "$A/revocations")"
expect_eq "operator revocation enforced" 401401401401 "$(statuses "$OPS_TOK")"
# explain reads the running daemon's journal (without its lock) and agrees.
"$SCOPEGATE" explain -c "$T/gw.json" GET "/applications/$APP/tokens" --token "$OPS_TOK" \
    > "$T/ex.json" 2> "$T/ex.err"
expect_eq "explain sees the revocation: 401" 401 "$(json_get "$T/ex.json" 'd["status"]')"
expect_eq "explain: reason revoked" revoked "$(json_get "$T/ex.json" 'd["reason"]')"
expect_eq "explain: revocations checked" true "$(json_get "$T/ex.json" 'd["revocations_checked"]')"
"$SCOPEGATE" explain -c "$T/gw.json" GET "/applications/$APP/tokens" --token "$USER_TOK" \
    > "$T/ex.json" 2> "$T/ex.err"
expect_eq "explain: an unrevoked token is allowed" allow "$(json_get "$T/ex.json" 'd["decision"]')"
curl -s "$A/revocations" > "$T/list.json"
check "GET /revocations lists it" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=json.dumps(d); assert "ops-42" in s and sys.argv[2] in s' "$T/list.json" "$NEWID"
expect_eq "DELETE /revocations/{id}" 204 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H 'Content-Type: application/json' "$A/revocations/ops-42")"
expect_eq "reinstated by the operator" 200200200200 "$(statuses "$OPS_TOK")"
expect_eq "bad operator input refused" 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"id":"has space"}' "$A/revocations")"

# --- two instances sharing Redis ----------------------------------------------------------
if ! command -v redis-server >/dev/null; then
	echo "# redis-server not installed: skipping the two-instance check"
	finish
fi
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    > "$T/redis.log" 2>&1 &
PIDS+=($!)
wait_port "$RPORT"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
GA=$(free_port); AA=$(free_port); GB=$(free_port); AB=$(free_port)
gw_config "$T/a.json" "$GA" "$AA" "$T/state/a.journal" "redis://127.0.0.1:$RPORT"
gw_config "$T/b.json" "$GB" "$AB" "$T/state/b.journal" "redis://127.0.0.1:$RPORT"
GW_PORT=$GA start_gateway "$T/a.json"
GW_PORT=$GB start_gateway "$T/b.json"
sleep 0.5
SHARED=$(mint "$TOK2" "applicationApiTokens.get")
UB="http://127.0.0.1:$GB/applications/$APP/tokens"
expect_eq "instance B serves the token" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SHARED" "$UB")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $ADMIN_TOK" \
    "http://127.0.0.1:$GA/applications/$APP/tokens/$TOK2")
expect_eq "DELETE through instance A" 200 "$code"
elapsed=$(python3 - "$GB" "$SHARED" "$APP" <<'PY'
import http.client, sys, time
t0 = time.time()
while time.time() - t0 < 2:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=2)
    c.request("GET", "/applications/%s/tokens" % sys.argv[3], headers={"Authorization": "Bearer " + sys.argv[2]})
    if c.getresponse().status == 401:
        print(int((time.time() - t0) * 1000)); sys.exit(0)
    c.close()
    time.sleep(0.005)
print(9999)
PY
)
check "instance B refuses it within 100 ms (${elapsed} ms)" test "$elapsed" -le 100

# --- a Redis that requires a password (AUTH) ---------------------------------
RPW=$(free_port)
printf 'pw-%s-%s\n' "$RANDOM" "$RANDOM" > "$T/redis.pw"
chmod 600 "$T/redis.pw"
redis-server --port "$RPW" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --requirepass "$(head -n 1 "$T/redis.pw")" > "$T/redis-pw.log" 2>&1 &
PIDS+=($!)
wait_port "$RPW"
printf 'wrong\n' > "$T/wrong.pw"
chmod 644 "$T/wrong.pw"
GE=$(free_port); AE=$(free_port)
gw_config "$T/e.json" "$GE" "$AE" "$T/state/e.journal" "redis://127.0.0.1:$RPW" "$T/wrong.pw"
check "a world-readable redis_password_file is refused by -t" bash -c \
    "! '$SCOPEGATE' -t -c '$T/e.json' 2>'$T/e-check.err'"
check "... naming the key" grep -q "redis_password_file" "$T/e-check.err"
chmod 600 "$T/wrong.pw"
GC=$(free_port); AC=$(free_port); GD=$(free_port); AD=$(free_port)
gw_config "$T/c.json" "$GC" "$AC" "$T/state/c.journal" "redis://127.0.0.1:$RPW" "$T/redis.pw"
gw_config "$T/d.json" "$GD" "$AD" "$T/state/d.journal" "redis://127.0.0.1:$RPW" "$T/redis.pw"
GW_PORT=$GC start_gateway "$T/c.json"
GW_PORT=$GD start_gateway "$T/d.json"
GW_PORT=$GE start_gateway "$T/e.json"
PWTOK=$(mint pw-shared-1 "applicationApiTokens.get")
UD="http://127.0.0.1:$GD/applications/$APP/tokens"
expect_eq "AUTH: instance D serves the token" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PWTOK" "$UD")"
expect_eq "AUTH: revoked through C's admin API" 201 "$(curl -s -o /dev/null -w '%{http_code}' \
    -X POST -H 'Content-Type: application/json' -d '{"id":"pw-shared-1"}' "http://127.0.0.1:$AC/revocations")"
got=000
for _ in $(seq 1 100); do
	got=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PWTOK" "$UD")
	[ "$got" = 401 ] && break
	sleep 0.02
done
expect_eq "AUTH: instance D refuses it (shared through the password-protected Redis)" 401 "$got"
for _ in $(seq 1 100); do
	grep -q "authentication refused" "$T/gateway.err" && break
	sleep 0.05
done
check "a wrong password is logged as an authentication refusal" \
    grep -q "authentication refused" "$T/gateway.err"
expect_eq "... and that instance still serves on its local set" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PWTOK" \
    "http://127.0.0.1:$GE/applications/$APP/tokens")"
finish
