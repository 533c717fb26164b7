/* test_sched.c - the five schedulers, driven with plain struct backend arrays. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/addr.h"
#include "lb/backend.h"
#include "lb/sched.h"
#include "lb/lb_internal.h"

#include <errno.h>

#define MAXB 16
#define M SCHED_MAGLEV_SIZE

/* A pool of plain backends named b0, b1, ... all up, weight 1. */
struct pool {
	size_t n;
	char names[MAXB][16];
	struct backend b[MAXB];
	struct backend *p[MAXB];
};

static void pool_init(struct pool *pl, size_t n)
{
	size_t i;

	memset(pl, 0, sizeof(*pl));
	pl->n = n;
	for (i = 0; i < n; i++) {
		snprintf(pl->names[i], sizeof(pl->names[i]), "b%u", (unsigned)i);
		pl->b[i].name = pl->names[i];
		pl->b[i].state = BACKEND_UP;
		pl->b[i].weight = 1;
		pl->b[i].pool_idx = (unsigned)i;
		pl->p[i] = &pl->b[i];
	}
}

static int idx_of(const struct pool *pl, const struct backend *b)
{
	return b ? (int)(b - pl->b) : -1;
}

/* Pick, count a connection on the backend (as the caller does), tell take(). */
static struct backend *pick_take(const struct sched_ops *ops, void *st, uint32_t key,
                                 const struct sched_skip *skip)
{
	struct backend *b = ops->pick(st, key, skip);

	if (b) {
		b->active++;
		if (ops->take)
			ops->take(st, b);
	}
	return b;
}

static void release_how(const struct sched_ops *ops, void *st, struct backend *b,
			enum sched_outcome how)
{
	b->active--;
	if (ops->release)
		ops->release(st, b, how);
}

static void release(const struct sched_ops *ops, void *st, struct backend *b)
{
	release_how(ops, st, b, SCHED_OK);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_sched_for(void **state)
{
	assert_string_equal(sched_for(SCHED_ROUNDROBIN)->name, "roundrobin");
	assert_string_equal(sched_for(SCHED_WEIGHTED_ROUNDROBIN)->name, "weighted-roundrobin");
	assert_string_equal(sched_for(SCHED_LEASTCONN)->name, "leastconn");
	assert_string_equal(sched_for(SCHED_WEIGHTED_LEASTCONN)->name, "weighted-leastconn");
	assert_string_equal(sched_for(SCHED_SOURCE_HASH)->name, "source-hash");
}

/* Every scheduler: an empty pool, and a pool with nothing usable, give NULL. */
static void test_all_null_when_none(void **state)
{
	static const enum sched_kind kinds[] = { SCHED_ROUNDROBIN, SCHED_WEIGHTED_ROUNDROBIN,
		SCHED_LEASTCONN, SCHED_WEIGHTED_LEASTCONN, SCHED_SOURCE_HASH };
	uint64_t bits[1] = { 1u << 3 };
	struct sched_skip skip = { .bits = bits, .nbits = 64 };
	struct pool pl;
	size_t k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct sched_ops *ops = sched_for(kinds[k]);
		void *st = ops->create(NULL, 0);

		assert_null(ops->pick(st, 7, NULL));
		ops->destroy(st);

		pool_init(&pl, 4);
		pl.b[0].state = BACKEND_DOWN;
		pl.b[1].weight = 0;
		pl.b[2].maxconn = 2;
		pl.b[2].active = 2;
		st = ops->create(pl.p, pl.n);
		assert_non_null(ops->pick(st, 7, NULL));
		assert_ptr_equal(ops->pick(st, 7, NULL), &pl.b[3]);
		assert_null(ops->pick(st, 7, &skip));
		pl.b[3].state = BACKEND_MAINT;
		if (ops->server_down)
			ops->server_down(st, &pl.b[3]);
		assert_null(ops->pick(st, 7, NULL));
		ops->destroy(st);
	}
}

/* Every scheduler: a backend gated down on a service port (a check with
 * ports: failed) is never picked for a client of that port, and still is for
 * the other ports; sched_eligible() is the one test they all apply. */
