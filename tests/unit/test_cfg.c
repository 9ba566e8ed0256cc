/* test_cfg.c: the configuration loader, data-driven: every
 * tests/data/config/bad/NAME.json must fail with exactly the errors listed
 * (one expected substring per line, in order) in NAME.expect; every
 * good/NAME.json must load. */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cfg.h"
#include "policy.h"
#include "errlist.h"

static char datadir[4096];

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

static void
test_bad_cases(void)
{
	char dir[4200];
	struct dirent *de;
	DIR *d;
	int ncases = 0;

	snprintf(dir, sizeof(dir), "%s/bad", datadir);
	CU_ASSERT_FATAL((d = opendir(dir)) != NULL);
	while ((de = readdir(d)) != NULL) {
		char path[4400], expect[4400], line[1024];
		struct errlist errs;
		struct cfg *cf;
		size_t nexp = 0;
		FILE *fp;

		if (!has_suffix(de->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(expect, sizeof(expect), "%.*s.expect", (int)(strlen(path) - 5), path);
		errlist_init(&errs);
		cf = cfg_load(path, &errs);
		CU_ASSERT_PTR_NULL(cf);
		cfg_free(cf);
		CU_ASSERT_FATAL((fp = fopen(expect, "r")) != NULL);
		while (fgets(line, sizeof(line), fp) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (nexp < errs.n && strstr(errs.msgs[nexp], line) == NULL) {
				fprintf(stderr, "\n%s: error %zu is \"%s\", expected \"%s\"\n",
				    de->d_name, nexp, errs.msgs[nexp], line);
				CU_FAIL("error message mismatch");
			}
			nexp++;
		}
		fclose(fp);
		if (nexp != errs.n) {
			fprintf(stderr, "\n%s: %zu errors, expected %zu:\n", de->d_name, errs.n, nexp);
			errlist_print(&errs, stderr);
			CU_FAIL("error count mismatch");
		}
		errlist_free(&errs);
		ncases++;
	}
	closedir(d);
	CU_ASSERT(ncases >= 8);
}

/* Named upstreams: servers, weights and settings; each action's upstream
 * decided at load by the first rule naming it; path prefixes at segment
 * boundaries for requests no action rule placed; the default last. */
static void
test_good_upstreams(void)
{
	char path[4400];
	struct errlist errs;
	struct cfg *cf;
	const struct cfg_upstreams *u;
	const struct policy_action *a;

	snprintf(path, sizeof(path), "%s/good/upstreams.json", datadir);
	errlist_init(&errs);
	cf = cfg_load(path, &errs);
	errlist_print(&errs, stderr);
	CU_ASSERT_FATAL(cf != NULL);
	u = &cf->ups;
	CU_ASSERT_EQUAL_FATAL(u->ngroups, 3);
	CU_ASSERT_STRING_EQUAL(u->groups[0].name, "things");
	CU_ASSERT_EQUAL(u->groups[0].nservers, 2);
	CU_ASSERT_EQUAL(u->groups[0].weights[1], 3);
	CU_ASSERT_EQUAL(u->groups[0].servers[1]->port, 8082);
	CU_ASSERT_EQUAL(u->groups[0].servers[1]->timeout_ms, 900);
	CU_ASSERT_EQUAL(u->groups[0].servers[1]->max_connections, 4);
	CU_ASSERT_EQUAL(u->groups[0].servers[0]->naddrs, 1);
	CU_ASSERT_EQUAL(u->groups[1].balance, 1);	/* least_request */
	CU_ASSERT_EQUAL(u->default_group, 2);
	CU_ASSERT_PTR_NULL(cf->upstream.url);
	CU_ASSERT_EQUAL(cfg_upstreams_first(cf)->port, 8084);
	/* The first rule naming thing.get wins over the later glob. */
	a = policy_action_find(cf->policy, "thing.get");
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, a->index, "/x"), 1);
	a = policy_action_find(cf->policy, "thing.delete");
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, a->index, "/auth"), 0);
	a = policy_action_find(cf->policy, "things.get");
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, a->index, "/x"), 0);
	a = policy_action_find(cf->policy, "tokens.post");
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, a->index, "/x"), 1);
	/* No action rule: path prefixes, whole segments only. */
	a = policy_action_find(cf->policy, "auth.login");
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, a->index, "/auth/login"), 1);
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, SIZE_MAX, "/auth"), 1);
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, SIZE_MAX, "/auth?x=1"), 1);
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, SIZE_MAX, "/authx"), 2);
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, SIZE_MAX, "/Auth"), 2);
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, SIZE_MAX, "/"), 2);
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, SIZE_MAX, ""), 2);
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, SIZE_MAX, "/aut"), 2);
	/* An index past the policy's actions is no action. */
	CU_ASSERT_EQUAL(cfg_upstreams_route(u, u->nactions, "/x"), 2);
	/* The shorthand: one upstream, "default", the same settings. */
	cfg_free(cf);
	errlist_free(&errs);
	snprintf(path, sizeof(path), "%s/good/full.json", datadir);
	errlist_init(&errs);
	cf = cfg_load(path, &errs);
	CU_ASSERT_FATAL(cf != NULL);
	CU_ASSERT_EQUAL(cf->ups.ngroups, 1);
	CU_ASSERT_STRING_EQUAL(cf->ups.groups[0].name, "default");
	CU_ASSERT_PTR_EQUAL(cf->ups.groups[0].servers[0], &cf->upstream);
	CU_ASSERT_PTR_EQUAL(cfg_upstreams_first(cf), &cf->upstream);
	CU_ASSERT_EQUAL(cfg_upstreams_route(&cf->ups, SIZE_MAX, "/x"), 0);
	cfg_free(cf);
	errlist_free(&errs);
}

