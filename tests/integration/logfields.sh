#!/usr/bin/env bash
# The access log's operator fields through the real daemon: query (with the
# values of secret parameters redacted in every spelling, the default list
# and a configured one, while the upstream still gets the query as sent),
# host, user_agent, http_version, upstream_addr, upstream_latency_us, and
# on a TLS listener tls_version, tls_cipher and sni.
. "$(dirname "$0")/lib.sh"

PKI="$T/pki"
# The access log's last line, in its own file (last_line has one for all).
last_log() {
	tail -n 1 "$T/access.log" > "$T/log-last.json"
	echo "$T/log-last.json"
}
copy_tls_pki

start_upstream up
GW_PORT=$(free_port)
TLS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
cat > "$T/gw.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT },
                 { "address": "127.0.0.1", "port": $TLS_PORT,
    "tls": { "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
             "client_auth": "optional", "client_ca": "pki/client-ca.pem" } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "log": { "access": "$T/access.log" },
  "admin": { "address": "127.0.0.1", "port": $ADMIN_PORT }
}
EOT
start_gateway "$T/gw.json"
wait_port "$TLS_PORT"

# The default list, attacked with other spellings of its names.
Q='a=1&token=SECRET1&%74oKEN=SECRET2&Access_Token[]=SECRET3&x;password=SECRET4;y&KEY=SECRET5&b=2'
code=$(curl -g -s -o /dev/null -w '%{http_code}' -A 'probe/1.0 (test)' \
    "http://127.0.0.1:$GW_PORT/__test/echo/q?$Q")
expect_eq "request with secrets in the query" 200 "$code"
sleep 0.2
L=$(last_log)
expect_eq "query logged, secret values redacted" \
    'a=1&token=REDACTED&%74oKEN=REDACTED&Access_Token[]=REDACTED&x;password=REDACTED&KEY=REDACTED&b=2' \
    "$(json_get "$L" 'd["query"]')"
check "no secret value anywhere in the log" sh -c "! grep -q SECRET '$T/access.log'"
rec=$(last_line "$RECORD")
expect_eq "the upstream got the query as sent" "/__test/echo/q?$Q" "$(json_get "$rec" 'd["uri"]')"
expect_eq "path without the query" "/__test/echo/q" "$(json_get "$L" 'd["path"]')"
expect_eq "host" "127.0.0.1:$GW_PORT" "$(json_get "$L" 'd["host"]')"
expect_eq "user_agent" "probe/1.0 (test)" "$(json_get "$L" 'd["user_agent"]')"
expect_eq "http_version" "1.1" "$(json_get "$L" 'd["http_version"]')"
expect_eq "upstream_addr" "127.0.0.1:$UP_PORT" "$(json_get "$L" 'd["upstream_addr"]')"
check "upstream_latency_us is a number within latency_us" \
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); u=d["upstream_latency_us"]; sys.exit(0 if isinstance(u,int) and 0 <= u <= d["latency_us"] else 1)' "$L"
expect_eq "no TLS fields on a plain listener" "[]" \
    "$(json_get "$L" '[k for k in ("tls_version","tls_cipher","sni") if k in d]')"

# HTTP/1.0, no query, no User-Agent: those fields are absent, not empty.
python3 - "$GW_PORT" <<'PY' > /dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /__test/echo/ten HTTP/1.0\r\n\r\n")
while s.recv(4096):
    pass
PY
sleep 0.2
L=$(last_log)
expect_eq "HTTP/1.0 logged as such" "1.0" "$(json_get "$L" 'd["http_version"]')"
expect_eq "absent query, host and user agent are not logged" "[]" \
    "$(json_get "$L" '[k for k in ("query","host","user_agent") if k in d]')"

