#!/bin/bash
# upstreams.sh: named upstreams through the real daemon, with real example
# upstream processes behind them and real signed tokens. Weights 1:3 give
# a 1:3 split (within 5%) over 4,000 requests, counted from each server's
# own record; actions routed by glob reach their upstream and no other;
# explain names the upstream chosen; a reload that adds a server and one
# that removes a server under a 4-client load loop fail no request, the
# new server gets traffic and the removed one none; a reload with a bad
# upstream (weight 0) is refused and the old routing keeps serving; a
# server killed under load fails no idempotent request, its POST in
# flight gets 502 and goes nowhere else; all servers dead give 503 at
# once; per-server /metrics; a reload changing the upstream of a request
# in flight answers it whole; a name with two addresses is two servers.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
DEV=5f2222222222222222222222
TOK=5f1111111111111111111111

start_upstream a; A_PORT=$UP_PORT
start_upstream b; B_PORT=$UP_PORT
start_upstream c; C_PORT=$UP_PORT
start_upstream d; D_PORT=$UP_PORT
GW_PORT=$(free_port)
GW="http://127.0.0.1:$GW_PORT"

count() { wc -l < "$T/$1.record" | tr -d ' '; }

# gwconf FILE POOL_SERVERS_JSON: the pool upstream (the default) with
# these servers, device actions routed to "devices" (server c).
gwconf() {
	cat > "$1" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "workers": 2,
  "policy": "$top_srcdir/conf/policy.json",
  "tokens": { "keys": [ { "file": "$KEYS/ec256.pem", "kid": "e1" } ] },
  "upstreams": {
    "pool": { "servers": $2 },
    "devices": { "servers": [ { "url": "http://127.0.0.1:$C_PORT" } ], "balance": "least_request" }
  },
  "default_upstream": "pool",
  "upstream_routes": [
    { "actions": [ "device.*", "devices.get" ], "upstream": "devices" }
  ],
  "log": { "access": "$T/access.log" }
}
EOT
}

gwconf "$T/gw.json" "[ { \"url\": \"http://127.0.0.1:$A_PORT\", \"weight\": 1 },
                      { \"url\": \"http://127.0.0.1:$B_PORT\", \"weight\": 3 } ]"
check "named upstreams pass -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json" || { not_ok "gateway started"; finish; }

TOKEN=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --sub user-1 \
    --jti "jti-$RANDOM" --exp-in 600 --scope all.Organization)

# --- explain names the upstream ------------------------------------------------
"$SCOPEGATE" explain -c "$T/gw.json" DELETE "/applications/$APP/devices/$DEV" \
    --scopes all.Organization > "$T/ex.json"
expect_eq "explain: a device action goes to its routed upstream" devices \
    "$(json_get "$T/ex.json" 'd["upstream"]')"
expect_eq "explain: with its server" "[\"http://127.0.0.1:$C_PORT\"]" \
    "$(json_get "$T/ex.json" 'd["upstream_servers"]' | tr -d ' ')"
"$SCOPEGATE" explain -c "$T/gw.json" GET "/applications/$APP/tokens/$TOK" \
    --scopes all.Organization > "$T/ex.json"
expect_eq "explain: any other action goes to the default upstream" pool \
    "$(json_get "$T/ex.json" 'd["upstream"]')"

# --- weights 1:3 over 4,000 requests ---------------------------------------------
a0=$(count a); b0=$(count b); c0=$(count c)
python3 - "$GW_PORT" "/applications/$APP/tokens" "$TOKEN" > "$T/split.json" <<'PY'
import http.client, json, sys
port, path, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
st = {}
conn = None
for i in range(4000):
    if conn is None or i % 100 == 0:
        if conn: conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = conn.getresponse(); r.read()
    st[str(r.status)] = st.get(str(r.status), 0) + 1
