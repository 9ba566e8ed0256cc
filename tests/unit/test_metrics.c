/* test_metrics.c: the /metrics text after known observations, line by
 * line, and checked by a strict parser of the Prometheus text exposition
 * format 0.0.4 (HELP/TYPE before samples, families contiguous, label
 * syntax and escapes, no duplicate series, cumulative histogram buckets
 * ending in +Inf equal to _count). The parser is itself tested on broken
 * texts so that its verdicts can fail. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "metrics.h"

/* ---- A strict exposition-format parser ---- */

#define P_MAX_FAMILIES	64
#define P_MAX_SERIES	32768
#define P_MAX_HIST	2048

struct p_family {
	char name[128];
	char type[16];
	int help, typed, sampled, closed;
};

struct p_hist {
	char family[128];
	char labels[256];	/* label set without le */
	double last_le;
	double last_value;
	int nbuckets;
	int inf_seen;
	double inf_value;
	int sum_seen, count_seen;
	double count;
};

struct p_state {
	struct p_family fam[P_MAX_FAMILIES];
	int nfam;
	char *series[P_MAX_SERIES];
	int nseries;
	struct p_hist hist[P_MAX_HIST];
	int nhist;
	int cur;		/* family of the previous sample, -1 */
	char err[256];
	int line;
};

static int
p_fail(struct p_state *st, const char *msg, const char *at)
{
	snprintf(st->err, sizeof(st->err), "line %d: %s near \"%.30s\"", st->line, msg, at);
	return -1;
}

