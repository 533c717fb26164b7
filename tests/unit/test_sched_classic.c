/* test_sched_classic.c - fixed-weight, weighted-response-time and the agent's
 * effective weights (issue 14), driven with plain struct backend arrays. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lb/backend.h"
#include "lb/sched.h"

#define MAXB 8

struct pool {
	size_t n;
	char names[MAXB][16];
	struct backend b[MAXB];
	struct backend *p[MAXB];
};

static void pool_init(struct pool *pl, size_t n, const uint32_t *weights)
{
	memset(pl, 0, sizeof(*pl));
	pl->n = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(pl->names[i], sizeof(pl->names[i]), "b%u", (unsigned)i);
		pl->b[i].name = pl->names[i];
		pl->b[i].state = BACKEND_UP;
		pl->b[i].healthy = true;
		pl->b[i].weight = pl->b[i].weight_cfg = weights ? weights[i] : 1;
		pl->b[i].agent_pct = 100;
		pl->b[i].pool_idx = (unsigned)i;
		pl->p[i] = &pl->b[i];
	}
}

static int idx(const struct pool *pl, const struct backend *b)
{
	return b ? (int)(b - pl->b) : -1;
}

/* n picks, each held (active++), counted by index. */
static void picks(const struct sched_ops *ops, void *st, struct pool *pl, int n, int *count)
{
	for (int i = 0; i < n; i++) {
		struct backend *b = ops->pick(st, 0, NULL);

		assert_non_null(b);
		b->active++;
		if (ops->take)           /* NULL: nothing to do */
			ops->take(st, b);
		count[idx(pl, b)]++;
	}
}

static void test_names(void **state)
{
	assert_string_equal(sched_for(SCHED_FIXED_WEIGHT)->name, "fixed-weight");
	assert_string_equal(sched_for(SCHED_WEIGHTED_RESPONSE_TIME)->name,
			    "weighted-response-time");
}

/* Highest weight first, ties by order; the next only when down or full. */
static void test_fixed_order(void **state)
{
	static const uint32_t w[] = { 1, 3, 3, 2 };
	const struct sched_ops *ops = &sched_fixed_weight;
	uint64_t bits[1] = { 1u << 1 };
	struct sched_skip skip = { .bits = bits, .nbits = 64 };
	struct pool pl;
	void *st;
	int count[MAXB] = { 0 };

	pool_init(&pl, 4, w);
	st = ops->create(pl.p, pl.n);
	picks(ops, st, &pl, 10, count);
	assert_int_equal(count[1], 10);         /* b1 and b2 tie at 3: b1 is first */
	assert_int_equal(idx(&pl, ops->pick(st, 0, &skip)), 2);  /* already tried b1 */
	pl.b[1].state = BACKEND_DOWN;
	ops->server_down(st, &pl.b[1]);
	assert_int_equal(idx(&pl, ops->pick(st, 0, NULL)), 2);
	pl.b[2].maxconn = 2;
	pl.b[2].active = 2;                     /* full: the next level takes over */
	assert_int_equal(idx(&pl, ops->pick(st, 0, NULL)), 3);
	pl.b[3].state = BACKEND_DRAIN;
	assert_int_equal(idx(&pl, ops->pick(st, 0, NULL)), 0);
	pl.b[2].active = 1;                     /* room again: back to the higher level */
	assert_int_equal(idx(&pl, ops->pick(st, 0, NULL)), 2);
	pl.b[1].state = BACKEND_UP;
	ops->server_up(st, &pl.b[1]);
	assert_int_equal(idx(&pl, ops->pick(st, 0, NULL)), 1);
	pl.b[1].weight = 0;                     /* weight 0 takes no traffic */
	assert_int_equal(idx(&pl, ops->pick(st, 0, NULL)), 2);
	ops->destroy(st);
}

static void test_wrt_weight_bounds(void **state)
{
	assert_int_equal(sched_wrt_weight(4, 0, 1000), 4);        /* no measurement */
	assert_int_equal(sched_wrt_weight(4, 1000, 1000), 4);
	assert_int_equal(sched_wrt_weight(4, 500, 1000), 8);      /* twice as fast */
	assert_int_equal(sched_wrt_weight(4, 2000, 1000), 2);
	assert_int_equal(sched_wrt_weight(4, 1, 1000000), 32);    /* at most 8x */
	assert_int_equal(sched_wrt_weight(16, 1000000, 1), 2);    /* at least 1/8 */
	assert_int_equal(sched_wrt_weight(1, 1000000, 1), 1);     /* and at least 1 */
	assert_int_equal(sched_wrt_weight(0, 10, 1000), 0);
}

/* A slow backend loses its share to the fast ones; equal times keep the
 * configured weights. */
