/* ratelimits.c: see ratelimits.h. */
#include "config.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "defaults.h"
#include "log.h"
#include "ratelimit.h"
#include "ratelimits.h"
#include "revoke.h"
#include "xmalloc.h"

static const struct jsonconf_key limit_keys[] = {
	{"match", JC_OBJECT, 0},
	{"key", JC_STRING, 1},
	{"per_second", JC_INTEGER, 0},
	{"per_minute", JC_INTEGER, 0},
	{"per_hour", JC_INTEGER, 0},
	{"burst", JC_INTEGER, 0},
	{"scope", JC_STRING, 0},
	{"on_outage", JC_STRING, 0},
	{"expected_instances", JC_INTEGER, 0},
	{"shared_timeout_ms", JC_INTEGER, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key match_keys[] = {
	{"actions", JC_ARRAY, 0},
	{"methods", JC_ARRAY, 0},
	{NULL, JC_ANY, 0},
};

/* An action glob: the characters of action names plus '*'. */
static int
valid_glob(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!(*s == '*' || *s == '.' || *s == '_' || *s == '-' ||
		    (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

/* SHA-256, fetched once: EVP_sha256() makes OpenSSL 3 look the
 * implementation up on every EVP_DigestInit_ex (most of a short digest's
 * cost, and this runs on every request with a shared limit). */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void
sha256(const void *a, size_t alen, const void *b, size_t blen, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	pthread_once(&g_sha256_once, sha256_fetch);
	if (ctx == NULL || g_sha256 == NULL || EVP_DigestInit_ex(ctx, g_sha256, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 || (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		fatalx("sha256 failed");
	EVP_MD_CTX_free(ctx);
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* "actions": which policy actions the limit applies to. */
static void
parse_actions(struct jsonconf *jc, const json_t *acts, const char *mptr,
    const struct policy *p, struct ratelimits_limit *l)
{
	char *aptr = jsonconf_ptr_key(mptr, "actions");
	size_t na = p != NULL ? policy_action_count(p) : 0, j;
	const json_t *g;

	l->actions = xcalloc(na > 0 ? na : 1, 1);
	if (json_array_size(acts) == 0)
		jsonconf_error(jc, aptr, "must list at least one action");
	json_array_foreach(acts, j, g) {
		char *gptr = jsonconf_ptr_index(aptr, j);
		const char *glob = json_string_value(g);
		int any = 0;

		if (glob == NULL || !valid_glob(glob))
			jsonconf_error(jc, gptr, "must be an action name or a glob with '*'");
		else {
			for (size_t a = 0; a < na; a++)
				if (fnmatch(glob, policy_action_at(p, a)->name, 0) == 0) {
					l->actions[a] = 1;
					any = 1;
				}
			if (!any)
				jsonconf_error(jc, gptr, "\"%s\" names no action of the policy", glob);
		}
		free(gptr);
	}
	free(aptr);
}

static void
parse_methods(struct jsonconf *jc, const json_t *ms, const char *mptr,
    struct ratelimits_limit *l)
{
	char *ptr = jsonconf_ptr_key(mptr, "methods");
	size_t j;
	const json_t *m;

	if (json_array_size(ms) == 0)
		jsonconf_error(jc, ptr, "must list at least one method");
	json_array_foreach(ms, j, m) {
		char *iptr = jsonconf_ptr_index(ptr, j);
		const char *s = json_string_value(m);
		enum policy_method pm = s != NULL ? policy_method_parse(s, strlen(s)) : POLICY_M_OTHER;

		if (pm == POLICY_M_OTHER)
			jsonconf_error(jc, iptr, "must be a method (GET, HEAD, POST, PUT, PATCH, "
			    "DELETE, OPTIONS)");
		else
			l->methods |= 1u << pm;
		free(iptr);
	}
	free(ptr);
}

/* "key": the kind, and for claim:/param: a name some matched action can
 * supply (a parameter: a path parameter of at least one of them). */
static void
parse_key(struct jsonconf *jc, const char *key, const char *ptr, const struct policy *p,
    struct ratelimits_limit *l)
{
	char *kptr = jsonconf_ptr_key(ptr, "key");

	if (strcmp(key, "client") == 0)
		l->key = RATELIMITS_KEY_CLIENT;
	else if (strcmp(key, "subject") == 0)
		l->key = RATELIMITS_KEY_SUBJECT;
	else if (strcmp(key, "token_id") == 0)
		l->key = RATELIMITS_KEY_TOKEN_ID;
	else if (strncmp(key, "claim:", 6) == 0 && key[6] != '\0') {
		l->key = RATELIMITS_KEY_CLAIM;
		l->name = xstrdup(key + 6);
		/* A claim comes with a token: an action that needs none
		 * (public) cannot supply it. */
		int some = p == NULL;
		for (size_t a = 0; p != NULL && a < policy_action_count(p); a++)
			if ((l->any_action || l->actions[a]) && !policy_action_at(p, a)->public)
				some = 1;
		if (!some)
			jsonconf_error(jc, kptr, "\"%s\": every matched action is public: "
			    "no token, no claim", key);
	} else if (strncmp(key, "param:", 6) == 0 && key[6] != '\0') {
		int some = 0;

		l->key = RATELIMITS_KEY_PARAM;
		l->name = xstrdup(key + 6);
		for (size_t a = 0; p != NULL && a < policy_action_count(p); a++) {
			const struct policy_action *pa = policy_action_at(p, a);

			if (!l->any_action && !l->actions[a])
				continue;
			for (size_t i = 0; i < pa->nparams; i++)
				if (strcmp(pa->param_names[i], l->name) == 0)
					some = 1;
		}
		if (!some)
			jsonconf_error(jc, kptr, "\"%s\": no matched action has a path parameter "
			    "\"%s\"", key, l->name);
	} else
		jsonconf_error(jc, kptr, "must be \"client\", \"subject\", \"token_id\", "
		    "\"claim:NAME\" or \"param:NAME\"");
	free(kptr);
}


static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The array of strings a, sorted (a copy; other values as they are). */
static json_t *
sorted_strings(const json_t *a)
{
	size_t n = json_array_size(a), i;
	const char **v = xcalloc(n + 1, sizeof(*v));
	json_t *out;

	for (i = 0; i < n; i++)
		if ((v[i] = json_string_value(json_array_get(a, i))) == NULL)
			break;
	if (i < n) {
		free(v);
		return json_deep_copy(a);
	}
	qsort(v, n, sizeof(*v), cmp_str);
	if ((out = json_array()) == NULL)
		fatalx("json_array: out of memory");
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_string(v[i]));
	free(v);
	return out;
}

/* What decides a limit's cells: its definition without the settings that
 * only say how to wait for Redis and what to do without it, with the
 * match lists in one order. */
static json_t *
counting_form(const json_t *o)
{
	json_t *c = json_deep_copy(o), *m;

	if (c == NULL)
		fatalx("json_deep_copy: out of memory");
	json_object_del(c, "shared_timeout_ms");
	json_object_del(c, "expected_instances");
	json_object_del(c, "on_outage");
	if ((m = json_object_get(c, "match")) != NULL && json_is_object(m)) {
		const char *lists[] = { "actions", "methods" };

		for (size_t k = 0; k < 2; k++) {
			json_t *a = json_object_get(m, lists[k]);

			if (json_is_array(a))
				json_object_set_new(m, lists[k], sorted_strings(a));
		}
	}
	return c;
}

static void
parse_limit(struct jsonconf *jc, const json_t *o, const char *ptr, const struct policy *p,
    int have_redis, struct ratelimits_limit *l)
{
	static const struct {
		const char *name;
		uint64_t period_us;
	} rates[] = {
		{"per_second", 1000000ULL},
		{"per_minute", 60000000ULL},
		{"per_hour", 3600000000ULL},
	};
	const json_t *match = json_object_get(o, "match");
	const char *key = NULL, *scope = NULL, *outage = NULL;
	int64_t rate = 0, burst = 0;
	int nrates = 0;
	char *dump;
	unsigned char d[32];

	if (jsonconf_check_object(jc, o, ptr, limit_keys) != 0)
		return;
	if (json_is_object(match)) {
		char *mptr = jsonconf_ptr_key(ptr, "match");
		const json_t *acts = json_object_get(match, "actions");
		const json_t *ms = json_object_get(match, "methods");

		jsonconf_check_object(jc, match, mptr, match_keys);
		if (json_is_array(acts))
			parse_actions(jc, acts, mptr, p, l);
		else
			l->any_action = 1;
		if (json_is_array(ms))
			parse_methods(jc, ms, mptr, l);
		free(mptr);
	} else
		l->any_action = 1;
	if (jsonconf_get_string(jc, o, ptr, "key", NULL, &key) == 0 && key != NULL)
		parse_key(jc, key, ptr, p, l);
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		if (json_object_get(o, rates[i].name) == NULL)
			continue;
		if (++nrates > 1)
			continue;
		if (jsonconf_get_int(jc, o, ptr, rates[i].name, 1, 1000000, 0, &rate) == 0)
			l->interval_us = rates[i].period_us / (uint64_t)rate;
	}
	if (nrates != 1)
		jsonconf_error(jc, ptr, "needs exactly one of \"per_second\", \"per_minute\" and "
		    "\"per_hour\"");
	if (jsonconf_get_int(jc, o, ptr, "burst", 1, 1000000, rate > 0 ? rate : 1, &burst) == 0)
		l->burst = (uint32_t)burst;
	if (jsonconf_get_string(jc, o, ptr, "scope", "local", &scope) == 0 && scope != NULL) {
		char *sptr = jsonconf_ptr_key(ptr, "scope");

		if (strcmp(scope, "shared") == 0) {
			l->shared = 1;
			if (!have_redis)
				jsonconf_error(jc, sptr, "\"shared\" needs revocations.redis (the "
				    "Redis the instances share)");
		} else if (strcmp(scope, "local") != 0)
			jsonconf_error(jc, sptr, "must be \"local\" or \"shared\"");
		free(sptr);
	}
	if (jsonconf_get_string(jc, o, ptr, "on_outage", "fallback", &outage) == 0 && outage != NULL) {
		char *optr = jsonconf_ptr_key(ptr, "on_outage");

		if (strcmp(outage, "deny") == 0)
			l->deny_on_outage = 1;
		else if (strcmp(outage, "fallback") != 0)
			jsonconf_error(jc, optr, "must be \"fallback\" or \"deny\"");
		free(optr);
	}
	jsonconf_get_int(jc, o, ptr, "expected_instances", 1, 10000, 1, &l->expected_instances);
	jsonconf_get_int(jc, o, ptr, "shared_timeout_ms", 1, 10000,
	    SG_DEFAULT_RATE_LIMIT_SHARED_TIMEOUT_MS, &l->shared_timeout_ms);
	/* The same limit on every instance has the same cells, whatever its
	 * position in the file and whatever it says about waiting for Redis
	 * or about outages: otherwise two instances differing only in
	 * shared_timeout_ms (a rolling change) counted in two cells and let
	 * twice the rate through (red-team observation). */
	{
		json_t *c = counting_form(o);

		if ((dump = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
			fatalx("json_dumps: out of memory");
		json_decref(c);
	}
	sha256(dump, strlen(dump), NULL, 0, d);
	free(dump);
	hex(d, 8, l->id);
}

struct ratelimits *
ratelimits_parse(struct jsonconf *jc, const json_t *a, const char *ptr,
    const struct policy *p, int have_redis)
{
	struct ratelimits *rls;
	size_t nerr = jc->errs->n, i;
	const json_t *o;

	if (a == NULL || json_array_size(a) == 0)
		return NULL;
	if (json_array_size(a) > SG_RATE_LIMITS_MAX) {
		jsonconf_error(jc, ptr, "more than %d limits", SG_RATE_LIMITS_MAX);
		return NULL;
	}
	rls = xcalloc(1, sizeof(*rls));
	rls->v = xcalloc(json_array_size(a), sizeof(*rls->v));
	json_array_foreach(a, i, o) {
		char *iptr = jsonconf_ptr_index(ptr, i);
		struct ratelimits_limit *l = &rls->v[rls->n++];

		l->index = i;
		if (!json_is_object(o))
			jsonconf_error(jc, iptr, "must be an object");
		else
			parse_limit(jc, o, iptr, p, have_redis, l);
		rls->nshared += l->shared;
		/* Two copies of one limit would share its cells (same id):
		 * counted twice locally, once in Redis. Refused, not halved. */
		for (size_t j = 0; j + 1 < rls->n && json_is_object(o); j++)
			if (json_equal(o, json_array_get(a, j))) {
				jsonconf_error(jc, iptr, "the same limit as %s/%zu", ptr, j);
				break;
			}
		free(iptr);
	}
	if (jc->errs->n != nerr) {
		ratelimits_free(rls);
		return NULL;
	}
	return rls;
}

void
ratelimits_free(struct ratelimits *rls)
{
	if (rls == NULL)
		return;
	for (size_t i = 0; i < rls->n; i++) {
		free(rls->v[i].actions);
		free(rls->v[i].name);
	}
	free(rls->v);
	free(rls);
}

/* Set hit's key to s (len bytes); values too long to keep whole are their
 * digest. */
static void
set_key(struct ratelimits_hit *h, char kind, const char *s, size_t len)
{
	h->kind = kind;
	if (len <= sizeof(h->key)) {
		memcpy(h->key, s, len);
		h->len = len;
	} else {
		sha256(s, len, NULL, 0, (unsigned char *)h->key);
		h->len = 32;
		h->kind = (char)(kind - 32);	/* 'M', 'P': never equal to a short value */
	}
}

/* The value of the path parameter name in the match, or NULL. */
static const char *
param_value(const struct policy_match *m, const char *name, size_t *len)
{
	const struct policy_action *a;

	if (m == NULL || m->status != POLICY_MATCH_OK || (a = m->action) == NULL)
		return NULL;
	for (size_t i = 0; i < a->nparams && i < m->nparams; i++)
		if (strcmp(a->param_names[i], name) == 0) {
			*len = m->params[i].len;
			return m->params[i].ptr;
		}
	return NULL;
}

int
ratelimits_reads_claims(const struct ratelimits *rls)
{
	for (size_t i = 0; rls != NULL && i < rls->n; i++)
		if (rls->v[i].key == RATELIMITS_KEY_CLAIM)
			return 1;
	return 0;
}

/* Key h by what the limit names; 0 when the request does not carry it. */
static int
key_hit(const struct ratelimits_limit *l, const struct ratelimits_request *rq,
    struct ratelimits_hit *h)
{
	const json_t *c;
	const char *s;
	size_t len = 0, clen;
	char num[40], canon[SG_REVOKE_MAX_ID_BYTES];

	switch (l->key) {
	case RATELIMITS_KEY_CLIENT:
		return 0;
	case RATELIMITS_KEY_SUBJECT:
		if (rq->subject == NULL)
			return 0;
		set_key(h, 's', rq->subject, strlen(rq->subject));
		return 1;
	case RATELIMITS_KEY_TOKEN_ID:
		if (rq->token_id == NULL)
			return 0;
		set_key(h, 't', rq->token_id, strlen(rq->token_id));
		return 1;
	case RATELIMITS_KEY_CLAIM:
		c = rq->claims != NULL ? json_object_get(rq->claims, l->name) : NULL;
		/* Strings by value; integers in decimal (never equal to a
		 * string: the kind byte differs); anything else is absent. */
		if (json_is_string(c)) {
			set_key(h, 'm', json_string_value(c), json_string_length(c));
			return 1;
		}
		if (json_is_integer(c)) {
			len = (size_t)snprintf(num, sizeof(num), "%lld",
			    (long long)json_integer_value(c));
			set_key(h, 'n', num, len);
			return 1;
		}
		return 0;
	case RATELIMITS_KEY_PARAM:
		if ((s = param_value(rq->match, l->name, &len)) == NULL)
			return 0;
		/* In the ids' canonical form (revoke_id_canon): the upstream
		 * takes a 24-hex id in either case, so each spelling of one
		 * id would otherwise count apart (2^k keys for k letters). */
		if (len < sizeof(canon) && (clen = revoke_id_canon(s, len, canon)) > 0) {
			s = canon;
			len = clen;
		}
		set_key(h, 'p', s, len);
		return 1;
	}
	return 0;
}

size_t
ratelimits_match(const struct ratelimits *rls, const struct ratelimits_request *rq,
    struct ratelimits_hit *hits, size_t cap)
{
	const struct policy_action *a = rq->match != NULL && rq->match->status == POLICY_MATCH_OK ?
	    rq->match->action : NULL;
	size_t n = 0;
	/* A HEAD the policy served as a GET action (HEAD is implied by GET)
	 * is also that GET to the limits: the upstream runs the GET's work
	 * for it, and a limit on GET must not be escaped by asking HEAD. */
	unsigned methods = rq->method < POLICY_M_COUNT ? 1u << rq->method : 0;

	if (rq->method == POLICY_M_HEAD && a != NULL && a->method == POLICY_M_GET)
		methods |= 1u << POLICY_M_GET;

	for (size_t i = 0; rls != NULL && i < rls->n && n < cap; i++) {
		const struct ratelimits_limit *l = &rls->v[i];
		struct ratelimits_hit *h = &hits[n];

		if (l->methods != 0 && !(l->methods & methods))
			continue;
		if (!l->any_action && (a == NULL || !l->actions[a->index]))
			continue;
		h->lim = l;
		/* Without its key (no token, the claim left out), a request
		 * counts under its address: omitting a field never escapes. */
		if (!key_hit(l, rq, h))
			set_key(h, 'c', rq->client, rq->client_len);
		n++;
	}
	return n;
}

void
ratelimits_result_init(struct ratelimits_result *res)
{
	memset(res, 0, sizeof(*res));
	res->allow = 1;
	res->remaining = UINT32_MAX;
}

void
ratelimits_result_add(struct ratelimits_result *res, size_t i, uint32_t burst, int ok,
    uint64_t wait_us, uint32_t remaining)
{
	if (!ok) {
		if (res->allow) {
			res->allow = 0;
			res->refused_by = i;
			res->retry_after_us = wait_us;
			res->limit = burst;
			res->remaining = 0;
			res->reset_us = wait_us;
		}
		return;
	}
	if (res->allow && (remaining < res->remaining ||
	    (remaining == res->remaining && wait_us > res->reset_us))) {
		res->limit = burst;
		res->remaining = remaining;
		res->reset_us = wait_us;
	}
}

/* The local table's key for a hit: the limit's id, the kind, the key. */
static size_t
table_key(const struct ratelimits_hit *h, char *out)
{
	memcpy(out, h->lim->id, 16);
	out[16] = h->kind;
	memcpy(out + 17, h->key, h->len);
	return 17 + h->len;
}

void
ratelimits_take_local(struct ratelimit *table, const struct ratelimits_hit *hits, size_t n,
    const uint32_t *divide, uint64_t now_us, struct ratelimits_result *res)
{
	char k[17 + RATELIMITS_KEY_MAX];
	size_t i, klen;

	ratelimits_result_init(res);
	for (i = 0; i < n; i++) {
		const struct ratelimits_limit *l = hits[i].lim;
		uint32_t div = divide != NULL && divide[i] > 1 ? divide[i] : 1;
		uint64_t iv = l->interval_us * div, retry, tat;
		uint32_t burst = (l->burst + div - 1) / div;

		klen = table_key(&hits[i], k);
		if (!ratelimit_take_tat(table, 'L', k, klen, now_us, iv, burst, &retry, &tat)) {
			ratelimits_result_add(res, i, burst, 0, retry, 0);
			break;
		}
		/* After this one: how many more fit now, and when the
		 * whole burst is back. */
		uint64_t ahead = tat > now_us ? tat - now_us : 0;
		uint64_t room = (uint64_t)burst * iv > ahead ? (uint64_t)burst * iv - ahead : 0;
		ratelimits_result_add(res, i, burst, 1, ahead, (uint32_t)(room / iv));
	}
	if (res->allow)
		return;
	/* All or nothing: give back what the limits before it took. */
	while (i-- > 0) {
		uint32_t div = divide != NULL && divide[i] > 1 ? divide[i] : 1;

		klen = table_key(&hits[i], k);
		ratelimit_refund(table, 'L', k, klen, hits[i].lim->interval_us * div);
	}
}

void
ratelimits_charge_local(struct ratelimit *table, const struct ratelimits_hit *hits, size_t n,
    const uint32_t *divide, uint64_t now_us)
{
	char k[17 + RATELIMITS_KEY_MAX];

	for (size_t i = 0; i < n; i++) {
		const struct ratelimits_limit *l = hits[i].lim;
		uint32_t div = divide != NULL && divide[i] > 1 ? divide[i] : 1;

		/* The cell ratelimits_take_local would take from. */
		ratelimit_charge(table, 'L', k, table_key(&hits[i], k), now_us,
		    l->interval_us * div, (l->burst + div - 1) / div);
	}
}

size_t
ratelimits_redis_key(const char *prefix, const struct ratelimits_hit *h, char *out,
    size_t outsize)
{
	unsigned char d[32];
	char hx[65];

	sha256(&h->kind, 1, h->key, h->len, d);
	hex(d, 16, hx);
	return (size_t)snprintf(out, outsize, "%s:rl:%s:%s", prefix, h->lim->id, hx);
}