static int
is_name_start(char c, int colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int
is_name_char(char c, int colon)
{
	return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

/* Read a metric (colon = 1) or label name into out; returns its length. */
static size_t
p_name(const char *s, int colon, char *out, size_t outsz)
{
	size_t n = 0;

	if (!is_name_start(s[0], colon))
		return 0;
	while (is_name_char(s[n], colon))
		n++;
	if (n >= outsz)
		return 0;
	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

static struct p_family *
p_family_get(struct p_state *st, const char *name, int create)
{
	for (int i = 0; i < st->nfam; i++)
		if (strcmp(st->fam[i].name, name) == 0)
			return &st->fam[i];
	if (!create || st->nfam == P_MAX_FAMILIES)
		return NULL;
	snprintf(st->fam[st->nfam].name, sizeof(st->fam[0].name), "%s", name);
	return &st->fam[st->nfam++];
}

static int
p_value(const char *s, double *v, const char **end)
{
	char *e;

	if (strncmp(s, "+Inf", 4) == 0) {
		*v = INFINITY;
		*end = s + 4;
		return 0;
	}
	if (strncmp(s, "-Inf", 4) == 0) {
		*v = -INFINITY;
		*end = s + 4;
		return 0;
	}
	if (strncmp(s, "NaN", 3) == 0) {
		*v = NAN;
		*end = s + 3;
		return 0;
	}
	if (!(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9') || *s == '.'))
		return -1;
	*v = strtod(s, &e);
	if (e == s)
		return -1;
	*end = e;
	return 0;
}

/* "# HELP name text" or "# TYPE name type". */
static int
p_meta(struct p_state *st, const char *l)
{
	char name[128];
	struct p_family *f;
	size_t n;
	int help = strncmp(l, "# HELP ", 7) == 0;

	if (!help && strncmp(l, "# TYPE ", 7) != 0)
		return p_fail(st, "comment lines other than HELP/TYPE are not expected", l);
	if ((n = p_name(l + 7, 1, name, sizeof(name))) == 0 || l[7 + n] != ' ')
		return p_fail(st, "bad metric name", l + 7);
	f = p_family_get(st, name, 1);
	if (f == NULL)
		return p_fail(st, "too many families", l);
	if (f->sampled)
		return p_fail(st, "HELP/TYPE after the family's samples", l);
	if (help) {
		if (f->help++)
			return p_fail(st, "second HELP", l);
		for (const char *p = l + 8 + n; *p; p++)
			if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
				return p_fail(st, "bad escape in HELP", p);
			else if (*p == '\\')
				p++;
		return 0;
	}
	if (f->typed++)
		return p_fail(st, "second TYPE", l);
	const char *t = l + 8 + n;
	if (strcmp(t, "counter") != 0 && strcmp(t, "gauge") != 0 &&
	    strcmp(t, "histogram") != 0 && strcmp(t, "summary") != 0 &&
	    strcmp(t, "untyped") != 0)
		return p_fail(st, "unknown TYPE", t);
	snprintf(f->type, sizeof(f->type), "%s", t);
	return 0;
}

/* The family a sample name belongs to: histogram suffixes folded. */
static struct p_family *
p_sample_family(struct p_state *st, const char *name, const char **suffix)
{
	static const char *const sfx[] = {"_bucket", "_sum", "_count"};
	struct p_family *f;
	char base[128];

	*suffix = "";
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(name), k = strlen(sfx[i]);
		if (n > k && strcmp(name + n - k, sfx[i]) == 0) {
			snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
			f = p_family_get(st, base, 0);
			if (f != NULL && strcmp(f->type, "histogram") == 0) {
				*suffix = sfx[i];
				return f;
			}
		}
	}
	f = p_family_get(st, name, 0);
	if (f != NULL && strcmp(f->type, "histogram") == 0)
		return NULL;	/* a histogram has no bare samples */
	return f;
}

static struct p_hist *
p_hist_get(struct p_state *st, const char *family, const char *labels)
{
	for (int i = 0; i < st->nhist; i++)
		if (strcmp(st->hist[i].family, family) == 0 &&
		    strcmp(st->hist[i].labels, labels) == 0)
			return &st->hist[i];
	if (st->nhist == P_MAX_HIST)
		return NULL;
	struct p_hist *h = &st->hist[st->nhist++];
	memset(h, 0, sizeof(*h));
	snprintf(h->family, sizeof(h->family), "%s", family);
	snprintf(h->labels, sizeof(h->labels), "%s", labels);
	h->last_le = -INFINITY;
	return h;
}

static int
p_sample(struct p_state *st, const char *l)
{
	char name[128], lname[128], key[1024], nole[256], le[256] = "";
	const char *p = l, *suffix, *end;
	struct p_family *f;
	size_t n, klen;
	double v;
	int fi;

	if ((n = p_name(p, 1, name, sizeof(name))) == 0)
		return p_fail(st, "bad metric name", p);
	p += n;
	klen = (size_t)snprintf(key, sizeof(key), "%s", name);
	nole[0] = '\0';
	if (*p == '{') {
		p++;
		while (*p != '}') {
			char val[256];
			size_t vn = 0;
			if ((n = p_name(p, 0, lname, sizeof(lname))) == 0)
				return p_fail(st, "bad label name", p);
			if (strncmp(lname, "__", 2) == 0)
				return p_fail(st, "reserved label name", p);
			p += n;
			if (p[0] != '=' || p[1] != '"')
				return p_fail(st, "want =\"", p);
			p += 2;
			for (; *p != '"'; p++) {
				if (*p == '\0' || *p == '\n')
					return p_fail(st, "unterminated label value", p);
				if (*p == '\\') {
					if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
						return p_fail(st, "bad escape in label value", p);
					p++;
				}
				if (vn + 2 >= sizeof(val))
					return p_fail(st, "label value too long", p);
				val[vn++] = *p;
			}
			val[vn] = '\0';
			p++;
			if (strcmp(lname, "le") == 0)
				memcpy(le, val, vn + 1);
			else {
				size_t used = strlen(nole);
				int w = snprintf(nole + used, sizeof(nole) - used, "%s=%s,", lname, val);
				if (w < 0 || (size_t)w >= sizeof(nole) - used)
					return p_fail(st, "labels too long", p);
			}
			klen += (size_t)snprintf(key + klen, sizeof(key) - klen, "|%s=%s", lname, val);
			if (klen >= sizeof(key))
				return p_fail(st, "labels too long", p);
			if (*p == ',')
				p++;
			else if (*p != '}')
				return p_fail(st, "want , or }", p);
		}
		p++;
	}
	if (*p != ' ')
		return p_fail(st, "want one space before the value", p);
	if (p_value(p + 1, &v, &end) != 0)
		return p_fail(st, "bad value", p + 1);
	if (*end == ' ') {	/* optional timestamp */
		char *e;
		strtoll(end + 1, &e, 10);
		if (e == end + 1)
			return p_fail(st, "bad timestamp", end + 1);
		end = e;
	}
	if (*end != '\0')
		return p_fail(st, "trailing characters", end);

	if ((f = p_sample_family(st, name, &suffix)) == NULL || !f->typed)
		return p_fail(st, "sample without a TYPE line", l);
	fi = (int)(f - st->fam);
	if (fi != st->cur) {
		if (f->closed || f->sampled)
			return p_fail(st, "family samples are not contiguous", l);
		if (st->cur >= 0)
			st->fam[st->cur].closed = 1;
		st->cur = fi;
	}
	f->sampled = 1;
	for (int i = 0; i < st->nseries; i++)
		if (strcmp(st->series[i], key) == 0)
			return p_fail(st, "duplicate series", l);
	if (st->nseries == P_MAX_SERIES)
		return p_fail(st, "too many series", l);
	st->series[st->nseries++] = strdup(key);

	if (strcmp(f->type, "counter") == 0) {
		if (!(v >= 0))
			return p_fail(st, "negative counter", l);
		if (le[0] != '\0')
			return p_fail(st, "le label on a counter", l);
	} else if (strcmp(f->type, "histogram") == 0) {
		struct p_hist *h = p_hist_get(st, f->name, nole);
		if (h == NULL)
			return p_fail(st, "too many histograms", l);
		if (strcmp(suffix, "_bucket") == 0) {
			double bound;
			const char *e2;
			if (le[0] == '\0' || p_value(le, &bound, &e2) != 0 || *e2 != '\0')
				return p_fail(st, "bucket without a valid le", l);
			if (h->inf_seen || h->sum_seen || h->count_seen)
				return p_fail(st, "bucket after +Inf/_sum/_count", l);
			if (!(bound > h->last_le))
				return p_fail(st, "le not increasing", l);
			if (v < h->last_value)
				return p_fail(st, "buckets not cumulative", l);
			h->last_le = bound;
			h->last_value = v;
			h->nbuckets++;
			if (isinf(bound)) {
				h->inf_seen = 1;
				h->inf_value = v;
			}
		} else if (le[0] != '\0')
			return p_fail(st, "le label on _sum/_count", l);
		else if (strcmp(suffix, "_sum") == 0)
			h->sum_seen = 1;
		else {
			h->count_seen = 1;
			h->count = v;
		}
	}
	return 0;
}

/* Parse text; 0 when valid, -1 with st->err set. */
static int
p_parse(struct p_state *st, const char *text)
{
	const char *l = text;
	char line[2048];
	int rc = 0;

	memset(st, 0, sizeof(*st));
	st->cur = -1;
	if (text[0] == '\0' || text[strlen(text) - 1] != '\n')
		return p_fail(st, "text must end with a line feed", text);
	while (*l != '\0' && rc == 0) {
		const char *nl = strchr(l, '\n');
		size_t n = (size_t)(nl - l);
		st->line++;
		if (n == 0 || n >= sizeof(line))
			return p_fail(st, "empty or overlong line", l);
		memcpy(line, l, n);
		line[n] = '\0';
		rc = line[0] == '#' ? p_meta(st, line) : p_sample(st, line);
		l = nl + 1;
	}
	for (int i = 0; rc == 0 && i < st->nhist; i++) {
		struct p_hist *h = &st->hist[i];
		if (!h->inf_seen || !h->sum_seen || !h->count_seen)
			rc = p_fail(st, "histogram without +Inf, _sum or _count", h->family);
		else if (h->inf_value != h->count)
			rc = p_fail(st, "+Inf bucket differs from _count", h->family);
	}
	for (int i = 0; rc == 0 && i < st->nfam; i++)
		if (!st->fam[i].help || !st->fam[i].typed)
			rc = p_fail(st, "family without HELP and TYPE", st->fam[i].name);
	return rc;
}

static void
p_free(struct p_state *st)
{
	for (int i = 0; i < st->nseries; i++)
		free(st->series[i]);
}

/* Parse and report; returns the number of series, -1 when invalid. */
static int
check_valid(const char *text)
{
	struct p_state *st = calloc(1, sizeof(*st));
	int rc;

	if (st == NULL)
		return -1;
	rc = p_parse(st, text);
	if (rc != 0)
		fprintf(stderr, "\ninvalid exposition text: %s\n", st->err);
	else
		rc = st->nseries;
	p_free(st);
	free(st);
	return rc;
}

/* Whether text holds exactly this line. */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	fprintf(stderr, "\nmissing line: %s\n", line);
	return 0;
}

static int
count_prefix(const char *text, const char *prefix)
{
	int n = 0;
	size_t k = strlen(prefix);

	for (const char *p = text; *p; p = strchr(p, '\n') + 1)
		if (strncmp(p, prefix, k) == 0)
			n++;
	return n;
}

/* ---- Tests ---- */

static void
test_parser_rejects(void)
{
	static const char *const bad[] = {
		"a_total 1\n",					/* no TYPE */
		"# TYPE a counter\n# HELP a x\na 1",		/* no final LF */
		"# HELP a x\n# TYPE a counter\na{l=\"x\\q\"} 1\n",	/* bad escape */
		"# HELP a x\n# TYPE a counter\na{l=\"x\"} 1\na{l=\"x\"} 2\n",	/* duplicate */
		"# HELP a x\n# TYPE a counter\na -1\n",		/* negative counter */
		"# HELP a x\n# TYPE a counter\n# HELP b y\n# TYPE b gauge\na{x=\"1\"} 1\nb 1\na{x=\"2\"} 1\n",
		("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
		    "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n"),	/* not cumulative */
		"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
		"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 2\n",
		"# HELP a x\n# TYPE a counter\na{1l=\"x\"} 1\n",	/* bad label name */
		"# HELP a x\n# TYPE a counter\na  1\n",		/* two spaces */
		"# HELP a x\n# TYPE a counter\na 1\n# HELP a y\n",	/* HELP after samples */
		"# TYPE a counter\na 1\n",			/* no HELP */
		"# HELP a x\n# TYPE a counter\na 1x\n",		/* bad value */
		"# HELP a x\n# TYPE a counter\na{l=\"x} 1\n",	/* unterminated */
	};
	const char *good = "# HELP a x \\\\ y\n# TYPE a counter\na{l=\"q\\\"\\n\\\\\",m=\"\"} 1\n"
	    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
	    "h_sum 1.5\nh_count 2\n";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct p_state *st = calloc(1, sizeof(*st));
		CU_ASSERT_FATAL(st != NULL);
		if (p_parse(st, bad[i]) == 0) {
			fprintf(stderr, "\nparser accepted bad text #%zu\n", i);
			CU_FAIL("parser accepted bad text");
		}
		p_free(st);
		free(st);
	}
	CU_ASSERT_EQUAL(check_valid(good), 5);
}

static void
test_empty(void)
{
	struct metrics_globals g = {.version = "0.1.0", .revocations = -1, .redis_link = -1,
	    .token_keys = -1};
	size_t len = 0;
	char *t = metrics_render(NULL, 0, &g, &len);

	CU_ASSERT_EQUAL(len, strlen(t));
	/* upstream latency: 15 buckets + sum + count, 4 upstream kinds + retries, 18
	 * token results, 2 cache, 3 reloads, 2 last reload, generation, rate-limit
	 * keys, connections, client bytes read, body bytes held, build_info, 2
	 * revocations from Redis, connections refused per client and timed out,
	 * 5 of the shared rate limits; no request histogram without requests. */
	CU_ASSERT_EQUAL(check_valid(t), 17 + 4 + 1 + JWT_STATUS_COUNT + 1 + 2 + 3 + 2 + 6 + 2 + 2 + 5);
	CU_ASSERT(has_line(t, "scopegate_ratelimit_fallback_total 0"));
	CU_ASSERT(has_line(t, "scopegate_ratelimit_redis_links_up 0"));
	CU_ASSERT(has_line(t, "scopegate_connections_refused_total{reason=\"per_client\"} 0"));
	CU_ASSERT(has_line(t, "scopegate_connections_timed_out_total 0"));
	CU_ASSERT(has_line(t, "# HELP scopegate_requests_total Requests completed, by policy action, decision and HTTP status."));
	CU_ASSERT(has_line(t, "# TYPE scopegate_requests_total counter"));
	CU_ASSERT_EQUAL(count_prefix(t, "scopegate_requests_total{"), 0);
	CU_ASSERT(has_line(t, "# TYPE scopegate_request_duration_seconds histogram"));
	CU_ASSERT_EQUAL(count_prefix(t, "scopegate_request_duration_seconds_bucket{"), 0);
	CU_ASSERT(has_line(t, "scopegate_upstream_duration_seconds_bucket{le=\"+Inf\"} 0"));
	CU_ASSERT(has_line(t, "scopegate_upstream_duration_seconds_sum 0.000000"));
	CU_ASSERT(has_line(t, "scopegate_upstream_duration_seconds_count 0"));
	CU_ASSERT_EQUAL(count_prefix(t, "process_"), 0);
	CU_ASSERT_EQUAL(count_prefix(t, "scopegate_revocations "), 0);
	CU_ASSERT(has_line(t, "# TYPE scopegate_config_generation gauge"));
	CU_ASSERT(has_line(t, "# TYPE scopegate_connections gauge"));
	CU_ASSERT(has_line(t, "scopegate_connections 0"));
	CU_ASSERT(has_line(t, "scopegate_build_info{version=\"0.1.0\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_reloads_total{result=\"ok\"} 0"));
	free(t);

	t = metrics_render(NULL, 0, NULL, NULL);
	CU_ASSERT(check_valid(t) > 0);
	CU_ASSERT(has_line(t, "scopegate_build_info{version=\"unknown\"} 1"));
	free(t);
}

static void
test_requests_and_histogram(void)
{
	struct metrics_shard *a = metrics_shard_new(), *b = metrics_shard_new();
	const struct metrics_shard *shards[] = {a, NULL, b};
	struct metrics_globals g = {.version = "1.2.3"};
	const char *act = "applicationApiToken.delete";
	char *t;

	metrics_observe_request(a, 3, act, METRICS_ALLOW, 200, 400);
	metrics_observe_request(a, 3, act, METRICS_ALLOW, 200, 400);
	metrics_observe_request(a, 3, act, METRICS_DENY, 403, 1000);	/* on a bound */
	metrics_observe_request(b, 3, act, METRICS_ALLOW, 200, 2000000);
	metrics_observe_request(b, METRICS_ACTION_NONE, NULL, METRICS_DENY, 404, 20000000);
	metrics_observe_request(b, 7, "devices.get", METRICS_ERROR, 502, 10000000);
	t = metrics_render(shards, 3, &g, NULL);

	CU_ASSERT(check_valid(t) > 0);
	CU_ASSERT_EQUAL(count_prefix(t, "scopegate_requests_total{"), 4);
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"applicationApiToken.delete\",decision=\"allow\",status=\"200\"} 3"));
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"applicationApiToken.delete\",decision=\"deny\",status=\"403\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"devices.get\",decision=\"error\",status=\"502\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"none\",decision=\"deny\",status=\"404\"} 1"));
	/* Sorted by action, decision, status. */
	CU_ASSERT(strstr(t, "decision=\"allow\",status=\"200\"} 3") <
	    strstr(t, "decision=\"deny\",status=\"403\"} 1"));
	CU_ASSERT(strstr(t, "action=\"devices.get\"") < strstr(t, "action=\"none\""));

	/* One histogram per action, its decisions and statuses together. */