print(json.dumps(st))
PY
expect_eq "4,000 token list requests all answered 200" '{"200": 4000}' "$(cat "$T/split.json")"
da=$(( $(count a) - a0 )); db=$(( $(count b) - b0 ))
expect_eq "every one reached a server of the pool" 4000 "$((da + db))"
check "weight 1 got 25% within 5% ($da of 4000)" [ "$da" -ge 950 -a "$da" -le 1050 ]
check "weight 3 got 75% within 5% ($db of 4000)" [ "$db" -ge 2850 -a "$db" -le 3150 ]
expect_eq "none reached the devices upstream" "$c0" "$(count c)"

# --- actions routed by glob ----------------------------------------------------------
a0=$(count a); b0=$(count b); c0=$(count c)
# The example upstream has no device route: its own 404 NotFound comes
# back, and its record shows the request reached it.
for m in GET DELETE; do
	for i in 1 2 3 4 5; do
		curl -s -o /dev/null -X $m -H "Authorization: Bearer $TOKEN" "$GW/applications/$APP/devices/$DEV"
	done
done
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$GW/applications/$APP/devices"
expect_eq "device actions (glob device.*, and devices.get) reached the devices upstream" \
    "$((c0 + 11))" "$(count c)"
expect_eq "and no server of the pool" "$((a0 + b0))" "$(( $(count a) + $(count b) ))"
check "the devices upstream recorded the device path" grep -q "/applications/$APP/devices/$DEV" "$T/c.record"
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$GW/applications/$APP/tokens/$TOK"
expect_eq "a token action did not go there" "$((c0 + 11))" "$(count c)"

# --- reload adds a server, then removes one, under load ---------------------------
rm -f "$T/stop"
python3 "$top_srcdir/tests/integration/loadloop.py" "$GW_PORT" \
    "/applications/$APP/tokens" "$TOKEN" "$T/stop" > "$T/load.json" &
