/* accesslog.c: see accesslog.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accesslog.h"
#include "log.h"
#include "xmalloc.h"

struct accesslog {
	char *path;		/* NULL for stderr */
	int fd;
	int regular;		/* a regular file: batched writes stay whole */
};

/* A worker's lines not yet written (accesslog_batch_*). */
struct accesslog_batch {
	struct accesslog *al;
	size_t len;
	char buf[ACCESSLOG_BATCH_BYTES];
};

struct out {
	char *p;
	char *end;		/* leaves room for the closing "}\n" */
};

static void
put(struct out *o, const char *s, size_t n)
{
	if ((size_t)(o->end - o->p) < n) {
		n = (size_t)(o->end - o->p);
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static void
put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Bytes copied as they are: printable ASCII but '"' (0x22), '\\' (0x5c)
 * and DEL (0x7f). Bytes >= 0x80 are looked at as UTF-8 (utf8_len). */
static const unsigned char json_plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

/* The length of the well-formed UTF-8 sequence at c (RFC 3629, Unicode
 * table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF),
 * or 0 when the byte at c does not start one. c is NUL-terminated, and
 * NUL is never a continuation byte, so nothing is read past the end. */
static size_t
utf8_len(const unsigned char *c)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c[0] >= 0xc2 && c[0] <= 0xdf)
		n = 2;
	else if (c[0] >= 0xe0 && c[0] <= 0xef) {
		n = 3;
		if (c[0] == 0xe0)
			lo = 0xa0;	/* overlong below U+0800 */
		else if (c[0] == 0xed)
			hi = 0x9f;	/* surrogates U+D800..U+DFFF */
	} else if (c[0] >= 0xf0 && c[0] <= 0xf4) {
		n = 4;
		if (c[0] == 0xf0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (c[0] == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return 0;	/* ASCII, a lone continuation, C0, C1, F5..FF */
	if (c[1] < lo || c[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (c[i] < 0x80 || c[i] > 0xbf)
			return 0;
	return n;
}

/*
 * A JSON string, escaped so that the line is valid UTF-8 JSON whatever
 * bytes the value holds (paths and methods of refused requests, claims of
 * tokens are the client's choice): '"' and '\\' are escaped, C0 controls,
 * DEL and the C1 controls U+0080..U+009F (terminals act on them) become
 * \u00XX, well-formed UTF-8 sequences are copied as they are, and each
 * byte that is not part of one becomes \u00XX too, its Latin-1 reading.
 * So in the line as written, \u00a0..\u00ff always stand for such a raw
 * byte (a real U+00A0..U+00FF is written as UTF-8). A value cut short by
 * the line limit is cut between characters, never inside one. Runs of
 * plain bytes are copied at once.
 */
static void
put_json_string(struct out *o, const char *s, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *c = (const unsigned char *)s;
	char *hard_end = o->end;

	if (s == NULL) {
		put(o, "null", 4);
		return;
	}
	/* At most cap bytes between the quotes: the fields after this one
	 * keep their room (see ACCESSLOG_PATH_MAX). */
	if ((size_t)(o->end - o->p) > cap + 2)
		o->end = o->p + cap + 2;
	put(o, "\"", 1);
	while (*c) {
		const unsigned char *run = c;
		size_t n;

		/* Four at a time; && stops at the NUL, nothing is read past it. */
		while (json_plain[c[0]] && json_plain[c[1]] && json_plain[c[2]] && json_plain[c[3]])
			c += 4;
		while (json_plain[*c])
			c++;
		if (c > run) {
			/* Keep room for the closing quote. */
			size_t room = (size_t)(o->end - o->p);
			n = (size_t)(c - run);
			if (room < 2)
				break;
			put(o, (const char *)run, n < room - 1 ? n : room - 1);
			continue;
		}
		/* Keep room for the longest escape and the closing quote. */
		if (o->end - o->p < 8)
			break;
		if (*c == '"' || *c == '\\') {
			*o->p++ = '\\';
			*o->p++ = (char)*c;
			c++;
		} else if (*c >= 0x80 && (n = utf8_len(c)) > 0 &&
		    !(c[0] == 0xc2 && c[1] <= 0x9f)) {
			put(o, (const char *)c, n);
			c += n;
		} else {
			/* A control, or a byte of no well-formed sequence;
			 * a C1 control is one character from two bytes. */
			size_t c1 = c[0] == 0xc2 && utf8_len(c) == 2;
			unsigned char b = c[c1];
			char esc[6] = {'\\', 'u', '0', '0', hex[b >> 4], hex[b & 15]};

			put(o, esc, 6);
			c += 1 + c1;
		}
	}
	put(o, "\"", 1);
	o->end = hard_end;
}

/* A string field of the request or the token, cut at the common cap. */
#define put_field(o, s) put_json_string((o), (s), ACCESSLOG_FIELD_MAX)

/* ,"key": for a literal key, without strlen. */
#define put_key(o, key) put((o), ",\"" key "\":", sizeof(key) + 3)

/* ,"key":"value" when value is set, cut at cap bytes as written; key is
 * the literal ,"key": text. */
static void
put_opt(struct out *o, const char *key, const char *value, size_t cap)
{
	if (value == NULL)
		return;
	put_str(o, key);
	put_json_string(o, value, cap);
}

static void
put_u64(struct out *o, uint64_t v)
{
	char num[24];
	char *p = num + sizeof(num);

	/* A line per request: no printf machinery for plain decimals. */
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(o, p, (size_t)(num + sizeof(num) - p));
}

/* "2026-11-29T05:27:31" for sec, formatted once per second per thread. */
static const char *
second_stamp(time_t sec)
{
	static __thread time_t cached = (time_t)-1;
	static __thread char stamp[32];

	if (sec != cached) {
		struct tm tm;
		gmtime_r(&sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		cached = sec;
	}
	return stamp;
}

size_t
accesslog_format(const struct accesslog_entry *e, char *buf, size_t size)
{
	struct out o;
	char ts[40];
	size_t n;
	long us = e->time.tv_nsec / 1000;

	if (size < 64)
		return 0;
	o.p = buf;
	o.end = buf + size - 3;		/* "}\n" and a NUL */
	n = strlen(strcpy(ts, second_stamp(e->time.tv_sec)));
	ts[n++] = '.';
	for (int i = 5; i >= 0; i--, us /= 10)
		ts[n + (size_t)i] = (char)('0' + us % 10);
	ts[n + 6] = 'Z';
	ts[n + 7] = '\0';

	put_str(&o, "{\"time\":");
	put_field(&o, ts);
	put_key(&o, "request_id");
	put_field(&o, e->request_id);
	put_key(&o, "client");
	put_field(&o, e->client);
	put_key(&o, "method");
	put_field(&o, e->method);
	put_key(&o, "path");
	put_json_string(&o, e->path, ACCESSLOG_PATH_MAX);
	put_key(&o, "action");
	put_field(&o, e->action);
	put_key(&o, "decision");
	put_field(&o, e->decision);
	put_key(&o, "reason");
	put_field(&o, e->reason);
	put_key(&o, "status");
	put_u64(&o, (uint64_t)(e->status > 0 ? e->status : 0));
	put_key(&o, "subject");
	put_field(&o, e->subject);
	put_key(&o, "token_id");
	put_field(&o, e->token_id);
	put_key(&o, "scope");
	put_field(&o, e->scope);
	put_key(&o, "upstream_status");
	if (e->upstream_status > 0)
		put_u64(&o, (uint64_t)e->upstream_status);
	else
		put_str(&o, "null");
	put_key(&o, "latency_us");
	put_u64(&o, e->latency_us);
	put_key(&o, "bytes_in");
	put_u64(&o, e->bytes_in);
	put_key(&o, "bytes_out");
	put_u64(&o, e->bytes_out);
	if (e->forwarded_client != NULL) {
		put_key(&o, "forwarded_client");
		put_field(&o, e->forwarded_client);
	}
	if (e->client_cert_subject != NULL) {
		put_key(&o, "client_cert_subject");
		put_field(&o, e->client_cert_subject);
		put_key(&o, "client_cert_sha256");
		put_field(&o, e->client_cert_sha256);
	}
	put_opt(&o, ",\"query\":", e->query, ACCESSLOG_QUERY_MAX);
	put_opt(&o, ",\"host\":", e->host, ACCESSLOG_HOST_MAX);
	put_opt(&o, ",\"user_agent\":", e->user_agent, ACCESSLOG_USER_AGENT_MAX);
	put_opt(&o, ",\"http_version\":", e->http_version, ACCESSLOG_HTTP_VERSION_MAX);
	put_opt(&o, ",\"upstream_addr\":", e->upstream_addr, ACCESSLOG_UPSTREAM_ADDR_MAX);
	if (e->upstream_latency_us >= 0 && e->upstream_addr != NULL) {
		put_key(&o, "upstream_latency_us");
		put_u64(&o, (uint64_t)e->upstream_latency_us);
	}
	put_opt(&o, ",\"tls_version\":", e->tls_version, ACCESSLOG_TLS_VERSION_MAX);
	put_opt(&o, ",\"tls_cipher\":", e->tls_cipher, ACCESSLOG_TLS_CIPHER_MAX);
	put_opt(&o, ",\"sni\":", e->sni, ACCESSLOG_SNI_MAX);
	put_opt(&o, ",\"trace_id\":", e->trace_id, ACCESSLOG_TRACE_ID_MAX);
	/* The reserve behind o.end always fits the closing. */
	memcpy(o.p, "}\n", 3);
	return (size_t)(o.p - buf) + 2;
}

static int
open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static int
is_regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

struct accesslog *
accesslog_open(const char *path, struct errlist *errs)
{
	struct accesslog *al = xcalloc(1, sizeof(*al));

	if (strcmp(path, "-") == 0) {
		al->fd = STDERR_FILENO;
		al->regular = is_regular(al->fd);
		return al;
	}
	al->path = xstrdup(path);
	if ((al->fd = open_path(path)) == -1) {
		errlist_add(errs, "%s: cannot open access log: %s", path, strerror(errno));
		free(al->path);
		free(al);
		return NULL;
	}
	al->regular = is_regular(al->fd);
	return al;
}

int
accesslog_reopen(struct accesslog *al)
{
	int fd;

	if (al->path == NULL)
		return 0;
	if ((fd = open_path(al->path)) == -1) {
		log_warn("%s: reopening access log", al->path);
		return -1;
	}
	/* dup2 swaps the file under concurrent writers without a window
	 * where the descriptor is closed. */
	if (dup2(fd, al->fd) == -1) {
		log_warn("%s: dup2", al->path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void
accesslog_write(struct accesslog *al, const struct accesslog_entry *e)
{
	char line[ACCESSLOG_LINE_MAX];
	size_t n;

	if (al == NULL)
		return;
	n = accesslog_format(e, line, sizeof(line));
	/* One write per line: O_APPEND keeps lines from several workers
	 * whole. A failed log write must not fail the request. */
	if (write(al->fd, line, n) != (ssize_t)n)
		log_debug("access log write failed");
}

struct accesslog_batch *
accesslog_batch_new(struct accesslog *al)
{
	struct accesslog_batch *b = xmalloc(sizeof(*b));

	b->al = al;
	b->len = 0;
	return b;
}

int
accesslog_batch_add(struct accesslog_batch *b, const struct accesslog_entry *e)
{
	int was_empty = b->len == 0;

	/* A pipe or socket (stderr under systemd) keeps only writes of up to
	 * PIPE_BUF whole against the other workers': one line at a time. */
	if (!b->al->regular) {
		accesslog_write(b->al, e);
		return 0;
	}
	if (sizeof(b->buf) - b->len < ACCESSLOG_LINE_MAX)
		accesslog_batch_flush(b);
	b->len += accesslog_format(e, b->buf + b->len, sizeof(b->buf) - b->len);
	return was_empty;
}

void
accesslog_batch_flush(struct accesslog_batch *b)
{
	const char *p = b->buf;
	size_t left = b->len;

	/* O_APPEND on a regular file: each write lands whole at the end,
	 * after or before another worker's, never inside it. */
	while (left > 0) {
		ssize_t n = write(b->al->fd, p, left);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			log_debug("access log write failed");
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	b->len = 0;
}

void
accesslog_batch_free(struct accesslog_batch *b)
{
	if (b == NULL)
		return;
	accesslog_batch_flush(b);
	free(b);
}

void
accesslog_close(struct accesslog *al)
{
	if (al == NULL)
		return;
	if (al->path != NULL) {
		close(al->fd);
		free(al->path);
	}
	free(al);
}
