#!/usr/bin/env bash
# The trailer section of a chunked request body, attacked through the real
# daemon with raw sockets, against an upstream that reads the framing byte
# for byte (chunkupstream.py). The section (from the line after the last
# chunk to the empty line that ends it, line ends included) is bounded by
# max_header_bytes (1024 here), counted on its own: one byte over is 431,
# the connection closed, and the upstream never sees a complete request (a
# held body is never sent; a streamed one is cut before its last chunk),
# nor the request pipelined behind it; however the bytes come (one long
# line, many short lines, one byte per write). Exactly at the limit the
# request is forwarded (200) without any trailer field, forbidden ones
# (framing, Authorization, the gateway's own namespace) included.
. "$(dirname "$0")/lib.sh"

RAWHTTP="$top_srcdir/tests/integration/rawhttp.py"
# Answers are awaited this long after the last byte sent ("timeout": the
# connection stayed open).
RT=1
[ -n "${UNDER_VALGRIND:-}" ] && RT=3
raw() {
	timeout 60 python3 "$RAWHTTP" --port "$GW_PORT" --timeout "$RT" "$@"
}

start_chunk_upstream

mkdir -p "$T/schemas"
echo '{ "type": "object", "properties": { "name": { "type": "string" } } }' > "$T/schemas/named.json"
cat > "$T/policy.json" <<EOF
{ "schemas_dir": "$T/schemas",
  "actions": [
  { "action": "up.post", "method": "POST", "path": "/up", "public": true },
  { "action": "up.get", "method": "GET", "path": "/next", "public": true },
  { "action": "named.post", "method": "POST", "path": "/named", "public": true,
    "body": { "schema": "named" } } ] }
EOF
GW_PORT=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$T/policy.json\", \"workers\": 1,
  \"limits\": { \"max_header_bytes\": 1024, \"body_timeout_ms\": 20000 }"
check "config passes -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json"

# since N EXPR: EXPR (python, over L, the requests recorded after the
# first N) printed.
since() {
	python3 -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]]; print(eval(sys.argv[3]))' "$REC" "$@"
}

# mkreq FILE PATH BODY SHAPE SIZE [NEXT]: a chunked POST of BODY (in two
# chunks) whose trailer section is SIZE bytes of SHAPE (long: one long
# line; lines: "a:" lines, half of their bytes line ends; forbidden:
# framing, credential and gateway fields, then padding), then a pipelined
# GET /next when NEXT is given.
mkreq() {
	python3 - "$@" <<'PY'
import sys
path, target, body, shape, size = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4], int(sys.argv[5])
ctype = b"Content-Type: application/json\r\n" if target == "/named" else b""
out = (b"POST " + target.encode() + b" HTTP/1.1\r\nHost: gw\r\n" + ctype +
       b"Transfer-Encoding: chunked\r\n\r\n")
half = len(body) // 2
out += b"%x;ext=1\r\n" % half + body[:half] + b"\r\n" + b"%x\r\n" % (len(body) - half) + body[half:] + b"\r\n0\r\n"
if shape == "long":
    sec = b"X-Pad: " + b"v" * (size - 11) + b"\r\n"
elif shape == "lines":
    sec = b""
    while len(sec) + 4 + 6 <= size:
        sec += b"a:\r\n"
    sec += b"a:" + b"b" * (size - len(sec) - 6) + b"\r\n"
else:
    sec = (b"Content-Length: 0\r\nTransfer-Encoding: gzip\r\nX-Scopegate-Subject: admin\r\n"
           b"Authorization: Bearer forged\r\nX-Forwarded-For: 10.0.0.1\r\nTrailer-Marker: 1\r\n")
    sec += b"X-Pad: " + b"v" * (size - len(sec) - 11) + b"\r\n"
sec += b"\r\n"
assert len(sec) == size, (len(sec), size)
out += sec
if len(sys.argv) > 6:
    out += b"GET /next HTTP/1.1\r\nHost: gw\r\n\r\n"
open(path, "wb").write(out)
PY
}

JSON='{"name":"abc"}'
FORBIDDEN='("content-length", "transfer-encoding", "x-scopegate-subject", "authorization", "trailer-marker", "x-pad", "a")'

# --- one byte over the limit: 431, closed, no complete request upstream -----------
for shape in long lines forbidden; do
	n0=$(record_count)
	mkreq "$T/over-$shape" /up hello "$shape" 1025 next
	expect_eq "streamed body, trailer section of 1025 bytes ($shape): 431, closed" "431 closed" \
	    "$(raw --all --out "$T/over-$shape.out" "@$T/over-$shape")"
	sleep 0.3
	expect_eq "... the upstream saw no complete request, not the pipelined GET" "0 0" \
	    "$(since "$n0" 'sum(1 for d in L if d["complete"]), sum(1 for d in L if d["path"] == "/next")' | tr -d '(),')"
done
expect_eq "... the answer is JSON: RequestHeaderFieldsTooLarge, Connection: close" \
    "RequestHeaderFieldsTooLarge close" \
    "$(python3 -c 'import json,sys; h,b=open(sys.argv[1],"rb").read().split(b"\r\n\r\n",1); f=dict(l.split(b": ",1) for l in h.split(b"\r\n")[1:]); print(json.loads(b)["type"], f.get(b"Connection", b"").decode())' "$T/over-long.out")"
sleep 0.2
check "... logged: status 431, reason trailer_too_large" \
    grep -q '"path":"/up".*"reason":"trailer_too_large".*"status":431' "$T/access.log"

