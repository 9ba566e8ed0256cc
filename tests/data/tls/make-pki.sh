#!/bin/sh
# make-pki.sh: regenerate the test PKI used by tests/unit/test_tls and
# tests/integration/tls.sh. Run from anywhere; writes next to this script.
# The files are committed so the tests never depend on this script running.
#
#   ca.pem ca.key                 test CA ("scopegate test CA", ECDSA P-256)
#   server-rsa.pem/.key           RSA 2048, localhost + 127.0.0.1 (SAN), by ca
#   server-ec.pem/.key            ECDSA P-256, localhost + 127.0.0.1, by ca
#   other.pem/.key                RSA, other.test (for SNI), by ca
#   upstream.pem/.key             ECDSA, upstream.test, by ca
#   wrongname.pem/.key            ECDSA, wrong.test, by ca
#   client-ca.pem/.key            a separate CA for client certificates
#   client.pem/.key               client certificate "CN=client.test,O=scopegate tests"
#   client-rogue.pem/.key         a client certificate signed by ca, not client-ca
#   client.sha256                 client.pem's SHA-256 fingerprint (openssl CLI)
#
# Certificates are valid for 100 years so the tests do not rot. Keys are
# written 0600; git does not keep that mode, so tests copy keys to a temp
# folder and chmod them before use.
set -eu
cd "$(dirname "$0")"
umask 077
DAYS=36500
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# ca NAME SUBJECT
make_ca() {
	ec_key "$1.key"
	openssl req -new -x509 -key "$1.key" -out "$1.pem" -days $DAYS -subj "$2" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# leaf NAME KEYTYPE ISSUER SUBJECT SAN EKU
make_leaf() {
	"$2_key" "$1.key"
	openssl req -new -key "$1.key" -out "$tmp/$1.csr" -subj "$4"
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$6" >"$tmp/$1.ext"
	if [ -n "$5" ]; then
		printf 'subjectAltName=%s\n' "$5" >>"$tmp/$1.ext"
	fi
	openssl x509 -req -in "$tmp/$1.csr" -CA "$3.pem" -CAkey "$3.key" \
	    -CAcreateserial -CAserial "$tmp/$3.srl" -days $DAYS \
	    -extfile "$tmp/$1.ext" -out "$1.pem" 2>/dev/null
}

make_ca ca "/O=scopegate tests/CN=scopegate test CA"
make_ca client-ca "/O=scopegate tests/CN=scopegate test client CA"
make_leaf server-rsa rsa ca "/O=scopegate tests/CN=localhost" \
    "DNS:localhost,IP:127.0.0.1" serverAuth
make_leaf server-ec ec ca "/O=scopegate tests/CN=localhost" \
    "DNS:localhost,IP:127.0.0.1" serverAuth
make_leaf other rsa ca "/O=scopegate tests/CN=other.test" "DNS:other.test" serverAuth
make_leaf upstream ec ca "/O=scopegate tests/CN=upstream.test" "DNS:upstream.test" serverAuth
make_leaf wrongname ec ca "/O=scopegate tests/CN=wrong.test" "DNS:wrong.test" serverAuth
make_leaf client ec client-ca "/O=scopegate tests/CN=client.test" "" clientAuth
make_leaf client-rogue ec ca "/O=scopegate tests/CN=rogue.test" "" clientAuth
# The client certificate's SHA-256 fingerprint as the CLI computes it, for
# test_tls to compare with tls_cert_fingerprint (lowercase hex, no colons).
openssl x509 -in client.pem -noout -fingerprint -sha256 |
    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f' >client.sha256
chmod 644 ./*.pem client.sha256
chmod 600 ./*.key
echo "test PKI written to $(pwd)"