static void test_all_skip_gated_port(void **state)
{
	static const enum sched_kind kinds[] = { SCHED_ROUNDROBIN, SCHED_WEIGHTED_ROUNDROBIN,
		SCHED_LEASTCONN, SCHED_WEIGHTED_LEASTCONN, SCHED_SOURCE_HASH };
	struct sched_skip port0 = { .port_mask = 1u << 0 }, port1 = { .port_mask = 1u << 1 };
	struct pool pl;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct sched_ops *ops = sched_for(kinds[k]);
		unsigned seen0[4] = { 0 }, seen1[4] = { 0 };
		void *st;

		pool_init(&pl, 4);
		pl.b[2].gated_down = 1u << 1;        /* port index 1 is out for b2 */
		st = ops->create(pl.p, pl.n);
		for (uint32_t key = 0; key < 4000; key++) {
			struct backend *a = ops->pick(st, key * 2654435761u, &port0);

			assert_non_null(a);
			seen0[idx_of(&pl, a)]++;
		}
		for (uint32_t key = 0; key < 4000; key++) {
			struct backend *b = ops->pick(st, key * 2654435761u, &port1);

			assert_non_null(b);
			seen1[idx_of(&pl, b)]++;
		}
		assert_int_equal(seen1[2], 0);
		assert_true(seen0[2] > 0);
		assert_true(seen1[0] > 0 && seen1[1] > 0 && seen1[3] > 0);
		assert_false(sched_eligible(&pl.b[2], &port1));
		assert_true(sched_eligible(&pl.b[2], &port0));
		assert_true(sched_eligible(&pl.b[2], NULL));
		ops->destroy(st);
	}
}

/* ---- release outcomes ---- */

static const enum sched_kind all_kinds[] = { SCHED_ROUNDROBIN, SCHED_WEIGHTED_ROUNDROBIN,
	SCHED_LEASTCONN, SCHED_WEIGHTED_LEASTCONN, SCHED_SOURCE_HASH };

static void test_outcome_str(void **state)
{
	assert_string_equal(sched_outcome_str(SCHED_OK), "ok");
	assert_string_equal(sched_outcome_str(SCHED_BACKEND_FAILED), "backend failed");
	assert_string_equal(sched_outcome_str(SCHED_LOCAL_FAILED), "local failure");
}

/* Connect errors of this node are local, the backend's are the backend's. */
static void test_dial_failure_side(void **state)
{
	static const int local[] = { EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL,
				     EADDRINUSE, EAGAIN, EPERM, EACCES };
	static const int theirs[] = { ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH,
				      ECONNRESET };
	size_t i;

	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		assert_int_equal(conn_dial_failure_side(DIAL_CONNECT, local[i]), SCHED_LOCAL_FAILED);
	for (i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++) {
		assert_int_equal(conn_dial_failure_side(DIAL_CONNECT, theirs[i]),
				 SCHED_BACKEND_FAILED);
		/* whatever socket() or bind() says, it is about this node */
		assert_int_equal(conn_dial_failure_side(DIAL_SOCKET, theirs[i]), SCHED_LOCAL_FAILED);
		assert_int_equal(conn_dial_failure_side(DIAL_BIND, theirs[i]), SCHED_LOCAL_FAILED);
	}
	/* IP_TRANSPARENT refused (no CAP_NET_ADMIN) is this node's, never the backend's */
	assert_int_equal(conn_dial_failure_side(DIAL_TRANSPARENT, EPERM), SCHED_LOCAL_FAILED);
	assert_int_equal(conn_dial_failure_side(DIAL_TRANSPARENT, ENOPROTOOPT), SCHED_LOCAL_FAILED);
}

/* roundrobin: a local failure gives the backend its turn back, a backend
 * failure or a normal close does not. */
static void test_rr_local_failure_keeps_turn(void **state)
{
	const struct sched_ops *ops = &sched_roundrobin;
	struct backend *b;
	struct pool pl;
	void *st;

	pool_init(&pl, 3);
	st = ops->create(pl.p, pl.n);
	b = pick_take(ops, st, 0, NULL);
	assert_ptr_equal(b, &pl.b[0]);
	release_how(ops, st, b, SCHED_LOCAL_FAILED);
	b = pick_take(ops, st, 0, NULL);
	assert_ptr_equal(b, &pl.b[0]);          /* b0 again: its turn was not used */
	release_how(ops, st, b, SCHED_BACKEND_FAILED);
	b = pick_take(ops, st, 0, NULL);
	assert_ptr_equal(b, &pl.b[1]);          /* b0's failure is b0's: move on */
	release_how(ops, st, b, SCHED_OK);
	b = pick_take(ops, st, 0, NULL);
	assert_ptr_equal(b, &pl.b[2]);
	/* a pick in between moved the cursor: the late local failure changes nothing */
	assert_ptr_equal(pick_take(ops, st, 0, NULL), &pl.b[0]);
	release_how(ops, st, b, SCHED_LOCAL_FAILED);
	assert_ptr_equal(ops->pick(st, 0, NULL), &pl.b[1]);
	ops->destroy(st);
}

