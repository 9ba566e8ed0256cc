/* test_ratelimits.c: "rate_limits" (ratelimits.c) with an injected clock:
 * bad configurations refused at their JSON pointers (no key, zero rates,
 * two rates, unknown key kinds, a claim or parameter no matched action can
 * supply, shared without Redis); which limits match a request (actions,
 * methods); keys (a left-out claim or a missing subject counts under the
 * client address, never escapes; claim strings and numbers apart); the
 * local decision (every matching limit counts, the first refusal decides,
 * a refused request counts nowhere, one action's flood leaves another
 * alone, the fallback divides the rate); what RateLimit-* report; Redis
 * key names (hashed, stable, kinds apart). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "errlist.h"
#include "jsonconf.h"
#include "policy.h"
#include "ratelimit.h"
#include "ratelimits.h"

#define SEC 1000000ULL

static const char policy_json[] =
    "{\"actions\": ["
    "  {\"action\": \"app.get\", \"method\": \"GET\", \"path\": \"/a/{applicationId}\","
    "   \"params\": {\"applicationId\": \"string\"}, \"scopes\": [\"s\"]},"
    "  {\"action\": \"app.patch\", \"method\": \"PATCH\", \"path\": \"/a/{applicationId}\","
    "   \"params\": {\"applicationId\": \"string\"}, \"scopes\": [\"s\"]},"
    "  {\"action\": \"dev.get\", \"method\": \"GET\", \"path\": \"/d/{deviceId}\","
    "   \"params\": {\"deviceId\": \"string\"}, \"scopes\": [\"s\"]},"
    "  {\"action\": \"auth.user\", \"method\": \"POST\", \"path\": \"/auth\", \"public\": true}"
    " ]}";

static struct policy *pol;

static int
setup(void)
{
	struct errlist errs;
	struct jsonconf jc = { .file = "mem", .errs = &errs };

	errlist_init(&errs);
	pol = policy_load_buffer(&jc, policy_json, sizeof(policy_json) - 1, NULL);
	errlist_print(&errs, stderr);
	errlist_free(&errs);
	return pol != NULL ? 0 : -1;
}

static int
teardown(void)
{
	policy_free(pol);
	return 0;
}

/* Parse text as "rate_limits"; *errs gets the messages (caller frees). */
static struct ratelimits *
parse(const char *text, int have_redis, struct errlist *errs)
{
	struct jsonconf jc = { .file = "gw.json", .errs = errs };
	json_error_t je;
	json_t *a = json_loads(text, 0, &je);
	struct ratelimits *rls;

	errlist_init(errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	rls = ratelimits_parse(&jc, a, "/rate_limits", pol, have_redis);
	json_decref(a);
	return rls;
}

/* 1 when some message contains both needles. */
static int
has_error(const struct errlist *errs, const char *ptr, const char *word)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strstr(errs->msgs[i], ptr) != NULL && strstr(errs->msgs[i], word) != NULL)
			return 1;
	return 0;
}

static void
expect_error(const char *text, int have_redis, const char *ptr, const char *word)
{
	struct errlist errs;
	struct ratelimits *rls = parse(text, have_redis, &errs);

	CU_ASSERT_PTR_NULL(rls);
	if (!has_error(&errs, ptr, word)) {
		fprintf(stderr, "\nexpected an error at %s (%s) for %s, got:\n", ptr, word, text);
		errlist_print(&errs, stderr);
		CU_FAIL("error not reported at its pointer");
	}
	ratelimits_free(rls);
	errlist_free(&errs);
}