#define H "scopegate_request_duration_seconds"
#define A "action=\"applicationApiToken.delete\""
	CU_ASSERT(has_line(t, H "_bucket{" A ",le=\"0.0005\"} 2"));
	CU_ASSERT(has_line(t, H "_bucket{" A ",le=\"0.001\"} 3"));
	CU_ASSERT(has_line(t, H "_bucket{" A ",le=\"0.0025\"} 3"));
	CU_ASSERT(has_line(t, H "_bucket{" A ",le=\"1\"} 3"));
	CU_ASSERT(has_line(t, H "_bucket{" A ",le=\"2.5\"} 4"));
	CU_ASSERT(has_line(t, H "_bucket{" A ",le=\"+Inf\"} 4"));
	CU_ASSERT(has_line(t, H "_sum{" A "} 2.001800"));
	CU_ASSERT(has_line(t, H "_count{" A "} 4"));
	CU_ASSERT(has_line(t, H "_bucket{action=\"none\",le=\"10\"} 0"));
	CU_ASSERT(has_line(t, H "_bucket{action=\"none\",le=\"+Inf\"} 1"));
	CU_ASSERT(has_line(t, H "_bucket{action=\"devices.get\",le=\"10\"} 1"));
	CU_ASSERT(has_line(t, H "_sum{action=\"devices.get\"} 10.000000"));
	CU_ASSERT_EQUAL(count_prefix(t, H "_bucket{"), 3 * (METRICS_LATENCY_BUCKETS + 1));