LOOP=$!
PIDS+=("$LOOP")
sleep 1
d0=$(count d)
gwconf "$T/gw.json" "[ { \"url\": \"http://127.0.0.1:$A_PORT\", \"weight\": 1 },
                      { \"url\": \"http://127.0.0.1:$B_PORT\", \"weight\": 3 },
                      { \"url\": \"http://127.0.0.1:$D_PORT\", \"weight\": 2 } ]"
check "reload adding server d" reload_and_wait
sleep 1
check "the added server gets traffic" [ "$(count d)" -gt "$d0" ]
gwconf "$T/gw.json" "[ { \"url\": \"http://127.0.0.1:$B_PORT\", \"weight\": 3 },
                      { \"url\": \"http://127.0.0.1:$D_PORT\", \"weight\": 2 } ]"
check "reload removing server a" reload_and_wait
sleep 0.3
a1=$(count a); b1=$(count b)
sleep 1
expect_eq "the removed server gets no more requests" "$a1" "$(count a)"
check "the remaining ones still do" [ "$(count b)" -gt "$b1" ]

# A bad reload (weight 0) keeps the configuration in force.
cp "$T/gw.json" "$T/good.json"
gwconf "$T/gw.json" "[ { \"url\": \"http://127.0.0.1:$A_PORT\", \"weight\": 0 } ]"
check "reload with weight 0" reload_and_wait
check "is refused at its JSON pointer" grep -q "/upstreams/pool/servers/0/weight" "$T/gateway.err"
a1=$(count a); d1=$(count d)
sleep 0.5
expect_eq "after it, server a still gets nothing" "$a1" "$(count a)"
check "and d still gets traffic" [ "$(count d)" -gt "$d1" ]
touch "$T/stop"
wait "$LOOP"
expect_eq "no failed or reset request during the reloads" 0 "$(json_get "$T/load.json" 'd["errors"]')"
expect_eq "only 200 answers under load" 200 \
    "$(json_get "$T/load.json" '",".join(sorted(d["statuses"]))')"
check "the load loop really ran (>= 200 requests)" \
    [ "$(json_get "$T/load.json" 'sum(d["statuses"].values())')" -ge 200 ]
check "gateway still running" kill -0 "$GW_PID"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null

# --- a server dies under load: retries, ejection, 503 ------------------------------
# No policy (everything forwarded) so that the example upstream's test
# endpoints can be reached: /__test/echo answers at once, a POST to
# /__test/slow waits.
declare -A EPID
start_upstream e1; E1=$UP_PORT; EPID[e1]=$UP_PID
start_upstream e2; E2=$UP_PORT; EPID[e2]=$UP_PID
start_upstream e3; E3=$UP_PORT; EPID[e3]=$UP_PID
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
GW="http://127.0.0.1:$GW_PORT"
cat > "$T/gw2.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "workers": 2,
  "upstreams": {
    "trio": {
      "servers": [ { "url": "http://127.0.0.1:$E1" }, { "url": "http://127.0.0.1:$E2" },
                   { "url": "http://127.0.0.1:$E3" } ],
      "retries": 2,
      "outlier": { "consecutive_failures": 2, "base_ejection_ms": 400, "max_ejection_ms": 1000 }
    }
  },
  "admin": { "address": "127.0.0.1", "port": $ADMIN_PORT },
  "log": { "access": "$T/access2.log" }
}
EOT
check "the outlier configuration passes -t" "$SCOPEGATE" -t -c "$T/gw2.json"
start_gateway "$T/gw2.json" || { not_ok "second gateway started"; finish; }
rm -f "$T/stop"
python3 "$top_srcdir/tests/integration/loadloop.py" "$GW_PORT" /__test/echo x "$T/stop" > "$T/load2.json" &
LOOP=$!
PIDS+=("$LOOP")
sleep 0.5
# A POST in flight on the server about to die.
curl -s -o "$T/post.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data '{"n":1}' "$GW/__test/slow?ms=3000" > "$T/post.status" &
POSTER=$!
victim=
for i in $(seq 1 60); do
	for e in e1 e2 e3; do
		grep -q '__test/slow' "$T/$e.record" 2>/dev/null && victim=$e
	done
	[ -n "$victim" ] && break
	sleep 0.05
done
check "the slow POST reached a server" [ -n "$victim" ]
kill -9 "${EPID[$victim]}"
wait "$POSTER"
expect_eq "the POST in flight on the killed server gets 502" 502 "$(cat "$T/post.status")"
expect_eq "in the Losant error shape" BadGateway "$(json_get "$T/post.json" 'd["type"]')"
expect_eq "and was not sent again to another server" 1 \
    "$(cat "$T"/e1.record "$T"/e2.record "$T"/e3.record | grep -c '__test/slow')"
sleep 1.5
touch "$T/stop"
wait "$LOOP"
expect_eq "no idempotent request failed while a server died" 0 \
    "$(json_get "$T/load2.json" 'd["errors"]')"
expect_eq "every one answered 200" 200 \
    "$(json_get "$T/load2.json" '",".join(sorted(d["statuses"]))')"
check "the load loop really ran (>= 200 requests)" \
    [ "$(json_get "$T/load2.json" 'sum(d["statuses"].values())')" -ge 200 ]
check "the dead server was ejected" grep -q "ejected after consecutive failures" "$T/gateway.err"
check "requests were sent again to another server" grep -q "sent again to" "$T/gateway.err"
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" > "$T/metrics.txt"
vport=$(eval echo "\$$(echo "$victim" | tr a-z A-Z)")
vlab="upstream=\"trio\",server=\"http://127.0.0.1:$vport\""
metric() { grep -F "$1{$2" "$T/metrics.txt" | awk '{print $NF}'; }
total=0
for p in $E1 $E2 $E3; do
	n=$(metric scopegate_upstream_server_requests_total "upstream=\"trio\",server=\"http://127.0.0.1:$p\"}")
	total=$((total + ${n:-0}))
done
check "/metrics: requests per server add up to at least the answers ($total)" \
    [ "$total" -ge "$(json_get "$T/load2.json" 'sum(d["statuses"].values())')" ]
check "/metrics: the dead server's connect failures are counted" \
    [ "$(metric scopegate_upstream_server_errors_total "$vlab,kind=\"connect\"}")" -ge 1 ]
check "/metrics: and its ejections" \
    [ "$(metric scopegate_upstream_server_ejections_total "$vlab}")" -ge 1 ]

# Every server dead: 503 ServiceUnavailable at once, never a hang.
for e in e1 e2 e3; do
	[ "$e" = "$victim" ] || kill -9 "${EPID[$e]}"
done
# One keep-alive connection, so one worker (each worker ejects on its
# own): a couple of requests make every server fail twice (each request
# tried on up to three), then they find them all ejected (the dead
# server's own ejection may end in between: one more 502 then).
python3 - "$GW_PORT" "$T/all.json" > "$T/all.status" <<'PY'
import http.client, sys, time
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=3)
last = None
for i in range(6):
    t = time.time()
    conn.request("GET", "/__test/echo")
    r = conn.getresponse()
    body = r.read()
    print(r.status, "slow" if time.time() - t > 2 else "fast")
    if r.status == 503:
        last = body
