#!/bin/bash
# Smoke test of examples/example-upstream: starts it on a free port, hits
# every endpoint with curl, checks the answers, the record file, a 50 MB
# streamed body (content and memory use) and the pacing of SSE events.
# Needs bash, curl, python3 and timeout. Exit 0 on success, 1 on failure.
set -u

UPSTREAM="${top_builddir:-.}/examples/example-upstream"
if [ ! -x "$UPSTREAM" ]; then
	echo "example_upstream: $UPSTREAM not built" >&2
	exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/example_upstream.XXXXXX") || exit 1
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null
		sleep 0.2
		kill -KILL "$PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

FAILS=0
CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok - $1"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL - $1"; }
# check NAME CMD...: run CMD, ok when it exits 0.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name"; fi
}

# pyjson FILE EXPR: evaluate the Python expression EXPR with j = the JSON
# in FILE; exit status 0 when it is true.
pyjson() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
' "$1" "$2"
}

C="timeout 20 curl -s -S"

# In a sanitizer build, ASan's quarantine keeps every freed chunk resident
# (256 MB by default), which would hide what the memory check below looks
# for; a small quarantine keeps use-after-free detection.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" \
"$UPSTREAM" --listen 127.0.0.1:0 --port-file "$TMP/port" \
	--record "$TMP/record.jsonl" --quiet 2>"$TMP/stderr" &
PID=$!
for _ in $(seq 100); do
	[ -s "$TMP/port" ] && break
	sleep 0.1
done
PORT=$(cat "$TMP/port" 2>/dev/null)
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || [ "$PORT" -eq 0 ]; then
	echo "example_upstream: no port file" >&2
	cat "$TMP/stderr" >&2
	exit 1
fi
ok "listening on port $PORT (port file)"
U="http://127.0.0.1:$PORT"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
T="$U/applications/$APP/tokens"

# --- API token resource -------------------------------------------------
code=$($C -o "$TMP/list.json" -D "$TMP/list.hdr" -w '%{http_code}' "$T")
check "list tokens 200" [ "$code" = 200 ]
check "list has Content-Type json" grep -qi '^Content-Type: application/json' "$TMP/list.hdr"
check "list has the two seed tokens" pyjson "$TMP/list.json" \
	'j["count"] == 2 and j["totalCount"] == 2 and j["applicationId"] == "'$APP'" and
	 sorted(t["id"] for t in j["items"]) == ["5f1111111111111111111111", "5f2222222222222222222222"] and
	 all(t["apiTokenId"] == t["id"] and t["status"] == "active" and "token" not in t for t in j["items"])'

code=$($C -o "$TMP/one.json" -w '%{http_code}' "$T/5f2222222222222222222222")
check "get seed token" [ "$code" = 200 ]
check "seed token shape" pyjson "$TMP/one.json" \
	'j["id"] == "5f2222222222222222222222" and j["ownerId"] == "'$APP'" and j["ownerType"] == "application" and isinstance(j["scope"], list)'

