#!/usr/bin/env bash
# Tokens and policy through the real daemon: the Losant policy, a JWKS of
# RSA, EC and Ed25519 keys plus an HMAC secret file, real signed tokens
# minted by scopegate-token, and the example upstream recording what
# reached it. Every refusal is checked to have forwarded nothing.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
NOW=$(date +%s)

# The JWKS without its "oct" member (secrets live in 0600 files).
python3 - "$KEYS/jwks.json" > "$T/jwks.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["keys"] = [k for k in d["keys"] if k["kty"] != "oct"]
print(json.dumps(d))
PY
install -m 600 "$KEYS/hmac256.key" "$T/hmac.key"
# An "attacker" secret: the RSA public key's PEM bytes.
install -m 600 "$KEYS/rsa.pem" "$T/rsa-pem-as-secret.key"

start_upstream up
GW_PORT=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": {
    \"keys\": [ { \"jwks\": \"$T/jwks.json\" },
              { \"file\": \"$T/hmac.key\", \"type\": \"hmac\", \"kid\": \"hs1\", \"algs\": [\"HS256\"] } ],
    \"issuers\": [\"https://issuer.test\"], \"audiences\": [\"scopegate\"] }"
check "config with JWKS and HMAC key passes -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json"
GW="http://127.0.0.1:$GW_PORT"
U="$GW/applications/$APP/tokens"

# mint KEYFILE ALG KID [more scopegate-token options]
mint() {
	local key=$1 alg=$2 kid=$3
	shift 3
	"$TOKEN_BIN" --key "$key" --alg "$alg" --kid "$kid" --iss https://issuer.test \
	    --aud scopegate --sub user-1 --jti "jti-$RANDOM" --exp-in 600 "$@"
}

# call METHOD URL TOKEN [curl args]: prints the status; body in $T/r.json
call() {
	local m=$1 url=$2 tok=$3
	shift 3
	curl -s -o "$T/r.json" -D "$T/h.txt" -w '%{http_code}' -X "$m" \
	    ${tok:+-H "Authorization: Bearer $tok"} "$@" "$url"
}

# expect_forwarded "desc" STATUS METHOD URL TOKEN: status and exactly one
# more request recorded upstream.
expect_forwarded() {
	local desc=$1 want=$2 n0
	shift 2
	n0=$(record_count)
	expect_eq "$desc: status" "$want" "$(call "$@")"
	expect_eq "$desc: reached the upstream" "$((n0 + 1))" "$(record_count)"
}

# expect_refused "desc" STATUS METHOD URL TOKEN: status, JSON error body,
# nothing recorded upstream.
expect_refused() {
	local desc=$1 want=$2 n0
	shift 2
	n0=$(record_count)
	expect_eq "$desc: status" "$want" "$(call "$@")"
	expect_eq "$desc: nothing forwarded" "$n0" "$(record_count)"
	check "$desc: JSON error body" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d)=={"type","message"}' "$T/r.json"
}

# --- every algorithm, valid token forwarded ------------------------------------
SC="applicationApiToken.get applicationApiTokens.get"
expect_forwarded "RS256" 200 GET "$U/$TOK" "$(mint "$KEYS/rsa.key" RS256 jwks-rs --scope "$SC")"
expect_forwarded "ES256" 200 GET "$U/$TOK" "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "$SC")"
expect_forwarded "ES384" 200 GET "$U/$TOK" "$(mint "$KEYS/ec384.key" ES384 jwks-es384 --scope "$SC")"
expect_forwarded "ES512" 200 GET "$U/$TOK" "$(mint "$KEYS/ec521.key" ES512 jwks-es512 --scope "$SC")"
expect_forwarded "EdDSA" 200 GET "$U/$TOK" "$(mint "$KEYS/ed25519.key" EdDSA jwks-ed --scope "$SC")"
expect_forwarded "HS256" 200 GET "$U/$TOK" "$(mint "$T/hmac.key" HS256 hs1 --scope "$SC")"
expect_forwarded "scope as a JSON array" 200 GET "$U" "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope-array applicationApiTokens.get)"
rec=$(last_line "$RECORD")
expect_eq "the token is forwarded to the upstream unchanged" 1 \
    "$(json_get "$rec" 'len([v for k,v in d["headers"] if k.lower()=="authorization" and v.startswith("Bearer ey")])')"

