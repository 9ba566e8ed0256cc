#!/usr/bin/env bash
# TLS through the real gateway: an HTTPS listener (RSA and ECDSA side by
# side) in front of the example upstream, checked with curl --cacert and
# openssl s_client (versions, ALPN, resumption, what reached the upstream),
# and an https upstream (tests/tls_echo_server with a certificate for
# upstream.test) verified by CA and name; a wrong name is a 502 with the
# reason in the log; requests pipelined over TLS keep the connection read.
. "$(dirname "$0")/lib.sh"

ECHO="$top_builddir/tests/tls_echo_server"
PKI="$T/pki"
copy_tls_pki

start_upstream up
GW_PORT=$(free_port)
cat > "$T/gw.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT,
    "tls": { "certificates": [ { "cert": "pki/server-rsa.pem", "key": "pki/server-rsa.key" },
                               { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ] } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "log": { "access": "$T/access.log" }
}
EOT
start_gateway "$T/gw.json"
G="https://localhost:$GW_PORT"

code=$(curl -s -o "$T/r.json" -w '%{http_code} %{http_version}' --cacert "$PKI/ca.pem" \
    --resolve "localhost:$GW_PORT:127.0.0.1" "$G/__test/echo/tls?q=1")
expect_eq "curl --cacert through the TLS listener" "200 1.1" "$code"
rec=$(last_line "$RECORD")
expect_eq "X-Forwarded-Proto https reaches the upstream" '["https"]' \
    "$(json_get "$rec" '[v for k,v in d["headers"] if k.lower()=="x-forwarded-proto"]')"
expect_eq "path and query forwarded" "/__test/echo/tls?q=1" "$(json_get "$rec" 'd["uri"]')"
check "curl without the CA is refused" bash -c "! curl -s -o /dev/null --resolve localhost:$GW_PORT:127.0.0.1 $G/__test/echo/x"

sclient() {
	printf 'GET /__test/echo/s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
	    timeout 10 openssl s_client -connect "127.0.0.1:$GW_PORT" -servername localhost \
	    -ign_eof -CAfile "$PKI/ca.pem" "$@" 2>&1
}
out=$(sclient -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
check "TLS 1.1 refused" bash -c "! grep -q '^HTTP/1.1 200' <<<\"\$1\"" _ "$out"
out=$(sclient -tls1_2)
check "TLS 1.2 accepted" grep -q '^HTTP/1.1 200' <<<"$out"
out=$(sclient -tls1_3 -alpn http/1.1)
check "TLS 1.3 accepted" grep -q '^HTTP/1.1 200' <<<"$out"
check "ALPN http/1.1" grep -q 'ALPN protocol: http/1.1' <<<"$out"
out=$(sclient -tls1_2 -sigalgs ECDSA+SHA256 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)
check "ECDSA certificate for an ECDSA-only client" grep -q 'Peer signature type: ECDSA' <<<"$out"
out=$(sclient -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)
check "RSA certificate for an RSA-only client" grep -qi 'Peer signature type: RSA' <<<"$out"
sclient -tls1_2 -sess_out "$T/sess" >/dev/null
out=$(sclient -tls1_2 -sess_in "$T/sess")
check "TLS 1.2 session resumed" grep -q '^Reused' <<<"$out"

# A request pipelined over TLS while the first is served, then a third on
# the same connection: the guard hands the pipelined head to evhttp after
# the first answer, and once left the TLS input frozen (a socket
# bufferevent keeps its own frozen, OpenSSL's does not): the connection was
# never read again (the third request unanswered until header_timeout_ms)
# and its readable socket woke the worker at every pass (100% CPU).
tls_ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
t0=$(tls_ticks)
python3 - "$GW_PORT" "$PKI/ca.pem" > "$T/tls-pipe.out" <<'PY'
import re, socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="localhost")
s.sendall(b"GET /__test/slow?ms=300 HTTP/1.1\r\nHost: localhost\r\n\r\n")
time.sleep(0.1)
s.sendall(b"GET /__test/echo/second HTTP/1.1\r\nHost: localhost\r\n\r\n")
s.settimeout(5)
b = b""
while len(re.findall(rb"HTTP/1\.1 200", b)) < 2 or not b.endswith(b"}"):
    d = s.recv(65536)
    if not d:
        break
    b += d
