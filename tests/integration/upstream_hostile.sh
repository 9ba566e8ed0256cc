#!/usr/bin/env bash
# A hostile or broken upstream: the gateway's own HTTP client (upstream.c,
# uresp.c) must pass on only answers it framed unambiguously. Broken
# framing before the answer started: 502 in the Losant error shape; after
# it started: the client's connection is cut, never a clean ending; bytes
# after an answer (a smuggled second response) never reach any client and
# that upstream connection is not reused. The upstream is
# tests/integration/rawupstream.py, answering exact bytes per path.
. "$(dirname "$0")/lib.sh"

python3 "$top_srcdir/tests/integration/rawupstream.py" "$T/raw.port" 2> "$T/raw.err" &
PIDS+=($!)
for i in $(seq 1 100); do [ -s "$T/raw.port" ] && break; sleep 0.05; done
UP_PORT=$(cat "$T/raw.port")
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# One worker: one connection pool, so that a connection is reused on
# purpose (the stale-connection cases below).
# Bodies up to 16 MB: the early answer below needs one larger than what
# the loopback socket buffers hold.
UP_TIMEOUT_MS=2000 write_config "$T/gw.json" '"workers": 1,
  "limits": { "max_body_bytes": 16000000 },
  "admin": { "address": "127.0.0.1", "port": '"$ADMIN_PORT"' }'

start_gateway "$T/gw.json"
GW="http://127.0.0.1:$GW_PORT"

# get CASE: "status body" as the client sees them; curl's exit code when
# the transfer broke.
get() {
	local out code rc
	out=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' "$GW/case/$1")
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "curl-error-$rc"
		return
	fi
	echo "$out $(head -c 200 "$T/body")"
}

expect_eq "Content-Length answer" "200 ok" "$(get ok-cl)"
expect_eq "chunked answer" "200 ok" "$(get ok-chunked)"
expect_eq "chunked answer with an extension and a trailer" "200 ok" "$(get ok-chunked-ext)"
expect_eq "answer delimited by close" "200 ok" "$(get ok-close)"
expect_eq "100 Continue, then the answer" "200 ok" "$(get ok-continue)"
expect_eq "204 without a body" "204 " "$(get ok-nocontent)"
# HTTP/1.0 clients asking for keep-alive. An answer of unknown length
# (chunked or close-delimited upstream) must not be framed as
# "Content-Length: 0" on a kept connection (the client would read the body
# as the next answer: evhttp did that): it ends with the connection. An
# answer with a length keeps the connection.
http10() {
	python3 - "$GW_PORT" "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
conn = "Connection: keep-alive\r\n" if sys.argv[3] == "keep-alive" else ""
s.sendall(("GET /case/%s HTTP/1.0\r\nHost: x\r\n%s\r\n" % (sys.argv[2], conn)).encode())
s.settimeout(1.5)
buf, end = b"", "open"
try:
    while True:
        d = s.recv(65536)
        if not d:
            end = "closed"
            break
        buf += d
except socket.timeout:
    pass
head, _, body = buf.partition(b"\r\n\r\n")
cl = [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\r\n")[1:]
      if l.lower().startswith(b"content-length:")]
print("cl=%s body=%s %s" % (",".join(cl) or "none", body.decode(errors="replace"), end))
PY
}
expect_eq "HTTP/1.0 keep-alive, chunked upstream answer: no length, body, closed" \
    "cl=none body=ok closed" "$(http10 ok-chunked keep-alive)"
expect_eq "HTTP/1.0 keep-alive, close-delimited upstream answer: the same" \
    "cl=none body=ok closed" "$(http10 ok-close keep-alive)"
expect_eq "HTTP/1.0 keep-alive, answer with a length: kept open" \
    "cl=2 body=ok open" "$(http10 ok-cl keep-alive)"
expect_eq "HTTP/1.0 without keep-alive, chunked upstream answer: body, closed" \
    "cl=none body=ok closed" "$(http10 ok-chunked close)"

# A "close" option anywhere in the request's Connection fields ends the
# connection after the answer (RFC 9112 9.6; evhttp looked only at a first
# field that is "close" exactly): the pipelined second request is not
# answered, the connection closes. Through the gateway's own reply head
# (ok-cl, ok-chunked) and a gateway error (404).
closing() {
	timeout 10 python3 "$top_srcdir/tests/integration/rawhttp.py" --port "$GW_PORT" --all \
	    "GET $1 HTTP/1.1\\r\\nHost: x\\r\\n$2\\r\\nGET /case/ok-cl HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
}
expect_eq "Connection: keep-alive, close: one answer, then closed" "200 closed" \
    "$(closing /case/ok-cl 'Connection: keep-alive, close\r\n')"
