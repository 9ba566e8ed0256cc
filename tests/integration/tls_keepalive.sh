#!/usr/bin/env bash
# A kept-alive TLS connection does not outlive what its handshake verified
# (the attacks, through the real gateway, real TLS with python's ssl):
# one connection kept busy past its client certificate's notAfter, and one
# kept open across a reload that revokes its certificate (a new CRL) or
# changes client_ca. OpenSSL verifies a client certificate once, at the
# handshake; before the fix every such request was authorised and
# forwarded. Now the first request after is answered 421 with Connection:
# close, nothing reaches the upstream, and the connection is closed (a
# pipelined request behind it too); a reload that keeps the
# client-certificate settings closes nothing.
. "$(dirname "$0")/lib.sh"

PKI="$T/pki"
KEYS="$top_srcdir/tests/data/keys"
copy_tls_pki

start_upstream up
GW_PORT=$(free_port)
# /certs/{fingerprint} is bound to the client certificate; /items is not
# (a request any client with a token may make, certificate or not).
cat > "$T/policy.json" <<EOT
{ "actions": [
  { "action": "cert.get", "method": "GET", "path": "/certs/{fingerprint}",
    "scopes": ["cert.read"], "params": { "fingerprint": "string" },
    "bind": [ { "param": "fingerprint", "claim": "mtls.fingerprint" } ] },
  { "action": "items.list", "method": "GET", "path": "/items", "scopes": ["cert.read"] } ] }
EOT
gw_config() {	# CLIENT_AUTH CLIENT_CA [MORE TLS MEMBERS]
	cat > "$T/gw.json" <<EOT
{
  "workers": 2,
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT,
    "tls": { "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
             "client_auth": "$1", "client_ca": "$2"${3:+, $3} } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "policy": "$T/policy.json",
  "tokens": { "keys": [ { "file": "$KEYS/ec256.pem", "kid": "e1" } ] },
  "log": { "access": "$T/access.log" }
}
EOT
}
gw_config optional pki/client-ca.pem
start_gateway "$T/gw.json" || exit 1
BT=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --scope cert.read)

# A keep-alive client on one TLS connection, driven line by line:
# "get N PATH" sends N requests in one write and prints, per answer,
# STATUS/CONNECTION-HEADER ("none" when the connection ended first);
# "closed SECONDS" prints whether the gateway has closed the connection.
cat > "$T/ka.py" <<'PY'
import socket, ssl, sys
port, ca, cert, key, token = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                    server_hostname="localhost")
buf = b""
def answer():
    global buf
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return "none"
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    h = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        h[k.strip().lower()] = v.strip()
    n = int(h.get("content-length", "0"))
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    buf = rest[n:]
    return "%s/%s" % (lines[0].split()[1], h.get("connection", "-"))
