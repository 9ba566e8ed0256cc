/* test_openapi.c: the OpenAPI converter on small documents: security
 * (operation over global, [] public, {} anonymous, any-of alternatives,
 * conjunctions and other schemes left out), parameter types, names,
 * body schemas (components copied as definitions, 3.0 nullable, 3.1
 * conversions and refusals) and the errors: duplicate operationIds,
 * colliding templates, reference cycles, each naming its JSON pointer. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "errlist.h"
#include "jsonconf.h"
#include "openapi.h"
#include "policy.h"

static struct errlist errs, warns;
static char allerr[4096];

static json_t *
conv(const char *text, const char *scheme)
{
	struct jsonconf jc = { "doc", &errs }, wj = { "doc", &warns };
	json_error_t je;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je), *out;

	if (doc == NULL)
		fprintf(stderr, "\nbad test JSON: %s (%d:%d)\n", je.text, je.line, je.column);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	errlist_free(&errs);
	errlist_free(&warns);
	errlist_init(&errs);
	errlist_init(&warns);
	out = openapi_convert(doc, scheme, NULL, &jc, &wj);
	allerr[0] = '\0';
	for (size_t i = 0; i < errs.n; i++) {
		strncat(allerr, errs.msgs[i], sizeof(allerr) - strlen(allerr) - 2);
		strcat(allerr, "\n");
	}
	json_decref(doc);
	return out;
}

static const json_t *
action(const json_t *p, const char *name)
{
	const json_t *a;
	size_t i;

	json_array_foreach(json_object_get(p, "actions"), i, a)
		if (strcmp(json_string_value(json_object_get(a, "action")), name) == 0)
			return a;
	return NULL;
}

static void
failed_with(const char *text, const char *want)
{
	json_t *p = conv(text, NULL);

	CU_ASSERT_PTR_NULL(p);
	if (strstr(allerr, want) == NULL)
		fprintf(stderr, "\nwanted \"%s\" in:\n%s", want, allerr);
	CU_ASSERT_PTR_NOT_NULL(strstr(allerr, want));
	json_decref(p);
}

#define OAS30(paths) "{\"openapi\":\"3.0.3\",\"components\":{\"securitySchemes\":" \
	"{\"oa\":{\"type\":\"oauth2\",\"flows\":{}},\"key\":{\"type\":\"apiKey\"," \
	"\"in\":\"header\",\"name\":\"k\"}},\"schemas\":{\"Pet\":{\"type\":\"object\"," \
	"\"properties\":{\"name\":{\"type\":\"string\",\"nullable\":true}," \
	"\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Pet\"}}}}}}," \
	"\"security\":[{\"oa\":[\"read\"]}],\"paths\":" paths "}"

static void
test_security(void)
{
	json_t *p = conv(OAS30("{\"/pets\":{"
	    "\"get\":{\"operationId\":\"list\"},"
	    "\"post\":{\"operationId\":\"add\",\"security\":[{\"oa\":[\"write\"]},{\"oa\":[\"admin\"]}]},"
	    "\"put\":{\"operationId\":\"open\",\"security\":[]},"
	    "\"patch\":{\"operationId\":\"anon\",\"security\":[{\"oa\":[\"write\"]},{}]},"
	    "\"delete\":{\"operationId\":\"both\",\"security\":[{\"oa\":[\"write\",\"read\"]}]},"
	    "\"head\":{\"operationId\":\"keyonly\",\"security\":[{\"key\":[]}]},"
	    "\"options\":{\"operationId\":\"mixed\",\"security\":[{\"key\":[]},{\"oa\":[\"read\"]}]}"
	    "}}"), NULL);
	const json_t *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	a = action(p, "list");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(a, "scopes"), 0)), "read");
	a = action(p, "add");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(a, "scopes")), 2);
	CU_ASSERT(json_is_true(json_object_get(action(p, "open"), "public")));
	CU_ASSERT(json_is_true(json_object_get(action(p, "anon"), "public")));
	CU_ASSERT_PTR_NULL(json_object_get(action(p, "anon"), "scopes"));
	/* write AND read: a set held together */
	a = action(p, "both");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(a, "scopes")), 1);
	CU_ASSERT_EQUAL(json_array_size(json_array_get(json_object_get(a, "scopes"), 0)), 2);
	CU_ASSERT_PTR_NULL(action(p, "keyonly"));
	a = action(p, "mixed");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(a, "scopes")), 1);
	CU_ASSERT_EQUAL(warns.n, 3);
	json_decref(p);
	/* a token AND an API key: the scopes kept, the other half named */
	p = conv(OAS30("{\"/a\":{\"delete\":{\"operationId\":\"and\","
	    "\"security\":[{\"oa\":[\"admin\"],\"key\":[]}]}}}"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(action(p, "and"),
	    "scopes"), 0)), "admin");
	CU_ASSERT_EQUAL(warns.n, 1);
	CU_ASSERT(warns.n == 1 && strstr(warns.msgs[0], "/paths/~1a/delete/security/0: also "
	    "requires 1 other scheme(s)") != NULL);
	json_decref(p);
	/* the scheme named */
	p = conv(OAS30("{\"/a\":{\"get\":{}}}"), "key");
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_PTR_NOT_NULL(strstr(allerr, "/components/securitySchemes: no oauth2 or openIdConnect security scheme named \"key\""));
	json_decref(p);
}

