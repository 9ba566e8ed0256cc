/* trace.c: see trace.h. */
#include "config.h"

#include <string.h>

#include "trace.h"

static int
hexlc(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n bytes from 2n lowercase hex digits; -1 on any other byte. */
static int
unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int h = hexlc((unsigned char)s[2 * i]), l = hexlc((unsigned char)s[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		out[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}

static int
all_zero(const unsigned char *b, size_t n)
{
	unsigned char acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

int
trace_parse(const char *value, size_t len, struct trace_ctx *out)
{
	unsigned char version;
	struct trace_ctx t;

	if (value == NULL || len < TRACE_PARENT_LEN)
		return -1;
	if (unhex(value, &version, 1) != 0 || version == 0xff)
		return -1;
	/* Version 00 is exactly this long; a later one may add fields
	 * after a '-', which a version-00 reader ignores. */
	if (version == 0x00 ? len != TRACE_PARENT_LEN :
	    len > TRACE_PARENT_LEN && value[TRACE_PARENT_LEN] != '-')
		return -1;
	if (value[2] != '-' || value[35] != '-' || value[52] != '-')
		return -1;
	if (unhex(value + 3, t.trace_id, 16) != 0 || unhex(value + 36, t.parent_id, 8) != 0 ||
	    unhex(value + 53, &t.flags, 1) != 0)
		return -1;
	if (all_zero(t.trace_id, sizeof(t.trace_id)) || all_zero(t.parent_id, sizeof(t.parent_id)))
		return -1;
	/* A NUL inside would make the caller's length and the C string
	 * disagree; the checks above reject it (not a hex digit). */
	*out = t;
	return 0;
}

void
trace_next_hop(const struct trace_ctx *in, const unsigned char rnd[24], struct trace_ctx *out)
{
	if (in != NULL) {
		memcpy(out->trace_id, in->trace_id, sizeof(out->trace_id));
		/* Version 00 defines only "sampled"; unknown bits are not
		 * passed on (section 3.2.2.5). */
		out->flags = in->flags & 0x01;
	} else {
		memcpy(out->trace_id, rnd, sizeof(out->trace_id));
		if (all_zero(out->trace_id, sizeof(out->trace_id)))
			out->trace_id[15] = 1;
		out->flags = 0;
	}
	memcpy(out->parent_id, rnd + 16, sizeof(out->parent_id));
	if (all_zero(out->parent_id, sizeof(out->parent_id)))
		out->parent_id[7] = 1;
}

static char *
put_hex(char *p, const unsigned char *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	return p;
}

void
trace_format(const struct trace_ctx *t, char *out)
{
	char *p = out;

	*p++ = '0';
	*p++ = '0';
	*p++ = '-';
	p = put_hex(p, t->trace_id, sizeof(t->trace_id));
	*p++ = '-';
	p = put_hex(p, t->parent_id, sizeof(t->parent_id));
	*p++ = '-';
	p = put_hex(p, &t->flags, 1);
	*p = '\0';
}

void
trace_id_hex(const struct trace_ctx *t, char *id)
{
	*put_hex(id, t->trace_id, sizeof(t->trace_id)) = '\0';
}

int
trace_request_id_valid(const char *v)
{
	size_t n = 0;

	if (v == NULL)
		return 0;
	for (; v[n] != '\0'; n++) {
		unsigned char c = (unsigned char)v[n];
		if (n == TRACE_REQUEST_ID_MAX ||
		    !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    strchr("-._~:/+=@", c) != NULL))
			return 0;
	}
	return n > 0;
}
