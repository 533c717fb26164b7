/* cfg_errors.c - the errors of one load, each with its position, sorted into
 * file order before they are handed out.
 */
#include "config/cfg_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

/* Room for one more error? The one past CFG_MAX_ERRORS becomes a last line
 * saying the list stops there, so a file of a million mistakes costs no
 * more than a few. */
static bool errlist_room(struct errlist *el)
{
	char *msg;

	if (el->n < CFG_MAX_ERRORS)
		return true;
	if (el->n > CFG_MAX_ERRORS)
		return false;
	if (asprintf(&msg, "%s: too many errors (only the first %d are listed)", el->file,
		     CFG_MAX_ERRORS) < 0) {
		fprintf(stderr, "vigil: out of memory formatting a config error\n");
		abort();
	}
	el->cap = el->n + 1;
	el->v = xrealloc(el->v, el->cap * sizeof(*el->v));
	el->v[el->n] = (struct cfg_err){ .line = UINT_MAX, .col = UINT_MAX, .seq = el->n,
					 .msg = msg };
	el->n++;
	return false;
}

static void errlist_push(struct errlist *el, unsigned line, unsigned col, char *msg)
{
	if (el->n == el->cap) {
		el->cap = el->cap ? el->cap * 2 : 8;
		el->v = xrealloc(el->v, el->cap * sizeof(*el->v));
	}
	el->v[el->n] = (struct cfg_err){ .line = line, .col = col, .seq = el->n, .msg = msg };
	el->n++;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0) {
		fprintf(stderr, "vigil: out of memory formatting a config error\n");
		abort();
	}
	return s;
}

static void errlist_vadd(struct errlist *el, unsigned line, unsigned col, const char *path,
			 const char *fmt, va_list ap)
{
	char *what, *msg;

	if (!errlist_room(el))
		return;
	what = vformat(fmt, ap);

	if (path && *path) {
		if (asprintf(&msg, "%s:%u:%u: %s: %s", el->file, line, col, path, what) < 0)
			msg = NULL;
	} else if (asprintf(&msg, "%s:%u:%u: %s", el->file, line, col, what) < 0) {
		msg = NULL;
	}
	free(what);
	if (!msg) {
		fprintf(stderr, "vigil: out of memory formatting a config error\n");
		abort();
	}
	errlist_push(el, line, col, msg);
}

void errlist_add(struct errlist *el, unsigned line, unsigned col, const char *path,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_vadd(el, line, col, path, fmt, ap);
	va_end(ap);
}

void errlist_at(struct errlist *el, const struct ynode *n, const char *path,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_vadd(el, n->line, n->col, path, fmt, ap);
	va_end(ap);
}

void errlist_plain(struct errlist *el, const char *fmt, ...)
{
	va_list ap;
	char *what, *msg;

	if (!errlist_room(el))
		return;
	va_start(ap, fmt);
	what = vformat(fmt, ap);
	va_end(ap);
	if (asprintf(&msg, "%s: %s", el->file, what) < 0) {
		fprintf(stderr, "vigil: out of memory formatting a config error\n");
		abort();
	}
	free(what);
	errlist_push(el, 0, 0, msg);
}

static int err_cmp(const void *a, const void *b)
{
	const struct cfg_err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void errlist_finish(struct errlist *el, struct cfg_errors *out)
{
	if (el->n)
		qsort(el->v, el->n, sizeof(*el->v), err_cmp);
	out->msgs = el->n ? xcalloc(el->n, sizeof(*out->msgs)) : NULL;
	out->count = el->n;
	for (size_t i = 0; i < el->n; i++)
		out->msgs[i] = el->v[i].msg;
	free(el->v);
	el->v = NULL;
	el->n = el->cap = 0;
}

void cfg_errors_free(struct cfg_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->count; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->count = 0;
}
