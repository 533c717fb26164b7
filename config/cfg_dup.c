/* cfg_dup.c - duplicates among n items in O(n log n): the lists of a
 * configuration (services, backends, peers, VIP:ports) can be long, and a
 * pairwise comparison would make loading quadratic in the file's size.
 */
#include "config/cfg_internal.h"

#include <stdlib.h>

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