t = time.time()
s.sendall(b"GET /__test/echo/third HTTP/1.1\r\nHost: localhost\r\n\r\n")
c = b""
try:
    while not c.endswith(b"}"):
        d = s.recv(65536)
        if not d:
            break
        c += d
except socket.timeout:
    pass
print(len(re.findall(rb"HTTP/1\.1 200", b)), c[:15].decode(errors="replace"),
      "fast" if time.time() - t < 2 else "slow")
PY
t1=$(tls_ticks)
expect_eq "TLS: pipelined request answered, then a third on the same connection at once" \
    "2 HTTP/1.1 200 OK fast" "$(cat "$T/tls-pipe.out")"
if [ -z "${UNDER_VALGRIND:-}" ]; then
	check "TLS: the worker did not spin meanwhile ($((t1 - t0)) ticks of CPU)" [ $((t1 - t0)) -lt 30 ]
fi

# A client that half-closes its TCP side (no close_notify) while its
# request is served: the socket stays in the worker's epoll set meanwhile
# (worker.c client_watch_cb), readable at its end of stream, which must
# not wake the worker at every pass; the answer still goes out.
t0=$(tls_ticks)
python3 - "$GW_PORT" "$PKI/ca.pem" > "$T/tls-half.out" <<'PY'
import re, socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="localhost")
s.sendall(b"GET /__test/slow?ms=600 HTTP/1.1\r\nHost: localhost\r\n\r\n")
time.sleep(0.1)
socket.socket.shutdown(s, socket.SHUT_WR)
s.settimeout(5)
b = b""
try:
    while not b.endswith(b"}"):
        d = s.recv(65536)
        if not d:
            break
        b += d
except (socket.timeout, ssl.SSLError, OSError):
    pass
print(len(re.findall(rb"HTTP/1\.1 200", b)))
PY
t1=$(tls_ticks)
expect_eq "TLS: a client that half-closes while its request is served gets the answer" \
    "1" "$(cat "$T/tls-half.out")"
if [ -z "${UNDER_VALGRIND:-}" ]; then
	check "TLS: the worker did not spin after the half-close ($((t1 - t0)) ticks of CPU in 600 ms)" \
	    [ $((t1 - t0)) -lt 20 ]
fi

# --- mTLS: client certificates required, identity in the access log --------------
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
cp "$top_srcdir/tests/data/tls/client.sha256" "$PKI/"
cat > "$T/gw-mtls.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT,
    "tls": { "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
             "client_auth": "required", "client_ca": "pki/client-ca.pem" } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "log": { "access": "$T/access-mtls.log" }
}
EOT
start_gateway "$T/gw-mtls.json"
check "mTLS required: no client certificate, no request" bash -c "! curl -s -o /dev/null --cacert $PKI/ca.pem --resolve localhost:$GW_PORT:127.0.0.1 $G/__test/echo/m"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" \
    --key "$PKI/client.key" --resolve "localhost:$GW_PORT:127.0.0.1" "$G/__test/echo/m")
expect_eq "mTLS required: with a client certificate" 200 "$code"
sleep 0.2
expect_eq "access log has the client certificate fingerprint" "$(tr -d ' \n' < "$PKI/client.sha256" | tr 'A-F' 'a-f' | sed 's/.*=//; s/://g')" \
    "$(json_get "$(last_line "$T/access-mtls.log")" 'd.get("client_cert_sha256")')"
check "access log has the client certificate subject" grep -q '"client_cert_subject":"[^"]*CN=' "$T/access-mtls.log"

# The certificate bound in the policy like a claim (mtls.fingerprint).
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
KEYS="$top_srcdir/tests/data/keys"
cat > "$T/bind-policy.json" <<EOT
{ "actions": [ { "action": "cert.get", "method": "GET", "path": "/certs/{fingerprint}",
    "scopes": ["cert.read"], "params": { "fingerprint": "string" },
    "bind": [ { "param": "fingerprint", "claim": "mtls.fingerprint" } ] } ] }
