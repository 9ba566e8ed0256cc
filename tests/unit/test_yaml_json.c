/* test_yaml_json.c: the YAML reader on ordinary documents (core-schema
 * scalars, quoted strings, numeric keys) and on hostile ones: an alias
 * bomb, deep nesting, too many nodes, duplicate keys, non-string keys,
 * tags, several documents, what JSON cannot hold. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "defaults.h"
#include "yaml_json.h"

static char err[256];

static json_t *
parse(const char *s)
{
	return yaml_json_parse(s, strlen(s), err, sizeof(err));
}

/* s is refused with a message containing want. */
static void
refused(const char *s, const char *want)
{
	json_t *v = parse(s);

	CU_ASSERT_PTR_NULL(v);
	if (strstr(err, want) == NULL)
		fprintf(stderr, "\nwanted \"%s\" in \"%s\"\n", want, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	json_decref(v);
}

static void
test_scalars(void)
{
	json_t *v = parse("a: 1\nb: -2.5e3\nc: true\nd: ~\ne: null\nf: \"1\"\n"
	    "g: '2'\nh: hello world\ni: 0x1f\nj: 0o17\nk: yes\nl:\n200: ok\n"
	    "m: !!str 3\nn: [1, two, {x: y}]\n");
	json_t *n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "a")), 1);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(v, "b")), -2500.0, 1e-9);
	CU_ASSERT(json_is_true(json_object_get(v, "c")));
	CU_ASSERT(json_is_null(json_object_get(v, "d")));
	CU_ASSERT(json_is_null(json_object_get(v, "e")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "f")), "1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "g")), "2");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "h")), "hello world");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "i")), 31);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "j")), 15);
	/* YAML 1.2: "yes" is a string, not YAML 1.1's boolean */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "k")), "yes");
	CU_ASSERT(json_is_null(json_object_get(v, "l")));
	/* a response code as a key is the string "200" */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "200")), "ok");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "m")), "3");
	n = json_object_get(v, "n");
	CU_ASSERT_EQUAL(json_array_size(n), 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(n, 2), "x")), "y");
	json_decref(v);
	/* JSON is YAML */
	v = parse("{\"a\": [1, 2, {\"b\": null}], \"c\": \"\\u00e9\"}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "c")), "\xc3\xa9");
	json_decref(v);
}

static void
test_alias_bomb(void)
{
	/* "billion laughs": nine levels of nine aliases */
	refused("a: &a [x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "2:8: aliases (*a)");
	refused("a: &a [x]\nb: *a\n", "aliases (*a) are not supported");
	/* merge keys are aliases too */
	refused("base: &b {x: 1}\nderived:\n  <<: *b\n", "aliases");
	/* an anchor alone is harmless */
	json_decref(parse("a: &a 1\n"));
	CU_ASSERT_STRING_EQUAL(err, "");
}

static void
test_depth_and_size(void)
{
	size_t n = SG_YAML_MAX_DEPTH + 10;
	char *deep = malloc(2 * n + 1), *many;
	json_t *v;

	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	refused(deep, "nested deeper than");
	/* at the limit it parses */
	deep[SG_YAML_MAX_DEPTH] = '\0';
	memset(deep + SG_YAML_MAX_DEPTH / 2, ']', SG_YAML_MAX_DEPTH / 2);
	v = parse(deep);
	CU_ASSERT_PTR_NOT_NULL(v);
	json_decref(v);
	free(deep);
	/* more nodes than allowed: "[0,0,0,...]" */
	n = SG_YAML_MAX_NODES + 1;
	many = malloc(2 * n + 2);
	many[0] = '[';
	for (size_t i = 0; i < n; i++) {
		many[1 + 2 * i] = '0';
		many[2 + 2 * i] = ',';
	}
	many[2 * n] = ']';
	many[2 * n + 1] = '\0';
	refused(many, "more than");
	free(many);
}

static void
test_keys(void)
{
	refused("a: 1\nb: 2\na: 3\n", "3:1: duplicate key \"a\"");
	/* "1" and 1 are the same JSON key */
	refused("1: x\n\"1\": y\n", "duplicate key \"1\"");
	refused("? [a, b]\n: 1\n", "mapping key is not a string");
	refused("? {a: 1}\n: 1\n", "mapping key is not a string");
	refused("? !!int 1\n: x\n", "unsupported tag");
	refused("\"a\\0b\": 1\n", "not a valid string");
}

static void
test_tags_and_others(void)
{
	refused("a: !!python/object:os.system x\n", "unsupported tag tag:yaml.org,2002:python/object:os.system");
	refused("a: !custom x\n", "unsupported tag !custom");
	refused("a: !!binary aGVsbG8=\n", "unsupported tag");
	refused("a: !!set {x: null}\n", "unsupported tag");
	refused("a: 1\n---\nb: 2\n", "more than one YAML document");
	refused("", "empty document");
	refused("a: .inf\n", "no JSON equivalent");
	refused("a: .nan\n", "no JSON equivalent");
	refused("a: 99999999999999999999\n", "out of range");
	refused("a: \"x\\0y\"\n", "NUL");
	refused("a: [1, 2\n", "1:");
	refused("a: \xff\xfe\n", ":");
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("yaml_json", NULL, NULL);
	CU_add_test(s, "core schema scalars", test_scalars);
	CU_add_test(s, "alias bomb refused", test_alias_bomb);
	CU_add_test(s, "depth and node limits", test_depth_and_size);
	CU_add_test(s, "keys", test_keys);
	CU_add_test(s, "tags, documents, non-JSON values", test_tags_and_others);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
