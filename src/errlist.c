/* errlist.c: see errlist.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "xmalloc.h"

void
errlist_init(struct errlist *el)
{
	el->msgs = NULL;
	el->n = 0;
	el->cap = 0;
}

void
errlist_add(struct errlist *el, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("(out of memory formatting error)");
	va_end(ap);
	/* Loaders may meet the same problem twice (a key's type is checked by
	 * the key table and again by its getter): say it once. */
	for (size_t i = 0; i < el->n; i++)
		if (strcmp(el->msgs[i], msg) == 0) {
			free(msg);
			return;
		}
	if (el->n == el->cap) {
		el->cap = el->cap ? el->cap * 2 : 8;
		el->msgs = xreallocarray(el->msgs, el->cap, sizeof(*el->msgs));
	}
	el->msgs[el->n++] = msg;
}

void
errlist_print(const struct errlist *el, FILE *fp)
{
	for (size_t i = 0; i < el->n; i++)
		fprintf(fp, "%s\n", el->msgs[i]);
}

void
errlist_free(struct errlist *el)
{
	for (size_t i = 0; i < el->n; i++)
		free(el->msgs[i]);
	free(el->msgs);
	errlist_init(el);
}
