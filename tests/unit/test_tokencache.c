/* test_tokencache.c: the per-worker verified-token cache (LRU bound,
 * expiry on lookup, revocation by token id, user pointer lifetime) and
 * token_verify's use of it. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "errlist.h"
#include "jsonconf.h"
#include "jwt.h"
#include "token_config.h"
#include "tokencache.h"
#include "xmalloc.h"

static int user_frees;

static void
count_free(void *p)
{
	user_frees++;
	free(p);
}

/* A fake verified result: token id and validity deadline. */
static struct jwt_result *
result(const char *id, int64_t valid_until)
{
	struct jwt_result *r = xcalloc(1, sizeof(*r));

	r->token_id = id;	/* static strings in these tests */
	r->valid_until = valid_until;
	r->user = xstrdup("memo");
	r->user_free = count_free;
	return r;
}

static struct jwt_result *
lookup(struct tokencache *c, const char *tok, time_t now)
{
	return tokencache_lookup(c, tok, strlen(tok), now);
}

static void
insert(struct tokencache *c, const char *tok, struct jwt_result *r)
{
	CU_ASSERT_PTR_EQUAL(tokencache_insert(c, tok, strlen(tok), r), r);
}

static void
test_hit_miss(void)
{
	struct tokencache *c = tokencache_new(8);
	struct jwt_result *a = result("a", 100);
	struct tokencache_stats st;

	insert(c, "aaa.bbb.ccc", a);
	CU_ASSERT_PTR_EQUAL(lookup(c, "aaa.bbb.ccc", 10), a);
	/* The whole token is compared: prefixes and one-byte changes miss. */
	CU_ASSERT_PTR_NULL(lookup(c, "aaa.bbb.cc", 10));
	CU_ASSERT_PTR_NULL(lookup(c, "aaa.bbb.ccd", 10));
	CU_ASSERT_PTR_NULL(lookup(c, "aaa.bbb.ccc ", 10));
	CU_ASSERT_PTR_NULL(tokencache_lookup(c, "aaa.bbb.ccc", 10, 10));
	tokencache_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.hits, 1);
	CU_ASSERT_EQUAL(st.misses, 4);
	/* Re-inserting the same token replaces (and frees) the old result. */
	user_frees = 0;
	insert(c, "aaa.bbb.ccc", result("a2", 100));
	CU_ASSERT_EQUAL(user_frees, 1);
	CU_ASSERT_EQUAL(tokencache_count(c), 1);
	CU_ASSERT_STRING_EQUAL(lookup(c, "aaa.bbb.ccc", 10)->token_id, "a2");
	tokencache_free(c);
	CU_ASSERT_EQUAL(user_frees, 2);
}

/* The hashed calls token_verify uses file and find entries exactly where
 * the plain ones do: either kind finds what the other inserted, and a
 * re-insert through either replaces. */
static void
test_hashed(void)
{
	struct tokencache *c = tokencache_new(8);
	struct jwt_result *a = result("a", 100), *b = result("b", 100);
	const char *ta = "aaa.bbb.ccc", *tb = "ddd.eee.fff";
	uint64_t ha = tokencache_hash(ta, strlen(ta)), hb = tokencache_hash(tb, strlen(tb));

	CU_ASSERT_NOT_EQUAL(ha, hb);
	CU_ASSERT_EQUAL(ha, tokencache_hash(ta, strlen(ta)));
	CU_ASSERT_PTR_NULL(tokencache_lookup_hashed(c, ta, strlen(ta), ha, 10));
	CU_ASSERT_PTR_EQUAL(tokencache_insert_hashed(c, ta, strlen(ta), ha, a), a);
	CU_ASSERT_PTR_EQUAL(lookup(c, ta, 10), a);
	insert(c, tb, b);
	CU_ASSERT_PTR_EQUAL(tokencache_lookup_hashed(c, tb, strlen(tb), hb, 10), b);
	/* Still the whole token compared, not only the hash. */
	CU_ASSERT_PTR_NULL(tokencache_lookup_hashed(c, "aaa.bbb.ccd", 11, ha, 10));
	user_frees = 0;
	tokencache_insert_hashed(c, tb, strlen(tb), hb, result("b2", 100));
	CU_ASSERT_EQUAL(user_frees, 1);
	CU_ASSERT_EQUAL(tokencache_count(c), 2);
	CU_ASSERT_STRING_EQUAL(lookup(c, tb, 10)->token_id, "b2");
	/* Expiry on a hashed lookup as on a plain one. */
	CU_ASSERT_PTR_NULL(tokencache_lookup_hashed(c, ta, strlen(ta), ha, 100));
	CU_ASSERT_EQUAL(tokencache_count(c), 1);
	tokencache_free(c);
}

