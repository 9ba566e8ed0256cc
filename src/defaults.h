/* defaults.h: every built-in limit and default in one place. */
#ifndef SCOPEGATE_DEFAULTS_H
#define SCOPEGATE_DEFAULTS_H

#define SG_DEFAULT_CONFIG		SYSCONFDIR "/scopegate/scopegate.json"

/* Client side limits. */
#define SG_DEFAULT_MAX_HEADER_BYTES	16384
#define SG_DEFAULT_MAX_BODY_BYTES	(1024 * 1024)
#define SG_DEFAULT_MAX_CONNECTIONS	10000
#define SG_DEFAULT_HEADER_TIMEOUT_MS	10000
#define SG_DEFAULT_WRITE_TIMEOUT_MS	30000
#define SG_DEFAULT_SHUTDOWN_GRACE_MS	10000
/* limits.max_connections_per_client defaults to max_connections / this
 * (at least 1): one address needs this many others to fill every slot. */
#define SG_DEFAULT_CONNECTIONS_PER_CLIENT_DIV	10
/* Refused connections are logged once per this many seconds, not each. */
#define SG_CONNLIMIT_LOG_INTERVAL_S	10
/* Failed token verifications per client address: this many per second
 * after a burst; beyond, 429 without a signature check. */
#define SG_DEFAULT_FAILED_AUTH_PER_S	10
#define SG_DEFAULT_FAILED_AUTH_BURST	20
#define SG_FAILED_AUTH_MAX_KEYS		65536	/* addresses remembered (16 bytes each) */
/* admin.token_file: the secret's length bounds (bytes, after the
 * trailing newline is dropped). */
#define SG_ADMIN_TOKEN_MIN_BYTES	16
#define SG_ADMIN_TOKEN_MAX_BYTES	1024
/* Request bodies: the whole body within this time, at this average rate
 * at least (after its first second), and per worker this much of them
 * in memory at once (more waits for room). */
#define SG_DEFAULT_BODY_TIMEOUT_MS	30000
#define SG_DEFAULT_BODY_MIN_BYTES_PER_S	1024
#define SG_DEFAULT_MAX_BUFFERED_BODY_BYTES	(16 * 1024 * 1024)
/* Bytes a client may send ahead (pipelined) while its request is served,
 * beyond max_header_bytes, before the gateway stops reading. */
#define SG_GUARD_AHEAD_BYTES		(64 * 1024)

/* Upstream side. */
#define SG_DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS	2000
#define SG_DEFAULT_UPSTREAM_TIMEOUT_MS		30000
#define SG_DEFAULT_UPSTREAM_MAX_CONNECTIONS	256
/* Named upstreams: servers per upstream, the largest weight, name length. */
#define SG_UPSTREAM_MAX_SERVERS			64
#define SG_UPSTREAM_MAX_WEIGHT			1000
#define SG_UPSTREAM_NAME_MAX			64
/* The most worker threads ("workers"); per-worker slots in upstats.c. */
#define SG_MAX_WORKERS				256
/* Named upstreams: retries on another server, and passive outlier
 * ejection (Envoy's consecutive_5xx defaults: 5 failures, 30 s, 300 s). */
#define SG_DEFAULT_UPSTREAM_RETRIES		1
#define SG_UPSTREAM_MAX_RETRIES			5
#define SG_DEFAULT_OUTLIER_FAILURES		5
#define SG_DEFAULT_OUTLIER_WINDOW_MS		10000
#define SG_DEFAULT_OUTLIER_BASE_MS		30000
#define SG_DEFAULT_OUTLIER_MAX_MS		300000
/* Active health checks (Envoy's and HAProxy's usual figures). */
#define SG_DEFAULT_HEALTH_INTERVAL_MS		5000
#define SG_DEFAULT_HEALTH_TIMEOUT_MS		2000
#define SG_DEFAULT_HEALTH_HEALTHY		2
#define SG_DEFAULT_HEALTH_UNHEALTHY		3
/* Entries of "trusted_proxies" (each request's peer is checked against
 * them all). */
#define SG_MAX_TRUSTED_PROXIES			64
/* Keys a rate limit remembers (16 bytes each). */
#define SG_DEFAULT_RATE_LIMIT_MAX_KEYS		100000
/* The realm of the Bearer challenge sent to a request without a token. */
#define SG_AUTH_REALM				"scopegate"
/* An IPv6 client is counted by its /64: the smallest allocation a site
 * or a subscriber gets (RFC 6177), inside which it can pick any address. */
