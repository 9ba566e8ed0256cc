#!/usr/bin/env bash
# A reload while requests wait for an unknown kid (jwks_url): they are
# decided under the configuration the reload put in force, the one whose
# key set receives the fetched keys. A provider (tests/integration/
# jwks_hold.py, plain http on loopback) holds the unknown-kid refetch open;
# requests with the new kid wait; the daemon reloads; then the provider
# publishes the key and answers: every waiting request gets 200 and
# reaches the upstream (before the fix the reload woke them under the old
# snapshot, whose set gets no more keys: 401 unknown_kid). When the reload
# drops the provider, the waiting requests get the new configuration's
# answer at once (401, nothing forwarded), neither a hang nor a crash;
# when it changes the policy, the new policy decides them; when it moves
# the provider to another URL, they wait for that URL's first fetch.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
ROUTE="/applications/$APP/tokens/$TOK"

# The provider's keys: jwks-rs at first; the EC P-256 key of
# tests/data/keys/ec256.key is published later under kids new-a, new-b,
# new-d and new-e.
python3 - "$KEYS/jwks.json" "$T" <<'PY'
import json, sys
keys = json.load(open(sys.argv[1]))["keys"]
rs = [k for k in keys if k["kid"] == "jwks-rs"][0]
ec = [k for k in keys if k["kid"] == "jwks-es256"][0]
def doc(kids):
    return json.dumps({"keys": [rs] + [dict(ec, kid=k) for k in kids]})
open(sys.argv[2] + "/jwks-0.json", "w").write(doc([]))
open(sys.argv[2] + "/jwks-a.json", "w").write(doc(["new-a"]))
open(sys.argv[2] + "/jwks-ab.json", "w").write(doc(["new-a", "new-b"]))
open(sys.argv[2] + "/jwks-abd.json", "w").write(doc(["new-a", "new-b", "new-d"]))
open(sys.argv[2] + "/jwks-e.json", "w").write(doc(["new-e"]))
open(sys.argv[2] + "/local.json", "w").write(json.dumps({"keys": [rs]}))
PY
cp "$T/jwks-0.json" "$T/jwks.json"
python3 "$top_srcdir/tests/integration/jwks_hold.py" "$T" > "$T/provider.log" 2>&1 &
PIDS+=("$!")
for i in $(seq 1 100); do
	[ -s "$T/jwks.port" ] && break
	sleep 0.05
done
J_PORT=$(cat "$T/jwks.port")

mint() {
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid "$1" --sub svc \
	    --scope "${2:-applicationApiToken.get}" --exp-in 600
}
TA=$(mint new-a)
TB=$(mint new-b)
TD=$(mint new-d)
TE=$(mint new-e)

start_upstream up
GW_PORT=$(free_port)
# Long enough that a waiting request is never answered by its deadline
# here (a 401 at the wait limit would pass for the bug's 401).
FETCH_MS=8000
# Under memcheck a reload alone takes seconds.
SETTLE=0.3
[ -n "${UNDER_VALGRIND:-}" ] && FETCH_MS=40000 SETTLE=2
# gw_config FILE POLICY KEY-ENTRIES [MEMBERS]
gw_config() {
	write_config "$1" "\"workers\": 2, \"policy\": \"$2\",
  \"tokens\": { \"keys\": [ $3 ] }${4:+, $4}"
}
PROVIDER="{ \"jwks_url\": \"http://127.0.0.1:$J_PORT/jwks\", \"allow_http_loopback\": true,
      \"fetch_timeout_ms\": $FETCH_MS, \"unknown_kid_cooldown_s\": 0, \"refresh_s\": 3600 }"
POLICY="$top_srcdir/conf/policy.json"

