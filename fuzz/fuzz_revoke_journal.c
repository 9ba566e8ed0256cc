/* fuzz_revoke_journal.c: the revocation journal parser (whole files, with
 * torn tails) and the single-event parser used for pub/sub messages. The
 * invariants checked: every reported event has a storable id and a
 * non-negative expiry, the used length ends at a newline and never passes
 * the input, success and the error list agree, and a message parses alike
 * alone and as a journal line. */
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

	if ((ev->op != '+' && ev->op != '-') || !revoke_id_valid(ev->id, ev->len) ||
	    ev->expires_at < 0 || ev->id < c->buf || ev->id + ev->len > c->buf + c->size)
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

	/* As one pub/sub message, and the same as a one-line journal. */
	if (revoke_event_parse(buf, size, &ev) == 0) {
		char *line = xmalloc(size + 1);
		memcpy(line, buf, size);
		line[size] = '\n';
		if (revoke_journal_parse(line, size + 1, "fuzz", NULL, NULL, &used2, NULL) != 0 ||
		    used2 != size + 1 || revoke_event_parse(line, size, &ev2) != 0 ||
		    ev2.op != ev.op || ev2.len != ev.len || ev2.expires_at != ev.expires_at)
			abort();
		free(line);
	}
	return 0;
}
