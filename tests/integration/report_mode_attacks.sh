#!/bin/bash
# report_mode_attacks.sh: attacks on report mode (red team). A token-creating
# action in report mode with a body schema: a body that fails the schema is
# forwarded (body_schema is relaxed), but the scopes to grant in it must
# still be read as the upstream reads them. token_scope (the scope member
# spelled in another case, not an array, a body that is no object) is never
# relaxed: refused 400, nothing reaches the upstream. Before the fix the
# schema's refusal skipped the grant check and these bodies went through.
. "$(dirname "$0")/lib.sh"

head -c 32 /dev/urandom | base64 > "$T/hmac.key"
chmod 600 "$T/hmac.key"
mkdir -p "$T/schemas"
echo '{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}' \
    > "$T/schemas/tok.json"
cat > "$T/policy.json" <<EOT
{"schemas_dir":"$T/schemas","actions":[
 {"action":"tok.create","method":"POST","path":"/tokens","scopes":["tok.write"],
  "body":{"schema":"tok"},
  "creates_token":{"scope_field":"scope","default_scopes":["tok.write"]}}]}
EOT
start_upstream up
GW_PORT=$(free_port)
write_config "$T/gw.json" '"policy": "'"$T"'/policy.json",
  "tokens": {"keys": [{"file": "'"$T"'/hmac.key", "type": "hmac", "kid": "h1", "algs": ["HS256"]}]},
  "report_only": ["tok.*"]'
start_gateway "$T/gw.json" || { not_ok "gateway started"; finish; }
TOK=$("$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid h1 --sub bob --jti j2 \
    --scope tok.write --exp-in 3600)

post() {
	curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
	    -H 'Content-Type: application/json' --data-binary "$1" \
	    "http://127.0.0.1:$GW_PORT/tokens"
}

# Each fails the schema (no "name") and carries a bad scope member.
for body in '{"Scope":["admin"]}' '{"SCOPE":["admin"],"scope":null}' \
    '{"scope":"admin root"}' '{"scope":[1]}' '["name"]'; do
	before=$(record_count)
	expect_eq "schema failure + bad scopes $body: 400" 400 "$(post "$body")"
	expect_eq "schema failure + bad scopes $body: token_scope" token_scope \
	    "$(json_get "$(last_line "$T/access.log")" 'd["reason"]')"
	expect_eq "schema failure + bad scopes $body: nothing reached the upstream" \
	    "$before" "$(record_count)"
done

# The relaxed refusals still go through, reported: the schema first.
before=$(record_count)
post '{"scope":["admin"]}' >/dev/null
expect_eq "schema failure + escalation: forwarded" $((before + 1)) "$(record_count)"
expect_eq "schema failure + escalation: would_deny body_schema" "would_deny body_schema" \
    "$(json_get "$(last_line "$T/access.log")" 'd["decision"] + " " + d["reason"]')"
post '{"name":"x","scope":["admin"]}' >/dev/null
expect_eq "escalation alone: would_deny scope_escalation" "would_deny scope_escalation" \
    "$(json_get "$(last_line "$T/access.log")" 'd["decision"] + " " + d["reason"]')"
finish
