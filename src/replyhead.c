/* replyhead.c: see replyhead.h. The steps in replyhead_finish follow
 * libevent 2.1.12's http.c (evhttp_send_reply_start, evhttp_make_header,
 * evhttp_make_header_response) for major == 1, minor == 1, a request that
 * is not a proxy request and not HEAD; test_replyhead compares the bytes
 * with what evhttp itself sends for the same fields. */
#include "config.h"

#include <string.h>

#include "replyhead.h"

/* ASCII case-insensitive equality of name (len bytes) and s (slen bytes),
 * as evutil_ascii_strcasecmp: no locale. Names mostly come in the
 * canonical spelling, compared at once. */
static int
name_eq(const char *name, size_t len, const char *s, size_t slen)
{
	if (len != slen)
		return 0;
	if (memcmp(name, s, len) == 0)
		return 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char a = (unsigned char)name[i], b = (unsigned char)s[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b + 32);
		if (a != b)
			return 0;
	}
	return 1;
}

/* name_eq with a string literal. */
#define NAME_IS(name, len, lit)	name_eq((name), (len), (lit), sizeof(lit) - 1)

void
replyhead_init(struct replyhead *h)
{
	h->n = 0;
	h->full = 0;
	h->chunked = 0;
	h->close = 0;
	h->date[0] = '\0';
}

void
replyhead_add(struct replyhead *h, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
	struct replyhead_field *f;

	if (h->n == REPLYHEAD_MAX_FIELDS) {
		h->full = 1;
		return;
	}
	f = &h->f[h->n++];
	f->name = name;
	f->name_len = name_len;
	f->value = value;
	f->value_len = value_len;
}

static size_t
index_of(const struct replyhead *h, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < h->n; i++)
		if (name_eq(h->f[i].name, h->f[i].name_len, name, len))
			break;
	return i;
}

int
replyhead_remove(struct replyhead *h, const char *name)
{
	size_t i = index_of(h, name);
	int rc = -1;

	if (i < h->n) {
		memmove(&h->f[i], &h->f[i + 1], (h->n - i - 1) * sizeof(h->f[0]));
		h->n--;
		rc = 0;
	}
	return rc;
}

const struct replyhead_field *
replyhead_find(const struct replyhead *h, const char *name)
{
	size_t i = index_of(h, name);

	return i < h->n ? &h->f[i] : NULL;
}

#define ADD_LIT(h, n, v)	replyhead_add((h), (n), sizeof(n) - 1, (v), sizeof(v) - 1)

/* The fields replyhead_finish looks for, found in one pass (evhttp looks
 * each up with its own walk of the list). */
enum {
	HAS_CONTENT_LENGTH = 1,
	HAS_TRANSFER_ENCODING = 2,
	HAS_DATE = 4,
	HAS_CONTENT_TYPE = 8,
};

static unsigned
framing_fields(const struct replyhead *h)
{
	unsigned has = 0;

	for (size_t i = 0; i < h->n; i++) {
		const struct replyhead_field *f = &h->f[i];

		switch (f->name_len) {
		case 4:
			if (NAME_IS(f->name, f->name_len, "Date"))
				has |= HAS_DATE;
			break;
		case 12:
			if (NAME_IS(f->name, f->name_len, "Content-Type"))
				has |= HAS_CONTENT_TYPE;
			break;
		case 14:
			if (NAME_IS(f->name, f->name_len, "Content-Length"))
				has |= HAS_CONTENT_LENGTH;
			break;
		case 17:
			if (NAME_IS(f->name, f->name_len, "Transfer-Encoding"))
				has |= HAS_TRANSFER_ENCODING;
			break;
		}
	}
	return has;
}

/* evhttp_response_needs_body, for a request that is not HEAD (RFC 9110
 * 6.4.1: no body with 1xx, 204, 304). */
int
replyhead_status_has_body(int status)
{
	return status != 204 && status != 304 && (status < 100 || status >= 200);
}

