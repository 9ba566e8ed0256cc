#!/usr/bin/env bash
# The decision on the request head, and request bodies within limits, as
# attacks against the real daemon (shipped Losant policy, real keys) and
# the recording example upstream: a refused request is answered without
# its body being read (counted by scopegate_client_read_bytes_total in
# /metrics), Expect: 100-continue gets 100 only when the head is allowed,
# the connection closes after a refusal whose body was not read (what
# follows is never taken for a request), bodies that trickle get 408,
# slow-body attackers cannot keep a valid client out, and the memory that
# bodies take is bounded by max_buffered_body_bytes. Counts, not timings.
. "$(dirname "$0")/lib.sh"
# The memory figures below are the gateway's: in the sanitizer build, keep
# AddressSanitizer's quarantine of freed memory (each socket read's buffer)
# out of them.
export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=1"

RAWHTTP="$top_srcdir/tests/integration/rawhttp.py"
KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
SMUG=5f5555555555555555555555

mint() {
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid jwks-es256 --iss https://issuer.test \
	    --aud scopegate --sub user-1 --jti "jti-$RANDOM" --exp-in 600 "$@"
}
GETTOK=$(mint --scope "all.User.read")
PATCHTOK=$(mint --scope "applicationApiToken.patch")

start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"jwks\": \"$KEYS/jwks.json\" } ],
    \"issuers\": [\"https://issuer.test\"], \"audiences\": [\"scopegate\"] },
  \"workers\": 2,
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT },
  \"limits\": { \"max_body_bytes\": 2097152, \"body_timeout_ms\": 2000,
    \"body_min_bytes_per_s\": 2000, \"max_connections\": 40,
    \"max_buffered_body_bytes\": 1048576 }"
check "config passes -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json"
wait_port "$ADMIN_PORT"

P="/applications/$APP/tokens/$TOK"
H='Host: gw\r\n'
AG="Authorization: Bearer $GETTOK\\r\\n"
AP="Authorization: Bearer $PATCHTOK\\r\\n"
CT='Content-Type: application/json\r\n'
B='{"name":"hostile"}'			# 18 bytes
GETREQ="GET $P HTTP/1.1\\r\\n$H$AG\\r\\n"
SMUGREQ="GET /applications/$APP/tokens/$SMUG HTTP/1.1\\r\\n$H$AG\\r\\n"
# device.export: a read scope is enough and it has no body rules; the
# example upstream answers it 404 after recording it.
EXP="/applications/$APP/devices/5f2222222222222222222222/export"
FWD=404

raw() {
	timeout 60 python3 "$RAWHTTP" --port "$GW_PORT" "$@"
}
metric() {
	curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
smuggled_count() {
	python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if sys.argv[2] in json.loads(l)["uri"]))' "$RECORD" "$SMUG"
}

# case_ ID DESC WANT FORWARDED RAWHTTP_ARGS...: every answer until the
# connection ends (--all) matches WANT, FORWARDED requests reached the
# upstream, and the hidden request never did.
case_() {
	local id=$1 desc=$2 want=$3 fwd=$4 n0 s0 got n1 s1
	shift 4
	n0=$(record_count)
	s0=$(smuggled_count)
	got=$(raw --all "$@")
	n1=$(record_count)
	s1=$(smuggled_count)
	if [[ $got =~ ^($want)$ ]] && [ $((n1 - n0)) = "$fwd" ] && [ "$s1" = "$s0" ]; then
		ok "$desc: '$want', forwarded $fwd [$id]"
	else
		not_ok "$desc: '$want', forwarded $fwd [$id] (answers '$got', forwarded $((n1 - n0)), hidden $((s1 - s0)))"
	fi
}