EOT
python3 - "$T/gw-mtls.json" "$T/bind-policy.json" "$KEYS/ec256.pem" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["policy"] = sys.argv[2]
c["tokens"] = {"keys": [{"file": sys.argv[3], "kid": "e1"}]}
json.dump(c, open(sys.argv[1], "w"))
PY
start_gateway "$T/gw-mtls.json"
BT=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --scope cert.read)
FP=$(tr -d ' \n' < "$PKI/client.sha256")
mcurl() {
	curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" \
	    --key "$PKI/client.key" --resolve "localhost:$GW_PORT:127.0.0.1" \
	    -H "Authorization: Bearer $BT" "$G/certs/$1"
}
n0=$(record_count)
expect_eq "mTLS binding: another certificate's fingerprint is refused" 403 "$(mcurl "$(echo "$FP" | tr 'a-f0-9' '0-9a-f')")"
expect_eq "mTLS binding: nothing forwarded" "$n0" "$(record_count)"
# The example upstream has no /certs route: its 404 proves the request got there.
expect_eq "mTLS binding: the client's own fingerprint is forwarded" 404 "$(mcurl "$FP")"
expect_eq "mTLS binding: forwarded once" "$((n0 + 1))" "$(record_count)"

# --- mTLS with a certificate revocation list ----------------------------------------
# A second client certificate by the client CA, then CRLs made with
# `openssl ca`: first one that revokes nothing, then one that revokes it.
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
CA_DIR="$T/ca"
mkdir -p "$CA_DIR"
: > "$CA_DIR/index.txt"
echo 1000 > "$CA_DIR/crlnumber"
cat > "$CA_DIR/ca.cnf" <<EOT
[ ca ]
default_ca = d
[ d ]
database = $CA_DIR/index.txt
crlnumber = $CA_DIR/crlnumber
default_md = sha256
default_crl_days = 30
EOT
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/revoked.key" 2>/dev/null
chmod 600 "$PKI/revoked.key"
openssl req -new -key "$PKI/revoked.key" -subj "/O=scopegate tests/CN=revoked.test" \
    -out "$CA_DIR/revoked.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n' > "$CA_DIR/leaf.ext"
openssl x509 -req -in "$CA_DIR/revoked.csr" -CA "$PKI/client-ca.pem" -CAkey "$PKI/client-ca.key" \
    -set_serial 4242 -days 30 -extfile "$CA_DIR/leaf.ext" -out "$PKI/revoked.pem" 2>/dev/null
gencrl() {	# OUT
	openssl ca -batch -config "$CA_DIR/ca.cnf" -keyfile "$PKI/client-ca.key" \
	    -cert "$PKI/client-ca.pem" -gencrl -out "$1" 2>>"$CA_DIR/ca.err"
}
gencrl "$PKI/crl.pem"
check "an empty CRL made" grep -q "BEGIN X509 CRL" "$PKI/crl.pem"
python3 - "$T/gw-mtls.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["listeners"][0]["tls"]["client_crl"] = "pki/crl.pem"
c["log"]["access"] = c["log"]["access"].replace("access-mtls", "access-crl")
json.dump(c, open(sys.argv[1], "w"))
PY
start_gateway "$T/gw-mtls.json"
ccurl() {	# CERTNAME: the status (000 when the handshake was refused)
	curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/$1.pem" \
	    --key "$PKI/$1.key" --resolve "localhost:$GW_PORT:127.0.0.1" \
	    -H "Authorization: Bearer $BT" "$G/certs/x"
}
# 403: the handshake passed and the request reached the policy (the
# binding of the section above refuses a fingerprint not the client's).
expect_eq "CRL revoking nothing: the client certificate is let in" 403 "$(ccurl client)"
expect_eq "... and so is the second one" 403 "$(ccurl revoked)"
# A session of the soon-revoked certificate, to try resuming it later.
sclient -tls1_2 -cert "$PKI/revoked.pem" -key "$PKI/revoked.key" -sess_out "$T/rsess" >/dev/null
out=$(sclient -tls1_2 -cert "$PKI/revoked.pem" -key "$PKI/revoked.key" -sess_in "$T/rsess")
check "(that session resumes while the certificate is not revoked)" grep -q '^Reused' <<<"$out"
check "(... and gets an HTTP answer)" grep -q '^HTTP/1.1 ' <<<"$out"
openssl ca -batch -config "$CA_DIR/ca.cnf" -keyfile "$PKI/client-ca.key" \
    -cert "$PKI/client-ca.pem" -revoke "$PKI/revoked.pem" 2>>"$CA_DIR/ca.err"
