#!/usr/bin/env bash
# Report-only rollout through the real daemon (Losant policy, real signed
# tokens, the example upstream recording what reached it): an action in
# "report_only" forwards what its authorization rules would refuse and logs
# it as would_deny with the reason; an action beside it still refuses; what
# protects the gateway (authentication, framing, limits, malformed JSON) is
# refused in report mode too, with nothing forwarded; metrics count by action
# and reason; explain says both; a reload back to enforcing refuses again.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
RAW="$top_srcdir/tests/integration/rawhttp.py"
install -m 600 "$KEYS/hmac256.key" "$T/hmac.key"

start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
TOKENS="\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$T/hmac.key\", \"type\": \"hmac\", \"kid\": \"hs1\", \"algs\": [\"HS256\"] } ] },
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT },
  \"revocations\": { \"journal\": \"$T/revocations.journal\" }"
write_config "$T/gw.json" "$TOKENS,
  \"report_only\": [ \"applicationApiToken.*\", \"applicationApiTokens.post\" ]"
write_config "$T/enforce.json" "$TOKENS"
check "config with report_only passes -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json"
GW="http://127.0.0.1:$GW_PORT"
U="$GW/applications/$APP/tokens"

mint() {
	"$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid hs1 --sub user-1 \
	    --jti "jti-$RANDOM" --exp-in 600 "$@"
}
call() {
	local m=$1 url=$2 tok=$3
	shift 3
	curl -s -o "$T/r.json" -D "$T/h.txt" -w '%{http_code}' -X "$m" \
	    ${tok:+-H "Authorization: Bearer $tok"} "$@" "$url"
}
# log_is "desc" DECISION REASON: the last access-log line
log_is() {
	local f
	sleep 0.2
	f=$(last_line "$T/access.log")
	expect_eq "$1: log decision" "$2" "$(json_get "$f" 'd["decision"]')"
	expect_eq "$1: log reason" "$3" "$(json_get "$f" 'd["reason"]')"
	if [ "$2" != deny ]; then
		expect_eq "$1: the status is the upstream's" "$(json_get "$f" 'd["status"]')" \
		    "$(json_get "$f" 'd["upstream_status"]')"
	fi
}
expect_forwarded() {
	local desc=$1 want=$2 n0
	shift 2
	n0=$(record_count)
	expect_eq "$desc: status" "$want" "$(call "$@")"
	expect_eq "$desc: reached the upstream" "$((n0 + 1))" "$(record_count)"
}
expect_refused() {
	local desc=$1 want=$2 n0
	shift 2
	n0=$(record_count)
	expect_eq "$desc: status" "$want" "$(call "$@")"
	expect_eq "$desc: nothing forwarded" "$n0" "$(record_count)"
}

WRONG=$(mint --scope "device.get")
GOOD=$(mint --scope "applicationApiToken.get applicationApiTokens.post")

# --- what report mode relaxes ----------------------------------------------------
expect_forwarded "report: scope the token lacks" 200 GET "$U/$TOK" "$WRONG"
log_is "report: scope the token lacks" would_deny insufficient_scope
expect_forwarded "report: scope the token holds" 200 GET "$U/$TOK" "$GOOD"
log_is "report: scope the token holds" allow scope
# The upstream answers what it makes of these (the example upstream checks
# ids and bodies itself); the log says it was the upstream's answer.
expect_forwarded "report: bad path parameter" 400 GET "$U/not-an-id" "$GOOD"
log_is "report: bad path parameter" would_deny bad_param
expect_forwarded "report: token creation beyond the caller's scopes" 201 POST "$U" "$GOOD" \
    -H 'Content-Type: application/json' --data '{"name":"x","scope":["all.Organization"]}'
log_is "report: token creation beyond the caller's scopes" would_deny scope_escalation
expect_forwarded "report: body against the schema" 400 POST "$U" "$GOOD" \
    -H 'Content-Type: application/json' --data '{"name":1,"scope":["applicationApiToken.get"]}'
log_is "report: body against the schema" would_deny body_schema

