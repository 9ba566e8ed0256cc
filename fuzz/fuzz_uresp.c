/* fuzz_uresp.c: the upstream response parser on arbitrary bytes. The first
 * three bytes choose the options (HEAD request, EOF at the end, max_head)
 * and a split point; the rest is the response. It is parsed whole, split
 * in two at that point and (when short) one byte at a time, every piece in
 * its own exactly-sized heap copy: the events, error, head, fields and
 * body bytes must not depend on the split, a body never exceeds the input
 * or sits outside the consumed bytes, and a Content-Length body is exactly
 * that long. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uresp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
	int last, heads;
	const char *error;
	size_t consumed;
	unsigned char *body;	/* up to the input size */
	size_t body_len;
	char head[16384];	/* status, flags, reason and fields, serialized */
	size_t head_len;
};

static void
put(struct result *o, const void *s, size_t n)
{
	if (n > sizeof(o->head) - o->head_len)
		abort();	/* the head copy is bounded by max_head */
	memcpy(o->head + o->head_len, s, n);
	o->head_len += n;
}

/* One run over in[0..n) cut at the cuts (increasing). */
static void
run(const char *in, size_t n, const size_t *cuts, size_t ncuts, int head_req, int eof,
    size_t max_head, struct result *o)
{
	struct uresp r;
	size_t start = 0;
	int ev = URESP_MORE, terminal = 0;

	o->heads = 0;
	o->consumed = 0;
	o->body_len = 0;
	o->head_len = 0;
	uresp_init(&r, max_head);
	uresp_reset(&r, head_req);
	for (size_t k = 0; k <= ncuts && !terminal; k++) {
		size_t stop = k < ncuts ? cuts[k] : n, plen = stop - start, off = 0;
		char *piece = malloc(plen ? plen : 1);
		int guard = 0;

		if (piece == NULL)
			abort();
		if (plen)
			memcpy(piece, in + start, plen);
		for (;;) {
			const char *body;
			size_t used, blen;

			ev = uresp_feed(&r, piece + off, plen - off, &used, &body, &blen);
			if (used > plen - off || ++guard > 4 * (int)n + 16)
				abort();
			if (ev == URESP_BODY) {
				if (blen == 0 || blen > used || body != piece + off + used - blen ||
				    o->body_len + blen > n)
					abort();
				memcpy(o->body + o->body_len, body, blen);
				o->body_len += blen;
			} else if (blen != 0 || body != NULL)
				abort();
			off += used;
			o->consumed += used;
			if (ev == URESP_HEAD && ++o->heads > 1)
				abort();
			if (ev == URESP_MORE) {
				if (off != plen)
					abort();
				break;
			}
			if (ev == URESP_DONE || ev == URESP_ERROR) {
				terminal = 1;
				break;
			}
		}
		free(piece);
		start = stop;
	}
	if (!terminal && eof)
		ev = uresp_eof(&r);
	o->last = ev;
	o->error = ev == URESP_ERROR ? r.error : NULL;
	if (ev == URESP_ERROR && r.error == NULL)
		abort();
	if (o->heads) {
		int v[6] = { r.status, r.minor, r.keep_alive, r.has_body, r.chunked, 0 };

		if (r.status < 200 || r.status > 599 || r.status == 101 || r.minor < 0 ||
		    r.minor > 1 || r.nfields > URESP_MAX_FIELDS)
			abort();
		put(o, v, sizeof(v));
		put(o, &r.content_length, sizeof(r.content_length));
		put(o, r.reason, r.reason_len);
		for (size_t i = 0; i < r.nfields; i++) {
			put(o, "\n", 1);
			put(o, r.fields[i].name, r.fields[i].name_len);
			put(o, ":", 1);
			put(o, r.fields[i].value, r.fields[i].value_len);
		}
		if (ev == URESP_DONE && r.has_body && !r.chunked && r.content_length >= 0 &&
		    o->body_len != (size_t)r.content_length)
			abort();
		if (ev == URESP_DONE && !r.has_body && o->body_len != 0)
			abort();
		if (ev == URESP_DONE && !r.has_body && r.chunked)
			abort();
	} else if (o->body_len != 0)
		abort();
	uresp_free(&r);
}

static void
same(const struct result *a, const struct result *b)
{
	if (a->last != b->last || a->heads != b->heads || a->error != b->error ||
	    (a->last != URESP_ERROR && a->consumed != b->consumed) ||
	    a->body_len != b->body_len || memcmp(a->body, b->body, a->body_len) != 0 ||
	    a->head_len != b->head_len || memcmp(a->head, b->head, a->head_len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t heads[4] = { 48, 128, 512, 8192 };
	static struct result whole, other;
	const char *in = (const char *)data + 3;
	size_t n, at, *cuts;
	int head_req, eof;

	if (size < 3)
		return 0;
	n = size - 3;
	head_req = data[0] & 1;
	eof = (data[0] >> 1) & 1;
	at = n ? ((size_t)data[1] << 8 | data[2]) % (n + 1) : 0;
	whole.body = malloc(n + 1);
	other.body = malloc(n + 1);
	cuts = malloc((n + 1) * sizeof(*cuts));
	if (whole.body == NULL || other.body == NULL || cuts == NULL)
		abort();
	run(in, n, NULL, 0, head_req, eof, heads[(data[0] >> 2) & 3], &whole);
	if (whole.consumed > n)
		abort();
	run(in, n, &at, 1, head_req, eof, heads[(data[0] >> 2) & 3], &other);
	same(&whole, &other);
	if (n <= 2048) {
		for (size_t i = 1; i < n; i++)
			cuts[i - 1] = i;
		run(in, n, cuts, n ? n - 1 : 0, head_req, eof, heads[(data[0] >> 2) & 3], &other);
		same(&whole, &other);
	}
	free(cuts);
	free(other.body);
	free(whole.body);
	return 0;
}
