#!/usr/bin/env bash
# W3C trace context and request ids through the real daemon, as the
# upstream receives them (its --record) and as the access log says:
# a valid traceparent is continued (same trace, the gateway's span as the
# parent, tracestate kept), anything else starts a new trace and drops
# tracestate; the client's traceparent fields never reach the upstream
# themselves. X-Request-Id is kept only from a peer in trusted_proxies.
. "$(dirname "$0")/lib.sh"

start_upstream up
GW_PORT=$(free_port)
write_config "$T/gw.json"
start_gateway "$T/gw.json"
U="http://127.0.0.1:$GW_PORT/__test/echo/t"
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01

# What the last recorded request carried in header $1, as a JSON list.
up_header() {
	tail -n 1 "$RECORD" > "$T/rec.json"
	json_get "$T/rec.json" "[v for k,v in d['headers'] if k.lower()=='$1']"
}
log_field() {
	tail -n 1 "$T/access.log" > "$T/log.json"
	json_get "$T/log.json" "d.get('$1')"
}
valid_tp() {
	python3 -c 'import re,sys; sys.exit(0 if re.fullmatch(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[01]", sys.argv[1]) else 1)' "$1"
}
get() {
	curl -s -o /dev/null -D "$T/reply.h" -w '%{http_code}' "$@" "$U"
	sleep 0.15
}

# No traceparent: a new one, its trace id in the log.
expect_eq "no traceparent: 200" 200 "$(get)"
tps=$(up_header traceparent)
tp=$(echo "$tps" | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l[0] if len(l)==1 else "")')
check "no traceparent: the upstream gets exactly one valid one ($tps)" valid_tp "$tp"
expect_eq "no traceparent: the log's trace id is the upstream's" "$(echo "$tp" | cut -d- -f2)" "$(log_field trace_id)"
first_trace=$(echo "$tp" | cut -d- -f2)
get > /dev/null
second=$(up_header traceparent | python3 -c 'import json,sys; print(json.load(sys.stdin)[0].split("-")[1])')
check "a new trace id per request" test "$first_trace" != "$second"
# Random bytes are drawn from OpenSSL in batches (proxy.c's random_take):
# across several batches (42 requests each) every id is still new.
urls=$(for i in $(seq 1 100); do printf '%s ' "$U"; done)
# shellcheck disable=SC2086
curl -s -o /dev/null $urls
sleep 0.3
tail -n 100 "$RECORD" > "$T/rec100.jsonl"
check "100 requests: 100 valid traceparents, all trace and parent ids distinct" python3 -c '
import json, re, sys
tps = [v for l in open(sys.argv[1]) for k, v in json.loads(l)["headers"] if k.lower() == "traceparent"]
ok = len(tps) == 100 and all(re.fullmatch(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-00", t) for t in tps)
sys.exit(0 if ok and len({t[3:35] for t in tps}) == 100 and len({t[36:52] for t in tps}) == 100 else 1)' "$T/rec100.jsonl"

# A valid one: continued, with our span as parent, tracestate along.
expect_eq "valid traceparent: 200" 200 "$(get -H "traceparent: $TP" -H 'tracestate: congo=t61rcWkgMzE')"
tp=$(up_header traceparent | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l[0] if len(l)==1 else "")')
check "valid: one valid traceparent upstream" valid_tp "$tp"
expect_eq "valid: same trace id" 4bf92f3577b34da6a3ce929d0e0e4736 "$(echo "$tp" | cut -d- -f2)"
check "valid: the parent is the gateway's span, not the caller's" test "$(echo "$tp" | cut -d- -f3)" != 00f067aa0ba902b7
expect_eq "valid: sampled flag kept" 01 "$(echo "$tp" | cut -d- -f4)"
expect_eq "valid: tracestate passed on" '["congo=t61rcWkgMzE"]' "$(up_header tracestate)"
expect_eq "valid: trace id logged" 4bf92f3577b34da6a3ce929d0e0e4736 "$(log_field trace_id)"

# Invalid spellings: replaced, tracestate dropped.
for bad in "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" \
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01" \
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra" \
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"; do
	get -H "traceparent: $bad" -H 'tracestate: evil=1' > /dev/null
	tp=$(up_header traceparent | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l[0] if len(l)==1 else "")')
	check "invalid '$bad': replaced by one valid traceparent" valid_tp "$tp"
	check "invalid '$bad': a new trace id" test "$(echo "$tp" | cut -d- -f2)" != 4bf92f3577b34da6a3ce929d0e0e4736
	expect_eq "invalid '$bad': tracestate dropped" "[]" "$(up_header tracestate)"
done
# Two traceparent fields (ambiguous): a new trace.
get -H "traceparent: $TP" -H "traceparent: 00-11111111111111111111111111111111-00f067aa0ba902b7-01" \
    -H 'tracestate: a=b' > /dev/null
tp=$(up_header traceparent | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l[0] if len(l)==1 else "")')
check "two traceparents: one new valid one upstream" valid_tp "$tp"
check "two traceparents: neither trace continued" sh -c "echo $tp | grep -qv -e 4bf92f35 -e 11111111"
expect_eq "two traceparents: tracestate dropped" "[]" "$(up_header tracestate)"
# Other spellings of the name are the same field.
get -H "TraceParent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" > /dev/null
expect_eq "TraceParent (other case, invalid): one traceparent upstream" 1 \
    "$(up_header traceparent | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

# X-Request-Id from an untrusted peer: ours instead, everywhere.
get -H 'X-Request-Id: client-chosen-1' > /dev/null
ours=$(log_field request_id)
check "untrusted: our id in the log" sh -c "echo '$ours' | grep -qE '^[0-9a-f]{32}\$'"
expect_eq "untrusted: the upstream gets ours" "[\"$ours\"]" "$(up_header x-request-id)"
check "untrusted: the reply carries ours" grep -qi "^X-Request-Id: $ours" "$T/reply.h"

# From a trusted proxy: kept, everywhere.
python3 - "$T/gw.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["trusted_proxies"] = ["127.0.0.1"]
json.dump(c, open(sys.argv[1], "w"))
PY
check "reload with trusted_proxies" reload_and_wait
get -H 'X-Request-Id: f47ac10b-58cc-4372-a567-0e02b2c3d479' > /dev/null
expect_eq "trusted: kept in the log" f47ac10b-58cc-4372-a567-0e02b2c3d479 "$(log_field request_id)"
expect_eq "trusted: the upstream gets it" '["f47ac10b-58cc-4372-a567-0e02b2c3d479"]' "$(up_header x-request-id)"
check "trusted: the reply carries it" grep -qi '^X-Request-Id: f47ac10b-58cc-4372-a567-0e02b2c3d479' "$T/reply.h"
# ... but not a hostile value, nor one of two.
long=$(python3 -c 'print("a" * 129)')
for bad in 'has space' 'a,b' "$long" 'x"y'; do
	get -H "X-Request-Id: $bad" > /dev/null
	check "trusted but '$bad': replaced by ours" sh -c "echo '$(log_field request_id)' | grep -qE '^[0-9a-f]{32}\$'"
done
get -H 'X-Request-Id: one' -H 'X-Request-Id: two' > /dev/null
check "trusted but two ids: replaced by ours" sh -c "echo '$(log_field request_id)' | grep -qE '^[0-9a-f]{32}\$'"
expect_eq "trusted but two ids: one id upstream" 1 \
    "$(up_header x-request-id | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
finish
