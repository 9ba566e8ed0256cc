#!/usr/bin/env bash
# Hostile clients against the real daemon: message framing, request-line
# and target tricks, method overrides, header spoofing, token attacks,
# request smuggling, body/header limits, slow clients and the connection
# limit. The gateway runs the shipped Losant policy with real keys; the
# example upstream records every request that reaches it, and every case
# checks both the client's answer (sent and read byte for byte by
# rawhttp.py) and that nothing it should not have forwarded got there.
#
# Cases the gateway does not pass yet are listed in KNOWN_FAILURES (check
# id|what goes wrong). They are reported as "# KNOWN FAILURE" lines and in
# a summary at the end, and do not fail the run; a listed check that passes
# is reported as "# UNEXPECTED PASS" so the list can be trimmed.
. "$(dirname "$0")/lib.sh"

KNOWN_FAILURES=(
	# None at present.
)

RAWHTTP="$top_srcdir/tests/integration/rawhttp.py"
# Every answer any case gets is kept, to check at the end that none is
# libevent's HTML error page (or any other non-JSON body).
export RAWHTTP_ANSWERS="$T/answers.jsonl"
KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
SMUG=5f5555555555555555555555
NOW=$(date +%s)

declare -A KF=()
for e in "${KNOWN_FAILURES[@]}"; do
	KF["${e%%|*}"]="${e#*|}"
done
KF_HIT=()
XPASS=()
NCASES=0

# verdict ID DESC PASS(1|0) DETAIL: one assertion, aware of KNOWN_FAILURES.
verdict() {
	local id=$1 desc=$2 pass=$3 detail=$4
	if [ "$pass" = 1 ]; then
		ok "$desc [$id]"
		if [ -n "${KF[$id]+x}" ]; then
			XPASS+=("$id")
			echo "# UNEXPECTED PASS: [$id] is in KNOWN_FAILURES: remove it"
		fi
	elif [ -n "${KF[$id]+x}" ]; then
		KF_HIT+=("[$id] $desc: $detail -- ${KF[$id]}")
		echo "# KNOWN FAILURE: [$id] $desc: $detail -- ${KF[$id]}"
	else
		not_ok "$desc [$id] ($detail)"
	fi
}

# kexpect ID DESC EXPECTED ACTUAL
kexpect() {
	if [ "$3" = "$4" ]; then verdict "$1" "$2" 1 ""; else verdict "$1" "$2" 0 "expected '$3', got '$4'"; fi
}

# kmatch ID DESC ERE ACTUAL: the whole of ACTUAL matches ERE.
kmatch() {
	if [[ $4 =~ ^($3)$ ]]; then verdict "$1" "$2" 1 ""; else verdict "$1" "$2" 0 "expected /$3/, got '$4'"; fi
}

raw() {
	timeout 60 python3 "$RAWHTTP" --port "$GW_PORT" "$@"
}

# refuse ID DESC WANT_ERE RAWHTTP_ARGS...: one check: the answer matches
# WANT_ERE and nothing more reached the upstream.
refuse() {
	local id=$1 desc=$2 want=$3 n0 got n1
	shift 3
	NCASES=$((NCASES + 1))
	n0=$(record_count)
	got=$(raw "$@")
	n1=$(record_count)
	if [[ $got =~ ^($want)$ ]] && [ "$n1" = "$n0" ]; then
		verdict "$id" "$desc: $want, not forwarded" 1 ""
	else
		verdict "$id" "$desc: $want, not forwarded" 0 "answered '$got', forwarded $((n1 - n0))"
	fi
}

# admit ID DESC WANT_ERE RAWHTTP_ARGS...: the answer matches and exactly
# one request reached the upstream.
admit() {
	local id=$1 desc=$2 want=$3 n0 got n1
	shift 3
	NCASES=$((NCASES + 1))
	n0=$(record_count)
	got=$(raw "$@")
	n1=$(record_count)
	if [[ $got =~ ^($want)$ ]] && [ "$n1" = $((n0 + 1)) ]; then
		verdict "$id" "$desc: $want, forwarded once" 1 ""
	else
		verdict "$id" "$desc: $want, forwarded once" 0 "answered '$got', forwarded $((n1 - n0))"
	fi
}

# smuggle ID DESC WANT_ERE RAWHTTP_ARGS...: read every answer until the
# connection ends (WANT_ERE is matched against e.g. "400 closed"); the
# hidden request ($SMUG) must never reach the upstream as a request (it
# may appear inside a forwarded body).
smuggle() {
	local id=$1 desc=$2 want=$3 got s0 s1
	shift 3
	NCASES=$((NCASES + 1))
	s0=$(smuggled_count)
	got=$(raw --all --timeout 1.5 "$@")
	s1=$(smuggled_count)
	if [[ $got =~ ^($want)$ ]] && [ "$s1" = "$s0" ]; then
		verdict "$id" "$desc: '$want', hidden request never forwarded" 1 ""
	else
		verdict "$id" "$desc: '$want', hidden request never forwarded" 0 \
		    "answers '$got', hidden request forwarded $((s1 - s0)) time(s)"
	fi
}

smuggled_count() {
	python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if sys.argv[2] in json.loads(l)["uri"]))' "$RECORD" "$SMUG"
}

# Last recorded request: python expression over d.
last_rec() {
	json_get "$(last_line "$RECORD")" "$1"
}

# --- keys, tokens, daemons ---------------------------------------------------
python3 - "$KEYS/jwks.json" > "$T/jwks.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["keys"] = [k for k in d["keys"] if k["kty"] != "oct"]
print(json.dumps(d))
PY
install -m 600 "$KEYS/hmac256.key" "$T/hmac.key"
install -m 600 "$KEYS/rsa.pem" "$T/rsa-pem-as-secret.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/other.key" 2>/dev/null
chmod 600 "$T/other.key"

mint() {
	local key=$1 alg=$2 kid=$3
	shift 3
	"$TOKEN_BIN" --key "$key" --alg "$alg" --kid "$kid" --iss https://issuer.test \
	    --aud scopegate --sub user-1 --jti "jti-$RANDOM" --exp-in 600 "$@"
}
b64u() {
	base64 -w0 | tr '+/' '-_' | tr -d '='
}

