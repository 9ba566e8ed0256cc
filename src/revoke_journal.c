/* revoke_journal.c: the revocation journal's line format (see revoke.h),
 * parsed without allocation so that it can be fuzzed on its own. */
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

int
revoke_event_parse(const char *line, size_t len, struct revoke_event *ev)
{
	const char *id, *sp;
	size_t rest;

	memset(ev, 0, sizeof(*ev));
	if (len < 3 || (line[0] != '+' && line[0] != '-') || line[1] != ' ')
		return -1;
	ev->op = line[0];
	id = line + 2;
	rest = len - 2;
	sp = memchr(id, ' ', rest);
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

int
revoke_journal_parse(const char *buf, size_t len, const char *name,
    revoke_event_fn *fn, void *arg, size_t *used, struct errlist *errs)
{
	size_t off = 0, lineno = 0;
	int rc = 0;

	*used = 0;
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		struct revoke_event ev;
		size_t n;

		if (nl == NULL)	/* torn last line: not ours to judge */
			break;
		lineno++;
		n = (size_t)(nl - (buf + off));
		if (revoke_event_parse(buf + off, n, &ev) != 0) {
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
