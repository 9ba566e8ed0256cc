/* metrics.c: see metrics.h. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "xmalloc.h"

const uint64_t metrics_latency_bounds_us[METRICS_LATENCY_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

/* The same bounds as written in the le label: fixed text, no float
 * formatting surprises. */
static const char *const latency_le[METRICS_LATENCY_BUCKETS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25", "0.5", "1", "2.5", "5", "10",
};

static const char *const decision_names[METRICS_DECISION_COUNT] = {
	[METRICS_ALLOW] = "allow",
	[METRICS_DENY] = "deny",
	[METRICS_ERROR] = "error",
	[METRICS_WOULD_DENY] = "would_deny",
};

static const char *const upstream_error_names[METRICS_UPSTREAM_ERROR_COUNT] = {
	[METRICS_UPSTREAM_CONNECT] = "connect",
	[METRICS_UPSTREAM_TIMEOUT] = "timeout",
	[METRICS_UPSTREAM_RESET] = "reset",
	[METRICS_UPSTREAM_ABORTED] = "aborted",
};

#define TOKEN_RESULTS		(JWT_STATUS_COUNT + 1)	/* + "revoked" */
#define TOKEN_REVOKED		JWT_STATUS_COUNT
#define REQ_INITIAL_SLOTS	64

/* One (action, decision, status) series of requests_total. Everything but
 * count is immutable once the entry is published on the shard's list. */
struct req_entry {
	struct req_entry *next;		/* publication list, newest first */
	char *name;			/* action name, "none" when none */
	size_t action_idx;
	int status;
	enum metrics_decision decision;
	uint64_t count;
	/* This series' share of the action's latency histogram. */
	uint64_t buckets[METRICS_LATENCY_BUCKETS + 1];	/* last: +Inf */
	uint64_t sum_us;
};

/* One (action, reason) series of would_deny_total. */
struct wd_entry {
	struct wd_entry *next;		/* publication list, newest first */
	char *name;
	size_t action_idx;
	const char *reason;
	uint64_t count;
};

struct metrics_shard {
	/* Writer-only lookup table (open addressing, power-of-two size);
	 * the renderer never reads it, so it may be resized freely. */
	struct req_entry **slots;
	size_t nslots;
	size_t nentries;
	/* What the renderer walks: a list only ever prepended to, with a
	 * release store, so a reader sees whole entries. */
	struct req_entry *head;

	uint64_t upstream_buckets[METRICS_LATENCY_BUCKETS + 1];	/* last: +Inf */
	uint64_t upstream_sum_us;
	uint64_t upstream_errors[METRICS_UPSTREAM_ERROR_COUNT];
	uint64_t upstream_retries;
	uint64_t token_results[TOKEN_RESULTS];
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t connections;		/* opened - closed, modulo 2^64 */
	uint64_t client_bytes_read;	/* request bytes read from client sockets */
	uint64_t body_bytes_held;	/* request body bytes held now (+/-) */
	struct wd_entry *wd_head;	/* report mode, same publication rule */
};

/* Single-writer increment: never a lock-prefixed read-modify-write. */
static inline void
bump(uint64_t *c, uint64_t by)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + by, __ATOMIC_RELAXED);
}

