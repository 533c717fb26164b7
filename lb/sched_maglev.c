/* sched_maglev.c - source-hash as a Maglev lookup table (Eisenbud et al., NSDI 2016).
 *
 * The table has SCHED_MAGLEV_SIZE (prime) entries, each naming a backend by
 * pool_idx. It is built over the backends that are BACKEND_UP with weight > 0,
 * taken in name order; each one's permutation (offset, skip) comes from a
 * hash of its name, and it gets weight turns per round (weights divided by
 * their gcd). So the table depends only on names, weights and states: two
 * nodes with the same configuration build the same table, and removing one
 * backend moves only the keys it held. A key looks up entry key % size; if
 * that backend is not usable now (e.g. at maxconn) or is in the skip set, the
 * following entries are tried in order until a usable one is found.
 * Pools are limited to 65535 backends; any beyond are never chosen.
 */
#include "lb/sched.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "lb/backend.h"

#define MAGLEV_EMPTY 0xffffu
#define MAGLEV_MAXN 0xffffu

struct maglev {
	size_t n;
	size_t members;               /* backends in the table */
	uint16_t *table;              /* SCHED_MAGLEV_SIZE entries, pool_idx each */
	uint32_t *seen;               /* by pool_idx: pick generation last tried */
	uint32_t gen;
	struct backend *pool[];
};

/* One backend's walk through the table while populating. */
struct maglev_perm {
	uint16_t idx;
	uint32_t pos, skip, turns;
};

/* FNV-1a 64 of the name, then splitmix64's finalizer. */
static uint64_t maglev_name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; s && *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static int maglev_cmp(const void *a, const void *b)
{
	const struct backend *x = *(struct backend *const *)a;
	const struct backend *y = *(struct backend *const *)b;
	int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");

	return c ? c : (x->pool_idx > y->pool_idx) - (x->pool_idx < y->pool_idx);
}

static uint32_t gcd32(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* The members of the table, in name order, with their permutations. */
static size_t maglev_members(const struct maglev *m, struct maglev_perm *perm)
{
	struct backend **up = xcalloc(m->n ? m->n : 1, sizeof(*up));
	size_t i, k = 0;
	uint32_t g = 0;

	for (i = 0; i < m->n && i < MAGLEV_MAXN; i++)
		if (m->pool[i]->state == BACKEND_UP && m->pool[i]->weight > 0)
			up[k++] = m->pool[i];
	qsort(up, k, sizeof(*up), maglev_cmp);
	for (i = 0; i < k; i++)
		g = gcd32(g, up[i]->weight);
	for (i = 0; i < k; i++) {
		uint64_t h = maglev_name_hash(up[i]->name);

		perm[i].idx = (uint16_t)up[i]->pool_idx;
		perm[i].pos = (uint32_t)(h % SCHED_MAGLEV_SIZE);
		perm[i].skip = (uint32_t)((h >> 32) % (SCHED_MAGLEV_SIZE - 1)) + 1;
		perm[i].turns = up[i]->weight / g;
	}
	free(up);
	return k;
}

/* Rebuild the table from the backends' current states and weights. */
static void maglev_build(struct maglev *m)
{
	struct maglev_perm *perm = xcalloc(m->n ? m->n : 1, sizeof(*perm));
	size_t filled = 0, i;
	uint32_t t;

	m->members = maglev_members(m, perm);
	for (i = 0; i < SCHED_MAGLEV_SIZE; i++)
		m->table[i] = MAGLEV_EMPTY;
	while (m->members && filled < SCHED_MAGLEV_SIZE) {
		for (i = 0; i < m->members && filled < SCHED_MAGLEV_SIZE; i++) {
			struct maglev_perm *p = &perm[i];

			for (t = 0; t < p->turns && filled < SCHED_MAGLEV_SIZE; t++) {
				while (m->table[p->pos] != MAGLEV_EMPTY)
					p->pos = (p->pos + p->skip) % SCHED_MAGLEV_SIZE;
				m->table[p->pos] = p->idx;
				filled++;
			}
		}
	}
	free(perm);
}

static void *maglev_create(struct backend *const *pool, size_t n)
{
	struct maglev *m = xcalloc(1, sizeof(*m) + n * sizeof(m->pool[0]));
	size_t i;

	m->n = n;
	m->table = xcalloc(SCHED_MAGLEV_SIZE, sizeof(m->table[0]));
	m->seen = xcalloc(n ? n : 1, sizeof(m->seen[0]));
	for (i = 0; i < n; i++)
		m->pool[i] = pool[i];
	maglev_build(m);
	return m;
}

static void maglev_destroy(void *st)
{
	struct maglev *m = st;

	if (!m)
		return;
	free(m->table);
	free(m->seen);
	free(m);
}

/* Entry key % size, else the next entries; stops once every member was tried. */
static struct backend *maglev_pick(void *st, uint32_t key, const struct sched_skip *skip)
{
	struct maglev *m = st;
	uint32_t pos = key % SCHED_MAGLEV_SIZE, step;
	size_t tried = 0;

	if (!m->members)
		return NULL;
	if (++m->gen == 0) {
		memset(m->seen, 0, m->n * sizeof(m->seen[0]));
		m->gen = 1;
	}
	for (step = 0; step < SCHED_MAGLEV_SIZE; step++) {
		uint16_t e = m->table[pos];

		if (e != MAGLEV_EMPTY && m->seen[e] != m->gen) {
			m->seen[e] = m->gen;
			if (sched_eligible(m->pool[e], skip))
				return m->pool[e];
			if (++tried == m->members)
				break;
		}
		pos = pos + 1 == SCHED_MAGLEV_SIZE ? 0 : pos + 1;
	}
	return NULL;
}

static void maglev_changed(void *st, struct backend *b)
{
	maglev_build(st);
}

const struct sched_ops sched_source_hash = {
	.name = "source-hash",
	.create = maglev_create,
	.destroy = maglev_destroy,
	.pick = maglev_pick,
	.server_up = maglev_changed,
	.server_down = maglev_changed,
};