#define SG_DEFAULT_RATE_LIMIT_IPV6_PREFIX	64
/* "rate_limits": at most this many limits; a request waits at most
 * shared_timeout_ms for Redis (a round trip on a LAN is well under 1 ms:
 * more means Redis is in trouble, and the local fallback decides). */
#define SG_RATE_LIMITS_MAX			64
#define SG_DEFAULT_RATE_LIMIT_SHARED_TIMEOUT_MS	5
/* The shared-limit link's reconnect backoff and watchdog (PING). */
#define SG_RATE_LIMIT_REDIS_BACKOFF_MS		100
#define SG_RATE_LIMIT_REDIS_BACKOFF_MAX_MS	2000
#define SG_RATE_LIMIT_REDIS_PING_MS		500
/* The shared-limit requests of one loop pass go to Redis in one script
 * call, at most this many in one (a bigger pass sends several): bounds
 * the script's run, during which Redis serves no one else. */
#define SG_RATE_LIMIT_REDIS_BATCH_MAX		64
/* An upstream answer's status line and fields (and a chunked answer's
 * trailers): more is a broken upstream (502). */
#define SG_UPSTREAM_MAX_HEAD_BYTES		32768

/* Streaming: stop reading from the upstream while this much response is
 * waiting to be written to a slow client, so memory stays bounded. */
#define SG_STREAM_HIGH_WATER		(256 * 1024)
/* The same the other way: stop reading a client's streamed request body
 * while this much of it waits to be written to the upstream (per request:
 * what a streamed upload costs, with one socket read). */
#define SG_STREAM_BODY_HIGH_WATER	(64 * 1024)

/* Tokens. */
#define SG_DEFAULT_MAX_TOKEN_BYTES	8192
#define SG_DEFAULT_CLOCK_LEEWAY_S	30
#define SG_DEFAULT_TOKEN_MAX_LIFETIME_S	0	/* no bound on exp */
#define SG_DEFAULT_TOKEN_CACHE_SIZE	65536

/* Canonical request target and policy matching (canon.c, policy.c). */
#define SG_MAX_TARGET_BYTES		8192	/* longer targets: 414 */
#define SG_MAX_PATH_SEGMENTS		64	/* more segments: 400 */
#define SG_POLICY_MAX_PARAMS		16	/* path parameters per template */
#define SG_POLICY_MAX_SCOPES		1024	/* distinct scope names per policy */
#define SG_POLICY_MAX_ACTIONS		65536

/* JSON Schema: nesting bound for schema compilation and for validation
 * (instance depth plus in-place subschemas), and PCRE2 limits per match so a
 * hostile body cannot make a pattern backtrack for long. */
#define SG_SCHEMA_MAX_DEPTH		256
#define SG_SCHEMA_REGEX_MATCH_LIMIT	1000000
#define SG_SCHEMA_REGEX_HEAP_LIMIT_KB	1024
#define SG_SCHEMA_MAX_DOCUMENTS		1024	/* loaded through $ref */

/* Tokens: keys tried for a token without "kid" (bounds the signature
 * work one request can cause). */
#define SG_DEFAULT_MAX_UNTAGGED_TRIES	4

/* Revocation store (revoke.c, revoke_redis.c). */
#define SG_REVOKE_MAX_ID_BYTES		256	/* longer token ids are refused (lookup,
						 * admin API, journal, tokens.require_id) */
#define SG_DEFAULT_REVOKE_JOURNAL	"/var/lib/scopegate/revocations.journal"
#define SG_DEFAULT_REVOKE_RETENTION_S	(30 * 24 * 3600)	/* tombstones */
#define SG_REVOKE_MAX_RETENTION_S	(10LL * 366 * 24 * 3600)
#define SG_DEFAULT_REVOKE_REDIS_KEY	"scopegate:revoked"
#define SG_DEFAULT_REVOKE_REDIS_CHANNEL	"scopegate:revocations"
#define SG_REVOKE_REDIS_BACKOFF_MIN_MS	100	/* reconnect delay, doubling */
#define SG_REVOKE_REDIS_BACKOFF_MAX_MS	5000
#define SG_REVOKE_REDIS_TIMEOUT_MS	5000	/* connect / PING answer */
#define SG_REVOKE_REDIS_PING_MS		1000
#define SG_DEFAULT_REVOKE_REDIS_MAX_ENTRIES	100000	/* entries learnt from Redis */
#define SG_REVOKE_MAX_REDIS_ENTRIES	100000000
/* A change from Redis dated further ahead of this clock is refused: versions
 * are times, and one near INT64_MAX would push every instance's next version
 * past it (overflow, a journal line no replay accepts). */
#define SG_REVOKE_MAX_VERSION_AHEAD_S	(24 * 3600)

