#!/usr/bin/env bash
# Remote key sets against a real OpenID provider: oidc-provider (npm,
# pinned) behind node's https server with a certificate from a test CA
# (tests/integration/idp_provider.js). The gateway finds the JWKS through
# discovery, verifies the provider's JWT access tokens (client_credentials
# grant, resource indicator), follows a key rotation (both keys during the
# overlap, the retired one refused after), refetches once for an unknown
# kid, revalidates with If-None-Match, keeps serving while the provider is
# slow, keeps the last good set when the provider is gone and drops it
# after max_stale_s (401, /readyz 503), and starts from its cache file with
# the provider down. Nothing a token names (jku, jwk) is fetched or
# trusted. The package is pinned in tests/node (./setup.sh deps).
. "$(dirname "$0")/lib.sh"

APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111

. "$(dirname "$0")/idp_lib.sh"
# Another CA, to show that the chain is verified.
(cd "$T" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout other.key -out other.pem -days 2 -subj /CN=other-ca) > /dev/null 2>&1

MAX_AGE=3
NODE_PATH="$NODE_MODULES" node "$(dirname "$0")/idp_provider.js" "$P_PORT" "$C_PORT" \
    "$T/idp.pem" "$T/idp.key" "$MAX_AGE" > "$T/provider.log" 2>&1 &
P_PID=$!
PIDS+=("$P_PID")
wait_port "$P_PORT" && wait_port "$C_PORT" || { cat "$T/provider.log"; exit 1; }

# mint SCOPE: an access token from the provider (client_credentials).
mint() {
	curl -s --cacert "$T/ca.pem" -u svc:svc-secret-0123456789 -d grant_type=client_credentials \
	    -d "scope=$1" "$ISS/token" | json_get - 'd["access_token"]'
}
fetches() { control stats "" | json_get - 'd["jwksFetches"]'; }

start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# Under memcheck a TLS fetch alone takes seconds.
FETCH_MS=1500
[ -n "${UNDER_VALGRIND:-}" ] && FETCH_MS=15000
# gw_config FILE KEY-ENTRY-EXTRA
gw_config() {
	write_config "$1" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT },
  \"tokens\": { \"issuers\": \"$ISS\", \"audiences\": \"https://api.example\",
    \"keys\": [ { \"issuer_discovery\": \"$ISS\", \"ca_file\": \"$T/ca.pem\",
      \"refresh_s\": 30, \"min_refresh_s\": 1, \"max_refresh_s\": 60,
      \"fetch_timeout_ms\": $FETCH_MS, \"unknown_kid_cooldown_s\": 1,
      \"cache_file\": \"$T/jwks.cache\" $2 } ] }"
}

# Plain http only to loopback and only when the entry says so; checked
# with the configuration (-t), before anything is fetched.
for entry in '"jwks_url": "http://127.0.0.1:1/jwks"' \
    '"jwks_url": "http://192.0.2.1/jwks", "allow_http_loopback": true' \
    '"issuer_discovery": "http://127.0.0.1:1"'; do
	write_config "$T/http.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { $entry } ] }"
	"$SCOPEGATE" -t -c "$T/http.json" > "$T/http.out" 2>&1
	expect_eq "config check refuses {$entry}" 1 $?
	check "... naming the entry" grep -q "http.json: /tokens/keys/0/\(jwks_url\|issuer_discovery\): .*http" "$T/http.out"
done
write_config "$T/http.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"jwks_url\": \"http://127.0.0.1:1/jwks\", \"allow_http_loopback\": true } ] }"
"$SCOPEGATE" -t -c "$T/http.json" > "$T/http.out" 2>&1
expect_eq "config check accepts http to loopback with allow_http_loopback (nothing fetched)" 0 $?

# The chain is verified: a CA that did not sign the provider's certificate
# gets no keys, and then the daemon does not start.
gw_config "$T/bad-ca.json" ", \"max_stale_s\": 6"
sed -i "s|$T/ca.pem|$T/other.pem|" "$T/bad-ca.json"
timeout 20 "$SCOPEGATE" -f -c "$T/bad-ca.json" 2> "$T/bad-ca.err"
expect_eq "untrusted provider certificate, no cache file: the daemon refuses to start" 1 $?
check "... and says why" grep -q "no key set at start.*certificate verify failed" "$T/bad-ca.err"
check "... naming the provider" grep -q "jwks $ISS: " "$T/bad-ca.err"