# wait_calls N TOKEN OUT: N GETs of the route at once, each on its own
# connection, in the background; OUT.sent appears once all were written,
# OUT gets one "status seconds" line per answer.
wait_calls() {
	rm -f "$3" "$3.sent"
	python3 - "$GW_PORT" "$ROUTE" "$2" "$1" "$3" <<'PY' &
import socket, sys, threading, time
port, path, tok, n, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
socks = [socket.create_connection(("127.0.0.1", port), 30) for _ in range(n)]
t0 = time.time()
for s in socks:
    s.sendall(("GET %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"
               "Connection: close\r\n\r\n" % (path, tok)).encode())
open(out + ".sent", "w").close()
res = []
def read(s):
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except OSError:
            break
        if not b:
            break
        data += b
    st = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "none"
    res.append("%s %.2f" % (st, time.time() - t0))
ts = [threading.Thread(target=read, args=(s,)) for s in socks]
for t in ts:
    t.start()
for t in ts:
    t.join()
open(out, "w").write("\n".join(sorted(res)) + "\n")
PY
	CALLS_PID=$!
	for i in $(seq 1 100); do
		[ -e "$3.sent" ] && break
		sleep 0.05
	done
}

# held_fetch N: wait until the provider holds its Nth fetch.
held_fetch() {
	for i in $(seq 1 600); do
		[ "$(grep -c '^held' "$T/provider.log")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# reload: SIGHUP, then wait until the daemon says the new configuration is
# in force (fails when the reload failed).
reload() {
	local before i
	before=$(grep -cE 'configuration generation [0-9]+ in force|reload failed' "$T/gateway.err")
	kill -HUP "$GW_PID"
	for i in $(seq 1 600); do
		[ "$(grep -cE 'configuration generation [0-9]+ in force|reload failed' \
		    "$T/gateway.err")" -gt "$before" ] && break
		sleep 0.1
	done
	grep -E 'configuration generation [0-9]+ in force|reload failed' "$T/gateway.err" |
	    tail -n 1 | grep -q 'in force'
}

statuses() { cut -d' ' -f1 "$1" | tr '\n' ' ' | sed 's/ $//'; }

gw_config "$T/gw.json" "$POLICY" "$PROVIDER"
start_gateway "$T/gw.json" || exit 1
check "the provider's set in force at start" grep -q "1 key(s) in force" "$T/gateway.err"

# 1. The reload keeps the provider: the waiting requests get the key the
# provider publishes during the refetch.
touch "$T/hold"
R0=$(record_count)
wait_calls 4 "$TA" "$T/a.out"
check "unknown kid: a refetch, held open by the provider" held_fetch 1
sleep "$SETTLE"	# the four requests are read and waiting
check "reload while they wait" reload
sleep "$SETTLE"
check "after the reload they still wait (no answer yet)" test ! -e "$T/a.out"
# A second reload moves them again; it also turns the failed-auth budget
# off: what they took from it is given back as taken (a refund computed
# from the new configuration divided by zero).
gw_config "$T/gw.json" "$POLICY" "$PROVIDER" '"limits": { "failed_auth_per_client": 0 }'
check "a second reload while they wait" reload
sleep "$SETTLE"
check "... they still wait" test ! -e "$T/a.out"
cp "$T/jwks-a.json" "$T/jwks.json"
rm -f "$T/hold"
wait "$CALLS_PID"
expect_eq "the provider publishes the kid: every waiting request 200" "200 200 200 200" \
    "$(statuses "$T/a.out")"
expect_eq "... and exactly those reached the upstream" $((R0 + 4)) "$(record_count)"
expect_eq "... each one, with its token" 4 "$(tail -n 4 "$RECORD" | grep -c "$TA")"
expect_eq "a later request with that kid" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $TA" "http://127.0.0.1:$GW_PORT$ROUTE")"

# 2. The reload changes the policy: the requests were not decided yet, so
# the new configuration's policy decides them (here the route needs
# another scope: 403), not the one they arrived under.
python3 - "$POLICY" "$T/policy-b.json" <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1]))
p["schemas_dir"] = os.path.join(os.path.dirname(sys.argv[1]), p["schemas_dir"])
n = 0
for a in p["actions"]:
    if a["method"] == "GET" and a["path"] == "/applications/{applicationId}/tokens/{apiTokenId}":
        a["scopes"] = ["all.Organization"]
        n += 1
