#!/usr/bin/env bash
# TLS session resumption through the real gateway (two workers), with
# openssl s_client -sess_out / -sess_in: a TLS 1.3 ticket resumes on many
# new connections, on both worker threads; a resumed mTLS session is still
# authorised as its client certificate (policy binding mtls.fingerprint);
# a reload that keeps the client-certificate settings keeps tickets
# resuming, one that changes client_ca must not let an old ticket resume
# into an authorised session (the attack: a certificate the new CA does not
# vouch for, carried by a session verified under the old one); a restart
# forgets the ticket keys; TLS 1.2 still resumes; a session does not
# resume once its client certificate has expired.
. "$(dirname "$0")/lib.sh"

PKI="$T/pki"
KEYS="$top_srcdir/tests/data/keys"
copy_tls_pki

start_upstream up
GW_PORT=$(free_port)
cat > "$T/policy.json" <<EOT
{ "actions": [ { "action": "cert.get", "method": "GET", "path": "/certs/{fingerprint}",
    "scopes": ["cert.read"], "params": { "fingerprint": "string" },
    "bind": [ { "param": "fingerprint", "claim": "mtls.fingerprint" } ] } ] }
EOT
gw_config() {	# CLIENT_CA [MORE TLS MEMBERS]
	cat > "$T/gw.json" <<EOT
{
  "workers": 2,
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT,
    "tls": { "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
             "client_auth": "optional", "client_ca": "$1"${2:+, $2} } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "policy": "$T/policy.json",
  "tokens": { "keys": [ { "file": "$KEYS/ec256.pem", "kid": "e1" } ] },
  "log": { "access": "$T/access.log" }
}
EOT
}
gw_config pki/client-ca.pem
start_gateway "$T/gw.json" || exit 1

BT=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --scope cert.read)
FP=$(tr -d ' \n' < "$top_srcdir/tests/data/tls/client.sha256")
# sclient ARGS...: GET /certs/<the client certificate's fingerprint> with a
# valid token (client.pem's, or $CERT_FP). The example upstream has no /certs route: its 404 proves
# the binding let the request through; the binding refuses (403) when the
# connection carries no verified client certificate with that fingerprint.
sclient() {
	printf 'GET /certs/%s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' \
	    "${CERT_FP:-$FP}" "$BT" |
	    timeout 10 openssl s_client -connect "127.0.0.1:$GW_PORT" -servername localhost \
	    -ign_eof -CAfile "$PKI/ca.pem" "$@" 2>&1
}
has() {	# "description" PATTERN TEXT
	if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else not_ok "$1 (no '$2')"; fi
}
hasnt() {
	if grep -Eq -- "$2" <<<"$3"; then not_ok "$1 (found '$2')"; else ok "$1"; fi
}

# The worker threads' read() counts (/proc/PID/task/TID/io, syscr): the
# thread that served a connection is the one whose count moved.
thread_reads() {
	local t
	for t in /proc/"$GW_PID"/task/*; do
		[ "${t##*/}" = "$GW_PID" ] && continue
		echo "${t##*/} $(awk '/^syscr:/{print $2}' "$t/io" 2>/dev/null)"
	done
}
served_by() {	# BEFORE AFTER: the thread ids whose reads moved
	join <(sort <<<"$1") <(sort <<<"$2") | awk '$3 > $2 { print $1 }'
}

# --- TLS 1.3: one ticket, many connections, both workers ------------------------
out=$(sclient -tls1_3 -cert "$PKI/client.pem" -key "$PKI/client.key" -sess_out "$T/s13")
has "TLS 1.3 full handshake with a client certificate" "New, TLSv1.3" "$out"
has "... authorised as the client certificate (forwarded: the upstream's 404)" \
    "HTTP/1.1 404" "$out"
