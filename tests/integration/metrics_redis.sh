#!/usr/bin/env bash
# /metrics through the official Prometheus client's parser for the shared
# revocation store: scopegate_redis_link_up follows a real redis-server
# going away and coming back, and scopegate_revocations counts what the
# store holds, in all and by source. Skipped (77) without redis-server or python3-prometheus-client.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
if ! command -v redis-server >/dev/null 2>&1; then
	echo "# SKIP: redis-server not installed"
	exit 77
fi
PYPROM=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import prometheus_client' 2>/dev/null; then PYPROM=$py; break; fi
done
if [ -z "$PYPROM" ]; then
	echo "# SKIP: python3-prometheus-client not installed"
	exit 77
fi

RPORT=$(free_port)
start_redis() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	    --dir "$T" > "$T/redis.log" 2>&1 &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_port "$RPORT"
}
start_redis
start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/state"
write_config "$T/gw.json" "\"policy\": \"$top_srcdir/conf/policy.json\",
  \"tokens\": { \"keys\": [ { \"file\": \"$KEYS/ec256.pem\", \"kid\": \"e1\" } ] },
  \"admin\": { \"address\": \"127.0.0.1\", \"port\": $ADMIN_PORT },
  \"revocations\": { \"journal\": \"$T/state/journal\", \"redis\": \"redis://127.0.0.1:$RPORT\" }"
start_gateway "$T/gw.json"
A="http://127.0.0.1:$ADMIN_PORT"

# until DESC CHECK...: poll /metrics (up to 20 s) until the checks hold.
until_metrics() {
	local desc=$1 out= i
	shift
	for i in $(seq 1 200); do
		curl -s "$A/metrics" > "$T/metrics.txt"
		if out=$("$PYPROM" "$top_srcdir/tests/integration/promcheck.py" "$T/metrics.txt" "$@" 2>&1); then
			ok "$desc"
			return
		fi
		sleep 0.1
	done
	not_ok "$desc: $out"
}

until_metrics "Redis link up, nothing revoked" 'scopegate_redis_link_up == 1' 'scopegate_revocations == 0'
expect_eq "revoke through the admin API" 201 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"id":"metrics-1"}' "$A/revocations")"
until_metrics "one revocation held" 'scopegate_revocations == 1'
until_metrics "by source: the operator's" 'scopegate_revocations_by_source{source="operator"} == 1' \
    'scopegate_revocations_by_source{source="delete"} == 0' \
    'scopegate_revocations_by_source{source="status"} == 0' \
    'scopegate_revocations_by_source{source="file"} == 0'
# A token deleted through the gateway: the revocation it learns is a
# deletion's.
APP=5f0c0c0c0c0c0c0c0c0c0c0c
TOK=5f1111111111111111111111
DEL=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 --jti metrics-del \
    --scope applicationApiToken.delete)
expect_eq "a token deleted through the gateway" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $DEL" \
    "http://127.0.0.1:$GW_PORT/applications/$APP/tokens/$TOK")"
until_metrics "by source: the deletion's too, adding up to the total" \
    'scopegate_revocations_by_source{source="delete"} == 1' \
    'scopegate_revocations_by_source{source="operator"} == 1' \
    'scopegate_revocations_by_source == 2' 'scopegate_revocations == 2'
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
until_metrics "Redis gone: link down" 'scopegate_redis_link_up == 0'
start_redis
until_metrics "Redis back: link up again" 'scopegate_redis_link_up == 1' 'scopegate_revocations == 2'
finish