assert n == 1
json.dump(p, open(sys.argv[2], "w"))
PY
touch "$T/hold"
R0=$(record_count)
wait_calls 3 "$TB" "$T/b.out"
check "unknown kid again: the refetch held" held_fetch 2
sleep "$SETTLE"
gw_config "$T/gw.json" "$T/policy-b.json" "$PROVIDER"
check "reload with a policy that no longer grants the token's scope" reload
sleep 0.3
cp "$T/jwks-ab.json" "$T/jwks.json"
rm -f "$T/hold"
wait "$CALLS_PID"
expect_eq "decided under the new policy: 403" "403 403 403" "$(statuses "$T/b.out")"
expect_eq "... nothing reached the upstream" "$R0" "$(record_count)"
check "... logged as insufficient scope" bash -c \
    "tail -n 3 '$T/access.log' | grep -c '\"status\":403' | grep -qx 3"

# 3. The reload drops the provider: the new configuration's answer (401
# unknown_kid: its local set has no such key), at once, not at the wait
# limit; nothing is forwarded; the provider's late answer changes nothing.
gw_config "$T/gw.json" "$POLICY" "$PROVIDER"
check "reload: the first policy again" reload
touch "$T/hold"
R0=$(record_count)
wait_calls 3 "$TD" "$T/d.out"
check "unknown kid: the refetch held" held_fetch 3
sleep "$SETTLE"
gw_config "$T/gw.json" "$POLICY" "{ \"jwks\": \"$T/local.json\" }"
check "reload without the provider" reload
wait "$CALLS_PID"
expect_eq "provider dropped: the waiting requests get 401" "401 401 401" "$(statuses "$T/d.out")"
check "... at once, well before the wait limit ($FETCH_MS ms)" \
    awk -v lim=$((FETCH_MS / 2000)) '$2 > lim { exit 1 }' "$T/d.out"
expect_eq "... nothing reached the upstream" "$R0" "$(record_count)"
expect_eq "... reason unknown_kid" 3 "$(tail -n 3 "$T/access.log" | grep -c '"reason":"unknown_kid"')"
cp "$T/jwks-abd.json" "$T/jwks.json"
rm -f "$T/hold"
sleep 0.3
expect_eq "the provider's late answer (with the kid) is not used" 401 "$(curl -s -o /dev/null \
    -w '%{http_code}' -H "Authorization: Bearer $TD" "http://127.0.0.1:$GW_PORT$ROUTE")"
expect_eq "... nothing reached the upstream" "$R0" "$(record_count)"

# 4. The reload moves the provider to another URL (a new source, whose
# first fetch starts with the reload): the waiting requests wait for that
# fetch, within their wait limit, and get the key it brings.
gw_config "$T/gw.json" "$POLICY" "$PROVIDER"
N0=$(grep -c "key(s) in force" "$T/gateway.err")
check "reload: the provider again" reload
for i in $(seq 1 600); do
	[ "$(grep -c "key(s) in force" "$T/gateway.err")" -gt "$N0" ] && break
	sleep 0.05
done
touch "$T/hold"
R0=$(record_count)
H0=$(grep -c '^held' "$T/provider.log")
wait_calls 3 "$TE" "$T/e.out"
check "unknown kid: the refetch held" held_fetch $((H0 + 1))
sleep "$SETTLE"
gw_config "$T/gw.json" "$POLICY" "${PROVIDER/\/jwks/\/jwks-moved}"
check "reload with the provider at another URL" reload
check "... whose first fetch is held too" held_fetch $((H0 + 2))
sleep "$SETTLE"
check "... the requests still wait" test ! -e "$T/e.out"
cp "$T/jwks-e.json" "$T/jwks.json"
rm -f "$T/hold"
wait "$CALLS_PID"
expect_eq "the new URL's set has the kid: every waiting request 200" "200 200 200" \
    "$(statuses "$T/e.out")"
expect_eq "... and exactly those reached the upstream" $((R0 + 3)) "$(record_count)"
check "the daemon is still running" kill -0 "$GW_PID"
# A clean stop: exit status 0, and in the sanitizer build no report (the
# snapshots the waiting requests held are freed by now).
kill "$GW_PID"
wait "$GW_PID"
expect_eq "stops cleanly" 0 $?
check "... no sanitizer report" bash -c "! grep -q 'Sanitizer' '$T/gateway.err'"
finish
