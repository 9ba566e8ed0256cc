#!/usr/bin/env bash
# The policy's guarantees, attacked through the real daemon: no escalation
# through token creation (the scope member omitted, null, of another type,
# in another case; scopes the policy does not know), bindings to the client
# certificate that a token claim cannot satisfy (plain listener, TLS
# listener without a client certificate), array-claim bindings, and
# "_method" in the query. Every refusal is checked to have forwarded
# nothing to the example upstream; explain is checked to agree.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
PKI="$T/pki"
copy_tls_pki
APP=5f0c0c0c0c0c0c0c0c0c0c0c
APP2=5f0d0d0d0d0d0d0d0d0d0d0d
APP3=5f0e0e0e0e0e0e0e0e0e0e0e
TOK=5f1111111111111111111111
INST=5f2222222222222222222222
FP=$(tr -d ' \n' < "$PKI/client.sha256")

start_upstream up
TOKENS="\"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] }"

# Gateway 1: the shipped Losant policy, plain HTTP.
GW_PORT=$(free_port)
G1_PORT=$GW_PORT
write_config "$T/g1.json" "\"policy\": \"$top_srcdir/conf/policy.json\", $TOKENS"
check "Losant config passes -t" "$SCOPEGATE" -t -c "$T/g1.json"
start_gateway "$T/g1.json"
G1="http://127.0.0.1:$G1_PORT"

# Gateway 2: a policy of its own (token creation without a body schema,
# certificate and array-claim bindings, an action letting _method through),
# on a plain listener and a TLS listener where client certificates are
# optional.
cat > "$T/policy.json" <<'EOT'
{ "actions": [
  { "action": "tokens.post", "method": "POST", "path": "/applications/{applicationId}/tokens",
    "scopes": ["all.Application", "applicationApiTokens.post"],
    "params": { "applicationId": "objectid" },
    "creates_token": { "scope_field": "scope", "default_scopes": ["all.Application"] } },
  { "action": "token.get", "method": "GET", "path": "/applications/{applicationId}/tokens/{apiTokenId}",
    "scopes": ["all.Application", "token.get"],
    "params": { "applicationId": "objectid", "apiTokenId": "objectid" },
    "bind": [ { "param": "applicationId", "claim": "apps", "match": "member" } ] },
  { "action": "cert.get", "method": "GET", "path": "/certs/{fingerprint}",
    "scopes": ["cert.read"], "params": { "fingerprint": "string" },
    "bind": [ { "param": "fingerprint", "claim": "mtls.fingerprint" } ] },
  { "action": "subject.get", "method": "GET", "path": "/subjects/{subject}",
    "scopes": ["cert.read"], "params": { "subject": "string" },
    "bind": [ { "param": "subject", "claim": "mtls.subject" } ] },
  { "action": "echo.override", "method": "GET", "path": "/__test/echo/{x}",
    "scopes": ["echo"], "params": { "x": "string" }, "allow_query": ["_method"] },
  { "action": "echo.post", "method": "POST", "path": "/__test/echo/{x}",
    "scopes": ["echo"], "params": { "x": "string" } }
] }
EOT
GW_PORT=$(free_port)
TLS_PORT=$(free_port)
G2_PORT=$GW_PORT
cat > "$T/g2.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $G2_PORT },
    { "address": "127.0.0.1", "port": $TLS_PORT,
      "tls": { "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ],
               "client_auth": "optional", "client_ca": "pki/client-ca.pem" } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "log": { "access": "$T/access2.log" },
  "policy": "$T/policy.json", $TOKENS
}
EOT
check "own policy passes -t" "$SCOPEGATE" -t -c "$T/g2.json"
start_gateway "$T/g2.json"
wait_port "$TLS_PORT"
G2="http://127.0.0.1:$G2_PORT"
GT="https://localhost:$TLS_PORT"

# mint "scopes" [more scopegate-token options]
mint() {
	local sc=$1
	shift
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --sub user-1 \
	    --jti "jti-$RANDOM" --exp-in 600 --scope "$sc" "$@"
}