# --- bad tokens: 401, nothing forwarded --------------------------------------------
# RFC 6750 3.1: no credentials (no Authorization, another scheme) get the
# bare challenge with a realm and no error code; bad credentials
# error="invalid_token".
www() { tr -d '\r' < "$T/h.txt" | awk 'tolower($1) == "www-authenticate:" { sub(/^[^:]*: /, ""); print }'; }
expect_refused "no token" 401 GET "$U/$TOK" ""
expect_eq "... WWW-Authenticate: the bare challenge, no error code" 'Bearer realm="scopegate"' "$(www)"
expect_refused "Basic credentials" 401 GET "$U/$TOK" "" -H 'Authorization: Basic dXNlcjpwYXNz'
expect_eq "... another scheme is no bearer credential: the bare challenge" 'Bearer realm="scopegate"' "$(www)"
expect_refused "a bad bearer token" 401 GET "$U/$TOK" "not-a-token"
expect_eq "... WWW-Authenticate: error=invalid_token" 'Bearer error="invalid_token"' "$(www)"
expect_refused "Bearer without a token" 401 GET "$U/$TOK" "" -H 'Authorization: Bearer'
expect_eq "... a bearer attempt: error=invalid_token" 'Bearer error="invalid_token"' "$(www)"
expect_refused "expired" 401 GET "$U/$TOK" "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "$SC" --exp-in -120)"
expect_refused "wrong issuer" 401 GET "$U/$TOK" "$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid jwks-es256 --iss https://evil.test --aud scopegate --exp-in 600 --scope "$SC")"
expect_refused "wrong audience" 401 GET "$U/$TOK" "$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid jwks-es256 --iss https://issuer.test --aud other --exp-in 600 --scope "$SC")"
expect_refused "not yet valid" 401 GET "$U/$TOK" "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "$SC" --nbf-in 600)"
good=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "$SC")
payload=$(echo "$good" | cut -d. -f2)
none_tok="$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=').$payload."
expect_refused "alg none" 401 GET "$U/$TOK" "$none_tok"
none_tok2="$(printf '{"alg":"NoNe","kid":"jwks-es256"}' | base64 -w0 | tr '+/' '-_' | tr -d '=').$payload."
expect_refused "alg NoNe" 401 GET "$U/$TOK" "$none_tok2"
expect_refused "HMAC signed with the RSA public key" 401 GET "$U/$TOK" \
    "$(mint "$T/rsa-pem-as-secret.key" HS256 jwks-rs --scope "$SC")"
# Tamper: flip one character of the payload, of the signature.
sig=$(echo "$good" | cut -d. -f3)
hdr=$(echo "$good" | cut -d. -f1)
tampered_payload=$(python3 -c 'import sys; p=sys.argv[1]; i=len(p)//2; print(p[:i]+("A" if p[i]!="A" else "B")+p[i+1:])' "$payload")
expect_refused "tampered payload" 401 GET "$U/$TOK" "$hdr.$tampered_payload.$sig"
tampered_sig=$(python3 -c 'import sys; p=sys.argv[1]; print(("A" if p[0]!="A" else "B")+p[1:])' "$sig")
expect_refused "tampered signature" 401 GET "$U/$TOK" "$hdr.$payload.$tampered_sig"
expect_refused "unknown kid" 401 GET "$U/$TOK" "$(mint "$KEYS/ec256.key" ES256 nope --scope "$SC")"
expect_refused "garbage" 401 GET "$U/$TOK" "not-a-jwt"
expect_refused "Basic scheme" 401 GET "$U/$TOK" "" -H "Authorization: Basic dXNlcjpwYXNz"
expect_refused "two Authorization headers" 400 GET "$U/$TOK" "$good" -H "Authorization: Bearer $good"
check "the failing check is in the log, the token is not" \
    bash -c "grep -q '\"reason\":\"expired\"' '$T/access.log' && grep -q '\"reason\":\"bad_signature\"' '$T/access.log' && ! grep -q '$sig' '$T/access.log'"

