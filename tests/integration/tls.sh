#!/bin/bash
# tls.sh: the tls module against real clients (curl, openssl s_client),
# through tests/tls_echo_server (evhttp + tls_server_bevcb, as the gateway
# wires it): protocol versions, ALPN, SNI with a default and a wildcard,
# RSA and ECDSA side by side, session resumption by ticket and by session
# id for TLS 1.2 and 1.3, client certificates (required and optional),
# key hygiene and reload. The test PKI is tests/data/tls (make-pki.sh).
. "$(dirname "$0")/lib.sh"

ECHO="$top_builddir/tests/tls_echo_server"
PKI="$T/pki"
copy_tls_pki

if ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then
	echo "# curl or openssl missing" >&2
	exit 77
fi

# start_echo NAME CONFIG: start the test server; sets ECHO_PORT, ECHO_PID.
start_echo() {
	local name=$1 conf=$2 i
	"$ECHO" "$conf" 0 >"$T/$name.out" 2>"$T/$name.err" &
	ECHO_PID=$!
	PIDS+=("$ECHO_PID")
	ECHO_PORT=
	for i in $(seq 1 100); do
		ECHO_PORT=$(awk '/^port /{print $2}' "$T/$name.out" 2>/dev/null)
		[ -n "$ECHO_PORT" ] && return 0
		kill -0 "$ECHO_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# $name did not start:" >&2
	cat "$T/$name.err" >&2
	return 1
}

# sclient PORT ARGS...: one HTTP request through openssl s_client; prints
# its whole output (handshake details and the response).
sclient() {
	local port=$1
	shift
	printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
	    timeout 10 openssl s_client -connect "127.0.0.1:$port" -ign_eof \
	    -CAfile "$PKI/ca.pem" "$@" 2>&1
}

# has "description" PATTERN TEXT: passes when TEXT has a line matching PATTERN.
has() {
	if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else not_ok "$1 (no '$2')"; fi
}
hasnt() {
	if grep -Eq -- "$2" <<<"$3"; then not_ok "$1 (found '$2')"; else ok "$1"; fi
}