expect_eq "Connection: Te, CLOSE (chunked answer): the same" "200 closed" \
    "$(closing /case/ok-chunked 'Connection: Te, CLOSE\r\nTE: trailers\r\n')"
expect_eq "close in a second Connection field: the same" "200 closed" \
    "$(closing /case/ok-cl 'Connection: keep-alive\r\nConnection: close\r\n')"
expect_eq "... and for an answer of the gateway's own (404)" "404 closed" \
    "$(closing /nowhere 'Connection: keep-alive, close\r\n')"
expect_eq "Connection: keep-alive alone: both answered, kept open" "200 200 timeout" \
    "$(closing /case/ok-cl 'Connection: keep-alive\r\n')"

# A 204 with a Content-Length: the client must not be told of a body that
# does not come (one that believed it read the next answer's first bytes).
expect_eq "204 with Content-Length: 5 from the upstream" "204" \
    "$(curl -s -m 5 -o /dev/null -D "$T/h204.txt" -w '%{http_code}' "$GW/case/nocontent-cl")"
check "... answered without Content-Length" bash -c "! grep -qi '^Content-Length' '$T/h204.txt'"

# A slow upstream: its head reaches the client at once, its body when
# it comes (0.6 s later), and the bytes are the head's and body's (the
# gateway holds the head's last line end back to send it with the body
# when the body is in hand: never when it is not). Judged by the gap
# between head and body at the client, not by absolute times (memcheck).
slow_answer() {
	python3 - "$GW_PORT" "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /case/%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % sys.argv[2].encode())
t0 = time.time(); buf = b""; head_t = body_t = None; early = None
s.settimeout(10)
while True:
    d = s.recv(65536)
    if not d:
        break
    buf += d
    if head_t is None and b"\r\n\r\n" in buf:
        head_t = time.time() - t0
        early = buf.split(b"\r\n\r\n", 1)[1]
    if head_t is not None and body_t is None and buf.split(b"\r\n\r\n", 1)[1]:
        body_t = time.time() - t0
head, body = buf.split(b"\r\n\r\n", 1)
gap = (body_t or 0) - (head_t or 0)
print("head %s body-with-head %r body %r" % ("before" if gap > 0.3 else "with (%.2f s apart)" % gap,
      early, body))
PY
}
expect_eq "slow Content-Length answer: the head before the body" \
    "head before body-with-head b'' body b'ok'" "$(slow_answer slow-cl)"
expect_eq "slow chunked answer: the head before the body, framed as chunks" \
    "head before body-with-head b'' body b'2\\r\\nok\\r\\n0\\r\\n\\r\\n'" "$(slow_answer slow-chunked)"

bad() {
	local got
	got=$(get "$1")
	expect_eq "$2: 502 BadGateway" "502" "${got%% *}"
	check "$2: the answer is the gateway's JSON" grep -q '"type":"BadGateway"' "$T/body"
}
bad cl-te "Content-Length and Transfer-Encoding together"
bad cl-cl "two Content-Length fields"
bad cl-sign "Content-Length with a sign"
bad te-gzip "a transfer coding other than chunked"
bad obs-fold "obsolete line folding"
bad bare-lf "bare LF line ends"
bad nul-value "NUL in a field value"
bad space-colon "space before the colon"
bad bad-status "a four-digit status"
bad http2 "HTTP/2 status line"
bad http09 "no status line at all"
bad upgrade "101 Switching Protocols"
bad huge-head "a 40 kB field (head over 32 kB)"
bad empty "connection closed without an answer"

# Broken after the answer started: the client must see a broken transfer.
for c in bad-chunk chunk-0x short-body; do
	got=$(get "$c")
	check "$c: the client's transfer is cut, not ended cleanly ($got)" \
	    test "${got#curl-error-}" != "$got"
done

# A second response hidden after the first never reaches a client, and the
# connection it came on is not used again.
c0=$(curl -s "http://127.0.0.1:$UP_PORT/stats" | json_get - 'd["connections"]')
expect_eq "smuggling upstream: the first answer passes" "200 ok" "$(get smuggle)"
for i in 1 2 3; do
	expect_eq "next answer $i is its own, not the smuggled one" "200 ok" "$(get ok-cl)"
done
c1=$(curl -s "http://127.0.0.1:$UP_PORT/stats" | json_get - 'd["connections"]')
check "the smuggling connection was closed, a new one opened ($c0 -> $c1, the stats calls count one each)" test "$c1" -gt $((c0 + 1))
# The upstream closes an idle keep-alive connection just as a request goes
# out on it (nothing of an answer came): an idempotent request is sent
# again on a new connection; POST is not (the upstream may have acted).
stats() { curl -s "http://127.0.0.1:$UP_PORT/stats" | json_get - 'd["connections"]'; }
expect_eq "prime a keep-alive connection" "200 ok" "$(get ok-cl)"
c0=$(stats)
expect_eq "GET on a connection the upstream closes under it: sent again, answered" \
    "200 ok" "$(get stale)"
