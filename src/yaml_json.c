/* yaml_json.c: YAML to JSON through libyaml's event parser.
 *
 * Aliases are refused rather than expanded: expanding them is how a few
 * hundred bytes become gigabytes ("billion laughs"), and OpenAPI has its
 * own $ref for sharing. Plain scalars are resolved by YAML 1.2's core
 * schema (null, booleans, integers, floats); quoted scalars and those
 * tagged !!str stay strings. Mapping keys must be scalars and are always
 * strings (OpenAPI's response codes are written as bare 200). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "defaults.h"
#include "yaml_json.h"

#define YAML_CORE "tag:yaml.org,2002:"

struct yj {
	yaml_parser_t parser;
	char *err;
	size_t errlen;
	size_t nodes;
	int failed;
};

static void
yj_fail(struct yj *y, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
yj_fail(struct yj *y, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (y->failed)
		return;
	y->failed = 1;
	n = snprintf(y->err, y->errlen, "%zu:%zu: ", m->line + 1, m->column + 1);
	if (n < 0 || (size_t)n >= y->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(y->err + n, y->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int
next_event(struct yj *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->parser, ev)) {
		yaml_mark_t m = y->parser.problem_mark;

		yj_fail(y, &m, "%s", y->parser.problem ? y->parser.problem :
		    "YAML syntax error");
		return -1;
	}
	return 0;
}

static int
all_digits(const char *s, const char *digits)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (strchr(digits, *s) == NULL)
			return 0;
	return 1;
}

/* YAML 1.2 core schema: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int
is_float(const char *s)
{
	const char *p = s;
	int mant = 0;

	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		mant = 1;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			mant = 1;
		}
	}
	if (!mant)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* A plain scalar resolved by the core schema; NULL (with the error set)
 * for what JSON cannot hold: infinities, NaN, integers beyond 64 bits. */
static json_t *
resolve_plain(struct yj *y, const yaml_event_t *ev, const char *s)
{
	const char *d = s;
	char *end;

	if (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0)
		return json_false();
	if (*d == '-' || *d == '+')
		d++;
	if (all_digits(d, "0123456789") ||
	    (strncmp(s, "0o", 2) == 0 && all_digits(s + 2, "01234567")) ||
	    (strncmp(s, "0x", 2) == 0 && all_digits(s + 2, "0123456789abcdefABCDEF"))) {
		long long v;

		errno = 0;
		if (strncmp(s, "0o", 2) == 0)
			v = strtoll(s + 2, &end, 8);
		else
			v = strtoll(s, &end, 0 == strncmp(s, "0x", 2) ? 16 : 10);
		if (errno != 0 || *end != '\0') {
			yj_fail(y, &ev->start_mark, "integer %s out of range", s);
			return NULL;
		}
		return json_integer(v);
	}
	if (is_float(s)) {
		double v;

		errno = 0;
		v = strtod(s, &end);
		if (errno != 0 || !isfinite(v)) {
			yj_fail(y, &ev->start_mark, "number %s out of range", s);
			return NULL;
		}
		return json_real(v);
	}
	if (strcasecmp(s, ".inf") == 0 || strcasecmp(s, "+.inf") == 0 ||
	    strcasecmp(s, "-.inf") == 0 || strcasecmp(s, ".nan") == 0) {
		yj_fail(y, &ev->start_mark, "%s has no JSON equivalent", s);
		return NULL;
	}
	return json_stringn(s, ev->data.scalar.length);
}