/* Every scheduler takes every outcome: active stays balanced, no backend is
 * lost from rotation, and after local failures the pick sequence is the one
 * without them (roundrobin and leastconn give the turn back, source-hash does
 * not depend on it; weighted-roundrobin keeps the turn charged). */
static void test_release_outcomes_all(void **state)
{
	static const enum sched_outcome outs[] = { SCHED_OK, SCHED_BACKEND_FAILED };
	struct pool pl, ref;

	for (size_t k = 0; k < sizeof(all_kinds) / sizeof(all_kinds[0]); k++) {
		const struct sched_ops *ops = sched_for(all_kinds[k]);
		void *st, *rst;
		int seen[4] = { 0 };

		pool_init(&pl, 4);
		pool_init(&ref, 4);
		st = ops->create(pl.p, pl.n);
		rst = ops->create(ref.p, ref.n);
		for (uint32_t i = 0; i < 400; i++) {
			struct backend *b = pick_take(ops, st, i * 2654435761u, NULL);
			struct backend *r = pick_take(ops, rst, i * 2654435761u, NULL);

			assert_non_null(b);
			if (all_kinds[k] != SCHED_WEIGHTED_ROUNDROBIN)
				assert_int_equal(idx_of(&pl, b), idx_of(&ref, r));
			if (i % 5 == 0) {
				/* a local failure, then the same client again */
				release_how(ops, st, b, SCHED_LOCAL_FAILED);
				b = pick_take(ops, st, i * 2654435761u, NULL);
				if (all_kinds[k] != SCHED_WEIGHTED_ROUNDROBIN)
					assert_int_equal(idx_of(&pl, b), idx_of(&ref, r));
			}
			seen[idx_of(&pl, b)]++;
			/* closed, or failed at the backend: the reference saw a close */
			release_how(ops, st, b, outs[i % 2]);
			release(ops, rst, r);
		}
		for (int i = 0; i < 4; i++) {
			assert_int_equal(pl.b[i].active, 0);
			assert_true(seen[i] > 0);
		}
		ops->destroy(st);
		ops->destroy(rst);
	}
}

/* ---- roundrobin ---- */

static void test_rr_rotation(void **state)
{
	const struct sched_ops *ops = &sched_roundrobin;
	struct pool pl;
	int count[4] = { 0 }, i;
	void *st;

	pool_init(&pl, 4);
	pl.b[2].weight = 9;             /* roundrobin ignores weights */
	st = ops->create(pl.p, pl.n);
	for (i = 0; i < 400; i++) {
		struct backend *b = ops->pick(st, 0, NULL);

		assert_int_equal(idx_of(&pl, b), i % 4);
		count[idx_of(&pl, b)]++;
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(count[i], 100);
	ops->destroy(st);
}

static void test_rr_skips(void **state)
{
	const struct sched_ops *ops = &sched_roundrobin;
	uint64_t bits[1] = { 1u << 6 };
	struct sched_skip skip = { .bits = bits, .nbits = 64 };
	struct pool pl;
	void *st;
	int i;

	pool_init(&pl, 8);
	pl.b[1].state = BACKEND_DOWN;
	pl.b[2].state = BACKEND_DRAIN;
	pl.b[3].state = BACKEND_MAINT;
	pl.b[4].weight = 0;
	pl.b[5].maxconn = 3;
	pl.b[5].active = 3;
	st = ops->create(pl.p, pl.n);
	for (i = 0; i < 10; i++) {
		assert_int_equal(idx_of(&pl, ops->pick(st, 0, &skip)), 0);
		assert_int_equal(idx_of(&pl, ops->pick(st, 0, &skip)), 7);
	}
	/* b6 only skipped for this client; b5 back below maxconn */
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 0);
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 6);
	pl.b[5].active = 2;
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 7);
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 0);
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 5);
	pl.b[0].state = pl.b[5].state = pl.b[6].state = pl.b[7].state = BACKEND_DOWN;
	assert_null(ops->pick(st, 0, NULL));
	ops->destroy(st);
}