# --- the head decides: refused before the body is read ---------------------
# An unauthenticated POST announcing 1 MiB, its body sent at once behind the
# head: 401, and the gateway read no more than the head and one socket read
# (16 KiB) of the body; the client is told to go away (closed).
read0=$(metric scopegate_client_read_bytes_total)
got=$(timeout 30 python3 - "$GW_PORT" "$EXP" <<'PY'
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
head = ("POST %s HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        "Content-Length: 1048576\r\n\r\n" % path).encode()
s = socket.create_connection(("127.0.0.1", port))
s.setblocking(False)
body = b"x" * 1048576
data, sent = head + body, 0
got = b""
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        if sent < len(data):
            sent += s.send(data[sent:sent + 65536])
    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
        pass
    try:
        c = s.recv(65536)
        if not c:
            break
        got += c
    except BlockingIOError:
        time.sleep(0.01)
    except ConnectionResetError:
        break
status = got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "none"
print(status, len(head))
PY
)
read1=$(metric scopegate_client_read_bytes_total)
status=${got% *}
headlen=${got#* }
expect_eq "unauthenticated POST with a 1 MiB body: 401" 401 "$status"
echo "# read from the client for it: $((read1 - read0)) bytes (head $headlen + one read at most 16384)"
check "it was refused having read at most the head and one socket read of the body" \
    test "$((read1 - read0))" -le "$((headlen + 16384))"

case_ refused-body-close "refused POST whose body was not read: the connection closes" \
    '401 closed' 0 "POST $EXP HTTP/1.1\\r\\n$H${CT}Content-Length: 18\\r\\n\\r\\n"
case_ refused-pipelined "a request hidden after a refused request's body is never read" \
    '401 closed' 0 "POST $EXP HTTP/1.1\\r\\n$H${CT}Content-Length: 18\\r\\n\\r\\n$B$SMUGREQ"
case_ refused-pipelined-split "the same in two TCP segments" '401 closed' 0 --delay 200 \
    "POST $EXP HTTP/1.1\\r\\n$H${CT}Content-Length: 18\\r\\n\\r\\n$B" "$SMUGREQ"
case_ refused-chunked "refused chunked POST, a request in its would-be body" '401 closed' 0 \
    "POST $EXP HTTP/1.1\\r\\n$H${CT}Transfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\n0\\r\\n\\r\\n$SMUGREQ"
case_ refused-405-body "wrong method with a body: 405 and closed" '405 closed' 0 \
    "PUT /applications/$APP/devices HTTP/1.1\\r\\n$H$AG${CT}Content-Length: 18\\r\\n\\r\\n$B$SMUGREQ"
case_ refused-404-body "unknown route with a body: 404 and closed" '404 closed' 0 \
    "POST /nowhere HTTP/1.1\\r\\n$H$AG${CT}Content-Length: 18\\r\\n\\r\\n$B$SMUGREQ"
case_ refused-get-keepalive "refused GET (no body): the connection stays usable" '401 200 timeout' 1 \
    "GET $P HTTP/1.1\\r\\n$H\\r\\n$GETREQ"
case_ allowed-body-keepalive "allowed POST with a body, then a pipelined GET" "$FWD 200 timeout" 2 \
    "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Content-Length: 18\\r\\n\\r\\n$B$GETREQ"
case_ allowed-chunked-keepalive "allowed chunked POST, then a pipelined GET" "$FWD 200 timeout" 2 \
    "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Transfer-Encoding: chunked\\r\\n\\r\\n12\\r\\n$B\\r\\n0\\r\\n\\r\\n$GETREQ"
case_ allowed-body-split "allowed POST, head and body in separate segments" "$FWD timeout" 1 --delay 200 \
    "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Content-Length: 18\\r\\n\\r\\n" "$B"
check "its body reached the upstream whole" test "$(json_get "$(last_line "$RECORD")" 'd["body"]')" = "$B"
case_ schema-body "a body rule (schema) still checks the whole body" '400 timeout' 0 \
    "PATCH $P HTTP/1.1\\r\\n$H$AP${CT}Content-Length: 11\\r\\n\\r\\n{\"name\":17}"
case_ head-without-body "refused HEAD (no body): a pipelined GET is served" '401 200 timeout' 1 --head \
    "HEAD $P HTTP/1.1\\r\\n$H\\r\\n$GETREQ"
# HEAD is allowed where GET is: the upstream's answer comes back without its
# body (one sent would be read as the answer to the pipelined GET).
case_ head-allowed "allowed HEAD: the upstream's answer, no body, then a pipelined GET" \
    '200 200 timeout' 2 --head "HEAD $P HTTP/1.1\\r\\n$H$AG\\r\\n$GETREQ"
case_ body-413-cl "Content-Length over max_body_bytes with a valid token: 413 at once, closed" \
    '413 closed' 0 "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Content-Length: 3000000\\r\\n\\r\\n"
python3 -c 'import sys; sys.stdout.write(("100000\r\n" + "x" * 0x100000 + "\r\n") * 3 + "0\r\n\r\n")' > "$T/big.chunked"
case_ body-413-chunked "chunked body over max_body_bytes with a valid token: 413, closed" \
    '413 closed' 0 "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Transfer-Encoding: chunked\\r\\n\\r\\n" "@$T/big.chunked"

# --- Expect: 100-continue -----------------------------------------------------
case_ expect-refused "Expect: 100-continue, no token: the refusal, no 100" '401 closed' 0 \
    "POST $EXP HTTP/1.1\\r\\n$H${CT}Expect: 100-continue\\r\\nContent-Length: 18\\r\\n\\r\\n"
case_ expect-allowed "Expect: 100-continue, allowed: 100, then the answer after the body" \
    "100 $FWD timeout" 1 --delay 300 \
    "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Expect: 100-continue\\r\\nContent-Length: 18\\r\\n\\r\\n" "$B"
case_ expect-body-at-once "Expect: 100-continue with the body sent at once" "100 $FWD timeout" 1 \
    "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Expect: 100-continue\\r\\nContent-Length: 18\\r\\n\\r\\n$B"
case_ expect-no-body "Expect: 100-continue without a body (GET)" '200 timeout' 1 \
    "GET $P HTTP/1.1\\r\\n$H${AG}Expect: 100-continue\\r\\n\\r\\n"
case_ expect-other "Expect: something-else: 417 in JSON" '417 closed' 0 \
    "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Expect: 200-ok\\r\\nContent-Length: 18\\r\\n\\r\\n$B"

# --- markers, Host, empty lines ------------------------------------------------
case_ own-field "a client's X-Scopegate-* field: 400" '400 closed' 0 \
    "GET $P HTTP/1.1\\r\\n$H${AG}X-Scopegate-Subject: admin\\r\\n\\r\\n"
# The guard's refusal was once a header with a secret: a forged one, in two
# segments, with a refusal of the guard behind it, is still a refusal.
case_ forged-refusal "forged X-Scopegate-Refusal, then an obs-fold, in two segments" '400 closed' 0 \
    --delay 200 "GET $P HTTP/1.1\\r\\n$H${AG}X-Scopegate-Refusal: 0 200 fine\\r\\n" " folded\\r\\n\\r\\n"
case_ forged-refusal-alone "forged X-Scopegate-Refusal alone" '400 closed' 0 \
    "GET $P HTTP/1.1\\r\\n$H${AG}X-Scopegate-Refusal: 00112233445566778899aabbccddeeff 200 ok\\r\\n\\r\\n"
case_ no-host "HTTP/1.1 without Host: 400" '400 closed' 0 "GET $P HTTP/1.1\\r\\n$AG\\r\\n"
case_ no-host-10 "HTTP/1.0 without Host is fine" '200 closed' 1 "GET $P HTTP/1.0\\r\\n$AG\\r\\n"
case_ empty-lines "empty lines before the request line are skipped" '200 timeout' 1 \
    "\\r\\n\\r\\n$GETREQ"
case_ empty-lines-between "empty lines between pipelined requests" '200 200 timeout' 2 \
    "$GETREQ\\r\\n\\r\\n$GETREQ"

# --- bodies that trickle -------------------------------------------------------
case_ body-never "allowed head, announced body never sent: 408 after body_timeout_ms" \
    '408 closed' 0 --timeout 6 "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Content-Length: 18\\r\\n\\r\\n"
case_ body-short "allowed head, body one byte short: 408" '408 closed' 0 --timeout 6 \
    "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Content-Length: 19\\r\\n\\r\\n$B"
# One byte every 100 ms keeps the connection active but is far under 2000 B/s.
got=$(timeout 20 python3 "$top_srcdir/tests/integration/trickle_body.py" "$GW_PORT" 10 \
    "POST $EXP HTTP/1.1\\r\\nHost: gw\\r\\nAuthorization: Bearer $GETTOK\\r\\nContent-Type: application/json\\r\\nContent-Length: 100000\\r\\n\\r\\n" x)
expect_eq "body trickled at 10 B/s (min 2000 B/s): 408" 408 "${got% *}"
check "cut within the body timeout (2 s = 20 bytes sent, allow 40)" test "${got#* }" -le 40

# N slow-body attackers with and without a token, at max_connections 40:
# the unauthenticated ones are refused at their head and closed, the
# authenticated ones are cut by the rate; a valid client is served.
got=$(timeout 40 python3 - "$GW_PORT" "$EXP" "$GETTOK" "$P" <<'PY'
import socket, sys, time
port, path, tok, getp = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
N = 60
def head(auth):
    return ("POST %s HTTP/1.1\r\nHost: gw\r\n%sContent-Type: application/json\r\n"
            "Content-Length: 1000000\r\n\r\n" % (path, auth)).encode()
socks = []
for i in range(N):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(head("Authorization: Bearer %s\r\n" % tok if i % 2 else ""))
        s.setblocking(False)
        socks.append(s)
    except OSError:
        pass
served = 0
t0 = time.monotonic()
tries = 0
while time.monotonic() - t0 < 8:
    for s in socks:
        try:
            s.send(b"x")
        except OSError:
            pass
    if time.monotonic() - t0 > 3 and tries < 5:
        tries += 1
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=3)
            c.sendall(("GET %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n\r\n" % (getp, tok)).encode())
            r = c.recv(64)
            if r.startswith(b"HTTP/1.1 200"):
                served += 1
            c.close()
        except OSError:
            pass
    time.sleep(0.3)
closed = 0
for s in socks:
    try:
        s.setblocking(True)
        s.settimeout(0.2)
        while True:
            c = s.recv(4096)
            if not c:
                closed += 1
                break
    except OSError:
        closed += 1
print(len(socks), closed, served, tries)
PY
)
echo "# slow-body attackers: opened closed served tries = $got"
read -r nopen nclosed nserved ntries <<< "$got"
expect_eq "every slow-body attacker's connection was closed" "$nopen" "$nclosed"
expect_eq "the valid client was served every time meanwhile" "$ntries" "$nserved"

# Memory figures mean nothing under valgrind (its own overhead): skipped.
if [ -z "${UNDER_VALGRIND:-}" ]; then
# --- memory: max_buffered_body_bytes ----------------------------------------------
# 1,000 connections with a valid token each announce a 2 MB body to an
# action whose body the gateway must read whole (a schema), send 64 KiB of
# it at once, then trickle: the bodies held stay under
# max_buffered_body_bytes per worker, and resident memory under that x
# workers + a fixed overhead per connection.
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$GW_PID/status"; }
rss0=$(rss)
got=$(timeout 60 python3 - "$GW_PORT" "$P" "$PATCHTOK" "$ADMIN_PORT" "$GW_PID" <<'PY'
import socket, sys, time, urllib.request
port, path, tok, admin, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
head = ("PATCH %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n" % (path, tok)).encode()
chunk = b"y" * 65536
socks = []
for i in range(1000):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.setblocking(False)
        try:
            s.send(head + chunk)
        except OSError:
            pass
        socks.append(s)
    except OSError:
        pass
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
def held():
    m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin).read().decode()
    for l in m.splitlines():
        if l.startswith("scopegate_request_body_held_bytes "):
            return int(l.split()[1])
peak, peak_held = 0, 0
t0 = time.monotonic()
while time.monotonic() - t0 < 1.5:
    for s in socks:
        try:
            s.send(b"z" * 512)
        except OSError:
            pass
    peak = max(peak, rss())
    peak_held = max(peak_held, held())
    time.sleep(0.1)
print(len(socks), peak, peak_held)
for s in socks:
    s.close()
PY
)
read -r nconn peak peak_held <<< "$got"
echo "# 1000 trickling bodies: $nconn connections, RSS ${rss0} kB before, peak ${peak} kB, bodies held at most ${peak_held} bytes"
check "bodies held never exceeded max_buffered_body_bytes x workers (+ one body per worker)" \
    test "$peak_held" -le $((2 * 1048576 + 2 * 2000000))
