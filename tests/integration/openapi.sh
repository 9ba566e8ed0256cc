#!/usr/bin/env bash
# scopegate-policy from-openapi on real OpenAPI documents from the npm
# package @readme/oas-examples@8.2.2 (MIT; installed by setup.sh from
# tests/node/package-lock.json): the Swagger 2.0
# petstore (JSON, per-operation OAuth2 scopes write:pets+read:pets), the
# OpenAPI 3.0 petstore (YAML), the OpenAPI 3.1 petstore (YAML) and the 3.0
# security showcase (six oauth2 schemes, one chosen). Each written policy
# passes `scopegate -t`, and openapi_table.py checks every operation with
# `scopegate explain` against what the document says. The real daemon
# then serves the 3.0 petstore policy. Real documents the policy cannot
# express (3.1 train-travel's unevaluatedProperties) and hostile ones
# (reference cycles, a huge document, an alias bomb, duplicate
# operationIds, colliding templates, 3.1 keywords) fail with the JSON
# pointer named.
. "$(dirname "$0")/lib.sh"

POLICY_BIN="$top_builddir/scopegate-policy"
KEYS="$top_srcdir/tests/data/keys"
PKG=@readme/oas-examples
PKG_VERSION=8.2.2

node_package "$PKG"
EX="$NODE_MODULES/$PKG"
expect_eq "$PKG is $PKG_VERSION" "$PKG_VERSION" "$(json_get "$EX/package.json" 'd["version"]')"

GW_PORT=$(free_port)
UP_PORT=$(free_port)

# import NAME SPEC [options]: writes $T/NAME/policy.json and its config.
import() {
	local name=$1 spec=$2
	shift 2
	mkdir -p "$T/$name"
	"$POLICY_BIN" from-openapi "$spec" --out "$T/$name/policy.json" "$@" \
	    2> "$T/$name/stderr" || { cat "$T/$name/stderr"; return 1; }
	write_config "$T/$name/gw.json" "\"policy\": \"$T/$name/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] }"
	"$SCOPEGATE" -t -c "$T/$name/gw.json" > /dev/null
}

# table NAME DOC.json SCHEME: every operation through explain.
table() {
	python3 "$(dirname "$0")/openapi_table.py" "$2" "$3" "$SCOPEGATE" "$T/$1/gw.json"
}

check "2.0 petstore (JSON) imports and passes scopegate -t" import p20 "$EX/2.0/json/petstore.json"
check "2.0 petstore: every operation as the document says" table p20 "$EX/2.0/json/petstore.json" petstore_auth
check "2.0 petstore: the api_key-only operations are named as left out" \
    grep -q '/paths/~1store~1inventory/get: no security requirement scopegate can check' "$T/p20/stderr"
expect_eq "2.0 petstore: write AND read is one set" '[["write:pets", "read:pets"]]' \
    "$(json_get "$T/p20/policy.json" '[a["scopes"] for a in d["actions"] if a["action"] == "addPet"][0]')"
expect_eq "2.0 petstore: paths under its basePath /v2" "/v2/pet/{petId}" \
    "$(json_get "$T/p20/policy.json" '[a["path"] for a in d["actions"] if a["action"] == "deletePet"][0]')"
check "2.0 petstore: --base-path / puts the paths at the root" \
    "$POLICY_BIN" from-openapi "$EX/2.0/json/petstore.json" --base-path / --out "$T/root.json"
expect_eq "2.0 petstore: --base-path /" "/pet/{petId}" \
    "$(json_get "$T/root.json" '[a["path"] for a in d["actions"] if a["action"] == "deletePet"][0]')"
expect_eq "2.0 petstore: body parameter schema with its definitions" '["Category", "Pet", "Tag"]' \
    "$(json_get "$T/p20/schemas/addPet.json" 'sorted(d["definitions"])')"

check "3.0 petstore (YAML) imports and passes scopegate -t" import p30 "$EX/3.0/yaml/petstore.yaml"
check "3.0 petstore: every operation as the document says" table p30 "$EX/3.0/json/petstore.json" petstore_auth
check "3.1 petstore (YAML) imports and passes scopegate -t" import p31 "$EX/3.1/yaml/petstore.yaml"
check "3.1 petstore: every operation as the document says" table p31 "$EX/3.1/json/petstore.json" petstore_auth