# call METHOD URL TOKEN [curl args]: prints the status; body in $T/r.json
call() {
	local m=$1 url=$2 tok=$3
	shift 3
	curl -s -o "$T/r.json" -w '%{http_code}' -X "$m" --cacert "$PKI/ca.pem" \
	    --resolve "localhost:$TLS_PORT:127.0.0.1" \
	    ${tok:+-H "Authorization: Bearer $tok"} "$@" "$url"
}

# forwarded "desc" STATUS METHOD URL TOKEN [curl args]: the status, and
# exactly one more request reached the upstream.
forwarded() {
	local desc=$1 want=$2 n0
	shift 2
	n0=$(record_count)
	expect_eq "$desc: status" "$want" "$(call "$@")"
	expect_eq "$desc: reached the upstream" "$((n0 + 1))" "$(record_count)"
}

# refused "desc" STATUS METHOD URL TOKEN [curl args]: the status, a JSON
# error body, and nothing reached the upstream.
refused() {
	local desc=$1 want=$2 n0
	shift 2
	n0=$(record_count)
	expect_eq "$desc: status" "$want" "$(call "$@")"
	expect_eq "$desc: nothing forwarded" "$n0" "$(record_count)"
	check "$desc: JSON error body" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d)=={"type","message"}' "$T/r.json"
}

J=(-H 'Content-Type: application/json')

# --- token creation: the upstream's defaults are what an omitted list grants -----
# Each of the three token-creating Losant actions, with a caller holding only
# the action's own scope, then one holding the owner's umbrella.
tc_cases() {
	local name=$1 url=$2 own=$3 umbrella=$4 created=$5
	local P A
	P=$(mint "$own")
	A=$(mint "$umbrella")
	refused "$name: scope omitted, default $umbrella beyond the caller" 403 POST "$url" "$P" "${J[@]}" -d '{"name":"x"}'
	check "$name: the 403 names the default" grep -q "$umbrella" "$T/r.json"
	refused "$name: scope null" 400 POST "$url" "$P" "${J[@]}" -d '{"name":"x","scope":null}'
	refused "$name: scope a string" 400 POST "$url" "$P" "${J[@]}" -d "{\"name\":\"x\",\"scope\":\"$own\"}"
	refused "$name: scope null, umbrella caller (the schema wants an array)" 400 POST "$url" "$A" "${J[@]}" -d '{"name":"x","scope":null}'
	forwarded "$name: empty scope list" "$created" POST "$url" "$P" "${J[@]}" -d '{"name":"x","scope":[]}'
	expect_eq "$name: the empty list reached the upstream as sent" '{"name":"x","scope":[]}' "$(json_get "$(last_line "$RECORD")" 'd["body"]')"
	forwarded "$name: the caller's own scope" "$created" POST "$url" "$P" "${J[@]}" -d "{\"name\":\"x\",\"scope\":[\"$own\"]}"
	forwarded "$name: scope omitted, default within the caller's scopes" "$created" POST "$url" "$A" "${J[@]}" -d '{"name":"x"}'
}
tc_cases "application token" "$G1/applications/$APP/tokens" applicationApiTokens.post all.Application 201
expect_eq "application token: the upstream filled in all.Application" '["all.Application"]' "$(json_get "$T/r.json" 'd["scope"]')"
# The example upstream has no /me or /instances routes: its own 404 proves
# the request reached it.
tc_cases "user token" "$G1/me/tokens" userApiTokens.post all.User 404
tc_cases "instance token" "$G1/instances/$INST/tokens" instanceApiTokens.post all.Instance 404
refused "user token: all.Organization is not all.User" 403 POST "$G1/me/tokens" \
    "$(mint "userApiTokens.post all.Organization all.Application")" "${J[@]}" -d '{"name":"x"}'

# --- the body is checked as UTF-8: no other charset (red team, issue 14) ----------
# Express's body-parser decodes any "utf-*" charset (iconv-lite), UTF-7
# included, where "+ACI-" is a quote: the gateway would check the name
# string, the upstream read a second "scope" member (the last one wins).
U="$G1/applications/$APP/tokens"
P=$(mint "applicationApiTokens.post device.get")
U7=$(python3 -c 'import sys,base64; print("".join(c if c.isalnum() else "+" + base64.b64encode(c.encode("utf-16-be")).decode().rstrip("=") + "-" for c in sys.argv[1]))' \
    'x","scope":["all.Application"],"description":"y')