static void
test_good_full(void)
{
	char path[4400];
	struct errlist errs;
	struct cfg *cf;

	snprintf(path, sizeof(path), "%s/good/full.json", datadir);
	errlist_init(&errs);
	cf = cfg_load(path, &errs);
	errlist_print(&errs, stderr);
	CU_ASSERT_FATAL(cf != NULL);
	CU_ASSERT_EQUAL(cf->nlisteners, 2);
	CU_ASSERT_STRING_EQUAL(cf->listeners[1].address, "::1");
	CU_ASSERT_EQUAL(cf->listeners[1].port, 8443);
	CU_ASSERT_STRING_EQUAL(cf->upstream.host, "::1");
	CU_ASSERT_EQUAL(cf->upstream.port, 9000);
	CU_ASSERT_EQUAL(cf->upstream.timeout_ms, 1500);
	CU_ASSERT_EQUAL(cf->upstream.max_connections, 8);
	CU_ASSERT_EQUAL(cf->limits.max_header_bytes, 8192);
	CU_ASSERT_EQUAL(cf->limits.max_body_bytes, 65536);
	CU_ASSERT_EQUAL(cf->limits.max_connections, 100);
	CU_ASSERT_EQUAL(cf->limits.header_timeout_ms, 5000);
	CU_ASSERT_EQUAL(cf->limits.write_timeout_ms, 7000);
	CU_ASSERT_EQUAL(cf->limits.max_connections_per_client, 10);	/* 100 / 10 */
	CU_ASSERT_PTR_NULL(cf->access_log);
	CU_ASSERT_EQUAL(cf->debug, 1);
	CU_ASSERT_EQUAL(cf->shutdown_grace_ms, 0);
	CU_ASSERT_EQUAL(cf->rate_limit.key, CFG_RATE_SUBJECT);
	CU_ASSERT_EQUAL(cf->rate_limit.interval_us, 500000);
	CU_ASSERT_EQUAL(cf->rate_limit.burst, 120);	/* the per_minute figure */
	CU_ASSERT_EQUAL(cf->rate_limit.max_keys, 100000);
	cfg_free(cf);
	errlist_free(&errs);
}

static void
test_good_defaults(void)
{
	char path[4400];
	struct errlist errs;
	struct cfg *cf;

	snprintf(path, sizeof(path), "%s/good/minimal.json", datadir);
	errlist_init(&errs);
	cf = cfg_load(path, &errs);
	CU_ASSERT_FATAL(cf != NULL);
	CU_ASSERT_EQUAL(cf->upstream.port, 8081);
	CU_ASSERT_STRING_EQUAL(cf->upstream.host, "127.0.0.1");
	CU_ASSERT(cf->limits.max_header_bytes > 0);
	CU_ASSERT(cf->limits.max_connections > 0);
	CU_ASSERT_STRING_EQUAL(cf->access_log, "-");
	CU_ASSERT_EQUAL(cf->rate_limit.key, CFG_RATE_NONE);	/* no limit unless asked */
	CU_ASSERT_EQUAL(cf->rate_limit.ipv6_prefix, 64);	/* an IPv6 client is its /64 */
	/* A tenth of max_connections per client address; the failed-auth
	 * budget on by default. */
	CU_ASSERT_EQUAL(cf->limits.max_connections_per_client, cf->limits.max_connections / 10);
	CU_ASSERT_EQUAL(cf->limits.failed_auth_per_s, 10);
	CU_ASSERT_EQUAL(cf->limits.failed_auth_burst, 20);
	CU_ASSERT_PTR_NULL(cf->admin.token);
	CU_ASSERT_EQUAL(cf->upstream.naddrs, 1);
	cfg_free(cf);
	errlist_free(&errs);
}

static void
test_missing_file(void)
{
	struct errlist errs;

	errlist_init(&errs);
	CU_ASSERT_PTR_NULL(cfg_load("/nonexistent/scopegate.json", &errs));
	CU_ASSERT_EQUAL(errs.n, 1);
	CU_ASSERT(strstr(errs.msgs[0], "/nonexistent/scopegate.json: cannot open") != NULL);
	errlist_free(&errs);
}

int
main(void)
{
	const char *top = getenv("top_srcdir");
	CU_pSuite s;
	int fails;

	snprintf(datadir, sizeof(datadir), "%s/tests/data/config", top ? top : ".");
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("cfg", NULL, NULL);
	CU_add_test(s, "bad configurations fail with every error", test_bad_cases);
	CU_add_test(s, "full configuration", test_good_full);
	CU_add_test(s, "named upstreams and routes", test_good_upstreams);
	CU_add_test(s, "defaults", test_good_defaults);
	CU_add_test(s, "missing file", test_missing_file);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
