#!/usr/bin/env bash
# A reload that changes the key set takes effect on the very next request,
# although every token was cached by then and each key had its prepared
# verification contexts: a key removed (es1), a secret replaced (hs1) and
# a public key replaced under the same kid (rs1) all refuse the old
# tokens at once, and nothing of them reaches the upstream; the new keys
# verify, and a token signed with HS256 over the new RSA public key's
# bytes under its kid (algorithm confusion) is still refused.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
P="/applications/$APP/tokens/$TOK"
SCOPE=applicationApiToken.get

install -m 600 "$KEYS/hmac256.key" "$T/hmac-old.key"
head -c 48 /dev/urandom > "$T/hmac-new.key"
chmod 600 "$T/hmac-new.key"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa-new.key" 2> /dev/null
openssl pkey -in "$T/rsa-new.key" -pubout -out "$T/rsa-new.pem"
check "a new RSA key for the rotation" test -s "$T/rsa-new.pem"

start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# keys JSON: the "keys" array of the tokens section.
config() {
	write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\", \"workers\": 1,
  \"tokens\": { \"keys\": [ $1 ], \"cache_size\": 64 },
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT }"
}
config "{ \"file\": \"$KEYS/rsa.pem\", \"kid\": \"rs1\", \"algs\": [\"RS256\"] },
    { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"es1\" },
    { \"file\": \"$T/hmac-old.key\", \"type\": \"hmac\", \"kid\": \"hs1\", \"algs\": [\"HS256\"] }"
start_gateway "$T/gw.json"

mint() {	# KEY ALG KID
	"$TOKEN_BIN" --key "$1" --alg "$2" --kid "$3" --exp-in 600 --jti "$2-$RANDOM" --scope "$SCOPE"
}
RS_OLD=$(mint "$KEYS/rsa.key" RS256 rs1)
ES_OLD=$(mint "$KEYS/ec256.key" ES256 es1)
HS_OLD=$(mint "$T/hmac-old.key" HS256 hs1)
status() {
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "http://127.0.0.1:$GW_PORT$P"
}
metric() {
	curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# Three requests per token: a verification, then two cache hits (one
# worker, so one cache).
for t in "$RS_OLD" "$ES_OLD" "$HS_OLD"; do
	for i in 1 2 3; do
		expect_eq "before the reload: token ${t:0:20}... request $i" 200 "$(status "$t")"
	done
done
check "before the reload: the old tokens were cache hits (>= 6)" \
    test "$(metric 'scopegate_token_cache_total{result="hit"}')" -ge 6

config "{ \"file\": \"$T/rsa-new.pem\", \"kid\": \"rs1\", \"algs\": [\"RS256\"] },
    { \"file\": \"$T/hmac-new.key\", \"type\": \"hmac\", \"kid\": \"hs1\", \"algs\": [\"HS256\"] }"
check "reload with the new key set" reload_and_wait
check "the new key set is in force" grep -q 'in force' "$T/gateway.err"

n0=$(record_count)
expect_eq "after the reload: the token of the replaced RSA key (cached)" 401 "$(status "$RS_OLD")"
expect_eq "after the reload: the token of the removed EC key (cached)" 401 "$(status "$ES_OLD")"
expect_eq "after the reload: the token of the replaced HMAC secret (cached)" 401 "$(status "$HS_OLD")"
# Asked again: still refused (a failure is never cached, the old entry is gone).
expect_eq "after the reload: the old HMAC token again" 401 "$(status "$HS_OLD")"
# Algorithm confusion against the new key: HS256 keyed with the RSA
# public key's PEM bytes, under the RSA kid; and "alg": "none".
install -m 600 "$T/rsa-new.pem" "$T/rsa-new-as-secret"
CONFUSED=$(mint "$T/rsa-new-as-secret" HS256 rs1)
expect_eq "HS256 over the new RSA public key under its kid" 401 "$(status "$CONFUSED")"
NONE=$(python3 -c 'import base64,json,sys
b=lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
print(b({"alg":"none","kid":"rs1"})+"."+b({"scope":sys.argv[1],"exp":9999999999})+".")' "$SCOPE")
expect_eq "alg none under the RSA kid" 401 "$(status "$NONE")"
expect_eq "nothing of the refused tokens reached the upstream" "$n0" "$(record_count)"

RS_NEW=$(mint "$T/rsa-new.key" RS256 rs1)
HS_NEW=$(mint "$T/hmac-new.key" HS256 hs1)
expect_eq "the new RSA key's token" 200 "$(status "$RS_NEW")"
expect_eq "the new HMAC secret's token" 200 "$(status "$HS_NEW")"
expect_eq "the new tokens reached the upstream" $((n0 + 2)) "$(record_count)"
check "refusals logged as bad signature / unknown kid" \
    grep -q 'bad_signature' "$T/access.log"
check "gateway still running" kill -0 "$GW_PID"
finish
