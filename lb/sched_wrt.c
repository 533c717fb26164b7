/* sched_wrt.c - weighted-response-time: smooth weighted round robin (as
 * weighted-roundrobin) over weights that follow the health probes' response
 * times.
 *
 * Each backend's probes feed an exponentially weighted moving average of
 * their response time (b->rtt_us, backend_note_rtt()). At most once a second
 * (SCHED_WRT_PERIOD_MS) and whenever the set of backends or a weight changed,
 * the scheduler recomputes every usable backend's weight as
 *     weight x mean_rtt / rtt
 * where mean_rtt is the mean over the usable backends with a measurement, so
 * a backend twice as fast as the mean gets twice its configured weight. The
 * factor is bounded to 1/8 .. 8 (and the result to 1 .. 2048); a backend
 * without a measurement keeps its weight. The weight in use is published in
 * b->rt_weight for the status page.
 */
#include "lb/sched.h"

#include <stdlib.h>

#include "common/util.h"
#include "lb/backend.h"

struct wrt {
	size_t n;
	uint64_t last_ms;             /* last recompute, 0: due */
	int64_t *cur;                 /* smooth-WRR current weight, by pool_idx */
	uint32_t *w;                  /* the weight in use, by pool_idx */
	struct backend *pool[];
};

static void *wrt_create(struct backend *const *pool, size_t n)
{
	struct wrt *t = xcalloc(1, sizeof(*t) + n * sizeof(t->pool[0]));
	size_t i;

	t->n = n;
	t->cur = xcalloc(n ? n : 1, sizeof(t->cur[0]));
	t->w = xcalloc(n ? n : 1, sizeof(t->w[0]));
	for (i = 0; i < n; i++)
		t->pool[i] = pool[i];
	return t;
}

static void wrt_destroy(void *st)
{
	struct wrt *t = st;

	if (!t)
		return;
	free(t->cur);
	free(t->w);
	free(t);
}

uint32_t sched_wrt_weight(uint32_t weight, uint32_t rtt_us, uint64_t mean_us)
{
	uint64_t w, lo, hi;

	if (weight == 0)
		return 0;
	if (rtt_us == 0 || mean_us == 0)
		return weight;
	lo = (weight + SCHED_WRT_BOUND - 1) / SCHED_WRT_BOUND;
	hi = (uint64_t)weight * SCHED_WRT_BOUND;
	w = ((uint64_t)weight * mean_us + rtt_us / 2) / rtt_us;
	if (w < lo)
		w = lo;
	if (w > hi)
		w = hi;
	return (uint32_t)(w ? w : 1);
}

static void wrt_recompute(struct wrt *t, uint64_t now)
{
	uint64_t sum = 0, mean;
	size_t i, n = 0;

	for (i = 0; i < t->n; i++) {
		if (backend_usable(t->pool[i]) && t->pool[i]->rtt_us) {
			sum += t->pool[i]->rtt_us;
			n++;
		}
	}
	mean = n ? sum / n : 0;
	for (i = 0; i < t->n; i++) {
		struct backend *b = t->pool[i];

		t->w[i] = sched_wrt_weight(b->weight, b->rtt_us, mean);
		b->rt_weight = t->w[i];
	}
	t->last_ms = now ? now : 1;
}

static struct backend *wrt_pick(void *st, uint32_t key, const struct sched_skip *skip)
{
	struct wrt *t = st;
	uint64_t now = now_ms();
	int64_t total = 0;
	size_t i, best = SIZE_MAX;

	if (t->last_ms == 0 || now - t->last_ms >= SCHED_WRT_PERIOD_MS)
		wrt_recompute(t, now);
	for (i = 0; i < t->n; i++) {
		if (!sched_eligible(t->pool[i], skip))
			continue;
		t->cur[i] += t->w[i];
		total += t->w[i];
		if (best == SIZE_MAX || t->cur[i] > t->cur[best])
			best = i;
	}
	if (best == SIZE_MAX)
		return NULL;
	t->cur[best] -= total;
	return t->pool[best];
}

/* The set of backends or a weight changed: recompute at the next pick. */
static void wrt_reset(void *st, struct backend *b)
{
	struct wrt *t = st;
	size_t i;

	for (i = 0; i < t->n; i++)
		t->cur[i] = 0;
	t->last_ms = 0;
}

static void wrt_nop(void *st, struct backend *b)
{
}

static void wrt_release(void *st, struct backend *b, enum sched_outcome how)
{
}

const struct sched_ops sched_weighted_response_time = {
	.name = "weighted-response-time",
	.create = wrt_create,
	.destroy = wrt_destroy,
	.pick = wrt_pick,
	.server_up = wrt_reset,
	.server_down = wrt_reset,
	.take = wrt_nop,
	.release = wrt_release,
};