static inline uint64_t
peek(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

struct metrics_shard *
metrics_shard_new(void)
{
	struct metrics_shard *s = xcalloc(1, sizeof(*s));

	s->nslots = REQ_INITIAL_SLOTS;
	s->slots = xcalloc(s->nslots, sizeof(*s->slots));
	return s;
}

void
metrics_shard_free(struct metrics_shard *s)
{
	struct req_entry *e, *next;

	if (s == NULL)
		return;
	for (e = s->head; e != NULL; e = next) {
		next = e->next;
		free(e->name);
		free(e);
	}
	for (struct wd_entry *w = s->wd_head, *wn; w != NULL; w = wn) {
		wn = w->next;
		free(w->name);
		free(w);
	}
	free(s->slots);
	free(s);
}

static size_t
req_hash(size_t action_idx, enum metrics_decision d, int status)
{
	uint64_t h = (uint64_t)action_idx * UINT64_C(0x9e3779b97f4a7c15);

	h ^= ((uint64_t)status << 2 | (uint64_t)d) * UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 31;
	return (size_t)h;
}

/* Double the writer's table and re-insert every entry. */
static void
req_grow(struct metrics_shard *s)
{
	size_t n = s->nslots * 2, i, j;
	struct req_entry **slots = xcalloc(n, sizeof(*slots));

	for (i = 0; i < s->nslots; i++) {
		struct req_entry *e = s->slots[i];
		if (e == NULL)
			continue;
		for (j = req_hash(e->action_idx, e->decision, e->status) & (n - 1);
		    slots[j] != NULL; j = (j + 1) & (n - 1))
			;
		slots[j] = e;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
}

/* Find or create the series; the only allocation is on its first use. */
static struct req_entry *
req_lookup(struct metrics_shard *s, size_t idx, const char *name,
    enum metrics_decision d, int status)
{
	struct req_entry *e;
	size_t i;

	for (i = req_hash(idx, d, status) & (s->nslots - 1); (e = s->slots[i]) != NULL;
	    i = (i + 1) & (s->nslots - 1)) {
		if (e->action_idx == idx && e->decision == d && e->status == status &&
		    strcmp(e->name, name) == 0)
			return e;
	}
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->action_idx = idx;
	e->decision = d;
	e->status = status;
	s->slots[i] = e;
	e->next = s->head;
	__atomic_store_n(&s->head, e, __ATOMIC_RELEASE);
	if (++s->nentries * 2 > s->nslots)
		req_grow(s);
	return e;
}

static size_t
latency_bucket(uint64_t us)
{
	size_t b;

	for (b = 0; b < METRICS_LATENCY_BUCKETS; b++)
		if (us <= metrics_latency_bounds_us[b])
			break;
	return b;
}

void
metrics_observe_request(struct metrics_shard *s, size_t action_idx,
    const char *action_name, enum metrics_decision decision, int status,
    uint64_t latency_us)
{
	struct req_entry *e;
	size_t b;

	if (action_name == NULL || action_idx == METRICS_ACTION_NONE) {
		action_name = "none";
		action_idx = METRICS_ACTION_NONE;
	}
	if ((unsigned)decision >= METRICS_DECISION_COUNT)
		decision = METRICS_ERROR;
	if (status < 0)
		status = 0;
	else if (status > 999)
		status = 999;
	e = req_lookup(s, action_idx, action_name, decision, status);
	bump(&e->count, 1);

	b = latency_bucket(latency_us);
	bump(&e->buckets[b], 1);
	bump(&e->sum_us, latency_us);
}

void
metrics_observe_upstream(struct metrics_shard *s, uint64_t latency_us)
{
	bump(&s->upstream_buckets[latency_bucket(latency_us)], 1);
	bump(&s->upstream_sum_us, latency_us);
}

enum metrics_decision
metrics_decision_from_str(const char *decision)
{
	if (decision != NULL && strcmp(decision, "allow") == 0)
		return METRICS_ALLOW;
	if (decision != NULL && strcmp(decision, "deny") == 0)
		return METRICS_DENY;
	if (decision != NULL && strcmp(decision, "would_deny") == 0)
		return METRICS_WOULD_DENY;
	return METRICS_ERROR;
}

/* A linear walk: the series are at most the actions in report mode times
 * the five reasons report mode relaxes, and only would_deny requests walk
 * it. */
void
metrics_would_deny(struct metrics_shard *s, size_t action_idx, const char *action_name,
    const char *reason)
{
	struct wd_entry *e;

	if (action_name == NULL || reason == NULL)
		return;
	for (e = s->wd_head; e != NULL; e = e->next)
		if (e->action_idx == action_idx && strcmp(e->reason, reason) == 0 &&
		    strcmp(e->name, action_name) == 0)
			break;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->name = xstrdup(action_name);
		e->action_idx = action_idx;
		e->reason = reason;
		e->next = s->wd_head;
		__atomic_store_n(&s->wd_head, e, __ATOMIC_RELEASE);
	}
	bump(&e->count, 1);
}

void
metrics_upstream_error(struct metrics_shard *s, enum metrics_upstream_error kind)
{
	if ((unsigned)kind < METRICS_UPSTREAM_ERROR_COUNT)
		bump(&s->upstream_errors[kind], 1);
}

void
metrics_upstream_retried(struct metrics_shard *s)
{
	bump(&s->upstream_retries, 1);
}

void
metrics_token_verified(struct metrics_shard *s, enum jwt_status st)
{
	if ((unsigned)st >= JWT_STATUS_COUNT)
		st = JWT_INTERNAL;
	bump(&s->token_results[st], 1);
}

void
metrics_token_revoked(struct metrics_shard *s)
{
	bump(&s->token_results[TOKEN_REVOKED], 1);
}

void
metrics_token_cache(struct metrics_shard *s, int hit)
{
	bump(hit ? &s->cache_hits : &s->cache_misses, 1);
}

void
metrics_connection_opened(struct metrics_shard *s)
{
	bump(&s->connections, 1);
}

void
metrics_client_bytes_read(struct metrics_shard *s, uint64_t n)
{
	bump(&s->client_bytes_read, n);
}

void
metrics_body_bytes_held(struct metrics_shard *s, int64_t delta)
{
	bump(&s->body_bytes_held, (uint64_t)delta);
}

void
metrics_connection_closed(struct metrics_shard *s)
{
	bump(&s->connections, UINT64_MAX);	/* - 1, modulo 2^64 */
}

void
metrics_reload_done(struct metrics_globals *g, enum metrics_reload_result r, int64_t when)
{
	uint64_t *c = r == METRICS_RELOAD_OK ? &g->reloads_ok :
	    r == METRICS_RELOAD_RESTART_NEEDED ? &g->reloads_restart : &g->reloads_failed;

	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&g->last_reload_success, r == METRICS_RELOAD_OK, __ATOMIC_RELAXED);
	__atomic_store_n(&g->last_reload_time, when, __ATOMIC_RELAXED);
}