static void
test_bad_config(void)
{
	expect_error("[{\"per_second\": 1}]", 0, "/rate_limits/0", "key");
	expect_error("[{\"key\": \"subject\", \"per_second\": 0}]", 0, "/rate_limits/0", "per_second");
	expect_error("[{\"key\": \"subject\", \"per_minute\": 0}]", 0, "/rate_limits/0", "per_minute");
	expect_error("[{\"key\": \"subject\"}]", 0, "/rate_limits/0", "exactly one");
	expect_error("[{\"key\": \"subject\", \"per_second\": 1, \"per_hour\": 5}]", 0,
	    "/rate_limits/0", "exactly one");
	expect_error("[{\"key\": \"subject\", \"per_second\": 1, \"burst\": 0}]", 0,
	    "/rate_limits/0", "burst");
	expect_error("[{\"key\": \"Subject\", \"per_second\": 1}]", 0, "/rate_limits/0/key", "must be");
	expect_error("[{\"key\": \"header:x\", \"per_second\": 1}]", 0, "/rate_limits/0/key",
	    "must be");
	expect_error("[{\"key\": \"claim:\", \"per_second\": 1}]", 0, "/rate_limits/0/key", "must be");
	/* No token on a public action: no claim. */
	expect_error("[{\"match\": {\"actions\": [\"auth.user\"]}, \"key\": \"claim:org\","
	    " \"per_second\": 1}]", 0, "/rate_limits/0/key", "public");
	/* A parameter none of the matched actions has in its path. */
	expect_error("[{\"match\": {\"actions\": [\"dev.get\"]}, \"key\": \"param:applicationId\","
	    " \"per_second\": 1}]", 0, "/rate_limits/0/key", "applicationId");
	expect_error("[{\"key\": \"param:nope\", \"per_second\": 1}]", 0, "/rate_limits/0/key",
	    "nope");
	expect_error("[{\"match\": {\"actions\": [\"nothing.*\"]}, \"key\": \"subject\","
	    " \"per_second\": 1}]", 0, "/rate_limits/0/match/actions/0", "no action");
	expect_error("[{\"match\": {\"actions\": []}, \"key\": \"subject\", \"per_second\": 1}]", 0,
	    "/rate_limits/0/match/actions", "at least one");
	expect_error("[{\"match\": {\"methods\": [\"get\"]}, \"key\": \"subject\","
	    " \"per_second\": 1}]", 0, "/rate_limits/0/match/methods/0", "method");
	expect_error("[{\"match\": {\"paths\": [\"/a\"]}, \"key\": \"subject\", \"per_second\": 1}]",
	    0, "/rate_limits/0/match", "paths");
	expect_error("[{\"key\": \"subject\", \"per_second\": 1, \"scope\": \"shared\"}]", 0,
	    "/rate_limits/0/scope", "revocations.redis");
	expect_error("[{\"key\": \"subject\", \"per_second\": 1, \"scope\": \"global\"}]", 1,
	    "/rate_limits/0/scope", "must be");
	expect_error("[{\"key\": \"subject\", \"per_second\": 1, \"on_outage\": \"allow\"}]", 1,
	    "/rate_limits/0/on_outage", "must be");
	expect_error("[{\"key\": \"subject\", \"per_second\": 1, \"expected_instances\": 0}]", 1,
	    "/rate_limits/0", "expected_instances");
	/* Two copies of one limit would share one cell. */
	expect_error("[{\"key\": \"subject\", \"per_second\": 1}, {\"key\": \"client\","
	    " \"per_second\": 1}, {\"per_second\": 1, \"key\": \"subject\"}]", 0,
	    "/rate_limits/2", "the same limit as /rate_limits/0");
	/* Every error, not the first only. */
	{
		struct errlist errs;
		struct ratelimits *rls = parse("[{\"key\": \"x\", \"per_second\": 1},"
		    " {\"key\": \"subject\"}]", 0, &errs);

		CU_ASSERT_PTR_NULL(rls);
		CU_ASSERT(has_error(&errs, "/rate_limits/0/key", "must be"));
		CU_ASSERT(has_error(&errs, "/rate_limits/1", "exactly one"));
		errlist_free(&errs);
	}
}