GETTOK=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "all.User.read")
PATCHTOK=$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope "applicationApiToken.patch")

start_upstream up
GW_PORT=$(free_port)
TOKENS_CONF="\"tokens\": {
    \"keys\": [ { \"jwks\": \"$T/jwks.json\" },
              { \"file\": \"$T/hmac.key\", \"type\": \"hmac\", \"kid\": \"hs1\", \"algs\": [\"HS256\"] } ],
    \"issuers\": [\"https://issuer.test\"], \"audiences\": [\"scopegate\"] }"
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  $TOKENS_CONF,
  \"limits\": { \"max_body_bytes\": 65536, \"max_header_bytes\": 16384 }"
check "hostile config passes -t" "$SCOPEGATE" -t -c "$T/gw.json"
start_gateway "$T/gw.json"
GW="http://127.0.0.1:$GW_PORT"

P="/applications/$APP/tokens/$TOK"
H='Host: gw\r\n'
AG="Authorization: Bearer $GETTOK\\r\\n"
AP="Authorization: Bearer $PATCHTOK\\r\\n"
CT='Content-Type: application/json\r\n'
B='{"name":"hostile"}'			# 18 bytes = 0x12
GETREQ="GET $P HTTP/1.1\\r\\n$H$AG\\r\\n"
SMUGREQ="GET /applications/$APP/tokens/$SMUG HTTP/1.1\\r\\nHost: gw\\r\\n$AG\\r\\n"
SMUGLEN=$(printf "$SMUGREQ" | wc -c)
# Framing cases POST to device.export: a read scope is enough and it has no
# body schema, so the gateway's body validation cannot mask what the
# framing did (the example upstream answers it 404, after recording it).
EXP="/applications/$APP/devices/5f2222222222222222222222/export"
POSTHEAD="POST $EXP HTTP/1.1\\r\\n$H$AG$CT"
FWD=404
CHUNKED="12\\r\\n$B\\r\\n0\\r\\n\\r\\n"

# --- sanity: the same requests, well formed, are served -------------------------
admit base-get "well-formed GET" 200 "$GETREQ"
admit base-patch "well-formed PATCH (body schema validated)" 200 \
    "PATCH $P HTTP/1.1\\r\\n$H$AP${CT}Content-Length: 18\\r\\n\\r\\n$B"
admit base-post-cl "well-formed POST with Content-Length" $FWD "${POSTHEAD}Content-Length: 18\\r\\n\\r\\n$B"
kexpect base-post-cl/body "Content-Length body reached the upstream" "$B" "$(last_rec 'd["body"]')"
admit base-post-chunked "well-formed POST, chunked" $FWD "${POSTHEAD}Transfer-Encoding: chunked\\r\\n\\r\\n$CHUNKED"
kexpect base-post-chunked/body "chunked body reached the upstream de-chunked" "$B" "$(last_rec 'd["body"]')"
admit base-pieces "request split in timed pieces (CR | LF split)" 200 --delay 100 \
    "GET $P HTTP/1.1\\r" "\\nHost: gw\\r\\n$AG" "\\r\\n"
admit base-trickle "request sent one byte every 2 ms" 200 --trickle 2 "$GETREQ"

# --- framing ----------------------------------------------------------------------
refuse cl-te "Content-Length and Transfer-Encoding" 400 \
    "${POSTHEAD}Content-Length: 18\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n$CHUNKED"
refuse te-cl "Transfer-Encoding and Content-Length" 400 \
    "${POSTHEAD}Transfer-Encoding: chunked\\r\\nContent-Length: 18\\r\\n\\r\\n$CHUNKED"
refuse cl-dup-same "two Content-Length, same value" 400 \
    "${POSTHEAD}Content-Length: 18\\r\\nContent-Length: 18\\r\\n\\r\\n$B"
refuse cl-dup-diff "two Content-Length, different values" 400 \
    "${POSTHEAD}Content-Length: 18\\r\\nContent-Length: 5\\r\\n\\r\\n$B"
refuse cl-list "Content-Length: 18, 18" 400 \
    "${POSTHEAD}Content-Length: 18, 18\\r\\n\\r\\n$B"
refuse cl-plus "Content-Length: +18" 400 \
    "${POSTHEAD}Content-Length: +18\\r\\n\\r\\n$B"
refuse cl-negative "Content-Length: -1" 400 \
    "${POSTHEAD}Content-Length: -1\\r\\n\\r\\n$B"
refuse cl-space-colon "Content-Length : 18 (space before the colon)" 400 \
    "${POSTHEAD}Content-Length : 18\\r\\n\\r\\n$B"

# te_case ID DESC VALUE: a Transfer-Encoding that is not exactly "chunked"
# (and not chunked with optional whitespace) must be refused: 400, or 501
# for a coding we do not implement.
te_case() {
	refuse "$1" "$2" '400|501' "${POSTHEAD}Transfer-Encoding: $3\\r\\n\\r\\n$CHUNKED"
}
te_case te-chunked-identity "TE: chunked, identity" "chunked, identity"
te_case te-xchunked "TE: xchunked" "xchunked"
te_case te-identity "TE: identity" "identity"
te_case te-gzip-chunked "TE: gzip, chunked (coding we do not decode)" "gzip, chunked"
refuse te-two-fields "two Transfer-Encoding fields (chunked, identity)" '400|501' \
    "${POSTHEAD}Transfer-Encoding: chunked\\r\\nTransfer-Encoding: identity\\r\\n\\r\\n$CHUNKED"

# te_ows ID DESC VALUE: "chunked" with optional whitespace (RFC 9110 5.6.3)
# or in another case (codings are case-insensitive, RFC 9112 7) is either
# read as chunked (200, the body reaches the upstream intact) or refused
# (400, nothing forwarded): never forwarded without its body.
te_ows() {
	local id=$1 desc=$2 n0 got
	NCASES=$((NCASES + 1))
	n0=$(record_count)
	got=$(raw "${POSTHEAD}Transfer-Encoding: $3\\r\\n\\r\\n$CHUNKED")
	if [ "$got" = $FWD ] && [ "$(record_count)" = $((n0 + 1)) ] &&
	    [ "$(last_rec 'd["body"]')" = "$B" ]; then
		verdict "$id/status" "$desc: read as chunked, body intact" 1 ""
		echo "# note: $desc is accepted as chunked"
	elif [ "$got" = 400 ] && [ "$(record_count)" = "$n0" ]; then
		verdict "$id/status" "$desc: refused" 1 ""
		echo "# note: $desc is refused"
	else
		verdict "$id/status" "$desc: chunked with its body or 400" 0 \
		    "answer $got, forwarded $(($(record_count) - n0)), body '$(last_rec 'd["body"]')'"
	fi
}
te_ows te-leading-space "TE: ' chunked' (leading space)" " chunked"
te_ows te-trailing-tab "TE: 'chunked<TAB>' (trailing tab)" "chunked\\t"
te_ows te-tab "TE: '<TAB>chunked' (leading tab)" "\\tchunked"
te_ows te-case "TE: Chunked" "Chunked"
refuse fold-te "Transfer-Encoding folded onto a continuation line" 400 \
    "${POSTHEAD}Transfer-Encoding:\\r\\n chunked\\r\\n\\r\\n$CHUNKED"
# Decision: obsolete line folding is refused outright (RFC 9112 5.2 allows
# either 400 or replacing it by SP; refusing leaves nothing to interpret).
refuse fold-header "obs-fold continuation line in an ordinary field" 400 \
    "GET $P HTTP/1.1\\r\\n${H}X-Folded: a\\r\\n b\\r\\n$AG\\r\\n"

# chunk sizes
chunk_case() {
	refuse "$1" "$2" '400|413' "${POSTHEAD}Transfer-Encoding: chunked\\r\\n\\r\\n$3"
}
chunk_case chunk-0x "chunk size 0x12" "0x12\\r\\n$B\\r\\n0\\r\\n\\r\\n"
chunk_case chunk-negative "chunk size -1" "-1\\r\\n$B\\r\\n0\\r\\n\\r\\n"
chunk_case chunk-huge "chunk size ffffffffffffffffff" "ffffffffffffffffff\\r\\n$B\\r\\n0\\r\\n\\r\\n"
chunk_case chunk-junk "chunk size 12zz" "12zz\\r\\n$B\\r\\n0\\r\\n\\r\\n"
chunk_case chunk-no-crlf "chunk data without its CRLF" "12\\r\\n${B}0\\r\\n\\r\\n"
# Trailer fields are not request headers (RFC 9110 6.5.1): an Authorization
# trailer must not authenticate a request that came without a token.
refuse trailer-auth "Authorization sent as a chunked trailer" 401 \
    "POST $EXP HTTP/1.1\\r\\n$H${CT}Transfer-Encoding: chunked\\r\\n\\r\\n12\\r\\n$B\\r\\n0\\r\\nAuthorization: Bearer $GETTOK\\r\\n\\r\\n"

# field lines with NUL, CR, odd names
refuse nul-value "NUL inside a field value" 400 "GET $P HTTP/1.1\\r\\n${H}X-A: a\\x00b\\r\\n$AG\\r\\n"
refuse nul-name "NUL inside a field name" 400 "GET $P HTTP/1.1\\r\\n${H}X-\\x00A: a\\r\\n$AG\\r\\n"
refuse cr-value "bare CR inside a field value" 400 "GET $P HTTP/1.1\\r\\n${H}X-A: a\\rb\\r\\n$AG\\r\\n"
refuse cr-name "bare CR inside a field name" 400 "GET $P HTTP/1.1\\r\\n${H}X-\\rA: a\\r\\n$AG\\r\\n"
refuse cr-eol "bare CR as a line end" 400 "GET $P HTTP/1.1\\r\\n${H}X-A: a\\rX-B: b\\r\\n$AG\\r\\n"
refuse no-colon "field line without a colon" 400 "GET $P HTTP/1.1\\r\\n${H}garbage\\r\\n$AG\\r\\n"
refuse name-space "space inside a field name" 400 "GET $P HTTP/1.1\\r\\n${H}X Foo: a\\r\\n$AG\\r\\n"
refuse name-empty "empty field name" 400 "GET $P HTTP/1.1\\r\\n$H: a\\r\\n$AG\\r\\n"

# request lines
refuse rl-absolute "absolute-form target" 400 "GET http://127.0.0.1:$UP_PORT$P HTTP/1.1\\r\\n$H$AG\\r\\n"
refuse rl-asterisk "asterisk-form target" '400|405|501' "OPTIONS * HTTP/1.1\\r\\n$H$AG\\r\\n"
refuse rl-http2 "HTTP/2.0 request line" '400|505' "GET $P HTTP/2.0\\r\\n$H$AG\\r\\n"
refuse rl-extra "HTTP/1.1 followed by a word" 400 "GET $P HTTP/1.1 extra\\r\\n$H$AG\\r\\n"
refuse rl-two-spaces "two spaces after the method" 400 "GET  $P HTTP/1.1\\r\\n$H$AG\\r\\n"
refuse rl-lower-version "lowercase http/1.1" 400 "GET $P http/1.1\\r\\n$H$AG\\r\\n"
refuse rl-no-version "no HTTP version" '400|closed' "GET $P\\r\\n$H$AG\\r\\n"
refuse version-0.9 "HTTP/0.9 with a version" '400|505' "GET $P HTTP/0.9\\r\\n$H$AG\\r\\n"
refuse rl-tabs "tabs instead of spaces" 400 "GET\\t$P\\tHTTP/1.1\\r\\n$H$AG\\r\\n"

# --- smuggling: a second request inside a body -----------------------------------
BODY0="0\\r\\n\\r\\n$SMUGREQ"
BODY0LEN=$((5 + SMUGLEN))
smuggle smuggle-cl-te "CL.TE: Content-Length covers a request after the last chunk" '400 closed' \
    "${POSTHEAD}Content-Length: $BODY0LEN\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n$BODY0"
smuggle smuggle-te-cl "TE.CL: the same, fields swapped" '400 closed' \
    "${POSTHEAD}Transfer-Encoding: chunked\\r\\nContent-Length: $BODY0LEN\\r\\n\\r\\n$BODY0"
smuggle smuggle-cl-cl "CL.CL: Content-Length 0 then the body's length" '400 closed' \
    "${POSTHEAD}Content-Length: 0\\r\\nContent-Length: $SMUGLEN\\r\\n\\r\\n$SMUGREQ"
smuggle smuggle-head-cl "HEAD with a Content-Length body holding a request" '[0-9]+ (closed|timeout)' --head \
    "HEAD $P HTTP/1.1\\r\\n$H${AG}Content-Length: $SMUGLEN\\r\\n\\r\\n$SMUGREQ"
smuggle smuggle-te-identity "TE: identity, the body is a request" '(400|501) closed' \
    "${POSTHEAD}Transfer-Encoding: identity\\r\\n\\r\\n$SMUGREQ"
smuggle smuggle-get-body "GET whose Content-Length body holds a request (a body, never a request)" '200 timeout' \
    "GET $P HTTP/1.1\\r\\n$H${AG}Content-Length: $SMUGLEN\\r\\n\\r\\n$SMUGREQ"
NCASES=$((NCASES + 1))
kexpect smuggle-get-body/body "the GET body reached the upstream as a body" "$(printf "$SMUGREQ")" "$(last_rec 'd["body"]')"

# A refusal of a HEAD request must not carry a body: the client would read
# it as the start of the next response.
smuggle head-error-body "HEAD refused (401), then a pipelined GET" '401 200 timeout' --head \
    "HEAD $P HTTP/1.1\\r\\n$H\\r\\n$GETREQ"

# Leading empty lines (RFC 9112 2.2) are skipped, between pipelined
# requests too; a request without Host (HTTP/1.1) is refused.
admit empty-lines "empty lines before the request line" 200 "\\r\\n\\r\\n$GETREQ"
refuse no-host "HTTP/1.1 request without Host" 400 "GET $P HTTP/1.1\\r\\n$AG\\r\\n"
refuse own-field "a client's X-Scopegate-Refusal field, in two segments, before a fold" 400 --delay 100 \
    "GET $P HTTP/1.1\\r\\n$H${AG}X-Scopegate-Refusal: 0 200 ok\\r\\n" " folded\\r\\n\\r\\n"

# --- paths --------------------------------------------------------------------------
path_case() {
	refuse "$1" "$2" "${4:-400}" "GET $3 HTTP/1.1\\r\\n$H$AG\\r\\n"
}
path_case path-2F "%2F in a segment" "/applications/$APP%2Ftokens/$TOK"
path_case path-2f "%2f in a segment" "/applications/$APP%2ftokens/$TOK"
path_case path-5C "%5C in a segment" "/applications/$APP%5Ctokens/$TOK"
path_case path-dotdot "'..' segment" "/applications/$APP/tokens/../tokens/$TOK"
path_case path-dot "'.' segment" "/applications/$APP/./tokens/$TOK"
path_case path-2e2e "%2e%2e segment" "/applications/$APP/tokens/%2e%2e/tokens/$TOK"
path_case path-dot2E ".%2E segment" "/applications/$APP/tokens/.%2E/tokens/$TOK"
path_case path-double-slash "'//' empty segment" "/applications//$APP/tokens/$TOK"
path_case path-trailing-slash "trailing '/'" "$P/"
path_case path-nul-escaped "%00" "$P%00"
path_case path-nul-raw "raw NUL" "$P\\x00"
path_case path-ctl "raw control character 0x01" "$P\\x01"
path_case path-del "raw DEL" "$P\\x7f"
path_case path-backslash "raw backslash" "/applications/$APP\\\\tokens/$TOK"
path_case path-fragment "fragment '#'" "$P#frag"
path_case path-overlong "overlong UTF-8 %C0%AF" "/applications/$APP/tokens/%C0%AF"
path_case path-ff "invalid UTF-8 %FF" "/applications/$APP/tokens/%FF"
path_case path-raw-8bit "raw byte 0xFF" "/applications/$APP/tokens/\\xff"
path_case path-encoded-unreserved "%41 (an unreserved character encoded)" "/applications/$APP/tokens/5f1111111111111111111%41"
path_case path-bad-authority "absolute target libevent's URI parser refuses" "http://[zz/x"
path_case path-bad-port "absolute target with a bad port" "http://gw:99x$P"
path_case path-asterisk "asterisk-form" "*"
path_case path-authority-form "authority-form" "gw:80"
# Origin-form targets (one '/' first) skip the guard's own URI parse
# (guard.c): these, with what libevent's parser treats apart (':' before
# any other '/', '[', '?' then '#', a bad escape), are still answered in
# JSON (json-answers below) and never forwarded.
path_case path-colon-first "':' in the first segment" "/a:b/$APP" "400|404"
path_case path-colon-only "the target '/:'" "/:" "400|404"
path_case path-brackets "'[' and ']' in a segment" "/applications/[$APP]/tokens/$TOK" "400|404"
path_case path-query-fragment "a query, then a fragment" "$P?a=1#frag?b"
path_case path-bad-escape "a bad escape %zz" "/applications/$APP/tokens/%zz"
path_case path-long "target over 8192 bytes" "/applications/$(head -c 9000 /dev/zero | tr '\0' a)" 414

# --- methods ------------------------------------------------------------------------
# override HDR: a GET with an override header asking for DELETE is routed as
# a GET (a read scope is enough) and the header does not reach the upstream.
override() {
	local id=$1 hdr=$2
	admit "$id" "GET with $hdr: DELETE" 200 "GET $P HTTP/1.1\\r\\n$H$AG$hdr: DELETE\\r\\n\\r\\n"
	kexpect "$id/method" "$hdr: forwarded as GET" GET "$(last_rec 'd["method"]')"
	kexpect "$id/hdr" "$hdr: not forwarded" 0 \
	    "$(last_rec "len([k for k,v in d['headers'] if k.lower()=='${hdr,,}'])")"
}
override override-x-http-method-override X-HTTP-Method-Override
override override-x-http-method X-HTTP-Method
override override-x-method-override X-Method-Override
refuse method-lower "lowercase delete" 501 "delete $P HTTP/1.1\\r\\n$H$AG\\r\\n"
refuse method-trace "TRACE" 501 "TRACE $P HTTP/1.1\\r\\n$H$AG\\r\\n"
refuse method-connect "CONNECT" 501 "CONNECT 127.0.0.1:$UP_PORT HTTP/1.1\\r\\n$H$AG\\r\\n"
refuse method-foo "unknown method FOO" 501 "FOO $P HTTP/1.1\\r\\n$H$AG\\r\\n"
# The answer is the gateway's JSON, not libevent's HTML page.
kmatch method-json "an unknown method is answered in the Losant error shape" \
    '501 application/json \{"type":"NotImplemented",.*' \
    "$(curl -s -X FOO -w '%{http_code} %{content_type} ' -o "$T/method.body" -H "Authorization: Bearer $GETTOK" "$GW$P"; head -c 100 "$T/method.body")"

# --- headers ------------------------------------------------------------------------
refuse auth-two "two Authorization fields" 400 "GET $P HTTP/1.1\\r\\n$H$AG$AG\\r\\n"
admit auth-lower-scheme "Authorization: bearer (lowercase scheme)" 200 \
    "GET $P HTTP/1.1\\r\\n${H}Authorization: bearer $GETTOK\\r\\n\\r\\n"
refuse auth-two-tokens "Bearer with two tokens" 401 \
    "GET $P HTTP/1.1\\r\\n${H}Authorization: Bearer $GETTOK $GETTOK\\r\\n\\r\\n"
refuse auth-query "token in ?access_token= only" 401 "GET $P?access_token=$GETTOK HTTP/1.1\\r\\n$H\\r\\n"
refuse auth-no-space "Bearer<token> without a space" 401 \
    "GET $P HTTP/1.1\\r\\n${H}Authorization: Bearer$GETTOK\\r\\n\\r\\n"

# Identity fields the gateway sets, spoofed by the client.
admit spoof "spoofed X-Forwarded-*, Forwarded, X-Request-Id" 200 \
    "GET $P HTTP/1.1\\r\\n$H${AG}X-Forwarded-For: 6.6.6.6\\r\\nX-Forwarded-Host: evil.test\\r\\nX-Forwarded-Proto: https\\r\\nForwarded: for=6.6.6.6\\r\\nX-Request-Id: spoofed-id\\r\\n\\r\\n"
rec=$(last_line "$RECORD")
kexpect spoof/xff "X-Forwarded-For is the gateway's, once" '["127.0.0.1"]' \
    "$(json_get "$rec" '[v for k,v in d["headers"] if k.lower()=="x-forwarded-for"]')"
kexpect spoof/xfh "X-Forwarded-Host is the Host field" '["gw"]' \
    "$(json_get "$rec" '[v for k,v in d["headers"] if k.lower()=="x-forwarded-host"]')"
kexpect spoof/xfp "X-Forwarded-Proto is http" '["http"]' \
    "$(json_get "$rec" '[v for k,v in d["headers"] if k.lower()=="x-forwarded-proto"]')"
kexpect spoof/rid "X-Request-Id is the gateway's, once" 1 \
    "$(json_get "$rec" 'len([v for k,v in d["headers"] if k.lower()=="x-request-id" and v!="spoofed-id"])')"
kexpect spoof/none "no spoofed value reached the upstream" '[]' \
    "$(json_get "$rec" '[k for k,v in d["headers"] if k.lower().startswith("x-scopegate-") or k.lower()=="forwarded" or v in ("6.6.6.6","evil.test","spoofed-id","https")]')"
# spoof_variant ID DESC FIELD-LINE: 6.6.6.6 must not reach the upstream.
spoof_variant() {
	local id=$1 n0
	NCASES=$((NCASES + 1))
	n0=$(record_count)
	raw "GET $P HTTP/1.1\\r\\n$H$AG$3\\r\\n\\r\\n" > /dev/null
	if [ "$(record_count)" = "$n0" ]; then
		verdict "$id/hdr" "$2: refused" 1 ""
	else
		kexpect "$id/hdr" "$2: value not forwarded" 0 \
		    "$(last_rec 'len([k for k,v in d["headers"] if "6.6.6.6" in v])')"
	fi
}
spoof_variant spoof-lower "lowercase x-forwarded-for" "x-forwarded-for: 6.6.6.6"
spoof_variant spoof-space-colon "X-Forwarded-For<SP>: value" "X-Forwarded-For : 6.6.6.6"
spoof_variant spoof-underscore "X_Forwarded_For" "X_Forwarded_For: 6.6.6.6"
spoof_variant spoof-connection "X-Forwarded-For named in Connection" "Connection: X-Forwarded-For\\r\\nX-Forwarded-For: 6.6.6.6"
refuse host-dup "two Host fields (RFC 9112 3.2)" 400 "GET $P HTTP/1.1\\r\\n${H}Host: other\\r\\n$AG\\r\\n"
refuse ctype-dup "two Content-Type fields (checked as one, read as the other)" 400 \
    "${POSTHEAD}Content-Type: text/plain\\r\\nContent-Length: 18\\r\\n\\r\\n$B"
# Connection cannot strip what the decision was made on.
admit conn-ctype "Content-Type named in Connection" $FWD \
    "${POSTHEAD}Connection: Content-Type, Host\\r\\nContent-Length: 18\\r\\n\\r\\n$B"
kexpect conn-ctype/kept "Content-Type and Host named in Connection still reach the upstream" 2 \
    "$(last_rec 'len([k for k,v in d["headers"] if k.lower() in ("content-type", "host")])')"

# Header size: over max_header_bytes (16384). Record what the gateway does.
NCASES=$((NCASES + 1))
n0=$(record_count)
got=$(raw "GET $P HTTP/1.1\\r\\n$H${AG}X-Big: $(head -c 20000 /dev/zero | tr '\0' a)\\r\\n\\r\\n")
echo "# note: a 20 KB field is answered: $got"
kmatch big-header/status "field over max_header_bytes refused (400, 413, 431 or close)" '400|413|431|closed' "$got"
kexpect big-header/fwd "big field: nothing forwarded" "$n0" "$(record_count)"
many=""
for i in $(seq 1 200); do many+="X-H$i: v\\r\\n"; done
admit many-ok "200 small fields within max_header_bytes" 200 "GET $P HTTP/1.1\\r\\n$H$AG$many\\r\\n"
many=""
for i in $(seq 1 3000); do many+="X-H$i: v\\r\\n"; done
refuse many-too-many "3000 fields past max_header_bytes" '400|413|431|closed' "GET $P HTTP/1.1\\r\\n$H$AG$many\\r\\n"

# --- tokens -------------------------------------------------------------------------
# tok_case ID DESC WANT_ERE TOKEN: GET with the token.
tok_case() {
	refuse "$1" "$2" "$3" "GET $P HTTP/1.1\\r\\n${H}Authorization: Bearer $4\\r\\n\\r\\n"
}
tok_ok() {
	admit "$1" "$2" 200 "GET $P HTTP/1.1\\r\\n${H}Authorization: Bearer $3\\r\\n\\r\\n"
}
payload=$(echo "$GETTOK" | cut -d. -f2)
for alg in none None NONE nOnE; do
	tok_case "token-alg-$alg" "alg $alg, empty signature" 401 \
	    "$(printf '{"alg":"%s","typ":"JWT"}' "$alg" | b64u).$payload."
done
tok_case token-alg-none-kid "alg none with a known kid" 401 \
    "$(printf '{"alg":"none","kid":"jwks-es256"}' | b64u).$payload."
tok_case token-alg-none-sig "alg none with a signature" 401 \
    "$(printf '{"alg":"none"}' | b64u).$payload.$(echo "$GETTOK" | cut -d. -f3)"
tok_case token-alg-empty "alg empty string" 401 "$(printf '{"alg":"","kid":"jwks-es256"}' | b64u).$payload."
tok_case token-hs-rsa-pem "HS256 signed with the RSA public key PEM (kid of the RSA key)" 401 \
    "$(mint "$T/rsa-pem-as-secret.key" HS256 jwks-rs --scope all.User.read)"
tok_case token-hs-rsa-pem-nokid "HS256 signed with the RSA public key PEM, no kid" 401 \
    "$("$TOKEN_BIN" --key "$T/rsa-pem-as-secret.key" --alg HS256 --iss https://issuer.test --aud scopegate --exp-in 600 --scope all.User.read)"
tok_case token-kid-traversal "kid ../../etc/passwd" 401 \
    "$(mint "$KEYS/ec256.key" ES256 ../../etc/passwd --scope all.User.read)"
tok_case token-kid-devnull "kid ../../../../dev/null (HS256)" 401 \
    "$(mint "$T/hmac.key" HS256 ../../../../dev/null --scope all.User.read)"
for h in jku x5u; do
	tok_ok "token-$h-ignored" "$h header pointing elsewhere, signed by the configured key" \
	    "$(mint "$KEYS/ec256.key" ES256 x --header-json "{\"alg\":\"ES256\",\"kid\":\"jwks-es256\",\"$h\":\"https://evil.test/k\"}" --scope all.User.read)"
done
# The attacker's own key embedded as jwk.
jx=$(printf '%s' "$(openssl pkey -in "$T/other.key" -pubout -outform DER 2>/dev/null | tail -c 64 | head -c 32 | b64u)")
jy=$(printf '%s' "$(openssl pkey -in "$T/other.key" -pubout -outform DER 2>/dev/null | tail -c 32 | b64u)")
JWK="{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"$jx\",\"y\":\"$jy\"}"
tok_case token-jwk-kid "signed by another key embedded as jwk (kid of a configured key)" 401 \
    "$(mint "$T/other.key" ES256 x --header-json "{\"alg\":\"ES256\",\"kid\":\"jwks-es256\",\"jwk\":$JWK}" --scope all.User.read)"
tok_case token-jwk-nokid "signed by another key embedded as jwk, no kid" 401 \
    "$(mint "$T/other.key" ES256 x --header-json "{\"alg\":\"ES256\",\"jwk\":$JWK}" --scope all.User.read)"
tok_ok token-jwk-own "jwk header next to a valid signature of the configured key is ignored" \
    "$(mint "$KEYS/ec256.key" ES256 x --header-json "{\"alg\":\"ES256\",\"kid\":\"jwks-es256\",\"jwk\":$JWK}" --scope all.User.read)"
tok_case token-expired "expired" 401 "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope all.User.read --exp-in -3600)"
tok_case token-nbf-future "nbf ten years ahead" 401 "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope all.User.read --nbf-in 315360000 --exp-in 315400000)"
padded=$(python3 -c '
import sys
segs = sys.argv[1].split(".")
pad = lambda s: s + "=" * (-len(s) % 4)
out = [pad(s) for s in segs]
if out == segs:
    out[0] += "=="
print(".".join(out))' "$GETTOK")
tok_case token-padding "base64 '=' padding in the segments" 401 "$padded"
tok_case token-4-segments "4 segments" 401 "$GETTOK.AAAA"
tok_case token-2-segments "2 segments" 401 "$(echo "$GETTOK" | cut -d. -f1-2)"
tok_case token-huge "token over max_token_bytes (8 KiB)" 401 \
    "$(mint "$KEYS/ec256.key" ES256 jwks-es256 --scope all.User.read --claim "pad=\"$(head -c 9000 /dev/zero | tr '\0' a)\"")"
CLAIMS="\"iss\":\"https://issuer.test\",\"aud\":\"scopegate\",\"sub\":\"u\",\"exp\":$((NOW + 600))"
rawtok() {
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid jwks-es256 --raw-payload "$1"
}
tok_case token-non-json "non-JSON payload" 401 "$(rawtok 'not json at all')"
tok_case token-array-payload "payload is a JSON array" 401 "$(rawtok '["all.User.read"]')"
tok_case token-dup-scope "duplicate scope claims (the last grants)" 401 \
    "$(rawtok "{$CLAIMS,\"scope\":\"nothing\",\"scope\":\"all.User.read\"}")"
tok_case token-dup-scope2 "duplicate scope claims (the first grants)" 401 \
    "$(rawtok "{$CLAIMS,\"scope\":\"all.User.read\",\"scope\":\"nothing\"}")"
tok_case token-dup-exp "duplicate exp (expired, then valid)" 401 \
    "$(rawtok "{\"iss\":\"https://issuer.test\",\"aud\":\"scopegate\",\"exp\":1,\"exp\":$((NOW + 600)),\"scope\":\"all.User.read\"}")"
tok_case token-scope-number "scope claim is a number" '401|403' "$(rawtok "{$CLAIMS,\"scope\":5}")"
tok_case token-scope-mixed "scope array with a non-string entry" '401|403' \
    "$(rawtok "{$CLAIMS,\"scope\":[\"all.User.read\",5]}")"
tok_case token-scope-object "scope claim is an object" '401|403' \
    "$(rawtok "{$CLAIMS,\"scope\":{\"all.User.read\":true}}")"

# --- limits -------------------------------------------------------------------------
head -c 70000 /dev/zero | tr '\0' x > "$T/big.body"
refuse body-cl "body over max_body_bytes (Content-Length)" '413|closed' \
    "${POSTHEAD}Content-Length: 70000\\r\\n\\r\\n" "@$T/big.body"
python3 -c 'import sys; sys.stdout.write(("8000\r\n" + "x" * 0x8000 + "\r\n") * 3 + "0\r\n\r\n")' > "$T/big.chunked"
refuse body-chunked "body over max_body_bytes (chunked)" '413|closed' \
    "${POSTHEAD}Transfer-Encoding: chunked\\r\\n\\r\\n" "@$T/big.chunked"
refuse body-expect "Expect: 100-continue with a too large Content-Length, no body sent" '413|417' \
    "${POSTHEAD}Expect: 100-continue\\r\\nContent-Length: 1000000000\\r\\n\\r\\n"
refuse body-cl-overflow "Content-Length 99999999999999999999" '400|413' \
    "${POSTHEAD}Content-Length: 99999999999999999999\\r\\n\\r\\n$B"

check "the main gateway is still running" kill -0 "$GW_PID"

# --- slow clients (a second gateway with small timeouts) --------------------------
MAIN_PORT=$GW_PORT
GW_PORT=$(free_port)
write_config "$T/slow.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  $TOKENS_CONF,
  \"limits\": { \"header_timeout_ms\": 1000, \"write_timeout_ms\": 2000 }"
start_gateway "$T/slow.json"

NCASES=$((NCASES + 1))
got=$(raw --all --timeout 5 --time "$GETREQ")
kmatch idle-keepalive/status "idle keep-alive connection closed after header_timeout_ms (1 s)" '200 closed t=(0|1|2)\.[0-9]+' "$got"
NCASES=$((NCASES + 1))
got=$(raw --all --timeout 5 --time "")
kmatch idle-silent/status "connection that never sends a byte closed after header_timeout_ms" '(408 )?closed t=(0|1|2)\.[0-9]+' "$got"
NCASES=$((NCASES + 1))
got=$(raw --all --timeout 5 --time "GET $P HT")
kmatch idle-partial/status "half a request line, then silence: closed after header_timeout_ms" '(408 )?closed t=(0|1|2)\.[0-9]+' "$got"

# Slowloris: 300 connections, one byte each every 200 ms for 5 s, while a
# normal client keeps asking.
NCASES=$((NCASES + 1))
timeout 30 python3 "$RAWHTTP" --port "$GW_PORT" --slowloris 300 --trickle 200 --duration 5 > "$T/slowloris.out" &
SL_PID=$!
PIDS+=("$SL_PID")
sleep 0.5
worst=0
nslow=0
nreq=0
for i in $(seq 1 8); do
	r=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' \
	    -H "Authorization: Bearer $GETTOK" "http://127.0.0.1:$GW_PORT$P")
	nreq=$((nreq + 1))
	code=${r%% *}
	t=${r#* }
	if [ "$code" != 200 ] || python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 1.0 else 1)' "$t"; then
		nslow=$((nslow + 1))
	fi
	worst=$(python3 -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))' "$worst" "$t")
	sleep 0.4
