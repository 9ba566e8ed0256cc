#!/usr/bin/env bash
# Opaque access tokens read by token introspection (RFC 7662), against a
# real OpenID provider: oidc-provider (npm, pinned) with its introspection
# and revocation endpoints, behind node's https server with a test CA's
# certificate (tests/integration/idp_provider.js). The provider issues
# opaque tokens for the resource https://opaque.example (client_credentials
# grant); the gateway sends them to /token/introspection as client "gw"
# (client_secret_basic) and decides with the answer as with a JWT's claims.
# Shown: the right scope reaches the upstream, another scope is 403; the
# answer's sub and id claim are the request's subject and token id, and a
# revocation of that id (admin API) refuses the token at once; a
# token revoked at the provider is refused once the cached answer expires
# (cache_ttl_s), and the refusal is cached (negative_ttl_s); twenty
# requests at once with a new token on several workers make one call; an
# endpoint that is stopped, too slow, or answering an error gives 503 in
# the Losant shape with nothing forwarded; max_inflight; tokens never in a
# log line or a URL. The package is pinned in tests/node (./setup.sh deps).
. "$(dirname "$0")/lib.sh"

APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111

. "$(dirname "$0")/idp_lib.sh"
start_provider() {
	NODE_PATH="$NODE_MODULES" node "$(dirname "$0")/idp_provider.js" "$P_PORT" "$C_PORT" \
	    "$T/idp.pem" "$T/idp.key" 60 >> "$T/provider.log" 2>&1 &
	P_PID=$!
	PIDS+=("$P_PID")
	wait_port "$P_PORT" && wait_port "$C_PORT" || { cat "$T/provider.log"; exit 1; }
}
start_provider

# mint SCOPE [RESOURCE]: an access token from the provider.
mint() {
	curl -s --cacert "$T/ca.pem" -u svc:svc-secret-0123456789 -d grant_type=client_credentials \
	    -d "scope=$1" -d "resource=${2:-https://opaque.example}" "$ISS/token" |
	    json_get - 'd["access_token"]'
}
calls() { control stats "" | json_get - 'd["introspections"]'; }
last_reason() { json_get "$(last_line "$T/access.log")" 'd.get("reason")'; }
# burst N TOKEN: N requests at once (threads of one process over
# connections opened beforehand); prints the statuses, sorted and counted.
burst() {
	python3 - "$GW_PORT" "/applications/$APP/tokens/$TOK" "$1" "$2" <<'PY'
import collections, http.client, sys, threading
port, path, n, tok = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=20) for _ in range(n)]
for c in conns:
    c.connect()
go, st = threading.Event(), []
def one(c):
    go.wait()
    c.request("GET", path, headers={"Authorization": "Bearer " + tok})
    r = c.getresponse()
    r.read()
    st.append(r.status)
ts = [threading.Thread(target=one, args=(c,)) for c in conns]
for t in ts:
    t.start()
go.set()
for t in ts:
    t.join()
print(" ".join("%dx%d" % (v, k) for k, v in sorted(collections.Counter(st).items())))
PY
}

printf 'gw-secret-0123456789\n' > "$T/gw.secret"
chmod 600 "$T/gw.secret"
start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# gw_config FILE [INTROSPECTION-EXTRA]
gw_config() {
	write_config "$1" "\"policy\": \"$top_srcdir/conf/policy.json\", \"workers\": 4,
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT },
  \"revocations\": {},
  \"tokens\": { \"issuers\": \"$ISS\", \"audiences\": [\"https://api.example\", \"https://opaque.example\"],
    \"id_claim\": \"tid\", \"require_id\": false,
    \"keys\": [ { \"issuer_discovery\": \"$ISS\", \"ca_file\": \"$T/ca.pem\" } ],
    \"introspection\": { \"url\": \"$ISS/token/introspection\", \"ca_file\": \"$T/ca.pem\",
      \"client_id\": \"gw\", \"client_secret_file\": \"$T/gw.secret\",
      \"timeout_ms\": 800, \"cache_ttl_s\": 5, \"negative_ttl_s\": 6 ${2:-} } }"
}

# Configuration errors name the file and the JSON pointer.
for entry in '"url": "http://127.0.0.1:1/i", "client_id": "gw", "client_secret_file": "'$T/gw.secret'"' \
    '"url": "https://127.0.0.1:1/i"' \
    '"url": "https://127.0.0.1:1/i", "client_id": "gw", "client_secret_file": "'$T/none'"' \
    '"url": "https://127.0.0.1:1/i", "client_id": "gw", "client_secret_file": "'$T/gw.secret'", "cache_ttl": 5'; do
	write_config "$T/bad.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"introspection\": { $entry } }"
	"$SCOPEGATE" -t -c "$T/bad.json" > "$T/bad.out" 2>&1
	expect_eq "config check refuses {$entry}" 1 $?
	check "... at its JSON pointer" grep -q "bad.json: /tokens/introspection" "$T/bad.out"
done
check "... the secret is never echoed" bash -c "! grep -rq gw-secret '$T/bad.out'"

gw_config "$T/gw.json"
start_gateway "$T/gw.json"

