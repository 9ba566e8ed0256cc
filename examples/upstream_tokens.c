/* upstream_tokens.c: the in-memory Losant Application API Token resource of
 * example-upstream, answering with the shapes of the Losant JSON Schemas
 * apiToken, apiTokens, apiTokenPost, apiTokenPatch, success and error:
 *
 *   GET    /applications/{applicationId}/tokens              -> 200 apiTokens
 *   POST   /applications/{applicationId}/tokens              -> 201 apiToken
 *   GET    /applications/{applicationId}/tokens/{apiTokenId} -> 200 apiToken
 *   PATCH  /applications/{applicationId}/tokens/{apiTokenId} -> 200 apiToken
 *   DELETE /applications/{applicationId}/tokens/{apiTokenId} -> 200 success
 *
 * Any 24-hex application id is accepted (its list starts empty); unknown
 * token ids are 404 NotFound, bad ids and bodies 400 Validation, other
 * methods 405 with Allow. Like Losant, the secret "token" string is only
 * returned by the POST that creates it. */
#include "config.h"

#include <sys/queue.h>

#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "upstream.h"

#define TOKENS_MAX 10000
#define TOKENS_PER_PAGE_DEFAULT 100
#define TOKENS_PER_PAGE_MAX 1000
#define TOKENS_BODY_MAX (1024 * 1024)

#define SEED_APPLICATION "5f0c0c0c0c0c0c0c0c0c0c0c"
#define SEED_CREATOR "5f0d0d0d0d0d0d0d0d0d0d0d"

struct token {
	char id[25];
	char app[25];
	char *name;
	char *description; /* NULL when absent */
	char *expiration;  /* NULL when absent */
	json_t *scope;     /* array of strings, owned */
	int active;
	char created[32];
	char updated[32];
};

struct upstream_tokens {
	struct token **v;
	size_t n;
	size_t cap;
	uint32_t counter;
	char process_hex[11];
};

struct list_sort {
	const char *field;
	int desc;
};

static void
rand_bytes(unsigned char *p, size_t n)
{
	size_t i;

	if (getrandom(p, n, 0) == (ssize_t)n)
		return;
	/* Ids only need to be unique within this process. */
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(rand() >> 7);
}

static void
hex_encode(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
is_hex24(const char *s, size_t n)
{
	size_t i;

	if (n != 24)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

/* Format the current UTC time as 2020-07-13T12:00:00.000Z into out. */
static void
now_iso(char out[32])
{
	struct timespec ts;
	struct tm tm;

	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000 % 1000));
}

static int
digits_at(const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Whether s is an RFC 3339 date-time (the JSON Schema "date-time"). */
static int
is_date_time(const char *s)
{
	if (strlen(s) < 20 || !digits_at(s, 4) || s[4] != '-' ||
	    !digits_at(s + 5, 2) || s[7] != '-' || !digits_at(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !digits_at(s + 11, 2) ||
	    s[13] != ':' || !digits_at(s + 14, 2) || s[16] != ':' ||
	    !digits_at(s + 17, 2))
		return 0;
	s += 19;
	if (*s == '.') {
		s++;
		if (!digits_at(s, 1))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z')
		return s[1] == '\0';
	if ((*s == '+' || *s == '-') && digits_at(s + 1, 2) && s[3] == ':' &&
	    digits_at(s + 4, 2))
		return s[6] == '\0';
	return 0;
}

/* Length of a UTF-8 string in code points, as JSON Schema counts it. */
static size_t
utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
token_free(struct token *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->description);
	free(t->expiration);
	json_decref(t->scope);
	free(t);
}

/* Make a new ObjectId-like id: 4 bytes of time, 5 per process, 3 counter. */
static void
tokens_new_id(struct upstream_tokens *ts, char out[25])
{
	uint32_t c = ts->counter++ & 0xffffff;

	snprintf(out, 25, "%08lx%s%06lx",
	    (unsigned long)((uint32_t)time(NULL)), ts->process_hex,
	    (unsigned long)c);
}

static struct token *
tokens_find(struct upstream_tokens *ts, const char *app, const char *id,
    size_t *idx)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		if (strcasecmp(ts->v[i]->id, id) == 0 &&
		    strcasecmp(ts->v[i]->app, app) == 0) {
			if (idx != NULL)
				*idx = i;
			return ts->v[i];
		}
	}
	return NULL;
}