n0=$(record_count)
resumed=0 authorised=0 tries=0
declare -A seen=()
# Until both workers have served a resumed connection (each takes a
# connection at random: 30 tries without the second one is about 1 in 10^5).
while [ "$tries" -lt 30 ] && { [ "${#seen[@]}" -lt 2 ] || [ "$tries" -lt 8 ]; }; do
	tries=$((tries + 1))
	before=$(thread_reads)
	# No -cert: only the session can carry the identity.
	out=$(sclient -tls1_3 -sess_in "$T/s13")
	after=$(thread_reads)
	grep -q "Reused, TLSv1.3" <<<"$out" && resumed=$((resumed + 1))
	grep -q "HTTP/1.1 404" <<<"$out" && authorised=$((authorised + 1))
	for tid in $(served_by "$before" "$after"); do seen[$tid]=1; done
done
expect_eq "TLS 1.3: the ticket resumes on every one of $tries new connections" "$tries" "$resumed"
expect_eq "... each still authorised as the client certificate" "$tries" "$authorised"
expect_eq "... all forwarded" "$((n0 + tries))" "$(record_count)"
if [ -r "/proc/$GW_PID/task/$GW_PID/io" ]; then
	expect_eq "... served by both worker threads" 2 "${#seen[@]}"
else
	echo "# /proc/PID/task/*/io unreadable: which worker served is not checked"
fi
out=$(sclient -tls1_3 -sess_in "$T/s13" -cert "$PKI/client-rogue.pem" -key "$PKI/client-rogue.key")
has "a resumed session does not ask for a certificate again" "Reused, TLSv1.3" "$out"
has "... and keeps the identity it was verified with" "HTTP/1.1 404" "$out"
# Without the session: no certificate, no identity (the binding's refusal).
n0=$(record_count)
out=$(sclient -tls1_3)
has "no session, no certificate: refused by the binding" "HTTP/1.1 403" "$out"
expect_eq "... nothing forwarded" "$n0" "$(record_count)"

# --- TLS 1.2 still resumes --------------------------------------------------------
sclient -tls1_2 -cert "$PKI/client.pem" -key "$PKI/client.key" -sess_out "$T/s12" >/dev/null
out=$(sclient -tls1_2 -sess_in "$T/s12")
has "TLS 1.2: the session resumes" "Reused, TLSv1.2" "$out"
has "... still authorised as the client certificate" "HTTP/1.1 404" "$out"

# --- reloads ----------------------------------------------------------------------
# The same client-certificate settings: tickets keep resuming.
sclient -tls1_3 -cert "$PKI/client.pem" -key "$PKI/client.key" -sess_out "$T/s-keep" >/dev/null
touch "$T/gw.json"
check "reload with the same client_ca" reload_and_wait
out=$(sclient -tls1_3 -sess_in "$T/s-keep")
has "after a reload keeping client_ca: the ticket still resumes" "Reused, TLSv1.3" "$out"
has "... authorised as before" "HTTP/1.1 404" "$out"
# The attack: client_ca now names another CA, which did not issue the
# client's certificate. The old ticket still decrypts (the keys survive
# reloads) but must not resume: the session would carry a certificate
# verified under the old CA into an authorised request.
for v in tls1_3 tls1_2; do
	sclient -$v -cert "$PKI/client.pem" -key "$PKI/client.key" -sess_out "$T/s-old.$v" >/dev/null
done
gw_config pki/ca.pem
check "reload with another client_ca" reload_and_wait
n0=$(record_count)
for v in tls1_3 tls1_2; do
	out=$(sclient -$v -sess_in "$T/s-old.$v")
	hasnt "after client_ca changed, $v: the old session does not resume" "Reused" "$out"
	hasnt "... and the request is not authorised" "HTTP/1.1 404" "$out"
done
expect_eq "... nothing forwarded" "$n0" "$(record_count)"
out=$(sclient -tls1_3 -cert "$PKI/client.pem" -key "$PKI/client.key")
hasnt "the certificate itself no longer verifies either" "HTTP/1.1 404" "$out"

# --- a restart forgets the ticket keys (kept in memory only) -----------------------
gw_config pki/client-ca.pem
check "reload back to the first client_ca" reload_and_wait
sclient -tls1_3 -cert "$PKI/client.pem" -key "$PKI/client.key" -sess_out "$T/s-restart" >/dev/null
out=$(sclient -tls1_3 -sess_in "$T/s-restart")
has "(before the restart, the ticket resumes)" "Reused, TLSv1.3" "$out"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
start_gateway "$T/gw.json" || exit 1
out=$(sclient -tls1_3 -sess_in "$T/s-restart")
hasnt "after a restart: the ticket does not resume" "Reused" "$out"
hasnt "... nor authorise the request" "HTTP/1.1 404" "$out"