static void
test_params_and_names(void)
{
	json_t *p = conv(OAS30("{\"/pets/{pet-id}/toys/{toyId}/{n}\":{"
	    "\"parameters\":[{\"name\":\"pet-id\",\"in\":\"path\",\"schema\":{\"type\":\"string\",\"format\":\"uuid\"}}],"
	    "\"get\":{\"parameters\":[{\"$ref\":\"#/components/parameters/T\"},"
	    "{\"name\":\"n\",\"in\":\"path\",\"schema\":{\"type\":\"integer\"}}]}},"
	    "\"/\":{\"get\":{}}}"
	    ",\"x-unused\":{}"), NULL);
	const json_t *a, *params;

	/* components/parameters/T is missing: a clear error */
	CU_ASSERT_PTR_NULL(p);
	json_decref(p);
	p = conv("{\"openapi\":\"3.0.0\",\"components\":{\"parameters\":{\"T\":"
	    "{\"name\":\"toyId\",\"in\":\"path\",\"schema\":{\"type\":\"string\","
	    "\"pattern\":\"^[0-9a-f]{24}$\"}}}},\"paths\":{"
	    "\"/pets/{pet-id}/toys/{toyId}/{n}\":{"
	    "\"parameters\":[{\"name\":\"pet-id\",\"in\":\"path\",\"schema\":{\"type\":\"string\",\"format\":\"uuid\"}}],"
	    "\"get\":{\"parameters\":[{\"$ref\":\"#/components/parameters/T\"},"
	    "{\"name\":\"n\",\"in\":\"path\",\"schema\":{\"type\":\"integer\"}}]}},"
	    "\"/\":{\"get\":{}}}}", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	a = action(p, "get.pets.pet-id.toys.toyId.n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "path")), "/pets/{pet_id}/toys/{toyId}/{n}");
	params = json_object_get(a, "params");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(params, "pet_id")), "uuid");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(params, "toyId")), "objectid");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(params, "n")), "integer");
	CU_ASSERT(json_is_true(json_object_get(action(p, "get.root"), "public")));
	json_decref(p);
}