c1=$(stats)
expect_eq "... on exactly one new connection" "$((c0 + 2))" "$c1"
check "... and the retry is logged" grep -Eq "connection closed before an answer \(reused connection, exchange [0-9]+ on it\); sent again on a new connection" "$T/gateway.err"
for m in DELETE PUT OPTIONS; do
	expect_eq "$m is retried the same way" "200" \
	    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X "$m" "$GW/case/stale")"
done
expect_eq "POST is not sent again: 502" "502" \
    "$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -X POST -d '{}' -H 'Content-Type: application/json' "$GW/case/stale")"
check "... in the gateway's JSON" grep -q '"type":"BadGateway"' "$T/body"
get ok-cl > /dev/null
expect_eq "PATCH is not sent again: 502" "502" \
    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PATCH -d '{}' -H 'Content-Type: application/json' "$GW/case/stale")"
# A request that fails on its new connection too is not sent a third time.
get ok-cl > /dev/null
c0=$(stats)
expect_eq "empty answer on a reused connection: sent again once, then 502" "502" "$(get empty | cut -d' ' -f1)"
c1=$(stats)
expect_eq "... after exactly one more connection" "$((c0 + 2))" "$c1"
# What /metrics made of all this.
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" > "$T/metrics"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
# Retried: the GET, DELETE, PUT and OPTIONS above, and the empty answer.
expect_eq "metrics: 5 requests sent again" 5 "$(metric scopegate_upstream_retries_total)"
# Reset (connected, then closed before an answer): POST, PATCH, the empty
# answer's second try, and the empty case early on.
expect_eq "metrics: 4 connections lost before an answer" 4 \
    "$(metric 'scopegate_upstream_errors_total{kind="reset"}')"

# The upstream does not speak for the gateway: X-Request-Id in the answer
# is the gateway's own (the one the upstream was sent and the log has);
# the upstream's arrives as X-Upstream-Request-Id; the names the gateway
# sets (X-Upstream-Request-Id, X-Scopegate-*) never come from it.
expect_eq "an upstream's own X-Request-Id: answered" "200" \
    "$(curl -s -m 5 -o /dev/null -D "$T/h.txt" -w '%{http_code}' "$GW/case/reqid")"
hdr() { tr -d '\r' < "$T/h.txt" | awk -F': ' -v k="$1" 'tolower($1) == tolower(k) { print $2 }'; }
rid=$(hdr X-Request-Id)
check "... X-Request-Id is the gateway's, once ($rid)" \
    bash -c '[[ "$1" =~ ^[0-9a-f]{32}$ ]]' _ "$rid"
sleep 0.2
check "... the same id as the access log line of the request" \
    grep -q "\"request_id\":\"$rid\",.*\"path\":\"/case/reqid\"" "$T/access.log"
expect_eq "... the upstream's as X-Upstream-Request-Id, its forged one dropped" \
    "upstream-chosen" "$(hdr X-Upstream-Request-Id)"
expect_eq "... X-Scopegate-* from the upstream dropped" "" "$(hdr X-Scopegate-Decision)"
# An empty reason phrase from the upstream: the client gets the standard one.
python3 "$top_srcdir/tests/integration/rawhttp.py" --port "$GW_PORT" --out "$T/raw.out" \
    'GET /case/noreason HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' > /dev/null
expect_eq "an upstream's empty reason phrase becomes the standard one" "HTTP/1.1 200 OK" \
    "$(head -n 1 "$T/raw.out" | tr -d '\r')"

# An upstream that answers 200 keep-alive as soon as it has the head of a
# POST, before the 8 MB body (made of "GET /case/evil" requests) is
# written: that connection is closed, never given to the next request,
# which would otherwise go out behind the rest of the body and get the
# answer to a request smuggled in it.
python3 -c 'import sys; r=b"GET /case/evil HTTP/1.1\r\nHost: x\r\n\r\n"; sys.stdout.buffer.write(r * (8000000 // len(r)))' > "$T/smuggle.body"
get ok-cl > /dev/null
c0=$(stats)
expect_eq "early answer to a POST with an 8 MB body: passed on" "200 ok" \
    "$(curl -s -m 10 -o "$T/body" -w '%{http_code}' -X POST --data-binary @"$T/smuggle.body" \
    "$GW/case/early") $(head -c 200 "$T/body")"
for i in 1 2 3; do
	expect_eq "next request $i gets its own answer, not a smuggled one" "200 ok" "$(get ok-cl)"
done
c1=$(stats)
check "... on a new connection ($c0 -> $c1, the stats calls count one each)" \
    test "$c1" -ge $((c0 + 2))
check "the gateway is still running" kill -0 "$GW_PID"
finish
