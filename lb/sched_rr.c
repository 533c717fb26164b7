/* sched_rr.c - roundrobin: each usable backend in turn, ignoring weights. */
#include "lb/sched.h"

#include <stdlib.h>

#include "common/util.h"
#include "lb/backend.h"

struct rr {
	size_t n;
	size_t next;                  /* where the next scan starts */
	struct backend *pool[];
};

static void *rr_create(struct backend *const *pool, size_t n)
{
	struct rr *rr = xcalloc(1, sizeof(*rr) + n * sizeof(rr->pool[0]));
	size_t i;

	rr->n = n;
	for (i = 0; i < n; i++)
		rr->pool[i] = pool[i];
	return rr;
}

static void rr_destroy(void *st)
{
	free(st);
}

/* The first eligible backend at or after the cursor; the cursor moves past it. */
static struct backend *rr_pick(void *st, uint32_t key, const struct sched_skip *skip)
{
	struct rr *rr = st;
	size_t i, idx;

	for (i = 0; i < rr->n; i++) {
		idx = rr->next + i < rr->n ? rr->next + i : rr->next + i - rr->n;
		if (sched_eligible(rr->pool[idx], skip)) {
			rr->next = (idx + 1) % rr->n;
			return rr->pool[idx];
		}
	}
	return NULL;
}

/* A local failure (this node, not b) gives b its turn back, if no pick has
 * moved the cursor since: the next client gets b, not the one after it. */
static void rr_release(void *st, struct backend *b, enum sched_outcome how)
{
	struct rr *rr = st;

	if (how == SCHED_LOCAL_FAILED && b->pool_idx < rr->n && rr->pool[b->pool_idx] == b &&
	    rr->next == (b->pool_idx + 1) % rr->n)
		rr->next = b->pool_idx;
}

const struct sched_ops sched_roundrobin = {
	.name = "roundrobin",
	.create = rr_create,
	.destroy = rr_destroy,
	.pick = rr_pick,
	.release = rr_release,
};