static void
tokens_add(struct upstream_tokens *ts, struct token *t)
{
	struct token **nv;

	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 16;
		nv = realloc(ts->v, ts->cap * sizeof(*nv));
		if (nv == NULL)
			upstream_oom();
		ts->v = nv;
	}
	ts->v[ts->n++] = t;
}

/* The apiToken JSON of t (new reference); a non-NULL secret is added as
 * the "token" string. */
static json_t *
token_json(const struct token *t, const char *secret)
{
	json_t *o = upstream_jmust(json_object());

	upstream_jset(o, "id", json_string(t->id));
	upstream_jset(o, "apiTokenId", json_string(t->id));
	upstream_jset(o, "ownerId", json_string(t->app));
	upstream_jset(o, "ownerType", json_string("application"));
	upstream_jset(o, "creatorId", json_string(SEED_CREATOR));
	upstream_jset(o, "creatorType", json_string("user"));
	upstream_jset(o, "creatorName", json_string("demo@example.com"));
	upstream_jset(o, "name", json_string(t->name));
	if (t->description != NULL)
		upstream_jset(o, "description", json_string(t->description));
	upstream_jset(o, "creationDate", json_string(t->created));
	upstream_jset(o, "lastUpdated", json_string(t->updated));
	if (t->expiration != NULL)
		upstream_jset(o, "expirationDate", json_string(t->expiration));
	upstream_jset(o, "scope", json_deep_copy(t->scope));
	upstream_jset(o, "status", json_string(t->active ? "active" : "inactive"));
	if (secret != NULL)
		upstream_jset(o, "token", json_string(secret));
	return o;
}

static struct token *
token_seed(const char *id, const char *name, const char *desc,
    const char *scope, const char *expiration)
{
	struct token *t = upstream_xcalloc(1, sizeof(*t));

	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->app, sizeof(t->app), "%s", SEED_APPLICATION);
	t->name = upstream_xstrdup(name);
	t->description = desc ? upstream_xstrdup(desc) : NULL;
	t->expiration = expiration ? upstream_xstrdup(expiration) : NULL;
	t->scope = upstream_jmust(json_array());
	upstream_jappend(t->scope, json_string(scope));
	t->active = 1;
	snprintf(t->created, sizeof(t->created), "2020-07-13T12:00:00.000Z");
	snprintf(t->updated, sizeof(t->updated), "2020-07-13T12:00:00.000Z");
	return t;
}

struct upstream_tokens *
upstream_tokens_new(void)
{
	struct upstream_tokens *ts = upstream_xcalloc(1, sizeof(*ts));
	unsigned char r[8];

	rand_bytes(r, sizeof(r));
	hex_encode(ts->process_hex, r, 5);
	ts->counter = (uint32_t)r[5] << 16 | (uint32_t)r[6] << 8 | r[7];
	tokens_add(ts, token_seed("5f1111111111111111111111", "Demo Token One",
	    "Seeded token, read-only application scope", "all.Application.read",
	    NULL));
	tokens_add(ts, token_seed("5f2222222222222222222222", "Demo Token Two",
	    NULL, "all.Application", "2030-01-01T00:00:00.000Z"));
	return ts;
}

void
upstream_tokens_free(struct upstream_tokens *ts)
{
	size_t i;

	if (ts == NULL)
		return;
	for (i = 0; i < ts->n; i++)
		token_free(ts->v[i]);
	free(ts->v);
	free(ts);
}

/* Parse the request body as a JSON object; answer 400 and return NULL
 * when it is not one. The caller owns the result. */
static json_t *
body_object(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	json_t *v = NULL;
	const char *p;

	if (len > TOKENS_BODY_MAX) {
		upstream_reply_error(req, 413, "Validation", "body too large");
		return NULL;
	}
	p = len ? (const char *)evbuffer_pullup(in, -1) : "";
	v = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		upstream_reply_error(req, 400, "Validation",
		    "body is not valid JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		upstream_reply_error(req, 400, "Validation",
		    "body must be a JSON object");
		return NULL;
	}
	return v;
}

/* Check the keys of body shared by apiTokenPost and apiTokenPatch plus
 * those allowed only by POST; return an error message or NULL. */