static void
test_good_config(void)
{
	struct errlist errs;
	struct ratelimits *rls = parse("[{\"match\": {\"actions\": [\"app.*\"],"
	    " \"methods\": [\"GET\"]}, \"key\": \"param:applicationId\", \"per_hour\": 3600},"
	    " {\"key\": \"claim:org\", \"per_minute\": 120, \"burst\": 7, \"scope\": \"shared\","
	    " \"on_outage\": \"deny\", \"expected_instances\": 3, \"shared_timeout_ms\": 20}]",
	    1, &errs);

	errlist_print(&errs, stderr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rls);
	CU_ASSERT_EQUAL(rls->n, 2);
	CU_ASSERT_EQUAL(rls->nshared, 1);
	CU_ASSERT_EQUAL(rls->v[0].interval_us, SEC);
	CU_ASSERT_EQUAL(rls->v[0].burst, 3600);	/* default: the figure */
	CU_ASSERT_EQUAL(rls->v[0].shared_timeout_ms, 5);
	CU_ASSERT_EQUAL(rls->v[1].interval_us, SEC / 2);
	CU_ASSERT_EQUAL(rls->v[1].burst, 7);
	CU_ASSERT(rls->v[1].deny_on_outage);
	CU_ASSERT_EQUAL(rls->v[1].expected_instances, 3);
	CU_ASSERT_EQUAL(rls->v[1].shared_timeout_ms, 20);
	CU_ASSERT(strcmp(rls->v[0].id, rls->v[1].id) != 0);
	ratelimits_free(rls);
	errlist_free(&errs);
	/* The same limit has the same id wherever it is (instances agree). */
	{
		struct ratelimits *a = parse("[{\"key\": \"subject\", \"per_second\": 5},"
		    " {\"key\": \"client\", \"per_second\": 1}]", 0, &errs);
		struct errlist e2;
		struct ratelimits *b = parse("[{\"key\": \"client\", \"per_second\": 1},"
		    " {\"per_second\": 5, \"key\": \"subject\"}]", 0, &e2);

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_STRING_EQUAL(a->v[0].id, b->v[1].id);
		CU_ASSERT_STRING_EQUAL(a->v[1].id, b->v[0].id);
		ratelimits_free(a);
		ratelimits_free(b);
		errlist_free(&errs);
		errlist_free(&e2);
	}
	/* Settings about waiting for Redis and outages, and the order of the
	 * match lists, do not move a limit to other cells (a rolling change
	 * of shared_timeout_ms would count in two cells at twice the rate);
	 * its rate does. */
	{
		struct errlist e2, e3;
		struct ratelimits *a = parse("[{\"key\": \"subject\", \"per_second\": 5, \"scope\": \"shared\","
		    " \"match\": {\"methods\": [\"GET\", \"POST\"]}}]", 1, &errs);
		struct ratelimits *b = parse("[{\"key\": \"subject\", \"per_second\": 5, \"scope\": \"shared\","
		    " \"match\": {\"methods\": [\"POST\", \"GET\"]}, \"shared_timeout_ms\": 6,"
		    " \"expected_instances\": 3, \"on_outage\": \"deny\"}]", 1, &e2);
		struct ratelimits *c = parse("[{\"key\": \"subject\", \"per_second\": 5, \"scope\": \"shared\","
		    " \"match\": {\"methods\": [\"GET\", \"POST\"]}, \"burst\": 6}]", 1, &e3);

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		CU_ASSERT_STRING_EQUAL(a->v[0].id, b->v[0].id);
		CU_ASSERT(strcmp(a->v[0].id, c->v[0].id) != 0);
		ratelimits_free(a);
		ratelimits_free(b);
		ratelimits_free(c);
		errlist_free(&errs);
		errlist_free(&e2);
		errlist_free(&e3);
	}
	/* None at all: nothing to do per request. */
	CU_ASSERT_PTR_NULL(parse("[]", 0, &errs));
	CU_ASSERT_EQUAL(errs.n, 0);
	errlist_free(&errs);
}

/* A match for action name with one parameter value. */
static void
make_match(struct policy_match *m, const char *action, const char *param)
{
	memset(m, 0, sizeof(*m));
	m->status = POLICY_MATCH_OK;
	m->action = policy_action_find(pol, action);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->action);
	if (param != NULL) {
		m->nparams = 1;
		m->params[0].ptr = param;
		m->params[0].len = strlen(param);
	}
}

static void
request(struct ratelimits_request *rq, struct policy_match *m, enum policy_method method,
    const char *sub, const json_t *claims)
{
	memset(rq, 0, sizeof(*rq));
	rq->method = method;
	rq->match = m;
	rq->client = "4\x7f\x00\x00\x01";
	rq->client_len = 5;
	rq->subject = sub;
	rq->claims = claims;
}