code=$($C -o "$TMP/new.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	--data '{"name":"smoke","description":"d","scope":["all.Application.read"],"expirationDate":"2031-01-01T00:00:00.000Z"}' "$T")
check "create token 201" [ "$code" = 201 ]
check "created token shape" pyjson "$TMP/new.json" \
	'__import__("re").fullmatch("[0-9a-f]{24}", j["id"]) is not None and j["apiTokenId"] == j["id"] and
	 j["status"] == "active" and j["name"] == "smoke" and j["scope"] == ["all.Application.read"] and
	 len(j["token"]) > 0 and "creationDate" in j'
NEW=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMP/new.json" 2>/dev/null)

code=$($C -o "$TMP/list2.json" -w '%{http_code}' "$T?sortField=name&sortDirection=desc&perPage=2&page=0")
check "list after create: 3 total, page of 2, sorted desc" pyjson "$TMP/list2.json" \
	'j["totalCount"] == 3 and j["count"] == 2 and [t["name"] for t in j["items"]] == ["smoke", "Demo Token Two"]'

code=$($C -o "$TMP/patch.json" -w '%{http_code}' -X PATCH --data '{"status":"inactive","name":"renamed"}' "$T/$NEW")
check "patch token 200, status inactive" pyjson "$TMP/patch.json" \
	'j["status"] == "inactive" and j["name"] == "renamed" and j["id"] == "'"$NEW"'"'
code=$($C -o "$TMP/get.json" -w '%{http_code}' "$T/$NEW")
check "patched state persists" pyjson "$TMP/get.json" 'j["status"] == "inactive"'

code=$($C -o "$TMP/del.json" -w '%{http_code}' -X DELETE "$T/$NEW")
check "delete token 200 success" pyjson "$TMP/del.json" 'j == {"success": True}'
code=$($C -o "$TMP/gone.json" -w '%{http_code}' "$T/$NEW")
check "deleted token 404" [ "$code" = 404 ]
check "404 error shape" pyjson "$TMP/gone.json" 'j["type"] == "NotFound" and isinstance(j["message"], str)'

code=$($C -o "$TMP/bad.json" -w '%{http_code}' -X POST --data 'not json' "$T")
check "non-JSON body 400" [ "$code" = 400 ]
check "400 Validation shape" pyjson "$TMP/bad.json" 'j["type"] == "Validation"'
code=$($C -o "$TMP/bad2.json" -w '%{http_code}' -X POST --data '{"name":"x","admin":true}' "$T")
check "unknown property 400" [ "$code" = 400 ]
code=$($C -o /dev/null -w '%{http_code}' -X PUT "$T")
check "PUT on collection 405" [ "$code" = 405 ]
code=$($C -o "$TMP/nf.json" -D "$TMP/nf.hdr" -w '%{http_code}' "$U/no/such/path")
check "unknown path 404" [ "$code" = 404 ]
check "unknown path error shape, json" pyjson "$TMP/nf.json" 'j["type"] == "NotFound"'
check "unknown path Content-Type json" grep -qi '^Content-Type: application/json' "$TMP/nf.hdr"

# --- /__test/echo ---------------------------------------------------------
$C -o "$TMP/echo.json" -X POST -H 'X-Dup: one' -H 'X-Dup: two' -H 'X-Marker: rec-check' \
	--data-binary 'hello body' "$U/__test/echo/a%2Fb/c?x=%41&y=1&y=2" >/dev/null
check "echo method, raw uri, body" pyjson "$TMP/echo.json" \
	'j["method"] == "POST" and j["uri"] == "/__test/echo/a%2Fb/c?x=%41&y=1&y=2" and
	 j["body"] == "hello body" and j["body_length"] == 10 and isinstance(j["conn"], int)'
check "echo headers in received order" pyjson "$TMP/echo.json" \
	'[h for h in j["headers"] if h[0] == "X-Dup"] == [["X-Dup", "one"], ["X-Dup", "two"]] and
	 [h[0] for h in j["headers"]].index("X-Dup") < [h[0] for h in j["headers"]].index("X-Marker")'
$C -o "$TMP/echo2.json" "$U/__test/echo" -o "$TMP/echo3.json" "$U/__test/echo"
$C -o "$TMP/echo4.json" "$U/__test/echo"
check "keep-alive requests share a conn serial, new connection gets a new one" python3 -c '
import json, sys
a, b, c = (json.load(open(f))["conn"] for f in sys.argv[1:4])
sys.exit(0 if a == b and c != a else 1)' "$TMP/echo2.json" "$TMP/echo3.json" "$TMP/echo4.json"

# --- status, slow ---------------------------------------------------------
code=$($C -o "$TMP/st.json" -w '%{http_code}' "$U/__test/status?code=418")
check "status?code=418" [ "$code" = 418 ]
check "status body error-shaped" pyjson "$TMP/st.json" '"type" in j and "message" in j'
t=$($C -o "$TMP/slow.json" -w '%{time_total}' "$U/__test/slow?ms=300")
check "slow waits 300 ms" python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.29 else 1)' "$t"
check "slow body" pyjson "$TMP/slow.json" 'j == {"slow": 300}'

# --- stats: precise connection and request counts ---------------------------
$C -o /dev/null -X POST "$U/__test/reset-stats"
$C -o /dev/null "$U/__test/echo/1"
$C -o /dev/null "$U/__test/echo/2"
$C -o /dev/null "$U/__test/echo/3" -o /dev/null "$U/__test/echo/4"
$C -o "$TMP/stats.json" "$U/__test/stats"
# 3 curl connections + the stats one; 4 requests (stats is not counted).
check "stats counts connections and requests" pyjson "$TMP/stats.json" \
	'j == {"connections": 4, "requests": 4}'
$C -o "$TMP/stats2.json" "$U/__test/stats"
check "stats requests are not counted" pyjson "$TMP/stats2.json" \
	'j == {"connections": 5, "requests": 4}'

