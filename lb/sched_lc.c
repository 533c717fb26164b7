/* sched_lc.c - leastconn and weighted-leastconn.
 *
 * leastconn picks the fewest active connections; weighted-leastconn the
 * lowest active/weight, compared as active_a * weight_b < active_b * weight_a
 * (no floats). The scan starts at a cursor that moves past each pick, so
 * equal backends take turns. Both read b->active, so take is a no-op.
 */
#include "lb/sched.h"

#include <stdlib.h>

#include "common/util.h"
#include "lb/backend.h"

struct lc {
	bool weighted;
	size_t n;
	size_t next;                  /* where the next scan starts */
	struct backend *pool[];
};

static struct lc *lc_new(struct backend *const *pool, size_t n, bool weighted)
{
	struct lc *lc = xcalloc(1, sizeof(*lc) + n * sizeof(lc->pool[0]));
	size_t i;

	lc->weighted = weighted;
	lc->n = n;
	for (i = 0; i < n; i++)
		lc->pool[i] = pool[i];
	return lc;
}

static void *lc_create(struct backend *const *pool, size_t n)
{
	return lc_new(pool, n, false);
}

static void *wlc_create(struct backend *const *pool, size_t n)
{
	return lc_new(pool, n, true);
}

static void lc_destroy(void *st)
{
	free(st);
}

/* True if a is strictly less loaded than b. */
static bool lc_less(const struct lc *lc, const struct backend *a, const struct backend *b)
{
	if (!lc->weighted)
		return a->active < b->active;
	return (uint64_t)a->active * b->weight < (uint64_t)b->active * a->weight;
}

static struct backend *lc_pick(void *st, uint32_t key, const struct sched_skip *skip)
{
	struct lc *lc = st;
	struct backend *best = NULL;
	size_t i;

	for (i = 0; i < lc->n; i++) {
		size_t idx = lc->next + i;
		struct backend *b = lc->pool[idx < lc->n ? idx : idx - lc->n];

		if (sched_eligible(b, skip) && (!best || lc_less(lc, b, best)))
			best = b;
	}
	if (best)
		lc->next = (best->pool_idx + 1) % lc->n;
	return best;
}

/* b->active already dropped. A local failure (this node, not b) also gives
 * b its turn among equals back, if no pick has moved the cursor since. */
static void lc_release(void *st, struct backend *b, enum sched_outcome how)
{
	struct lc *lc = st;

	if (how == SCHED_LOCAL_FAILED && b->pool_idx < lc->n && lc->pool[b->pool_idx] == b &&
	    lc->next == (b->pool_idx + 1) % lc->n)
		lc->next = b->pool_idx;
}

const struct sched_ops sched_leastconn = {
	.name = "leastconn",
	.create = lc_create,
	.destroy = lc_destroy,
	.pick = lc_pick,
	.release = lc_release,
};

const struct sched_ops sched_weighted_leastconn = {
	.name = "weighted-leastconn",
	.create = wlc_create,
	.destroy = lc_destroy,
	.pick = lc_pick,
	.release = lc_release,
};
