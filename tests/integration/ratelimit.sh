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
# Also listen on [::1] when this machine has an IPv6 loopback.
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	HAVE_V6=1
else
	HAVE_V6=
	echo "# no IPv6 loopback (::1) here: the IPv6 peer test is skipped"
fi
# rate_config KEY RATE_JSON [MORE_TOP_LEVEL_JSON]
rate_config() {
	write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"workers\": 2,
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT },
  \"rate_limit\": { \"key\": \"$1\", $2 }${3:+,
  $3}"
	[ -n "$HAVE_V6" ] && sed -i "s/\"listeners\": \[ /&{ \"address\": \"::1\", \"port\": $GW_PORT }, /" "$T/gw.json"
	return 0
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

# A real IPv6 peer (::1) is a client of its own, limited like any other.
if [ -n "$HAVE_V6" ]; then
	codes=""
	for i in 1 2 3; do
		codes="$codes$(curl -s -g -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOB" \
		    "http://[::1]:$GW_PORT/applications/$APP/tokens")"
	done
	expect_eq "IPv6 peer ::1: a burst of 2, then 429 (apart from 127.0.0.1, limited above)" \
	    "200200429" "$codes"
fi

# IPv6 clients count by their /64 (rate_limit.ipv6_prefix): rotating the
# address inside one allocation does not make a new client; IPv4-mapped
# IPv6 is the IPv4 client. Addresses come through a trusted proxy
# (X-Forwarded-For from 127.0.0.1), as the only way to have many IPv6
# sources on a loopback.
rate_config client '"per_minute": 12, "burst": 2' '"trusted_proxies": [ "127.0.0.1" ]'
check "reload: behind a trusted proxy, default ipv6_prefix" reload_and_wait
xff() {	# ADDRESS: the status of one request from that client
	curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: $1" -H "Authorization: Bearer $BOB" "$U"
}
n0=$(record_count)
expect_eq "2001:db8:1:2::a, then ::b, then a third address of that /64: 429" "200200429" \
    "$(xff 2001:db8:1:2::a)$(xff 2001:db8:1:2::b)$(xff 2001:db8:1:2:ffff:ffff:ffff:c)"
expect_eq "... the 429 not forwarded" $((n0 + 2)) "$(record_count)"
expect_eq "... another spelling of that /64 (upper case, zeros): 429" "429" \
    "$(xff 2001:0DB8:0001:0002:0000:0000:0000:000D)"
expect_eq "the next /64 is another client" "200" "$(xff 2001:db8:1:3::1)"
expect_eq "IPv4-mapped IPv6 and the IPv4 address are one client" "200200429" \
    "$(xff ::ffff:198.51.100.7)$(xff 198.51.100.7)$(xff ::ffff:c633:6407)"
rate_config client '"per_minute": 12, "burst": 2, "ipv6_prefix": 128' '"trusted_proxies": [ "127.0.0.1" ]'
check "reload: ipv6_prefix 128" reload_and_wait
expect_eq "ipv6_prefix 128: each address of the /64 is a client" "200200" \
    "$(xff 2001:db8:1:2::e)$(xff 2001:db8:1:2::f)"
rate_config client '"per_minute": 12, "ipv6_prefix": 129' '"trusted_proxies": [ "127.0.0.1" ]'
reload_and_wait
check "a reload with ipv6_prefix 129 fails at its JSON pointer" \
    grep -q '/rate_limit/ipv6_prefix: must be between 0 and 128' "$T/gateway.err"
expect_eq "... and the old limit holds: ::99 gets its own burst of 2" "200200429" \
    "$(xff 2001:db8:1:2::99)$(xff 2001:db8:1:2::99)$(xff 2001:db8:1:2::99)"
check "the gateway is still running" kill -0 "$GW_PID"
finish