# --- /__test/big: 50 MB streamed, exact content, small memory ----------------
cat >"$TMP/pattern.py" <<'EOF'
import sys
want = int(sys.argv[1])
unit = bytes(range(ord("a"), ord("a") + 26))
pat = unit * (65536 // 26 + 2)
inp = sys.stdin.buffer
off = 0
while True:
    blk = inp.read(65536)
    if not blk:
        break
    s = off % 26
    if blk != pat[s:s + len(blk)]:
        print("pattern mismatch near offset %d" % off)
        sys.exit(1)
    off += len(blk)
if off != want:
    print("got %d bytes, want %d" % (off, want))
    sys.exit(1)
EOF
rss_kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
rss_before=$(rss_kb "$PID" VmRSS)
timeout 120 curl -s -S -D "$TMP/big.hdr" "$U/__test/big?bytes=50000000" | python3 "$TMP/pattern.py" 50000000
check "big: 50000000 bytes with the a..z pattern" [ "${PIPESTATUS[1]}" = 0 ]
check "big: chunked" grep -qi '^Transfer-Encoding: chunked' "$TMP/big.hdr"
check "big: not application/json" grep -qi '^Content-Type: application/octet-stream' "$TMP/big.hdr"
hwm=$(rss_kb "$PID" VmHWM)
echo "# RSS before ${rss_before} kB, peak after ${hwm} kB"
check "big: upstream peak RSS grew < 30 MB" [ $((hwm - rss_before)) -lt 30720 ]
timeout 60 curl -s -S --limit-rate 20M -D "$TMP/bigcl.hdr" "$U/__test/bigcl?bytes=3000001&chunk=1000" |
	python3 "$TMP/pattern.py" 3000001
check "bigcl: 3000001 bytes with the pattern" [ "${PIPESTATUS[1]}" = 0 ]
check "bigcl: Content-Length" grep -qi '^Content-Length: 3000001' "$TMP/bigcl.hdr"
check "bigcl: not chunked" bash -c "! grep -qi '^Transfer-Encoding' '$TMP/bigcl.hdr'"
code=$($C -o /dev/null -w '%{http_code}' "$U/__test/big")
check "big without bytes is 400" [ "$code" = 400 ]

# --- /__test/sse: events arrive one by one, spaced in time -----------------
# python starts curl itself so that its clock is running before the request.
timeout 20 python3 -c '
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(["curl", "-s", "-S", "-N", "-D", sys.argv[1], sys.argv[2]],
                     stdout=subprocess.PIPE)
got = []
for line in p.stdout:
    if line.startswith(b"data: "):
        got.append((time.monotonic() - t0, line.strip().decode()))
p.wait()
want = ["data: event %d" % i for i in range(1, 5)]
if [g[1] for g in got] != want:
    print("events:", got); sys.exit(1)
gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
print("# sse gaps: " + ", ".join("%.3f" % g for g in gaps))
# Event k is sent (k-1)*300 ms after the request, which began after t0, so
# it cannot arrive earlier; and they must not all arrive together at the end.
paced = all(t >= k * 0.3 - 0.01 for k, (t, _) in enumerate(got))
spread = got[-1][0] - got[0][0] >= 0.45
sys.exit(0 if paced and spread and p.returncode == 0 else 1)
' "$TMP/sse.hdr" "$U/__test/sse?events=4&interval_ms=300"
check "sse: 4 events, paced 300 ms apart" [ $? = 0 ]
check "sse: text/event-stream" grep -qi '^Content-Type: text/event-stream' "$TMP/sse.hdr"

# --- a client that goes away mid-stream does not hurt ----------------------
timeout 2 curl -s "$U/__test/big?bytes=1000000000" | head -c 100000 >/dev/null
timeout 0.3 curl -s "$U/__test/slow?ms=2000" >/dev/null
code=$($C -o /dev/null -w '%{http_code}' "$U/__test/echo")
check "still serving after aborted clients" [ "$code" = 200 ]

# --- record file ------------------------------------------------------------
check "record: one JSON line per request, stats excluded, echo recorded exactly" python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert all(set(r) >= {"method", "uri", "headers", "body", "conn"} for r in recs)
assert not any(r["uri"].startswith("/__test/stats") for r in recs)
m = [r for r in recs if ["X-Marker", "rec-check"] in r["headers"]]
assert len(m) == 1, m
r = m[0]
assert r["method"] == "POST" and r["uri"] == "/__test/echo/a%2Fb/c?x=%41&y=1&y=2"
assert r["body"] == "hello body"
assert [h for h in r["headers"] if h[0] == "X-Dup"] == [["X-Dup", "one"], ["X-Dup", "two"]]
assert recs[0]["uri"] == "/applications/'$APP'/tokens" and recs[0]["method"] == "GET"
assert any(r["method"] == "DELETE" for r in recs)
' "$TMP/record.jsonl"

# --- clean exit on SIGTERM --------------------------------------------------
kill -TERM "$PID"
if ! timeout 10 tail --pid="$PID" -f /dev/null; then
	echo "# still running 10 s after SIGTERM" >&2
	kill -KILL "$PID"
fi
wait "$PID"
rc=$?
PID=
check "exit status 0 on SIGTERM" [ "$rc" = 0 ]

echo "# $CHECKS checks, $FAILS failed"
[ "$FAILS" = 0 ]