# Issuer mix-up: discovery under another spelling of the issuer (a
# trailing slash) is refused, byte for byte.
gw_config "$T/mixup.json" ", \"max_stale_s\": 6"
sed -i "s|\"issuer_discovery\": \"$ISS\"|\"issuer_discovery\": \"$ISS/\"|" "$T/mixup.json"
timeout 20 "$SCOPEGATE" -f -c "$T/mixup.json" 2> "$T/mixup.err"
expect_eq "discovery document of another issuer: the daemon refuses to start" 1 $?
check "... and says why" grep -q "discovery document refused: its \"issuer\" is not \"$ISS/\"" "$T/mixup.err"

gw_config "$T/gw.json" ", \"max_stale_s\": 12"
start_gateway "$T/gw.json"
check "discovery, then the JWKS: keys in force at start" grep -q "jwks $ISS: 1 key(s) in force" "$T/gateway.err"
check "the cache file is written, mode 0600" test "$(stat -c %a "$T/jwks.cache")" = 600

T1=$(mint applicationApiToken.get)
expect_call "JWT access token from the provider (kid k1)" 200 "$T1"
T1_LIST=$(mint applicationApiTokens.get)
expect_call "provider token without the route's scope" 403 "$T1_LIST"

# Attacks: a token naming its own key (jwk header, jku URL) is never
# trusted, and nothing it names is fetched.
node -e '
const c = require("crypto");
const b = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const { privateKey, publicKey } = c.generateKeyPairSync("ec", { namedCurve: "P-256" });
const now = Math.floor(Date.now() / 1000);
for (const kid of ["k1", "evil"]) {
  const h = b({ alg: "ES256", kid, jwk: publicKey.export({ format: "jwk" }),
    jku: process.argv[1] + "/evil-jwks", x5u: process.argv[1] + "/evil-x5u" });
  const p = b({ iss: process.argv[2], aud: "https://api.example", sub: "svc", exp: now + 600,
    scope: "applicationApiToken.get" });
  const s = c.sign("sha256", Buffer.from(h + "." + p), { key: privateKey, dsaEncoding: "ieee-p1363" });
  console.log(h + "." + p + "." + s.toString("base64url"));
}' "$ISS" "$ISS" > "$T/forged.txt"
expect_call "forged token with kid k1 and its own jwk/jku" 401 "$(sed -n 1p "$T/forged.txt")"
expect_eq "... bad_signature" bad_signature "$(json_get "$(last_line "$T/access.log")" 'd.get("reason") or d.get("jwt")')"
expect_call "forged token with an unknown kid and its own jwk/jku" 401 "$(sed -n 2p "$T/forged.txt")"
sleep 0.3
check "nothing a token names was fetched" bash -c "! grep -q evil '$T/provider.log'"

# Revalidation by max-age (3 s from the provider, below refresh_s) with
# If-None-Match: a 304 keeps the set.
sleep $((MAX_AGE + 1))
check "refresh after max-age is conditional: 304 not modified" grep -q "jwks $ISS: not modified" "$T/gateway.err"
check "the provider saw If-None-Match" test "$(control stats "" | json_get - 'd["conditional"]')" -ge 1
expect_eq "metrics: keys in force" 1 "$(metric "scopegate_jwks_keys{source=\"$ISS\"}")"
check "metrics: ok fetches counted" test "$(metric "scopegate_jwks_fetches_total{source=\"$ISS\",result=\"ok\"}")" -ge 1
check "metrics: age of the set in force" test -n "$(metric "scopegate_jwks_age_seconds{source=\"$ISS\"}")"