#undef A
#undef H
	/* The upstream's own histogram. */
	metrics_observe_upstream(a, 300);
	metrics_observe_upstream(b, 3000000);
	free(t);
	t = metrics_render(shards, 3, &g, NULL);
	CU_ASSERT(check_valid(t) > 0);
	CU_ASSERT(has_line(t, "scopegate_upstream_duration_seconds_bucket{le=\"0.0005\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_upstream_duration_seconds_bucket{le=\"2.5\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_upstream_duration_seconds_bucket{le=\"5\"} 2"));
	CU_ASSERT(has_line(t, "scopegate_upstream_duration_seconds_sum 3.000300"));
	CU_ASSERT(has_line(t, "scopegate_upstream_duration_seconds_count 2"));
	free(t);
	metrics_shard_free(a);
	metrics_shard_free(b);
}

static void
test_escaping_and_clamping(void)
{
	struct metrics_shard *s = metrics_shard_new();
	const struct metrics_shard *shards[] = {s};
	struct metrics_globals g = {.version = "1.0 \"beta\"\\x\ny"};
	char *t;

	metrics_observe_request(s, 0, "a\"b\\c\nd", METRICS_ALLOW, 200, 1);
	metrics_observe_request(s, 1, "x", METRICS_ALLOW, 1234, 1);
	metrics_observe_request(s, 1, "x", METRICS_ALLOW, -5, 1);
	metrics_observe_request(s, 1, "x", (enum metrics_decision)42, 200, 1);
	t = metrics_render(shards, 1, &g, NULL);
	CU_ASSERT(check_valid(t) > 0);
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"a\\\"b\\\\c\\nd\",decision=\"allow\",status=\"200\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"x\",decision=\"allow\",status=\"999\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"x\",decision=\"allow\",status=\"0\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"x\",decision=\"error\",status=\"200\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_build_info{version=\"1.0 \\\"beta\\\"\\\\x\\ny\"} 1"));
	free(t);
	metrics_shard_free(s);

	CU_ASSERT_EQUAL(metrics_decision_from_str("allow"), METRICS_ALLOW);
	CU_ASSERT_EQUAL(metrics_decision_from_str("deny"), METRICS_DENY);
	CU_ASSERT_EQUAL(metrics_decision_from_str("error"), METRICS_ERROR);
	CU_ASSERT_EQUAL(metrics_decision_from_str(NULL), METRICS_ERROR);
	CU_ASSERT_EQUAL(metrics_decision_from_str("Allow"), METRICS_ERROR);
}