open(sys.argv[2], "wb").write(last or b"{}")
PY
check "no request hung: six answers, each within 2 s" \
    [ "$(grep -c ' fast$' "$T/all.status")" -eq 6 ]
check "502 while the servers fail, 503 once all are ejected, nothing else" \
    [ -z "$(grep -v -e '^502 ' -e '^503 ' "$T/all.status")" ]
check "503 by the third request" grep -q '^503 ' <(sed -n 3,6p "$T/all.status")
expect_eq "in the Losant error shape" ServiceUnavailable "$(json_get "$T/all.json" 'd["type"]')"
check "second gateway still running" kill -0 "$GW_PID"

# --- a reload changes the upstream of a request in flight --------------------------
# The old pool is retired and freed once its last request ends: here that
# request ends inside the upstream's own callback (the answer is written
# at once), which went on using the pool afterwards (a use-after-free
# that ASan and memcheck see; the native build read freed memory).
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
start_upstream r1; R_PORT=$UP_PORT
GW_PORT=$(free_port)
GW="http://127.0.0.1:$GW_PORT"
rconf() {
	cat > "$T/gw4.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "workers": 1,
  "upstream": { "url": "http://127.0.0.1:$R_PORT", "timeout_ms": $1 }
}
EOT
}
rconf 30000
start_gateway "$T/gw4.json" || { not_ok "third gateway started"; finish; }
slow_ms=1500
[ -n "${UNDER_VALGRIND:-}" ] && slow_ms=6000
curl -s -o "$T/slow.json" -w '%{http_code}' "$GW/__test/slow?ms=$slow_ms" > "$T/slow.status" &
SLOW=$!
for i in $(seq 1 100); do grep -q '__test/slow' "$T/r1.record" && break; sleep 0.05; done
rconf 30001
check "reload changing the upstream of a request in flight" reload_and_wait
wait "$SLOW"
expect_eq "the request in flight is answered whole" "200 {\"slow\":$slow_ms}" \
    "$(cat "$T/slow.status") $(tr -d ' \n' < "$T/slow.json")"
expect_eq "the next request goes through the new pool" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' "$GW/__test/echo")"
check "third gateway still running" kill -0 "$GW_PID"

# --- timeout_ms bounds connecting and the first wait together ------------------------
# Without connect_timeout_ms, one timeout_ms covers the connect and the wait
# for the answer that follows it. The upstream's accept queue is full
# (backlog 0, one connection queued), so the gateway's SYN is dropped and
# its connect completes on the retransmission ~1 s later; the answer comes
# 800 ms after that. With timeout_ms 1500: 504 at 1.5 s (a timer restarted
# at the connect let it through at 1.8 s).
if [ -z "${UNDER_VALGRIND:-}" ]; then
	kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
	SC_PORT=$(free_port)
	cat > "$T/gw5.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "workers": 1,
  "upstream": { "url": "http://127.0.0.1:$SC_PORT", "timeout_ms": 1500 }
}
EOT
	python3 - "$SC_PORT" "$T/sc.ready" "$T/sc.go" <<'PY' &