# --- the enforcing action beside it --------------------------------------------
expect_refused "enforce beside report: scope the token lacks" 403 GET "$U" "$WRONG"
log_is "enforce beside report" deny insufficient_scope

# --- what report mode never relaxes --------------------------------------------
expect_refused "report: no token" 401 GET "$U/$TOK" ""
log_is "report: no token" deny no_token
# The last character changed (to one it is not: "${WRONG%?}A" was the
# valid token itself whenever its signature ended in A, 1 run in 16).
BADSIG=${WRONG%?}A
[ "${WRONG: -1}" = A ] && BADSIG=${WRONG%?}E
expect_refused "report: bad signature" 401 GET "$U/$TOK" "$BADSIG"
expect_refused "report: expired token" 401 GET "$U/$TOK" \
    "$("$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid hs1 --sub u --exp-in -3600 --scope device.get)"
log_is "report: expired token" deny expired
expect_refused "report: unknown route" 404 GET "$GW/applications/$APP/nothing-here" "$WRONG"
expect_refused "report: method the route lacks" 405 PUT "$U/$TOK" "$WRONG"
expect_refused "report: malformed JSON body" 400 POST "$U" "$GOOD" \
    -H 'Content-Type: application/json' --data '{"name":"x",'
log_is "report: malformed JSON body" deny body_json
expect_refused "report: duplicate keys in the body" 400 POST "$U" "$GOOD" \
    -H 'Content-Type: application/json' --data '{"name":"x","scope":[],"scope":["all.Organization"]}'
expect_refused "report: checked body without JSON content type" 400 POST "$U" "$GOOD" \
    -H 'Content-Type: text/plain' --data '{"name":"x"}'
expect_refused "report: scopes to grant in the query" 400 POST "$U?scope=all.Organization" "$GOOD" \
    -H 'Content-Type: application/json' --data '{"name":"x","scope":["applicationApiToken.get"]}'
expect_refused "report: dot segment" 400 GET "$GW/applications/$APP/tokens/../tokens/$TOK" "$WRONG" \
    --path-as-is
n0=$(record_count)
expect_eq "report: Content-Length with Transfer-Encoding (smuggling)" 400 \
    "$(python3 "$RAW" --port "$GW_PORT" "POST /applications/$APP/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $WRONG\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")"
expect_eq "report: two Authorization fields" 400 \
    "$(python3 "$RAW" --port "$GW_PORT" "GET /applications/$APP/tokens/$TOK HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $WRONG\r\nAuthorization: Bearer $GOOD\r\n\r\n")"
BIG=$(head -c 70000 /dev/zero | tr '\0' a)
expect_eq "report: oversized head" 431 \
    "$(call GET "$U/$TOK" "$WRONG" -H "X-Big: $BIG")"
expect_eq "report: hostile requests: nothing forwarded" "$n0" "$(record_count)"

expect_refused "report: token without the id revocation needs" 401 GET "$U/$TOK" \
    "$("$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid hs1 --sub u --exp-in 600 --scope device.get)"
log_is "report: token without an id" deny token_id_missing
# A revoked token: forwarded (would_deny) before, 401 after.
REV=$("$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid hs1 --sub u --jti rev-1 --exp-in 600 --scope device.get)
expect_forwarded "report: token about to be revoked" 200 GET "$U/$TOK" "$REV"
expect_eq "revoke it through the admin API" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d '{"id":"rev-1"}' "http://127.0.0.1:$ADMIN_PORT/revocations")"
expect_refused "report: revoked token" 401 GET "$U/$TOK" "$REV"
log_is "report: revoked token" deny revoked

# --- metrics ---------------------------------------------------------------------
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" > "$T/metrics.txt"
check "metrics: would_deny by action and reason (scope)" grep -qx \
    'scopegate_would_deny_total{action="applicationApiToken.get",reason="insufficient_scope"} 2' "$T/metrics.txt"
check "metrics: would_deny by action and reason (param)" grep -qx \
    'scopegate_would_deny_total{action="applicationApiToken.get",reason="bad_param"} 1' "$T/metrics.txt"
