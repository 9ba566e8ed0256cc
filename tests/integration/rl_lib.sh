# rl_lib.sh: what ratelimit_batch.sh and ratelimit_late.sh share, sourced
# after lib.sh once the gateway (one worker, admin on $ADMIN) has started.

# metric NAME: the value of NAME in the gateway's /metrics.
metric() {
	curl -s "http://127.0.0.1:$ADMIN/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
# wait_link: wait (10 s at most) until the worker's Redis link is up.
wait_link() {
	for _ in $(seq 1 100); do
		[ "$(metric scopegate_ratelimit_redis_links_up)" = 1 ] && break
		sleep 0.1
	done
}
# mint SUB: an ES256 token (kid e1) of subject SUB for applicationApiTokens.get.
mint() {
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --sub "$1" --jti "j-$1" \
	    --exp-in 600 --scope applicationApiTokens.get
}