import os, socket, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(0)
filler = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
time.sleep(0.3)                 # the gateway's SYN met a full queue
f, _ = ls.accept()
ls.settimeout(5)
s, _ = ls.accept()              # the gateway, after its retransmission
t = time.time()
s.recv(65536)
time.sleep(0.8)
try:
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
except OSError:
    pass
time.sleep(0.5)
PY
	SC=$!
	PIDS+=("$SC")
	for i in $(seq 1 100); do [ -e "$T/sc.ready" ] && break; sleep 0.05; done
	start_gateway "$T/gw5.json" || { not_ok "fourth gateway started"; finish; }
	curl -s -o /dev/null -w '%{http_code} %{time_total}' "$GW/__test/echo" > "$T/sc.out" 2>/dev/null &
	CURL=$!
	sleep 0.05
	touch "$T/sc.go"
	wait "$CURL"
	out=$(cat "$T/sc.out")
	wait "$SC" 2>/dev/null
	expect_eq "connect ~1 s, then 800 ms to the answer, timeout_ms 1500: 504" 504 "${out% *}"
	check "at timeout_ms from the start ($out)" python3 -c "import sys; sys.exit(not 1.3 < float('${out#* }') < 1.75)"
fi

# --- a name with several addresses: one server per address -----------------------
HOSTS="$T/hosts"
printf '127.0.0.1 multi.test\n127.0.0.2 multi.test\n' > "$HOSTS"
if unshare -m sh -c 'mount --bind "$0" /etc/hosts' "$HOSTS" 2>/dev/null; then
	INNS=(unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$HOSTS")
	kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
	start_upstream m1; M_PORT=$UP_PORT
	"$UPSTREAM_BIN" --listen "127.0.0.2:$M_PORT" --port-file "$T/m2.port" \
	    --record "$T/m2.record" --quiet 2>"$T/m2.err" &
	PIDS+=($!)
	for i in $(seq 1 100); do [ -s "$T/m2.port" ] && break; sleep 0.05; done
	touch "$T/m2.record"
	GW_PORT=$(free_port)
	ADMIN_PORT=$(free_port)
	cat > "$T/gw3.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "workers": 2,
  "upstreams": { "multi": { "servers": [ { "url": "http://multi.test:$M_PORT", "weight": 2 } ] } },
  "admin": { "address": "127.0.0.1", "port": $ADMIN_PORT }
}
EOT
	before=$(grep -c ' started: ' "$T/gateway.err")
	"${INNS[@]}" "$SCOPEGATE" -f -c "$T/gw3.json" 2>>"$T/gateway.err" &
	GW_PID=$!
	PIDS+=("$GW_PID")
	for i in $(seq 1 2400); do
		[ "$(grep -c ' started: ' "$T/gateway.err")" -gt "$before" ] && break
		sleep 0.05
	done
	python3 - "$GW_PORT" <<'PY' > "$T/multi.json"
import http.client, json, sys
conn, st = None, {}
for i in range(400):
    if conn is None or i % 50 == 0:
        if conn: conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
    conn.request("GET", "/__test/echo")
    r = conn.getresponse(); r.read()
    st[str(r.status)] = st.get(str(r.status), 0) + 1
print(json.dumps(st))
PY
	expect_eq "a name with two addresses: 400 requests answered" '{"200": 400}' "$(cat "$T/multi.json")"
	n1=$(count m1); n2=$(count m2)
	check "both addresses are servers of their own, balanced ($n1 and $n2 of 400)" \
	    [ "$n1" -ge 190 -a "$n1" -le 210 -a "$n2" -ge 190 -a "$n2" -le 210 ]
	curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" > "$T/metrics3.txt"
	check "/metrics names each address's server" \
	    grep -qF "server=\"http://multi.test:$M_PORT (127.0.0.2)\"" "$T/metrics3.txt"
else
	echo "# SKIP: no private mount namespace here (unshare -m as root); several addresses not run"
fi
finish