static const char *
check_body(json_t *body, int post)
{
	const char *key;
	json_t *v, *item;
	size_t i, j;

	json_object_foreach(body, key, v) {
		if (strcmp(key, "name") == 0) {
			if (!json_is_string(v))
				return "/name must be a string";
			if (utf8_len(json_string_value(v)) < 1 ||
			    utf8_len(json_string_value(v)) > 255)
				return "/name must be 1 to 255 characters";
		} else if (strcmp(key, "description") == 0) {
			if (!json_is_string(v))
				return "/description must be a string";
			if (utf8_len(json_string_value(v)) > 32767)
				return "/description is too long";
		} else if (strcmp(key, "status") == 0) {
			if (!json_is_string(v) ||
			    (strcmp(json_string_value(v), "active") != 0 &&
			    strcmp(json_string_value(v), "inactive") != 0))
				return "/status must be \"active\" or \"inactive\"";
		} else if (post && strcmp(key, "expirationDate") == 0) {
			if (!json_is_string(v) || !is_date_time(json_string_value(v)))
				return "/expirationDate must be a date-time";
		} else if (post && strcmp(key, "scope") == 0) {
			if (!json_is_array(v))
				return "/scope must be an array";
			json_array_foreach(v, i, item) {
				if (!json_is_string(item) ||
				    utf8_len(json_string_value(item)) < 1 ||
				    utf8_len(json_string_value(item)) > 1024)
					return "/scope items must be non-empty strings";
				for (j = 0; j < i; j++)
					if (json_equal(item, json_array_get(v, j)))
						return "/scope items must be unique";
			}
		} else
			return "additional properties are not allowed";
	}
	if (post && json_object_get(body, "name") == NULL)
		return "/name is required";
	return NULL;
}

static const char *
token_field(const struct token *t, const char *field)
{
	if (strcmp(field, "status") == 0)
		return t->active ? "active" : "inactive";
	if (strcmp(field, "id") == 0)
		return t->id;
	if (strcmp(field, "creationDate") == 0)
		return t->created;
	if (strcmp(field, "lastUpdated") == 0)
		return t->updated;
	if (strcmp(field, "description") == 0)
		return t->description ? t->description : "";
	return t->name;
}