/* ---- weighted-roundrobin ---- */

/* Fill seq with n picks as pool indexes. */
static void picks(const struct sched_ops *ops, void *st, const struct pool *pl, int *seq, int n)
{
	int i;

	for (i = 0; i < n; i++)
		seq[i] = idx_of(pl, ops->pick(st, 0, NULL));
}

static void test_wrr_123(void **state)
{
	const struct sched_ops *ops = &sched_weighted_roundrobin;
	static const int nginx[6] = { 2, 1, 0, 2, 1, 2 };   /* c b a c b c */
	struct pool pl;
	int seq[600], c, i;
	void *st;

	pool_init(&pl, 3);
	pl.b[0].weight = 1;
	pl.b[1].weight = 2;
	pl.b[2].weight = 3;
	st = ops->create(pl.p, pl.n);
	picks(ops, st, &pl, seq, 600);
	for (i = 0; i < 600; i++)
		assert_int_equal(seq[i], nginx[i % 6]);
	for (c = 0; c < 100; c++) {
		int count[3] = { 0 };

		for (i = 0; i < 6; i++)
			count[seq[c * 6 + i]]++;
		assert_int_equal(count[0], 1);
		assert_int_equal(count[1], 2);
		assert_int_equal(count[2], 3);
	}
	for (i = 2; i < 600; i++)
		assert_false(seq[i] == seq[i - 1] && seq[i] == seq[i - 2]);
	ops->destroy(st);
}

static void test_wrr_511(void **state)
{
	const struct sched_ops *ops = &sched_weighted_roundrobin;
	static const int nginx[7] = { 0, 0, 1, 0, 2, 0, 0 };  /* a a b a c a a */
	struct pool pl;
	int seq[70], i;
	void *st;

	pool_init(&pl, 3);
	pl.b[0].weight = 5;
	st = ops->create(pl.p, pl.n);
	picks(ops, st, &pl, seq, 70);
	for (i = 0; i < 70; i++)
		assert_int_equal(seq[i], nginx[i % 7]);
	ops->destroy(st);
}

static void test_wrr_changes(void **state)
{
	const struct sched_ops *ops = &sched_weighted_roundrobin;
	uint64_t bits[1] = { 1u << 0 };
	struct sched_skip skip = { .bits = bits, .nbits = 64 };
	struct pool pl;
	int seq[60], count[3] = { 0 }, i;
	void *st;

	pool_init(&pl, 3);
	st = ops->create(pl.p, pl.n);
	picks(ops, st, &pl, seq, 4);           /* mid-cycle */
	pl.b[0].weight = 4;
	if (ops->server_up)
		ops->server_up(st, &pl.b[0]);
	picks(ops, st, &pl, seq, 60);
	for (i = 0; i < 60; i++)
		count[seq[i]]++;
	assert_int_equal(count[0], 40);
	assert_int_equal(count[1], 10);
	assert_int_equal(count[2], 10);

	pl.b[1].state = BACKEND_DOWN;
	if (ops->server_down)
		ops->server_down(st, &pl.b[1]);
	memset(count, 0, sizeof(count));
	picks(ops, st, &pl, seq, 50);
	for (i = 0; i < 50; i++)
		count[seq[i]]++;
	assert_int_equal(count[0], 40);
	assert_int_equal(count[1], 0);
	assert_int_equal(count[2], 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(idx_of(&pl, ops->pick(st, 0, &skip)), 2);
	pl.b[2].maxconn = 1;
	pl.b[2].active = 1;
	assert_null(ops->pick(st, 0, &skip));
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 0);
	ops->destroy(st);
}

/* ---- leastconn / weighted-leastconn ---- */

