/* worker.c - proxy workers: an event loop each (worker 0 on the main loop,
 * the others on threads of their own), the calls the main loop makes on
 * them, and what they post back to the main loop. */
#include "lb/lb_internal.h"
#include "common/log.h"
#include "common/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- main loop -> worker ---- */

static void worker_run_tasks(struct lb_worker *w)
{
	struct worker_task *t, *next;

	pthread_mutex_lock(&w->mu);
	t = w->tasks;
	w->tasks = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; t; t = next) {
		next = t->next;        /* t lives on the caller's stack until done */
		t->fn(w, t->arg);
		pthread_mutex_lock(&w->mu);
		t->done = true;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
}

static void worker_wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	struct lb_worker *w = container_of(a, struct lb_worker, wake);
	bool stop;

	worker_run_tasks(w);
	if (atomic_load_explicit(&w->paused, memory_order_relaxed))
		listeners_resume(w);
	pthread_mutex_lock(&w->mu);
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	if (stop)
		ev_break(loop, EVBREAK_ALL);
}

struct lb_worker *worker_new(struct lb *lb, unsigned id)
{
	struct lb_worker *w = xcalloc(1, sizeof(*w));

	w->lb = lb;
	w->id = id;
	w->threaded = id > 0;
	w->loop = w->threaded ? ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK) : lb->loop;
	if (!w->loop)
		fatal("worker %u: cannot create an event loop", id);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	ev_init(&w->resume_timer, listeners_resume_cb);
	ev_async_init(&w->wake, worker_wake_cb);
	ev_async_start(w->loop, &w->wake);
	if (!w->threaded)
		ev_unref(w->loop);     /* the main loop's run does not wait on it */
	return w;
}

static void *worker_main(void *arg)
{
	struct lb_worker *w = arg;

	ev_run(w->loop, 0);
	return NULL;
}

int worker_start(struct lb_worker *w, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	if (!w->threaded || w->running)
		return 0;
	/* the thread inherits this mask: SIGTERM, SIGHUP... go to the main loop */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "worker %u: cannot start a thread: %s", w->id, strerror(rc));
		return -1;
	}
	w->running = true;
	return 0;
}

void worker_free(struct lb_worker *w)
{
	if (!w)
		return;
	if (w->running) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_mutex_unlock(&w->mu);
		ev_async_send(w->loop, &w->wake);
		pthread_join(w->thread, NULL);
		w->running = false;
	}
	if (!w->threaded)
		ev_ref(w->loop);
	ev_async_stop(w->loop, &w->wake);
	ev_timer_stop(w->loop, &w->resume_timer);
	while (w->listeners) {
		struct listener *l = w->listeners;
		w->listeners = l->next;
		listener_free(l);
	}
	pipes_free_all(w);
	if (w->threaded)
		ev_loop_destroy(w->loop);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void worker_call(struct lb_worker *w, void (*fn)(struct lb_worker *w, void *arg), void *arg)
{
	struct worker_task t = { .fn = fn, .arg = arg };
	struct worker_task **pp;

	if (!w->running) {
		fn(w, arg);
		return;
	}
	pthread_mutex_lock(&w->mu);
	for (pp = &w->tasks; *pp; pp = &(*pp)->next)
		;
	*pp = &t;
	pthread_mutex_unlock(&w->mu);
	ev_async_send(w->loop, &w->wake);
	pthread_mutex_lock(&w->mu);
	while (!t.done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

void workers_call(struct lb *lb, void (*fn)(struct lb_worker *w, void *arg), void *arg)
{
	for (unsigned i = 0; i < lb->nworkers; i++)
		worker_call(lb->workers[i], fn, arg);
}

void workers_kick_paused(struct lb *lb, const struct lb_worker *except)
{
	for (unsigned i = 0; i < lb->nworkers; i++)
		if (lb->workers[i] != except &&
		    atomic_load_explicit(&lb->workers[i]->paused, memory_order_relaxed))
			ev_async_send(lb->workers[i]->loop, &lb->workers[i]->wake);
}

/* ---- worker -> main loop ---- */

enum post_kind { POST_PASSIVE_FAILURE, POST_PERSIST };

struct lb_post {
	enum post_kind kind;
	struct lb_post *next;
	struct backend *b;             /* reference (passive failure) */
	uint16_t port;
	struct persist_key key;
	uint32_t ttl_ms;
	char *svc, *be;                /* persistence entry */
};

static void lb_post(struct lb *lb, struct lb_post *p)
{
	pthread_mutex_lock(&lb->post_mu);
	*lb->posts_tail = p;
	lb->posts_tail = &p->next;
	pthread_mutex_unlock(&lb->post_mu);
	ev_async_send(lb->loop, &lb->post_wake);
}

void lb_post_passive_failure(struct lb *lb, struct backend *b, uint16_t port)
{
	struct lb_post *p = xcalloc(1, sizeof(*p));

	p->kind = POST_PASSIVE_FAILURE;
	p->b = backend_ref(b);
	p->port = port;
	lb_post(lb, p);
}

void lb_post_persist(struct lb *lb, const char *svc, const struct persist_key *k,
		     const char *be, uint32_t ttl_ms)
{
	struct lb_post *p = xcalloc(1, sizeof(*p));

	p->kind = POST_PERSIST;
	p->svc = xstrdup(svc);
	p->be = xstrdup(be);
	p->key = *k;
	p->ttl_ms = ttl_ms;
	lb_post(lb, p);
}

static void post_run(struct lb *lb, struct lb_post *p, bool run)
{
	switch (p->kind) {
	case POST_PASSIVE_FAILURE:
		/* read now, on the main loop: a reload may have unwired the checks */
		if (run && p->b->check_hooks && p->b->check)
			p->b->check_hooks->passive_failure(p->b->check, p->port);
		backend_unref(p->b);
		break;
	case POST_PERSIST:
		if (run && lb->persist_cb)
			lb->persist_cb(p->svc, &p->key, p->be, p->ttl_ms, lb->persist_arg);
		free(p->svc);
		free(p->be);
		break;
	}
	free(p);
}

static void posts_take(struct lb *lb, bool run)
{
	struct lb_post *p, *next;

	pthread_mutex_lock(&lb->post_mu);
	p = lb->posts;
	lb->posts = NULL;
	lb->posts_tail = &lb->posts;
	pthread_mutex_unlock(&lb->post_mu);
	for (; p; p = next) {
		next = p->next;
		post_run(lb, p, run);
	}
}

void lb_posts_run(struct lb *lb) { posts_take(lb, true); }
void lb_posts_drop(struct lb *lb) { posts_take(lb, false); }