static void
test_errors(void)
{
	failed_with(OAS30("{\"/a\":{\"get\":{\"operationId\":\"x\"}},\"/b\":{\"post\":{\"operationId\":\"x\"}}}"),
	    "doc: /paths/~1b/post/operationId: duplicate operationId \"x\" (also /paths/~1a/get/operationId)");
	failed_with(OAS30("{\"/a/{x}\":{\"get\":{}},\"/a/{y}\":{\"get\":{}}}"),
	    "doc: /paths/~1a~1{y}/get: GET /a/{y} matches the same paths as /a/{x} (/paths/~1a~1{x}/get)");
	failed_with(OAS30("{\"/a/b{x}\":{\"get\":{}}}"), "/paths/~1a~1b{x}: parameter must be a whole path segment");
	failed_with("{\"openapi\":\"3.0.0\",\"paths\":{\"/a\":{\"post\":{\"requestBody\":{\"content\":"
	    "{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/A\"}}}}}}},"
	    "\"components\":{\"schemas\":{\"A\":{\"$ref\":\"#/components/schemas/B\"},"
	    "\"B\":{\"$ref\":\"#/components/schemas/A\"}}}}",
	    "doc: /components/schemas/A: reference cycle: /components/schemas/A -> /components/schemas/B -> /components/schemas/A");
	failed_with("{\"openapi\":\"3.0.0\",\"paths\":{\"/a\":{\"post\":{\"requestBody\":"
	    "{\"$ref\":\"#/components/requestBodies/R\"}}}},\"components\":{\"requestBodies\":"
	    "{\"R\":{\"$ref\":\"#/components/requestBodies/R\"}}}}", "/components/requestBodies/R: more than 32 references in a row");
	failed_with("{\"openapi\":\"3.0.0\",\"paths\":{\"/a\":{\"post\":{\"requestBody\":{\"content\":"
	    "{\"application/json\":{\"schema\":{\"$ref\":\"other.yaml#/X\"}}}}}}}}",
	    "/paths/~1a/post/requestBody/content/application~1json/schema: $ref other.yaml#/X: only references into #/components/schemas/");
	failed_with("{\"openapi\":\"4.0.0\",\"paths\":{}}", "doc: /openapi: unsupported version");
	failed_with("{\"swagger\":\"2.0\",\"securityDefinitions\":{\"a\":{\"type\":\"oauth2\"},"
	    "\"b\":{\"type\":\"oauth2\"}},\"paths\":{}}", "2 oauth2/openIdConnect schemes: choose one with --security-scheme");
}

#define BODY31(schema) "{\"openapi\":\"3.1.0\",\"paths\":{\"/a\":{\"post\":{\"operationId\":\"op\"," \
	"\"requestBody\":{\"content\":{\"application/json\":{\"schema\":" schema "}}}}}}}"

