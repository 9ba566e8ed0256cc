#!/bin/bash
# ratelimit_fields.sh: when the gateway states the rate limit on an answer
# (rate_limit_headers, a rate_limits entry matched), the client sees the
# gateway's RateLimit-Limit/-Remaining/-Reset only: the upstream's fields of
# that family (RateLimit-Limit, -Remaining, -Reset, RateLimit,
# RateLimit-Policy, in any letter case) are dropped, on both ways an answer
# head is written (by the gateway: HTTP/1.1 GET; through evhttp: an
# HTTP/1.0 client, HEAD). Where the gateway states none (no entry matched,
# or rate_limit_headers off after a reload) the upstream's arrive as sent.
# X-RateLimit-* are other names and always pass.
. "$(dirname "$0")/lib.sh"

GW_PORT=$(free_port)
start_upstream up --add-header "RateLimit-Limit: 999" --add-header "RateLimit-Remaining: 999" \
    --add-header "RateLimit-Reset: 999" --add-header "ratelimit-policy: x" \
    --add-header "RateLimit: y" --add-header "RATELIMIT-LIMIT: 998" \
    --add-header "X-RateLimit-Limit: 997"
cat > "$T/policy.json" <<'EOT'
{ "actions": [
  { "action": "lim.get", "method": "GET", "path": "/__test/echo/lim", "public": true },
  { "action": "free.get", "method": "GET", "path": "/__test/echo/free", "public": true }
] }
EOT
# config HEADERS: the gateway's config, rate_limit_headers HEADERS.
config() {
	write_config "$T/gw.json" "\"policy\": \"policy.json\",
  \"rate_limits\": [ { \"match\": { \"actions\": [\"lim.get\"] },
    \"key\": \"client\", \"per_minute\": 1, \"burst\": 50 } ],
  \"rate_limit_headers\": $1"
}
config true
start_gateway "$T/gw.json" || { not_ok "gateway started"; finish; }
G=http://127.0.0.1:$GW_PORT/__test/echo

# fields FILE: the answer's field lines of the RateLimit family and
# X-RateLimit-*, CRs dropped, in byte order.
fields() {
	tr -d '\r' < "$1" | grep -i '^\(x-\)\{0,1\}ratelimit[-:]' | LC_ALL=C sort
}
# get NAME CURL_ARGS...: the answer's head into $T/NAME.h; prints the status.
get() {
	local name=$1
	shift
	curl -s -o /dev/null -D "$T/$name.h" -w '%{http_code}' "$@"
}
# gateway_only NAME LEFT: the head $T/NAME.h has the gateway's three
# fields once each (Limit 50, Remaining LEFT, Reset a whole number of
# seconds up to 5 minutes, shown as N), X-RateLimit-Limit as the upstream
# sent it, and nothing else of the family.
gateway_only() {
	expect_eq "$1: exactly the gateway's RateLimit-* (and X-RateLimit-* passed)" \
	    "$(printf 'RateLimit-Limit: 50\nRateLimit-Remaining: %s\nRateLimit-Reset: N\nX-RateLimit-Limit: 997\n' "$2" |
	    LC_ALL=C sort)" \
	    "$(fields "$T/$1.h" | awk '$1 == "RateLimit-Reset:" && $2 ~ /^[1-9][0-9]*$/ && $2 <= 300 { $2 = "N" } { print }')"
}
UPSTREAM_SET=$(printf '%s\n' "RateLimit-Limit: 999" "RateLimit-Remaining: 999" "RateLimit-Reset: 999" \
    "ratelimit-policy: x" "RateLimit: y" "RATELIMIT-LIMIT: 998" "X-RateLimit-Limit: 997" | LC_ALL=C sort)

n0=$(record_count)
expect_eq "limited, HTTP/1.1 GET (the gateway writes the head): 200" 200 "$(get own "$G/lim")"
gateway_only own 49
expect_eq "limited, HTTP/1.0 GET (the head through evhttp): 200" 200 "$(get h10 -0 "$G/lim")"
gateway_only h10 48
expect_eq "limited, HEAD (through evhttp): 200" 200 "$(get head -I "$G/lim")"
gateway_only head 47
expect_eq "limited, HTTP/1.1 keep-alive: two answers on one connection" "200200" \
    "$(curl -s -o /dev/null -o /dev/null -D "$T/ka.h" -w '%{http_code}' "$G/lim" "$G/lim")"
tr -d '\r' < "$T/ka.h" | awk '/^HTTP\// { n++ } { print > ("'"$T"'/ka" n ".h") }'
gateway_only ka1 46
gateway_only ka2 45
expect_eq "all five reached the upstream" $((n0 + 5)) "$(record_count)"

expect_eq "no limit matched: 200" 200 "$(get free "$G/free")"
expect_eq "... the upstream's fields arrive as sent (no gateway's)" "$UPSTREAM_SET" \
    "$(fields "$T/free.h")"
expect_eq "no limit matched, HEAD: 200" 200 "$(get freehead -I "$G/free")"
expect_eq "... the upstream's fields arrive as sent" "$UPSTREAM_SET" "$(fields "$T/freehead.h")"

config false
check "reload: rate_limit_headers false" reload_and_wait
expect_eq "limited, headers off: 200" 200 "$(get off "$G/lim")"
expect_eq "... the upstream's fields arrive as sent" "$UPSTREAM_SET" "$(fields "$T/off.h")"
expect_eq "limited, headers off, HTTP/1.0: 200" 200 "$(get off10 -0 "$G/lim")"
expect_eq "... the upstream's fields arrive as sent" "$UPSTREAM_SET" "$(fields "$T/off10.h")"
check "the gateway is still running" kill -0 "$GW_PID"
finish
