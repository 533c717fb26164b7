/* sched_wrr.c - weighted-roundrobin, nginx's smooth interleaving.
 *
 * Every pick adds each eligible backend's weight to its current weight,
 * chooses the largest current weight (first in pool order on a tie) and
 * subtracts the total weight from it. Weights 5:1:1 give a a b a c a a:
 * each backend's turns are spread evenly through the cycle. Weights are read
 * from the backends at every pick; server_up/server_down restart the cycle.
 */
#include "lb/sched.h"

#include <stdlib.h>

#include "common/util.h"
#include "lb/backend.h"

struct wrr {
	size_t n;
	int64_t *cur;                 /* current weight, by pool_idx */
	struct backend *pool[];
};

static void *wrr_create(struct backend *const *pool, size_t n)
{
	struct wrr *w = xcalloc(1, sizeof(*w) + n * sizeof(w->pool[0]));
	size_t i;

	w->n = n;
	w->cur = xcalloc(n ? n : 1, sizeof(w->cur[0]));
	for (i = 0; i < n; i++)
		w->pool[i] = pool[i];
	return w;
}

static void wrr_destroy(void *st)
{
	struct wrr *w = st;

	if (!w)
		return;
	free(w->cur);
	free(w);
}

static struct backend *wrr_pick(void *st, uint32_t key, const struct sched_skip *skip)
{
	struct wrr *w = st;
	int64_t total = 0;
	size_t i, best = SIZE_MAX;

	for (i = 0; i < w->n; i++) {
		if (!sched_eligible(w->pool[i], skip))
			continue;
		w->cur[i] += w->pool[i]->weight;
		total += w->pool[i]->weight;
		if (best == SIZE_MAX || w->cur[i] > w->cur[best])
			best = i;
	}
	if (best == SIZE_MAX)
		return NULL;
	w->cur[best] -= total;
	return w->pool[best];
}

/* The set of backends or a weight changed: start a fresh cycle. */
static void wrr_reset(void *st, struct backend *b)
{
	struct wrr *w = st;
	size_t i;

	for (i = 0; i < w->n; i++)
		w->cur[i] = 0;
}

const struct sched_ops sched_weighted_roundrobin = {
	.name = "weighted-roundrobin",
	.create = wrr_create,
	.destroy = wrr_destroy,
	.pick = wrr_pick,
	.server_up = wrr_reset,
	.server_down = wrr_reset,
};
