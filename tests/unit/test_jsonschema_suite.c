/* test_jsonschema_suite.c: run the official JSON Schema Test Suite (draft4
 * files, as shipped by Debian's libtest-json-schema-acceptance-perl)
 * against the validator.
 *
 * Required (every case must pass): every top-level draft4 file, and
 * optional/format/{date-time,email,uri,unknown}.json. Remote references
 * ("http://localhost:1234/...") are served from the suite's remotes/
 * folder through the loader; a group whose remote cannot be loaded (the
 * draft-04 meta-schema on json-schema.org) is skipped and counted.
 * Informational (results printed, not required): the other optional/
 * files. bignum.json cannot be represented by jansson (integers beyond
 * int64 are a parse error; the gateway refuses such bodies anyway), so it
 * is loaded with JSON_DECODE_INT_AS_REAL; zeroTerminatedFloats.json
 * contradicts the required type.json (1.0 is an integer) and must fail;
 * hostname/ipv4/ipv6 are formats we do not check. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "jsonschema.h"

#define DEFAULT_SUITE_DIR \
	"/usr/share/perl5/auto/share/dist/Test-JSON-Schema-Acceptance/tests/draft4"

static const char *suite_dir;
static char remotes_dir[4096];

struct counts {
	int passed, failed, skipped;
};

/* Serve http://localhost:1234/PATH from the suite's remotes folder. */
static json_t *
remote_loader(void *ctx, const char *uri, struct errlist *errs)
{
	const char *prefix = "http://localhost:1234/";
	char path[8192];
	json_error_t jerr;
	json_t *doc;

	if (strncmp(uri, prefix, strlen(prefix)) != 0 || strstr(uri, "..") != NULL) {
		errlist_add(errs, "%s: remote reference not available offline", uri);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", remotes_dir, uri + strlen(prefix));
	if ((doc = json_load_file(path, 0, &jerr)) == NULL)
		errlist_add(errs, "%s: %s", uri, jerr.text);
	return doc;
}

/* Run every group of one suite file; per-case failures are printed. */
static void
run_file(const char *rel, struct counts *c)
{
	struct jschema_options opts = { remote_loader, NULL, 0, 0 };
	char path[8192];
	json_error_t jerr;
	json_t *groups, *g;
	size_t gi;

	snprintf(path, sizeof(path), "%s/%s", suite_dir, rel);
	groups = json_load_file(path, JSON_ALLOW_NUL, &jerr);
	if (groups == NULL) {
		printf("  %s: jansson: %s; retrying with integers as reals\n", rel, jerr.text);
		groups = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
	}
	if (!json_is_array(groups)) {
		printf("  %s: cannot load: %s\n", rel, jerr.text);
		c->failed++;
		json_decref(groups);
		return;
	}
	json_array_foreach(groups, gi, g) {
		const char *gdesc = json_string_value(json_object_get(g, "description"));
		json_t *tests = json_object_get(g, "tests"), *t;
		struct errlist errs;
		struct jschema *js;
		size_t ti;

		errlist_init(&errs);
		js = jschema_compile_opts(json_object_get(g, "schema"), rel, &opts, &errs);
		if (js == NULL) {
			int remote = 0;
			for (size_t i = 0; i < errs.n; i++)
				if (strstr(errs.msgs[i], "not available offline") != NULL)
					remote = 1;
			if (remote) {
				printf("  %s: \"%s\": skipped (remote reference)\n", rel, gdesc);
				c->skipped += (int)json_array_size(tests);
			} else {
				printf("  %s: \"%s\": FAIL compile:\n", rel, gdesc);
				errlist_print(&errs, stdout);
				c->failed += (int)json_array_size(tests);
			}
			errlist_free(&errs);
			continue;
		}
		errlist_free(&errs);
		json_array_foreach(tests, ti, t) {
			struct jschema_error err;
			int want = json_is_true(json_object_get(t, "valid"));
			int got = jschema_validate(js, json_object_get(t, "data"), &err) == 0;
			if (got == want) {
				c->passed++;
			} else {
				c->failed++;
				printf("  %s: \"%s\" / \"%s\": FAIL (expected %s)%s%s%s%s\n", rel, gdesc,
				    json_string_value(json_object_get(t, "description")),
				    want ? "valid" : "invalid", got ? "" : " at '",
				    got ? "" : err.instance_ptr, got ? "" : "': ",
				    got ? "" : err.message);
			}
		}
		jschema_free(js);
	}
	json_decref(groups);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.json directly in dir (relative to the suite), sorted. */
static size_t
list_json(const char *sub, char ***out)
{
	char path[4096];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s", suite_dir, sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
			*out = realloc(*out, (n + 1) * sizeof(**out));
			if (asprintf(&(*out)[n], "%s%s", sub, de->d_name) < 0)
				abort();
			n++;
		}
	}
	closedir(d);
	qsort(*out, n, sizeof(**out), name_cmp);
	return n;
}

