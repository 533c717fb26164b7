/* pipes.c - a pool of empty pipes for splice(2), so idle connections hold none. */
#include "lb/lb_internal.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define PIPES_POOL_MAX 64     /* spare pipes kept: the rest are closed */

int pipes_get(struct lb_worker *w, struct pipe_pair *out)
{
	int fds[2];

	if (w->nspare > 0) {
		*out = w->spare[--w->nspare];
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	out->rd = fds[0];
	out->wr = fds[1];
	out->size = fcntl(fds[1], F_GETPIPE_SZ);
	if (out->size <= 0)
		out->size = PIPES_DEFAULT_SIZE;
	return 0;
}

void pipes_put(struct lb_worker *w, struct pipe_pair *p)
{
	if (p->rd < 0)
		return;
	if (w->nspare < PIPES_POOL_MAX) {
		if (w->nspare == w->spare_cap) {
			w->spare_cap = w->spare_cap ? w->spare_cap * 2 : 16;
			w->spare = xrealloc(w->spare, w->spare_cap * sizeof(*w->spare));
		}
		w->spare[w->nspare++] = *p;
	} else {
		close(p->rd);
		close(p->wr);
	}
	p->rd = p->wr = -1;
}

void pipes_free_all(struct lb_worker *w)
{
	for (size_t i = 0; i < w->nspare; i++) {
		close(w->spare[i].rd);
		close(w->spare[i].wr);
	}
	free(w->spare);
	w->spare = NULL;
	w->nspare = w->spare_cap = 0;
}

void pipes_grow(struct pipe_pair *p)
{
	int n;

	if (p->size >= PIPES_BULK_SIZE)
		return;
	n = fcntl(p->wr, F_SETPIPE_SZ, PIPES_BULK_SIZE);
	/* refused (pipe-max-size, per-user limits): stay small, never ask again */
	p->size = n > 0 ? n : PIPES_BULK_SIZE;
}