# A refused request (a NUL in the target: 400, never forwarded) has no
# upstream fields, and its query is redacted all the same.
n=$(record_count)
expect_eq "refused request" 400 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/x?token=SECRET6&z=%00")"
sleep 0.2
expect_eq "refused: nothing reached the upstream" "$n" "$(record_count)"
L=$(last_log)
expect_eq "refused: query still redacted" "token=REDACTED&z=%00" "$(json_get "$L" 'd["query"]')"
check "refused: no secret in the log" sh -c "! grep -q SECRET '$T/access.log'"
expect_eq "refused: no upstream fields" "[]" \
    "$(json_get "$L" '[k for k in ("upstream_addr","upstream_latency_us") if k in d]')"

# TLS: version, cipher and the name the client asked for.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" --tlsv1.3 \
    --resolve "localhost:$TLS_PORT:127.0.0.1" "https://localhost:$TLS_PORT/__test/echo/tls")
expect_eq "TLS request" 200 "$code"
sleep 0.2
L=$(last_log)
expect_eq "tls_version" "TLSv1.3" "$(json_get "$L" 'd["tls_version"]')"
check "tls_cipher is a TLS 1.3 suite" grep -q '"tls_cipher":"TLS_' "$L"
expect_eq "sni" "localhost" "$(json_get "$L" 'd["sni"]')"

# /metrics through the official Prometheus client's parser: the served
# certificate's time to expiry, and a handshake the client refused (curl
# without the CA: it sends the "unknown CA" alert).
check "curl without the CA fails" sh -c \
    "! curl -s -o /dev/null --resolve localhost:$TLS_PORT:127.0.0.1 https://localhost:$TLS_PORT/"
sleep 0.2
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" > "$T/metrics.txt"
PYPROM=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import prometheus_client' 2>/dev/null; then PYPROM=$py; break; fi
done
end=$(date -d "$(openssl x509 -enddate -noout -in "$PKI/server-ec.pem" | cut -d= -f2)" +%s)
left=$((end - $(date +%s)))
ca_end=$(date -d "$(openssl x509 -enddate -noout -in "$PKI/client-ca.pem" | cut -d= -f2)" +%s)
ca_left=$((ca_end - $(date +%s)))
if [ -z "$PYPROM" ]; then
	not_ok "python3-prometheus-client is not installed (setup.sh installs it)"
else
	sel="listener=\"127.0.0.1:$TLS_PORT\",kind=\"server\",certificate=\"$T/pki/server-ec.pem\""
	if out=$("$PYPROM" "$top_srcdir/tests/integration/promcheck.py" "$T/metrics.txt" \
	    "scopegate_tls_certificate_expiry_seconds{$sel} >= $((left - 30))" \
	    "scopegate_tls_certificate_expiry_seconds{$sel} <= $((left + 30))" \
	    'scopegate_tls_certificate_expiry_seconds# == 2' \
	    "scopegate_tls_certificate_expiry_seconds{kind=\"client_ca\"} >= $((ca_left - 30))" \
	    "scopegate_tls_certificate_expiry_seconds{kind=\"client_ca\"} <= $((ca_left + 30))" \
	    'scopegate_tls_handshake_failures_total{from="client"} >= 1' 2>&1); then
		ok "metrics: certificate ($left s) and client CA ($ca_left s) expiry, the refused handshake"
	else
		not_ok "metrics: certificate expiry and TLS failures: $out"
	fi
fi

# A configured list replaces the default one (reload).
python3 - "$T/gw.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["log"]["redact_query"] = ["session"]
json.dump(c, open(sys.argv[1], "w"))
PY
check "reload with log.redact_query" reload_and_wait
curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/__test/echo/c?SESSION=S1&token=visible"
sleep 0.2
L=$(last_log)
expect_eq "configured list: only its names are redacted" "SESSION=REDACTED&token=visible" \
    "$(json_get "$L" 'd["query"]')"
# A bad list is a configuration error at its JSON pointer.
python3 - "$T/gw.json" "$T/bad.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["log"]["redact_query"] = ["ok", 7]
json.dump(c, open(sys.argv[2], "w"))
PY
"$SCOPEGATE" -t -c "$T/bad.json" 2> "$T/bad.err"
expect_eq "-t refuses a bad redact_query" 1 "$?"
check "error names the pointer" grep -q "bad.json: /log/redact_query/1: must be a string" "$T/bad.err"
finish