void
metrics_set_generation(struct metrics_globals *g, uint64_t generation)
{
	__atomic_store_n(&g->config_generation, generation, __ATOMIC_RELAXED);
}

/* A growing text buffer; allocation failure aborts (xmalloc). */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

static void
sbuf_reserve(struct sbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	while (b->len + more + 1 > b->cap)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = xreallocarray(b->p, b->cap, 1);
}

static void __attribute__((format(printf, 2, 3)))
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sbuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
sbuf_putc(struct sbuf *b, char c)
{
	sbuf_reserve(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

/* A label value as the exposition format wants it: backslash, double
 * quote and line feed escaped, everything else (UTF-8 included) as is. */
static void
sbuf_label_value(struct sbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"') {
			sbuf_putc(b, '\\');
			sbuf_putc(b, *v);
		} else if (*v == '\n') {
			sbuf_putc(b, '\\');
			sbuf_putc(b, 'n');
		} else
			sbuf_putc(b, *v);
	}
}

static void
family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series (name_bucket, _sum, _count), with one label
 * (label=value) or none (label NULL); buckets are per bucket, not yet
 * cumulative. _count is the +Inf bucket by construction, even while
 * workers update the shards under our feet. */
static void
render_histogram(struct sbuf *b, const char *name, const char *label, const char *value,
    const uint64_t *buckets, uint64_t sum_us)
{
	uint64_t cum = 0;

	for (size_t k = 0; k <= METRICS_LATENCY_BUCKETS; k++) {
		cum += buckets[k];
		sbuf_printf(b, "%s_bucket{", name);
		if (label != NULL) {
			sbuf_printf(b, "%s=\"", label);
			sbuf_label_value(b, value);
			sbuf_printf(b, "\",");
		}
		sbuf_printf(b, "le=\"%s\"} %" PRIu64 "\n",
		    k < METRICS_LATENCY_BUCKETS ? latency_le[k] : "+Inf", cum);
	}
	for (int pass = 0; pass < 2; pass++) {
		sbuf_printf(b, "%s_%s", name, pass == 0 ? "sum" : "count");
		if (label != NULL) {
			sbuf_printf(b, "{%s=\"", label);
			sbuf_label_value(b, value);
			sbuf_printf(b, "\"}");
		}
		if (pass == 0)
			sbuf_printf(b, " %" PRIu64 ".%06" PRIu64 "\n", sum_us / 1000000,
			    sum_us % 1000000);
		else
			sbuf_printf(b, " %" PRIu64 "\n", cum);
	}
}

