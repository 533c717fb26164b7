/* sched_fixed.c - fixed-weight (Kemp's "fixed weighting"): a priority order.
 *
 * Every connection goes to the usable backend with the highest weight; the
 * next one takes over only while it is down, drained, in maintenance or full
 * (maxconn). Ties are broken by the order in the file (pool order). The order
 * is recomputed at every pick from the live weights, so a vigilctl weight
 * change or an agent's percentage moves the priority at once. Unlike the
 * backup pool, each backend is its own level: with weights 3, 2, 1 the one of
 * weight 2 only serves while the one of weight 3 cannot.
 */
#include "lb/sched.h"

#include <stdlib.h>

#include "common/util.h"
#include "lb/backend.h"

struct fixed {
	size_t n;
	struct backend *pool[];
};

static void *fixed_create(struct backend *const *pool, size_t n)
{
	struct fixed *f = xcalloc(1, sizeof(*f) + n * sizeof(f->pool[0]));
	size_t i;

	f->n = n;
	for (i = 0; i < n; i++)
		f->pool[i] = pool[i];
	return f;
}

static void fixed_destroy(void *st)
{
	free(st);
}

static struct backend *fixed_pick(void *st, uint32_t key, const struct sched_skip *skip)
{
	struct fixed *f = st;
	struct backend *best = NULL;
	size_t i;

	for (i = 0; i < f->n; i++) {
		struct backend *b = f->pool[i];

		if (!sched_eligible(b, skip))
			continue;
		if (!best || b->weight > best->weight)  /* strict: the first wins a tie */
			best = b;
	}
	return best;
}

static void fixed_nop(void *st, struct backend *b)
{
}

static void fixed_release(void *st, struct backend *b, enum sched_outcome how)
{
}

const struct sched_ops sched_fixed_weight = {
	.name = "fixed-weight",
	.create = fixed_create,
	.destroy = fixed_destroy,
	.pick = fixed_pick,
	.server_up = fixed_nop,
	.server_down = fixed_nop,
	.take = fixed_nop,
	.release = fixed_release,
};
