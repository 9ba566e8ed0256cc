/* replyhead.h: the head of a proxied answer to an HTTP/1.1 client, built
 * by the gateway and written in one piece, byte for byte what libevent
 * 2.1's evhttp_send_reply_start would have written for the same fields.
 *
 * Why: evhttp stores every field it is given with a calloc and two strdup,
 * looks each framing field up by a case-insensitive walk of the list, and
 * prints every line with its own vsnprintf: ~15,000 instructions for the
 * status line and six fields of a proxied answer, the largest single cost
 * of an allowed request. Here the fields are pointers to bytes that live
 * as long as the head is being built (the upstream's parsed head, the
 * request context, static strings), and the head is one block.
 *
 * Pure code: no I/O, no allocation. The list operations keep evhttp's
 * semantics (add appends; remove takes out the first field of that name,
 * any case; find returns the first), so the glue (proxy.c) does the same
 * steps in the same order as it does with evhttp's list, and then
 * replyhead_finish adds what evhttp_send_reply_start and its response
 * head maker add for an HTTP/1.1 request in origin form (not a proxy
 * request): Transfer-Encoding: chunked without a Content-Length, Date,
 * the default Content-Type, and Connection: close when the client asked
 * for it. HTTP/1.0 clients and HEAD requests keep evhttp's own path. */
#ifndef SCOPEGATE_REPLYHEAD_H
#define SCOPEGATE_REPLYHEAD_H

#include <stddef.h>

#include "uresp.h"

/* The upstream's fields, plus room for the gateway's own. */
#define REPLYHEAD_MAX_FIELDS	(URESP_MAX_FIELDS + 32)
/* evhttp's Date buffer (evhttp_maybe_add_date_header). */
#define REPLYHEAD_DATE_MAX	50

struct replyhead_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct replyhead {
	struct replyhead_field f[REPLYHEAD_MAX_FIELDS];
	size_t n;
	int full;		/* an add did not fit: use evhttp's path */
	int chunked;		/* after finish: the body goes out chunked */
	int close;		/* after finish: the first Connection field is "close" */
	char date[REPLYHEAD_DATE_MAX];
};

void replyhead_init(struct replyhead *h);
/* Append a field (not copied: the bytes must outlive the head's writing).
 * When the list is full, sets h->full and drops it. */
void replyhead_add(struct replyhead *h, const char *name, size_t name_len,
    const char *value, size_t value_len);
/* Take out the first field named name (ASCII case-insensitive); 0 when one
 * was taken out, -1 when there was none (evhttp_remove_header). */
int replyhead_remove(struct replyhead *h, const char *name);
/* The first field named name, or NULL (evhttp_find_header). */
const struct replyhead_field *replyhead_find(const struct replyhead *h, const char *name);

/* Whether an answer of this status carries a body (HEAD aside). */
int replyhead_status_has_body(int status);

/* What evhttp_send_reply_start adds for an HTTP/1.1 request in origin
 * form: status is the answer's; client_connection is the value of the
 * request's first Connection field (NULL when none); default_type is the
 * server's default Content-Type (NULL for none); date_now fills h->date
 * when the answer has no Date (called only then). Sets h->chunked and
 * h->close. */
void replyhead_finish(struct replyhead *h, int status, const char *client_connection,
    const char *default_type, size_t (*date_now)(char *buf, size_t size));

/* Bytes of the head: "HTTP/1.1 <status> <reason>\r\n", a line per field,
 * and the empty line. status is 100..999. */
size_t replyhead_size(const struct replyhead *h, const char *reason, size_t reason_len);
/* Write it to dst (replyhead_size bytes); returns the bytes written. */
size_t replyhead_write(const struct replyhead *h, int status, const char *reason,
    size_t reason_len, char *dst);

/* A chunk-size line for a chunk of len bytes as evhttp writes it
 * ("%x\r\n", lowercase hex); dst holds at least 20 bytes. Returns its
 * length. */
size_t replyhead_chunk_line(size_t len, char *dst);

#endif
