#!/usr/bin/env bash
# CORS in a real browser: headless Chromium (Debian's chromium) loads a page
# from another origin (python3's http.server on another port) whose script
# calls the gateway with fetch() and a bearer token, so the browser sends a
# real preflight. The page writes what happened into its DOM, which
# Chromium dumps. 127.0.0.1:P and localhost:P are two origins for the same
# server: one allowed, one not.
#  - from the allowed origin both calls succeed and reach the upstream, and
#    the second is not preflighted again (one OPTIONS in the access log:
#    the browser kept the answer for max_age_s; with max_age_s 0, the
#    control, each call is preflighted);
#  - from the other origin the browser refuses the call after the gateway
#    refused the preflight, and the upstream sees nothing.
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
	not_ok "chromium is not installed (setup.sh installs the Debian package chromium)"
	finish
fi
KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
install -m 600 "$KEYS/hmac256.key" "$T/hmac.key"

start_upstream up
GW_PORT=$(free_port)
PAGE_PORT=$(free_port)
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$T/hmac.key\", \"type\": \"hmac\", \"kid\": \"hs1\", \"algs\": [\"HS256\"] } ] },
  \"cors\": { \"actions\": [\"applicationApiTokens.get\"],
    \"allowed_origins\": [\"http://127.0.0.1:$PAGE_PORT\"],
    \"expose_headers\": [\"X-Request-Id\"], \"max_age_s\": 600 }"
start_gateway "$T/gw.json"
TOKEN=$("$TOKEN_BIN" --key "$T/hmac.key" --alg HS256 --kid hs1 --sub u --exp-in 600 \
    --scope applicationApiTokens.get)

mkdir -p "$T/www"
cp "$top_srcdir/tests/integration/cors_page.html" "$T/www/page.html"
python3 -m http.server "$PAGE_PORT" --bind 127.0.0.1 --directory "$T/www" \
    > "$T/www.log" 2>&1 &
PIDS+=("$!")
wait_port "$PAGE_PORT"

# browse ORIGIN: the page's outcome line (#out), from Chromium's DOM dump.
# --virtual-time-budget keeps the page running until its fetches are done.
browse() {
	local q="gw=http://127.0.0.1:$GW_PORT/applications/$APP/tokens&token=$TOKEN"
	timeout 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run \
	    --disable-extensions --disable-background-networking --disable-sync \
	    --user-data-dir="$T/profile-$RANDOM" --virtual-time-budget=5000 \
	    --dump-dom "$1/page.html?$q" 2> "$T/chromium.err" |
	    sed -n 's|.*<pre id="out">\([^<]*\)</pre>.*|\1|p'
}
# options REASON: OPTIONS lines in the access log with that reason
options() {
	sleep 0.2
	grep -c "\"method\":\"OPTIONS\".*\"reason\":\"$1\"" "$T/access.log" || true
}

n0=$(record_count)
out=$(browse "http://127.0.0.1:$PAGE_PORT")
echo "# allowed origin: $out"
[ -n "$out" ] || { echo "# chromium said:"; tail -5 "$T/chromium.err" | sed 's/^/#   /'; }
expect_eq "allowed origin: both fetch() calls succeed, headers and body readable" \
    "call1=200 id=readable body=read ; call2=200 id=readable body=read" "$out"
expect_eq "allowed origin: both calls reached the upstream" "$((n0 + 2))" "$(record_count)"
expect_eq "allowed origin: one preflight, the second call used the cached answer" 1 \
    "$(options cors_preflight)"

n1=$(record_count)
out=$(browse "http://localhost:$PAGE_PORT")
echo "# other origin: $out"
expect_eq "other origin: the browser refuses both calls" \
    "call1=failed TypeError ; call2=failed TypeError" "$out"
expect_eq "other origin: the upstream saw nothing" "$n1" "$(record_count)"
check "other origin: the gateway refused its preflight" test "$(options cors_origin)" -ge 1
expect_eq "still one preflight answered in all" 1 "$(options cors_preflight)"

# The control: with max_age_s 0 the browser may not keep the answer, and
# each call is preflighted (so the single preflight above was the cache).
sed -i 's/"max_age_s": 600/"max_age_s": 0/' "$T/gw.json"
check "reload with max_age_s 0" reload_and_wait
n2=$(record_count)
out=$(browse "http://127.0.0.1:$PAGE_PORT")
expect_eq "max_age_s 0: both calls succeed" \
    "call1=200 id=readable body=read ; call2=200 id=readable body=read" "$out"
expect_eq "max_age_s 0: both reached the upstream" "$((n2 + 2))" "$(record_count)"
expect_eq "max_age_s 0: each call preflighted" 3 "$(options cors_preflight)"
finish