static void test_lc_min_and_ties(void **state)
{
	const struct sched_ops *ops = &sched_leastconn;
	uint64_t bits[1] = { 1u << 1 | 1u << 3 };
	struct sched_skip skip = { .bits = bits, .nbits = 64 };
	struct pool pl;
	int i;
	void *st;

	pool_init(&pl, 4);
	pl.b[0].active = 5;
	pl.b[1].active = 2;
	pl.b[2].active = 7;
	pl.b[3].active = 2;
	pl.b[3].weight = 50;            /* leastconn ignores weights */
	st = ops->create(pl.p, pl.n);
	for (i = 0; i < 10; i++) {      /* tie between b1 and b3 rotates */
		int a = idx_of(&pl, ops->pick(st, 0, NULL));
		int b = idx_of(&pl, ops->pick(st, 0, NULL));

		assert_true((a == 1 && b == 3) || (a == 3 && b == 1));
	}
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, &skip)), 0);
	pl.b[1].maxconn = 2;
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 3);
	pl.b[3].state = BACKEND_DRAIN;
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 0);
	ops->destroy(st);
}

/* Random opens and closes: every pick has the least load, and the load stays even. */
static void lc_simulate(const struct sched_ops *ops, bool weighted)
{
	struct backend *open[4096];
	size_t nopen = 0;
	uint64_t rng = 88172645463325252ull, total[5] = { 0 };
	struct pool pl;
	void *st;
	int i, j;

	pool_init(&pl, 5);
	for (i = 0; i < 5; i++)
		pl.b[i].weight = weighted ? (uint32_t)i + 1 : 1;
	st = ops->create(pl.p, pl.n);
	for (i = 0; i < 200000; i++) {
		if (nopen < 3000 && (nopen < 1000 || rng_next(&rng) % 2)) {
			struct backend *b = pick_take(ops, st, 0, NULL);

			assert_non_null(b);
			for (j = 0; j < 5; j++) {  /* b had the least load before take */
				uint64_t lhs = (uint64_t)(b->active - 1) * pl.b[j].weight;

				assert_true(lhs <= (uint64_t)pl.b[j].active * b->weight);
			}
			total[idx_of(&pl, b)]++;
			open[nopen++] = b;
		} else {
			size_t k = rng_next(&rng) % nopen;

			release(ops, st, open[k]);
			open[k] = open[--nopen];
		}
	}
	for (i = 0; i < 5; i++) {
		double want = weighted ? (i + 1) / 15.0 : 1 / 5.0;
		double got = (double)total[i] / (double)(total[0] + total[1] + total[2] + total[3] + total[4]);

		assert_true(got > want * 0.9 && got < want * 1.1);
	}
	while (nopen)
		release(ops, st, open[--nopen]);
	ops->destroy(st);
}

static void test_lc_distribution(void **state)
{
	lc_simulate(&sched_leastconn, false);
}

static void test_wlc_ratio(void **state)
{
	const struct sched_ops *ops = &sched_weighted_leastconn;
	struct pool pl;
	int i, a, b;
	void *st;

	pool_init(&pl, 3);
	pl.b[0].weight = 1;
	pl.b[1].weight = 2;
	pl.b[2].weight = 3;
	st = ops->create(pl.p, pl.n);
	for (i = 0; i < 600; i++)
		pick_take(ops, st, 0, NULL);
	assert_int_equal(pl.b[0].active, 100);
	assert_int_equal(pl.b[1].active, 200);
	assert_int_equal(pl.b[2].active, 300);
	ops->destroy(st);

	pool_init(&pl, 3);
	pl.b[0].active = 3;             /* 3/1 */
	pl.b[1].active = 5;             /* 5/2 is lower */
	pl.b[1].weight = 2;
	pl.b[2].state = BACKEND_DOWN;
	st = ops->create(pl.p, pl.n);
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 1);
	pl.b[1].active = 6;             /* 6/2 == 3/1: ties rotate */
	a = idx_of(&pl, ops->pick(st, 0, NULL));
	b = idx_of(&pl, ops->pick(st, 0, NULL));
	assert_true((a == 0 && b == 1) || (a == 1 && b == 0));
	pl.b[0].active = 4000000000u;   /* no overflow in the cross products */
	pl.b[1].active = 4000000000u;
	pl.b[1].weight = 256;
	assert_int_equal(idx_of(&pl, ops->pick(st, 0, NULL)), 1);
	ops->destroy(st);
}

static void test_wlc_distribution(void **state)
{
	lc_simulate(&sched_weighted_leastconn, true);
}

