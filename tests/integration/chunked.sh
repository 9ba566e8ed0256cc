#!/usr/bin/env bash
# Chunked request bodies streamed to the upstream, as attacks against the
# real daemon and an upstream that reads the framing byte for byte
# (chunkupstream.py): a body no rule reads goes to the upstream as it
# comes, chunked in the gateway's own framing (the client's sizes with
# leading zeros, extensions and trailers never cross), in constant memory;
# over the action's max_body_bytes it is cut (413) with no more than the
# limit forwarded; an upstream that answers early, a client that goes away
# and a cut body all end that upstream connection, which is never reused.
# A body a rule reads is still held whole and forwarded with its length.
. "$(dirname "$0")/lib.sh"
export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=1"

RAWHTTP="$top_srcdir/tests/integration/rawhttp.py"
raw() {
	timeout 60 python3 "$RAWHTTP" --port "$GW_PORT" "$@"
}

start_chunk_upstream

mkdir -p "$T/schemas"
echo '{ "type": "object", "properties": { "name": { "type": "string" } } }' > "$T/schemas/named.json"
cat > "$T/policy.json" <<EOF
{ "schemas_dir": "$T/schemas",
  "actions": [
  { "action": "up.post", "method": "POST", "path": "/up", "public": true, "max_body_bytes": 67108864 },
  { "action": "up.get", "method": "GET", "path": "/next", "public": true },
  { "action": "small.post", "method": "POST", "path": "/small", "public": true, "max_body_bytes": 1000 },
  { "action": "gone.post", "method": "POST", "path": "/gone", "public": true },
  { "action": "early.post", "method": "POST", "path": "/early", "public": true },
  { "action": "named.post", "method": "POST", "path": "/named", "public": true,
    "body": { "schema": "named" } } ] }
EOF
GW_PORT=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$T/policy.json\", \"workers\": 1,
  \"limits\": { \"max_body_bytes\": 1048576, \"body_timeout_ms\": 5000 }"
check "config passes -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json"

# rec N EXPR: EXPR (python, over d) of the N-th recorded request (1-based;
# -1 the last).
rec() {
	python3 -c 'import json,sys; L=open(sys.argv[1]).read().splitlines(); n=int(sys.argv[2]); d=json.loads(L[n-1] if n > 0 else L[n]); v=eval(sys.argv[3]); print(json.dumps(v) if not isinstance(v,str) else v)' "$REC" "$@"
}
H='Host: gw\r\n'
TE='Transfer-Encoding: chunked\r\n'
NEXT='GET /next HTTP/1.1\r\nHost: gw\r\n\r\n'

# --- the gateway's own framing ------------------------------------------------
# Extensions, sizes with leading zeros and in upper case, a trailer, and a
# request pipelined right after the last chunk, in one write.
n0=$(record_count)
expect_eq "chunked POST with extensions, leading zeros and a trailer, then a pipelined GET" \
    "200 200 timeout" "$(raw --all "POST /up HTTP/1.1\\r\\n$H$TE\\r\\n005;ext=\"a;b\"\\r\\nhello\\r\\n00A;x\\r\\n, chunked!\\r\\n0000\\r\\nX-Trailer: evil\\r\\nContent-Length: 5\\r\\n\\r\\n$NEXT")"
wait_record $((n0 + 2))
i=$((n0 + 1))
expect_eq "the upstream got the body as Transfer-Encoding: chunked, without a Content-Length" \
    "chunked None" "$(rec $i 'd["te"]') $(rec $i 'str(d["cl"])')"
expect_eq "... every byte of the data, ended as framed" "15 $(python3 -c 'import zlib; print("%08x" % zlib.crc32(b"hello, chunked!"))') True" \
    "$(rec $i 'd["length"]') $(rec $i 'd["crc32"]') $(rec $i 'str(d["complete"])')"
expect_eq "... in the gateway's chunks: no extension, no leading zero, lower case, no trailer" \
    "False False False False" \
    "$(rec $i 'str(d["ext"])') $(rec $i 'str(d["zeros"])') $(rec $i 'str(d["upper"])') $(rec $i 'str(d["trailer"])')"
expect_eq "... and no field of the client's trailer among its header fields" "0" \
    "$(rec $i 'sum(1 for k, v in d["fields"] if k.lower() in ("x-trailer", "trailer", "te"))')"
expect_eq "the pipelined GET after the last chunk is a request of its own, without a body" \
    "GET /next None None" \
    "$(rec $((i + 1)) 'd["method"]') $(rec $((i + 1)) 'd["path"]') $(rec $((i + 1)) 'str(d["te"])') $(rec $((i + 1)) 'str(d["cl"])')"

# The last chunk split across TCP writes ("0", CR, LF, then the empty line
# after a pause): the body ends when the client's does, not before.
n0=$(record_count)
expect_eq "last chunk split across four writes" "200 timeout" \
    "$(raw --all --delay 150 "POST /up HTTP/1.1\\r\\n$H$TE\\r\\n4\\r\\nabcd\\r\\n0" "\\r" "\\n" "\\r\\n")"