# Hostile JWKS documents are refused whole, logged with the URL and the
# reason, and the set in force stays. Each is fetched at once: a token
# with an unknown kid asks for a refetch (cooldown 1 s).
K1_JWK=$(curl -s --cacert "$T/ca.pem" "$ISS/jwks" | json_get - 'd["keys"][0]')
EVIL=$(sed -n 2p "$T/forged.txt")
bad_doc() {
	local name=$1 body=$2 reason=$3 n0
	control jwks-body "$body" > /dev/null
	sleep 1.1
	n0=$(grep -c "JWKS refused" "$T/gateway.err")
	call "$EVIL" > /dev/null
	for i in $(seq 1 30); do
		[ "$(grep -c "JWKS refused" "$T/gateway.err")" -gt "$n0" ] && break
		sleep 0.1
	done
	check "$name: refused whole, logged with the URL and why" \
	    grep -q "jwks $ISS: JWKS refused: .*$reason.*keeping the set" "$T/gateway.err"
	expect_call "$name: the set in force stays" 200 "$T1"
}
bad_doc "duplicate kids" "{\"keys\":[$K1_JWK,$K1_JWK]}" "duplicate kid"
# A kid that would forge a log line: the reason is logged on one line.
FORGE_JWK=$(echo "$K1_JWK" | sed 's/"kid": *"k1"/"kid":"x\\nscopegate: info: FORGED"/')
bad_doc "duplicate kids forging a log line" "{\"keys\":[$FORGE_JWK,$FORGE_JWK]}" "duplicate kid"
check "... no control character reaches the log" bash -c "! grep -q '^scopegate: info: FORGED' '$T/gateway.err'"
bad_doc "a symmetric key among them" \
    "{\"keys\":[$K1_JWK,{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI\"}]}" \
    "unsupported key type"
bad_doc "not JSON" "{\"keys\":[$K1_JWK" "not JSON"
printf '{"keys":[%s],"pad":"%s"}' "$K1_JWK" "$(head -c 600000 /dev/zero | tr '\0' a)" > "$T/big.json"
bad_doc "too large" "@$T/big.json" "larger than"
check "an attacker's HMAC key never verifies: its kid stays unknown" \
    test "$(call "$(node -e '
const c = require("crypto"), b = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const h = b({ alg: "HS256", kid: "h" }), p = b({ iss: process.argv[1], aud: "https://api.example",
  exp: Math.floor(Date.now() / 1000) + 600, scope: "applicationApiToken.get" });
const k = Buffer.from("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI", "base64url");
console.log(h + "." + p + "." + c.createHmac("sha256", k).update(h + "." + p).digest("base64url"));
' "$ISS")")" = 401
# Back to the provider's own JWKS, now with max-age 60 (clamped to
# max_stale_s, 12): no scheduled refresh during the rotation below, so
# what fetches happen there are the unknown-kid refetches.
control maxage 60 > /dev/null
N0=$(grep -cE "jwks $ISS: (not modified|1 key)" "$T/gateway.err")
control jwks-body "" > /dev/null
for i in $(seq 1 30); do
	[ "$(grep -cE "jwks $ISS: (not modified|1 key)" "$T/gateway.err")" -gt "$N0" ] && break
	sleep 0.1
done

# The attacker's kid above started an unknown-kid refetch; its cooldown
# (1 s, counted in whole seconds from the refetch's start) must be over
# before the rotation's burst, or the burst is rightly refused at once.
# Under memcheck everything before this point can fit in that second.
sleep 1.1

# Rotation: k2 published and signing, k1 still published.
control keys '["k2","k1"]' > /dev/null
T2=$(mint applicationApiToken.get)
check "the provider now signs with k2" test "$(echo "$T2" | cut -d. -f1 | base64 -d 2>/dev/null | json_get - 'd["kid"]')" = k2
F0=$(fetches)
# Twenty requests at once with the new kid, before any scheduled refresh:
# one refetch for all of them, and each waits for it (suspended, at most
# fetch_timeout_ms) instead of getting 401: the first requests with a new
# key succeed. Sent by threads of one process over connections opened
# beforehand, so that all arrive well within unknown_kid_cooldown_s (1 s)
# even on a loaded machine (twenty curl processes took longer than that).
R0=$(record_count)
STATUSES=$(python3 - "$GW_PORT" "/applications/$APP/tokens/$TOK" "$T2" <<'PY'
import http.client, sys, threading
port, path, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(20)]
for c in conns:
    c.connect()
go = threading.Event()
st = []
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
print(" ".join(str(x) for x in sorted(st)))
PY
)
expect_eq "new kid before the scheduled refresh: the first 20 requests wait for the refetch, all 200" \
    "$(printf '200 %.0s' $(seq 1 20) | sed 's/ $//')" "$STATUSES"
