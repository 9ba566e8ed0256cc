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

#endif