# Overhead: per connection, evhttp's and the guard's buffers and at most one
# socket read (16 KiB) read ahead of its wait: allow 24 KiB each.
check "resident memory grew by less than cap x workers + 24 KiB per connection" \
    test "$((peak - rss0))" -lt $((2 * 1024 + 2 * 1953 + nconn * 24))
echo "# overhead measured: $(( (peak - rss0 - 2 * 1024) )) kB over the cap for $nconn connections"

fi

check "the gateway is still running" kill -0 "$GW_PID"
case_ after "a valid request is still served" '200 timeout' 1 "$GETREQ"

# --- the same over a TLS listener, with curl (a real client's Expect) -------------
PKI="$T/pki"
copy_tls_pki
MAIN_PORT=$GW_PORT
MAIN_PID=$GW_PID
GW_PORT=$(free_port)
TLS_ADMIN=$(free_port)
cat > "$T/tls.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT,
    "tls": { "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ] } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "policy": "$top_srcdir/conf/policy.json",
  "tokens": { "keys": [ { "jwks": "$KEYS/jwks.json" } ],
    "issuers": ["https://issuer.test"], "audiences": ["scopegate"] },
  "admin": { "address": "127.0.0.1", "port": $TLS_ADMIN },
  "limits": { "max_body_bytes": 4194304 },
  "log": { "access": "$T/access.log" }
}
EOT
start_gateway "$T/tls.json"
wait_port "$TLS_ADMIN"
head -c 2000000 /dev/zero | tr '\0' b > "$T/b2m"
tcurl() {
	curl -s -o /dev/null -m 20 -w '%{http_code}' --cacert "$PKI/ca.pem" \
	    --resolve "localhost:$GW_PORT:127.0.0.1" -H 'Expect: 100-continue' \
	    -H 'Content-Type: application/octet-stream' --data-binary @"$T/b2m" "$@"
}
n0=$(record_count)
r0=$(curl -s "http://127.0.0.1:$TLS_ADMIN/metrics" | awk '$1 == "scopegate_client_read_bytes_total" { print $2 }')
expect_eq "TLS: 2 MB POST with Expect, no token: 401" 401 "$(tcurl "https://localhost:$GW_PORT$EXP")"
r1=$(curl -s "http://127.0.0.1:$TLS_ADMIN/metrics" | awk '$1 == "scopegate_client_read_bytes_total" { print $2 }')
echo "# TLS: read from the client for the refused 2 MB POST: $((r1 - r0)) bytes"
check "TLS: the refused body was not read (under 16 KiB read in all)" test $((r1 - r0)) -lt 16384
expect_eq "TLS: 2 MB POST with Expect and a token: the upstream's answer" "$FWD" \
    "$(tcurl -H "Authorization: Bearer $GETTOK" "https://localhost:$GW_PORT$EXP")"
