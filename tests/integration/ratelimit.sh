#!/usr/bin/env bash
# Rate limits through the real daemon (two workers, one shared table):
# by the token's subject, what the policy allowed counts and the request
# over the limit gets 429 in the Losant error shape with Retry-After and is
# never forwarded; other subjects are not affected; refusals of the policy
# do not count. By client address (after a reload), every request counts
# before any token is looked at.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# rate_config KEY RATE_JSON
rate_config() {
	write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"workers\": 2,
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT },
  \"rate_limit\": { \"key\": \"$1\", $2 }"
}
# One request every 3 s, 3 at once: slow enough that a slow build (the
# sanitizers) still sends its burst "at once".
rate_config subject '"per_minute": 20, "burst": 3'
start_gateway "$T/gw.json"
U="http://127.0.0.1:$GW_PORT/applications/$APP/tokens"

mint() {	# SUB SCOPE
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --sub "$1" --exp-in 600 \
	    --scope "$2"
}
ALICE=$(mint alice applicationApiTokens.get)
BOB=$(mint bob applicationApiTokens.get)
# call TOKEN: the status; body in $T/r.json, headers in $T/h.txt. A new
# connection each time: the requests spread over both workers.
call() {
	curl -s -o "$T/r.json" -D "$T/h.txt" -w '%{http_code}' -H "Authorization: Bearer $1" "$U"
}

n0=$(record_count)
codes=""
for i in 1 2 3; do codes="$codes$(call "$ALICE")"; done
expect_eq "subject: a burst of 3 is allowed" "200200200" "$codes"
expect_eq "subject: the 4th at once gets 429" 429 "$(call "$ALICE")"
expect_eq "... in the Losant error shape" TooManyRequests "$(json_get "$T/r.json" 'd["type"]')"
expect_eq "... with its standard reason phrase" "HTTP/1.1 429 Too Many Requests" \
    "$(head -n 1 "$T/h.txt" | tr -d '\r')"
ra=$(tr -d '\r' < "$T/h.txt" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
check "... with Retry-After in whole seconds ($ra)" test "${ra:-0}" -ge 1 -a "${ra:-0}" -le 3
expect_eq "... and not forwarded" $((n0 + 3)) "$(record_count)"
expect_eq "another subject is not limited" 200 "$(call "$BOB")"
# A request the policy refuses does not count, and is refused as before.
WEAK=$(mint alice device.get)
expect_eq "a denied request of the limited subject: 403, not 429" 403 "$(call "$WEAK")"
sleep 3.1
expect_eq "3 s later: one more allowed" 200 "$(call "$ALICE")"
expect_eq "... and only one" 429 "$(call "$ALICE")"
sleep 0.3
last=$(last_line "$T/access.log")
expect_eq "access log: status 429" 429 "$(json_get "$last" 'd["status"]')"
expect_eq "access log: reason rate_limited" rate_limited "$(json_get "$last" 'd["reason"]')"
expect_eq "access log: the subject" alice "$(json_get "$last" 'd["subject"]')"
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" > "$T/metrics"
check "metrics count the 429s" grep -q 'status="429"} [1-9]' "$T/metrics"
expect_eq "metrics: two keys remembered (alice, bob)" 2 \
    "$(awk '$1 == "scopegate_rate_limit_keys" { print $2 }' "$T/metrics")"

# By client address: bad tokens count too, before any verification.
rate_config client '"per_minute": 12, "burst": 2'
check "reload to a limit by client address" reload_and_wait
codes=""
for i in 1 2 3; do codes="$codes$(call "not-a-token")"; done
expect_eq "client: two bad tokens get 401, the third 429" "401401429" "$codes"
expect_eq "... and so does a good token from that client now" 429 "$(call "$BOB")"
sleep 0.3
last=$(last_line "$T/access.log")
expect_eq "access log: reason rate_limited" rate_limited "$(json_get "$last" 'd["reason"]')"
expect_eq "... no token looked at" null "$(json_get "$last" 'd["subject"]')"
check "the gateway is still running" kill -0 "$GW_PID"
finish
