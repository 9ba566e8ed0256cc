/* accesslog.h: one JSON line per request (DESIGN.md "Log"). The line is
 * written by a direct formatter, not through a generic JSON builder,
 * because it runs on every request. Never the token itself. */
#ifndef SCOPEGATE_ACCESSLOG_H
#define SCOPEGATE_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "errlist.h"

/* All strings may be NULL (written as null). */
struct accesslog_entry {
	struct timespec time;		/* wall clock when the request arrived */
	const char *request_id;
	const char *client;		/* address:port */
	const char *method;
	const char *path;		/* without the query: queries may carry secrets */
	const char *action;
	const char *decision;		/* "allow" / "deny" / "error" */
	const char *reason;
	int status;			/* sent to the client */
	const char *subject;
	const char *token_id;
	const char *scope;		/* the scope that matched */
	int upstream_status;		/* 0 when nothing came back */
	uint64_t latency_us;
	uint64_t bytes_in;		/* request body bytes */
	uint64_t bytes_out;		/* response body bytes */
	/* The client behind a trusted proxy (X-Forwarded-For); written only
	 * when it was taken from there. */
	const char *forwarded_client;
	/* Verified client certificate (mTLS); written only when present. */
	const char *client_cert_subject;
	const char *client_cert_sha256;
	/* What nginx/Envoy operators look for; each written only when set
	 * (upstream_latency_us when >= 0). The query is already redacted
	 * (qredact.h). */
	const char *query;
	const char *host;
	const char *user_agent;
	const char *http_version;	/* "1.1" */
	const char *upstream_addr;	/* address:port the answer came from */
	int64_t upstream_latency_us;	/* request sent -> answer head; -1: none */
	const char *tls_version;
	const char *tls_cipher;
	const char *sni;
	const char *trace_id;		/* W3C trace-context trace id */
};

/* Format one line (with the trailing newline) into buf. Returns the length
 * written. With size >= ACCESSLOG_LINE_MAX the line is whole, valid UTF-8
 * JSON whatever bytes the fields hold (escaping: accesslog.c); a smaller
 * buf cuts it short, still ending in "}\n". */
size_t accesslog_format(const struct accesslog_entry *e, char *buf, size_t size);

struct accesslog;

/* Open "-" (stderr) or a file in append mode; NULL on error, reported. */
struct accesslog *accesslog_open(const char *path, struct errlist *errs);
/* Reopen the same path (after logrotate moved it); 0 or -1. */
int accesslog_reopen(struct accesslog *al);
void accesslog_write(struct accesslog *al, const struct accesslog_entry *e);

/* The longest line accesslog_format writes: PIPE_BUF, so that a line to
 * a pipe is written whole. Each string field is cut (between characters)
 * at ACCESSLOG_FIELD_MAX bytes as written, the path at ACCESSLOG_PATH_MAX,
 * so that every field fits in a line of ACCESSLOG_LINE_MAX whatever the
 * values (test_accesslog checks it with every field at its cap). */
#define ACCESSLOG_LINE_MAX	4096
#define ACCESSLOG_PATH_MAX	1024
#define ACCESSLOG_FIELD_MAX	160
/* The optional fields' caps: what a line has room for beside the rest. */
#define ACCESSLOG_QUERY_MAX		192
#define ACCESSLOG_HOST_MAX		96
#define ACCESSLOG_USER_AGENT_MAX	96
#define ACCESSLOG_SNI_MAX		96
#define ACCESSLOG_UPSTREAM_ADDR_MAX	56
#define ACCESSLOG_TLS_CIPHER_MAX	48
#define ACCESSLOG_TRACE_ID_MAX		32
#define ACCESSLOG_TLS_VERSION_MAX	8
#define ACCESSLOG_HTTP_VERSION_MAX	4
#define ACCESSLOG_BATCH_BYTES	(16 * ACCESSLOG_LINE_MAX)

/*
 * A worker's batch of lines: one write(2) for all the requests one pass of
 * its event loop completed, instead of one per request. The caller flushes
 * at the end of that pass (an event made active when accesslog_batch_add
 * returns 1) and before exiting; a full batch flushes itself. When the log
 * is not a regular file (stderr to a pipe or the journal), lines are
 * written one by one as before, so they stay whole.
 */
struct accesslog_batch;
struct accesslog_batch *accesslog_batch_new(struct accesslog *al);
/* Returns 1 when the batch was empty before (schedule a flush). */
int accesslog_batch_add(struct accesslog_batch *b, const struct accesslog_entry *e);
void accesslog_batch_flush(struct accesslog_batch *b);
/* Flushes, then frees; NULL is fine. */
void accesslog_batch_free(struct accesslog_batch *b);
void accesslog_close(struct accesslog *al);

#endif