expect_eq "TLS: one request reached the upstream" 1 $(( $(record_count) - n0 ))
expect_eq "TLS: with the whole body" 2000000 "$(json_get "$(last_line "$RECORD")" 'd["body_length"]')"
GW_PORT=$MAIN_PORT
GW_PID=$MAIN_PID

# --- per-action max_body_bytes ----------------------------------------------------
# A policy of public actions: /small takes 100 bytes, /large 8 MiB, /plain
# the default (limits.max_body_bytes) of 1 KiB.
cat > "$T/limits-policy.json" <<'EOF'
{ "actions": [
  { "action": "small.post", "method": "POST", "path": "/small", "public": true, "max_body_bytes": 100 },
  { "action": "large.post", "method": "POST", "path": "/large", "public": true, "max_body_bytes": 8388608 },
  { "action": "plain.post", "method": "POST", "path": "/plain", "public": true } ] }
EOF
MAIN_PORT=$GW_PORT
MAIN_PID=$GW_PID
GW_PORT=$(free_port)
write_config "$T/limits.json" "\"policy\": \"$T/limits-policy.json\",
  \"limits\": { \"max_body_bytes\": 1024 }"
start_gateway "$T/limits.json"
head -c 100 /dev/zero | tr '\0' a > "$T/b100"
head -c 150 /dev/zero | tr '\0' a > "$T/b150"
head -c 2000 /dev/zero | tr '\0' a > "$T/b2000"
head -c 5000000 /dev/zero | tr '\0' a > "$T/b5m"
case_ action-limit-ok "/small: 100 bytes (its limit) are forwarded" '404 timeout' 1 \
    "POST /small HTTP/1.1\\r\\n${H}Content-Length: 100\\r\\n\\r\\n" "@$T/b100"