static void test_wrt_slow_backend(void **state)
{
	const struct sched_ops *ops = &sched_weighted_response_time;
	struct pool pl;
	void *st;
	int count[MAXB] = { 0 };

	pool_init(&pl, 3, NULL);
	pl.b[0].rtt_us = pl.b[1].rtt_us = pl.b[2].rtt_us = 2000;
	st = ops->create(pl.p, pl.n);
	picks(ops, st, &pl, 30, count);
	assert_int_equal(count[0], 10);
	assert_int_equal(count[1], 10);
	assert_int_equal(count[2], 10);
	ops->destroy(st);

	/* b2 answers in 30 ms, the others in 1 ms: mean 10.67 ms, so b0 and b1
	 * get 8 (bounded), b2 10.67/30 of 1 -> at least 1 */
	memset(count, 0, sizeof(count));
	pl.b[0].rtt_us = pl.b[1].rtt_us = 1000;
	pl.b[2].rtt_us = 30000;
	st = ops->create(pl.p, pl.n);
	picks(ops, st, &pl, 170, count);
	assert_int_equal(count[0], 80);
	assert_int_equal(count[1], 80);
	assert_int_equal(count[2], 10);
	assert_int_equal(pl.b[0].rt_weight, 8);
	assert_int_equal(pl.b[2].rt_weight, 1);
	/* recomputed at most once a second: a change now is not seen yet */
	pl.b[2].rtt_us = 1000;
	assert_non_null(ops->pick(st, 0, NULL));
	assert_int_equal(pl.b[2].rt_weight, 1);
	/* a state change recomputes at the next pick */
	ops->server_up(st, &pl.b[2]);
	assert_non_null(ops->pick(st, 0, NULL));
	assert_int_equal(pl.b[2].rt_weight, 1);
	assert_int_equal(pl.b[0].rt_weight, 1);
	ops->destroy(st);
}

/* The EWMA follows a change of response time by a quarter per sample. */
static void test_rtt_ewma(void **state)
{
	struct backend b;

	memset(&b, 0, sizeof(b));
	backend_note_rtt(&b, 1000);
	assert_int_equal(b.rtt_us, 1000);
	backend_note_rtt(&b, 5000);
	assert_int_equal(b.rtt_us, 2000);
	for (int i = 0; i < 40; i++)
		backend_note_rtt(&b, 5000);
	assert_in_range(b.rtt_us, 4990, 5000);
	backend_note_rtt(&b, 0);                /* never 0: 0 means no measurement */
	assert_true(b.rtt_us > 0);
}

/* Agent percentages scale the configured weight; state words act as the
 * admin states; the configured weight stays what vigilctl shows. */
static void test_agent_weights(void **state)
{
	static const uint32_t w[] = { 4, 4 };
	const struct sched_ops *ops = &sched_weighted_roundrobin;
	struct pool pl;
	void *st;
	int count[MAXB] = { 0 };

	pool_init(&pl, 2, w);
	backend_set_agent(&pl.b[0], AGENT_UP, 25, "agent: 25%");
	assert_int_equal(pl.b[0].weight, 1);
	assert_int_equal(pl.b[0].weight_cfg, 4);
	st = ops->create(pl.p, pl.n);
	picks(ops, st, &pl, 50, count);
	assert_int_equal(count[0], 10);
	assert_int_equal(count[1], 40);
	backend_set_agent(&pl.b[0], AGENT_UP, 0, "agent: 0%");
	assert_int_equal(pl.b[0].weight, 0);
	assert_false(backend_usable(&pl.b[0]));
	backend_set_agent(&pl.b[0], AGENT_UP, 10, "agent: 10%");
	assert_int_equal(pl.b[0].weight, 1);    /* rounds up to 1, never to 0 */
	backend_set_agent(&pl.b[0], AGENT_DRAIN, 10, "agent: drain");
	assert_int_equal(pl.b[0].state, BACKEND_DRAIN);
	backend_set_agent(&pl.b[0], AGENT_MAINT, 10, "agent: maint");
	assert_int_equal(pl.b[0].state, BACKEND_MAINT);
	backend_set_agent(&pl.b[0], AGENT_DOWN, 10, "agent: down");
	assert_int_equal(pl.b[0].state, BACKEND_DOWN);
	backend_set_agent(&pl.b[0], AGENT_UP, 100, "agent: up 100%");
	assert_int_equal(pl.b[0].state, BACKEND_UP);
	assert_int_equal(pl.b[0].weight, 4);
	backend_set_weight(&pl.b[0], 8);        /* vigilctl weight keeps the percentage */
	backend_set_agent(&pl.b[0], AGENT_UP, 50, "agent: 50%");
	assert_int_equal(pl.b[0].weight, 4);
	assert_int_equal(pl.b[0].weight_cfg, 8);
	pl.b[0].healthy = false;                /* the checks still rule under "up" */
	backend_set_agent(&pl.b[0], AGENT_DRAIN, 50, "agent: drain");
	backend_set_agent(&pl.b[0], AGENT_UP, 50, "agent: up");
	assert_int_equal(pl.b[0].state, BACKEND_DOWN);
	ops->destroy(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_fixed_order),
		cmocka_unit_test(test_wrt_weight_bounds),
		cmocka_unit_test(test_wrt_slow_backend),
		cmocka_unit_test(test_rtt_ewma),
		cmocka_unit_test(test_agent_weights),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