/* ---- source-hash (Maglev) ---- */

/* The table as seen through pick(): entry k is what key k maps to. */
static void maglev_dump(void *st, const struct pool *pl, int *out)
{
	uint32_t k;

	for (k = 0; k < M; k++)
		out[k] = idx_of(pl, sched_source_hash.pick(st, k, NULL));
}

static void test_maglev_identical(void **state)
{
	const struct sched_ops *ops = &sched_source_hash;
	static const char *names[5] = { "cas1", "cas2", "cas3", "mx-a", "mx-b" };
	struct pool a, r;
	int *ta = calloc(M, sizeof(int)), *tb = calloc(M, sizeof(int));
	void *sa, *sb;
	uint32_t k;
	int i;

	pool_init(&a, 5);
	pool_init(&r, 5);
	for (i = 0; i < 5; i++) {        /* r: the same backends in reverse order */
		strcpy(a.names[i], names[i]);
		strcpy(r.names[4 - i], names[i]);
	}
	a.b[1].state = BACKEND_DOWN;
	r.b[3].state = BACKEND_DOWN;
	a.b[2].weight = 3;
	r.b[2].weight = 3;
	sa = ops->create(a.p, a.n);
	sb = ops->create(r.p, r.n);
	maglev_dump(sa, &a, ta);
	maglev_dump(sb, &r, tb);
	for (k = 0; k < M; k++) {
		assert_true(ta[k] >= 0 && tb[k] >= 0);
		assert_string_equal(a.names[ta[k]], r.names[tb[k]]);
	}
	/* the same states reached through different events */
	a.b[0].state = BACKEND_DOWN;
	if (ops->server_down)
		ops->server_down(sa, &a.b[0]);
	a.b[0].state = BACKEND_UP;
	if (ops->server_up)
		ops->server_up(sa, &a.b[0]);
	maglev_dump(sa, &a, tb);
	assert_memory_equal(ta, tb, M * sizeof(int));
	ops->destroy(sa);
	ops->destroy(sb);
	free(ta);
	free(tb);
}

static void maglev_shares(const struct pool *pl, const int *t, double *share)
{
	size_t i;
	uint32_t k;

	for (i = 0; i < pl->n; i++)
		share[i] = 0;
	for (k = 0; k < M; k++)
		share[t[k]] += 1.0 / M;
}

static void test_maglev_balance(void **state)
{
	const struct sched_ops *ops = &sched_source_hash;
	int *t = calloc(M, sizeof(int));
	double share[MAXB];
	struct pool pl;
	size_t n, i;
	void *st;

	for (n = 2; n <= 10; n += 4) {
		pool_init(&pl, n);
		st = ops->create(pl.p, pl.n);
		maglev_dump(st, &pl, t);
		maglev_shares(&pl, t, share);
		for (i = 0; i < n; i++)
			assert_true(share[i] > 0.97 / n && share[i] < 1.03 / n);
		ops->destroy(st);
	}
	/* weights 2:1, and weight 0 is never chosen */
	pool_init(&pl, 3);
	pl.b[0].weight = 2;
	pl.b[2].weight = 0;
	st = ops->create(pl.p, pl.n);
	maglev_dump(st, &pl, t);
	maglev_shares(&pl, t, share);
	print_message("maglev weights 2:1:0 shares %.4f %.4f %.4f\n", share[0], share[1], share[2]);
	assert_true(share[0] > 0.65 && share[0] < 0.68);
	assert_true(share[1] > 0.32 && share[1] < 0.35);
	assert_true(share[2] == 0);
	ops->destroy(st);
	free(t);
}