static int
token_cmp(const void *a, const void *b, void *arg)
{
	const struct token *ta = *(const struct token *const *)a;
	const struct token *tb = *(const struct token *const *)b;
	const struct list_sort *s = arg;
	int c;

	c = strcmp(token_field(ta, s->field), token_field(tb, s->field));
	if (c == 0)
		c = strcmp(ta->id, tb->id);
	return s->desc ? -c : c;
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
field_ok(const char *f)
{
	static const char *const fields[] = { "name", "status", "id",
		"creationDate", "lastUpdated", "description", NULL };
	int i;

	for (i = 0; fields[i] != NULL; i++)
		if (strcmp(f, fields[i]) == 0)
			return 1;
	return 0;
}

/* GET /applications/{app}/tokens with page, perPage, sortField,
 * sortDirection, filterField and filter (a glob, case-insensitive). */
static void
tokens_list(struct upstream_tokens *ts, struct evhttp_request *req,
    const char *app)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params;
	const char *v, *filter, *filter_field;
	struct list_sort sort = { "name", 0 };
	unsigned long page = 0, per_page = TOKENS_PER_PAGE_DEFAULT;
	struct token **sel = NULL;
	size_t i, n = 0, first;
	json_t *out, *items;

	TAILQ_INIT(&params);
	if (q != NULL && evhttp_parse_query_str(q, &params) != 0) {
		upstream_reply_error(req, 400, "Validation", "malformed query");
		goto out;
	}
	if ((v = evhttp_find_header(&params, "page")) != NULL &&
	    parse_uint(v, 1000000, &page) != 0) {
		upstream_reply_error(req, 400, "Validation", "bad page");
		goto out;
	}
	if ((v = evhttp_find_header(&params, "perPage")) != NULL &&
	    (parse_uint(v, TOKENS_PER_PAGE_MAX, &per_page) != 0 || per_page == 0)) {
		upstream_reply_error(req, 400, "Validation", "bad perPage");
		goto out;
	}
	if ((v = evhttp_find_header(&params, "sortField")) != NULL) {
		if (!field_ok(v)) {
			upstream_reply_error(req, 400, "Validation", "bad sortField");
			goto out;
		}
		sort.field = v;
	}
	if ((v = evhttp_find_header(&params, "sortDirection")) != NULL) {
		if (strcasecmp(v, "desc") == 0)
			sort.desc = 1;
		else if (strcasecmp(v, "asc") != 0 && *v != '\0') {
			upstream_reply_error(req, 400, "Validation",
			    "bad sortDirection");
			goto out;
		}
	}
	filter = evhttp_find_header(&params, "filter");
	filter_field = evhttp_find_header(&params, "filterField");
	if (filter_field == NULL)
		filter_field = "name";
	else if (!field_ok(filter_field)) {
		upstream_reply_error(req, 400, "Validation", "bad filterField");
		goto out;
	}

	sel = upstream_xcalloc(ts->n + 1, sizeof(*sel));
	for (i = 0; i < ts->n; i++) {
		if (strcasecmp(ts->v[i]->app, app) != 0)
			continue;
		if (filter != NULL && *filter != '\0' &&
		    fnmatch(filter, token_field(ts->v[i], filter_field),
		    FNM_CASEFOLD) != 0)
			continue;
		sel[n++] = ts->v[i];
	}
	qsort_r(sel, n, sizeof(*sel), token_cmp, &sort);

	items = upstream_jmust(json_array());
	first = page * per_page;
	for (i = first; i < n && i < first + per_page; i++)
		upstream_jappend(items, token_json(sel[i], NULL));
	out = upstream_jmust(json_object());
	upstream_jset(out, "items", items);
	upstream_jset(out, "count", json_integer((json_int_t)json_array_size(items)));
	upstream_jset(out, "totalCount", json_integer((json_int_t)n));
	upstream_jset(out, "perPage", json_integer((json_int_t)per_page));
	upstream_jset(out, "page", json_integer((json_int_t)page));
	upstream_jset(out, "sortField", json_string(sort.field));
	upstream_jset(out, "sortDirection", json_string(sort.desc ? "desc" : "asc"));
	if (filter != NULL) {
		upstream_jset(out, "filter", upstream_jbytes(filter,
		    strlen(filter), NULL));
		upstream_jset(out, "filterField", json_string(filter_field));
	}
	upstream_jset(out, "applicationId", json_string(app));
	upstream_jset(out, "ownerId", json_string(app));
	upstream_jset(out, "ownerType", json_string("application"));
	upstream_reply_json(req, 200, out);
out:
	free(sel);
	evhttp_clear_headers(&params);
}

/* POST /applications/{app}/tokens: validate per apiTokenPost, store, 201. */
static void
tokens_create(struct upstream_tokens *ts, struct evhttp_request *req,
    const char *app)
{
	json_t *body, *v;
	const char *err;
	struct token *t;
	unsigned char r[24];
	char secret[64];

	if ((body = body_object(req)) == NULL)
		return;
	if ((err = check_body(body, 1)) != NULL) {
		upstream_reply_error(req, 400, "Validation", "%s", err);
		goto out;
	}
	if (ts->n >= TOKENS_MAX) {
		upstream_reply_error(req, 400, "Validation",
		    "too many API tokens (limit %d)", TOKENS_MAX);
		goto out;
	}
	t = upstream_xcalloc(1, sizeof(*t));
	tokens_new_id(ts, t->id);
	snprintf(t->app, sizeof(t->app), "%s", app);
	t->name = upstream_xstrdup(json_string_value(json_object_get(body, "name")));
	if ((v = json_object_get(body, "description")) != NULL)
		t->description = upstream_xstrdup(json_string_value(v));
	if ((v = json_object_get(body, "expirationDate")) != NULL)
		t->expiration = upstream_xstrdup(json_string_value(v));
	if ((v = json_object_get(body, "scope")) != NULL)
		t->scope = upstream_jmust(json_deep_copy(v));
	else {
		t->scope = upstream_jmust(json_array());
		upstream_jappend(t->scope, json_string("all.Application"));
	}
	v = json_object_get(body, "status");
	t->active = v == NULL || strcmp(json_string_value(v), "active") == 0;
	now_iso(t->created);
	memcpy(t->updated, t->created, sizeof(t->updated));
	tokens_add(ts, t);

	/* An opaque secret: the demo never verifies upstream tokens. */
	rand_bytes(r, sizeof(r));
	memcpy(secret, "ut_", 3);
	hex_encode(secret + 3, r, sizeof(r));
	upstream_reply_json(req, 201, token_json(t, secret));
out:
	json_decref(body);
}

