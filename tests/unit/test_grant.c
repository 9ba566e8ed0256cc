/* test_grant.c: no escalation through token creation (grant.c): requested
 * lists, the upstream's defaults when the list is absent or null, scopes
 * the policy does not know, "covers", and bodies that are not what they
 * seem (other types, other spellings). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "errlist.h"
#include "grant.h"
#include "jsonconf.h"
#include "policy.h"

static const char policy_json[] =
    "{\"covers\": {\"all.App\": [\"app.*\", \"tokens.*\"], \"tokens.*\": [\"tokens.*\"],"
    "  \"t.get\": [\"t.get.exact\"]},"
    " \"actions\": ["
    "  {\"action\": \"t.post\", \"method\": \"POST\", \"path\": \"/t\","
    "   \"scopes\": [\"all.App\", \"tokens.*\", \"tokens.post\"],"
    "   \"creates_token\": {\"scope_field\": \"scope\", \"default_scopes\": [\"all.App\"]}},"
    "  {\"action\": \"t.get\", \"method\": \"GET\", \"path\": \"/t/{id}\","
    "   \"params\": {\"id\": \"string\"},"
    "   \"scopes\": [\"all.App\", \"all.App.read\", \"tokens.*\", \"t.get\"]},"
    "  {\"action\": \"t.del\", \"method\": \"DELETE\", \"path\": \"/t/{id}\","
    "   \"params\": {\"id\": \"string\"},"
    "   \"scopes\": [\"all.App\", \"tokens.*\", \"t.del\"]},"
    "  {\"action\": \"u.post\", \"method\": \"POST\", \"path\": \"/u\","
    "   \"scopes\": [\"tokens.post\"],"
    "   \"creates_token\": {\"scope_field\": \"grants\", \"default_scopes\": []}}"
    " ]}";

static struct policy *pol;
static struct grantmap *gm;

static int
setup(void)
{
	struct errlist errs;
	struct jsonconf jc = { .file = "mem", .errs = &errs };

	errlist_init(&errs);
	pol = policy_load_buffer(&jc, policy_json, sizeof(policy_json) - 1, NULL);
	errlist_print(&errs, stderr);
	errlist_free(&errs);
	if (pol == NULL)
		return -1;
	gm = grantmap_new(pol);
	return 0;
}

static int
teardown(void)
{
	grantmap_free(gm);
	policy_free(pol);
	return 0;
}

/* Check body for action with the caller's space-separated scopes. */
static enum grant_status
check(const char *action, const char *scopes, const char *body, char *msg, size_t size)
{
	const char *names[16];
	char *copy = strdup(scopes), *tok, *save = NULL;
	struct policy_scopeset set;
	struct grant_caller c;
	enum grant_status st;
	size_t n = 0;
	json_t *b = json_loads(body, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (tok = strtok_r(copy, " ", &save); tok && n < 16; tok = strtok_r(NULL, " ", &save))
		names[n++] = tok;
	policy_scopeset_from_names(pol, names, n, &set);
	c.set = &set;
	c.names = names;
	c.nnames = n;
	st = grantmap_check(gm, &c, policy_action_find(pol, action), b, msg, size);
	json_decref(b);
	free(copy);
	return st;
}

static void
test_cases(void)
{
	static const struct {
		const char *action, *scopes, *body;
		enum grant_status want;
	} cases[] = {
		/* Omitted or null: the upstream's default (all.App) is checked. */
		{ "t.post", "tokens.post", "{\"name\": \"x\"}", GRANT_ESCALATION },
		{ "t.post", "tokens.post", "{\"name\": \"x\", \"scope\": null}", GRANT_ESCALATION },
		{ "t.post", "tokens.post", "{}", GRANT_ESCALATION },
		{ "t.post", "all.App", "{\"name\": \"x\"}", GRANT_OK },
		{ "t.post", "all.App", "{\"scope\": null}", GRANT_OK },
		/* Every action of all.App is not enough: all.App also covers
		 * app.*, which nothing of these callers covers. */
		{ "t.post", "tokens.*", "{\"name\": \"x\"}", GRANT_ESCALATION },
		{ "t.post", "tokens.post t.get t.del", "{\"name\": \"x\"}", GRANT_ESCALATION },
		{ "t.post", "tokens.post t.get", "{\"name\": \"x\"}", GRANT_ESCALATION },
		/* An empty list grants nothing. */
		{ "t.post", "tokens.post", "{\"scope\": []}", GRANT_OK },
		{ "u.post", "tokens.post", "{\"name\": \"x\"}", GRANT_OK },
		{ "u.post", "tokens.post", "{\"grants\": null}", GRANT_OK },
		/* Other types: refused, never guessed at. */
		{ "t.post", "all.App", "{\"scope\": \"t.get\"}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"scope\": \"\"}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"scope\": {}}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"scope\": 0}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"scope\": false}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"scope\": [1]}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"scope\": [null]}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"scope\": [[\"t.get\"]]}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"scope\": [\"t.get\", {\"a\": 1}]}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "[]", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "\"scope\"", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "null", GRANT_BAD_REQUEST },
		/* The field in another case, with or without the real one. */
		{ "t.post", "all.App", "{\"Scope\": [\"t.get\"]}", GRANT_BAD_REQUEST },
		{ "t.post", "all.App", "{\"SCOPE\": [], \"scope\": []}", GRANT_BAD_REQUEST },
		{ "u.post", "tokens.post", "{\"Grants\": [\"all.App\"]}", GRANT_BAD_REQUEST },
		/* The field of another action is just another member. */
		{ "u.post", "tokens.post", "{\"scope\": [\"all.App\"]}", GRANT_OK },
		{ "u.post", "tokens.post", "{\"grants\": [\"all.App\"]}", GRANT_ESCALATION },
		/* Known scopes: by the actions they allow. */
		{ "t.post", "tokens.post", "{\"scope\": [\"tokens.post\"]}", GRANT_OK },
		{ "t.post", "tokens.post", "{\"scope\": [\"tokens.post\", \"t.get\"]}",
		  GRANT_ESCALATION },
		{ "t.post", "t.get", "{\"scope\": [\"t.get\"]}", GRANT_OK },
		{ "t.post", "tokens.*", "{\"scope\": [\"tokens.*\", \"t.del\"]}", GRANT_OK },
		/* all.App.read may call t.get, but t.get covers t.get.exact. */
		{ "t.post", "all.App.read", "{\"scope\": [\"t.get\"]}", GRANT_ESCALATION },
		/* Unknown scopes: holders and covering umbrellas only. */
		{ "t.post", "tokens.post", "{\"scope\": [\"app.debug\"]}", GRANT_ESCALATION },
		{ "t.post", "all.App", "{\"scope\": [\"app.debug\"]}", GRANT_OK },
		{ "t.post", "all.App", "{\"scope\": [\"app.\"]}", GRANT_OK },
		{ "t.post", "all.App", "{\"scope\": [\"app\"]}", GRANT_ESCALATION },
		{ "t.post", "all.App", "{\"scope\": [\"App.debug\"]}", GRANT_ESCALATION },
		{ "t.post", "all.App", "{\"scope\": [\"other.debug\"]}", GRANT_ESCALATION },
		{ "t.post", "all.App", "{\"scope\": [\"\"]}", GRANT_ESCALATION },
		{ "t.post", "all.App", "{\"scope\": [\"all.App \"]}", GRANT_ESCALATION },
		{ "t.post", "all.App", "{\"scope\": [\"all.App\\u0001\"]}", GRANT_ESCALATION },
		{ "t.post", "all.App.read", "{\"scope\": [\"app.debug\"]}", GRANT_ESCALATION },
		{ "t.post", "tokens.*", "{\"scope\": [\"tokens.new\"]}", GRANT_OK },
		{ "t.post", "tokens.*", "{\"scope\": [\"tokensx\"]}", GRANT_ESCALATION },
		{ "t.post", "tokens.*", "{\"scope\": [\"app.debug\"]}", GRANT_ESCALATION },
		{ "t.post", "tokens.post app.debug", "{\"scope\": [\"app.debug\"]}", GRANT_OK },
		{ "t.post", "tokens.post app.debug", "{\"scope\": [\"app.Debug\"]}",
		  GRANT_ESCALATION },
		{ "t.post", "tokens.post app.debug", "{\"scope\": [\"app.debug.x\"]}",
		  GRANT_ESCALATION },
		/* An exact (not prefix) cover. */
		{ "t.post", "tokens.post t.get", "{\"scope\": [\"t.get.exact\"]}", GRANT_OK },
		{ "t.post", "tokens.post t.get", "{\"scope\": [\"t.get.exactx\"]}",
		  GRANT_ESCALATION },
		/* The same escape spelled differently is the same name. */
		{ "t.post", "tokens.post", "{\"scope\": [\"all.Ap\\u0070\"]}", GRANT_ESCALATION },
	};
	char msg[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum grant_status st = check(cases[i].action, cases[i].scopes, cases[i].body,
		    msg, sizeof(msg));
		CU_ASSERT_EQUAL(st, cases[i].want);
		if (st != cases[i].want)
			fprintf(stderr, "\n  case %zu %s [%s] %s: %d (%s)\n", i, cases[i].action,
			    cases[i].scopes, cases[i].body, st, msg);
		if (st != GRANT_OK)
			CU_ASSERT(msg[0] != '\0');
	}
}

static void
test_messages(void)
{
	char msg[200], tiny[8];

	CU_ASSERT_EQUAL(check("t.post", "tokens.post", "{}", msg, sizeof(msg)), GRANT_ESCALATION);
	CU_ASSERT(strstr(msg, "all.App") != NULL && strstr(msg, "default") != NULL);
	CU_ASSERT_EQUAL(check("t.post", "tokens.post",
	    "{\"scope\": [\"t.get\", \"tokens.post\", \"t.del\"]}", msg, sizeof(msg)),
	    GRANT_ESCALATION);
	CU_ASSERT_STRING_EQUAL(msg, "t.get, t.del");
	CU_ASSERT_EQUAL(check("t.post", "all.App", "{\"scope\": [1]}", msg, sizeof(msg)),
	    GRANT_BAD_REQUEST);
	CU_ASSERT(strstr(msg, "/0") != NULL);
	/* Truncated, still NUL-terminated. */
	CU_ASSERT_EQUAL(check("t.post", "tokens.post",
	    "{\"scope\": [\"t.get\", \"t.del\"]}", tiny, sizeof(tiny)), GRANT_ESCALATION);
	CU_ASSERT(strlen(tiny) < sizeof(tiny));
	CU_ASSERT_EQUAL(check("t.post", "tokens.post", "{\"scope\": [\"t.get\"]}", msg, 0),
	    GRANT_ESCALATION);
}

static void
test_grantable(void)
{
	const char *names[] = { "unknown.scope" };
	struct policy_scopeset set;
	struct grant_caller c = { &set, names, 1 };

	policy_scopeset_from_names(pol, names, 1, &set);
	CU_ASSERT(grantmap_grantable(gm, &c, "unknown.scope", 13));
	CU_ASSERT_FALSE(grantmap_grantable(gm, &c, "unknown.scop", 12));
	CU_ASSERT_FALSE(grantmap_grantable(gm, &c, "unknown.scope\0x", 15));
	CU_ASSERT_FALSE(grantmap_grantable(gm, &c, "t.get", 5));
	/* No covers, no scopes: nothing unknown is grantable. */
	c.nnames = 0;
	CU_ASSERT_FALSE(grantmap_grantable(gm, &c, "unknown.scope", 13));
}

int
main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("grant", setup, teardown);
	CU_add_test(s, "cases", test_cases);
	CU_add_test(s, "messages", test_messages);
	CU_add_test(s, "grantable", test_grantable);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	{
		unsigned fails = CU_get_number_of_failures();
		unsigned sfail = CU_get_number_of_suites_failed();
		CU_cleanup_registry();
		return fails || sfail ? 1 : 0;
	}
}