/* Remove one of n: only keys that were on it move; adding it back restores. */
static void maglev_disruption(size_t n, size_t victim)
{
	const struct sched_ops *ops = &sched_source_hash;
	enum { KEYS = 100000 };
	uint32_t *keys = calloc(KEYS, sizeof(*keys));
	int *before = calloc(KEYS, sizeof(int)), moved = 0, onvictim = 0;
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	struct pool pl;
	void *st;
	size_t i;

	pool_init(&pl, n);
	st = ops->create(pl.p, pl.n);
	for (i = 0; i < KEYS; i++) {
		keys[i] = (uint32_t)rng_next(&rng);
		before[i] = idx_of(&pl, ops->pick(st, keys[i], NULL));
	}
	pl.b[victim].state = BACKEND_DOWN;
	if (ops->server_down)
		ops->server_down(st, &pl.b[victim]);
	for (i = 0; i < KEYS; i++) {
		int now = idx_of(&pl, ops->pick(st, keys[i], NULL));

		assert_true(now >= 0 && now != (int)victim);
		moved += now != before[i];
		onvictim += before[i] == (int)victim;
	}
	print_message("maglev n=%zu: removing one moved %.2f%% of keys (%.2f%% were on it)\n",
	              n, 100.0 * moved / KEYS, 100.0 * onvictim / KEYS);
	assert_true((double)moved / KEYS <= 1.0 / n + 0.02);
	pl.b[victim].state = BACKEND_UP;
	if (ops->server_up)
		ops->server_up(st, &pl.b[victim]);
	for (i = 0; i < KEYS; i++)
		assert_int_equal(idx_of(&pl, ops->pick(st, keys[i], NULL)), before[i]);
	ops->destroy(st);
	free(keys);
	free(before);
}

static void test_maglev_disruption(void **state)
{
	maglev_disruption(3, 1);
	maglev_disruption(5, 0);
	maglev_disruption(10, 7);
}

static void test_source_key(void **state)
{
	struct addr a, b;

	assert_int_equal(addr_parse_ip("192.0.2.10", &a), 0);
	assert_int_equal(addr_parse_ip("192.0.2.200", &b), 0);
	assert_int_equal(sched_source_key(&a, 24), sched_source_key(&b, 24));
	assert_int_not_equal(sched_source_key(&a, 32), sched_source_key(&b, 32));
	assert_int_equal(sched_source_key(&a, 32), sched_source_key(&a, 32));
	assert_int_equal(sched_source_key(&a, 32), sched_source_key(&a, -1));
	assert_int_equal(addr_parse_ip("192.0.2.130", &b), 0);
	assert_int_not_equal(sched_source_key(&a, 25), sched_source_key(&b, 25));
	assert_int_equal(sched_source_key(&a, 24), sched_source_key(&b, 24));
	assert_int_equal(addr_parse_ip("192.0.3.10", &b), 0);
	assert_int_not_equal(sched_source_key(&a, 24), sched_source_key(&b, 24));
	assert_int_equal(sched_source_key(&a, 0), sched_source_key(&b, 0));
	/* an IPv4-mapped IPv6 client is its IPv4 address */
	assert_int_equal(addr_parse_ip("::ffff:192.0.2.10", &b), 0);
	assert_int_equal(sched_source_key(&a, 32), sched_source_key(&b, 32));

	assert_int_equal(addr_parse_ip("2001:db8:1:2::1", &a), 0);
	assert_int_equal(addr_parse_ip("2001:db8:1:2:ffff::9", &b), 0);
	assert_int_equal(sched_source_key(&a, 64), sched_source_key(&b, 64));
	assert_int_not_equal(sched_source_key(&a, 128), sched_source_key(&b, 128));
	assert_int_equal(addr_parse_ip("2001:db8:1:3::1", &b), 0);
	assert_int_not_equal(sched_source_key(&a, 64), sched_source_key(&b, 64));
	assert_int_equal(sched_source_key(&a, 47), sched_source_key(&b, 47));
	/* ::/0 and 0.0.0.0/0 still differ by family */
	assert_int_equal(addr_parse_ip("192.0.2.10", &b), 0);
	assert_int_not_equal(sched_source_key(&a, 0), sched_source_key(&b, 0));
}

/* The next owner after entry key in table order, other than those excluded. */
static int maglev_next_owner(const int *t, uint32_t key, const bool *excl)
{
	uint32_t j;

	for (j = 0; j < M; j++)
		if (!excl[t[(key + j) % M]])
			return t[(key + j) % M];
	return -1;
}

