/* schema_bench.c: time JSON Schema validation of request-sized bodies.
 * Usage: schema_bench [schema-dir [iterations]] (default conf/schemas).
 * Prints ns per validation; run under valgrind --tool=callgrind with a
 * small iteration count to count instructions instead. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "jsonschema.h"

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Validate body against dir/file n times; prints the mean. 0 or -1. */
static int
bench(const char *dir, const char *file, json_t *body, long n)
{
	struct jschema_error err;
	struct errlist errs;
	struct jschema *js;
	double t0, t1;
	char *text;
	int rc;

	errlist_init(&errs);
	t0 = now_ns();
	js = jschema_compile_file(dir, file, JSCHEMA_LENIENT, &errs);
	t1 = now_ns();
	if (js == NULL) {
		errlist_print(&errs, stderr);
		errlist_free(&errs);
		return -1;
	}
	errlist_free(&errs);
	rc = jschema_validate(js, body, &err);
	text = json_dumps(body, JSON_COMPACT);
	printf("%s (compiled in %.2f ms): body of %zu bytes is %s%s%s\n", file, (t1 - t0) / 1e6,
	    text ? strlen(text) : 0, rc == 0 ? "valid" : "INVALID at ", rc == 0 ? "" : err.instance_ptr,
	    rc == 0 ? "" : err.message);
	free(text);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		rc |= jschema_validate(js, body, &err);
	t1 = now_ns();
	printf("  %ld validations: %.0f ns each\n", n, (t1 - t0) / (double)n);
	jschema_free(js);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "conf/schemas";
	long n = argc > 2 ? atol(argv[2]) : 200000;
	char path[4096];
	json_t *body, *examples, *big;
	int rc = 0;

	body = json_loads("{\"name\":\"x\",\"status\":\"inactive\"}", 0, NULL);
	rc |= bench(dir, "apiTokenPatch.json", body, n);
	json_decref(body);

	/* The largest Losant schema, with Losant's own example as the body
	 * minus "flowVersions", whose example matches both oneOf branches. */
	snprintf(path, sizeof(path), "%s/apiExamples.json", dir);
	examples = json_load_file(path, 0, NULL);
	big = examples ? json_deep_copy(json_object_get(examples, "experienceLinkedResources")) : NULL;
	if (big != NULL) {
		json_object_del(big, "flowVersions");
		rc |= bench(dir, "experienceLinkedResources.json", big, n / 20 + 1);
	} else {
		fprintf(stderr, "%s: no experienceLinkedResources example\n", path);
		rc = -1;
	}
	json_decref(big);
	json_decref(examples);

	body = json_loads("{\"query\":{\"$and\":[{\"name\":{\"$eq\":\"pump\"}},{\"$or\":["
	    "{\"tags\":{\"$eq\":{\"key\":\"floor\",\"value\":\"3\"}}},"
	    "{\"id\":\"575ec8687ae143cd83dc4a97\"}]}]},\"updateFields\":{\"description\":\"x\"}}", 0, NULL);
	rc |= bench(dir, "devicesPatch.json", body, n / 4 + 1);
	json_decref(body);
	return rc != 0;
}