# --- a session does not outlive its client certificate ----------------------------
# A client certificate from the client CA that expires in a few seconds
# (openssl ca -enddate), sessions made with it while it is valid, then the
# attempt to resume them once it has expired: a full handshake instead,
# which refuses the expired certificate, so no authorised request.
CA_DIR=$T/ca
mkdir -p "$CA_DIR"
: > "$CA_DIR/index.txt"
echo 1000 > "$CA_DIR/serial"
cat > "$CA_DIR/ca.cnf" <<EOT
[ ca ]
default_ca = d
[ d ]
database = $CA_DIR/index.txt
serial = $CA_DIR/serial
new_certs_dir = $CA_DIR
default_md = sha256
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
# sessions_round HOW WHAT CERT END [S_CLIENT ARGS]: sessions of pki/CERT on
# TLS 1.3 and 1.2 (WHAT of its chain ends at END), their resumption while
# it is valid and once it is not.
sessions_round() {
	local how=$1 what=$2 cert=$3 end=$4 v out n0
	shift 4
	CERT_FP=$(openssl x509 -in "$PKI/$cert.pem" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
	for v in tls1_3 tls1_2; do
		out=$(sclient -$v -cert "$PKI/$cert.pem" -key "$PKI/$cert.key" "$@" \
		    -sess_out "$T/s-$cert.$v")
		has "$how, $v: a certificate ($what valid for seconds more) is let in" "HTTP/1.1 404" "$out"
		out=$(sclient -$v -sess_in "$T/s-$cert.$v")
		has "... its session resumes while $what is valid" "Reused" "$out"
	done
	while [ "$(date +%s)" -le "$end" ]; do sleep 0.2; done
	n0=$(record_count)
	for v in tls1_3 tls1_2; do
		out=$(sclient -$v -sess_in "$T/s-$cert.$v")
		hasnt "$how, $v: once $what has ended, its session does not resume" "Reused" "$out"
		hasnt "... and the request is not authorised" "HTTP/1.1 404" "$out"
	done
	expect_eq "... nothing forwarded" "$n0" "$(record_count)"
	out=$(sclient -tls1_3 -cert "$PKI/$cert.pem" -key "$PKI/$cert.key" "$@")
	hasnt "(a full handshake with it is refused)" "HTTP/1.1 404" "$out"
	CERT_FP=
}
# expiry_round HOW: a certificate valid for 4 more seconds; then one of 30
# days signed by an intermediate CA valid for 4 more seconds (sent along by
# the client): a session may not outlive any certificate of the chain it
# was verified on.
expiry_round() {
	local end
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/short.key" 2>/dev/null
	chmod 600 "$PKI/short.key"
	openssl req -new -key "$PKI/short.key" -subj "/O=scopegate tests/CN=short.test" \
	    -out "$CA_DIR/short.csr" 2>/dev/null
	end=$(( $(date +%s) + 4 ))
	openssl ca -batch -config "$CA_DIR/ca.cnf" -cert "$PKI/client-ca.pem" \
	    -keyfile "$PKI/client-ca.key" -in "$CA_DIR/short.csr" \
	    -enddate "$(date -u -d "@$end" +%y%m%d%H%M%SZ)" -notext -out "$PKI/short.pem" \
	    2>>"$CA_DIR/ca.err"
	sessions_round "$1" "the certificate" short "$end"
	end=$(( $(date +%s) + 4 ))
	issue_via_intermediate "$CA_DIR" "$(date -u -d "@$end" +%y%m%d%H%M%SZ)" viaint
	sessions_round "$1" "its intermediate CA" viaint "$end" -cert_chain "$PKI/inter.pem"
}
expiry_round "tickets"
# Without tickets: TLS 1.2 resumes by session id, TLS 1.3 by a ticket that
# names a session of the server-side cache.
gw_config pki/client-ca.pem '"tickets": false'
check "reload with tickets off" reload_and_wait
expiry_round "server-side cache"
finish