done
wait "$SL_PID"
echo "# slowloris: $(cat "$T/slowloris.out"); normal client: $nreq requests, worst ${worst}s"
kexpect slowloris/served "normal client answered (200) within 1 s during the slowloris" 0 "$nslow"
kmatch slowloris/opened "slowloris connections were all accepted" 'opened=300 .*' "$(cat "$T/slowloris.out")"
# A request head must be complete within the header timeout however slowly
# it trickles (nginx client_header_timeout, HAProxy timeout http-request):
# allow up to 3 s for a 1 s timeout.
# A trickled head past the deadline gets a 408 in the Losant error shape.
got=$(timeout 10 python3 - "$GW_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /applications HTTP/1.1\r\nHost: a\r\nX-Slow: ")
t0 = time.time()
while time.time() - t0 < 1.8:
    try:
        s.sendall(b"a")
    except OSError:
        break
    time.sleep(0.2)
s.settimeout(2)
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except Exception:
    pass
print(data.split(b"\r\n")[0].decode(errors="replace"), b'"type":"RequestTimeout"' in data)
PY
)
kmatch slowloris/408 "a trickled head past header_timeout_ms: 408 RequestTimeout, JSON" 'HTTP/1.1 408 .* True' "$got"
kmatch slowloris/deadline "trickling connections closed by a header deadline (< 3 s)" \
    'opened=300 closed=300 first=[0-9.]+ last=(0|1|2)\.[0-9]+' "$(cat "$T/slowloris.out")"
