/* revoke_journal.c: token id rules and the revocation journal's line
 * formats (see revoke.h), parsed without allocation so that they can be
 * fuzzed on their own. */
#include "config.h"

#include <string.h>

#include "revoke.h"

int
revoke_id_valid(const char *id, size_t len)
{
	if (id == NULL || len == 0 || len > SG_REVOKE_MAX_ID_BYTES)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c < 0x21 || c > 0x7e)
			return 0;
	}
	return 1;
}

/* Per byte of an id: 1 a visible ASCII character (an id holds only
 * those), 3 one that is also a hex digit. */
static const unsigned char id_class[256] = {
	[0x21 ... 0x2f] = 1, ['0' ... '9'] = 3, [0x3a ... 0x40] = 1, ['A' ... 'F'] = 3,
	['G' ... 0x60] = 1, ['a' ... 'f'] = 3, ['g' ... 0x7e] = 1,
};

size_t
revoke_id_canon(const char *id, size_t len, char *out)
{
	unsigned char all = 3;

	/* Every allowed DELETE of a token id asks: one pass to classify
	 * (as revoke_id_valid, and all hex or not), one to copy. */
	if (id == NULL || len == 0 || len > SG_REVOKE_MAX_ID_BYTES)
		return 0;
	for (size_t i = 0; i < len; i++)
		all &= id_class[(unsigned char)id[i]];
	if (all == 0)
		return 0;
	/* An objectid: the upstream takes it in either case, so the two
	 * spellings name one token (0x20 turns A-F into a-f and leaves
	 * digits and a-f as they are). Other ids are opaque: byte for
	 * byte. */
	if (all == 3 && len == 24) {
		for (size_t i = 0; i < len; i++)
			out[i] = (char)(id[i] | 0x20);
	} else if (out != id)
		memmove(out, id, len);
	return len;
}

static const char *const source_names[REVOKE_NSOURCES] = {
	[REVOKE_SRC_STATUS] = "status",
	[REVOKE_SRC_DELETE] = "delete",
	[REVOKE_SRC_OPERATOR] = "operator",
	[REVOKE_SRC_FILE] = "file",
};

const char *
revoke_source_str(enum revoke_source s)
{
	return (unsigned)s < REVOKE_NSOURCES ? source_names[s] : "unknown";
}

int
revoke_source_parse(const char *s, size_t len)
{
	for (int i = 0; i < REVOKE_NSOURCES; i++)
		if (strlen(source_names[i]) == len && memcmp(source_names[i], s, len) == 0)
			return i;
	return -1;
}

/* Parse a non-negative decimal int64 without sign or leading zeros
 * (except "0"). 0 or -1. */
static int
parse_time(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Split line into at most max fields separated by single spaces (no
 * empty field). The number of fields, or -1. */
static int
split(const char *line, size_t len, const char **f, size_t *flen, int max)
{
	int n = 0;
	size_t a = 0;

	while (a <= len) {
		const char *sp = memchr(line + a, ' ', len - a);
		size_t e = sp != NULL ? (size_t)(sp - line) : len;
		if (e == a || n == max)
			return -1;
		f[n] = line + a;
		flen[n++] = e - a;
		if (sp == NULL)
			break;
		a = e + 1;
	}
	return n;
}

/* Format 1: "+ <id> <expires_at>" or "- <id>". */
static int
parse_v1(const char *line, size_t len, struct revoke_event *ev)
{
	const char *sp, *id;
	size_t rest;

	if (len < 3 || (line[0] != '+' && line[0] != '-') || line[1] != ' ')
		return -1;
	ev->op = line[0];
	id = line + 2;
	rest = len - 2;
	sp = memchr(id, ' ', rest);
	ev->source = REVOKE_SRC_OPERATOR;
	if (ev->op == '-') {
		if (sp != NULL || !revoke_id_valid(id, rest))
			return -1;
		ev->id = id;
		ev->len = rest;
		return 0;
	}
	if (sp == NULL || !revoke_id_valid(id, (size_t)(sp - id)))
		return -1;
	ev->id = id;
	ev->len = (size_t)(sp - id);
	return parse_time(sp + 1, rest - ev->len - 1, &ev->expires_at);
}

/* Format 2 (see revoke.h). */
static int
parse_v2(const char *line, size_t len, struct revoke_event *ev)
{
	const char *f[6];
	size_t fl[6];
	int n = split(line, len, f, fl, 6), src;

	if (n < 3 || fl[0] != 1 || !revoke_id_valid(f[1], fl[1]))
		return -1;
	ev->op = f[0][0];
	ev->id = f[1];
	ev->len = fl[1];
	if (ev->op == 'a')
		return n == 3 && parse_time(f[2], fl[2], &ev->version) == 0 ? 0 : -1;
	if ((ev->op != '+' && ev->op != '-') || n < 5)
		return -1;
	if (parse_time(f[2], fl[2], &ev->expires_at) != 0 ||
	    parse_time(f[3], fl[3], &ev->version) != 0 ||
	    (src = revoke_source_parse(f[4], fl[4])) < 0 || src == REVOKE_SRC_FILE)
		return -1;
	ev->source = (enum revoke_source)src;
	if (n == 6) {
		if (fl[5] != 1 || f[5][0] != 'p')
			return -1;
		ev->pending = 1;
	}
	return 0;
}

int
revoke_event_parse(const char *line, size_t len, int format, struct revoke_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->format = format;
	return format == 1 ? parse_v1(line, len, ev) : parse_v2(line, len, ev);
}

int
revoke_journal_parse(const char *buf, size_t len, const char *name,
    revoke_event_fn *fn, void *arg, size_t *used, struct errlist *errs)
{
	size_t off = 0, lineno = 0, hlen = strlen(REVOKE_JOURNAL_HEADER);
	int rc = 0, format = 1;

	*used = 0;
	if (len >= hlen && memcmp(buf, REVOKE_JOURNAL_HEADER, hlen) == 0) {
		format = 2;
		off = *used = hlen;
		lineno = 1;
	}
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		struct revoke_event ev;
		size_t n;

		if (nl == NULL)	/* torn last line: not ours to judge */
			break;
		lineno++;
		n = (size_t)(nl - (buf + off));
		if (revoke_event_parse(buf + off, n, format, &ev) != 0) {
			if (errs != NULL)
				errlist_add(errs, "%s:%zu: malformed revocation journal line",
				    name, lineno);
			rc = -1;
			goto out;
		}
		if (fn != NULL && (rc = fn(arg, &ev)) != 0)
			goto out;
		off += n + 1;
		*used = off;
	}
out:
	return rc;
}
