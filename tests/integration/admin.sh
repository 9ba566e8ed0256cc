#!/usr/bin/env bash
# The admin listener cannot be driven by a web page or a rebinding name,
# each check by its attack through the real daemon: a Host that is not the
# admin address (evil.example: DNS rebinding; missing; two; wrong port),
# any Origin (a page in a browser), a mutating request that is not
# application/json (an HTML form, a text/plain simple request), and with
# admin.token_file a bearer secret on every request (missing, wrong,
# truncated, two). A refused POST /revocations revokes nothing: the token
# it names keeps working through the gateway; the accepted one revokes it.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
JTI=5f3333333333333333333333
start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# admin_config [TOKEN_FILE]
admin_config() {
	local tf=""
	[ -n "${1:-}" ] && tf=", \"token_file\": \"$1\""
	write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT$tf }"
}
admin_config
start_gateway "$T/gw.json"
A="http://127.0.0.1:$ADMIN_PORT"
U="http://127.0.0.1:$GW_PORT/applications/$APP/tokens"
TOK=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --jti "$JTI" \
    --scope applicationApiTokens.get)
gw() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$U"; }
# adm ARGS...: the status of an admin request (body in $T/a.json).
adm() { curl -s -o "$T/a.json" -D "$T/a.h" -w '%{http_code}' "$@"; }
revoked() { curl -s "$A/revocations" | grep -c "$JTI"; }
# raw HEAD: a request sent as written (Python socket), the status line.
raw() {
	python3 - "$ADMIN_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(5)
d = b""
try:
    while b"\r\n" not in d:
        c = s.recv(4096)
        if not c:
            break
        d += c
except OSError:
    pass
print(d.split(b"\r\n")[0].decode("latin-1").split(" ")[1] if d else "closed")
PY
}
POST=(-X POST -H 'Content-Type: application/json' -d "{\"id\":\"$JTI\"}")

expect_eq "the token works before anything" 200 "$(gw)"
expect_eq "baseline: GET /healthz with the address as Host" 200 "$(adm "$A/healthz")"
expect_eq "Host localhost:PORT" 200 "$(adm -H "Host: localhost:$ADMIN_PORT" "$A/healthz")"
expect_eq "Host LocalHost:PORT (case)" 200 "$(adm -H "Host: LocalHost:$ADMIN_PORT" "$A/healthz")"

# --- DNS rebinding: the page's own name in Host ------------------------------
expect_eq "rebinding: Host evil.example:PORT on /metrics is 421" 421 \
    "$(adm -H "Host: evil.example:$ADMIN_PORT" "$A/metrics")"
expect_eq "... in JSON" MisdirectedRequest "$(json_get "$T/a.json" 'd["type"]')"
expect_eq "... with its reason phrase" "HTTP/1.1 421 Misdirected Request" \
    "$(curl -s -i -H "Host: evil.example:$ADMIN_PORT" "$A/metrics" | head -n 1 | tr -d '\r')"
expect_eq "rebinding: POST /revocations with Host evil.example is 421" 421 \
    "$(adm "${POST[@]}" -H "Host: evil.example:$ADMIN_PORT" "$A/revocations")"
expect_eq "... revoked nothing" 0 "$(revoked)"
expect_eq "... the token still works through the gateway" 200 "$(gw)"
expect_eq "Host evil.example (no port)" 421 "$(adm -H "Host: evil.example" "$A/healthz")"
expect_eq "Host localhost without the port" 421 "$(adm -H "Host: localhost" "$A/healthz")"
expect_eq "Host with another port" 421 "$(adm -H "Host: 127.0.0.1:1$ADMIN_PORT" "$A/healthz")"
expect_eq "Host 127.0.0.1.evil.example:PORT" 421 \
    "$(adm -H "Host: 127.0.0.1.evil.example:$ADMIN_PORT" "$A/healthz")"
expect_eq "Host localhost.evil.example:PORT" 421 \
    "$(adm -H "Host: localhost.evil.example:$ADMIN_PORT" "$A/healthz")"
expect_eq "Host 127.0.0.1:PORT with a userinfo-like prefix" 421 \
    "$(adm -H "Host: evil@127.0.0.1:$ADMIN_PORT" "$A/healthz")"
expect_eq "no Host at all (HTTP/1.0)" 421 "$(raw 'GET /healthz HTTP/1.0\r\n\r\n')"
expect_eq "two Host fields, the first the admin's" 421 \
    "$(raw "GET /healthz HTTP/1.1\\r\\nHost: 127.0.0.1:$ADMIN_PORT\\r\\nHost: evil.example\\r\\n\\r\\n")"
expect_eq "two Host fields, the second the admin's" 421 \
    "$(raw "GET /healthz HTTP/1.1\\r\\nHost: evil.example\\r\\nHost: 127.0.0.1:$ADMIN_PORT\\r\\n\\r\\n")"

# --- a browser: any Origin ----------------------------------------------------
expect_eq "Origin of a page: 403" 403 "$(adm -H "Origin: http://evil.example" "$A/metrics")"
expect_eq "... in JSON" Forbidden "$(json_get "$T/a.json" 'd["type"]')"
expect_eq "Origin: null (sandboxed page)" 403 "$(adm -H "Origin: null" "$A/healthz")"
expect_eq "Origin naming the admin address itself" 403 \
    "$(adm -H "Origin: http://127.0.0.1:$ADMIN_PORT" "$A/healthz")"
expect_eq "origin: in lower case" 403 "$(raw "GET /healthz HTTP/1.1\\r\\nHost: 127.0.0.1:$ADMIN_PORT\\r\\norigin: x\\r\\n\\r\\n")"
expect_eq "POST /revocations from a page (Origin, JSON type)" 403 \
    "$(adm "${POST[@]}" -H "Origin: http://evil.example" "$A/revocations")"