static void
test_lru_bound(void)
{
	struct tokencache *c = tokencache_new(3);
	struct tokencache_stats st;
	char tok[32];

	insert(c, "t1", result("1", 100));
	insert(c, "t2", result("2", 100));
	insert(c, "t3", result("3", 100));
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "t1", 0));	/* t1 now most recent */
	insert(c, "t4", result("4", 100));		/* evicts t2 */
	CU_ASSERT_EQUAL(tokencache_count(c), 3);
	CU_ASSERT_PTR_NULL(lookup(c, "t2", 0));
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "t1", 0));
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "t3", 0));
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "t4", 0));
	for (int i = 0; i < 1000; i++) {
		snprintf(tok, sizeof(tok), "x%d", i);
		insert(c, tok, result("x", 100));
		CU_ASSERT(tokencache_count(c) <= 3);
	}
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "x999", 0));
	CU_ASSERT_PTR_NULL(lookup(c, "x996", 0));
	tokencache_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.evicted, 1001);
	tokencache_free(c);
	/* Capacity 0 still holds one entry. */
	c = tokencache_new(0);
	insert(c, "only", result("o", 100));
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "only", 0));
	tokencache_free(c);
}

static void
test_expiry(void)
{
	struct tokencache *c = tokencache_new(4);
	struct tokencache_stats st;

	user_frees = 0;
	insert(c, "t", result("a", 100));
	insert(c, "forever", result("b", INT64_MAX));
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "t", 99));
	CU_ASSERT_PTR_NULL(lookup(c, "t", 100));
	CU_ASSERT_EQUAL(user_frees, 1);			/* dropped at once */
	CU_ASSERT_PTR_NULL(lookup(c, "t", 50));		/* and gone */
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "forever", (time_t)1 << 40));
	tokencache_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.expired, 1);
	CU_ASSERT_EQUAL(tokencache_count(c), 1);
	tokencache_free(c);
}

static void
test_evict_id(void)
{
	struct tokencache *c = tokencache_new(16);

	insert(c, "t1", result("x", 100));
	insert(c, "t2", result("y", 100));
	insert(c, "t3", result("x", 100));
	insert(c, "t4", result(NULL, 100));
	CU_ASSERT_EQUAL(tokencache_evict_id(c, "x"), 2);
	CU_ASSERT_PTR_NULL(lookup(c, "t1", 0));
	CU_ASSERT_PTR_NULL(lookup(c, "t3", 0));
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "t2", 0));
	CU_ASSERT_PTR_NOT_NULL(lookup(c, "t4", 0));
	CU_ASSERT_EQUAL(tokencache_evict_id(c, "x"), 0);
	CU_ASSERT_EQUAL(tokencache_evict_id(c, "X"), 0);
	CU_ASSERT_EQUAL(tokencache_count(c), 2);
	tokencache_clear(c);
	CU_ASSERT_EQUAL(tokencache_count(c), 0);
	CU_ASSERT_PTR_NULL(lookup(c, "t2", 0));
	tokencache_free(c);
}

/* ---- token_verify with a real config ---- */


