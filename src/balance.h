/* balance.h: which server of an upstream gets the next request. Pure
 * selection over plain arrays (no libevent, no clock): smooth weighted
 * round robin as nginx does it, and least_request as the power of two
 * random choices (Mitzenmacher; Envoy's default). A server marked down is
 * never chosen while another is up; when all are down every one is a
 * candidate again (the caller decides whether to try). */
#ifndef SCOPEGATE_BALANCE_H
#define SCOPEGATE_BALANCE_H

#include <stddef.h>
#include <stdint.h>

enum balance_kind {
	BALANCE_ROUND_ROBIN,
	BALANCE_LEAST_REQUEST,
};

struct balance_peer {
	int64_t weight;		/* >= 1, from the configuration */
	int64_t current;	/* smooth round robin state */
	int down;		/* ejected or failing its health check */
};

/* Parse a balance name: 0, or -1 when not supported. */
int balance_kind_parse(const char *name, enum balance_kind *kind);
const char *balance_kind_name(enum balance_kind kind);

/* Smooth weighted round robin: every peer's current grows by its weight,
 * the largest is chosen and loses the total. Over any run of sum(weights)
 * picks each peer gets exactly its weight, interleaved (5,1,1 gives
 * a a b a c a a, not a a a a a b c). n >= 1. */
size_t balance_round_robin(struct balance_peer *peers, size_t n);

/* Power of two choices: two distinct peers drawn from rnd, the one with
 * the smaller load per unit of weight wins (ties: the first drawn).
 * load(arg, i) is the requests peer i has in flight. n >= 1. */
size_t balance_least_request(const struct balance_peer *peers, size_t n,
    uint64_t rnd, size_t (*load)(void *arg, size_t i), void *arg);

/* Passive outlier ejection (Envoy's consecutive errors): a server whose
 * requests fail `failures` times in a row, each within window_ms of the
 * first, is down for base_ms, doubled at each ejection in a row up to
 * max_ms; its first success after coming back resets the backoff. A
 * failure is a connection that could not be made or was lost before an
 * answer, a timeout, or a 5xx answer. failures 0: never ejected. */
struct balance_outlier {
	uint32_t failures;
	int64_t window_ms;
	int64_t base_ms;
	int64_t max_ms;
};

struct balance_health {
	uint32_t fails;			/* in a row, within the window */
	int64_t first_fail_ms;
	int64_t ejected_until_ms;	/* down while now is before it */
	uint32_t ejections;		/* in a row: the backoff's exponent */
};

/* Record one outcome at now_ms: 1 when this failure ejected the server. */
int balance_health_report(struct balance_health *h, const struct balance_outlier *o,
    int ok, int64_t now_ms);
int balance_health_down(const struct balance_health *h, int64_t now_ms);

/* A splitmix64 step: the worker's cheap per-pick random numbers. */
uint64_t balance_rand(uint64_t *state);

#endif