check "the slow-client gateway is still running" kill -0 "$GW_PID"

# --- connection limit (a third gateway, max_connections 50, one worker) --------
GW_PORT=$(free_port)
write_config "$T/limit.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  $TOKENS_CONF, \"workers\": 1,
  \"limits\": { \"max_connections\": 50, \"header_timeout_ms\": 10000,
    \"max_connections_per_client\": 50 }"
start_gateway "$T/limit.json"
LIMIT_PID=$GW_PID
# conn_limit ID DESC: 60 keep-alive connections one after the other on the
# current gateway; the first 50 are served, the others wait (or get 503);
# after 10 close, the waiting ones are served.
conn_limit() {
	local id=$1 desc=$2 first later want50
	NCASES=$((NCASES + 1))
	timeout 60 python3 "$RAWHTTP" --port "$GW_PORT" --conns 60 --close-after 10 --wait 0.4 --timeout 5 \
	    --request "$GETREQ" > "$T/conns.out"
	first=$(sed -n 1p "$T/conns.out")
	later=$(sed -n 2p "$T/conns.out")
	echo "# $desc: 60 connections at max_connections 50: [$first] then, after closing 10: [$later]"
	want50=$(printf '200 %.0s' $(seq 1 50) | sed 's/ $//')
	if [ "$(echo "$first" | cut -d' ' -f1-50)" = "$want50" ] &&
	    [[ $(echo "$first" | cut -d' ' -f51-60) =~ ^((timeout|503|closed)\ ){9}(timeout|503|closed)$ ]] &&
	    [[ $later =~ ^(200( 200)*)?$ ]]; then
		verdict "$id" "$desc: 50 served, 10 wait (or 503), served after 10 close" 1 ""
	else
		verdict "$id" "$desc: 50 served, 10 wait (or 503), served after 10 close" 0 \
		    "connections 51-60: [$(echo "$first" | cut -d' ' -f51-60)], later [$later]"
	fi
	kexpect "$id/fresh" "$desc: a new client is served once connections are free" 200 \
	    "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Authorization: Bearer $GETTOK" "http://127.0.0.1:$GW_PORT$P")"
}
conn_limit conn-limit "one worker"

