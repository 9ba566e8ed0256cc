/* route.c: see route.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "xmalloc.h"

struct route_child {
	char *lit;
	size_t len;
	struct route_node *node;
};

struct route_node {
	struct route_child *kids;	/* sorted by route_cmp */
	size_t nkids;
	struct route_node *param;
	int value[ROUTE_MAX_METHODS];	/* -1: none */
	unsigned mask;			/* methods with a value */
};

struct route_tree {
	struct route_node *root;
};

static struct route_node *
node_new(void)
{
	struct route_node *n = xcalloc(1, sizeof(*n));

	for (int i = 0; i < ROUTE_MAX_METHODS; i++)
		n->value[i] = -1;
	return n;
}

static void
node_free(struct route_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++) {
		free(n->kids[i].lit);
		node_free(n->kids[i].node);
	}
	free(n->kids);
	node_free(n->param);
	free(n);
}

/* Byte order, shorter first on a common prefix; any total order will do. */
static int
route_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Index of the child equal to (s, len), or where it would be inserted
 * (with *found = 0). */
static size_t
kid_search(const struct route_node *n, const char *s, size_t len, int *found)
{
	size_t lo = 0, hi = n->nkids;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = route_cmp(s, len, n->kids[mid].lit, n->kids[mid].len);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

struct route_tree *
route_tree_new(void)
{
	struct route_tree *t = xcalloc(1, sizeof(*t));

	t->root = node_new();
	return t;
}

void
route_tree_free(struct route_tree *t)
{
	if (t == NULL)
		return;
	node_free(t->root);
	free(t);
}

int
route_insert(struct route_tree *t, const struct route_seg *segs, size_t n,
    unsigned method, int value)
{
	struct route_node *node = t->root;
	size_t i;
	int found;

	for (i = 0; i < n; i++) {
		if (segs[i].lit == NULL) {
			if (node->param == NULL)
				node->param = node_new();
			node = node->param;
			continue;
		}
		size_t k = kid_search(node, segs[i].lit, segs[i].len, &found);
		if (!found) {
			node->kids = xreallocarray(node->kids, node->nkids + 1,
			    sizeof(*node->kids));
			memmove(&node->kids[k + 1], &node->kids[k],
			    (node->nkids - k) * sizeof(*node->kids));
			node->kids[k].lit = xstrndup(segs[i].lit, segs[i].len);
			node->kids[k].len = segs[i].len;
			node->kids[k].node = node_new();
			node->nkids++;
		}
		node = node->kids[k].node;
	}
	if (node->value[method] >= 0)
		return node->value[method];
	node->value[method] = value;
	node->mask |= 1u << method;
	return -1;
}

/* Depth-first, literal child before the parameter child: the first node
 * reached with a value for the method wins. */
static int
find(const struct route_node *node, const struct canon_segment *segs,
    size_t n, unsigned method)
{
	int found, v;

	if (n == 0)
		return node->value[method];
	size_t k = kid_search(node, segs[0].ptr, segs[0].len, &found);
	if (found && (v = find(node->kids[k].node, segs + 1, n - 1, method)) >= 0)
		return v;
	if (node->param != NULL)
		return find(node->param, segs + 1, n - 1, method);
	return -1;
}

/* The methods of every node the path reaches, for the Allow header. */
static unsigned
methods(const struct route_node *node, const struct canon_segment *segs,
    size_t n)
{
	unsigned mask = 0;
	int found;

	if (n == 0)
		return node->mask;
	size_t k = kid_search(node, segs[0].ptr, segs[0].len, &found);
	if (found)
		mask |= methods(node->kids[k].node, segs + 1, n - 1);
	if (node->param != NULL)
		mask |= methods(node->param, segs + 1, n - 1);
	return mask;
}

int
route_lookup(const struct route_tree *t, const struct canon_segment *segs,
    size_t n, unsigned method, unsigned *allowed)
{
	int v = -1;

	*allowed = 0;
	if (method < ROUTE_MAX_METHODS)
		v = find(t->root, segs, n, method);
	if (v < 0)
		*allowed = methods(t->root, segs, n);
	return v;
}