cat >"$T/main.json" <<EOF
{ "certificates": [
    { "cert": "pki/server-rsa.pem", "key": "pki/server-rsa.key" },
    { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" },
    { "cert": "pki/other.pem", "key": "pki/other.key",
      "names": ["other.test", "*.other.test"] } ] }
EOF
start_echo main "$T/main.json" || exit 1
P=$ECHO_PORT
CURL=(curl -sS --max-time 10 --cacert "$PKI/ca.pem" --resolve "localhost:$P:127.0.0.1"
    --resolve "other.test:$P:127.0.0.1")

# curl, verified by name and by address.
expect_eq "curl over TLS, name verified" "ok" "$("${CURL[@]}" "https://localhost:$P/")"
expect_eq "curl over TLS, IP SAN verified" "ok" "$("${CURL[@]}" "https://127.0.0.1:$P/x?y")"
out=$("${CURL[@]}" -v "https://localhost:$P/" 2>&1)
has "curl negotiates ALPN http/1.1" "ALPN.*(server accepted|:) *http/1.1" "$out"
"${CURL[@]}" -o /dev/null "https://other.test:$P/" 2>/dev/null
expect_eq "curl verifies the SNI-selected certificate for other.test" 0 "$?"
"${CURL[@]}" -o /dev/null --cacert "$PKI/client-ca.pem" "https://localhost:$P/" 2>/dev/null
check "curl refuses a server certificate from an unknown CA" test $? -ne 0

# Protocol versions: 1.0/1.1 refused by the server (the client is allowed
# to try them with SECLEVEL=0), 1.2 and 1.3 accepted.
for v in tls1 tls1_1; do
	out=$(sclient "$P" -$v -cipher 'DEFAULT@SECLEVEL=0')
	has "$v refused by the server (protocol_version alert)" "alert protocol version" "$out"
	hasnt "$v: no HTTP answer" "^HTTP/1.1 200" "$out"
done
out=$(sclient "$P" -tls1_2)
has "TLS 1.2 accepted" "^ *Protocol *: TLSv1.2" "$out"
has "TLS 1.2 answered" "^HTTP/1.1 200" "$out"
has "TLS 1.2 uses an ECDHE AEAD suite" "Cipher is ECDHE-(RSA|ECDSA)-(AES...-GCM-SHA...|CHACHA20-POLY1305)" "$out"
out=$(sclient "$P" -tls1_3)
has "TLS 1.3 accepted" "^ *Protocol *: TLSv1.3" "$out"
has "TLS 1.3 answered" "^HTTP/1.1 200" "$out"
has "TLS 1.3 certificate verified" "Verify return code: 0 \(ok\)" "$out"
hasnt "Connection: close ends with close_notify, not a bare EOF" "unexpected eof" "$out"
has "the server's close_notify is seen" "^closed" "$out"
out=$(sclient "$P" -tls1_2 -cipher 'AES128-SHA:DES-CBC3-SHA:RC4-SHA@SECLEVEL=0')
has "legacy TLS 1.2 ciphers refused" "handshake failure|no shared cipher|alert" "$out"
hasnt "legacy TLS 1.2 ciphers: no HTTP answer" "^HTTP/1.1 200" "$out"

# ALPN.
out=$(sclient "$P" -alpn http/1.1)
has "ALPN http/1.1 selected" "ALPN protocol: http/1.1" "$out"
out=$(sclient "$P" -alpn h2,http/1.1)
has "ALPN h2,http/1.1 -> http/1.1" "ALPN protocol: http/1.1" "$out"
out=$(sclient "$P" -alpn h2)
has "ALPN h2 only refused (no_application_protocol)" "no application protocol" "$out"

# SNI: exact, wildcard, unknown (default), none (default).
out=$(sclient "$P" -servername other.test)
has "SNI other.test -> other.test certificate" "^subject=.*CN ?= ?other.test" "$out"
out=$(sclient "$P" -servername API.Other.Test)
has "SNI *.other.test wildcard, any case -> other.test certificate" "^subject=.*CN ?= ?other.test" "$out"
out=$(sclient "$P" -servername a.b.other.test)
has "SNI two labels deep is not the wildcard -> default" "^subject=.*CN ?= ?localhost" "$out"
out=$(sclient "$P" -servername unknown.test)
has "SNI unknown -> default certificate" "^subject=.*CN ?= ?localhost" "$out"
out=$(sclient "$P" -noservername)
has "no SNI -> default certificate" "^subject=.*CN ?= ?localhost" "$out"

# RSA and ECDSA on one listener: the handshake picks what the client takes.
out=$(sclient "$P" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)
has "TLS 1.2 RSA suite -> RSA certificate" "Server public key is 2048 bit" "$out"
out=$(sclient "$P" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)
has "TLS 1.2 ECDSA suite -> ECDSA certificate" "Server public key is 256 bit" "$out"
out=$(sclient "$P" -tls1_3 -sigalgs rsa_pss_rsae_sha256)
has "TLS 1.3 RSA-PSS sigalg -> RSA certificate" "Server public key is 2048 bit" "$out"
out=$(sclient "$P" -tls1_3 -sigalgs ecdsa_secp256r1_sha256)
has "TLS 1.3 ECDSA sigalg -> ECDSA certificate" "Server public key is 256 bit" "$out"

# Resumption with tickets, TLS 1.2 and 1.3.
for v in tls1_2 tls1_3; do
	sclient "$P" -$v -sess_out "$T/sess.$v" >/dev/null
	out=$(sclient "$P" -$v -sess_in "$T/sess.$v")
	has "$v session resumed (ticket)" "^Reused, TLSv1\.[23]" "$out"
	has "$v resumed connection answered" "^HTTP/1.1 200" "$out"
	has "$v resumed answer says so" "^X-TLS-Resumed: 1" "$out"
done

# Resumption from the server-side cache (session ids), tickets off.
cat >"$T/nt.json" <<EOF
{ "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
  "tickets": false, "session_cache_size": 100 }
EOF
start_echo nt "$T/nt.json" || exit 1
for v in tls1_2 tls1_3; do
	out=$(sclient "$ECHO_PORT" -$v -sess_out "$T/nt.$v")
	if [ $v = tls1_2 ]; then
		hasnt "tickets off: no TLS 1.2 ticket issued" "TLS session ticket:" "$out"
	fi
	out=$(sclient "$ECHO_PORT" -$v -sess_in "$T/nt.$v")
	has "$v session resumed from the server cache" "^Reused, TLSv1\.[23]" "$out"
done
# Cache off and tickets off: nothing resumes.
cat >"$T/none.json" <<EOF
{ "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
  "tickets": false, "session_cache_size": 0 }
EOF
start_echo none "$T/none.json" || exit 1
out=$(sclient "$ECHO_PORT" -tls1_2 -sess_out "$T/none.s")
has "no cache, no tickets: no session id given" "^ *Session-ID: *$" "$out"

# Client certificates, required.
cat >"$T/mtls.json" <<EOF
{ "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
  "client_auth": "required", "client_ca": "pki/client-ca.pem" }
EOF
start_echo mtls "$T/mtls.json" || exit 1
M=$ECHO_PORT
MCURL=(curl -sS --max-time 10 --cacert "$PKI/ca.pem" --resolve "localhost:$M:127.0.0.1")
body=$("${MCURL[@]}" "https://localhost:$M/" 2>"$T/mtls.curl")
check "mTLS required: refused without a client certificate" test "$body" != "ok"
for v in tls1_2 tls1_3; do
	out=$(sclient "$M" -$v)
	hasnt "mTLS required, $v: no answer without a certificate" "^HTTP/1.1 200" "$out"
	has "mTLS required, $v: alert without a certificate" \
	    "alert (handshake failure|certificate required)" "$out"
done
hdrs=$("${MCURL[@]}" -D - -o /dev/null --cert "$PKI/client.pem" --key "$PKI/client.key" \
    "https://localhost:$M/")
has "mTLS required: accepted with a client certificate" "^HTTP/1.1 200" "$hdrs"
has "mTLS: subject in RFC 2253 form" "^X-Client-Subject: CN=client.test,O=scopegate tests" "$hdrs"
has "mTLS: SHA-256 fingerprint as the CLI computes it" \
    "^X-Client-Fingerprint: $(cat "$PKI/client.sha256")" "$hdrs"
has "mTLS: verified" "^X-Client-Verified: 1" "$hdrs"
body=$("${MCURL[@]}" --cert "$PKI/client-rogue.pem" --key "$PKI/client-rogue.key" \
    "https://localhost:$M/" 2>/dev/null)
check "mTLS: a certificate from another CA is refused" test "$body" != "ok"
# A resumed session keeps the verified identity.
sclient "$M" -tls1_3 -cert "$PKI/client.pem" -key "$PKI/client.key" -sess_out "$T/m.s" >/dev/null
out=$(sclient "$M" -tls1_3 -sess_in "$T/m.s")
has "mTLS: resumed session" "^Reused, TLSv1.3" "$out"
has "mTLS: resumed session keeps the client identity" "^X-Client-Subject: CN=client.test" "$out"

# Client certificates, optional.
cat >"$T/opt.json" <<EOF
{ "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
  "client_auth": "optional", "client_ca": "pki/client-ca.pem" }
EOF
start_echo opt "$T/opt.json" || exit 1
O=$ECHO_PORT
OCURL=(curl -sS --max-time 10 --cacert "$PKI/ca.pem" --resolve "localhost:$O:127.0.0.1")
hdrs=$("${OCURL[@]}" -D - "https://localhost:$O/")
has "mTLS optional: accepted without a certificate" "^HTTP/1.1 200" "$hdrs"
hasnt "mTLS optional: no subject without a certificate" "^X-Client-Subject" "$hdrs"
hdrs=$("${OCURL[@]}" -D - --cert "$PKI/client.pem" --key "$PKI/client.key" "https://localhost:$O/")
has "mTLS optional: subject with a certificate" "^X-Client-Subject: CN=client.test,O=scopegate tests" "$hdrs"
body=$("${OCURL[@]}" --cert "$PKI/client-rogue.pem" --key "$PKI/client-rogue.key" \
    "https://localhost:$O/" 2>/dev/null)
check "mTLS optional: a bad certificate is still refused" test "$body" != "ok"

# Key hygiene: a key readable by others stops the start, naming the file.
cp "$PKI/server-ec.key" "$T/open.key"
chmod 644 "$T/open.key"
cat >"$T/open.json" <<EOF
{ "certificates": [ { "cert": "pki/server-ec.pem", "key": "open.key" } ] }
EOF
"$ECHO" "$T/open.json" 0 >/dev/null 2>"$T/open.err"
expect_eq "world-readable key: refused to start" 1 "$?"
has "world-readable key: the error names the file and says what to do" \
    "open.key: private key file is accessible by group or others \(mode 0644\); chmod 600 it" \
    "$(cat "$T/open.err")"
hasnt "world-readable key: no key material in the error" "BEGIN|PRIVATE" "$(cat "$T/open.err")"

# Reload: a broken configuration keeps the old certificates serving; a
# good one switches.
cat >"$T/rl.json" <<EOF
{ "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ] }
EOF
start_echo rl "$T/rl.json" || exit 1
R=$ECHO_PORT
RPID=$ECHO_PID
sclient "$R" -tls1_3 -sess_out "$T/rl.s" >/dev/null
cat >"$T/rl.json" <<EOF
{ "certificates": [ { "cert": "pki/server-ec.pem", "key": "open.key" } ] }
EOF
kill -HUP "$RPID"
for i in $(seq 1 50); do grep -q "reload failed" "$T/rl.err" && break; sleep 0.05; done
has "reload with a bad key: reported" "open.key: private key file is accessible" "$(cat "$T/rl.err")"
out=$(sclient "$R" -servername localhost)
has "reload with a bad key: old certificate still serves" "^subject=.*CN ?= ?localhost" "$out"
cat >"$T/rl.json" <<EOF
{ "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" },
                    { "cert": "pki/other.pem", "key": "pki/other.key" } ] }
EOF
out=$(sclient "$R" -servername other.test)
has "before reload: other.test gets the default certificate" "^subject=.*CN ?= ?localhost" "$out"
kill -HUP "$RPID"
for i in $(seq 1 50); do grep -q "reloaded" "$T/rl.err" && break; sleep 0.05; done
out=$(sclient "$R" -servername other.test)
has "reload with a good config: the new certificate serves" "^subject=.*CN ?= ?other.test" "$out"
out=$(sclient "$R" -tls1_3 -servername localhost -sess_in "$T/rl.s")
has "reload: tickets from before the reload still resume" "^Reused, TLSv1.3" "$out"

finish