static void test_maglev_fallback(void **state)
{
	const struct sched_ops *ops = &sched_source_hash;
	uint64_t bits[1];
	struct sched_skip skip = { .bits = bits, .nbits = 64 };
	int *t = calloc(M, sizeof(int));
	struct pool pl, p2;
	void *st, *s2;
	uint32_t key, moved;
	int owner, want;

	pool_init(&pl, 6);
	pool_init(&p2, 6);
	st = ops->create(pl.p, pl.n);
	s2 = ops->create(p2.p, p2.n);
	maglev_dump(st, &pl, t);
	for (key = 11; key < M * 8u; key += 4099) {
		bool excl[MAXB] = { false };

		owner = t[key % M];
		excl[owner] = true;
		want = maglev_next_owner(t, key % M, excl);
		bits[0] = 1u << owner;
		assert_int_equal(idx_of(&pl, ops->pick(st, key, &skip)), want);
		assert_int_equal(idx_of(&p2, ops->pick(s2, key, &skip)), want);
		/* the owner at maxconn falls back the same way */
		pl.b[owner].maxconn = 4;
		pl.b[owner].active = 4;
		assert_int_equal(idx_of(&pl, ops->pick(st, key, NULL)), want);
		/* ... and the owner plus the next one skipped */
		excl[want] = true;
		bits[0] = 1u << want;
		assert_int_equal(idx_of(&pl, ops->pick(st, key, &skip)),
		                 maglev_next_owner(t, key % M, excl));
		pl.b[owner].active = 0;
		assert_int_equal(idx_of(&pl, ops->pick(st, key, NULL)), owner);
	}
	/* draining: out of the table; other keys barely move */
	pl.b[2].state = BACKEND_DRAIN;
	if (ops->server_down)
		ops->server_down(st, &pl.b[2]);
	moved = 0;
	for (key = 0; key < M; key++) {
		owner = idx_of(&pl, ops->pick(st, key, NULL));
		assert_true(owner >= 0 && owner != 2);
		moved += owner != t[key];
	}
	assert_true(moved <= M / 6 + M / 50);
	bits[0] = 0x3f;
	assert_null(ops->pick(st, 5, &skip));
	ops->destroy(st);
	ops->destroy(s2);
	free(t);
}

/* ---- pick cost ---- */

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

static void test_pick_cost(void **state)
{
	static const enum sched_kind kinds[] = { SCHED_ROUNDROBIN, SCHED_WEIGHTED_ROUNDROBIN,
		SCHED_LEASTCONN, SCHED_WEIGHTED_LEASTCONN, SCHED_SOURCE_HASH };
	enum { PICKS = 1000000 };
	struct timespec t0, t1;
	struct pool pl;
	size_t k, i;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct sched_ops *ops = sched_for(kinds[k]);
		uint64_t rng = 12345, sum = 0;
		void *st;

		pool_init(&pl, 10);
		for (i = 0; i < 10; i++)
			pl.b[i].weight = (uint32_t)i % 3 + 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		st = ops->create(pl.p, pl.n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		print_message("create %-20s %10.0f ns\n", ops->name, elapsed_ns(&t0, &t1));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < PICKS; i++) {
			struct backend *b = ops->pick(st, (uint32_t)rng_next(&rng), NULL);

			sum += b->pool_idx;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_true(sum > 0);
		print_message("pick   %-20s %10.1f ns (10 backends, 1M picks)\n", ops->name,
		              elapsed_ns(&t0, &t1) / PICKS);
		ops->destroy(st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_for),
		cmocka_unit_test(test_all_null_when_none),
		cmocka_unit_test(test_all_skip_gated_port),
		cmocka_unit_test(test_rr_rotation),
		cmocka_unit_test(test_rr_skips),
		cmocka_unit_test(test_wrr_123),
		cmocka_unit_test(test_wrr_511),
		cmocka_unit_test(test_wrr_changes),
		cmocka_unit_test(test_lc_min_and_ties),
		cmocka_unit_test(test_lc_distribution),
		cmocka_unit_test(test_wlc_ratio),
		cmocka_unit_test(test_wlc_distribution),
		cmocka_unit_test(test_source_key),
		cmocka_unit_test(test_maglev_identical),
		cmocka_unit_test(test_maglev_balance),
		cmocka_unit_test(test_maglev_disruption),
		cmocka_unit_test(test_maglev_fallback),
		cmocka_unit_test(test_pick_cost),
		cmocka_unit_test(test_outcome_str),
		cmocka_unit_test(test_dial_failure_side),
		cmocka_unit_test(test_rr_local_failure_keeps_turn),
		cmocka_unit_test(test_release_outcomes_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
