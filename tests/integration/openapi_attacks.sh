#!/bin/bash
# openapi_attacks.sh: hostile OpenAPI documents for scopegate-policy
# from-openapi (red team). An operation's security written through a YAML
# 1.1 merge key ("<<: {security: ...}") is security to the parsers that
# implement merge keys (PyYAML, js-yaml, SnakeYAML); read as a literal "<<"
# member it vanished and the operation became public without a warning.
# The importer now refuses the document; the same security written plainly
# makes the route need the scope at the real daemon.
. "$(dirname "$0")/lib.sh"
POLICY_BIN="$top_builddir/scopegate-policy"

doc() {	# doc FILE OPERATION-SECURITY-LINE
	cat > "$1" <<EOT
openapi: 3.0.3
info: {title: t, version: "1"}
components:
  securitySchemes:
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: "https://x/t", scopes: {admin: a}}}}
paths:
  /admin:
    delete:
      $2
      responses: {"204": {description: ok}}
EOT
}

doc "$T/merge.yaml" '<<: {security: [{oauth: [admin]}]}'
"$POLICY_BIN" from-openapi "$T/merge.yaml" --out "$T/merge.json" 2>"$T/merge.err"
expect_eq "merge key: refused" 1 "$?"
check "merge key: the error names it" grep -q 'merge.yaml:9:7: merge keys (<<) are not supported' "$T/merge.err"
check "merge key: no policy written" test ! -e "$T/merge.json"
doc "$T/merge2.yaml" '<<: {security: []}'
"$POLICY_BIN" from-openapi "$T/merge2.yaml" --out "$T/merge2.json" 2>/dev/null
expect_eq "merge key (any content): refused" 1 "$?"
# A quoted "<<" is a plain string key, not a merge: it is read (and ignored).
doc "$T/quoted.yaml" 'security: [{oauth: [admin]}]
      "<<": 1'
"$POLICY_BIN" from-openapi "$T/quoted.yaml" --out "$T/quoted.json" 2>/dev/null
expect_eq "quoted \"<<\": converted" 0 "$?"

# Control, through the daemon: the security written plainly holds.
doc "$T/plain.yaml" 'security: [{oauth: [admin]}]'
"$POLICY_BIN" from-openapi "$T/plain.yaml" --out "$T/plain.json" 2>/dev/null
expect_eq "plain security: converted" 0 "$?"
head -c 32 /dev/urandom | base64 > "$T/hmac.key"
chmod 600 "$T/hmac.key"
start_upstream up
GW_PORT=$(free_port)
write_config "$T/gw.json" '"policy": "'"$T"'/plain.json",
  "tokens": {"keys": [{"file": "'"$T"'/hmac.key", "type": "hmac", "kid": "h1", "algs": ["HS256"]}]}'
start_gateway "$T/gw.json" || { not_ok "gateway started"; finish; }
expect_eq "plain security: DELETE without a token is 401" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$GW_PORT/admin")"
TOK=$("$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid h1 --sub s --scope other --exp-in 600)
expect_eq "plain security: DELETE without the scope is 403" 403 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOK" \
    "http://127.0.0.1:$GW_PORT/admin")"
expect_eq "plain security: nothing reached the upstream" 0 "$(record_count)"
finish
