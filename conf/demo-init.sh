#!/bin/sh
# demo-init.sh TOP BUILD DEMO: prepare the demo in DEMO (setup.sh run calls
# it): an ES256 signing key pair made here, a configuration using the
# shipped Losant policy, and a few signed tokens to call it with. Files
# that exist are kept, so a second run reuses the same keys.
set -eu
top=$1
build=$2
demo=$3
mkdir -p "$demo"
umask 077
if [ ! -f "$demo/signing.key" ]; then
	openssl ecparam -name prime256v1 -genkey -noout -out "$demo/ec.tmp" 2>/dev/null
	openssl pkcs8 -topk8 -nocrypt -in "$demo/ec.tmp" -out "$demo/signing.key"
	openssl pkey -in "$demo/signing.key" -pubout -out "$demo/signing.pem" 2>/dev/null
	rm -f "$demo/ec.tmp"
fi
if [ ! -f "$demo/tls.key" ]; then
	# A self-signed certificate for the demo's HTTPS listener.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$demo/tls.key" -out "$demo/tls.pem" -days 825 -subj "/CN=localhost" \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
fi
cat > "$demo/scopegate.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": 8080 },
                 { "address": "127.0.0.1", "port": 8443,
                   "tls": { "certificates": [ { "cert": "tls.pem", "key": "tls.key" } ] } } ],
  "admin": { "address": "127.0.0.1", "port": 9901 },
  "revocations": { "journal": "revocations.journal" },
  "upstream": { "url": "http://127.0.0.1:8081", "timeout_ms": 30000 },
  "policy": "$top/conf/policy.json",
  "tokens": {
    "keys": [ { "file": "signing.pem", "kid": "demo", "algs": ["ES256"] } ],
    "issuers": ["scopegate-demo"]
  },
  "log": { "access": "-" }
}
EOT
mint() {
	"$build/scopegate-token" --key "$demo/signing.key" --alg ES256 --kid demo \
	    --iss scopegate-demo --exp-in 86400 "$@"
}
mint --sub reader --jti demo-reader --scope "applicationApiToken.get applicationApiTokens.get" > "$demo/reader.jwt"
mint --sub admin --jti demo-admin --scope "all.Application" > "$demo/admin.jwt"
mint --sub other --jti demo-other --scope "device.get" > "$demo/other.jwt"
