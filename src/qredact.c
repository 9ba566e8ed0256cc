/* qredact.c: see qredact.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "qredact.h"
#include "xmalloc.h"

struct qredact {
	size_t n;
	char **names;		/* ASCII-lowercased */
};

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

struct qredact *
qredact_new(const char *const *names, size_t n, const char **why)
{
	struct qredact *q;

	if (n > QREDACT_MAX_NAMES) {
		*why = "too many names";
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		if (len == 0 || len > QREDACT_MAX_NAME_LEN) {
			*why = "a name must have 1 to 128 bytes";
			return NULL;
		}
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)names[i][k] < 0x20 || names[i][k] == 0x7f) {
				*why = "a name may not hold control characters";
				return NULL;
			}
	}
	q = xcalloc(1, sizeof(*q));
	q->n = n;
	q->names = xcalloc(n ? n : 1, sizeof(*q->names));
	for (size_t i = 0; i < n; i++) {
		q->names[i] = xstrdup(names[i]);
		for (char *p = q->names[i]; *p; p++)
			*p = (char)lower((unsigned char)*p);
	}
	return q;
}

void
qredact_free(struct qredact *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->names[i]);
	free(q->names);
	free(q);
}

struct qredact *
qredact_from_json(struct jsonconf *jc, const json_t *v, const char *ptr)
{
	static const char *const defaults[] = {SG_DEFAULT_REDACT_QUERY};
	const char *names[QREDACT_MAX_NAMES], *why = NULL;
	struct qredact *q;
	size_t i;
	json_t *e;

	if (v == NULL)
		return qredact_new(defaults, sizeof(defaults) / sizeof(defaults[0]), &why);
	if (!json_is_array(v)) {
		jsonconf_error(jc, ptr, "must be an array of parameter names");
		return NULL;
	}
	if (json_array_size(v) > QREDACT_MAX_NAMES) {
		jsonconf_error(jc, ptr, "more than %d names", QREDACT_MAX_NAMES);
		return NULL;
	}
	json_array_foreach(v, i, e) {
		char *p = jsonconf_ptr_index(ptr, i);
		const char *one[1];
		struct qredact *t;

		names[i] = json_is_string(e) ? json_string_value(e) : NULL;
		if (names[i] == NULL || strlen(names[i]) != json_string_length(e)) {
			jsonconf_error(jc, p, "must be a string without NUL bytes");
			free(p);
			return NULL;
		}
		one[0] = names[i];
		if ((t = qredact_new(one, 1, &why)) == NULL) {
			jsonconf_error(jc, p, "%s", why);
			free(p);
			return NULL;
		}
		qredact_free(t);
		free(p);
	}
	if ((q = qredact_new(names, json_array_size(v), &why)) == NULL)
		jsonconf_error(jc, ptr, "%s", why);
	return q;
}

/* Does the raw parameter name s[0..len) read as a listed name? */
static int
name_listed(const struct qredact *q, const char *s, size_t len)
{
	char dec[QREDACT_MAX_NAME_LEN + 2];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int h, l;

		if (c == '%' && i + 2 < len && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			c = (unsigned char)(h * 16 + l);
			i += 2;
		} else if (c == '+')
			c = ' ';
		/* Longer than any listed name (plus "[]"): cannot match,
		 * unless the rest is the array suffix, which is cut below. */
		if (n == sizeof(dec) - 1) {
			if (c == '[')
				break;
			return 0;
		}
		dec[n++] = (char)lower(c);
	}
	dec[n] = '\0';
	/* "token[]", "token[0]": the name before the first '['. */
	if ((s = memchr(dec, '[', n)) != NULL && s > dec)
		dec[s - dec] = '\0';
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(dec, q->names[i]) == 0)
			return 1;
	return 0;
}

size_t
qredact_apply(const struct qredact *q, const char *query, char *out, size_t size)
{
	size_t o = 0;
	const char *p = query;

	if (size == 0)
		return 0;
	while (*p != '\0') {
		size_t nlen = strcspn(p, "&;="), vlen = 0, take;
		const char *next;
		int redact = 0;

		if (p[nlen] == '=') {
			vlen = strcspn(p + nlen + 1, "&");
			redact = q != NULL && name_listed(q, p, nlen);
			if (!redact)
				/* Not ours to hide: its value still ends at ';' for
				 * the next name's sake. */
				vlen = strcspn(p + nlen + 1, "&;");
			next = p + nlen + 1 + vlen;
		} else
			next = p + nlen;
		/* The name (and '='), then the value or the mark. */
		take = (size_t)(next - p);
		if (redact)
			take = nlen + 1;
		if (o + take >= size)
			break;
		memcpy(out + o, p, take);
		o += take;
		if (redact) {
			if (o + sizeof(QREDACT_MARK) - 1 >= size) {
				o -= take;	/* never a name without its mark */
				break;
			}
			memcpy(out + o, QREDACT_MARK, sizeof(QREDACT_MARK) - 1);
			o += sizeof(QREDACT_MARK) - 1;
		}
		p = next;
		if (*p == '&' || *p == ';') {
			if (o + 1 >= size)
				break;
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return o;
}
