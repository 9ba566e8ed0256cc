#!/usr/bin/env bash
# The client behind trusted proxies, through the real daemon: without
# "trusted_proxies" a client's X-Forwarded-For is dropped (the upstream
# sees the peer only); with it, a trusted peer's list names the client (the
# rightmost untrusted address), which the access log records as
# forwarded_client and the rate limit counts by, and the list is forwarded
# with the peer appended. Two X-Forwarded-For fields or a malformed list:
# the peer is the client.
. "$(dirname "$0")/lib.sh"

start_upstream up
GW_PORT=$(free_port)
URL="http://127.0.0.1:$GW_PORT/__test/echo"
# config [TRUSTED_JSON_ARRAY]
config() {
	local extra='"workers": 2'
	if [ -n "${1:-}" ]; then
		extra="$extra,
  \"trusted_proxies\": $1,
  \"rate_limit\": { \"key\": \"client\", \"per_minute\": 6, \"burst\": 1 }"
	fi
	write_config "$T/gw.json" "$extra"
}
# send XFF...: one request with these X-Forwarded-For fields; prints the
# status. The upstream's record and the access log are read after.
send() {
	local args=() v
	for v in "$@"; do args+=(-H "X-Forwarded-For: $v"); done
	curl -s -o /dev/null -w '%{http_code}' "${args[@]}" "$URL"
}
upstream_xff() {
	sleep 0.2
	json_get "$(last_line "$RECORD")" '", ".join(v for k,v in d["headers"] if k.lower()=="x-forwarded-for")'
}
logged() {	# EXPR over the last access-log line
	sleep 0.2
	json_get "$(last_line "$T/access.log")" "$1"
}

config
start_gateway "$T/gw.json"
expect_eq "no trusted proxies: answered" 200 "$(send 203.0.113.7)"
expect_eq "... the client's X-Forwarded-For is not forwarded, the peer is" 127.0.0.1 "$(upstream_xff)"
expect_eq "... and not logged as the client" null "$(logged 'd.get("forwarded_client")')"

config '["127.0.0.1"]'
check "reload: loopback is a trusted proxy" reload_and_wait
expect_eq "trusted peer: answered" 200 "$(send "198.51.100.1, 203.0.113.7")"
expect_eq "... the list forwarded with the peer appended" \
    "198.51.100.1, 203.0.113.7, 127.0.0.1" "$(upstream_xff)"
expect_eq "... the client is the rightmost untrusted address" 203.0.113.7 \
    "$(logged 'd["forwarded_client"]')"
check "... the peer stays in \"client\"" test "$(logged 'd["client"]')" != 203.0.113.7
# The rate limit (by client, 1 per 10 s) counts the client behind the proxy.
expect_eq "rate limit by the forwarded client: its second request" 429 "$(send 203.0.113.7)"
expect_eq "... another client behind the same proxy" 200 "$(send 203.0.113.8)"
expect_eq "two X-Forwarded-For fields: the peer is the client" 200 "$(send 192.0.2.1 192.0.2.2)"
expect_eq "... and only the peer is forwarded" 127.0.0.1 "$(upstream_xff)"
expect_eq "... not logged as forwarded" null "$(logged 'd.get("forwarded_client")')"
expect_eq "a malformed list: rate-limited as the peer, which already sent one" 429 \
    "$(send "unknown")"
expect_eq "... logged without forwarded_client" null "$(logged 'd.get("forwarded_client")')"

config '["127.0.0.1", "203.0.113.0/24"]'
check "reload: a second trusted prefix" reload_and_wait
expect_eq "through two trusted proxies" 200 "$(send "198.51.100.9, 203.0.113.50")"
expect_eq "... the client is the address before them" 198.51.100.9 \
    "$(logged 'd["forwarded_client"]')"

config '["10.0.0.1/8"]'
out=$("$SCOPEGATE" -t -c "$T/gw.json" 2>&1)
check "-t: a prefix with host bits set is refused at its pointer" \
    grep -q '/trusted_proxies/0: "10.0.0.1/8": bits are set past the prefix length' <<<"$out"
check "the gateway is still running" kill -0 "$GW_PID"
finish
