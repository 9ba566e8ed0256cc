#!/usr/bin/env bash
# The official Losant JS client (npm losant-rest, pinned) pointed at the
# gateway with createClient({ accessToken, url }): allowed calls return the
# example upstream's answers, denied ones surface the gateway's 403/400/401
# in the client's error. The package is pinned in tests/node (./setup.sh deps).
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111

node_package losant-rest

start_upstream up
GW_PORT=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] }"
start_gateway "$T/gw.json"
mint() {
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --jti "$1" --scope "$2"
}
READER=$(mint r1 "applicationApiToken.get applicationApiTokens.get")
ADMIN=$(mint a1 "all.Application")
POSTER=$(mint p1 "applicationApiTokens.post")

NODE_PATH="$NODE_MODULES" timeout 60 node "$(dirname "$0")/losant_client.js" \
    "http://127.0.0.1:$GW_PORT" "$APP" "$TOK" "$READER" "$ADMIN" "$POSTER" > "$T/out.json"
check "the client ran" test -s "$T/out.json"
r() { json_get "$T/out.json" "$1"; }
expect_eq "applicationApiToken.get allowed: the upstream's apiToken" "$TOK" "$(r 'd["getAllowed"]["result"]["id"]')"
expect_eq "applicationApiTokens.get allowed: a list" true "$(r 'd["listAllowed"]["result"]["count"] >= 1')"
expect_eq "applicationApiToken.patch without the scope: 403 in the client" "403 Forbidden" \
    "$(r 'str(d["patchDenied"]["statusCode"]) + " " + d["patchDenied"]["type"]')"
expect_eq "applicationApiToken.patch allowed" renamed "$(r 'd["patchAllowed"]["result"]["name"]')"
expect_eq "applicationApiToken.patch invalid body: 400" "400 BadRequest" \
    "$(r 'str(d["patchInvalid"]["statusCode"]) + " " + d["patchInvalid"]["type"]')"
expect_eq "applicationApiTokens.post escalating: 403" 403 "$(r 'd["postEscalation"]["statusCode"]')"
expect_eq "applicationApiTokens.post within the caller's scopes: created" true \
    "$(r 'd["postAllowed"]["ok"] and len(d["postAllowed"]["result"]["id"]) == 24')"
expect_eq "applicationApiToken.delete without the scope: 403" 403 "$(r 'd["deleteDenied"]["statusCode"]')"
expect_eq "applicationApiToken.delete allowed" true "$(r 'd["deleteAllowed"]["result"]["success"]')"
expect_eq "no token: 401 Unauthorized" "401 Unauthorized" \
    "$(r 'str(d["noToken"]["statusCode"]) + " " + d["noToken"]["type"]')"
finish