/* TLS (tls.c, tls_client.c, tls_config.c). Cipher defaults follow
 * Mozilla's "intermediate" profile: TLS 1.2 and 1.3, AEAD suites only. */
#define SG_TLS_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define SG_TLS_CIPHERSUITES	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256"
#define SG_TLS_GROUPS			"X25519:P-256:P-384"
#define SG_TLS_SESSION_CACHE_SIZE	20480	/* sessions per listener */
#define SG_TLS_SESSION_TIMEOUT_S	3600
/* However often a session is resumed (each TLS 1.3 resumption gets a new
 * ticket, good for another SG_TLS_SESSION_TIMEOUT_S), it never resumes
 * later than this after the full handshake that verified its client, nor
 * after its client certificate expires. */
#define SG_TLS_SESSION_MAX_AGE_S	(24 * 3600)
#define SG_TLS_TICKET_KEY_ROTATE_S	(12 * 3600)	/* previous key kept one period */
#define SG_TLS_VERIFY_DEPTH		8
#define SG_TLS_MAX_CERTIFICATES		64	/* per listener */
#define SG_TLS_MAX_NAMES		1024	/* per certificate entry */
/* A TLS client connection's pending output up to this size is joined into
 * one piece before it is written, so that a small answer (head and body)
 * leaves as one TLS record: libevent writes each piece with its own
 * SSL_write. 16384 is a record's largest payload and the most libevent
 * writes at once. */
#define SG_TLS_COALESCE_BYTES		16384

/* Access-log fields copied from a request: the query (after redaction)
 * and host, user agent, SNI are cut there (the whole line is cut at
 * ACCESSLOG_LINE_MAX anyway). */
#define SG_LOG_QUERY_MAX	1024
#define SG_LOG_FIELD_MAX	256

/* log.redact_query when absent: query parameters whose values the access
 * log never shows (compared case-insensitively, in any encoding). */
#define SG_DEFAULT_REDACT_QUERY \
	"access_token", "token", "id_token", "refresh_token", "key", "api_key", \
	"apikey", "password", "secret", "client_secret", "signature", "sig", "code"
/* Key sets from identity providers (jwks_remote.c, jwks_fetch.c). */
#define SG_JWKS_REFRESH_S		300
#define SG_JWKS_MIN_REFRESH_S		60
#define SG_JWKS_MAX_REFRESH_S		86400
#define SG_JWKS_FETCH_TIMEOUT_MS	5000	/* one fetch; also the wait at start */
#define SG_JWKS_UNKNOWN_KID_COOLDOWN_S	30
#define SG_JWKS_MAX_STALE_S		86400	/* last good set kept this long on errors */
#define SG_JWKS_MAX_BYTES		(512 * 1024)	/* JWKS or discovery document */

/* CORS (cors.c): allowed request headers when a rule lists none (a bearer
 * API's browser clients send these two), and how long a browser may keep
 * a preflight answer (Chromium caps it at 7200 s). */
#define SG_DEFAULT_CORS_HEADERS		"authorization", "content-type"
#define SG_DEFAULT_CORS_MAX_AGE_S	600
#define SG_CORS_MAX_AGE_MAX_S		86400
/* tokens.introspection (RFC 7662). */
#define SG_INTROSPECT_TIMEOUT_MS	2000	/* one call, connection included */
#define SG_INTROSPECT_CACHE_TTL_S	60	/* an active answer, never past its exp */
#define SG_INTROSPECT_NEGATIVE_TTL_S	10	/* an inactive answer */
#define SG_INTROSPECT_MAX_INFLIGHT	64	/* calls at once, all workers; more: 503 */
#define SG_INTROSPECT_MAX_BYTES		(64 * 1024)	/* one answer */
#define SG_INTROSPECT_MAX_ADDRS		8
#define SG_INTROSPECT_CACHE_MAX		65536	/* answers kept, all workers */

/* A chunk extension (never read, only skipped) longer than this is 400. */
#define SG_CHUNK_EXT_MAX_BYTES		4096

/* scopegate-policy: YAML input bounds (yaml_json.c) and the largest
 * OpenAPI document read (bytes). */
#define SG_YAML_MAX_DEPTH		64
#define SG_YAML_MAX_NODES		2000000
#define SG_OPENAPI_MAX_BYTES		(64 * 1024 * 1024)
/* Random bytes (trace and span ids) drawn from OpenSSL this many at a time
 * per worker: one RAND_bytes call then serves 42 requests. */
#define SG_RANDOM_POOL_BYTES		1008
/* A request target up to this long is checked from a stack copy. */
#define SG_GUARD_TARGET_STACK_BYTES	2048

#endif