if import sec "$EX/3.0/yaml/security.yaml" 2>/dev/null; then
	not_ok "security.yaml (six oauth2 schemes) without --security-scheme is refused"
else
	check "security.yaml without --security-scheme: choose one" \
	    grep -q 'security.yaml: /components/securitySchemes: 6 oauth2/openIdConnect schemes: choose one with --security-scheme' "$T/sec/stderr"
fi
check "security.yaml with --security-scheme oauth2_implicit" \
    import sec2 "$EX/3.0/yaml/security.yaml" --security-scheme oauth2_implicit
check "security.yaml: every operation as the document says for oauth2_implicit" \
    table sec2 "$EX/3.0/json/security.json" oauth2_implicit

# A real 3.1 document with a schema draft-04 cannot say.
if "$POLICY_BIN" from-openapi "$EX/3.1/yaml/train-travel.yaml" --out "$T/tt.json" 2> "$T/tt.err"; then
	not_ok "3.1 train-travel (unevaluatedProperties beside anyOf) is refused"
else
	check "3.1 train-travel refused naming keyword and pointer" grep -q \
	    'train-travel.yaml: /components/schemas/BookingPayment/properties/source/unevaluatedProperties: keyword "unevaluatedProperties" cannot be expressed in JSON Schema draft-04' "$T/tt.err"
	check "3.1 train-travel: nothing written" test ! -e "$T/tt.json"
fi

# Hostile documents: each refused, exit 1, the pointer named.
refuse() {
	local desc=$1 file=$2 want=$3 rc=0
	"$POLICY_BIN" from-openapi "$file" --out "$T/hostile.json" 2> "$T/hostile.err" || rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$want" "$T/hostile.err" && [ ! -e "$T/hostile.json" ]; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc): $(head -3 "$T/hostile.err")"
	fi
}
H=$T/hostile
mkdir -p "$H"
cat > "$H/cycle.yaml" <<'EOT'
openapi: 3.0.3
paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/A'}
components:
  schemas:
    A: {$ref: '#/components/schemas/B'}
    B: {$ref: '#/components/schemas/A'}
EOT
refuse "reference cycle" "$H/cycle.yaml" \
    'cycle.yaml: /components/schemas/A: reference cycle: /components/schemas/A -> /components/schemas/B -> /components/schemas/A'
cat > "$H/dupid.json" <<'EOT'
{"openapi": "3.0.0", "paths": {"/a": {"get": {"operationId": "x"}}, "/b": {"put": {"operationId": "x"}}}}
EOT
refuse "duplicate operationId" "$H/dupid.json" \
    'dupid.json: /paths/~1b/put/operationId: duplicate operationId "x" (also /paths/~1a/get/operationId)'
cat > "$H/collide.json" <<'EOT'
{"swagger": "2.0", "paths": {"/a/{x}": {"get": {}}, "/a/{y}": {"get": {}}}}
EOT
refuse "colliding templates" "$H/collide.json" \
    'collide.json: /paths/~1a~1{y}/get: GET /a/{y} matches the same paths as /a/{x} (/paths/~1a~1{x}/get)'
cat > "$H/kw31.yaml" <<'EOT'
openapi: 3.1.0
paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                tags: {type: array, prefixItems: [{type: string}]}
EOT
refuse "unsupported 3.1 keyword" "$H/kw31.yaml" \
    'kw31.yaml: /paths/~1a/post/requestBody/content/application~1json/schema/properties/tags/prefixItems: keyword "prefixItems" cannot be expressed in JSON Schema draft-04'