B7="{\"scope\":[\"device.get\"],\"name\":\"$U7\"}"
expect_eq "UTF-7 body: read as UTF-7 it grants all.Application" '["all.Application"]' \
    "$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1].encode().decode("utf-7"))["scope"]))' "$B7")"
for ct in 'application/json; charset=utf-7' 'application/json;charset="UTF-7"' \
    'application/json; charset=utf-16' 'application/json; charset=iso-8859-1' \
    'application/json;x=1' 'application/json; charset=utf-8; x=1'; do
	refused "token creation, Content-Type $ct" 400 POST "$U" "$P" -H "Content-Type: $ct" --data-binary "$B7"
done
for ct in 'application/json' 'application/json; charset=utf-8' 'Application/JSON;charset="UTF-8"' \
    'application/json ; charset=UTF-8;'; do
	forwarded "token creation, Content-Type $ct" 201 POST "$U" "$P" -H "Content-Type: $ct" \
	    -d '{"name":"x","scope":["device.get"]}'
done

# A coded body is not the JSON that was checked: the upstream inflates it.
for ce in gzip deflate br 'identity, gzip' 'GZIP'; do
	refused "token creation, Content-Encoding: $ce" 415 POST "$U" "$P" "${J[@]}" \
	    -H "Content-Encoding: $ce" -d '{"name":"x","scope":["device.get"]}'
done
refused "token creation, two Content-Encoding fields" 415 POST "$U" "$P" "${J[@]}" \
    -H "Content-Encoding: identity" -H "Content-Encoding: identity" -d '{"name":"x","scope":["device.get"]}'
printf '{"name":"x","scope":["all.Application"]}' | gzip > "$T/gz.body"
refused "token creation, gzip body naming all.Application" 415 POST "$U" "$P" "${J[@]}" \
    -H "Content-Encoding: gzip" --data-binary @"$T/gz.body"
forwarded "token creation, Content-Encoding: identity" 201 POST "$U" "$P" "${J[@]}" \
    -H "Content-Encoding: identity" -d '{"name":"x","scope":["device.get"]}'

# --- scopes the policy does not know ---------------------------------------------
U="$G1/applications/$APP/tokens"
P=$(mint applicationApiTokens.post)
for s in application.debug flow.debug device.debug org.invoices me.connectGithub; do
	refused "unknown scope $s from a caller without it" 403 POST "$U" "$P" "${J[@]}" -d "{\"name\":\"x\",\"scope\":[\"$s\"]}"
done
refused "unknown scope with the read umbrella" 403 POST "$U" "$(mint "applicationApiTokens.post all.Application.read")" \
    "${J[@]}" -d '{"name":"x","scope":["application.debug"]}'
refused "unknown scope of another family" 403 POST "$U" "$(mint "applicationApiTokens.post application.*")" \
    "${J[@]}" -d '{"name":"x","scope":["flow.debug"]}'
refused "unknown scope outside all.Application" 403 POST "$U" "$(mint all.Application)" \
    "${J[@]}" -d '{"name":"x","scope":["org.invoices"]}'
forwarded "unknown scope held exactly" 201 POST "$U" "$(mint "applicationApiTokens.post application.debug")" \
    "${J[@]}" -d '{"name":"x","scope":["application.debug"]}'
forwarded "unknown scope covered by its family's X.*" 201 POST "$U" "$(mint "applicationApiTokens.post application.*")" \
    "${J[@]}" -d '{"name":"x","scope":["application.debug"]}'
forwarded "unknown scope covered by all.Application" 201 POST "$U" "$(mint all.Application)" \
    "${J[@]}" -d '{"name":"x","scope":["application.debug","device.debug","flow.debug"]}'
