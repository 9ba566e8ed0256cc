/* policy.c: the runtime side of the policy (see policy.h): route matching,
 * interned scopes and accessors. Loading lives in policy_load.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_int.h"

static const char *const method_names[POLICY_M_COUNT] = {
	[POLICY_M_GET] = "GET",
	[POLICY_M_HEAD] = "HEAD",
	[POLICY_M_POST] = "POST",
	[POLICY_M_PUT] = "PUT",
	[POLICY_M_PATCH] = "PATCH",
	[POLICY_M_DELETE] = "DELETE",
	[POLICY_M_OPTIONS] = "OPTIONS",
};

enum policy_method
policy_method_parse(const char *s, size_t len)
{
	for (int m = 0; m < POLICY_M_COUNT; m++)
		if (strlen(method_names[m]) == len && memcmp(method_names[m], s, len) == 0)
			return (enum policy_method)m;
	return POLICY_M_OTHER;
}

const char *
policy_method_name(enum policy_method m)
{
	if ((unsigned)m >= POLICY_M_COUNT)
		return "OTHER";
	return method_names[m];
}

char *
policy_allow_header(unsigned mask, char *buf, size_t size)
{
	size_t off = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (int m = 0; m < POLICY_M_COUNT; m++) {
		if (!(mask & (1u << m)))
			continue;
		int n = snprintf(buf + off, size - off, "%s%s", off ? ", " : "",
		    method_names[m]);
		if (n < 0 || (size_t)n >= size - off) {
			buf[off] = '\0';	/* drop a method that does not fit */
			break;
		}
		off += (size_t)n;
	}
	return buf;
}

size_t
policy_action_count(const struct policy *p)
{
	return p->nactions;
}

const struct policy_action *
policy_action_at(const struct policy *p, size_t i)
{
	return i < p->nactions ? &p->actions[i] : NULL;
}

void
policy_action_set_max_body(struct policy *p, size_t i, int64_t max)
{
	if (i < p->nactions)
		p->actions[i].max_body_bytes = max;
}

const struct policy_action *
policy_action_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nactions; i++)
		if (strcmp(p->actions[i].name, name) == 0)
			return &p->actions[i];
	return NULL;
}

const char *
policy_schemas_dir(const struct policy *p)
{
	return p->schemas_dir;
}

size_t
policy_scope_count(const struct policy *p)
{
	return p->nscopes;
}

const char *
policy_scope_name(const struct policy *p, size_t id)
{
	return id < p->nscopes ? p->scope_names[id] : NULL;
}

/* strcmp order between a NUL-terminated name and (s, len). */
static int
name_cmp(const char *name, const char *s, size_t len)
{
	int c = strncmp(name, s, len);

	if (c != 0)
		return c;
	return name[len] != '\0';	/* name is longer: after s */
}

int
policy_scope_lookup(const struct policy *p, const char *name, size_t len)
{
	size_t lo = 0, hi = p->nscopes;

	/* A scope name never holds a NUL; strncmp would stop at one. */
	if (memchr(name, '\0', len) != NULL)
		return -1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t id = p->scope_sorted[mid];
		int c = name_cmp(p->scope_names[id], name, len);
		if (c == 0)
			return (int)id;
		if (c > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

void
policy_scopeset_clear(struct policy_scopeset *s)
{
	memset(s, 0, sizeof(*s));
}

void
policy_scopeset_add(struct policy_scopeset *s, size_t id)
{
	if (id < SG_POLICY_MAX_SCOPES)
		s->w[id / 64] |= UINT64_C(1) << (id % 64);
}

int
policy_scopeset_has(const struct policy_scopeset *s, size_t id)
{
	return id < SG_POLICY_MAX_SCOPES && (s->w[id / 64] >> (id % 64) & 1);
}

int
policy_scopeset_intersects(const struct policy_scopeset *a,
    const struct policy_scopeset *b)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < sizeof(a->w) / sizeof(a->w[0]); i++)
		acc |= a->w[i] & b->w[i];
	return acc != 0;
}

int
policy_all_of_held(const struct policy_action *a, const struct policy_scopeset *s)
{
	for (size_t k = 0; k < a->nall_of; k++) {
		uint64_t miss = 0;

		for (size_t i = 0; i < sizeof(s->w) / sizeof(s->w[0]); i++)
			miss |= a->all_of[k].w[i] & ~s->w[i];
		if (miss == 0)
			return (int)k;
	}
	return -1;
}

void
policy_scopeset_from_names(const struct policy *p, const char *const *names,
    size_t n, struct policy_scopeset *out)
{
	policy_scopeset_clear(out);
	for (size_t i = 0; i < n; i++) {
		int id = policy_scope_lookup(p, names[i], strlen(names[i]));
		if (id >= 0)
			policy_scopeset_add(out, (size_t)id);
	}
}

