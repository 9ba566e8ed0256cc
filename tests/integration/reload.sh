#!/usr/bin/env bash
# SIGHUP reload under load: a client loop keeps requests flowing while 20
# reloads alternate two valid policies and a broken one. Zero failed or
# reset requests; after each reload the decision is the one of the policy
# in force (a broken reload keeps the previous one).
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
P="/applications/$APP/tokens/$TOK"

# Policy A: the shipped Losant policy. Policy B: the same, but
# applicationApiToken.get needs a scope our token lacks. Broken: a syntax
# error.
python3 - "$top_srcdir/conf" "$T" <<'PY'
import json, sys
conf, out = sys.argv[1], sys.argv[2]
p = json.load(open(conf + "/policy.json"))
p["schemas_dir"] = conf + "/schemas"
json.dump(p, open(out + "/policy-a.json", "w"))
for a in p["actions"]:
    if a["action"] == "applicationApiToken.get":
        a["scopes"] = ["custom.read"]
json.dump(p, open(out + "/policy-b.json", "w"))
open(out + "/policy-broken.json", "w").write('{"actions": [ {"action": "x",\n')
PY
cp "$T/policy-a.json" "$T/policy.json"

start_upstream up
GW_PORT=$(free_port)
# Under valgrind a reload stalls the daemon for seconds: the 5 s budgets
# (upstream, client) are for the native daemon, not for memcheck.
[ -n "${UNDER_VALGRIND:-}" ] && export UP_TIMEOUT_MS=30000 LOADLOOP_TIMEOUT=30
write_config "$T/gw.json" "\"policy\": \"$T/policy.json\", \"workers\": 2,
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] }"
start_gateway "$T/gw.json"
TOKEN=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --scope applicationApiToken.get)

status() {
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW_PORT$P"
}
reload_events() {
	grep -cE 'in force|reload failed' "$T/gateway.err"
}

expect_eq "policy A in force at start" 200 "$(status)"
python3 "$(dirname "$0")/loadloop.py" "$GW_PORT" "$P" "$TOKEN" "$T/stop" > "$T/load.json" &
LOADER=$!
PIDS+=("$LOADER")
sleep 0.5

expected=200
for i in $(seq 1 20); do
	case $((i % 3)) in
	1) cp "$T/policy-b.json" "$T/policy.json"; expected=403; what=B ;;
	2) cp "$T/policy-broken.json" "$T/policy.json"; what=broken ;;
	0) cp "$T/policy-a.json" "$T/policy.json"; expected=200; what=A ;;
	esac
	before=$(reload_events)
	kill -HUP "$GW_PID"
	# A reload compiles the policy's schemas: seconds under valgrind.
	for _ in $(seq 1 "$([ -n "${UNDER_VALGRIND:-}" ] && echo 1200 || echo 100)"); do
		[ "$(reload_events)" -gt "$before" ] && break
		sleep 0.05
	done
	expect_eq "reload $i ($what): decision of the policy in force" "$expected" "$(status)"
	sleep 0.2
done
touch "$T/stop"
wait "$LOADER"
cat "$T/load.json"
expect_eq "no failed or reset request during 20 reloads" 0 "$(json_get "$T/load.json" 'd["errors"]')"
expect_eq "only 200 and 403 answers under load" "200,403" \
    "$(json_get "$T/load.json" '",".join(sorted(d["statuses"]))')"
check "the load loop really ran (>= 200 requests)" \
    test "$(json_get "$T/load.json" 'sum(d["statuses"].values())')" -ge 200
expect_eq "broken reloads were reported with file:line:column" 7 \
    "$(grep -c "reload: $T/policy.json:2:" "$T/gateway.err")"
expect_eq "valid reloads published new generations" 13 "$(grep -c 'in force' "$T/gateway.err")"
check "gateway still running" kill -0 "$GW_PID"
finish