wait_record $((n0 + 1))
expect_eq "... the upstream got one complete body of 4 bytes" "1 4 True 1" \
    "$(( $(record_count) - n0 )) $(rec -1 'd["length"]') $(rec -1 'str(d["complete"])') $(rec -1 'd["chunks"]')"

# A size line of 16 digits (leading zeros) or 15 hex digits over the limit:
# refused. The head may have gone to the upstream already (the body is
# streamed), but none of the data did and that exchange was cut: the
# upstream recorded nothing complete, no byte of data.
n0=$(record_count)
expect_eq "a size line of 16 digits (leading zeros): 400, closed" "400 closed" \
    "$(raw --all "POST /up HTTP/1.1\\r\\n$H$TE\\r\\n0000000000000005\\r\\nhello\\r\\n0\\r\\n\\r\\n")"
expect_eq "a size of fffffffffffffff: 413, closed" "413 closed" \
    "$(raw --all "POST /up HTTP/1.1\\r\\n$H$TE\\r\\nfffffffffffffff\\r\\n")"
sleep 0.5
expect_eq "... the upstream got no data and no complete body of either" "0 0" \
    "$(tail -n +$((n0 + 1)) "$REC" | python3 -c 'import json,sys; L=[json.loads(l) for l in sys.stdin]; print(sum(d["length"] for d in L), sum(1 for d in L if d["complete"]))')"

# --- a 50 MiB chunked upload, in constant memory ---------------------------------
# (4 MiB under valgrind, where memory figures mean nothing: not checked.)
MIB=50
[ -n "${UNDER_VALGRIND:-}" ] && MIB=4
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$GW_PID/status"; }
n0=$(record_count)
got=$(timeout 120 python3 - "$GW_PORT" "$GW_PID" "$MIB" <<'PY'
import socket, sys, threading, time
port, pid, mib = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
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
s = socket.create_connection(("127.0.0.1", port), timeout=60)
s.sendall(b"POST /up HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n")
piece = bytes(range(256)) * 4096          # 1 MiB, sent as chunks of odd sizes
sizes = [1, 4093, 65536, 300000, 7, 678939]
for i in range(mib):
    off, k = 0, 0
    while off < len(piece):
        n = min(sizes[(i + k) % len(sizes)], len(piece) - off)
        s.sendall(b"%07X;i=%d\r\n" % (n, i) + piece[off:off + n] + b"\r\n")
        off += n
        k += 1
s.sendall(b"0\r\nX-Sum: 1\r\n\r\n")
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
wait_record $((n0 + 1))
want=$(python3 -c 'import sys, zlib; print("%08x" % zlib.crc32((bytes(range(256)) * 4096) * int(sys.argv[1])))' "$MIB")
expect_eq "$MIB MiB chunked upload to an action without body rules: the upstream's answer" 200 "$status"
expect_eq "it reached the upstream once, chunked, complete" "1 chunked True" \
    "$(( $(record_count) - n0 )) $(rec -1 'd["te"]') $(rec -1 'str(d["complete"])')"
expect_eq "with every byte (length)" $((MIB * 1048576)) "$(rec -1 'd["length"]')"
expect_eq "with every byte (CRC-32)" "$want" "$(rec -1 'd["crc32"]')"
expect_eq "in the gateway's framing only (no extension, zero, upper case or trailer)" \
    "False False False False" \
    "$(rec -1 'str(d["ext"])') $(rec -1 'str(d["zeros"])') $(rec -1 'str(d["upper"])') $(rec -1 'str(d["trailer"])')"
echo "# $MIB MiB chunked upload: $(rec -1 'd["chunks"]') chunks upstream; gateway RSS ${rss0} kB before, peak ${peak} kB"
[ -z "${UNDER_VALGRIND:-}" ] &&
    check "the gateway's resident memory grew by less than 8 MiB" test $((peak - rss0)) -lt 8192

# --- over the action's limit -------------------------------------------------------
# /small takes 1000 bytes: 600, then a chunk of 600 more. The first is
# forwarded, the second is refused at its size line: none of it crosses.
n0=$(record_count)
B600=$(head -c 600 /dev/zero | tr '\0' s)
expect_eq "/small: 600 + 600 bytes chunked: 413, closed" "413 closed" \
    "$(raw --all --delay 200 "POST /small HTTP/1.1\\r\\n$H$TE\\r\\n258\\r\\n$B600\\r\\n" "258\\r\\n$B600\\r\\n0\\r\\n\\r\\n")"
wait_record $((n0 + 1))
expect_eq "... the upstream got 600 bytes and the connection ended mid-body" "600 False" \
    "$(rec -1 'd["length"]') $(rec -1 'str(d["complete"])')"
c_small=$(rec -1 'd["conn"]')
expect_eq "/small: exactly 1000 bytes chunked pass" "200 timeout" \
    "$(raw --all "POST /small HTTP/1.1\\r\\n$H$TE\\r\\n258\\r\\n$B600\\r\\n190\\r\\n${B600:0:400}\\r\\n0\\r\\n\\r\\n")"
wait_record $((n0 + 2))
expect_eq "... whole, on another upstream connection than the cut one" "1000 True yes" \
    "$(rec -1 'd["length"]') $(rec -1 'str(d["complete"])') $([ "$(rec -1 'd["conn"]')" != "$c_small" ] && echo yes)"

# --- the upstream answers before the body is all there -----------------------------
# It answers 200 keep-alive on the head and reads on. The client's body is
# made of requests; the gateway must end that connection (never give it to
# the next request, which would go out behind the rest of the body).
n0=$(record_count)
got=$(timeout 30 python3 - "$GW_PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /early HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n")
smuggled = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
got, closed = b"", False
s.setblocking(False)
t0 = time.monotonic()
while time.monotonic() - t0 < 5 and not closed:
    try:
        s.send(b"%x\r\n" % len(smuggled) + smuggled + b"\r\n")
    except OSError:
        pass
    try:
        c = s.recv(65536)
        if not c:
            closed = True
        got += c
    except BlockingIOError:
        time.sleep(0.05)
    except OSError:
        closed = True
print(got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "none",
      "closed" if closed else "open")
PY
)
expect_eq "early answer during a streamed chunked body: passed on, the client's connection closed" \
    "200 closed" "$got"