struct wd_row {
	const char *name;
	const char *reason;
	uint64_t count;
};

static int
wd_row_cmp(const void *a, const void *b)
{
	const struct wd_row *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->reason, y->reason);
}

/* would_deny_total: every shard's series, summed by labels. */
static void
render_would_deny(struct sbuf *b, const struct metrics_shard *const *shards, size_t n)
{
	struct wd_row *rows = NULL;
	size_t nrows = 0, cap = 0, i, j;

	for (i = 0; i < n; i++) {
		if (shards[i] == NULL)
			continue;
		for (const struct wd_entry *e = __atomic_load_n(&shards[i]->wd_head,
		    __ATOMIC_ACQUIRE); e != NULL; e = e->next) {
			if (nrows == cap) {
				cap = cap ? cap * 2 : 16;
				rows = xreallocarray(rows, cap, sizeof(*rows));
			}
			rows[nrows].name = e->name;
			rows[nrows].reason = e->reason;
			rows[nrows++].count = peek(&e->count);
		}
	}
	if (nrows > 0)
		qsort(rows, nrows, sizeof(*rows), wd_row_cmp);
	family(b, "scopegate_would_deny_total", "counter",
	    "Requests forwarded in report mode that the policy would refuse, "
	    "by policy action and reason.");
	for (i = 0; i < nrows; i = j) {
		uint64_t sum = 0;
		for (j = i; j < nrows && wd_row_cmp(&rows[i], &rows[j]) == 0; j++)
			sum += rows[j].count;
		sbuf_printf(b, "scopegate_would_deny_total{action=\"");
		sbuf_label_value(b, rows[i].name);
		sbuf_printf(b, "\",reason=\"");
		sbuf_label_value(b, rows[i].reason);
		sbuf_printf(b, "\"} %" PRIu64 "\n", sum);
	}
	free(rows);
}

/* A snapshot of one series, for merging across shards. */
struct req_row {
	const struct req_entry *e;
	const char *name;
	int status;
	enum metrics_decision decision;
	uint64_t count;
};

static int
req_row_cmp(const void *a, const void *b)
{
	const struct req_row *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	if (x->decision != y->decision)
		return x->decision < y->decision ? -1 : 1;
	if (x->status != y->status)
		return x->status < y->status ? -1 : 1;
	return 0;
}

/* requests_total: gather every shard's series, sort, and add up the ones
 * with the same labels (the same action seen by several workers, or under
 * several policy indexes across reloads). */