static void
test_match(void)
{
	struct errlist errs;
	struct ratelimits *rls = parse("["
	    "{\"match\": {\"actions\": [\"app.*\"], \"methods\": [\"PATCH\"]},"
	    " \"key\": \"param:applicationId\", \"per_second\": 1},"
	    "{\"match\": {\"actions\": [\"dev.get\"]}, \"key\": \"subject\", \"per_second\": 1},"
	    "{\"key\": \"claim:org\", \"per_second\": 1}]", 0, &errs);
	struct ratelimits_hit hits[8];
	struct ratelimits_request rq;
	struct policy_match m;
	json_t *claims = json_pack("{s:s, s:i}", "org", "acme", "n", 7);
	json_t *numeric = json_pack("{s:i}", "org", 7);
	json_t *seven = json_pack("{s:s}", "org", "7");
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(rls);
	/* PATCH app: limits 0 and 2. */
	make_match(&m, "app.patch", "app1");
	request(&rq, &m, POLICY_M_PATCH, "alice", claims);
	n = ratelimits_match(rls, &rq, hits, 8);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(hits[0].lim->index, 0);
	CU_ASSERT_EQUAL(hits[0].kind, 'p');
	CU_ASSERT_EQUAL(hits[0].len, 4);
	CU_ASSERT(memcmp(hits[0].key, "app1", 4) == 0);
	CU_ASSERT_EQUAL(hits[1].lim->index, 2);
	CU_ASSERT_EQUAL(hits[1].kind, 'm');
	CU_ASSERT(memcmp(hits[1].key, "acme", 4) == 0);
	/* GET app: the method does not match limit 0. */
	make_match(&m, "app.get", "app1");
	request(&rq, &m, POLICY_M_GET, "alice", claims);
	n = ratelimits_match(rls, &rq, hits, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(hits[0].lim->index, 2);
	/* dev.get: limits 1 and 2; the claim left out counts under the
	 * client address, not nowhere. */
	make_match(&m, "dev.get", "d1");
	request(&rq, &m, POLICY_M_GET, "alice", NULL);
	n = ratelimits_match(rls, &rq, hits, 8);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(hits[0].kind, 's');
	CU_ASSERT_EQUAL(hits[1].kind, 'c');
	CU_ASSERT_EQUAL(hits[1].len, 5);
	/* No subject (a token without sub): the client too. */
	request(&rq, &m, POLICY_M_GET, NULL, NULL);
	n = ratelimits_match(rls, &rq, hits, 8);
	CU_ASSERT_EQUAL(hits[0].kind, 'c');
	/* A claim that is an object is as good as absent. */
	{
		json_t *obj = json_pack("{s:{s:s}}", "org", "x", "y");

		request(&rq, &m, POLICY_M_GET, "alice", obj);
		n = ratelimits_match(rls, &rq, hits, 8);
		CU_ASSERT_EQUAL(hits[1].kind, 'c');
		json_decref(obj);
	}
	/* 7 and "7" are different keys. */
	request(&rq, &m, POLICY_M_GET, "alice", numeric);
	n = ratelimits_match(rls, &rq, hits, 8);
	CU_ASSERT_EQUAL(hits[1].kind, 'n');
	request(&rq, &m, POLICY_M_GET, "alice", seven);
	n = ratelimits_match(rls, &rq, hits, 8);
	CU_ASSERT_EQUAL(hits[1].kind, 'm');
	/* No route (404 never gets here, but no action must not crash):
	 * only limits without actions. */
	request(&rq, NULL, POLICY_M_GET, "alice", claims);
	CU_ASSERT_EQUAL(ratelimits_match(rls, &rq, hits, 8), 1);
	json_decref(claims);
	json_decref(numeric);
	json_decref(seven);
	ratelimits_free(rls);
	errlist_free(&errs);
}

static void
test_decide_local(void)
{
	struct errlist errs;
	/* A: app.* by subject, 2 at once then 1/s; B: everything by
	 * subject, 3 at once then 1/s. */
	struct ratelimits *rls = parse("["
	    "{\"match\": {\"actions\": [\"app.*\"]}, \"key\": \"subject\", \"per_second\": 1,"
	    " \"burst\": 2},"
	    "{\"key\": \"subject\", \"per_second\": 1, \"burst\": 3}]", 0, &errs);
	struct ratelimit *table = ratelimit_new(1024);
	struct ratelimits_hit hits[8];
	struct ratelimits_request rq;
	struct ratelimits_result res;
	struct policy_match app, dev;
	uint64_t t0 = 1000 * SEC;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(rls);
	make_match(&app, "app.get", "a");
	make_match(&dev, "dev.get", "d");
	request(&rq, &app, POLICY_M_GET, "alice", NULL);
	n = ratelimits_match(rls, &rq, hits, 8);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	ratelimits_take_local(table, hits, n, NULL, t0, &res);
	CU_ASSERT(res.allow);
	/* The most constrained: A with 1 left. */
	CU_ASSERT_EQUAL(res.limit, 2);
	CU_ASSERT_EQUAL(res.remaining, 1);
	CU_ASSERT_EQUAL(res.reset_us, SEC);
	ratelimits_take_local(table, hits, n, NULL, t0, &res);
	CU_ASSERT(res.allow);
	CU_ASSERT_EQUAL(res.remaining, 0);
	/* A refuses: the first refusal decides, with its wait. */
	ratelimits_take_local(table, hits, n, NULL, t0, &res);
	CU_ASSERT(!res.allow);
	CU_ASSERT_EQUAL(res.refused_by, 0);
	CU_ASSERT_EQUAL(res.retry_after_us, SEC);
	/* ... and did not count against B: dev.get (B only) still has one
	 * of B's three, not zero. */
	request(&rq, &dev, POLICY_M_GET, "alice", NULL);
	n = ratelimits_match(rls, &rq, hits, 8);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	ratelimits_take_local(table, hits, n, NULL, t0, &res);
	CU_ASSERT(res.allow);
	CU_ASSERT_EQUAL(res.remaining, 0);
	ratelimits_take_local(table, hits, n, NULL, t0, &res);
	CU_ASSERT(!res.allow);
	/* Now B refuses app requests too (A would allow after 1 s, B not
	 * yet): refused by limit 1, and A's take is given back. */
	request(&rq, &app, POLICY_M_GET, "alice", NULL);
	n = ratelimits_match(rls, &rq, hits, 8);
	ratelimits_take_local(table, hits, n, NULL, t0 + SEC, &res);
	CU_ASSERT(res.allow);	/* one of each came back after 1 s */
	ratelimits_take_local(table, hits, n, NULL, t0 + SEC, &res);
	CU_ASSERT(!res.allow);
	CU_ASSERT_EQUAL(res.refused_by, 0);
	/* Another subject is another key. */
	request(&rq, &app, POLICY_M_GET, "bob", NULL);
	n = ratelimits_match(rls, &rq, hits, 8);
	ratelimits_take_local(table, hits, n, NULL, t0, &res);
	CU_ASSERT(res.allow);
	ratelimit_free(table);
	ratelimits_free(rls);
	errlist_free(&errs);
}

/* A refused request counts against no limit, whichever refused. */
static void
test_all_or_nothing(void)
{
	struct errlist errs;
	struct ratelimits *rls = parse("["
	    "{\"key\": \"subject\", \"per_second\": 1, \"burst\": 5},"
	    "{\"match\": {\"actions\": [\"dev.get\"]}, \"key\": \"subject\", \"per_second\": 1,"
	    " \"burst\": 1}]", 0, &errs);
	struct ratelimit *table = ratelimit_new(1024);
	struct ratelimits_hit hits[8];
	struct ratelimits_request rq;
	struct ratelimits_result res;
	struct policy_match dev, app;
	uint64_t t0 = 50 * SEC;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(rls);
	make_match(&dev, "dev.get", "d");
	make_match(&app, "app.get", "a");
	request(&rq, &dev, POLICY_M_GET, "alice", NULL);
	n = ratelimits_match(rls, &rq, hits, 8);
	ratelimits_take_local(table, hits, n, NULL, t0, &res);
	CU_ASSERT(res.allow);
	/* 20 refused by the second limit: none of them spends the first. */
	for (int i = 0; i < 20; i++) {
		ratelimits_take_local(table, hits, n, NULL, t0, &res);
		CU_ASSERT(!res.allow);
		CU_ASSERT_EQUAL(res.refused_by, 1);
	}
	request(&rq, &app, POLICY_M_GET, "alice", NULL);
	n = ratelimits_match(rls, &rq, hits, 8);
	for (int i = 0; i < 4; i++) {
		ratelimits_take_local(table, hits, n, NULL, t0, &res);
		CU_ASSERT(res.allow);
	}
	ratelimits_take_local(table, hits, n, NULL, t0, &res);
	CU_ASSERT(!res.allow);
	ratelimit_free(table);
	ratelimits_free(rls);
	errlist_free(&errs);
}

/* The fallback of a shared limit: rate and burst / expected_instances. */
static void
test_divide(void)
{
	struct errlist errs;
	struct ratelimits *rls = parse("[{\"key\": \"subject\", \"per_second\": 10, \"burst\": 10,"
	    " \"scope\": \"shared\", \"expected_instances\": 2}]", 1, &errs);
	struct ratelimit *table = ratelimit_new(1024);
	struct ratelimits_hit hits[2];
	struct ratelimits_request rq;
	struct ratelimits_result res;
	uint32_t divide[1] = { 2 };
	uint64_t t0 = 7 * SEC;
	int allowed = 0;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(rls);
	request(&rq, NULL, POLICY_M_GET, "alice", NULL);
	n = ratelimits_match(rls, &rq, hits, 2);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	/* Over one second at 100 attempts/s: 5 at once + 5 more. */
	for (int i = 0; i < 100; i++) {
		ratelimits_take_local(table, hits, n, divide, t0 + (uint64_t)i * SEC / 100, &res);
		allowed += res.allow;
	}
	CU_ASSERT(allowed >= 9 && allowed <= 10);
	ratelimit_free(table);
	ratelimits_free(rls);
	errlist_free(&errs);
}

/* What Redis admitted, charged to the fallback's cell (divided alike),
 * leaves the fallback only what is left of this instance's share. */
static void
test_charge_local(void)
{
	struct errlist errs;
	struct ratelimits *rls = parse("[{\"key\": \"subject\", \"per_hour\": 10, \"burst\": 10,"
	    " \"scope\": \"shared\", \"expected_instances\": 2}]", 1, &errs);
	struct ratelimit *table = ratelimit_new(1024);
	struct ratelimits_hit hits[2];
	struct ratelimits_request rq;
	struct ratelimits_result res;
	uint32_t divide[1] = { 2 };
	uint64_t t0 = 7 * SEC;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(rls);
	request(&rq, NULL, POLICY_M_GET, "alice", NULL);
	n = ratelimits_match(rls, &rq, hits, 2);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	/* The fallback's share is 5; 3 admitted through Redis: 2 left. */
	for (int i = 0; i < 3; i++)
		ratelimits_charge_local(table, hits, n, divide, t0);
	ratelimits_take_local(table, hits, n, divide, t0, &res);
	CU_ASSERT(res.allow);
	CU_ASSERT_EQUAL(res.remaining, 1);
	ratelimits_take_local(table, hits, n, divide, t0, &res);
	CU_ASSERT(res.allow);
	ratelimits_take_local(table, hits, n, divide, t0, &res);
	CU_ASSERT(!res.allow);
	/* Another subject: its own cell, its whole share. */
	request(&rq, NULL, POLICY_M_GET, "bob", NULL);
	n = ratelimits_match(rls, &rq, hits, 2);
	ratelimits_take_local(table, hits, n, divide, t0, &res);
	CU_ASSERT(res.allow);
	CU_ASSERT_EQUAL(res.remaining, 4);
	ratelimit_free(table);
	ratelimits_free(rls);
	errlist_free(&errs);
}

static void
test_redis_key(void)
{
	struct errlist errs;
	struct ratelimits *rls = parse("[{\"key\": \"subject\", \"per_second\": 1}]", 0, &errs);
	struct ratelimits_hit a = { 0 }, b = { 0 };
	char ka[200], kb[200];

	CU_ASSERT_PTR_NOT_NULL_FATAL(rls);
	a.lim = b.lim = &rls->v[0];
	a.kind = 's';
	memcpy(a.key, "alice@example.com", 17);
	a.len = 17;
	b = a;
	ratelimits_redis_key("scopegate", &a, ka, sizeof(ka));
	ratelimits_redis_key("scopegate", &b, kb, sizeof(kb));
	CU_ASSERT_STRING_EQUAL(ka, kb);
	CU_ASSERT(strncmp(ka, "scopegate:rl:", 13) == 0);
	CU_ASSERT_PTR_NULL(strstr(ka, "alice"));
	CU_ASSERT_EQUAL(strlen(ka), 13 + 16 + 1 + 32);
	/* The same bytes as a token id are another cell. */
	b.kind = 't';
	ratelimits_redis_key("scopegate", &b, kb, sizeof(kb));
	CU_ASSERT(strcmp(ka, kb) != 0);
	ratelimits_free(rls);
	errlist_free(&errs);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("ratelimits", setup, teardown);
	CU_add_test(s, "bad configurations at their pointers", test_bad_config);
	CU_add_test(s, "good configurations", test_good_config);
	CU_add_test(s, "which limits match, under which key", test_match);
	CU_add_test(s, "local decision: every limit, first refusal", test_decide_local);
	CU_add_test(s, "a refused request counts nowhere", test_all_or_nothing);
	CU_add_test(s, "fallback divides the rate", test_divide);
	CU_add_test(s, "Redis-admitted charged to the fallback", test_charge_local);
	CU_add_test(s, "Redis key names", test_redis_key);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