wait_record $((n0 + 1))
expect_eq "... the upstream's connection ended in the middle of that body" "/early False" \
    "$(rec -1 'd["path"]') $(rec -1 'str(d["complete"])')"
c_early=$(rec -1 'd["conn"]')
expect_eq "the next request is served" "200 timeout" "$(raw --all "$NEXT")"
wait_record $((n0 + 2))
expect_eq "... on another upstream connection, and nothing smuggled reached the upstream" \
    "yes $((n0 + 2))" "$([ "$(rec -1 'd["conn"]')" != "$c_early" ] && echo yes) $(record_count)"

# --- the client goes away in the middle of the body --------------------------------
n0=$(record_count)
timeout 10 python3 - "$GW_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /gone HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
          b"400\r\n" + b"g" * 1024 + b"\r\n200\r\n" + b"h" * 100)
time.sleep(0.3)
s.close()
PY
wait_record $((n0 + 1))
expect_eq "client gone mid-body: the upstream's connection ended mid-body, data so far only" \
    "/gone False 1124" "$(rec -1 'd["path"]') $(rec -1 'str(d["complete"])') $(rec -1 'd["length"]')"
c_gone=$(rec -1 'd["conn"]')
sleep 0.2
check "... logged as client_closed (499)" \
    grep -q '"path":"/gone".*"reason":"client_closed".*"status":499\|"status":499.*"path":"/gone"' "$T/access.log"
expect_eq "the next request is served" "200 timeout" "$(raw --all "$NEXT")"
wait_record $((n0 + 2))
check "... on another upstream connection" test "$(rec -1 'd["conn"]')" != "$c_gone"

# --- a body that trickles ----------------------------------------------------------
# One 1-byte chunk every 100 ms (about 60 B/s with the framing, under the
# default 1024 B/s): 408 after the first second of grace, and the upstream
# connection ends in the middle of the body.
n0=$(record_count)
got=$(timeout 20 python3 "$top_srcdir/tests/integration/trickle_body.py" "$GW_PORT" 8 \
    "POST /up HTTP/1.1\\r\\nHost: gw\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n" "1;pad=xx\\r\\nz\\r\\n")
expect_eq "chunked body trickled at 10 chunks/s: 408" 408 "${got% *}"
wait_record $((n0 + 1))
expect_eq "... the upstream got the bytes so far and the connection ended mid-body" \
    "/up False yes" "$(rec -1 'd["path"]') $(rec -1 'str(d["complete"])') $([ "$(rec -1 'd["length"]')" -le "${got#* }" ] && echo yes)"

# --- a body a rule reads is held whole --------------------------------------------
n0=$(record_count)
expect_eq "chunked body to an action with a schema: checked whole, forwarded" "200 timeout" \
    "$(raw --all "POST /named HTTP/1.1\\r\\n${H}Content-Type: application/json\\r\\n$TE\\r\\n3;x\\r\\n{\"n\\r\\nb\\r\\name\":\"abc\"}\\r\\n0\\r\\n\\r\\n")"
wait_record $((n0 + 1))
expect_eq "... with a Content-Length, not chunked" "14 None 14" \
    "$(rec -1 'd["cl"]') $(rec -1 'str(d["te"])') $(rec -1 'd["length"]')"
expect_eq "chunked body failing the schema: 400, nothing forwarded" "400 0" \
    "$(raw "POST /named HTTP/1.1\\r\\n${H}Content-Type: application/json\\r\\n$TE\\r\\n9\\r\\n{\"name\":1\\r\\n1\\r\\n}\\r\\n0\\r\\n\\r\\n") $(( $(record_count) - n0 - 1 ))"

check "the gateway is still running" kill -0 "$GW_PID"
finish