int
policy_scope_covered(const struct policy *p, const struct policy_scopeset *s,
    const char *name, size_t len)
{
	for (size_t i = 0; i < p->ncovers; i++) {
		const struct policy_cover *c = &p->covers[i];

		if (!policy_scopeset_has(s, c->umbrella))
			continue;
		if (c->prefix ? len >= c->len && memcmp(name, c->pattern, c->len) == 0 :
		    len == c->len && memcmp(name, c->pattern, len) == 0)
			return (int)c->umbrella;
	}
	return -1;
}

/* Does cover d take in every name cover c does? */
static int
cover_includes(const struct policy_cover *d, const struct policy_cover *c)
{
	if (d->prefix)
		return c->len >= d->len && memcmp(c->pattern, d->pattern, d->len) == 0;
	return !c->prefix && c->len == d->len && memcmp(c->pattern, d->pattern, d->len) == 0;
}

int
policy_covers_within(const struct policy *p, size_t umbrella,
    const struct policy_scopeset *s)
{
	if (policy_scopeset_has(s, umbrella))
		return 1;
	for (size_t i = 0; i < p->ncovers; i++) {
		const struct policy_cover *c = &p->covers[i];
		int found = 0;

		if (c->umbrella != umbrella)
			continue;
		for (size_t k = 0; k < p->ncovers && !found; k++)
			found = policy_scopeset_has(s, p->covers[k].umbrella) &&
			    cover_includes(&p->covers[k], c);
		if (!found)
			return 0;
	}
	return 1;
}

const char *const *
policy_scopes_allowing(const struct policy *p, const struct policy_action *a,
    size_t *n)
{
	(void)p;
	*n = a->nscopes;
	return a->scopes;
}

const char *
policy_param_type_name(enum policy_param_type type)
{
	switch (type) {
	case POLICY_PARAM_OBJECTID:
		return "objectid";
	case POLICY_PARAM_INTEGER:
		return "integer";
	case POLICY_PARAM_UUID:
		return "uuid";
	default:
		return "string";
	}
}

int
policy_param_valid(enum policy_param_type type, const char *v, size_t len)
{
	switch (type) {
	case POLICY_PARAM_STRING:
		return len > 0;
	case POLICY_PARAM_OBJECTID:
		if (len != 24)
			return 0;
		for (size_t i = 0; i < len; i++) {
			char c = v[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F')))
				return 0;
		}
		return 1;
	case POLICY_PARAM_INTEGER: {
		size_t i = len > 0 && v[0] == '-';

		if (len <= i || len - i > 19)
			return 0;
		for (; i < len; i++)
			if (v[i] < '0' || v[i] > '9')
				return 0;
		return 1;
	}
	case POLICY_PARAM_UUID:
		if (len != 36)
			return 0;
		for (size_t i = 0; i < len; i++) {
			char c = v[i];

			if (i == 8 || i == 13 || i == 18 || i == 23) {
				if (c != '-')
					return 0;
			} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F')))
				return 0;
		}
		return 1;
	}
	return 0;
}

void
policy_match(const struct policy *p, enum policy_method method,
    const struct canon_segment *segs, size_t nsegs, struct policy_match *out)
{
	const struct policy_action *a;
	unsigned allowed;
	int v;

	out->action = NULL;
	out->nparams = 0;
	out->bad_param = -1;
	out->allowed = 0;
	v = route_lookup(p->routes, segs, nsegs, (unsigned)method, &allowed);
	/* HEAD is GET without the body (RFC 9110 9.3.2): wherever GET is
	 * allowed, so is HEAD, as the same action with the same scopes,
	 * unless the policy gives HEAD an action of its own there. */
	if (v < 0 && method == POLICY_M_HEAD)
		v = route_lookup(p->routes, segs, nsegs, (unsigned)POLICY_M_GET, &allowed);
	if (allowed & (1u << POLICY_M_GET))
		allowed |= 1u << POLICY_M_HEAD;
	if (v < 0) {
		out->status = allowed ? POLICY_MATCH_METHOD_NOT_ALLOWED :
		    POLICY_MATCH_NO_ROUTE;
		out->allowed = allowed;
		return;
	}
	a = &p->actions[v];
	out->status = POLICY_MATCH_OK;
	out->action = a;
	out->nparams = a->nparams;
	for (size_t i = 0; i < a->nparams; i++) {
		const struct canon_segment *s = &segs[a->param_pos[i]];
		out->params[i].ptr = s->ptr;
		out->params[i].len = s->len;
		if (out->bad_param < 0 &&
		    !policy_param_valid(a->param_types[i], s->ptr, s->len))
			out->bad_param = (int)i;
	}
}