static void
test_other_families(void)
{
	struct metrics_shard *a = metrics_shard_new(), *b = metrics_shard_new();
	const struct metrics_shard *shards[] = {a, b};
	struct metrics_globals g = {.version = "v"};
	char *t;

	metrics_upstream_error(a, METRICS_UPSTREAM_CONNECT);
	metrics_upstream_error(b, METRICS_UPSTREAM_CONNECT);
	metrics_upstream_error(a, METRICS_UPSTREAM_TIMEOUT);
	metrics_upstream_error(b, METRICS_UPSTREAM_ABORTED);
	metrics_upstream_error(b, (enum metrics_upstream_error)99);	/* ignored */
	for (int i = 0; i < 5; i++)
		metrics_token_verified(a, JWT_OK);
	metrics_token_verified(b, JWT_OK);
	metrics_token_verified(b, JWT_EXPIRED);
	metrics_token_verified(b, JWT_BAD_SIGNATURE);
	metrics_token_verified(b, (enum jwt_status)500);	/* counted as internal */
	metrics_token_revoked(a);
	metrics_token_revoked(b);
	metrics_token_cache(a, 1);
	metrics_token_cache(a, 1);
	metrics_token_cache(b, 1);
	metrics_token_cache(b, 0);
	metrics_connection_opened(a);
	metrics_connection_opened(a);
	metrics_connection_opened(b);
	metrics_connection_opened(b);
	metrics_connection_closed(b);
	metrics_connection_closed(b);
	metrics_connection_closed(b);	/* b is -1 alone; the sum is what counts */
	metrics_client_bytes_read(a, 100);
	metrics_client_bytes_read(b, 23);
	metrics_body_bytes_held(a, 50);
	metrics_body_bytes_held(b, 70);
	metrics_body_bytes_held(a, -30);	/* released by the shard that holds */
	metrics_reload_done(&g, METRICS_RELOAD_OK, 100);
	metrics_reload_done(&g, METRICS_RELOAD_OK, 200);
	metrics_reload_done(&g, METRICS_RELOAD_RESTART_NEEDED, 250);
	metrics_reload_done(&g, METRICS_RELOAD_FAILED, 300);
	{
		static const char *const pending[] = {"listeners", "we\"ird"};
		g.restart_needed = pending;
		g.nrestart_needed = 2;
	}
	metrics_set_generation(&g, 3);
	g.rate_limit_keys = 7;
	g.revocations = 11;
	g.revocations_remote = 5;
	g.revocations_refused = 2;
	metrics_upstream_retried(a);
	metrics_upstream_retried(b);
	metrics_upstream_retried(b);

	t = metrics_render(shards, 2, &g, NULL);
	CU_ASSERT(check_valid(t) > 0);
	CU_ASSERT(has_line(t, "# TYPE scopegate_upstream_errors_total counter"));
	CU_ASSERT(has_line(t, "scopegate_upstream_errors_total{kind=\"connect\"} 2"));
	CU_ASSERT(has_line(t, "scopegate_upstream_errors_total{kind=\"timeout\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_upstream_errors_total{kind=\"reset\"} 0"));
	CU_ASSERT(has_line(t, "scopegate_upstream_errors_total{kind=\"aborted\"} 1"));
	CU_ASSERT(has_line(t, "# TYPE scopegate_upstream_retries_total counter"));
	CU_ASSERT(has_line(t, "scopegate_upstream_retries_total 3"));
	CU_ASSERT(has_line(t, "# TYPE scopegate_rate_limit_keys gauge"));
	CU_ASSERT(has_line(t, "scopegate_rate_limit_keys 7"));
	CU_ASSERT(has_line(t, "scopegate_revocations 11"));
	CU_ASSERT(has_line(t, "scopegate_revocations_from_redis 5"));
	CU_ASSERT(has_line(t, "# TYPE scopegate_revocations_refused_total counter"));
	CU_ASSERT(has_line(t, "scopegate_revocations_refused_total 2"));
	CU_ASSERT(has_line(t, "scopegate_token_verifications_total{result=\"ok\"} 6"));
	CU_ASSERT(has_line(t, "scopegate_token_verifications_total{result=\"expired\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_token_verifications_total{result=\"bad_signature\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_token_verifications_total{result=\"internal_error\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_token_verifications_total{result=\"malformed\"} 0"));
	CU_ASSERT(has_line(t, "scopegate_token_verifications_total{result=\"revoked\"} 2"));
	CU_ASSERT_EQUAL(count_prefix(t, "scopegate_token_verifications_total{"), JWT_STATUS_COUNT + 1);
	for (int st = 0; st < JWT_STATUS_COUNT; st++) {
		char want[128];
		snprintf(want, sizeof(want), "scopegate_token_verifications_total{result=\"%s\"}",
		    jwt_status_str((enum jwt_status)st));
		CU_ASSERT(strstr(t, want) != NULL);
	}
	CU_ASSERT(has_line(t, "scopegate_token_cache_total{result=\"hit\"} 3"));
	CU_ASSERT(has_line(t, "scopegate_token_cache_total{result=\"miss\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_reloads_total{result=\"ok\"} 2"));
	CU_ASSERT(has_line(t, "scopegate_reloads_total{result=\"failed\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_reloads_total{result=\"restart_needed\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_config_last_reload_success 0"));
	CU_ASSERT(has_line(t, "scopegate_config_last_reload_timestamp_seconds 300"));
	CU_ASSERT(has_line(t, "scopegate_config_restart_required{setting=\"listeners\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_config_restart_required{setting=\"we\\\"ird\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_config_generation 3"));
	CU_ASSERT(has_line(t, "scopegate_connections 1"));
	CU_ASSERT(has_line(t, "# TYPE scopegate_client_read_bytes_total counter"));
	CU_ASSERT(has_line(t, "scopegate_client_read_bytes_total 123"));
	CU_ASSERT(has_line(t, "# TYPE scopegate_request_body_held_bytes gauge"));
	CU_ASSERT(has_line(t, "scopegate_request_body_held_bytes 90"));
	CU_ASSERT(has_line(t, "scopegate_build_info{version=\"v\"} 1"));
	free(t);
	metrics_shard_free(a);
	metrics_shard_free(b);
}