expect_eq "... revoked nothing" 0 "$(revoked)"

# --- forms and simple requests: not application/json ---------------------------
for ct in 'text/plain' 'application/x-www-form-urlencoded' 'multipart/form-data; boundary=x' \
    'application/jsonp' 'text/plain; application/json'; do
	expect_eq "POST /revocations as $ct: 415" 415 \
	    "$(adm -X POST -H "Content-Type: $ct" -d "{\"id\":\"$JTI\"}" "$A/revocations")"
done
expect_eq "POST /revocations without Content-Type: 415" 415 \
    "$(adm -X POST -H 'Content-Type:' --data-binary "{\"id\":\"$JTI\"}" "$A/revocations")"
expect_eq "... revoked nothing" 0 "$(revoked)"
expect_eq "... the token still works through the gateway" 200 "$(gw)"
expect_eq "POST /revocations as application/json; charset=utf-8: 201" 201 \
    "$(adm -X POST -H 'Content-Type: application/json; charset=utf-8' -d "{\"id\":\"$JTI\"}" \
    "$A/revocations")"
expect_eq "... revoked" 1 "$(revoked)"
expect_eq "... the token is refused through the gateway" 401 "$(gw)"
expect_eq "DELETE /revocations/ID without Content-Type: 415" 415 \
    "$(adm -X DELETE "$A/revocations/$JTI")"
expect_eq "... still revoked" 1 "$(revoked)"
expect_eq "DELETE /revocations/ID as application/json: 204" 204 \
    "$(adm -X DELETE -H 'Content-Type: application/json' "$A/revocations/$JTI")"
expect_eq "... the token works again" 200 "$(gw)"

# --- admin.token_file ----------------------------------------------------------
SECRET=3f9a1c0e5b7d4a2e8c6f1b3d5e7a9c0e
printf '%s\n' "$SECRET" > "$T/admin.token"
chmod 644 "$T/admin.token"
admin_config "$T/admin.token"
"$SCOPEGATE" -t -c "$T/gw.json" > "$T/t.out" 2>&1
rc=$?
check "a token file readable by others is refused (exit $rc)" test "$rc" -ne 0
check "... naming the file and the fix" grep -q "admin.token: .*chmod 600" "$T/t.out"
printf 'short\n' > "$T/short.token"
chmod 600 "$T/short.token" "$T/admin.token"
admin_config "$T/short.token"
check "a token shorter than 16 bytes is refused" bash -c "! '$SCOPEGATE' -t -c '$T/gw.json' >/dev/null 2>&1"
admin_config "$T/admin.token"
check "reload with admin.token_file" reload_and_wait
AUTH=(-H "Authorization: Bearer $SECRET")
expect_eq "token set: /healthz without it is 401" 401 "$(adm "$A/healthz")"
check "... with WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' "$T/a.h"
expect_eq "... /metrics too" 401 "$(adm "$A/metrics")"
expect_eq "... GET /revocations too" 401 "$(adm "$A/revocations")"
expect_eq "a wrong token: 401" 401 "$(adm -H "Authorization: Bearer ${SECRET%?}x" "$A/healthz")"
expect_eq "the token minus its last byte: 401" 401 "$(adm -H "Authorization: Bearer ${SECRET%?}" "$A/healthz")"
expect_eq "the token plus a byte: 401" 401 "$(adm -H "Authorization: Bearer ${SECRET}0" "$A/healthz")"
expect_eq "the token as Basic: 401" 401 "$(adm -H "Authorization: Basic $SECRET" "$A/healthz")"
expect_eq "two Authorization fields (right, wrong): 401" 401 \
    "$(raw "GET /healthz HTTP/1.1\\r\\nHost: 127.0.0.1:$ADMIN_PORT\\r\\nAuthorization: Bearer $SECRET\\r\\nAuthorization: Bearer x\\r\\n\\r\\n")"
expect_eq "POST /revocations without the token: 401" 401 "$(adm "${POST[@]}" "$A/revocations")"
expect_eq "... revoked nothing" 0 "$(curl -s "${AUTH[@]}" "$A/revocations" | grep -c "$JTI")"
expect_eq "the right token: /healthz 200" 200 "$(adm "${AUTH[@]}" "$A/healthz")"
expect_eq "... scheme in lower case" 200 "$(adm -H "Authorization: bearer $SECRET" "$A/metrics")"
expect_eq "... and the other checks still apply (Origin)" 403 \
    "$(adm "${AUTH[@]}" -H "Origin: null" "$A/healthz")"
expect_eq "... (Host)" 421 "$(adm "${AUTH[@]}" -H "Host: evil.example:$ADMIN_PORT" "$A/healthz")"
expect_eq "POST /revocations with the token: 201" 201 "$(adm "${AUTH[@]}" "${POST[@]}" "$A/revocations")"
expect_eq "... the token is refused through the gateway" 401 "$(gw)"
# A new secret on reload: the old one stops working.
printf '%s\n' "new-secret-0123456789abcdef" > "$T/admin.token"
check "reload with a new secret" reload_and_wait
expect_eq "the old secret after the reload: 401" 401 "$(adm "${AUTH[@]}" "$A/healthz")"
expect_eq "the new secret: 200" 200 \
    "$(adm -H "Authorization: Bearer new-secret-0123456789abcdef" "$A/healthz")"
check "the secret never reaches the log" bash -c "! grep -q -e '$SECRET' -e new-secret '$T/gateway.err' '$T/access.log'"
check "the gateway is still running" kill -0 "$GW_PID"
finish
