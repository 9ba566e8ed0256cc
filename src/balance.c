/* balance.c: see balance.h. */
#include "config.h"

#include <string.h>

#include "balance.h"
#include "defaults.h"

int
balance_kind_parse(const char *name, enum balance_kind *kind)
{
	int rc = -1;

	if (strcmp(name, "round_robin") == 0) {
		*kind = BALANCE_ROUND_ROBIN;
		rc = 0;
	} else if (strcmp(name, "least_request") == 0) {
		*kind = BALANCE_LEAST_REQUEST;
		rc = 0;
	}
	return rc;
}

const char *
balance_kind_name(enum balance_kind kind)
{
	return kind == BALANCE_LEAST_REQUEST ? "least_request" : "round_robin";
}

/* Down peers sit out unless every peer is down: then all take part, so
 * that an upstream whose servers all failed is still tried rather than
 * refused without an attempt. */
static int
all_down(const struct balance_peer *peers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!peers[i].down)
			return 0;
	return 1;
}

size_t
balance_round_robin(struct balance_peer *peers, size_t n)
{
	int64_t total = 0;
	size_t best = 0;
	int found = 0, any = all_down(peers, n);

	if (n == 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (peers[i].down && !any)
			continue;
		peers[i].current += peers[i].weight;
		total += peers[i].weight;
		if (!found || peers[i].current > peers[best].current) {
			best = i;
			found = 1;
		}
	}
	peers[best].current -= total;
	return best;
}

size_t
balance_least_request(const struct balance_peer *peers, size_t n,
    uint64_t rnd, size_t (*load)(void *arg, size_t i), void *arg)
{
	size_t up[SG_UPSTREAM_MAX_SERVERS], nup = 0, ia, ib, a, b, pick;
	int any = all_down(peers, n);

	if (n == 1)
		return 0;
	/* Draw among the candidates only; an upstream has few servers (the
	 * configuration caps them). */
	for (size_t i = 0; i < n && nup < sizeof(up) / sizeof(up[0]); i++)
		if (any || !peers[i].down)
			up[nup++] = i;
	if (nup == 1)
		return up[0];
	ia = (size_t)(rnd % nup);
	ib = (size_t)((rnd >> 32) % (nup - 1));
	if (ib >= ia)	/* distinct from the first: skip over it */
		ib++;
	a = up[ia];
	b = up[ib];
	pick = a;
	/* load/weight compared without division. */
	if ((uint64_t)load(arg, b) * (uint64_t)peers[a].weight <
	    (uint64_t)load(arg, a) * (uint64_t)peers[b].weight)
		pick = b;
	return pick;
}

int
balance_health_report(struct balance_health *h, const struct balance_outlier *o,
    int ok, int64_t now_ms)
{
	int64_t backoff;
	int ejected = 0;

	if (o->failures == 0)
		return 0;
	if (ok) {
		h->fails = 0;
		/* Serving again after an ejection: the next one starts
		 * from base_ms. */
		if (!balance_health_down(h, now_ms))
			h->ejections = 0;
		return 0;
	}
	/* Requests already in flight when it was ejected fail too: they
	 * do not extend the ejection. */
	if (balance_health_down(h, now_ms))
		return 0;
	if (h->fails == 0 || now_ms - h->first_fail_ms > o->window_ms) {
		h->fails = 0;
		h->first_fail_ms = now_ms;
	}
	if (++h->fails >= o->failures) {
		backoff = o->base_ms;
		for (uint32_t i = 0; i < h->ejections && backoff < o->max_ms; i++)
			backoff *= 2;
		if (backoff > o->max_ms)
			backoff = o->max_ms;
		h->ejected_until_ms = now_ms + backoff;
		h->ejections++;
		h->fails = 0;
		ejected = 1;
	}
	return ejected;
}

int
balance_health_down(const struct balance_health *h, int64_t now_ms)
{
	return now_ms < h->ejected_until_ms;
}

uint64_t
balance_rand(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}