case_ action-limit-cl "/small: Content-Length 101, 413 at once" '413 closed' 0 \
    "POST /small HTTP/1.1\\r\\n${H}Content-Length: 101\\r\\n\\r\\n"
case_ action-limit-chunked "/small: 150 bytes chunked, 413 while reading" '413 closed' 0 \
    "POST /small HTTP/1.1\\r\\n${H}Transfer-Encoding: chunked\\r\\n\\r\\n96\\r\\n" "@$T/b150" "\\r\\n0\\r\\n\\r\\n"
case_ action-limit-default "/plain: 2000 bytes over the default 1 KiB: 413" '413 closed' 0 \
    "POST /plain HTTP/1.1\\r\\n${H}Content-Length: 2000\\r\\n\\r\\n" "@$T/b2000"
case_ action-limit-large "/large: 5 MB within its own 8 MiB limit, over the default" '404 timeout' 1 \
    --timeout 5 "POST /large HTTP/1.1\\r\\n${H}Content-Length: 5000000\\r\\n\\r\\n" "@$T/b5m"
case_ action-limit-ceiling "/large: Content-Length over every limit, refused with the head" '413 closed' 0 \
    "POST /large HTTP/1.1\\r\\n${H}Content-Length: 9000000\\r\\n\\r\\n"