python3 - "$H/bomb.yaml" <<'EOT'
import sys
with open(sys.argv[1], "w") as f:
    f.write("openapi: 3.0.0\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
    for i in range(1, 10):
        f.write("x%d: &x%d [%s]\n" % (i, i, ", ".join(["*x%d" % (i - 1)] * 9)))
    f.write("paths: {}\n")
EOT
refuse "YAML alias bomb" "$H/bomb.yaml" 'bomb.yaml:3:10: aliases (*x0) are not supported'
python3 - "$H/huge.json" <<'EOT'
import sys
# 65 MiB: beyond what the tool reads
with open(sys.argv[1], "w") as f:
    f.write('{"openapi": "3.0.0", "paths": {}, "x": "')
    f.write("a" * (65 * 1024 * 1024))
    f.write('"}')
EOT
refuse "huge document" "$H/huge.json" 'huge.json: larger than 67108864 bytes'
rm -f "$H/huge.json"
python3 - "$H/deep.yaml" <<'EOT'
import sys
open(sys.argv[1], "w").write("openapi: 3.0.0\npaths: {}\nx: " + "[" * 100000 + "]" * 100000 + "\n")
EOT
refuse "deeply nested YAML" "$H/deep.yaml" 'nested deeper than 64 levels'

# The shared writer on its own: what gen-policy.py hands it is checked.
printf '%s' '{"actions": [{"action": "a", "method": "GET", "path": "/a", "public": true},
  {"action": "a", "method": "PUT", "path": "/a", "scopes": ["s"]},
  {"action": "b", "method": "GET", "path": "/b", "scopes": ["s"], "public": true},
  {"action": "c", "method": "GET", "path": "/c", "scopes": ["s"], "colour": 1}]}' > "$H/actions.json"
rc=0
"$POLICY_BIN" from-actions "$H/actions.json" --out "$T/w.json" 2> "$T/w.err" || rc=$?
expect_eq "from-actions refuses a bad list" 1 "$rc"
check "from-actions: duplicate action named" grep -qF '/actions/1: duplicate action "a" (also /actions/0)' "$T/w.err"
check "from-actions: public with scopes named" grep -qF '/actions/2: must be either public or list scopes' "$T/w.err"
check "from-actions: unknown key named" grep -qF '/actions/3/colour: unknown action key' "$T/w.err"
check "from-actions: nothing written" test ! -e "$T/w.json"

# The real daemon with the 3.0 petstore policy.
start_upstream up
write_config "$T/p30/gw.json" "\"policy\": \"$T/p30/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] }"
start_gateway "$T/p30/gw.json"
mint() {
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --jti "$1" --scope "$2"
}
BOTH=$(mint t1 "write:pets read:pets")
WRITE=$(mint t2 "write:pets")
PET='{"name": "doggie", "photoUrls": ["http://example.com/d.png"], "status": "available"}'
req() { # req TOKEN METHOD PATH [BODY]: prints the status
	local tok=$1 m=$2 p=$3 body=${4:-}
	curl -s -o "$T/resp" -w '%{http_code}' -X "$m" ${tok:+-H "Authorization: Bearer $tok"} \
	    ${body:+-H "Content-Type: application/json" --data-binary "$body"} \
	    "http://127.0.0.1:$GW_PORT$p"
}
n0=$(record_count)
expect_eq "POST /v2/pet with write:pets and read:pets: forwarded" 1 \
    "$( [ "$(req "$BOTH" POST /v2/pet "$PET")" != 403 ] && echo $(( $(record_count) - n0 )) )"
n0=$(record_count)
expect_eq "POST /v2/pet with write:pets only: 403" 403 "$(req "$WRITE" POST /v2/pet "$PET")"
expect_eq "POST /v2/pet with write:pets only: nothing reached the upstream" "$n0" "$(record_count)"
expect_eq "POST /v2/pet with a body the schema refuses (no photoUrls): 400" 400 \
    "$(req "$BOTH" POST /v2/pet '{"name": "doggie"}')"
expect_eq "POST /v2/pet with a nullable-free wrong type (name: 5): 400" 400 \
    "$(req "$BOTH" POST /v2/pet '{"name": 5, "photoUrls": []}')"
expect_eq "DELETE /v2/pet/abc (integer petId): 400" 400 "$(req "$BOTH" DELETE /v2/pet/abc)"
expect_eq "GET /v2/pet/42 (api_key only, left out): 405" 405 "$(req "$BOTH" GET /v2/pet/42)"
expect_eq "GET /v2/store/inventory (api_key only, left out): 404" 404 "$(req "$BOTH" GET /v2/store/inventory)"
expect_eq "the refused requests reached nothing" "$n0" "$(record_count)"
expect_eq "GET /v2/user/logout (public): forwarded without a token" 1 \
    "$( [ "$(req "" GET /v2/user/logout)" != 401 ] && echo $(( $(record_count) - n0 )) )"
finish