check "metrics: would_deny by action and reason (escalation)" grep -qx \
    'scopegate_would_deny_total{action="applicationApiTokens.post",reason="scope_escalation"} 1' "$T/metrics.txt"
check "metrics: requests_total says would_deny" grep -qx \
    'scopegate_requests_total{action="applicationApiToken.get",decision="would_deny",status="200"} 2' "$T/metrics.txt"
check "metrics: the enforced refusal is no would_deny" bash -c \
    "! grep -q 'would_deny_total{action=\"applicationApiTokens.get\"' '$T/metrics.txt'"
PYPROM=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import prometheus_client' 2>/dev/null; then PYPROM=$py; break; fi
done
if [ -z "$PYPROM" ]; then
	not_ok "python3-prometheus-client is not installed (setup.sh installs it)"
else
	check "prometheus_client reads would_deny_total" "$PYPROM" \
	    "$top_srcdir/tests/integration/promcheck.py" "$T/metrics.txt" \
	    'scopegate_would_deny_total{action="applicationApiToken.get",reason="insufficient_scope"} == 2'
fi

# --- explain ---------------------------------------------------------------------
"$SCOPEGATE" explain -c "$T/gw.json" --scopes device.get GET "/applications/$APP/tokens/$TOK" > "$T/ex.json"
expect_eq "explain (report): exit 0, forwarded" 0 $?
expect_eq "explain (report): decision" would_deny "$(json_get "$T/ex.json" 'd["decision"]')"
expect_eq "explain (report): mode" report "$(json_get "$T/ex.json" 'd["mode"]')"
expect_eq "explain (report): status enforcing would answer" 403 "$(json_get "$T/ex.json" 'd["would_status"]')"
expect_eq "explain (report): reason" insufficient_scope "$(json_get "$T/ex.json" 'd["would_deny_reason"]')"
"$SCOPEGATE" explain -c "$T/gw.json" --scopes device.get GET "/applications/$APP/tokens" > "$T/ex2.json"
expect_eq "explain (enforce): exit 1" 1 $?
expect_eq "explain (enforce): decision" deny "$(json_get "$T/ex2.json" 'd["decision"]')"
expect_eq "explain (enforce): mode" enforce "$(json_get "$T/ex2.json" 'd["mode"]')"

# --- a bad report_only is refused, with the pointer ------------------------------
write_config "$T/bad.json" "$TOKENS, \"report_only\": [ \"applicationApiTokn.*\", \"a b\" ]"
"$SCOPEGATE" -t -c "$T/bad.json" 2> "$T/bad.err"
expect_eq "typo in report_only: -t fails" 1 $?
check "typo in report_only: pointer named" grep -q '/report_only/0: matches no action' "$T/bad.err"
check "bad glob: pointer named" grep -q '/report_only/1: must be an action name' "$T/bad.err"

# --- rate limits hold for what report mode forwards --------------------------------
write_config "$T/limited.json" "$TOKENS,
  \"report_only\": [ \"*\" ],
  \"rate_limit\": { \"key\": \"subject\", \"per_minute\": 1, \"burst\": 2 }"
cp "$T/limited.json" "$T/gw.json"
check "reload: report_only everything, rate limit by subject" reload_and_wait
LIM=$("$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid hs1 --sub limited-user --jti lim-1 --exp-in 600 --scope device.get)
expect_forwarded "rate limit, report mode: 1st" 200 GET "$U/$TOK" "$LIM"
expect_forwarded "rate limit, report mode: 2nd" 200 GET "$U" "$LIM"
log_is "report_only [\"*\"]: the whole policy" would_deny insufficient_scope
expect_refused "rate limit, report mode: 3rd is over the limit" 429 GET "$U/$TOK" "$LIM"
log_is "rate limit, report mode" deny rate_limited

# --- a reload to enforcing refuses at once -------------------------------------
cp "$T/enforce.json" "$T/gw.json"
check "reload to enforcing" reload_and_wait
expect_refused "after the reload: scope the token lacks" 403 GET "$U/$TOK" "$WRONG"
log_is "after the reload" deny insufficient_scope
finish