while True:
    cmd = sys.stdin.readline().split()
    if not cmd:
        break
    try:
        if cmd[0] == "get":
            req = ("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (cmd[2], token)).encode()
            s.sendall(req * int(cmd[1]))
            print(" ".join(answer() for _ in range(int(cmd[1]))), flush=True)
        elif cmd[0] == "closed":
            s.settimeout(float(cmd[1]))
            try:
                print("closed" if s.recv(1) == b"" else "data", flush=True)
            except socket.timeout:
                print("open", flush=True)
            s.settimeout(None)
    except (ssl.SSLError, OSError) as e:
        print("closed(%s)" % type(e).__name__, flush=True)
PY
# ka_open NAME CERT: a connection with the client certificate pki/CERT.pem.
ka_open() {
	local fdw fdr
	mkfifo "$T/$1.in" "$T/$1.out"
	python3 "$T/ka.py" "$GW_PORT" "$PKI/ca.pem" "$PKI/$2.pem" "$PKI/$2.key" "$BT" \
	    < "$T/$1.in" > "$T/$1.out" 2> "$T/$1.err" &
	PIDS+=("$!")
	exec {fdw}> "$T/$1.in"
	exec {fdr}< "$T/$1.out"
	eval "KA_W_$1=$fdw KA_R_$1=$fdr"
}
ka() {	# NAME COMMAND...: prints the client's reply line
	local w r line=
	eval "w=\$KA_W_$1 r=\$KA_R_$1"
	echo "${*:2}" >&"$w"
	read -r -t 20 line <&"$r"
	echo "${line:-(no reply)}"
}
fp_of() {	# CERT: its SHA-256 fingerprint, lowercase hex
	openssl x509 -in "$PKI/$1.pem" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}
ccurl() {	# CERT PATH: the status of a request on a new connection (000: handshake refused)
	curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/$1.pem" \
	    --key "$PKI/$1.key" --resolve "localhost:$GW_PORT:127.0.0.1" \
	    -H "Authorization: Bearer $BT" "https://localhost:$GW_PORT$2"
}

CA_DIR=$T/ca
mkdir -p "$CA_DIR"
: > "$CA_DIR/index.txt"
echo 1000 > "$CA_DIR/serial"
echo 1000 > "$CA_DIR/crlnumber"
cat > "$CA_DIR/ca.cnf" <<EOT
[ ca ]
default_ca = d
[ d ]
database = $CA_DIR/index.txt
serial = $CA_DIR/serial
crlnumber = $CA_DIR/crlnumber
new_certs_dir = $CA_DIR
default_md = sha256
default_crl_days = 30
policy = p
unique_subject = no
x509_extensions = leaf
[ p ]
commonName = supplied
organizationName = optional
[ leaf ]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = clientAuth
EOT
issue() {	# NAME ENDDATE(YYMMDDHHMMSSZ): pki/NAME.pem by the client CA
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$1.key" 2>/dev/null
	chmod 600 "$PKI/$1.key"
	openssl req -new -key "$PKI/$1.key" -subj "/O=scopegate tests/CN=$1.test" \
	    -out "$CA_DIR/$1.csr" 2>/dev/null
	openssl ca -batch -config "$CA_DIR/ca.cnf" -cert "$PKI/client-ca.pem" \
	    -keyfile "$PKI/client-ca.key" -in "$CA_DIR/$1.csr" -enddate "$2" -notext \
	    -out "$PKI/$1.pem" 2>>"$CA_DIR/ca.err"
}

# --- a connection kept busy past its certificate's notAfter ------------------------
# expiry_round MODE: a certificate valid for 4 more seconds (10 under
# valgrind, whose handshakes take seconds); two kept-alive connections with
# it; requests every half second until it expires, then the next request
# on each (a bound one, an unbound one twice pipelined).
LIFE=4
[ -n "${UNDER_VALGRIND:-}" ] && LIFE=10
expiry_round() {
	local mode=$1 end fp n0 ok_before=0 tries=0
	end=$(( $(date +%s) + LIFE ))
	issue "short-$mode" "$(date -u -d "@$end" +%y%m%d%H%M%SZ)"
	fp=$(fp_of "short-$mode")
	ka_open "a$mode" "short-$mode"
	ka_open "b$mode" "short-$mode"
	n0=$(record_count)
	while [ "$(date +%s)" -lt $((end - 1)) ]; do
		tries=$((tries + 1))
		[ "$(ka "a$mode" get 1 "/certs/$fp")" = "404/-" ] && ok_before=$((ok_before + 1))
		sleep 0.5
	done
	check "$mode: (requests made on the connection before notAfter: $tries)" test "$tries" -ge 2
	expect_eq "$mode: before notAfter, each is authorised" "$tries" "$ok_before"
	expect_eq "$mode: ... and forwarded" "$((n0 + ok_before))" "$(record_count)"
	expect_eq "$mode: (the other connection too)" "404/-" "$(ka "b$mode" get 1 /items)"
	while [ "$(date +%s)" -le "$end" ]; do sleep 0.2; done
	n0=$(record_count)
	expect_eq "$mode: past notAfter, the next request on the same connection is refused (421, Connection: close)" \
	    "421/close" "$(ka "a$mode" get 1 "/certs/$fp")"
	expect_eq "$mode: ... and the connection is closed" closed "$(ka "a$mode" closed 3)"
	expect_eq "$mode: an unbound request, two pipelined: the first refused, the connection ends before the second" \
	    "421/close none" "$(ka "b$mode" get 2 /items)"
	expect_eq "$mode: ... nothing forwarded" "$n0" "$(record_count)"
	check "$mode: ... access log reason client_cert_expired" \
	    grep -q '"reason":"client_cert_expired"' "$T/access.log"
	expect_eq "$mode: (a new connection with the expired certificate: handshake refused)" \
	    000 "$(ccurl "short-$mode" /items)"
}
expiry_round optional
gw_config required pki/client-ca.pem
check "reload: client_auth required" reload_and_wait
expiry_round required

# --- an intermediate CA that ends before the certificate it signed ----------------
# The client sends its certificate (30 days) with the intermediate CA that
# signed it (LIFE seconds), the client CA the anchor above both. OpenSSL
# checks every date of the chain at the handshake only; the connection's
# limit is the earliest of them, not the certificate's own.
# The second connection's certificate has a subject too long for the
# gateway to keep as a name (595 characters in RFC 2253 form): it names no
# one, but client_auth let it in, and its end is the chain's all the same
# (it was never bounded before).
end=$(( $(date +%s) + LIFE ))
issue_via_intermediate "$CA_DIR" "$(date -u -d "@$end" +%y%m%d%H%M%SZ)" viaint
long="/O=scopegate tests"
for i in 1 2 3 4 5 6 7 8 9; do long="$long/OU=$(printf 'u%.0s' $(seq 1 58))$i"; done
issue_via_intermediate "$CA_DIR" "$(date -u -d "@$end" +%y%m%d%H%M%SZ)" longname "$long/CN=longname.test"
# Both through the same intermediate: the second issue made a new one,
# with the same end; send each certificate with the one that signed it.
ka_open via viaint-chain
ka_open lng longname-chain
n0=$(record_count)
expect_eq "intermediate CA: before it ends, the certificate it signed is authorised" \
    "404/-" "$(ka via get 1 /items)"
expect_eq "(so is the one with the long subject)" "404/-" "$(ka lng get 1 /items)"
expect_eq "... and forwarded" "$((n0 + 2))" "$(record_count)"
# Kept busy until the end (an idle connection would be closed first).
ok_before=0 tries=0
while [ "$(date +%s)" -lt $((end - 1)) ]; do
	tries=$((tries + 1))
	[ "$(ka via get 1 /items) $(ka lng get 1 /items)" = "404/- 404/-" ] &&
	    ok_before=$((ok_before + 1))
	sleep 0.5
done
expect_eq "... every request on both before the end authorised" "$tries" "$ok_before"
while [ "$(date +%s)" -le "$end" ]; do sleep 0.2; done
n0=$(record_count)
expect_eq "intermediate CA ended (the certificate has 30 days): the next request on the connection is refused" \
    "421/close" "$(ka via get 1 /items)"
expect_eq "... on the connection of the certificate with the long subject too" \
    "421/close" "$(ka lng get 1 /items)"
expect_eq "... nothing forwarded" "$n0" "$(record_count)"
expect_eq "... a new connection with it: handshake refused" 000 "$(ccurl viaint-chain /items)"

# --- reloads -------------------------------------------------------------------------
issue victim "$(date -u -d "+30 days" +%y%m%d%H%M%SZ)"
FPV=$(fp_of victim)
FPC=$(tr -d ' \n' < "$top_srcdir/tests/data/tls/client.sha256")
ka_open victim victim
ka_open good client
expect_eq "(the certificate soon revoked is let in)" "404/-" "$(ka victim get 1 "/certs/$FPV")"
expect_eq "(so is another one)" "404/-" "$(ka good get 1 "/certs/$FPC")"
# A reload that keeps the client-certificate settings closes nothing.
touch "$T/gw.json"
check "reload with the same client-certificate settings" reload_and_wait
n0=$(record_count)
expect_eq "after a reload keeping the settings: the kept-alive connection still authorised" \
    "404/-" "$(ka victim get 1 "/certs/$FPV")"
expect_eq "... the other one too" "404/-" "$(ka good get 1 "/certs/$FPC")"
expect_eq "... both forwarded" "$((n0 + 2))" "$(record_count)"
expect_eq "... and neither closed" "open open" "$(ka victim closed 0.5) $(ka good closed 0.5)"
# The attack: the certificate is revoked, the reload brings the CRL; its
# connection was open all along.
openssl ca -batch -config "$CA_DIR/ca.cnf" -keyfile "$PKI/client-ca.key" \
    -cert "$PKI/client-ca.pem" -revoke "$PKI/victim.pem" 2>>"$CA_DIR/ca.err"
openssl ca -batch -config "$CA_DIR/ca.cnf" -keyfile "$PKI/client-ca.key" \
    -cert "$PKI/client-ca.pem" -gencrl -out "$PKI/crl.pem" 2>>"$CA_DIR/ca.err"
gw_config required pki/client-ca.pem '"client_crl": "pki/crl.pem"'
check "reload adding a CRL that revokes the certificate" reload_and_wait
n0=$(record_count)
expect_eq "after the revoking reload: the next request on the revoked certificate's connection is refused" \
    "421/close" "$(ka victim get 1 "/certs/$FPV")"
expect_eq "... the connection is closed" closed "$(ka victim closed 3)"
expect_eq "... nothing forwarded" "$n0" "$(record_count)"
check "... access log reason tls_settings_changed" \
    grep -q '"reason":"tls_settings_changed"' "$T/access.log"
expect_eq "... a new connection with it: handshake refused" 000 "$(ccurl victim /items)"
# Every connection verified under the old settings is verified again.
expect_eq "a connection of an unrevoked certificate from before the reload: refused, closed" \
    "421/close" "$(ka good get 1 "/certs/$FPC")"
expect_eq "... which reconnects and is authorised" 404 "$(ccurl client "/certs/$FPC")"
expect_eq "... (one request forwarded: the reconnected one)" "$((n0 + 1))" "$(record_count)"
# client_ca now names another CA, which did not issue the client's certificate.
ka_open good2 client
expect_eq "(a connection under the first client_ca)" "404/-" "$(ka good2 get 1 "/certs/$FPC")"
gw_config required pki/ca.pem
check "reload with another client_ca" reload_and_wait
n0=$(record_count)
expect_eq "after client_ca changed: the kept-alive connection's next request is refused" \
    "421/close" "$(ka good2 get 1 "/certs/$FPC")"
expect_eq "... the connection is closed" closed "$(ka good2 closed 3)"
expect_eq "... nothing forwarded" "$n0" "$(record_count)"
finish