/* Many series grow the shard's table; indexes that change across reloads
 * do not split a series and the same index under another name does not
 * merge two. */
static void
test_many_series_and_reload(void)
{
	struct metrics_shard *s = metrics_shard_new();
	const struct metrics_shard *shards[] = {s};
	char name[32], want[128];
	char *t;
	int ok = 1;

	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < 1000; i++) {
			snprintf(name, sizeof(name), "act%04zu", i);
			metrics_observe_request(s, i, name, METRICS_ALLOW, 200, 10);
		}
	metrics_observe_request(s, 5000, "act0001", METRICS_ALLOW, 200, 10);	/* renumbered */
	metrics_observe_request(s, 0, "renamed", METRICS_ALLOW, 200, 10);	/* reused index */
	t = metrics_render(shards, 1, NULL, NULL);
	CU_ASSERT_EQUAL(check_valid(t), 1001 + 1001 * 17 + 17 + 4 + 1 + JWT_STATUS_COUNT + 1 + 2 + 3 + 2 + 6 + 2 + 2 + 5);
	CU_ASSERT_EQUAL(count_prefix(t, "scopegate_requests_total{"), 1001);
	for (size_t i = 0; i < 1000; i++) {
		snprintf(want, sizeof(want),
		    "scopegate_requests_total{action=\"act%04zu\",decision=\"allow\",status=\"200\"} %d",
		    i, i == 1 ? 3 : 2);
		if (!has_line(t, want))
			ok = 0;
	}
	CU_ASSERT(ok);
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"renamed\",decision=\"allow\",status=\"200\"} 1"));
	CU_ASSERT(has_line(t, "scopegate_request_duration_seconds_count{action=\"act0001\"} 3"));
	CU_ASSERT(has_line(t, "scopegate_request_duration_seconds_count{action=\"renamed\"} 1"));
	free(t);
	metrics_shard_free(s);
}