forwarded "org.invoices covered by all.Organization" 201 POST "$U" "$(mint all.Organization)" \
    "${J[@]}" -d '{"name":"x","scope":["org.invoices"]}'

# --- the same without a body schema: null and other spellings ---------------------
U2="$G2/applications/$APP/tokens"
P=$(mint applicationApiTokens.post)
A=$(mint all.Application)
refused "no schema: scope omitted" 403 POST "$U2" "$P" "${J[@]}" -d '{"name":"x"}'
refused "no schema: scope null" 403 POST "$U2" "$P" "${J[@]}" -d '{"name":"x","scope":null}'
refused "no schema: scope a string" 400 POST "$U2" "$P" "${J[@]}" -d '{"name":"x","scope":"applicationApiTokens.post"}'
refused "no schema: scope an object" 400 POST "$U2" "$P" "${J[@]}" -d '{"name":"x","scope":{"0":"all.Application"}}'
refused "no schema: scope a number" 400 POST "$U2" "$P" "${J[@]}" -d '{"name":"x","scope":1}'
refused "no schema: a nested array entry" 400 POST "$U2" "$A" "${J[@]}" -d '{"name":"x","scope":[["all.Application"]]}'
refused "no schema: Scope in another case" 400 POST "$U2" "$P" "${J[@]}" -d '{"name":"x","Scope":["all.Application"],"scope":[]}'
refused "no schema: duplicate scope members" 400 POST "$U2" "$P" "${J[@]}" -d '{"name":"x","scope":[],"scope":["all.Application"]}'
refused "no schema: body an array" 400 POST "$U2" "$P" "${J[@]}" -d '[{"name":"x"}]'
refused "no schema: not JSON" 400 POST "$U2" "$P" -H 'Content-Type: application/x-www-form-urlencoded' -d 'name=x'
refused "no schema: empty body" 400 POST "$U2" "$P" "${J[@]}"
refused "no schema: escaped name of a default" 403 POST "$U2" "$P" "${J[@]}" -d '{"name":"x","scope":["all.Applicatio\u006e"]}'
# The upstream refuses null itself (400), but it got it: the gateway let
# it through because all.Application may grant the default.
forwarded "no schema: scope null from an all.Application caller" 400 POST "$U2" "$A" "${J[@]}" -d '{"name":"x","scope":null}'
forwarded "no schema: scope omitted from an all.Application caller" 201 POST "$U2" "$A" "${J[@]}" -d '{"name":"x"}'
forwarded "no schema: an empty list" 201 POST "$U2" "$P" "${J[@]}" -d '{"name":"x","scope":[]}'

# The scopes to grant named in the query, where frameworks merging the
# query into the body would find them.
# "[scope][]=x" is {scope: ["x"]} to Node's qs (Express) and Rack (red team).
for q in "scope=all.Application" "scope[]=all.Application" "Scope%5B0%5D=all.Application" "a=1;scope=x" \
    "[scope][]=all.Application" "%5Bscope%5D=all.Application" "a=1&]]scope=x"; do
	refused "the scope member in the query: ?$q" 400 POST "$U2?$q" "$P" "${J[@]}" -d '{"name":"x","scope":[]}' -g
	refused "the Losant action: ?$q" 400 POST "$G1/applications/$APP/tokens?$q" "$P" "${J[@]}" -d '{"name":"x","scope":[]}' -g
done
forwarded "a query parameter that only starts like it: scopes" 201 POST "$U2?scopes=1" "$P" "${J[@]}" -d '{"name":"x","scope":[]}'

# A policy that does not say what the upstream grants by default does not
# load; a reload to one keeps the old policy, and the attack stays refused.
sed 's/, "default_scopes": \["all.Application"\]//' "$T/policy.json" > "$T/policy-nodefaults.json"
cp "$T/policy.json" "$T/policy-good.json"
check "a policy without default_scopes fails -t" bash -c "sed 's|$T/policy.json|$T/policy-nodefaults.json|' '$T/g2.json' > '$T/g2-bad.json' && ! '$SCOPEGATE' -t -c '$T/g2-bad.json' 2>'$T/t.err' && grep -q 'default_scopes' '$T/t.err'"
cp "$T/policy-nodefaults.json" "$T/policy.json"
check "reload to it fails" reload_and_wait
check "the reload failure is logged" grep -q 'reload failed' "$T/gateway.err"
refused "after the failed reload: scope omitted" 403 POST "$U2" "$P" "${J[@]}" -d '{"name":"x"}'
cp "$T/policy-good.json" "$T/policy.json"