static void
render_requests(struct sbuf *b, const struct metrics_shard *const *shards, size_t n)
{
	struct req_row *rows = NULL;
	size_t nrows = 0, cap = 0, i, j;

	for (i = 0; i < n; i++) {
		const struct req_entry *e;
		if (shards[i] == NULL)
			continue;
		for (e = __atomic_load_n(&shards[i]->head, __ATOMIC_ACQUIRE); e != NULL;
		    e = e->next) {
			if (nrows == cap) {
				cap = cap ? cap * 2 : 64;
				rows = xreallocarray(rows, cap, sizeof(*rows));
			}
			rows[nrows].e = e;
			rows[nrows].name = e->name;
			rows[nrows].decision = e->decision;
			rows[nrows].status = e->status;
			rows[nrows].count = peek(&e->count);
			nrows++;
		}
	}
	if (nrows > 0)
		qsort(rows, nrows, sizeof(*rows), req_row_cmp);
	family(b, "scopegate_requests_total", "counter",
	    "Requests completed, by policy action, decision and HTTP status.");
	for (i = 0; i < nrows; i = j) {
		uint64_t sum = 0;
		for (j = i; j < nrows && req_row_cmp(&rows[i], &rows[j]) == 0; j++)
			sum += rows[j].count;
		sbuf_printf(b, "scopegate_requests_total{action=\"");
		sbuf_label_value(b, rows[i].name);
		sbuf_printf(b, "\",decision=\"%s\",status=\"%d\"} %" PRIu64 "\n",
		    decision_names[rows[i].decision], rows[i].status, sum);
	}
	/* The latency histogram per action: the action set is the policy's,
	 * so the series stay bounded. */
	family(b, "scopegate_request_duration_seconds", "histogram",
	    "Time from the arrival of a request to its completion, by policy action.");
	for (i = 0; i < nrows; i = j) {
		uint64_t buckets[METRICS_LATENCY_BUCKETS + 1] = {0}, sum_us = 0;
		for (j = i; j < nrows && strcmp(rows[i].name, rows[j].name) == 0; j++) {
			for (size_t k = 0; k <= METRICS_LATENCY_BUCKETS; k++)
				buckets[k] += peek(&rows[j].e->buckets[k]);
			sum_us += peek(&rows[j].e->sum_us);
		}
		render_histogram(b, "scopegate_request_duration_seconds", "action", rows[i].name,
		    buckets, sum_us);
	}
	free(rows);
}

static void
render_upstream_latency(struct sbuf *b, const struct metrics_shard *const *shards, size_t n)
{
	uint64_t buckets[METRICS_LATENCY_BUCKETS + 1] = {0}, sum_us = 0;

	for (size_t i = 0; i < n; i++) {
		if (shards[i] == NULL)
			continue;
		for (size_t k = 0; k <= METRICS_LATENCY_BUCKETS; k++)
			buckets[k] += peek(&shards[i]->upstream_buckets[k]);
		sum_us += peek(&shards[i]->upstream_sum_us);
	}
	family(b, "scopegate_upstream_duration_seconds", "histogram",
	    "Time from sending a request to the upstream to the head of its answer.");
	render_histogram(b, "scopegate_upstream_duration_seconds", NULL, NULL, buckets, sum_us);
}

/* Sum the counter at byte offset off (an array of uint64_t) over shards. */
static uint64_t
sum_field(const struct metrics_shard *const *shards, size_t n, size_t off, size_t idx)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		const uint64_t *f;
		if (shards[i] == NULL)
			continue;
		f = (const uint64_t *)(const void *)((const char *)shards[i] + off);
		sum += peek(&f[idx]);
	}
	return sum;
}

#define SUM(field, idx) \
	sum_field(shards, n, offsetof(struct metrics_shard, field), (idx))