/* What the caller gathers outside the shards: process, certificates
 * (seconds to expiry against g.now), TLS failures, revocations, Redis
 * link, keys. */
static void
test_state(void)
{
	static const struct metrics_cert certs[] = {
		{"127.0.0.1:8443", "server", "/etc/scopegate/tls.pem", 1000 + 86400},
		{"127.0.0.1:8443", "client_ca", "/CN=Test \"CA\"", 500},
	};
	static const struct metrics_count2 fails[] = {
		{"unknown CA", "client", 3},
		{"handshake failure", "gateway", 2},
	};
	struct metrics_globals g = {.version = "v", .now = 1000, .certs = certs, .ncerts = 2,
	    .tls_failures = fails, .ntls_failures = 2, .revocations = 5, .redis_link = 0,
	    .token_keys = 3};
	char *t;

	g.process = (struct metrics_process){.ok = 1, .cpu_seconds = 1.5, .start_time = 1700000000.25,
	    .resident_bytes = 4096, .virtual_bytes = 8192, .open_fds = 9, .max_fds = 1024};
	t = metrics_render(NULL, 0, &g, NULL);
	CU_ASSERT(check_valid(t) > 0);
	CU_ASSERT(has_line(t, "# TYPE process_cpu_seconds_total counter"));
	CU_ASSERT(has_line(t, "process_cpu_seconds_total 1.50"));
	CU_ASSERT(has_line(t, "process_start_time_seconds 1700000000.25"));
	CU_ASSERT(has_line(t, "process_resident_memory_bytes 4096"));
	CU_ASSERT(has_line(t, "process_open_fds 9"));
	CU_ASSERT(has_line(t, "process_max_fds 1024"));
	CU_ASSERT(has_line(t, "scopegate_tls_certificate_expiry_seconds{listener=\"127.0.0.1:8443\","
	    "kind=\"server\",certificate=\"/etc/scopegate/tls.pem\"} 86400"));
	/* Expired: negative. */
	CU_ASSERT(has_line(t, "scopegate_tls_certificate_expiry_seconds{listener=\"127.0.0.1:8443\","
	    "kind=\"client_ca\",certificate=\"/CN=Test \\\"CA\\\"\"} -500"));
	CU_ASSERT(has_line(t, "scopegate_tls_handshake_failures_total{alert=\"unknown CA\",from=\"client\"} 3"));
	CU_ASSERT(has_line(t, "scopegate_revocations 5"));
	CU_ASSERT(has_line(t, "scopegate_redis_link_up 0"));
	CU_ASSERT(has_line(t, "scopegate_token_keys 3"));
	free(t);
	/* Unreadable process figures are left out, not written as zeros. */
	g.process.ok = 0;
	t = metrics_render(NULL, 0, &g, NULL);
	CU_ASSERT_EQUAL(count_prefix(t, "process_"), 0);
	free(t);
}

