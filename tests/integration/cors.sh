#!/usr/bin/env bash
# CORS through the real daemon with curl and raw sockets (the browser's
# side is cors_browser.sh): preflights answered by the gateway without a
# token and never forwarded; refused ones (origin, method, header, action
# without a rule, unknown route) without CORS fields; real answers, the
# gateway's 401 included, carry Access-Control-Allow-Origin for allowed
# origins only; hostile spellings of origins; a preflight with a smuggled
# body; configuration errors with their pointer; a reload.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
RAW="$top_srcdir/tests/integration/rawhttp.py"
install -m 600 "$KEYS/hmac256.key" "$T/hmac.key"

start_upstream up
GW_PORT=$(free_port)
BASE="\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$T/hmac.key\", \"type\": \"hmac\", \"kid\": \"hs1\", \"algs\": [\"HS256\"] } ] }"
write_config "$T/gw.json" "$BASE,
  \"cors\": [
    { \"actions\": [\"applicationApiTokens.*\"],
      \"allowed_origins\": [\"https://app.example.com\", \"https://*.example.org\"],
      \"allowed_methods\": [\"GET\"], \"expose_headers\": [\"X-Request-Id\"],
      \"allow_credentials\": true, \"max_age_s\": 120 },
    { \"actions\": [\"applicationApiToken.get\", \"applicationApiToken.delete\"],
      \"allowed_origins\": [\"http://127.0.0.1:9\"] } ]"
write_config "$T/nocors.json" "$BASE"
check "config with cors passes -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json"
GW="http://127.0.0.1:$GW_PORT"
U="$GW/applications/$APP/tokens"
TOKEN=$("$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid hs1 --sub u --exp-in 600 \
    --scope "applicationApiTokens.get applicationApiToken.get")

# req "desc" WANT_STATUS URL [curl args]: status, headers in $T/h.txt
req() {
	local desc=$1 want=$2 url=$3
	shift 3
	expect_eq "$desc: status" "$want" \
	    "$(curl -s -o "$T/r.json" -D "$T/h.txt" -w '%{http_code}' "$@" "$url")"
}
hdr() {
	tr -d '\r' < "$T/h.txt" | awk -v n="$1" 'BEGIN{IGNORECASE=1} index(tolower($0), tolower(n) ": ") == 1 { sub(/^[^:]*: /, ""); print }'
}
no_cors_fields() {
	check "$1: no CORS fields" bash -c "! grep -qi '^access-control-' '$T/h.txt'"
}
preflight() {
	local desc=$1 want=$2 url=$3 origin=$4 method=$5
	shift 5
	req "$desc" "$want" "$url" -X OPTIONS -H "Origin: $origin" \
	    -H "Access-Control-Request-Method: $method" "$@"
}
last_reason() {
	sleep 0.2
	json_get "$(last_line "$T/access.log")" 'd["reason"]'
}

n0=$(record_count)
# --- preflights answered ---------------------------------------------------------
preflight "preflight, allowed origin" 204 "$U" https://app.example.com GET \
    -H 'Access-Control-Request-Headers: authorization'
expect_eq "preflight: Allow-Origin is the origin" https://app.example.com "$(hdr Access-Control-Allow-Origin)"
expect_eq "preflight: Allow-Methods" GET "$(hdr Access-Control-Allow-Methods)"
expect_eq "preflight: Allow-Headers" "authorization, content-type" "$(hdr Access-Control-Allow-Headers)"
expect_eq "preflight: Allow-Credentials" true "$(hdr Access-Control-Allow-Credentials)"
expect_eq "preflight: Max-Age" 120 "$(hdr Access-Control-Max-Age)"
check "preflight: Vary names Origin" bash -c "grep -qi '^vary: .*origin' '$T/h.txt'"
expect_eq "preflight: logged" cors_preflight "$(last_reason)"
preflight "preflight, pattern origin" 204 "$U" https://a.b.example.org GET
expect_eq "preflight, pattern: Allow-Origin" https://a.b.example.org "$(hdr Access-Control-Allow-Origin)"
preflight "preflight, second rule" 204 "$U/$TOK" http://127.0.0.1:9 DELETE
expect_eq "preflight, second rule: no credentials" "" "$(hdr Access-Control-Allow-Credentials)"
expect_eq "preflights: nothing forwarded" "$n0" "$(record_count)"

# --- preflights refused ----------------------------------------------------------
for o in https://evil.com https://example.org https://example.org.evil.com \
    https://app.example.com.evil.com http://app.example.com https://app.example.com:443 \
    https://APP.example.com https://app.example.com. null "https://app.example.com/" \
    "https://x@app.example.com"; do
	preflight "preflight from $o" 403 "$U" "$o" GET
	no_cors_fields "preflight from $o"
done
expect_eq "preflight, bad origin: logged" cors_origin "$(last_reason)"
req "preflight with two Origin fields" 403 "$U" -X OPTIONS -H "Origin: https://app.example.com" \
    -H "Origin: https://evil.com" -H "Access-Control-Request-Method: GET"
no_cors_fields "preflight with two Origin fields"
preflight "preflight, method not in allowed_methods" 403 "$U" https://app.example.com POST
no_cors_fields "preflight, method not allowed"
expect_eq "preflight, method: logged" cors_method "$(last_reason)"
preflight "preflight, header not allowed" 403 "$U" https://app.example.com GET \
    -H 'Access-Control-Request-Headers: authorization, x-evil'
expect_eq "preflight, header: logged" cors_headers "$(last_reason)"
preflight "preflight, action without a rule" 403 "$GW/applications/$APP" https://app.example.com GET
expect_eq "preflight, no rule: logged" cors_not_enabled "$(last_reason)"
preflight "preflight, unknown route" 404 "$GW/nothing/here" https://app.example.com GET
no_cors_fields "preflight, unknown route"
preflight "preflight, method the route lacks" 405 "$U" https://app.example.com DELETE
expect_eq "preflight, 405: Allow" "GET, HEAD, POST" "$(hdr Allow)"
preflight "preflight, lowercase method" 405 "$U" https://app.example.com get
preflight "preflight, dot segment" 400 "$GW/applications/$APP/x/../tokens" https://app.example.com GET \
    --path-as-is
# A body on a preflight is not read: the connection closes after the
# answer, and the request hidden in the body is never served.
n1=$(record_count)
expect_eq "preflight with a smuggled request in its body" "204 closed" \
    "$(python3 "$RAW" --all --port "$GW_PORT" "OPTIONS /applications/$APP/tokens HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: GET\r\nContent-Length: 94\r\n\r\nGET /applications/$APP/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOKEN\r\n\r\n")"
expect_eq "preflights refused: nothing forwarded" "$n0" "$(record_count)"

# --- a non-preflight OPTIONS keeps today's behaviour ------------------------------
req "OPTIONS without Access-Control-Request-Method" 405 "$U" -X OPTIONS -H "Origin: https://app.example.com"
req "OPTIONS without Origin" 405 "$U" -X OPTIONS -H "Access-Control-Request-Method: GET"

# --- real requests --------------------------------------------------------------
req "GET, allowed origin" 200 "$U" -H "Origin: https://app.example.com" -H "Authorization: Bearer $TOKEN"
expect_eq "GET: reached the upstream" "$((n0 + 1))" "$(record_count)"
expect_eq "GET: Allow-Origin" https://app.example.com "$(hdr Access-Control-Allow-Origin)"
expect_eq "GET: Allow-Credentials" true "$(hdr Access-Control-Allow-Credentials)"
expect_eq "GET: Expose-Headers" X-Request-Id "$(hdr Access-Control-Expose-Headers)"
check "GET: Vary names Origin" bash -c "grep -qi '^vary: .*origin' '$T/h.txt'"
req "GET, no token, allowed origin" 401 "$U" -H "Origin: https://app.example.com"
expect_eq "401: the page may read it" https://app.example.com "$(hdr Access-Control-Allow-Origin)"
req "GET, wrong scope, allowed origin" 403 "$GW/applications/$APP/tokens/$TOK" \
    -H "Origin: http://127.0.0.1:9" -H "Authorization: Bearer $("$TOKEN_BIN" --key "$T/hmac.key" \
    --alg HS256 --kid hs1 --sub u --exp-in 600 --scope device.get)"
expect_eq "403: the page may read it" http://127.0.0.1:9 "$(hdr Access-Control-Allow-Origin)"
req "GET, other origin (CORS is not authorization)" 200 "$U" -H "Origin: https://evil.com" \
    -H "Authorization: Bearer $TOKEN"
no_cors_fields "GET, other origin"
check "GET, other origin: still Vary: Origin" bash -c "grep -qi '^vary: .*origin' '$T/h.txt'"
req "GET, two Origin fields" 200 "$U" -H "Origin: https://app.example.com" -H "Origin: https://evil.com" \
    -H "Authorization: Bearer $TOKEN"
no_cors_fields "GET, two Origin fields"
req "GET, action without a rule" 403 "$GW/applications/$APP" -H "Origin: https://app.example.com" \
    -H "Authorization: Bearer $TOKEN"
no_cors_fields "GET, action without a rule"
# A simple request (no preflight) with a method the rule does not list:
# its answer is not made readable to the page either.
req "POST, method not in allowed_methods" 403 "$U" -X POST -H "Origin: https://app.example.com" \
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" --data '{"name":"x"}'
no_cors_fields "POST, method not in allowed_methods"
check "POST, method not in allowed_methods: still Vary: Origin" bash -c "grep -qi '^vary: .*origin' '$T/h.txt'"

# --- the upstream's own CORS fields never pass for an action with a rule ---------
RAW_PORT_FILE="$T/raw.port"
python3 "$top_srcdir/tests/integration/rawupstream.py" "$RAW_PORT_FILE" 2> "$T/raw.err" &
PIDS+=("$!")
for i in $(seq 1 100); do [ -s "$RAW_PORT_FILE" ] && break; sleep 0.05; done
cat > "$T/case-policy.json" <<EOP
{ "actions": [
  { "action": "case.get", "method": "GET", "path": "/case/{name}", "public": true, "params": { "name": "string" } },
  { "action": "other.get", "method": "GET", "path": "/other/case/{name}", "public": true, "params": { "name": "string" } } ] }
EOP
GW2_PORT=$(free_port)
cat > "$T/gw2.json" <<EOC
{ "listeners": [ { "address": "127.0.0.1", "port": $GW2_PORT } ],
  "upstream": { "url": "http://127.0.0.1:$(cat "$RAW_PORT_FILE")" },
  "policy": "$T/case-policy.json",
  "cors": { "actions": ["case.get"], "allowed_origins": ["https://app.example.com"] } }
EOC
"$SCOPEGATE" -f -c "$T/gw2.json" 2>> "$T/gateway2.err" &
PIDS+=("$!")
wait_port "$GW2_PORT"
req "upstream with Allow-Origin *, other origin" 200 "http://127.0.0.1:$GW2_PORT/case/cors-star" \
    -H "Origin: https://evil.com"
no_cors_fields "upstream with Allow-Origin *, other origin"
req "upstream with Allow-Origin *, allowed origin" 200 "http://127.0.0.1:$GW2_PORT/case/cors-star" \
    -H "Origin: https://app.example.com"
expect_eq "the gateway's Allow-Origin alone" https://app.example.com "$(hdr Access-Control-Allow-Origin)"
expect_eq "no credentials the rule does not give" "" "$(hdr Access-Control-Allow-Credentials)"
expect_eq "no exposed fields the rule does not give" "" "$(hdr Access-Control-Expose-Headers)"

# --- configuration errors ---------------------------------------------------------
write_config "$T/bad.json" "$BASE, \"cors\": { \"allowed_origins\": [\"null\", \"https://*.com\",
  \"https://example.com/\", \"*\"], \"actions\": [\"nosuch.*\"], \"max_age_s\": -1, \"allowed_methods\": [\"get\"] }"
"$SCOPEGATE" -t -c "$T/bad.json" 2> "$T/bad.err"
expect_eq "bad cors: -t fails" 1 $?
for p in /cors/allowed_origins/0 /cors/allowed_origins/1 /cors/allowed_origins/2 \
    /cors/allowed_origins/3 /cors/actions/0 /cors/max_age_s /cors/allowed_methods/0; do
	check "bad cors: $p named" grep -q "$p" "$T/bad.err"
done

# --- a reload without cors: preflights are plain OPTIONS again ------------------
cp "$T/nocors.json" "$T/gw.json"
check "reload without cors" reload_and_wait
preflight "after the reload: preflight" 405 "$U" https://app.example.com GET
no_cors_fields "after the reload"
finish