# A body held whole (the action has a schema): nothing reaches the upstream.
n0=$(record_count)
mkreq "$T/over-held" /named "$JSON" lines 1025 next
expect_eq "held body, trailer section of 1025 bytes: 431, closed" "431 closed" \
    "$(raw --all "@$T/over-held")"
sleep 0.3
expect_eq "... nothing reached the upstream" "$n0" "$(record_count)"

# One byte per write (TCP_NODELAY, 1 ms apart): the bound holds across reads.
n0=$(record_count)
mkreq "$T/over-trickle" /up hello lines 1025
expect_eq "trailer section of 1025 bytes sent one byte per write: 431, closed" "431 closed" \
    "$(raw --all --trickle 1 "@$T/over-trickle")"
sleep 0.3
expect_eq "... the upstream saw no complete request" "0" "$(since "$n0" 'sum(1 for d in L if d["complete"])')"

# An endless trailer section: refused once 1025 of its bytes came, not read on.
got=$(timeout 20 python3 - "$GW_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /up HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n")
got, sent, closed, left = b"", 0, False, b""
s.setblocking(False)
t0 = time.monotonic()
while time.monotonic() - t0 < 10 and not closed:
    try:
        # A partial send leaves the rest of its lines for the next one.
        left = left or b"a:\r\n" * 64
        n = s.send(left)
        sent += n
        left = left[n:]
    except BlockingIOError:
        time.sleep(0.01)
    except OSError:
        closed = True
    try:
        c = s.recv(65536)
        if not c:
            closed = True
        got += c
    except BlockingIOError:
        pass
    except OSError:
        closed = True
print(got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "none",
      "closed" if closed else "open", "small" if sent < 4 * 1024 * 1024 else "big")
PY
)
expect_eq "endless trailer lines: 431, the connection closed before 4 MiB were taken" \
    "431 closed small" "$got"

# Trailer lines the field grammar refuses: 400, closed, nothing complete.
n0=$(record_count)
H='POST /up HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n'
expect_eq "trailer line ended by a bare LF: 400, closed" "400 closed" "$(raw --all "${H}A: b\\nC: d\\r\\n\\r\\n")"
expect_eq "trailer section ended by a bare LF: 400, closed" "400 closed" "$(raw --all "${H}A: b\\r\\n\\n")"
expect_eq "trailer line without a colon: 400, closed" "400 closed" "$(raw --all "${H}nocolon\\r\\n\\r\\n")"
expect_eq "trailer line folded (obs-fold): 400, closed" "400 closed" "$(raw --all "${H}A: b\\r\\n c\\r\\n\\r\\n")"
sleep 0.3
expect_eq "... the upstream saw none of them complete" "0" "$(since "$n0" 'sum(1 for d in L if d["complete"])')"

# --- exactly at the limit: forwarded, without a trailer field ---------------------
for shape in long lines forbidden; do
	n0=$(record_count)
	mkreq "$T/at-$shape" /up hello "$shape" 1024 next
	expect_eq "streamed body, trailer section of 1024 bytes ($shape), then a GET: 200 200" \
	    "200 200 timeout" "$(raw --all "@$T/at-$shape")"
	wait_record $((n0 + 2))
	expect_eq "... the upstream got the body whole, in its own chunks, without a trailer" \
	    "/up 5 True False" \
	    "$(since "$n0" 'L[0]["path"], L[0]["length"], L[0]["complete"], L[0]["trailer"]' | tr -d "(),'")"
	expect_eq "... no trailer field among its header fields (one Transfer-Encoding, the gateway's), then the GET" \
	    "0 chunked /next" \
	    "$(since "$n0" "sum(1 for k, v in L[0][\"fields\"] if k.lower() in $FORBIDDEN and k.lower() != \"transfer-encoding\"), \",\".join(v for k, v in L[0][\"fields\"] if k.lower() == \"transfer-encoding\"), L[1][\"path\"]" | tr -d "(),'")"
done

n0=$(record_count)
mkreq "$T/at-held" /named "$JSON" forbidden 1024
expect_eq "held body, trailer section of 1024 bytes with forbidden fields: 200" "200 timeout" \
    "$(raw --all "@$T/at-held")"
wait_record $((n0 + 1))
expect_eq "... forwarded with its length, no trailer field among the upstream's fields" \
    "14 None 14 0" \
    "$(since "$n0" "L[0][\"cl\"], L[0][\"te\"], L[0][\"length\"], sum(1 for k, v in L[0][\"fields\"] if k.lower() in $FORBIDDEN and k.lower() != \"content-length\")" | tr -d "(),'")"
expect_eq "... and the gateway's Content-Length is the body's, not the trailer's 0" "14" \
    "$(since "$n0" 'sum(int(v) for k, v in L[0]["fields"] if k.lower() == "content-length")')"

n0=$(record_count)
mkreq "$T/at-trickle" /up hello lines 1024
expect_eq "trailer section of 1024 bytes sent one byte per write: 200" "200 timeout" \
    "$(raw --all --trickle 1 "@$T/at-trickle")"
wait_record $((n0 + 1))
expect_eq "... forwarded whole, without a trailer" "5 True False" \
    "$(since "$n0" 'L[0]["length"], L[0]["complete"], L[0]["trailer"]' | tr -d "(),'")"

check "the gateway is still running" kill -0 "$GW_PID"
finish