/* What the caller gathered outside the shards (metrics_globals). */
static void
render_state(struct sbuf *b, const struct metrics_globals *g)
{
	const struct metrics_process *p = &g->process;

	if (p->ok) {
		family(b, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
		sbuf_printf(b, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
		family(b, "process_start_time_seconds", "gauge",
		    "Start time of the process since unix epoch in seconds.");
		sbuf_printf(b, "process_start_time_seconds %.2f\n", p->start_time);
		family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		sbuf_printf(b, "process_resident_memory_bytes %" PRIu64 "\n", p->resident_bytes);
		family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		sbuf_printf(b, "process_virtual_memory_bytes %" PRIu64 "\n", p->virtual_bytes);
		family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
		sbuf_printf(b, "process_open_fds %" PRIu64 "\n", p->open_fds);
		family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		sbuf_printf(b, "process_max_fds %" PRIu64 "\n", p->max_fds);
	}
	family(b, "scopegate_tls_certificate_expiry_seconds", "gauge",
	    "Seconds until a served certificate or a trusted client CA expires "
	    "(negative once expired).");
	for (size_t i = 0; i < g->ncerts; i++) {
		const struct metrics_cert *c = &g->certs[i];
		sbuf_printf(b, "scopegate_tls_certificate_expiry_seconds{listener=\"");
		sbuf_label_value(b, c->listener);
		sbuf_printf(b, "\",kind=\"");
		sbuf_label_value(b, c->kind);
		sbuf_printf(b, "\",certificate=\"");
		sbuf_label_value(b, c->name);
		sbuf_printf(b, "\"} %" PRId64 "\n", c->not_after - g->now);
	}
	family(b, "scopegate_tls_handshake_failures_total", "counter",
	    "Client TLS handshakes that failed, by the TLS alert and who sent it "
	    "(gateway: we refused; client: it refused us).");
	for (size_t i = 0; i < g->ntls_failures; i++) {
		sbuf_printf(b, "scopegate_tls_handshake_failures_total{alert=\"");
		sbuf_label_value(b, g->tls_failures[i].a);
		sbuf_printf(b, "\",from=\"");
		sbuf_label_value(b, g->tls_failures[i].b);
		sbuf_printf(b, "\"} %" PRIu64 "\n", g->tls_failures[i].count);
	}
	if (g->revocations >= 0) {
		family(b, "scopegate_revocations", "gauge", "Token revocations held now.");
		sbuf_printf(b, "scopegate_revocations %" PRId64 "\n", g->revocations);
	}
	if (g->nrevocation_sources > 0) {
		family(b, "scopegate_revocations_by_source", "gauge",
		    "Token revocations held now by who made them: status (learnt from a "
		    "token set inactive), delete (learnt from a deletion), operator (the "
		    "admin API), file (the ids file).");
		for (size_t i = 0; i < g->nrevocation_sources; i++)
			sbuf_printf(b, "scopegate_revocations_by_source{source=\"%s\"} %" PRId64 "\n",
			    g->revocation_sources[i], g->revocations_by_source[i]);
	}
	if (g->redis_link >= 0) {
		family(b, "scopegate_redis_link_up", "gauge",
		    "1 while the link to the Redis revocation store is up, else 0.");
		sbuf_printf(b, "scopegate_redis_link_up %d\n", g->redis_link);
	}
	if (g->token_keys >= 0) {
		family(b, "scopegate_token_keys", "gauge",
		    "Token verification keys in force (all key sets of \"tokens.keys\").");
		sbuf_printf(b, "scopegate_token_keys %" PRId64 "\n", g->token_keys);
	}
}

char *
metrics_render(const struct metrics_shard *const *shards, size_t n,
    const struct metrics_globals *g, size_t *len)
{
	struct sbuf b = {NULL, 0, 0};
	size_t k;

	sbuf_reserve(&b, 8192);
	b.p[0] = '\0';
	render_requests(&b, shards, n);
	render_would_deny(&b, shards, n);
	render_upstream_latency(&b, shards, n);

	family(&b, "scopegate_upstream_errors_total", "counter",
	    "Failed exchanges with the upstream, by kind.");
	for (k = 0; k < METRICS_UPSTREAM_ERROR_COUNT; k++)
		sbuf_printf(&b, "scopegate_upstream_errors_total{kind=\"%s\"} %" PRIu64 "\n",
		    upstream_error_names[k], SUM(upstream_errors, k));
	family(&b, "scopegate_upstream_retries_total", "counter",
	    "Idempotent requests sent again on a new connection: a reused one "
	    "was closed before any answer.");
	sbuf_printf(&b, "scopegate_upstream_retries_total %" PRIu64 "\n",
	    SUM(upstream_retries, 0));

	family(&b, "scopegate_token_verifications_total", "counter",
	    "Bearer tokens checked, by result.");
	for (k = 0; k < TOKEN_RESULTS; k++)
		sbuf_printf(&b, "scopegate_token_verifications_total{result=\"%s\"} %" PRIu64 "\n",
		    k == TOKEN_REVOKED ? "revoked" : jwt_status_str((enum jwt_status)k),
		    SUM(token_results, k));

	family(&b, "scopegate_token_cache_total", "counter",
	    "Verified-token cache lookups, by result.");
	sbuf_printf(&b, "scopegate_token_cache_total{result=\"hit\"} %" PRIu64 "\n",
	    SUM(cache_hits, 0));
	sbuf_printf(&b, "scopegate_token_cache_total{result=\"miss\"} %" PRIu64 "\n",
	    SUM(cache_misses, 0));

	family(&b, "scopegate_reloads_total", "counter",
	    "Configuration reloads, by result.");
	sbuf_printf(&b, "scopegate_reloads_total{result=\"ok\"} %" PRIu64 "\n",
	    g ? __atomic_load_n(&g->reloads_ok, __ATOMIC_RELAXED) : 0);
	sbuf_printf(&b, "scopegate_reloads_total{result=\"failed\"} %" PRIu64 "\n",
	    g ? __atomic_load_n(&g->reloads_failed, __ATOMIC_RELAXED) : 0);
	sbuf_printf(&b, "scopegate_reloads_total{result=\"restart_needed\"} %" PRIu64 "\n",
	    g ? __atomic_load_n(&g->reloads_restart, __ATOMIC_RELAXED) : 0);
	family(&b, "scopegate_config_last_reload_success", "gauge",
	    "1 when the last reload (or the start) put the whole file in force; "
	    "0 when it failed or a part of it needs a restart.");
	sbuf_printf(&b, "scopegate_config_last_reload_success %d\n",
	    g ? __atomic_load_n(&g->last_reload_success, __ATOMIC_RELAXED) : 0);
	family(&b, "scopegate_config_last_reload_timestamp_seconds", "gauge",
	    "When the last reload (or the start) happened, in seconds since the epoch.");
	sbuf_printf(&b, "scopegate_config_last_reload_timestamp_seconds %" PRId64 "\n",
	    g ? (int64_t)__atomic_load_n(&g->last_reload_time, __ATOMIC_RELAXED) : 0);
	family(&b, "scopegate_config_restart_required", "gauge",
	    "Settings changed in the configuration that are not in force until a "
	    "restart (one series per setting, value 1); none when the file is in force.");
	for (k = 0; g != NULL && k < g->nrestart_needed; k++) {
		sbuf_printf(&b, "scopegate_config_restart_required{setting=\"");
		sbuf_label_value(&b, g->restart_needed[k]);
		sbuf_printf(&b, "\"} 1\n");
	}

	family(&b, "scopegate_config_generation", "gauge",
	    "Generation of the configuration in use (1 at start, +1 per reload that "
	    "published a new one, also when a part of it needs a restart).");
	sbuf_printf(&b, "scopegate_config_generation %" PRIu64 "\n",
	    g ? __atomic_load_n(&g->config_generation, __ATOMIC_RELAXED) : 0);

	family(&b, "scopegate_rate_limit_keys", "gauge",
	    "Keys the rate limit remembers now (bounded by rate_limit.max_keys).");
	sbuf_printf(&b, "scopegate_rate_limit_keys %" PRIu64 "\n", g ? g->rate_limit_keys : 0);
	family(&b, "scopegate_ratelimit_shared_total", "counter",
	    "Requests whose shared rate limits Redis decided.");
	sbuf_printf(&b, "scopegate_ratelimit_shared_total %" PRIu64 "\n", g ? g->rl_shared : 0);
	family(&b, "scopegate_ratelimit_fallback_total", "counter",
	    "Requests whose shared rate limits were decided locally (rate / expected_instances, "
	    "or on_outage deny): Redis down or slower than shared_timeout_ms.");
	sbuf_printf(&b, "scopegate_ratelimit_fallback_total %" PRIu64 "\n", g ? g->rl_fallback : 0);
	family(&b, "scopegate_ratelimit_outage_denied_total", "counter",
	    "Requests refused with 503 because a shared limit with on_outage deny could not be "
	    "checked.");
	sbuf_printf(&b, "scopegate_ratelimit_outage_denied_total %" PRIu64 "\n",
	    g ? g->rl_outage_denied : 0);
	family(&b, "scopegate_ratelimit_redis_links_up", "gauge",
	    "Workers' links to the shared rate limits' Redis that are up now.");
	sbuf_printf(&b, "scopegate_ratelimit_redis_links_up %" PRIu64 "\n", g ? g->rl_links_up : 0);
	family(&b, "scopegate_ratelimit_redis_outages_total", "counter",
	    "Times shared rate limits lost Redis (and fell back).");
	sbuf_printf(&b, "scopegate_ratelimit_redis_outages_total %" PRIu64 "\n",
	    g ? g->rl_outages : 0);
	family(&b, "scopegate_revocations_from_redis", "gauge",
	    "Revocation entries learnt from Redis (bounded by revocations.redis_max_entries).");
	sbuf_printf(&b, "scopegate_revocations_from_redis %" PRIu64 "\n",
	    g ? g->revocations_remote : 0);
	family(&b, "scopegate_revocations_refused_total", "counter",
	    "Revocations from Redis refused because revocations.redis_max_entries was reached.");
	sbuf_printf(&b, "scopegate_revocations_refused_total %" PRIu64 "\n",
	    g ? g->revocations_refused : 0);
	family(&b, "scopegate_connections", "gauge", "Client connections open now.");
	sbuf_printf(&b, "scopegate_connections %" PRId64 "\n", (int64_t)SUM(connections, 0));
	family(&b, "scopegate_client_read_bytes_total", "counter",
	    "Request bytes read from client connections (heads, bodies, framing).");
	sbuf_printf(&b, "scopegate_client_read_bytes_total %" PRIu64 "\n",
	    (uint64_t)SUM(client_bytes_read, 0));
	family(&b, "scopegate_request_body_held_bytes", "gauge",
	    "Request body bytes held in memory now (under max_buffered_body_bytes per worker).");
	sbuf_printf(&b, "scopegate_request_body_held_bytes %" PRId64 "\n",
	    (int64_t)SUM(body_bytes_held, 0));

	family(&b, "scopegate_connections_refused_total", "counter",
	    "Client connections closed at accept, by reason.");
	sbuf_printf(&b, "scopegate_connections_refused_total{reason=\"per_client\"} %" PRIu64 "\n",
	    g ? g->conn_refused_per_client : 0);
	family(&b, "scopegate_connections_timed_out_total", "counter",
	    "Client connections closed with no request head begun within header_timeout_ms "
	    "(TLS handshake unfinished, or idle).");
	sbuf_printf(&b, "scopegate_connections_timed_out_total %" PRIu64 "\n",
	    g ? g->conn_head_timeouts : 0);
	if (g != NULL)
		render_state(&b, g);

	family(&b, "scopegate_build_info", "gauge", "Build information; the value is always 1.");
	sbuf_printf(&b, "scopegate_build_info{version=\"");
	sbuf_label_value(&b, g && g->version ? g->version : "unknown");
	sbuf_printf(&b, "\"} 1\n");

	if (len != NULL)
		*len = b.len;
	return b.p;
}
