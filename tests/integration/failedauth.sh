#!/usr/bin/env bash
# A bound on the work an unauthenticated client causes: forged ES256 tokens
# from one address (each a new signature: no cache can answer) spend that
# address's budget of failed verifications (limits.failed_auth_per_client
# and failed_auth_burst); past it, its requests get 429 Too Many Requests
# with Retry-After before any signature check, with rate_limit keyed by
# subject (which would never count them). Measured as counts, not times:
# signature checks stay within burst + rate x duration, a valid client
# from another address (127.0.0.2) gets every answer within its 1 s
# deadline throughout, nothing of the flood reaches the upstream. The same
# flood with the budget off (the control) costs a check per request.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
DUR=4
# fa_config PER_S
fa_config() {
	write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"workers\": 2,
  \"rate_limit\": { \"key\": \"subject\", \"per_second\": 1000 },
  \"limits\": { \"failed_auth_per_client\": $1, \"failed_auth_burst\": 10 },
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT }"
}
fa_config 5
start_gateway "$T/gw.json"
P="/applications/$APP/tokens"
VALID=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --sub alice --exp-in 600 \
    --scope applicationApiTokens.get)
# The forged tokens: this valid token's header and payload, any signature.
PREFIX="${VALID%.*}."
bad_sigs() {
	curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" |
	    awk '$1 == "scopegate_token_verifications_total{result=\"bad_signature\"}" { print $2 }'
}
expect_eq "the valid token works" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $VALID" "http://127.0.0.1:$GW_PORT$P")"
n0=$(record_count)
b0=$(bad_sigs)
python3 "$top_srcdir/tests/integration/authflood.py" "$GW_PORT" "$P" "$DUR" "$PREFIX" \
    "$VALID" > "$T/flood.json"
b1=$(bad_sigs)
cat "$T/flood.json" | sed 's/^/# /'
f401=$(json_get "$T/flood.json" 'd["flood"].get("401", 0)')
f429=$(json_get "$T/flood.json" 'd["flood"].get("429", 0)')
fother=$(json_get "$T/flood.json" 'sum(v for k, v in d["flood"].items() if k not in ("401", "429"))')
vsent=$(json_get "$T/flood.json" 'd["valid"]["sent"]')
vok=$(json_get "$T/flood.json" 'd["valid"]["ok"]')
checks=$((b1 - b0))
# burst 10 + 5/s over the flood (DUR s), + 2 for its edges. Every request
# with a token takes from the budget before its check (and gets it back
# unless it failed), so concurrent requests on both workers cannot pass
# one free slot together: the bound is exact, not a bound per worker.
bound=$((10 + 5 * DUR + 2))
check "forged tokens: signature checks bounded by the budget ($checks <= $bound)" \
    test "$checks" -le "$bound"
expect_eq "... each of them a 401" "$checks" "$f401"
check "... every other forged request 429 ($f429 of $((f401 + f429 + fother)))" \
    test "$f429" -gt "$((f401 * 5))" -a "$fother" -eq 0
expect_eq "... with the reason phrase Too Many Requests" "429 Too Many Requests" \
    "$(json_get "$T/flood.json" 'd["first429"]["line"]')"
check "... and Retry-After" test "$(json_get "$T/flood.json" 'd["first429"]["retry_after"]')" -ge 1
expect_eq "the valid client (127.0.0.2) got every answer within 1 s ($vok of $vsent)" "$vsent" "$vok"
check "... and sent throughout (at least $((DUR * 5)) requests)" test "$vsent" -ge $((DUR * 5))
expect_eq "nothing of the flood reached the upstream" "$((n0 + vok))" "$(record_count)"
sleep 0.3
check "access log: reason failed_auth_limited" grep -q '"reason":"failed_auth_limited"' "$T/access.log"
# The budget is the address's, not the token's: a valid token from the
# flooding address is refused too while it lasts; another address is not.
# (The budget refilled meanwhile: spend it again, up to the first 429.)
for i in $(seq 1 40); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${PREFIX}AAAA" \
	    "http://127.0.0.1:$GW_PORT$P")" = 429 ] && break
done
# One more forged request and the valid one from one curl, milliseconds
# apart: with a curl each, a loaded machine could take longer between them
# than the budget takes to refill one failure.
expect_eq "from the flooding address, even the valid token: 429 (no check)" 429 \
    "$(curl -s -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer ${PREFIX}AAAA" \
        "http://127.0.0.1:$GW_PORT$P" --next -s -o /dev/null -w '%{http_code}' \
        -H "Authorization: Bearer $VALID" "http://127.0.0.1:$GW_PORT$P" | cut -d' ' -f2)"
expect_eq "from another address: 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    --interface 127.0.0.2 -H "Authorization: Bearer $VALID" "http://127.0.0.1:$GW_PORT$P")"
expect_eq "from the flooding address without a token: 401 as usual" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT$P")"
sleep 2.5
expect_eq "once the budget refills, the valid token from there works" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VALID" "http://127.0.0.1:$GW_PORT$P")"

# Control: the same flood with the budget off costs one check per request
# (so the bound above is the budget's doing).
fa_config 0
check "reload with failed_auth_per_client 0" reload_and_wait
b0=$(bad_sigs)
python3 "$top_srcdir/tests/integration/authflood.py" "$GW_PORT" "$P" 2 "$PREFIX" "$VALID" 2 \
    > "$T/control.json"
b1=$(bad_sigs)
c401=$(json_get "$T/control.json" 'd["flood"].get("401", 0)')
check "control: without the budget every forged token is checked ($((b1 - b0)) checks, $c401 answers)" \
    test "$((b1 - b0))" -eq "$c401" -a "$c401" -gt "$bound"
check "the gateway is still running" kill -0 "$GW_PID"
finish
