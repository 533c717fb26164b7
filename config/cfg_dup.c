/* cfg_dup.c - duplicates among n items in O(n log n), and names looked up
 * in O(log n): the lists of a configuration (services, backends, peers,
 * VIP:ports, nodes, groups' services) can be long, and a pairwise
 * comparison would make loading quadratic in the file's size.
 */
#include "config/cfg_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct dup_sort {
	cfg_dup_cmp_fn cmp;
	void *arg;
};

static int dup_order(const void *a, const void *b, void *arg)
{
	const struct dup_sort *ds = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int r = ds->cmp(x, y, ds->arg);

	if (r)
		return r;
	return x < y ? -1 : x > y;
}

void cfg_first_equal(size_t n, cfg_dup_cmp_fn cmp, void *arg, size_t *first)
{
	struct dup_sort ds = { .cmp = cmp, .arg = arg };
	size_t *idx, run = 0;

	if (n == 0)
		return;
	idx = xcalloc(n, sizeof(*idx));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), dup_order, &ds);
	for (size_t k = 0; k < n; k++) {
		if (k == 0 || cmp(idx[run], idx[k], arg) != 0)
			run = k;                /* a new run: its first item has the lowest index */
		first[idx[k]] = idx[run];
	}
	free(idx);
}

void cfg_names_add(struct cfg_names *t, const char *name, size_t idx)
{
	if (!name)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = (struct cfg_name_ref){ .name = name, .idx = idx };
}

/* By name, then index: the first of a run is the lowest index. */
static int name_ref_cmp(const void *a, const void *b)
{
	const struct cfg_name_ref *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void cfg_names_sort(struct cfg_names *t)
{
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), name_ref_cmp);
}

size_t cfg_names_find(const struct cfg_names *t, const char *name)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {                     /* the first entry not below name */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && strcmp(t->v[lo].name, name) == 0 ? t->v[lo].idx : SIZE_MAX;
}

void cfg_names_free(struct cfg_names *t)
{
	free(t->v);
	*t = (struct cfg_names){ 0 };
}