# --- mtls.* bindings come from the TLS layer only ------------------------------------
FORGED=$(mint cert.read --claim "mtls={\"subject\":\"CN=x\",\"fingerprint\":\"$FP\"}")
refused "plain listener: a token claim mtls.fingerprint" 403 GET "$G2/certs/$FP" "$FORGED"
refused "plain listener: a token claim mtls.subject" 403 GET "$G2/subjects/CN=x" "$FORGED"
refused "TLS without a client certificate: claim mtls.fingerprint" 403 GET "$GT/certs/$FP" "$FORGED"
refused "TLS without a client certificate: claim mtls.subject" 403 GET "$GT/subjects/CN=x" "$FORGED"
OTHER=$(echo "$FP" | tr '0-9a-f' 'a-f0-9')
FORGED2=$(mint cert.read --claim "mtls={\"fingerprint\":\"$OTHER\"}")
refused "TLS with a client certificate: a claim naming another certificate" 403 GET "$GT/certs/$OTHER" "$FORGED2" \
    --cert "$PKI/client.pem" --key "$PKI/client.key"
# The example upstream has no /certs route: its 404 proves the request got there.
forwarded "TLS with the client certificate: its own fingerprint" 404 GET "$GT/certs/$FP" "$FORGED2" \
    --cert "$PKI/client.pem" --key "$PKI/client.key"
check "the log says why" grep -q '"reason":"binding_mismatch"' "$T/access2.log"

# --- array claims: the parameter must be a member ----------------------------------------
M=$(mint token.get --claim "apps=[\"$APP2\",\"$APP\"]")
forwarded "member binding: a listed application" 200 GET "$G2/applications/$APP/tokens/$TOK" "$M"
refused "member binding: an application not listed" 403 GET "$G2/applications/$APP3/tokens/$TOK" "$M"
refused "member binding: the id in upper case" 403 GET "$G2/applications/${APP^^}/tokens/$TOK" "$M"
refused "member binding: a string claim, not an array" 403 GET "$G2/applications/$APP/tokens/$TOK" \
    "$(mint token.get --claim "apps=\"$APP\"")"
refused "member binding: a nested array" 403 GET "$G2/applications/$APP/tokens/$TOK" \
    "$(mint token.get --claim "apps=[[\"$APP\"]]")"
refused "member binding: no claim" 403 GET "$G2/applications/$APP/tokens/$TOK" "$(mint token.get)"
# A token first used on an action without bindings is cached with its
# claims object not built yet (issue 21); on one keep-alive connection (one
# worker, one token cache) the binding of the next request builds it from
# the cached token and still refuses an application the claim does not list.
M2=$(mint "token.get echo" --claim "apps=[\"$APP\"]")
n0=$(record_count)
expect_eq "member binding after the cache: unbound action, then an unlisted application" \
    "200 403" "$(curl -s -o /dev/null -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $M2" \
    "$G2/__test/echo/x" "$G2/applications/$APP2/tokens/$TOK" | sed 's/ $//')"
expect_eq "member binding after the cache: only the unbound request reached the upstream" \
    "$((n0 + 1))" "$(record_count)"
expect_eq "member binding after the cache: the listed application" "200 200" \
    "$(curl -s -o /dev/null -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $M2" \
    "$G2/__test/echo/y" "$G2/applications/$APP/tokens/$TOK" | sed 's/ $//')"

