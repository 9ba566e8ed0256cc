/* route.h: a segment trie mapping (method, path segments) to a value (the
 * policy's action index). Each node has sorted literal children, at most
 * one parameter child and a per-method value table. Lookup prefers literal
 * children and falls back to the parameter child, so `/devices/tagKeys`
 * beats `/devices/{deviceId}`; it is method-aware like the upstream's own
 * router, and visits each node at most once. Built once, then read-only:
 * lookups do not allocate and are safe from many threads. */
#ifndef SCOPEGATE_ROUTE_H
#define SCOPEGATE_ROUTE_H

#include <stddef.h>

#include "canon.h"

#define ROUTE_MAX_METHODS	8

/* A template segment: a literal (lit, len) or a parameter (lit == NULL). */
struct route_seg {
	const char *lit;
	size_t len;
};

struct route_tree;

struct route_tree *route_tree_new(void);
void route_tree_free(struct route_tree *t);

/* Add value (>= 0) for method (< ROUTE_MAX_METHODS) at the template. Two
 * templates that reach the same node (same literals, parameters at the same
 * places, whatever their names) match the same paths: then nothing is added
 * and the value already there is returned. Returns -1 when added. */
int route_insert(struct route_tree *t, const struct route_seg *segs, size_t n,
    unsigned method, int value);

/* Look up request segments (slices of the canonical target).
 * Returns the value for the method, or -1; then *allowed gets the mask
 * (1 << method) of the methods that some template matching the path has
 * (0: no template matches the path at all). */
int route_lookup(const struct route_tree *t, const struct canon_segment *segs,
    size_t n, unsigned method, unsigned *allowed);

#endif