static void
report(const char *what, const struct counts *c)
{
	printf("\n%s: %d passed, %d failed, %d skipped\n", what, c->passed, c->failed,
	    c->skipped);
}

static void
test_required(void)
{
	struct counts c = { 0, 0, 0 };
	char **files;
	size_t n = list_json("", &files);

	printf("\n");
	for (size_t i = 0; i < n; i++) {
		run_file(files[i], &c);
		free(files[i]);
	}
	free(files);
	report("draft4 required files", &c);
	CU_ASSERT(n >= 20);
	CU_ASSERT(c.passed > 300);
	CU_ASSERT_EQUAL(c.failed, 0);
}

static void
test_formats(void)
{
	static const char *files[] = { "optional/format/date-time.json",
		"optional/format/email.json", "optional/format/uri.json",
		"optional/format/unknown.json" };
	struct counts c = { 0, 0, 0 };
	struct stat st;

	printf("\n");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", suite_dir, files[i]);
		if (stat(path, &st) == 0)
			run_file(files[i], &c);
		else
			printf("  %s: not in this suite version\n", files[i]);
	}
	report("draft4 optional/format date-time, email, uri, unknown", &c);
	CU_ASSERT(c.passed > 0);
	CU_ASSERT_EQUAL(c.failed, 0);
}

static void
test_informational(void)
{
	static const char *skip[] = { "optional/format/date-time.json",
		"optional/format/email.json", "optional/format/uri.json",
		"optional/format/unknown.json" };
	char **a, **b;
	size_t na = list_json("optional/", &a), nb = list_json("optional/format/", &b);
	struct counts total = { 0, 0, 0 };

	printf("\n(informational, not required)\n");
	for (size_t i = 0; i < na + nb; i++) {
		char *f = i < na ? a[i] : b[i - na];
		struct counts c = { 0, 0, 0 };
		int required = 0;
		for (size_t j = 0; j < sizeof(skip) / sizeof(skip[0]); j++)
			required |= strcmp(f, skip[j]) == 0;
		if (!required) {
			run_file(f, &c);
			printf("  %s: %d passed, %d failed, %d skipped\n", f, c.passed, c.failed,
			    c.skipped);
			total.passed += c.passed;
			total.failed += c.failed;
			total.skipped += c.skipped;
		}
		free(f);
	}
	free(a);
	free(b);
	report("draft4 other optional files (informational)", &total);
	CU_ASSERT(total.passed > 0);
}

int
main(void)
{
	CU_pSuite s;
	struct stat st;
	unsigned fails;
	char *slash;

	suite_dir = getenv("JSON_SCHEMA_SUITE_DIR");
	if (suite_dir == NULL || *suite_dir == '\0')
		suite_dir = DEFAULT_SUITE_DIR;
	if (stat(suite_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "test_jsonschema_suite: FAIL: JSON Schema Test Suite draft4 "
		    "folder not found at %s.\nInstall it: apt-get install -y "
		    "libtest-json-schema-acceptance-perl (or set JSON_SCHEMA_SUITE_DIR)\n",
		    suite_dir);
		return 1;
	}
	/* .../tests/draft4 -> .../remotes */
	snprintf(remotes_dir, sizeof(remotes_dir), "%s", suite_dir);
	for (int i = 0; i < 2 && (slash = strrchr(remotes_dir, '/')) != NULL; i++)
		*slash = '\0';
	strncat(remotes_dir, "/remotes", sizeof(remotes_dir) - strlen(remotes_dir) - 1);

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("jsonschema_suite", NULL, NULL);
	CU_add_test(s, "draft4 required files", test_required);
	CU_add_test(s, "draft4 optional formats", test_formats);
	CU_add_test(s, "draft4 other optional files", test_informational);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