expect_eq "... and reached the upstream" $((R0 + 20)) "$(record_count)"
F1=$(fetches)
check "unknown kid from 20 requests: one refetch (single flight), got $((F1 - F0))" \
    test $((F1 - F0)) -eq 1
expect_call "overlap: the new key's token" 200 "$T2"
expect_call "overlap: the old key's token" 200 "$T1"

# k1 retired: after the next fetch its tokens are refused (the token
# cache does not keep them alive).
control keys '["k2"]' > /dev/null
sleep 1.1	# past unknown_kid_cooldown_s
call "$EVIL" > /dev/null	# unknown kid: a refetch
check "retired key: its token refused after the next fetch" eventually 3 401 "$T1"
expect_call "retired key's token" 401 "$T1"
expect_eq "... unknown_kid" unknown_kid "$(json_get "$(last_line "$T/access.log")" 'd.get("reason") or d.get("jwt")')"
expect_call "current key's token" 200 "$T2"

# The provider answering slowly: requests with cached tokens are not held
# up by the fetch (main loop, not the workers).
control slow 2500 > /dev/null
sleep 1.1	# past unknown_kid_cooldown_s of the last refetch
F0=$(fetches)
# An unknown kid: a refetch starts (that request waits for it, in the
# background).
call "$(sed -n 2p "$T/forged.txt")" > /dev/null &
sleep 0.2
latency 1.5 "$T2" > "$T/lat.txt"
read -r N OK P99 MAX < "$T/lat.txt"
echo "# during a 2.5 s JWKS fetch: $N requests, $OK answered 200, p99 ${P99}s, max ${MAX}s"
check "slow provider: cached-token requests all answered 200 ($OK/$N)" test "$OK" = "$N" -a "$N" -ge 20
check "slow provider: p99 ${P99}s under 0.1 s" python3 -c "import sys; sys.exit(not float('$P99') < 0.1)"
check "the slow fetch was in progress" test "$(fetches)" -gt "$F0"
control slow 0 > /dev/null
sleep 2.5

# A reload with the entry unchanged keeps the set in force, even with the
# provider gone.
kill "$P_PID"
wait "$P_PID" 2>/dev/null
check "reload" reload_and_wait
expect_call "provider stopped, after a reload: last good keys in force" 200 "$T2"
expect_eq "/readyz while the last good set is in force" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")"
# max_stale_s is 12: then fail closed.
check "past max_stale_s the provider's keys are dropped" eventually 18 401 "$T2"
expect_call "provider gone past max_stale_s" 401 "$T2"
check "... and the log says so" grep -q "past max_stale_s.*dropped" "$T/gateway.err"
expect_eq "/readyz says not ready" 503 \
    "$(curl -s -o "$T/ready.json" -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")"
expect_eq "... naming the source" "no key set in force from $ISS" "$(json_get "$T/ready.json" 'd["reason"]')"
expect_eq "metrics: no keys from the source" 0 "$(metric "scopegate_jwks_keys{source=\"$ISS\"}")"

kill "$GW_PID"
wait "$GW_PID" 2>/dev/null
# Restart with the provider down: the cache file (older than max_stale_s
# now) is refused, then with a longer max_stale_s it is used.
timeout 20 "$SCOPEGATE" -f -c "$T/gw.json" 2> "$T/stale-cache.err"
expect_eq "provider down, cache file past max_stale_s: refuses to start" 1 $?
check "... and says why" grep -q "older than max_stale_s" "$T/stale-cache.err"
gw_config "$T/gw2.json" ", \"max_stale_s\": 600"
start_gateway "$T/gw2.json"
check "provider down at start: keys from the cache file" grep -q "key(s) from cache file" "$T/gateway.err"
expect_call "provider down at start: cached keys verify the provider's token" 200 "$T2"
expect_call "... and the retired key stays retired" 401 "$T1"
finish
