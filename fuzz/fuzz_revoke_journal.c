/* fuzz_revoke_journal.c: the revocation journal parser (whole files in
 * either format, with torn tails), the single-line parser (also used for
 * Redis state values) and id canonicalisation. The invariants checked:
 * every reported event has a storable id, a known op and source and
 * non-negative numbers, the used length ends at a newline and never
 * passes the input, success and the error list agree, a line parses alike
 * alone and in a journal of its format, and canonicalising is idempotent
 * and keeps the length. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "revoke.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const char *buf;
	size_t size;
	size_t nevents;
};

static int
on_event(void *arg, const struct revoke_event *ev)
{
	struct ctx *c = arg;

	char canon[SG_REVOKE_MAX_ID_BYTES], again[SG_REVOKE_MAX_ID_BYTES];

	if ((ev->op != '+' && ev->op != '-' && ev->op != 'a') || !revoke_id_valid(ev->id, ev->len) ||
	    ev->expires_at < 0 || ev->version < 0 || ev->id < c->buf ||
	    ev->id + ev->len > c->buf + c->size || (ev->format != 1 && ev->format != 2) ||
	    (ev->format == 1 && (ev->op == 'a' || ev->pending || ev->version != 0)) ||
	    (unsigned)ev->source >= REVOKE_SRC_FILE)
		abort();
	if (revoke_id_canon(ev->id, ev->len, canon) != ev->len ||
	    revoke_id_canon(canon, ev->len, again) != ev->len || memcmp(canon, again, ev->len) != 0)
		abort();
	c->nevents++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct ctx c = { buf, size, 0 };
	struct errlist el;
	struct revoke_event ev, ev2;
	size_t used = 0, used2 = 0;
	int rc;

	errlist_init(&el);
	rc = revoke_journal_parse(buf, size, "fuzz", on_event, &c, &used, &el);
	if ((rc == 0) != (el.n == 0) || used > size || (used > 0 && buf[used - 1] != '\n'))
		abort();
	if (rc == 0 && memchr(buf + used, '\n', size - used) != NULL)
		abort();	/* a complete line was left unparsed */
	errlist_free(&el);

	/* As one line of each format, and the same in a journal of it. */
	for (int format = 1; format <= 2; format++) {
		const char *h = format == 2 ? REVOKE_JOURNAL_HEADER : "";
		size_t hl = strlen(h);
		char *line;

		if (revoke_event_parse(buf, size, format, &ev) != 0)
			continue;
		line = xmalloc(hl + size + 1);
		memcpy(line, h, hl);
		memcpy(line + hl, buf, size);
		line[hl + size] = '\n';
		if (revoke_journal_parse(line, hl + size + 1, "fuzz", NULL, NULL, &used2,
		    NULL) != 0 || used2 != hl + size + 1 ||
		    revoke_event_parse(line + hl, size, format, &ev2) != 0 || ev2.op != ev.op ||
		    ev2.len != ev.len || ev2.expires_at != ev.expires_at ||
		    ev2.version != ev.version || ev2.source != ev.source ||
		    ev2.pending != ev.pending)
			abort();
		free(line);
	}
	{
		char canon[SG_REVOKE_MAX_ID_BYTES];
		size_t n = size < 300 ? size : 300;
		if (revoke_id_canon(buf, n, canon) != (revoke_id_valid(buf, n) ? n : 0))
			abort();
	}
	return 0;
}