static json_t *
scalar(struct yj *y, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	json_t *v;

	if (strlen(s) != ev->data.scalar.length) {
		yj_fail(y, &ev->start_mark, "NUL character in a scalar");
		return NULL;
	}
	if (tag != NULL && strcmp(tag, "!") != 0 &&
	    strcmp(tag, YAML_CORE "str") != 0) {
		yj_fail(y, &ev->start_mark, "unsupported tag %s", tag);
		return NULL;
	}
	if (tag != NULL || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		v = json_stringn(s, ev->data.scalar.length);
	else
		v = resolve_plain(y, ev, s);
	if (v == NULL && !y->failed)
		yj_fail(y, &ev->start_mark, "scalar is not valid UTF-8");
	return v;
}

static json_t *parse_node(struct yj *, yaml_event_t *, int);

/* The collection opened by ev, its events consumed through its end. */
static json_t *
collection(struct yj *y, yaml_event_t *open, int depth)
{
	int map = open->type == YAML_MAPPING_START_EVENT;
	const char *tag = (const char *)(map ? open->data.mapping_start.tag :
	    open->data.sequence_start.tag);
	json_t *out = NULL, *c = map ? json_object() : json_array();
	yaml_event_t ev;

	if (c == NULL)
		goto out;
	if (tag != NULL && strcmp(tag, "!") != 0 &&
	    strcmp(tag, map ? YAML_CORE "map" : YAML_CORE "seq") != 0) {
		yj_fail(y, &open->start_mark, "unsupported tag %s", tag);
		goto out;
	}
	if (depth >= SG_YAML_MAX_DEPTH) {
		yj_fail(y, &open->start_mark, "nested deeper than %d levels",
		    SG_YAML_MAX_DEPTH);
		goto out;
	}
	for (;;) {
		json_t *k = NULL, *v;
		yaml_mark_t km;

		if (next_event(y, &ev) != 0)
			goto out;
		if (ev.type == YAML_MAPPING_END_EVENT ||
		    ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (map) {
			km = ev.start_mark;
			if (ev.type != YAML_SCALAR_EVENT) {
				yj_fail(y, &km, "mapping key is not a string");
				yaml_event_delete(&ev);
				goto out;
			}
			if (ev.data.scalar.tag != NULL &&
			    strcmp((const char *)ev.data.scalar.tag, "!") != 0 &&
			    strcmp((const char *)ev.data.scalar.tag, YAML_CORE "str") != 0) {
				yj_fail(y, &km, "unsupported tag %s on a key",
				    (const char *)ev.data.scalar.tag);
				yaml_event_delete(&ev);
				goto out;
			}
			/* YAML 1.1's merge key: parsers that implement it
			 * (PyYAML, js-yaml, SnakeYAML) read the mapping it
			 * names into this one, so an operation's security
			 * written as "<<: {security: ...}" is there to them;
			 * read as a literal key it would vanish and the
			 * operation turn public. Refused, as aliases are. */
			if (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			    ev.data.scalar.length == 2 &&
			    memcmp(ev.data.scalar.value, "<<", 2) == 0) {
				yj_fail(y, &km, "merge keys (<<) are not supported, nor aliases");
				yaml_event_delete(&ev);
				goto out;
			}
			k = json_stringn((const char *)ev.data.scalar.value,
			    ev.data.scalar.length);
			yaml_event_delete(&ev);
			if (k == NULL || strlen(json_string_value(k)) !=
			    json_string_length(k)) {
				yj_fail(y, &km, "mapping key is not a valid string");
				json_decref(k);
				goto out;
			}
			if (json_object_get(c, json_string_value(k)) != NULL) {
				yj_fail(y, &km, "duplicate key \"%s\"",
				    json_string_value(k));
				json_decref(k);
				goto out;
			}
			if (next_event(y, &ev) != 0) {
				json_decref(k);
				goto out;
			}
		}
		v = parse_node(y, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (v == NULL) {
			json_decref(k);
			goto out;
		}
		if (map) {
			json_object_set_new(c, json_string_value(k), v);
			json_decref(k);
		} else
			json_array_append_new(c, v);
	}
	out = c;
	c = NULL;
out:
	json_decref(c);
	return out;
}

/* The node starting with event ev (which the caller deletes). */
static json_t *
parse_node(struct yj *y, yaml_event_t *ev, int depth)
{
	if (++y->nodes > SG_YAML_MAX_NODES) {
		yj_fail(y, &ev->start_mark, "more than %d nodes", SG_YAML_MAX_NODES);
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return scalar(y, ev);
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		return collection(y, ev, depth);
	case YAML_ALIAS_EVENT:
		yj_fail(y, &ev->start_mark, "aliases (*%s) are not supported",
		    (const char *)ev->data.alias.anchor);
		return NULL;
	default:
		yj_fail(y, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
}

json_t *
yaml_json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	struct yj y;
	yaml_event_t ev;
	json_t *root = NULL, *out = NULL;
	int ndocs = 0;

	memset(&y, 0, sizeof(y));
	y.err = err;
	y.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if (!yaml_parser_initialize(&y.parser)) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)buf, len);
	for (;;) {
		if (next_event(&y, &ev) != 0)
			goto out;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT && ++ndocs > 1) {
			yj_fail(&y, &ev.start_mark, "more than one YAML document");
			yaml_event_delete(&ev);
			goto out;
		}
		if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT ||
		    ev.type == YAML_MAPPING_START_EVENT ||
		    ev.type == YAML_SEQUENCE_START_EVENT) {
			root = parse_node(&y, &ev, 0);
			yaml_event_delete(&ev);
			if (root == NULL)
				goto out;
			continue;
		}
		yaml_event_delete(&ev);
	}
	if (root == NULL) {
		yaml_mark_t m = { 0, 0, 0 };

		yj_fail(&y, &m, "empty document");
		goto out;
	}
	out = root;
	root = NULL;
out:
	json_decref(root);
	yaml_parser_delete(&y.parser);
	return out;
}
