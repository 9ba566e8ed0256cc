#!/usr/bin/env bash
# `scopegate explain --body`: a body action decided as the daemon decides
# it. Each case runs explain and sends the same request, with a token of
# the same scopes, through the real daemon: same status, same reason, and
# nothing refused reached the upstream. Without --body a body action is
# decided on everything else and says "body": "not checked".
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
P="/applications/$APP/tokens"

start_upstream up
GW_PORT=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"limits\": { \"max_body_bytes\": 4096 },
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] }"
start_gateway "$T/gw.json"
TOKEN=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 \
    --scope applicationApiTokens.post)

# Without --body: allowed on everything else, and said so.
"$SCOPEGATE" explain -c "$T/gw.json" POST "$P" --scopes applicationApiTokens.post > "$T/ex.json"
expect_eq "no --body: exit 0 (the caller's scopes allow it)" 0 "$?"
expect_eq "no --body: allow" allow "$(json_get "$T/ex.json" 'd["decision"]')"
expect_eq "no --body: body not checked" "not checked" "$(json_get "$T/ex.json" 'd["body"]')"
"$SCOPEGATE" explain -c "$T/gw.json" POST "$P" --scopes device.get > "$T/ex.json"
expect_eq "no --body, wrong scope: still denied (403)" "1 403" \
    "$? $(json_get "$T/ex.json" 'd["status"]')"
"$SCOPEGATE" explain -c "$T/gw.json" GET "$P" --scopes applicationApiTokens.get > "$T/ex.json"
expect_eq "an action without body rules says so" "no rules" "$(json_get "$T/ex.json" 'd["body"]')"
"$SCOPEGATE" explain -c "$T/gw.json" POST "$P" --scopes a --content-type text/plain > /dev/null 2>&1
expect_eq "--content-type without --body is a usage error" 2 "$?"
"$SCOPEGATE" explain -c "$T/gw.json" POST "$P" --scopes a --body "$T/missing" > /dev/null 2> "$T/err"
expect_eq "an unreadable --body file is an error" 2 "$?"
check "... naming it" grep -q "$T/missing" "$T/err"

# case NAME CONTENT-TYPE BODY EXPECTED-STATUS EXPECTED-REASON
case_() {
	local name=$1 ctype=$2 body=$3 want=$4 reason=$5 n got rc
	printf '%s' "$body" > "$T/body"
	"$SCOPEGATE" explain -c "$T/gw.json" POST "$P" --scopes applicationApiTokens.post \
	    --body "$T/body" --content-type "$ctype" > "$T/ex.json"
	rc=$?
	expect_eq "$name: explain status" "$want" "$(json_get "$T/ex.json" 'd["status"]')"
	expect_eq "$name: explain reason" "$reason" "$(json_get "$T/ex.json" 'd["reason"]')"
	expect_eq "$name: explain exit" "$([ "$want" = 200 ] && echo 0 || echo 1)" "$rc"
	expect_eq "$name: body checked" checked "$(json_get "$T/ex.json" 'd["body"]')"
	n=$(record_count)
	got=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
	    -H "Content-Type: $ctype" --data-binary @"$T/body" "http://127.0.0.1:$GW_PORT$P")
	# Allowed: the upstream's answer (201 Created here).
	[ "$want" = 200 ] && [ "${got#2}" != "$got" ] && got=200
	expect_eq "$name: the daemon answers the same" "$want" "$got"
	sleep 0.1
	expect_eq "$name: the daemon logs the same reason" "$reason" \
	    "$(tail -n 1 "$T/access.log" | json_get - 'd["reason"]')"
	if [ "$want" != 200 ]; then
		expect_eq "$name: nothing reached the upstream" "$n" "$(record_count)"
	fi
}
case_ "valid body" application/json '{"name":"x","scope":["applicationApiTokens.post"]}' 200 scope
case_ "escalation" application/json '{"name":"x","scope":["all.Application"]}' 403 scope_escalation
case_ "escalation in another spelling" "Application/JSON; charset=utf-8" \
    '{"name":"x","scope":["applicationApiTokens.post","all.Organization"]}' 403 scope_escalation
case_ "schema violation" application/json '{"name":5}' 400 body_schema
case_ "malformed JSON" application/json '{"name":' 400 body_json
case_ "duplicate keys" application/json '{"name":"x","scope":[],"scope":["all.Application"]}' 400 body_json
case_ "not JSON" text/plain '{"name":"x"}' 400 content_type
case_ "too large" application/json "{\"name\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"}" 413 body_too_large

# The body from standard input.
echo '{"name":"x","scope":["all.User"]}' | "$SCOPEGATE" explain -c "$T/gw.json" POST "$P" \
    --scopes applicationApiTokens.post --body - > "$T/ex.json"
expect_eq "--body -: read from standard input" "1 scope_escalation" \
    "$? $(json_get "$T/ex.json" 'd["reason"]')"
finish