# Idle (slow) connections count too: with 60 half-sent heads open, the
# 61st client waits (or gets 503) until they go away.
NCASES=$((NCASES + 1))
timeout 30 python3 "$RAWHTTP" --port "$GW_PORT" --slowloris 60 --trickle 500 --duration 3 > "$T/idle.out" &
IL_PID=$!
PIDS+=("$IL_PID")
sleep 1
r=$(curl -s -o /dev/null -m 1 -w '%{http_code}' -H "Authorization: Bearer $GETTOK" "http://127.0.0.1:$GW_PORT$P")
kmatch idle-limit "at the limit with 60 idle connections, a new client waits or gets 503" '000|503' "$r"
wait "$IL_PID"
kexpect idle-limit/after "once the idle connections are gone, a new client is served" 200 \
    "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Authorization: Bearer $GETTOK" "http://127.0.0.1:$GW_PORT$P")"
# Connections that never send a byte count from their accept: with 50
# silent ones open, the 51st client gets 503 (not a free slot).
NCASES=$((NCASES + 1))
timeout 30 python3 "$RAWHTTP" --port "$GW_PORT" --slowloris 50 --silent --trickle 200 --duration 3 > "$T/silent.out" &
SI_PID=$!
PIDS+=("$SI_PID")
sleep 1
# (From another address: 127.0.0.1 holds its max_connections_per_client.)
r=$(curl -s -o /dev/null -m 2 -w '%{http_code}' --interface 127.0.0.2 \
    -H "Authorization: Bearer $GETTOK" "http://127.0.0.1:$GW_PORT$P")
