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

/* Upstream side. */
#define SG_DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS	2000
#define SG_DEFAULT_UPSTREAM_TIMEOUT_MS		30000
#define SG_DEFAULT_UPSTREAM_MAX_CONNECTIONS	256

/* Streaming: stop reading from the upstream while this much response is
 * waiting to be written to a slow client, so memory stays bounded. */
#define SG_STREAM_HIGH_WATER		(256 * 1024)

/* Tokens. */
#define SG_DEFAULT_MAX_TOKEN_BYTES	8192
#define SG_DEFAULT_CLOCK_LEEWAY_S	30
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

#endif