GW_PORT=$MAIN_PORT
GW_PID=$MAIN_PID

if [ -z "${UNDER_VALGRIND:-}" ]; then
# --- streaming: a 50 MiB upload to an action without body rules ----------------
# (a second gateway allowing such bodies): it reaches the upstream whole
# while the gateway's resident memory grows by less than 8 MiB.
MAIN_PID=$GW_PID
GW_PORT=$(free_port)
write_config "$T/big.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"jwks\": \"$KEYS/jwks.json\" } ],
    \"issuers\": [\"https://issuer.test\"], \"audiences\": [\"scopegate\"] },
  \"workers\": 1, \"limits\": { \"max_body_bytes\": 67108864 }"
start_gateway "$T/big.json"
n0=$(record_count)
got=$(timeout 60 python3 - "$GW_PORT" "$EXP" "$GETTOK" "$GW_PID" <<'PY'
import socket, sys, threading, time
port, path, tok, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
N = 50 * 1024 * 1024
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
rss0, peak, done = rss(), [0], [False]
def sample():
    while not done[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.02)
t = threading.Thread(target=sample)
t.start()
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(("POST %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % (path, tok, N)).encode())
piece = bytes(range(256)) * 4096          # 1 MiB
for i in range(50):
    s.sendall(piece)
got = b""
while b"\r\n\r\n" not in got:
    c = s.recv(65536)
    if not c:
        break
    got += c
done[0] = True
t.join()
print(got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "none", rss0, peak[0])
PY
)
read -r status rss0 peak <<< "$got"
expect_eq "50 MiB upload to device.export (no body rules): forwarded, the upstream's answer" "$FWD" "$status"
expect_eq "it reached the upstream once" 1 $(( $(record_count) - n0 ))
want=$(python3 -c 'import zlib; print("%08x" % zlib.crc32((bytes(range(256)) * 4096) * 50))')
expect_eq "with every byte (length)" 52428800 "$(json_get "$(last_line "$RECORD")" 'd["body_length"]')"
expect_eq "with every byte (CRC-32)" "$want" "$(json_get "$(last_line "$RECORD")" 'd["body_crc32"]')"
echo "# 50 MiB upload: gateway RSS ${rss0} kB before, peak ${peak} kB"
check "the gateway's resident memory grew by less than 8 MiB" test $((peak - rss0)) -lt 8192
# The upstream answers before the body is all there (example-upstream
# refuses a Content-Length over its 64 MiB at once): the answer is passed
# on, the client's connection ends after it (the rest of the body is not
# taken for a request), and the gateway serves the next client.
got=$(timeout 60 python3 - "$GW_PORT" "$EXP" "$GETTOK" <<'PY'
import socket, sys, time
port, path, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(("POST %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"
           "Content-Length: 67108865\r\n\r\n" % (path, tok)).encode())
s.setblocking(False)
got, closed, sent = b"", False, 0
t0 = time.monotonic()
while time.monotonic() - t0 < 20 and not closed:
    try:
        if sent < 8 * 1048576:
            sent += s.send(b"q" * 65536)
    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
        pass
    try:
        c = s.recv(65536)
        if not c:
            closed = True
        got += c
    except BlockingIOError:
        time.sleep(0.01)
    except ConnectionResetError:
        closed = True
print(got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "none",
      "closed" if closed else "open", got.lower().count(b"connection: close"))
PY
)
expect_eq "the upstream's early answer (413) is passed on and the connection closed" "413 closed 1" "$got"
expect_eq "then a request is served" 200 \
    "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Authorization: Bearer $GETTOK" "http://127.0.0.1:$GW_PORT$P")"
# A streamed body that takes longer than the upstream's timeout_ms (1 s
# here) to arrive, at a fair pace: the upstream's wait is counted from the
# last body byte sent, so the answer is its own, not a 504.
GW_PORT=$(free_port)
UP_TIMEOUT_MS=1000 write_config "$T/slowup.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"jwks\": \"$KEYS/jwks.json\" } ],
    \"issuers\": [\"https://issuer.test\"], \"audiences\": [\"scopegate\"] },
  \"limits\": { \"body_min_bytes_per_s\": 0, \"body_timeout_ms\": 10000 }"
start_gateway "$T/slowup.json"
case_ stream-slower-than-upstream-timeout "a streamed body sent over 2.5 s with an upstream timeout of 1 s" \
    "$FWD timeout" 1 --delay 500 --timeout 4 \
    "POST $EXP HTTP/1.1\\r\\n$H$AG${CT}Content-Length: 18\\r\\n\\r\\n{\"na" "me\":" "\"hos" "tile" "\"}"
GW_PID=$MAIN_PID
fi

echo "# $NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
