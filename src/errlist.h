/* errlist.h: an ordered list of error messages, so that loaders report every
 * problem they find instead of stopping at the first. */
#ifndef SCOPEGATE_ERRLIST_H
#define SCOPEGATE_ERRLIST_H

#include <stddef.h>
#include <stdio.h>

struct errlist {
	char **msgs;
	size_t n;
	size_t cap;
};

void errlist_init(struct errlist *el);
void errlist_add(struct errlist *el, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print each message on its own line. */
void errlist_print(const struct errlist *el, FILE *fp);
void errlist_free(struct errlist *el);

#endif