O1=$(mint applicationApiToken.get)
check "the provider issues an opaque token (not a JWS)" test -n "$O1" -a "$(echo "$O1" | tr -cd . | wc -c)" = 0
N0=$(calls)
expect_call "opaque token with the route's scope" 200 "$O1"
expect_eq "... one introspection call" $((N0 + 1)) "$(calls)"
expect_call "the same token again: the cached answer" 200 "$O1"
expect_eq "... no new call" $((N0 + 1)) "$(calls)"
expect_eq "... the answer's sub is the request's subject" svc-user \
    "$(json_get "$(last_line "$T/access.log")" 'd["subject"]')"
TID=$(json_get "$(last_line "$T/access.log")" 'd["token_id"]')
check "... and its id claim (tid) the token id" test -n "$TID" -a "$TID" != null
# Revoked at the gateway by its id: refused at once, cached answer or not.
expect_eq "admin revokes the token's id" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d "{\"id\":\"$TID\"}" "http://127.0.0.1:$ADMIN_PORT/revocations")"
expect_call "opaque token revoked by id (its answer cached or asked again)" 401 "$O1"
expect_eq "... revoked" revoked "$(last_reason)"
O_LIST=$(mint applicationApiTokens.get)
expect_call "opaque token without the route's scope" 403 "$O_LIST"
expect_eq "... insufficient_scope" insufficient_scope "$(last_reason)"
J1=$(mint applicationApiToken.get https://api.example)
N0=$(calls)
expect_call "a JWT access token is verified locally" 200 "$J1"
expect_eq "... never sent to the endpoint" "$N0" "$(calls)"
expect_call "an opaque token the provider never issued" 401 "made-up-token-0123456789abcdef"
expect_eq "... inactive" inactive "$(last_reason)"
N0=$(calls)
expect_call "... asked again within negative_ttl_s: the cached refusal" 401 "made-up-token-0123456789abcdef"
expect_eq "... no new call" "$N0" "$(calls)"
expect_call "a token outside the token68 alphabet is never sent" 401 "a&token=b"
expect_eq "... malformed" malformed "$(last_reason)"
expect_eq "... no call" "$N0" "$(calls)"

# Twenty requests at once with a new token, spread over four workers:
# one call for all of them.
O2=$(mint applicationApiToken.get)
control slow-introspect 300 > /dev/null
N0=$(calls)
R0=$(record_count)
expect_eq "20 concurrent requests with one new token: all 200" "20x200" "$(burst 20 "$O2")"
expect_eq "... exactly one introspection call" $((N0 + 1)) "$(calls)"
expect_eq "... all reached the upstream" $((R0 + 20)) "$(record_count)"
check "... the waiters were coalesced (metrics)" \
    test "$(metric 'scopegate_introspection_lookups_total{result="coalesced"}')" -ge 1

# Requests with bodies wait for the answer like the others, and their
# bodies reach the upstream whole: one read whole for its schema, one
# streamed (no body rule).
OB=$(mint "application.mqttPublishMessage application.import")
B='{"topic":"t/1","message":"hello"}'
R0=$(record_count)
# (The example upstream answers 404 to these routes: what counts is that
# the gateway allowed them and what reached the upstream.)
curl -s -o /dev/null -H "Authorization: Bearer $OB" -H 'Content-Type: application/json' \
    --data-binary "$B" "http://127.0.0.1:$GW_PORT/applications/$APP/mqttPublishMessage"
expect_eq "POST with a checked JSON body while the token is introspected: allowed" allow \
    "$(json_get "$(last_line "$T/access.log")" 'd["decision"]')"
expect_eq "... its body reached the upstream whole" "$B" "$(json_get "$(last_line "$RECORD")" 'd["body"]')"
head -c 200000 /dev/urandom | base64 -w0 > "$T/big.txt"
OB2=$(mint "application.import")
curl -s -o /dev/null -H "Authorization: Bearer $OB2" -H 'Content-Type: text/plain' \
    --data-binary "@$T/big.txt" "http://127.0.0.1:$GW_PORT/applications/$APP/import"
expect_eq "POST with a streamed 266 kB body while the token is introspected: allowed" allow \
    "$(json_get "$(last_line "$T/access.log")" 'd["decision"]')"
expect_eq "... its body reached the upstream whole" "$(cat "$T/big.txt")" \
    "$(json_get "$(last_line "$RECORD")" 'd["body"]')"
expect_eq "... two requests forwarded" $((R0 + 2)) "$(record_count)"

# Revoked at the provider: refused once the positive answer expires
# (cache_ttl_s 5), never later.
O3=$(mint applicationApiToken.get)
control slow-introspect 0 > /dev/null
expect_call "a fresh token" 200 "$O3"
expect_eq "provider revokes it" 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" \
    -u svc:svc-secret-0123456789 -d "token=$O3" "$ISS/token/revocation")"
SECONDS=0
check "revoked token refused within cache_ttl_s" eventually 7 401 "$O3"
check "... after ${SECONDS}s (cache_ttl_s 5)" test "$SECONDS" -le 6
expect_call "revoked token" 401 "$O3"
expect_eq "... inactive" inactive "$(last_reason)"

# The endpoint too slow (timeout_ms 800): 503, nothing forwarded. While
# that call is in flight, other requests on the same workers are not held
# up: no worker waits on the endpoint. (They carry the JWT, verified by
# the gateway itself: an opaque token's cached answer could expire, after
# cache_ttl_s, in the middle of the measurement on a loaded machine.)
O4=$(mint applicationApiToken.get)
OC=$J1
control slow-introspect 1500 > /dev/null
(call "$O4" > "$T/o4.status") &
O4_PID=$!
sleep 0.1
latency 0.6 "$OC" > "$T/lat.txt"
read -r N OK P99 MAX < "$T/lat.txt"
echo "# during a slow introspection call: $N other requests, $OK answered 200, p99 ${P99}s, max ${MAX}s"
check "other requests during a slow call: all 200 ($OK/$N)" test "$OK" = "$N" -a "$N" -ge 5
check "... p99 ${P99}s under 0.1 s" python3 -c "import sys; sys.exit(not float('$P99') < 0.1)"
wait "$O4_PID"
expect_eq "introspection slower than timeout_ms: status" 503 "$(cat "$T/o4.status")"
expect_call "introspection slower than timeout_ms (again: failures are not cached)" 503 "$O4"
expect_eq "... Losant error shape" "ServiceUnavailable" "$(json_get "$T/r.json" 'd["type"]')"
check "... logged" grep -q "introspection $ISS/token/introspection: no answer within timeout_ms" "$T/gateway.err"
check "... counted" test "$(metric 'scopegate_introspection_timeouts_total')" -ge 1
sleep 1

# max_inflight 1: a second new token while one call is in flight gets 503.
# The call is held 2.5 s (timeout_ms 4000 here): the second request must
# come while it is in flight, even on a loaded machine (with 600 ms, the
# first call had ended before the second came, in full-suite runs).
cp "$T/gw.json" "$T/gw-one.json"
sed -i 's/"negative_ttl_s": 6/"negative_ttl_s": 6, "max_inflight": 1/; s/"timeout_ms": 800/"timeout_ms": 4000/' "$T/gw-one.json"
cp "$T/gw-one.json" "$T/gw.json"
check "reload with max_inflight 1" reload_and_wait
O5=$(mint applicationApiToken.get)
O6=$(mint applicationApiToken.get)
control slow-introspect 2500 > /dev/null
R0=$(record_count)
N0=$(calls)
(call "$O5" > "$T/o5.status") &
# Once the provider holds the first call (it answers after 2.5 s):
for i in $(seq 1 50); do [ "$(calls)" -gt "$N0" ] && break; sleep 0.02; done
expect_eq "a second call over max_inflight" 503 "$(call "$O6")"
wait $!
expect_eq "... the first one is answered" 200 "$(cat "$T/o5.status")"
expect_eq "... only the first reached the upstream" $((R0 + 1)) "$(record_count)"
control slow-introspect 0 > /dev/null
sed -i 's/"timeout_ms": 4000/"timeout_ms": 800/' "$T/gw.json"
check "reload back to timeout_ms 800" reload_and_wait

# The endpoint answering an error (wrong client secret): 503, never 200.
printf 'wrong-secret\n' > "$T/gw.secret"
check "reload with a wrong client secret" reload_and_wait
O7=$(mint applicationApiToken.get)
expect_call "the endpoint refuses the gateway's credentials" 503 "$O7"
check "... logged with the status" grep -q "introspection $ISS/token/introspection: HTTP status 401" "$T/gateway.err"
printf 'gw-secret-0123456789\n' > "$T/gw.secret"
check "reload with the right secret" reload_and_wait
expect_call "right secret again" 200 "$O7"

# The provider stopped: a token not in the cache gets 503, nothing forwarded.
O8=$(mint applicationApiToken.get)
kill "$P_PID"
wait "$P_PID" 2>/dev/null
expect_call "provider stopped: a new opaque token" 503 "$O8"
expect_eq "... Losant error shape" "ServiceUnavailable" "$(json_get "$T/r.json" 'd["type"]')"
expect_eq "... logged as introspection_unavailable for its action" \
    "introspection_unavailable applicationApiToken.get" \
    "$(json_get "$(last_line "$T/access.log")" 'd["reason"] + " " + d["action"]')"
check "... counted as errors" test "$(metric 'scopegate_introspection_calls_total{result="error"}')" -ge 3

# Tokens never appear in a log line or a URL: the gateway's log, its
# access log, the provider's request log (method and target).
for t in "$O1" "$O2" "$O3" "$O4" "$O5" "$O6" "$O7" "$O8" made-up-token-0123456789abcdef; do
	for f in "$T/gateway.err" "$T/access.log" "$T/provider.log"; do
		if grep -qF "$t" "$f"; then not_ok "a token appears in $(basename "$f")"; fi
	done
done
check "the provider saw every call as a POST to the bare endpoint" \
    bash -c "grep '^REQ .*introspection' '$T/provider.log' | grep -v '^REQ POST /token/introspection\$' | grep -q . && exit 1 || exit 0"
ok "no token in the gateway's logs or the provider's request log"
finish