/* PATCH the name, description or status of t; answer the new apiToken. */
static void
token_patch(struct evhttp_request *req, struct token *t)
{
	json_t *body, *v;
	const char *err;

	if ((body = body_object(req)) == NULL)
		return;
	if ((err = check_body(body, 0)) != NULL) {
		upstream_reply_error(req, 400, "Validation", "%s", err);
		goto out;
	}
	if ((v = json_object_get(body, "name")) != NULL) {
		free(t->name);
		t->name = upstream_xstrdup(json_string_value(v));
	}
	if ((v = json_object_get(body, "description")) != NULL) {
		free(t->description);
		t->description = upstream_xstrdup(json_string_value(v));
	}
	if ((v = json_object_get(body, "status")) != NULL)
		t->active = strcmp(json_string_value(v), "active") == 0;
	now_iso(t->updated);
	upstream_reply_json(req, 200, token_json(t, NULL));
out:
	json_decref(body);
}

int
upstream_tokens_handle(struct upstream_tokens *ts, struct evhttp_request *req,
    const char *path)
{
	static const char prefix[] = "/applications/";
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *app_p, *rest, *tok_p = NULL;
	char app[25], tok[25];
	size_t app_len, tok_len = 0, idx;
	struct token *t;
	json_t *ok;

	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	app_p = path + sizeof(prefix) - 1;
	if ((rest = strchr(app_p, '/')) == NULL)
		return 0;
	app_len = (size_t)(rest - app_p);
	if (strncmp(rest, "/tokens", 7) != 0)
		return 0;
	rest += 7;
	if (*rest == '/') {
		tok_p = rest + 1;
		tok_len = strlen(tok_p);
		if (tok_len == 0 || strchr(tok_p, '/') != NULL)
			return 0;
	} else if (*rest != '\0')
		return 0;
	if (app_len == 0)
		return 0;

	if (!is_hex24(app_p, app_len)) {
		upstream_reply_error(req, 400, "Validation",
		    "applicationId must be 24 hexadecimal characters");
		return 1;
	}
	memcpy(app, app_p, 24);
	app[24] = '\0';

	/* HEAD is GET without the body (RFC 9110 9.3.2), which evhttp
	 * leaves out of a HEAD answer by itself. */
	if (cmd == EVHTTP_REQ_HEAD)
		cmd = EVHTTP_REQ_GET;
	if (tok_p == NULL) {
		if (cmd == EVHTTP_REQ_GET)
			tokens_list(ts, req, app);
		else if (cmd == EVHTTP_REQ_POST)
			tokens_create(ts, req, app);
		else {
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Allow", "GET, HEAD, POST");
			upstream_reply_error(req, 405, "MethodNotAllowed",
			    "%s is not allowed here", upstream_method_name(req));
		}
		return 1;
	}

	if (!is_hex24(tok_p, tok_len)) {
		upstream_reply_error(req, 400, "Validation",
		    "apiTokenId must be 24 hexadecimal characters");
		return 1;
	}
	memcpy(tok, tok_p, 24);
	tok[24] = '\0';
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_PATCH &&
	    cmd != EVHTTP_REQ_DELETE) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD, PATCH, DELETE");
		upstream_reply_error(req, 405, "MethodNotAllowed",
		    "%s is not allowed here", upstream_method_name(req));
		return 1;
	}
	if ((t = tokens_find(ts, app, tok, &idx)) == NULL) {
		upstream_reply_error(req, 404, "NotFound",
		    "API Token was not found");
		return 1;
	}
	if (cmd == EVHTTP_REQ_GET)
		upstream_reply_json(req, 200, token_json(t, NULL));
	else if (cmd == EVHTTP_REQ_PATCH)
		token_patch(req, t);
	else {
		token_free(t);
		memmove(&ts->v[idx], &ts->v[idx + 1],
		    (ts->n - idx - 1) * sizeof(ts->v[0]));
		ts->n--;
		ok = upstream_jmust(json_object());
		upstream_jset(ok, "success", json_true());
		upstream_reply_json(req, 200, ok);
	}
	return 1;
}
