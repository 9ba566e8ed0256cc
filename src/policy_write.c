/* policy_write.c: deterministic policy files from a list of actions.
 *
 * The text is jansson's one-space indented dump with ASCII escapes,
 * which is byte for byte what Python's json.dumps(indent=1,
 * ensure_ascii=True) made for the committed Losant policy. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_write.h"
#include "xmalloc.h"

/* The policy action keys, in the order they are written. */
static const char *const action_keys[] = {
	"action", "method", "path", "public", "scopes", "params", "body", "sse",
	"bind", "effects", "creates_token", "allow_query", "max_body_bytes",
	"comment", NULL
};

static const struct jsonconf_key top_keys[] = {
	{ "comment", JC_STRING, 0 },
	{ "schemas_dir", JC_STRING, 0 },
	{ "covers", JC_OBJECT, 0 },
	{ "actions", JC_ARRAY, 1 },
	{ "schemas", JC_OBJECT, 0 },
	{ NULL, 0, 0 }
};

static int
by_name(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;

	return strcmp(json_string_value(json_object_get(x, "action")),
	    json_string_value(json_object_get(y, "action")));
}

/* One action with its keys in order; NULL after reporting. */
static json_t *
ordered_action(const json_t *a, const char *ptr, struct jsonconf *jc)
{
	json_t *out = json_object(), *v;
	const char *k;
	int bad = 0;

	if (!json_is_object(a)) {
		jsonconf_error(jc, ptr, "must be an object");
		goto fail;
	}
	json_object_foreach((json_t *)a, k, v) {
		int known = 0;

		for (size_t i = 0; action_keys[i] != NULL; i++)
			known |= strcmp(action_keys[i], k) == 0;
		if (!known) {
			char *kp = jsonconf_ptr_key(ptr, k);

			jsonconf_error(jc, kp, "unknown action key");
			free(kp);
			bad = 1;
		}
	}
	for (size_t i = 0; i < 3; i++) {
		if (!json_is_string(json_object_get(a, action_keys[i]))) {
			jsonconf_error(jc, ptr, "\"%s\" must be a string", action_keys[i]);
			bad = 1;
		}
	}
	if (json_is_true(json_object_get(a, "public")) ==
	    (json_array_size(json_object_get(a, "scopes")) > 0)) {
		jsonconf_error(jc, ptr, "must be either public or list scopes");
		bad = 1;
	}
	if (bad)
		goto fail;
	for (size_t i = 0; action_keys[i] != NULL; i++)
		if ((v = json_object_get(a, action_keys[i])) != NULL)
			json_object_set(out, action_keys[i], v);
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* The policy itself, in writing order; NULL after reporting. */
static json_t *
ordered_policy(const json_t *doc, struct jsonconf *jc)
{
	const json_t *actions = json_object_get(doc, "actions"), *v;
	json_t *out = NULL, *list = NULL, *names = json_object();
	json_t **sorted = NULL;
	size_t i, n;
	int bad = 0;

	if (jsonconf_check_object(jc, doc, "", top_keys) != 0)
		goto out;
	if ((n = json_array_size(actions)) == 0) {
		jsonconf_error(jc, "/actions", "no actions");
		goto out;
	}
	sorted = xcalloc(n, sizeof(*sorted));
	json_array_foreach(actions, i, v) {
		char *ip = jsonconf_ptr_index("/actions", i);
		const json_t *prev;

		if ((sorted[i] = ordered_action(v, ip, jc)) == NULL) {
			bad = 1;
		} else if ((prev = json_object_get(names, json_string_value(
		    json_object_get(v, "action")))) != NULL) {
			jsonconf_error(jc, ip, "duplicate action \"%s\" (also %s)",
			    json_string_value(json_object_get(v, "action")),
			    json_string_value(prev));
			bad = 1;
		} else
			json_object_set_new(names, json_string_value(
			    json_object_get(v, "action")), json_string(ip));
		free(ip);
	}
	if (bad)
		goto out;
	qsort(sorted, n, sizeof(*sorted), by_name);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append(list, sorted[i]);
	out = json_object();
	if ((v = json_object_get(doc, "comment")) != NULL)
		json_object_set(out, "comment", (json_t *)v);
	if ((v = json_object_get(doc, "schemas_dir")) != NULL)
		json_object_set(out, "schemas_dir", (json_t *)v);
	if ((v = json_object_get(doc, "covers")) != NULL)
		json_object_set(out, "covers", (json_t *)v);
	json_object_set(out, "actions", list);
out:
	for (i = 0; sorted != NULL && i < n; i++)
		json_decref(sorted[i]);
	free(sorted);
	json_decref(list);
	json_decref(names);
	return out;
}

static char *
dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	char *out;

	if (s == NULL)
		return NULL;
	out = xmalloc(strlen(s) + 2);
	sprintf(out, "%s\n", s);
	free(s);
	return out;
}

char *
policy_write_text(const json_t *doc, struct jsonconf *jc)
{
	json_t *p = ordered_policy(doc, jc);
	char *text = NULL;

	if (p != NULL && (text = dump(p)) == NULL)
		jsonconf_error(jc, "", "cannot serialise the policy");
	json_decref(p);
	return text;
}

/* Write text to path through path.tmp and rename(2). */
static int
write_file(const char *path, const char *text, struct jsonconf *jc)
{
	size_t n = strlen(path) + 5;
	char *tmp = xmalloc(n);
	FILE *fp;
	int rc = -1;

	snprintf(tmp, n, "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL) {
		errlist_add(jc->errs, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fputs(text, fp) == EOF || fclose(fp) != 0) {
		errlist_add(jc->errs, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		errlist_add(jc->errs, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

int
policy_write(const json_t *doc, const char *out, struct jsonconf *jc)
{
	const json_t *schemas = json_object_get(doc, "schemas"), *v;
	const char *sdir = json_string_value(json_object_get(doc, "schemas_dir"));
	char *text = policy_write_text(doc, jc), *dir = NULL;
	const char *name;
	int rc = -1;

	if (text == NULL)
		goto out;
	if (json_object_size(schemas) > 0) {
		const char *slash = strrchr(out, '/');
		size_t n;

		if (sdir == NULL || sdir[0] == '\0' || sdir[0] == '/') {
			jsonconf_error(jc, "/schemas_dir", "a relative directory is "
			    "needed for the body schemas");
			goto out;
		}
		n = (slash ? (size_t)(slash - out) + 1 : 0) + strlen(sdir) + 1;
		dir = xmalloc(n);
		snprintf(dir, n, "%.*s%s", slash ? (int)(slash - out) + 1 : 0, out, sdir);
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			errlist_add(jc->errs, "%s: %s", dir, strerror(errno));
			goto out;
		}
		json_object_foreach((json_t *)schemas, name, v) {
			size_t pn = strlen(dir) + strlen(name) + 7;
			char *path = xmalloc(pn), *st = dump(v);

			snprintf(path, pn, "%s/%s.json", dir, name);
			if (strchr(name, '/') != NULL || name[0] == '.' || st == NULL ||
			    write_file(path, st, jc) != 0) {
				if (st == NULL || strchr(name, '/') != NULL || name[0] == '.')
					jsonconf_error(jc, "/schemas", "bad schema \"%s\"", name);
				free(st);
				free(path);
				goto out;
			}
			free(st);
			free(path);
		}
	}
	if (write_file(out, text, jc) != 0)
		goto out;
	rc = 0;
out:
	free(dir);
	free(text);
	return rc;
}