gencrl "$PKI/crl.pem"
check "reload with the new CRL" reload_and_wait
n0=$(record_count)
expect_eq "after a reload with the new CRL: the revoked certificate's handshake is refused" \
    000 "$(ccurl revoked)"
expect_eq "... nothing forwarded" "$n0" "$(record_count)"
expect_eq "... the other certificate is still let in" 403 "$(ccurl client)"
out=$(sclient -tls1_2 -cert "$PKI/revoked.pem" -key "$PKI/revoked.key" -sess_in "$T/rsess")
check "... its session from before the new CRL is not resumed" bash -c "! grep -q '^Reused' <<<\"\$1\"" _ "$out"
check "... and the full handshake fails: no HTTP answer" bash -c "! grep -q '^HTTP/1.1 ' <<<\"\$1\"" _ "$out"
# A CRL must be checkable at load: signed by client_ca, current.
cp "$T/gw-mtls.json" "$T/gw-badcrl.json"
sed -i 's|pki/crl.pem|pki/ca.pem|' "$T/gw-badcrl.json"
check "-t: a file without a CRL is refused at client_crl" \
    bash -c "'$SCOPEGATE' -t -c '$T/gw-badcrl.json' 2>&1 | grep -q '/listeners/0/tls/client_crl: .*no CRL found'"
openssl ca -batch -config "$CA_DIR/ca.cnf" -keyfile "$PKI/ca.key" -cert "$PKI/ca.pem" \
    -gencrl -out "$PKI/crl-other.pem" 2>>"$CA_DIR/ca.err"
sed -i 's|pki/ca.pem|pki/crl-other.pem|' "$T/gw-badcrl.json"
check "-t: a CRL by another CA is refused" \
    bash -c "'$SCOPEGATE' -t -c '$T/gw-badcrl.json' 2>&1 | grep -q 'client_crl: .*is not signed by a certificate in client_ca'"
openssl ca -batch -config "$CA_DIR/ca.cnf" -keyfile "$PKI/client-ca.key" \
    -cert "$PKI/client-ca.pem" -gencrl -crlsec 1 -out "$PKI/crl-stale.pem" 2>>"$CA_DIR/ca.err"
sleep 2
sed -i 's|pki/crl-other.pem|pki/crl-stale.pem|' "$T/gw-badcrl.json"
check "-t: an expired CRL is refused" \
    bash -c "'$SCOPEGATE' -t -c '$T/gw-badcrl.json' 2>&1 | grep -q 'client_crl: .*expired'"

# --- https upstream ---------------------------------------------------------------
cat > "$T/upstream-tls.json" <<EOT
{ "certificates": [ { "cert": "pki/upstream.pem", "key": "pki/upstream.key" } ] }
EOT
"$ECHO" "$T/upstream-tls.json" 0 > "$T/echo.out" 2> "$T/echo.err" &
PIDS+=($!)
for _ in $(seq 1 100); do
	EPORT=$(awk '/^port /{print $2}' "$T/echo.out" 2>/dev/null)
	[ -n "$EPORT" ] && break
	sleep 0.05
done
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
upstream_cfg() {	# SERVER_NAME
	cat > "$T/gw2.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "upstream": { "url": "https://127.0.0.1:$EPORT", "timeout_ms": 3000,
                "tls": { "ca": "pki/ca.pem", "server_name": "$1" } },
  "log": { "access": "$T/access2.log" }
}
EOT
}
upstream_cfg upstream.test
start_gateway "$T/gw2.json"
expect_eq "https upstream verified by CA and name" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/anything")"
for i in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/again$i"; done
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
upstream_cfg wrong.test
start_gateway "$T/gw2.json"
code=$(curl -s -o "$T/r.json" -w '%{http_code}' "http://127.0.0.1:$GW_PORT/anything")
expect_eq "wrong upstream name: 502" 502 "$code"
expect_eq "502 in the Losant error shape" BadGateway "$(json_get "$T/r.json" 'd["type"]')"
check "the log says why" grep -q 'TLS: .*hostname mismatch' "$T/gateway.err"
check "access log reason upstream_tls" grep -q '"reason":"upstream_tls"' "$T/access2.log"
finish