static void
test_schemas(void)
{
	json_t *p = conv(OAS30("{\"/pets\":{\"post\":{\"operationId\":\"add\",\"requestBody\":"
	    "{\"content\":{\"text/plain\":{\"schema\":{}},\"application/json\":{\"schema\":"
	    "{\"$ref\":\"#/components/schemas/Pet\"}}}}}}}"), NULL);
	const json_t *s, *def;
	char *txt;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(action(p, "add"), "body"), "schema")), "add");
	s = json_object_get(json_object_get(p, "schemas"), "add");
	def = json_object_get(json_object_get(s, "definitions"), "Pet");
	CU_ASSERT_PTR_NOT_NULL_FATAL(def);
	txt = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(txt, "{\"allOf\":[{\"$ref\":\"#/definitions/Pet\"}],\"definitions\":{\"Pet\":"
	    "{\"properties\":{\"kids\":{\"items\":{\"$ref\":\"#/definitions/Pet\"},\"type\":\"array\"},"
	    "\"name\":{\"type\":[\"string\",\"null\"]}},\"type\":\"object\"}}}");
	free(txt);
	json_decref(p);

	p = conv(BODY31("{\"type\":[\"object\",\"null\"],\"properties\":{\"a\":{\"const\":1},"
	    "\"b\":{\"type\":\"number\",\"exclusiveMinimum\":0},\"c\":false},"
	    "\"dependentRequired\":{\"a\":[\"b\"]},\"examples\":[{}]}"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	txt = json_dumps(json_object_get(json_object_get(p, "schemas"), "op"), JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(txt, "{\"dependencies\":{\"a\":[\"b\"]},\"properties\":{\"a\":{\"enum\":[1]},"
	    "\"b\":{\"exclusiveMinimum\":true,\"minimum\":0,\"type\":\"number\"},\"c\":{\"not\":{}}},"
	    "\"type\":[\"object\",\"null\"]}");
	free(txt);
	json_decref(p);

	/* unevaluatedProperties with nothing else evaluating properties is
	 * additionalProperties; readOnly members are not required in requests */
	p = conv(BODY31("{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\",\"readOnly\":true},"
	    "\"n\":{\"type\":\"string\"}},\"required\":[\"id\",\"n\"],\"unevaluatedProperties\":false}"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	txt = json_dumps(json_object_get(json_object_get(p, "schemas"), "op"), JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(txt, "{\"additionalProperties\":false,\"properties\":{\"id\":{\"readOnly\":true,"
	    "\"type\":\"string\"},\"n\":{\"type\":\"string\"}},\"required\":[\"n\"],\"type\":\"object\"}");
	free(txt);
	json_decref(p);
	failed_with(BODY31("{\"anyOf\":[{\"properties\":{\"a\":{}}}],\"unevaluatedProperties\":false}"),
	    "schema/unevaluatedProperties: keyword \"unevaluatedProperties\" cannot be expressed");
	failed_with(BODY31("{\"type\":\"array\",\"prefixItems\":[{}]}"),
	    "doc: /paths/~1a/post/requestBody/content/application~1json/schema/prefixItems: keyword \"prefixItems\" cannot be expressed in JSON Schema draft-04");
	failed_with(BODY31("{\"properties\":{\"x\":{\"allOf\":[{}],\"unevaluatedProperties\":false}}}"),
	    "schema/properties/x/unevaluatedProperties: keyword \"unevaluatedProperties\"");
	failed_with(BODY31("{\"if\":{},\"then\":{}}"), "keyword \"if\"");
	failed_with(BODY31("{\"minimum\":1,\"exclusiveMinimum\":2}"), "exclusiveMinimum together with minimum");
}

static void
test_swagger2(void)
{
	json_t *p = conv("{\"swagger\":\"2.0\",\"securityDefinitions\":{\"o\":{\"type\":\"oauth2\","
	    "\"flow\":\"implicit\",\"scopes\":{\"r\":\"\"}}},\"definitions\":{\"P\":{\"type\":\"object\","
	    "\"required\":[\"n\"]}},\"paths\":{\"/p/{id}\":{\"put\":{\"security\":[{\"o\":[\"r\"]}],"
	    "\"parameters\":[{\"name\":\"id\",\"in\":\"path\",\"type\":\"integer\"},"
	    "{\"name\":\"b\",\"in\":\"body\",\"schema\":{\"$ref\":\"#/definitions/P\"}}]}}}}", NULL);
	const json_t *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	a = action(p, "put.p.id");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(a, "params"), "id")), "integer");
	CU_ASSERT_PTR_NOT_NULL(json_object_get(json_object_get(json_object_get(json_object_get(p, "schemas"),
	    "put.p.id"), "definitions"), "P"));
	json_decref(p);
}

/* What the importer relies on in the daemon's policy: integer and uuid
 * parameters, and scope sets held together. */
static void
test_policy_side(void)
{
	static const char text[] = "{\"actions\": [{\"action\": \"a\", \"method\": \"GET\", "
	    "\"path\": \"/a/{n}/{u}\", \"params\": {\"n\": \"integer\", \"u\": \"uuid\"}, "
	    "\"scopes\": [\"admin\", [\"w\", \"r\"], [\"x\", \"r\"]]}]}";
	struct errlist el;
	struct jsonconf jc = { "p", &el };
	struct policy *p;
	const struct policy_action *a;
	struct policy_scopeset s;
	const char *w_only[] = { "w" }, *w_r[] = { "r", "w" }, *x_r_admin[] = { "x", "r" };

	errlist_init(&el);
	p = policy_load_buffer(&jc, text, sizeof(text) - 1, NULL);
	errlist_print(&el, stderr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	a = policy_action_at(p, 0);
	CU_ASSERT_EQUAL(a->nall_of, 2);
	CU_ASSERT_STRING_EQUAL(a->all_of_names[0], "w+r");
	policy_scopeset_from_names(p, w_only, 1, &s);
	CU_ASSERT_EQUAL(policy_all_of_held(a, &s), -1);
	CU_ASSERT(!policy_scopeset_intersects(&a->allow, &s));
	policy_scopeset_from_names(p, w_r, 2, &s);
	CU_ASSERT_EQUAL(policy_all_of_held(a, &s), 0);
	policy_scopeset_from_names(p, x_r_admin, 2, &s);
	CU_ASSERT_EQUAL(policy_all_of_held(a, &s), 1);
	CU_ASSERT(policy_param_valid(POLICY_PARAM_INTEGER, "42", 2));
	CU_ASSERT(policy_param_valid(POLICY_PARAM_INTEGER, "-7", 2));
	CU_ASSERT(!policy_param_valid(POLICY_PARAM_INTEGER, "-", 1));
	CU_ASSERT(!policy_param_valid(POLICY_PARAM_INTEGER, "4a", 2));
	CU_ASSERT(!policy_param_valid(POLICY_PARAM_INTEGER, "%34", 3));
	CU_ASSERT(!policy_param_valid(POLICY_PARAM_INTEGER, "12345678901234567890", 20));
	CU_ASSERT(policy_param_valid(POLICY_PARAM_UUID, "123e4567-E89B-12d3-a456-426614174000", 36));
	CU_ASSERT(!policy_param_valid(POLICY_PARAM_UUID, "123e4567e89b12d3a456426614174000", 32));
	CU_ASSERT(!policy_param_valid(POLICY_PARAM_UUID, "123e4567-e89b-12d3-a456-42661417400g", 36));
	CU_ASSERT(!policy_param_valid(POLICY_PARAM_UUID, "123e4567-e89b-12d3-a456_426614174000", 36));
	CU_ASSERT_STRING_EQUAL(policy_param_type_name(POLICY_PARAM_UUID), "uuid");
	policy_free(p);
	errlist_free(&el);
}

static void
test_base_path(void)
{
	json_t *p = conv("{\"swagger\":\"2.0\",\"basePath\":\"/v2/\",\"paths\":{\"/\":{\"get\":{}},"
	    "\"/a/\":{\"get\":{}}}}", NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(action(p, "get.root"), "path")), "/v2");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(action(p, "get.a"), "path")), "/v2/a");
	json_decref(p);
	p = conv("{\"openapi\":\"3.0.0\",\"servers\":[{\"url\":\"https://h.example/api/\"},"
	    "{\"url\":\"/api\"}],\"paths\":{\"/a\":{\"get\":{}}}}", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(action(p, "get.a"), "path")), "/api/a");
	json_decref(p);
	failed_with("{\"openapi\":\"3.0.0\",\"servers\":[{\"url\":\"https://h.example/v1\"},"
	    "{\"url\":\"https://h.example/v2\"}],\"paths\":{}}",
	    "doc: /servers/1: servers with different paths (/v1, /v2): choose one with --base-path");
	failed_with("{\"openapi\":\"3.0.0\",\"servers\":[{\"url\":\"https://h.example/{ver}\"}],\"paths\":{}}",
	    "doc: /servers/0: server URL https://h.example/{ver}: path not known (variables?); give --base-path");
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	errlist_init(&errs);
	errlist_init(&warns);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("openapi", NULL, NULL);
	CU_add_test(s, "security requirements", test_security);
	CU_add_test(s, "parameters and names", test_params_and_names);
	CU_add_test(s, "errors name their pointer", test_errors);
	CU_add_test(s, "body schemas", test_schemas);
	CU_add_test(s, "swagger 2.0", test_swagger2);
	CU_add_test(s, "base path", test_base_path);
	CU_add_test(s, "policy: integer, uuid, scope sets", test_policy_side);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	errlist_free(&errs);
	errlist_free(&warns);
	return fails != 0;
}
