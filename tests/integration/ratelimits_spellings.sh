#!/bin/bash
# ratelimits_spellings.sh: a rate_limits entry cannot be escaped by another
# spelling of the same request. Attacks, through the real daemon, against a
# limit of 2 per minute on GET of one application (key param:applicationId):
#   - the same objectid in other letter cases (the upstream takes either
#     case: each spelling used to count apart, 2^k keys for k letters);
#   - HEAD instead of GET (HEAD is served as the GET action; the limit on
#     GET used to let every HEAD through), while a limit on HEAD alone
#     still matches HEAD and not GET.
# Each asserts the 429 and that nothing more reached the upstream.
. "$(dirname "$0")/lib.sh"

GW_PORT=$(free_port)
start_upstream
cat > "$T/policy.json" <<'EOT'
{ "actions": [
  { "action": "app.get", "method": "GET", "path": "/applications/{applicationId}",
    "public": true, "params": { "applicationId": "objectid" } },
  { "action": "other.get", "method": "GET", "path": "/others/{id}",
    "public": true, "params": { "id": "objectid" } }
] }
EOT
write_config "$T/gw.json" '"policy": "policy.json",
  "rate_limits": [ { "match": { "actions": ["app.get"], "methods": ["GET"] },
    "key": "param:applicationId", "per_minute": 2, "burst": 2 },
  { "match": { "actions": ["other.get"], "methods": ["HEAD"] },
    "key": "param:id", "per_minute": 1, "burst": 1 } ]'
start_gateway "$T/gw.json" || { not_ok "gateway started"; finish; }

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
G=http://127.0.0.1:$GW_PORT/applications

# Case variants of one objectid.
expect_eq "1st GET of the id passes" 404 "$(code $G/5f1a2b3c4d5e6f7a8b9c0d1e)"
expect_eq "2nd GET (upper case) counts against the same key" 404 \
    "$(code $G/5F1A2B3C4D5E6F7A8B9C0D1E)"
n=$(record_count)
for v in 5f1A2b3c4d5e6f7a8b9c0d1e 5f1a2B3c4d5e6f7a8b9c0d1e 5F1a2b3c4d5e6f7a8b9c0d1E; do
	expect_eq "mixed case $v refused" 429 "$(code $G/$v)"
done
expect_eq "nothing more reached the upstream (case variants)" "$n" "$(record_count)"

# HEAD against a limit on GET.
expect_eq "1st HEAD of another id passes" 404 "$(code -I $G/6a6a6a6a6a6a6a6a6a6a6a6a)"
expect_eq "then a GET of it passes (2nd)" 404 "$(code $G/6a6a6a6a6a6a6a6a6a6a6a6a)"
n=$(record_count)
for i in 1 2 3; do
	expect_eq "HEAD $i over the GET limit refused" 429 "$(code -I $G/6a6a6a6a6a6a6a6a6a6a6a6a)"
done
expect_eq "nothing more reached the upstream (HEAD)" "$n" "$(record_count)"
# A limit on HEAD alone: HEAD counts, GET does not.
O=http://127.0.0.1:$GW_PORT/others/7b7b7b7b7b7b7b7b7b7b7b7b
expect_eq "HEAD under a HEAD-only limit passes" 404 "$(code -I $O)"
expect_eq "2nd HEAD under a HEAD-only limit refused" 429 "$(code -I $O)"
expect_eq "GET is not under a HEAD-only limit" 404 "$(code $O)"
expect_eq "nor a 2nd GET" 404 "$(code $O)"
check "the access log says rate_limited" grep -q '"reason":"rate_limited"' "$T/access.log"
finish