static char *
data_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	char *p;

	xasprintf(&p, "%s/tests/data/keys/%s", top ? top : ".", name);
	return p;
}

static struct token_config *
config(const char *extra)
{
	struct errlist el;
	struct jsonconf jc = { "conf.json", &el };
	struct token_config *tc = NULL;
	char *keydir = data_path(""), *json;
	json_t *root;

	errlist_init(&el);
	xasprintf(&json, "{\"keys\":[{\"file\":\"ec256.pem\",\"kid\":\"e\"}]%s}", extra);
	if ((root = jsonconf_load_buffer(&jc, json, strlen(json))) != NULL)
		tc = token_config_parse(&jc, root, "/tokens", keydir);
	errlist_print(&el, stderr);
	json_decref(root);
	errlist_free(&el);
	free(json);
	free(keydir);
	return tc;
}

static char *
mint(const char *payload)
{
	struct errlist el;
	char *p = data_path("ec256.key"), *tok;
	const char *hdr = "{\"alg\":\"ES256\",\"kid\":\"e\"}";
	struct keys_signer *s;

	errlist_init(&el);
	s = keys_signer_load(p, KEYS_ALG_ES256, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tok = jwt_sign_raw(s, hdr, strlen(hdr), payload, strlen(payload));
	keys_signer_free(s);
	errlist_free(&el);
	free(p);
	return tok;
}

static void
test_token_verify(void)
{
	struct token_config *tc = config(",\"cache_size\":4,\"leeway_s\":10");
	char *tok = mint("{\"exp\":2000,\"jti\":\"J\",\"scope\":\"a b\"}");
	char *bad = mint("{\"exp\":1000}");
	struct jwt_result *r1 = NULL, *r2 = NULL, *r = NULL;
	struct tokencache_stats st;
	struct tokencache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
	c = token_config_new_cache(tc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1000, &r1), JWT_OK);
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1001, &r2), JWT_OK);
	CU_ASSERT_PTR_NOT_NULL(r1);
	CU_ASSERT_PTR_EQUAL(r1, r2);		/* served from the cache */
	tokencache_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.hits, 1);
	CU_ASSERT_EQUAL(r2->nscopes, 2);
	/* The memo slot survives hits. */
	r2->user = xstrdup("bits");
	r2->user_free = free;
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1002, &r), JWT_OK);
	CU_ASSERT_STRING_EQUAL((char *)r->user, "bits");
	/* Failures are not cached and say why. */
	CU_ASSERT_EQUAL(token_verify(tc, c, bad, strlen(bad), 1500, &r), JWT_EXPIRED);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(tokencache_count(c), 1);
	/* The cache entry lives until exp + leeway, no longer. */
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 2009, &r), JWT_OK);
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 2010, &r), JWT_EXPIRED);
	CU_ASSERT_EQUAL(tokencache_count(c), 0);
	/* Revocation by token id. */
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1000, &r), JWT_OK);
	CU_ASSERT_EQUAL(tokencache_evict_id(c, "J"), 1);
	CU_ASSERT_EQUAL(tokencache_count(c), 0);
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1000, &r), JWT_OK);
	/* Outside token68 (RFC 7235): malformed, before any verification;
	 * a valid token with a byte appended or changed is never a hit. */
	{
		size_t n = strlen(tok);
		char *odd = xmalloc(n + 2);
		const char bytes[] = {' ', '\t', '"', '\\', ',', ';', '\x7f', '\x80', '\xff', '%'};

		for (size_t b = 0; b < sizeof(bytes); b++) {
			memcpy(odd, tok, n);
			odd[n] = bytes[b];
			odd[n + 1] = '\0';
			CU_ASSERT_EQUAL(token_verify(tc, c, odd, n + 1, 1000, &r), JWT_MALFORMED);
			CU_ASSERT_PTR_NULL(r);
			odd[n] = '\0';
			odd[n / 2] = bytes[b];
			CU_ASSERT_EQUAL(token_verify(tc, c, odd, n, 1000, &r), JWT_MALFORMED);
		}
		free(odd);
	}
	/* Oversize is refused before the cache is consulted. */
	{
		char *big = xmalloc(9000);
		memset(big, 'A', 8999);
		big[8999] = '\0';
		CU_ASSERT_EQUAL(token_verify(tc, c, big, strlen(big), 1000, &r), JWT_TOO_LARGE);
		free(big);
	}
	/* A cache filled under another config is cleared first. */
	{
		struct token_config *tc2 = config(",\"issuers\":\"https://only.example\"");
		CU_ASSERT_PTR_NOT_NULL_FATAL(tc2);
		CU_ASSERT_EQUAL(tokencache_count(c), 1);
		CU_ASSERT_EQUAL(token_verify(tc2, c, tok, strlen(tok), 1000, &r), JWT_WRONG_ISSUER);
		CU_ASSERT_EQUAL(tokencache_count(c), 0);
		token_config_free(tc2);
	}
	/* Without a cache the caller owns the result. */
	CU_ASSERT_EQUAL(token_verify(tc, NULL, tok, strlen(tok), 1000, &r), JWT_OK);
	CU_ASSERT_PTR_NOT_NULL(r);
	CU_ASSERT_STRING_EQUAL(r->token_id, "J");
	jwt_result_free(r);
	tokencache_free(c);
	free(tok);
	free(bad);
	token_config_free(tc);

	/* max_lifetime_s through the cache: a token refused for its
	 * lifetime is never cached, so it stays refused; one accepted stays
	 * accepted (the rule only gets easier as time goes on). */
	tc = config(",\"cache_size\":4,\"leeway_s\":10,\"max_lifetime_s\":500");
	CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
	c = token_config_new_cache(tc);
	tok = mint("{\"exp\":2000,\"jti\":\"L\"}");
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1489, &r), JWT_LIFETIME_TOO_LONG);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(tokencache_count(c), 0);
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1489, &r), JWT_LIFETIME_TOO_LONG);
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1490, &r), JWT_OK);
	CU_ASSERT_EQUAL(tokencache_count(c), 1);
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 2009, &r), JWT_OK);
	CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 2010, &r), JWT_EXPIRED);
	/* The same token under a config without the bound, then with it
	 * again: a result cached without the bound is not served under it. */
	{
		struct token_config *tc2 = config(",\"cache_size\":4,\"leeway_s\":10");
		CU_ASSERT_PTR_NOT_NULL_FATAL(tc2);
		CU_ASSERT_EQUAL(token_verify(tc2, c, tok, strlen(tok), 1000, &r), JWT_OK);
		CU_ASSERT_EQUAL(tokencache_count(c), 1);
		CU_ASSERT_EQUAL(token_verify(tc, c, tok, strlen(tok), 1000, &r),
		    JWT_LIFETIME_TOO_LONG);
		token_config_free(tc2);
	}
	free(tok);
	tokencache_free(c);
	token_config_free(tc);
	/* Bad values at their pointer. */
	CU_ASSERT_PTR_NULL(config(",\"max_lifetime_s\":-1"));
	CU_ASSERT_PTR_NULL(config(",\"max_lifetime_s\":\"3600\""));
	CU_ASSERT_PTR_NULL(config(",\"max_lifetime_s\":9223372036854775807"));

	tc = config(",\"cache_size\":0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
	CU_ASSERT_PTR_NULL(token_config_new_cache(tc));
	token_config_free(tc);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("tokencache", NULL, NULL);
	CU_add_test(s, "hit, miss, whole-token compare", test_hit_miss);
	CU_add_test(s, "hashed lookup and insert", test_hashed);
	CU_add_test(s, "LRU bound", test_lru_bound);
	CU_add_test(s, "expiry on lookup", test_expiry);
	CU_add_test(s, "evict by token id", test_evict_id);
	CU_add_test(s, "token_verify with cache", test_token_verify);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