# --- _method in the query -------------------------------------------------------------
R=$(mint "applicationApiTokens.get applicationApiToken.get applicationApiToken.delete")
L="$G1/applications/$APP/tokens"
for q in "_method=DELETE" "a=1&_method=DELETE" "a=1;_method=DELETE" "_METHOD=DELETE" \
    "%5Fmethod=DELETE" "_%6Dethod=DELETE" "_method%5B%5D=DELETE" "_method[]=DELETE" \
    ".method=DELETE" "+_method=DELETE" "_method" "[_method]=DELETE" "%5B_method%5D=DELETE"; do
	refused "?$q" 400 GET "$L?$q" "$R" -g
done
check "the log says method_override" grep -q '"reason":"method_override"' "$T/access.log"
refused "_method without a token: 400 before 401" 400 GET "$L?_method=DELETE" "" -g
refused "_method on a public action" 400 POST "$G1/auth/user?_method=GET" "" "${J[@]}" -d '{"email":"a@b.c","password":"long-enough"}'
refused "_method on a token-creating POST" 400 POST "$L?_method=PATCH" "$(mint all.Application)" "${J[@]}" -d '{"name":"x"}'
forwarded "a parameter that only starts like it: _methods" 200 GET "$L?_methods=1" "$R"
forwarded "a value _method" 200 GET "$L?a=_method" "$R"
E=$(mint echo)
forwarded "an action that allows _method" 200 GET "$G2/__test/echo/x?_method=DELETE" "$E"
expect_eq "its query reached the upstream unchanged" "/__test/echo/x?_method=DELETE" "$(json_get "$(last_line "$RECORD")" 'd["uri"]')"
refused "the same path, another action without it" 400 POST "$G2/__test/echo/x?_method=GET" "$E" "${J[@]}" -d '{}'

# --- explain agrees with the daemon --------------------------------------------------
ex() {
	"$SCOPEGATE" explain "$@" > "$T/ex.json"
	echo "$? $(json_get "$T/ex.json" 'd["status"]') $(json_get "$T/ex.json" 'd["reason"]')"
}
expect_eq "explain: scope omitted" "1 403 scope_escalation" \
    "$(ex -c "$T/g1.json" POST "/applications/$APP/tokens" --scopes applicationApiTokens.post --body - <<<'{"name":"x"}')"
expect_eq "explain: scope omitted, umbrella" "0 200 scope" \
    "$(ex -c "$T/g1.json" POST "/applications/$APP/tokens" --scopes all.Application --body - <<<'{"name":"x"}')"
expect_eq "explain: unknown scope held exactly" "0 200 scope" \
    "$(ex -c "$T/g1.json" POST "/applications/$APP/tokens" --scopes applicationApiTokens.post,flow.debug --body - <<<'{"name":"x","scope":["flow.debug"]}')"
expect_eq "explain: unknown scope not held" "1 403 scope_escalation" \
    "$(ex -c "$T/g1.json" POST "/applications/$APP/tokens" --scopes applicationApiTokens.post --body - <<<'{"name":"x","scope":["flow.debug"]}')"
expect_eq "explain: scope a string (no schema)" "1 400 token_scope" \
    "$(ex -c "$T/g2.json" POST "/applications/$APP/tokens" --scopes all.Application --body - <<<'{"name":"x","scope":"a"}')"
echo '{"name":"x","scope":null}' > "$T/body.json"
expect_eq "explain: scope null from a file (no schema)" "1 403 scope_escalation" \
    "$(ex -c "$T/g2.json" POST "/applications/$APP/tokens" --scopes applicationApiTokens.post --body "$T/body.json")"
expect_eq "explain: _method" "1 400 method_override" \
    "$(ex -c "$T/g1.json" GET "/applications/$APP/tokens?_method=DELETE" --scopes all.Application)"
expect_eq "explain: a token claim mtls (no certificate)" "1 403 binding_mismatch" \
    "$(ex -c "$T/g2.json" GET "/certs/$FP" --token "$FORGED")"
expect_eq "explain: the certificate given" "0 200 scope" \
    "$(ex -c "$T/g2.json" GET "/certs/$FP" --token "$FORGED" --client-cert-fingerprint "$FP")"
expect_eq "explain: member binding" "1 403 binding_mismatch" \
    "$(ex -c "$T/g2.json" GET "/applications/$APP3/tokens/$TOK" --token "$M")"

finish
