#!/usr/bin/env bash
# HEAD is allowed wherever GET is, as GET's action with GET's scopes, unless
# the policy gives HEAD an action of its own on that path; the upstream's
# answer comes back without a body. Through the daemon: allowed, denied by
# scope, without a token, 405 where GET is not allowed, no body (a pipelined
# request after a HEAD is answered as itself), and explain agrees with the
# daemon on each.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
RAWHTTP="$top_srcdir/tests/integration/rawhttp.py"
start_upstream up
GW_PORT=$(free_port)
cat > "$T/policy.json" <<'EOT'
{ "actions": [
  { "action": "thing.get", "method": "GET", "path": "/__test/echo/things/{id}",
    "scopes": ["things.read"], "params": { "id": "string" } },
  { "action": "thing.probe", "method": "HEAD", "path": "/__test/echo/things/{id}",
    "scopes": ["things.probe"], "params": { "id": "string" } },
  { "action": "doc.get", "method": "GET", "path": "/__test/echo/docs/{id}",
    "scopes": ["docs.read"], "params": { "id": "string" } },
  { "action": "doc.create", "method": "POST", "path": "/__test/echo/docs",
    "scopes": ["docs.write"] }
] }
EOT
write_config "$T/gw.json" "\"policy\": \"$T/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] }"
start_gateway "$T/gw.json"
G="http://127.0.0.1:$GW_PORT"
mint() {
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --scope "$1"
}
DOCS=$(mint docs.read)
THINGS=$(mint things.read)
PROBE=$(mint things.probe)
WRITE=$(mint docs.write)

# head_case DESC WANT_STATUS WANT_FORWARDED TOKEN PATH: curl -I, the
# status, what reached the upstream, and explain's verdict for the same.
head_case() {
	local desc=$1 want=$2 fwd=$3 tok=$4 path=$5 n0 code auth=() ex=(--no-token)
	n0=$(record_count)
	[ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok") && ex=(--token "$tok")
	code=$(curl -s -I -o "$T/h.txt" -w '%{http_code}' "${auth[@]}" "$G$path")
	expect_eq "$desc: status" "$want" "$code"
	expect_eq "$desc: forwarded" "$fwd" "$(( $(record_count) - n0 ))"
	"$SCOPEGATE" explain -c "$T/gw.json" HEAD "$path" "${ex[@]}" > "$T/ex.json" 2>/dev/null
	expect_eq "$desc: explain agrees" "$want" "$(json_get "$T/ex.json" 'd["status"]')"
}
head_case "HEAD where GET is allowed, GET's scope" 200 1 "$DOCS" /__test/echo/docs/d1
expect_eq "the upstream got HEAD, not GET" HEAD "$(json_get "$(last_line "$RECORD")" 'd["method"]')"
expect_eq "the access log names GET's action" doc.get \
    "$(json_get "$(last_line "$T/access.log")" 'd["action"]')"
expect_eq "the upstream's head is passed on" 1 \
    "$(grep -ci '^content-type: application/json' "$T/h.txt")"
"$SCOPEGATE" explain -c "$T/gw.json" HEAD /__test/echo/docs/d1 --scopes docs.read > "$T/ex.json"
expect_eq "explain: HEAD is GET's action" doc.get "$(json_get "$T/ex.json" 'd["action"]')"
head_case "HEAD with another action's scope" 403 0 "$WRITE" /__test/echo/docs/d1
head_case "HEAD without a token" 401 0 "" /__test/echo/docs/d1
check "HEAD without a token: WWW-Authenticate" grep -qi '^WWW-Authenticate: Bearer realm=' "$T/h.txt"
head_case "HEAD where only POST is allowed" 405 0 "$WRITE" /__test/echo/docs
expect_eq "405 Allow names only POST" "POST" "$(sed -n 's/^Allow: *//Ip' "$T/h.txt" | tr -d '\r')"
code=$(curl -s -o /dev/null -D "$T/h.txt" -w '%{http_code}' -X PUT -H "Authorization: Bearer $DOCS" \
    "$G/__test/echo/docs/d1")
expect_eq "PUT where GET is: 405" 405 "$code"
expect_eq "405 Allow names HEAD with GET" "GET, HEAD" "$(sed -n 's/^Allow: *//Ip' "$T/h.txt" | tr -d '\r')"

# The policy's own HEAD action wins: GET's scope does not open it.
head_case "HEAD with its own action, GET's scope only" 403 0 "$THINGS" /__test/echo/things/t1
head_case "HEAD with its own action and scope" 200 1 "$PROBE" /__test/echo/things/t1
expect_eq "the access log names HEAD's own action" thing.probe \
    "$(json_get "$(last_line "$T/access.log")" 'd["action"]')"
expect_eq "GET there still needs GET's scope" 403 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PROBE" "$G/__test/echo/things/t1")"

# No body after a HEAD answer, allowed or refused: one would be read as the
# answer to the request pipelined behind it.
GET1="GET /__test/echo/docs/d2 HTTP/1.1\\r\\nHost: gw\\r\\nAuthorization: Bearer $DOCS\\r\\n\\r\\n"
n0=$(record_count)
got=$(timeout 60 python3 "$RAWHTTP" --port "$GW_PORT" --all --head --out "$T/raw.out" \
    "HEAD /__test/echo/docs/d1 HTTP/1.1\\r\\nHost: gw\\r\\nAuthorization: Bearer $DOCS\\r\\n\\r\\n$GET1")
expect_eq "allowed HEAD then a pipelined GET: two answers, in order" "200 200 timeout" "$got"
expect_eq "both reached the upstream" 2 "$(( $(record_count) - n0 ))"
expect_eq "exactly one body came back (the GET's)" 1 "$(grep -c '"method":"GET"' "$T/raw.out")"
got=$(timeout 60 python3 "$RAWHTTP" --port "$GW_PORT" --all --head \
    "HEAD /__test/echo/docs/d1 HTTP/1.1\\r\\nHost: gw\\r\\nAuthorization: Bearer $WRITE\\r\\n\\r\\n$GET1")
expect_eq "refused HEAD then a pipelined GET: two answers, in order" "403 200 timeout" "$got"

finish