kexpect silent-limit "at the limit with 50 connections that sent nothing, a new client gets 503" 503 "$r"
wait "$SI_PID"
kmatch silent-limit/opened "the 50 silent connections were accepted and held" 'opened=50 closed=0 .*' "$(cat "$T/silent.out")"
kexpect silent-limit/after "once the silent connections are gone, a new client is served" 200 \
    "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Authorization: Bearer $GETTOK" "http://127.0.0.1:$GW_PORT$P")"
check "the limited gateway is still running" kill -0 "$LIMIT_PID"

# The limit is the daemon's, not each worker's: 4 workers, same test.
GW_PORT=$(free_port)
write_config "$T/limit4.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  $TOKENS_CONF, \"workers\": 4,
  \"limits\": { \"max_connections\": 50, \"header_timeout_ms\": 10000,
    \"max_connections_per_client\": 50 }"
start_gateway "$T/limit4.json"
conn_limit conn-limit-workers "four workers"

# --- every answer is JSON ------------------------------------------------------
# No client ever gets libevent's HTML error page: every answer any case got
# (refusals and forwarded answers alike) has an empty body or a JSON one.
bad=$(python3 - "$RAWHTTP_ANSWERS" <<'PY'
import json, sys
n, bad = 0, []
for line in open(sys.argv[1]):
    a = json.loads(line)
    n += 1
    if 100 <= a["status"] < 200 or a["body"] == "":
        continue
    try:
        json.loads(a["body"])
        if not a["type"].lower().startswith("application/json"):
            raise ValueError("type " + a["type"])
    except ValueError as e:
        bad.append("%d %s: %r" % (a["status"], e, a["body"][:60]))
print(n, len(bad), "; ".join(bad[:5]))
PY
)
echo "# answers checked: ${bad%% *}"
read -r nans nbad badlist <<< "$bad"
kexpect json-answers "every answer of every case is JSON (or empty), never an HTML page${badlist:+ ($badlist)}" 0 "$nbad"

# --- summary ----------------------------------------------------------------------
echo "# $NCASES hostile cases"
if [ "${#KF_HIT[@]}" -gt 0 ]; then
	echo "# ######################################################################"
	echo "# ${#KF_HIT[@]} KNOWN FAILURES (not counted; the gateway must be fixed):"
	for k in "${KF_HIT[@]}"; do
		echo "#   $k"
	done
	echo "# ######################################################################"
fi
if [ "${#XPASS[@]}" -gt 0 ]; then
	echo "# UNEXPECTED PASSES (remove from KNOWN_FAILURES): ${XPASS[*]}"
fi
finish