# --- the seed: Application Api Token actions ---------------------------------------
DEL=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "applicationApiToken.delete")
PAT=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "applicationApiToken.patch")
GET=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "all.User.read")
STAR=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "applicationApiToken.*")
expect_forwarded "GET with all.User.read" 200 GET "$U/$TOK" "$GET"
expect_eq "GET answer is the upstream's apiToken" "$TOK" "$(json_get "$T/r.json" 'd["id"]')"
expect_refused "DELETE with only a read scope" 403 DELETE "$U/$TOK" "$GET"
check "403 carries WWW-Authenticate insufficient_scope" grep -qi '^WWW-Authenticate: Bearer error="insufficient_scope"' "$T/h.txt"
expect_refused "DELETE with applicationApiToken.patch" 403 DELETE "$U/$TOK" "$PAT"
expect_refused "PATCH with applicationApiToken.delete" 403 PATCH "$U/$TOK" "$DEL" -H 'Content-Type: application/json' -d '{"name":"x"}'
expect_forwarded "PATCH with applicationApiToken.patch" 200 PATCH "$U/$TOK" "$PAT" -H 'Content-Type: application/json' -d '{"name":"renamed"}'
expect_eq "PATCH answered by the upstream" renamed "$(json_get "$T/r.json" 'd["name"]')"
rec=$(last_line "$RECORD")
expect_eq "PATCH body reached the upstream unchanged" '{"name":"renamed"}' "$(json_get "$rec" 'd["body"]')"
expect_forwarded "DELETE with applicationApiToken.*" 200 DELETE "$U/$TOK" "$STAR"
expect_forwarded "DELETE with applicationApiToken.delete (gone now: upstream 404)" 404 DELETE "$U/$TOK" "$DEL"
expect_refused "case matters: ApplicationApiToken.delete" 403 DELETE "$U/$TOK" \
    "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "ApplicationApiToken.delete")"
expect_refused "no prefix matching: applicationApiToken" 403 DELETE "$U/$TOK" \
    "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "applicationApiToken")"
expect_refused "23-char id" 400 GET "$U/5f111111111111111111111" "$GET"
expect_refused "25-char id" 400 GET "$U/5f11111111111111111111111" "$GET"
expect_refused "non-hex id" 400 GET "$U/5f111111111111111111111g" "$GET"
expect_refused "unknown path" 404 GET "$GW/nothing/here" "$GET"
expect_refused "wrong method" 405 PUT "$U/$TOK" "$GET"
allow=$(sed -n 's/^Allow: *//Ip' "$T/h.txt" | tr -d '\r')
expect_eq "405 lists the allowed methods (HEAD with GET)" "DELETE, GET, HEAD, PATCH" "$(echo "$allow" | tr -d ' ' | tr ',' '\n' | sort | paste -sd, | sed 's/,/, /g')"
expect_refused "encoded slash" 400 GET "$GW/applications/$APP%2Ftokens" "$GET"
expect_refused "dot segment" 400 GET "$GW/applications/$APP/tokens/../tokens" "$GET" --path-as-is
# libevent refuses a method it does not know (methods are case-sensitive)
# with its own 501 page before the gateway sees the request.
n0=$(record_count)
expect_eq "lowercase method refused" 501 "$(call delete "$U/$TOK" "$DEL")"
expect_eq "lowercase method: nothing forwarded" "$n0" "$(record_count)"
# The example upstream has no /auth/user: its own 404 proves it got there.
expect_forwarded "public action without a token" 404 POST "$GW/auth/user" "" -H 'Content-Type: application/json' -d '{"email":"a@b.c","password":"long-enough"}'
expect_refused "public action: body still validated" 400 POST "$GW/auth/user" "" -H 'Content-Type: application/json' -d '{"email":"a@b.c","password":"short"}'