void
replyhead_finish(struct replyhead *h, int status, const char *client_connection,
    const char *default_type, size_t (*date_now)(char *buf, size_t size))
{
	int needs_body = replyhead_status_has_body(status);
	unsigned has = framing_fields(h);
	const struct replyhead_field *c;

	/* evhttp_send_reply_start: chunked when no length is given. */
	h->chunked = 0;
	if (!(has & HAS_CONTENT_LENGTH) && needs_body) {
		ADD_LIT(h, "Transfer-Encoding", "chunked");
		has |= HAS_TRANSFER_ENCODING;
		h->chunked = 1;
	}
	/* evhttp_make_header_response, minor >= 1. */
	if (!(has & HAS_DATE)) {
		size_t n = date_now(h->date, sizeof(h->date));

		/* evhttp adds it when the formatter left room, which its
		 * size_t arithmetic makes always. */
		replyhead_add(h, "Date", 4, h->date, n < sizeof(h->date) ? n : sizeof(h->date) - 1);
	}
	/* evhttp_maybe_add_content_length_header with the empty output
	 * buffer of a streamed reply: with needs_body, chunked above already
	 * settled it unless a Content-Length is there; kept for fidelity. */
	if (needs_body && !(has & (HAS_TRANSFER_ENCODING | HAS_CONTENT_LENGTH)))
		ADD_LIT(h, "Content-Length", "0");
	if (needs_body && default_type != NULL && !(has & HAS_CONTENT_TYPE))
		replyhead_add(h, "Content-Type", 12, default_type, strlen(default_type));
	/* The request asked for a close (its first Connection field). */
	if (client_connection != NULL &&
	    NAME_IS(client_connection, strlen(client_connection), "close")) {
		replyhead_remove(h, "Connection");
		ADD_LIT(h, "Connection", "close");
		replyhead_remove(h, "Proxy-Connection");
	}
	c = replyhead_find(h, "Connection");
	h->close = c != NULL && NAME_IS(c->value, c->value_len, "close");
}

size_t
replyhead_size(const struct replyhead *h, const char *reason, size_t reason_len)
{
	/* "HTTP/1.1 " + 3 digits + " " + reason + CRLF, final CRLF. */
	size_t n = 9 + 3 + 1 + reason_len + 2 + 2;

	for (size_t i = 0; i < h->n; i++)
		n += h->f[i].name_len + 2 + h->f[i].value_len + 2;
	return n;
}

size_t
replyhead_write(const struct replyhead *h, int status, const char *reason,
    size_t reason_len, char *dst)
{
	char *p = dst;

	memcpy(p, "HTTP/1.1 ", 9);
	p += 9;
	p[0] = (char)('0' + status / 100 % 10);
	p[1] = (char)('0' + status / 10 % 10);
	p[2] = (char)('0' + status % 10);
	p[3] = ' ';
	p += 4;
	memcpy(p, reason, reason_len);
	p += reason_len;
	*p++ = '\r';
	*p++ = '\n';
	for (size_t i = 0; i < h->n; i++) {
		const struct replyhead_field *f = &h->f[i];

		memcpy(p, f->name, f->name_len);
		p += f->name_len;
		*p++ = ':';
		*p++ = ' ';
		memcpy(p, f->value, f->value_len);
		p += f->value_len;
		*p++ = '\r';
		*p++ = '\n';
	}
	*p++ = '\r';
	*p++ = '\n';
	return (size_t)(p - dst);
}

size_t
replyhead_chunk_line(size_t len, char *dst)
{
	static const char hex[] = "0123456789abcdef";
	unsigned v = (unsigned)len;	/* evhttp's "%x" of an unsigned */
	char tmp[16];
	size_t n = 0, i;

	do {
		tmp[n++] = hex[v & 0xf];
		v >>= 4;
	} while (v != 0);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n++] = '\r';
	dst[n++] = '\n';
	return n;
}