struct writer_arg {
	struct metrics_shard *s;
	int n;
};

static void *
writer(void *p)
{
	struct writer_arg *wa = p;
	char name[16];

	for (int i = 0; i < wa->n; i++) {
		snprintf(name, sizeof(name), "a%d", i % 50);
		metrics_observe_request(wa->s, (size_t)(i % 50), name,
		    i % 3 == 0 ? METRICS_DENY : METRICS_ALLOW, 200 + i % 7, (uint64_t)i % 3000000);
		metrics_token_cache(wa->s, i & 1);
	}
	return NULL;
}

/* Rendering while a worker thread writes its shard: every intermediate
 * text is valid, and the final one has the exact totals. */
static void
test_concurrent_render(void)
{
	struct writer_arg wa[2] = {{metrics_shard_new(), 200000}, {metrics_shard_new(), 100000}};
	const struct metrics_shard *shards[] = {wa[0].s, wa[1].s};
	pthread_t th[2];
	int valid = 1, renders = 0;
	char *t;

	for (int i = 0; i < 2; i++)
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, writer, &wa[i]) == 0);
	for (renders = 0; renders < 50; renders++) {
		t = metrics_render(shards, 2, NULL, NULL);
		if (check_valid(t) < 0)
			valid = 0;
		free(t);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT(valid);
	t = metrics_render(shards, 2, NULL, NULL);
	CU_ASSERT(check_valid(t) > 0);
	CU_ASSERT(has_line(t, "scopegate_request_duration_seconds_count{action=\"a0\"} 6000"));
	CU_ASSERT(has_line(t, "scopegate_request_duration_seconds_count{action=\"a49\"} 6000"));
	CU_ASSERT(has_line(t, "scopegate_token_cache_total{result=\"hit\"} 150000"));
	CU_ASSERT(has_line(t, "scopegate_token_cache_total{result=\"miss\"} 150000"));
	/* i % 3 == 0 and i % 50 == 0 and i % 7 == 0: i multiple of 1050. */
	CU_ASSERT(has_line(t, "scopegate_requests_total{action=\"a0\",decision=\"deny\",status=\"200\"} 287"));
	free(t);
	metrics_shard_free(wa[0].s);
	metrics_shard_free(wa[1].s);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("metrics", NULL, NULL);
	CU_add_test(s, "parser rejects broken texts", test_parser_rejects);
	CU_add_test(s, "empty registry", test_empty);
	CU_add_test(s, "requests and latency histogram", test_requests_and_histogram);
	CU_add_test(s, "label escaping and clamping", test_escaping_and_clamping);
	CU_add_test(s, "upstream, token, cache, reload, gauges", test_other_families);
	CU_add_test(s, "many series, reload renumbering", test_many_series_and_reload);
	CU_add_test(s, "render while writing", test_concurrent_render);
	CU_add_test(s, "process, certificates, TLS, revocations", test_state);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