# --- request bodies: JSON Schema, no escalation ----------------------------------
TOK2=5f2222222222222222222222
J=(-H 'Content-Type: application/json')
expect_forwarded "PATCH valid body" 200 PATCH "$U/$TOK2" "$PAT" "${J[@]}" -d '{"name":"x","status":"inactive"}'
expect_refused "PATCH status deleted" 400 PATCH "$U/$TOK2" "$PAT" "${J[@]}" -d '{"status":"deleted"}'
check "400 names the pointer and keyword" grep -q '/status: enum' "$T/r.json"
expect_refused "PATCH empty name" 400 PATCH "$U/$TOK2" "$PAT" "${J[@]}" -d '{"name":""}'
expect_refused "PATCH additional property" 400 PATCH "$U/$TOK2" "$PAT" "${J[@]}" -d '{"owner":"x"}'
check "400 names additionalProperties" grep -q '/owner: additionalProperties' "$T/r.json"
expect_refused "PATCH non-JSON body" 400 PATCH "$U/$TOK2" "$PAT" "${J[@]}" -d 'name=x'
expect_refused "PATCH duplicate keys" 400 PATCH "$U/$TOK2" "$PAT" "${J[@]}" -d '{"name":"a","name":"b"}'
expect_refused "PATCH without JSON content type" 400 PATCH "$U/$TOK2" "$PAT" -H 'Content-Type: text/plain' -d '{"name":"x"}'
expect_refused "PATCH with an empty body" 400 PATCH "$U/$TOK2" "$PAT" "${J[@]}"
POSTER=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "applicationApiTokens.post")
expect_refused "create a token with more power than the caller" 403 POST "$U" "$POSTER" "${J[@]}" \
    -d '{"name":"t","scope":["all.Application"]}'
check "403 names the escalating scope" grep -q 'all.Application' "$T/r.json"
expect_forwarded "create a token with the caller's own scope" 201 POST "$U" "$POSTER" "${J[@]}" \
    -d '{"name":"t","scope":["applicationApiTokens.post"]}'
expect_refused "one escalating scope among grantable ones" 403 POST "$U" "$POSTER" "${J[@]}" \
    -d '{"name":"t","scope":["applicationApiTokens.post","applicationApiToken.delete"]}'
ADMIN=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "all.Application")
expect_forwarded "an all.Application caller may grant applicationApiToken.*" 201 POST "$U" "$ADMIN" "${J[@]}" \
    -d '{"name":"t","scope":["applicationApiToken.*"]}'

# --- the decision is in the log ---------------------------------------------------
python3 - "$T/access.log" > "$T/logcheck" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ok = any(l["action"] == "applicationApiToken.delete" and l["decision"] == "allow"
         and l["scope"] == "applicationApiToken.*" and l["subject"] == "user-1"
         and l["token_id"].startswith("jti-") and l["status"] == 200 for l in lines)
deny = any(l["action"] == "applicationApiToken.delete" and l["decision"] == "deny"
           and l["reason"] == "insufficient_scope" and l["status"] == 403 for l in lines)
print("yes" if ok and deny else "no")
PY
expect_eq "access log carries action, decision, scope, subject, token id" yes "$(cat "$T/logcheck")"

# --- explain agrees with the daemon ---------------------------------------------------
"$SCOPEGATE" explain -c "$T/gw.json" DELETE "/applications/$APP/tokens/$TOK" --token "$GET" > "$T/ex.json"
expect_eq "explain: exit 1 when denied" 1 "$?"
expect_eq "explain: 403 like the daemon" 403 "$(json_get "$T/ex.json" 'd["status"]')"
"$SCOPEGATE" explain -c "$T/gw.json" DELETE "/applications/$APP/tokens/$TOK" --scopes all.Organization > "$T/ex.json"
expect_eq "explain --scopes: exit 0 when allowed" 0 "$?"
expect_eq "explain names the matched scope" all.Organization "$(json_get "$T/ex.json" 'd["matched_scope"]')"

finish
