/* lb.c - the set of services and listeners, and applying a configuration. */
#include "lb/lb_internal.h"
#include "common/log.h"
#include "common/util.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lb_svc_avail(struct service *svc, bool available, void *arg)
{
	struct lb *lb = arg;

	if (lb->avail_cb)
		lb->avail_cb(svc, available, lb->avail_arg);
}

static void lb_svc_backend_down(struct service *svc, struct backend *b, void *arg)
{
	lb_close_backend(arg, b, "backend down (on_down: close)");
}

static void lb_post_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	lb_posts_run(container_of(a, struct lb, post_wake));
}

/* workers: auto: the CPUs this process may run on. */
static unsigned workers_for(uint32_t conf)
{
	cpu_set_t set;
	int n;

	if (conf)
		return conf;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	return n < 1 ? 1 : n > CFG_WORKERS_MAX ? CFG_WORKERS_MAX : (unsigned)n;
}

struct lb *lb_new(struct ev_loop *loop)
{
	struct lb *lb = xcalloc(1, sizeof(*lb));
	const char *ns = getenv("VIGIL_NO_SPLICE"), *sh = getenv("VIGIL_LISTEN_SHARED");

	lb->loop = loop;
	lb->accepting = true;
	lb->use_splice = !(ns && *ns && strcmp(ns, "0") != 0);
	lb->shared_listen = sh && *sh && strcmp(sh, "0") != 0;
	pthread_mutex_init(&lb->post_mu, NULL);
	lb->posts_tail = &lb->posts;
	ev_async_init(&lb->post_wake, lb_post_cb);
	ev_async_start(loop, &lb->post_wake);
	ev_unref(loop);                /* the main loop's run does not wait on it */
	return lb;
}

/* The first configuration fixes the number of workers; VIGIL_WORKERS
 * (1..64) overrides it, e.g. to run a test suite with another number. */
static void lb_make_workers(struct lb *lb, const struct config *cfg)
{
	const char *env = getenv("VIGIL_WORKERS");
	long n = env && *env ? strtol(env, NULL, 10) : 0;

	lb->nworkers = n >= 1 && n <= CFG_WORKERS_MAX ? (unsigned)n : workers_for(cfg->global.workers);
	lb->workers = xcalloc(lb->nworkers, sizeof(*lb->workers));
	for (unsigned i = 0; i < lb->nworkers; i++)
		lb->workers[i] = worker_new(lb, i);
	log_notice("%u proxy worker%s%s", lb->nworkers, lb->nworkers == 1 ? "" : "s",
		   lb->nworkers > 1 ? (lb->shared_listen ? ", one shared listening socket per "
				       "VIP:port" : ", a listening socket each (SO_REUSEPORT)") : "");
}

int lb_start_workers(struct lb *lb, char *err, size_t errlen)
{
	for (unsigned i = 0; i < lb->nworkers; i++)
		if (worker_start(lb->workers[i], err, errlen) < 0)
			return -1;
	lb->started = true;
	return 0;
}

unsigned lb_nworkers(const struct lb *lb) { return lb->nworkers; }

static void lb_svc_state(struct service *svc, struct backend *b, enum backend_state old,
			 const char *reason, void *arg)
{
	struct lb *lb = arg;

	if (lb->state_cb)
		lb->state_cb(svc, b, old, reason, lb->state_arg);
}

void lb_set_state_hook(struct lb *lb, lb_state_fn *cb, void *arg)
{
	lb->state_cb = cb;
	lb->state_arg = arg;
}

void lb_set_avail_hook(struct lb *lb, void (*cb)(struct service *, bool, void *), void *arg)
{
	lb->avail_cb = cb;
	lb->avail_arg = arg;
}

void lb_free(struct lb *lb)
{
	if (!lb)
		return;
	lb_close_all(lb, "shutdown");
	lb_stop_accepting(lb);
	for (unsigned i = 0; i < lb->nworkers; i++)
		worker_free(lb->workers[i]);
	free(lb->workers);
	lb_posts_drop(lb);             /* the checks and the sync are gone already */
	ev_ref(lb->loop);
	ev_async_stop(lb->loop, &lb->post_wake);
	pthread_mutex_destroy(&lb->post_mu);
	for (size_t i = 0; i < lb->nservices; i++) {
		service_retire(lb->services[i]);
		service_unref(lb->services[i]);
	}
	free(lb->services);
	free(lb);
}

static struct service *find_old(struct lb *lb, const char *name)
{
	for (size_t i = 0; i < lb->nservices; i++)
		if (lb->services[i] && strcmp(lb->services[i]->name, name) == 0)
			return lb->services[i];
	return NULL;
}

static struct lsock *find_lsock(struct lsock *list, const struct addr *a)
{
	for (struct lsock *ls = list; ls; ls = ls->next)
		if (addr_equal_ip(&ls->addr, a) && addr_port(&ls->addr) == addr_port(a))
			return ls;
	return NULL;
}

/* Open every VIP:port of cfg that is not open yet; all or nothing. The new
 * socket sets are returned in *fresh. */
static int open_new_lsocks(struct lb *lb, const struct config *cfg, struct lsock **fresh,
			   char *err, size_t errlen)
{
	unsigned nfds = lb->shared_listen ? 1 : lb->nworkers;

	*fresh = NULL;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct service_conf *sc = &cfg->services[i];

		for (size_t p = 0; p < sc->nports; p++) {
			struct addr a = sc->vip;
			struct lsock *ls;

			addr_set_port(&a, sc->ports[p]);
			if (find_lsock(lb->lsocks, &a) || find_lsock(*fresh, &a))
				continue;
			ls = lsock_open(&a, sc->backlog, nfds, err, errlen);
			if (!ls) {
				while (*fresh) {
					ls = *fresh;
					*fresh = ls->next;
					lsock_close(ls);
				}
				return -1;
			}
			ls->next = *fresh;
			*fresh = ls;
		}
	}
	return 0;
}

/* The service of the new configuration that owns VIP:port a. */
static struct service *owner_of(struct service **svcs, const struct config *cfg,
				const struct addr *a)
{
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct service_conf *sc = &cfg->services[i];

		if (!addr_equal_ip(&sc->vip, a))
			continue;
		for (size_t p = 0; p < sc->nports; p++)
			if (sc->ports[p] == addr_port(a))
				return svcs[i];
	}
	return NULL;
}

/* Build the new service list, reusing same-named services in place. */
static struct service **build_services(struct lb *lb, const struct config *cfg)
{
	struct service **svcs = xcalloc(cfg->nservices, sizeof(*svcs));

	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct service_conf *sc = &cfg->services[i];
		struct service *old = find_old(lb, sc->name);

		if (old) {
			for (size_t j = 0; j < lb->nservices; j++)
				if (lb->services[j] == old)
					lb->services[j] = NULL;
			service_update(old, sc);
			svcs[i] = old;
		} else {
			svcs[i] = service_new(sc);
		}
		svcs[i]->hooks.avail = lb_svc_avail;
		svcs[i]->hooks.backend_down = lb_svc_backend_down;
		svcs[i]->hooks.state_changed = lb_svc_state;
		svcs[i]->hooks.arg = lb;
	}
	return svcs;
}

/* Point every socket set at its owner; take out the ones no service wants
 * (returned in *gone, to close once no worker watches them). */
static void assign_lsocks(struct lb *lb, struct lsock *fresh, const struct config *cfg,
			  struct lsock **gone)
{
	struct lsock **pp = &lb->lsocks;

	*gone = NULL;
	while (*pp) {
		struct lsock *ls = *pp;
		struct service *owner = owner_of(lb->services, cfg, &ls->addr);

		if (!owner) {
			char as[ADDR_STRLEN];
			log_notice("listener %s closed (no longer configured)",
				   addr_str(&ls->addr, as, sizeof(as)));
			*pp = ls->next;
			ls->next = *gone;
			*gone = ls;
			continue;
		}
		if (ls->svc != owner) {
			service_unref(ls->svc);
			ls->svc = service_ref(owner);
		}
		pp = &ls->next;
	}
	*pp = fresh;
	for (struct lsock *ls = fresh; ls; ls = ls->next)
		ls->svc = service_ref(owner_of(lb->services, cfg, &ls->addr));
	for (struct lsock *ls = lb->lsocks; ls; ls = ls->next)
		lsock_keepalive(ls, ls->svc->timeouts.keepalive_ms);
}

static void lsocks_close(struct lsock *list)
{
	while (list) {
		struct lsock *ls = list;
		list = ls->next;
		lsock_close(ls);
	}
}

int lb_apply(struct lb *lb, const struct config *cfg, char *err, size_t errlen)
{
	struct lsock *fresh, *gone;
	struct service **svcs;

	if (!lb->workers)
		lb_make_workers(lb, cfg);
	else if (workers_for(cfg->global.workers) != lb->nworkers)
		log_warning("workers: %u in the new configuration, %u running: a change of "
			    "workers takes effect at the next restart",
			    workers_for(cfg->global.workers), lb->nworkers);
	if (open_new_lsocks(lb, cfg, &fresh, err, errlen) < 0)
		return -1;
	svcs = build_services(lb, cfg);
	for (size_t i = 0; i < lb->nservices; i++) {
		struct service *old = lb->services[i];

		if (!old)
			continue;
		log_notice("service %s removed (%u connections finish)", old->name,
			   (unsigned)old->active);
		service_retire(old);
		service_unref(old);
	}
	free(lb->services);
	lb->services = svcs;
	lb->nservices = cfg->nservices;
	lb->maxconn = cfg->global.maxconn;
	assign_lsocks(lb, fresh, cfg, &gone);
	workers_call(lb, worker_sync_listeners, NULL);
	lsocks_close(gone);
	workers_kick_paused(lb, NULL);
	return 0;
}

size_t lb_nservices(const struct lb *lb) { return lb->nservices; }
struct service *lb_service(const struct lb *lb, size_t i) { return lb->services[i]; }

struct service *lb_find_service(const struct lb *lb, const char *name)
{
	for (size_t i = 0; i < lb->nservices; i++)
		if (strcmp(lb->services[i]->name, name) == 0)
			return lb->services[i];
	return NULL;
}

static void worker_hold(struct lb_worker *w, void *arg)
{
	if (!atomic_load(&w->lb->held)) {
		listeners_resume(w);
		return;
	}
	for (struct listener *l = w->listeners; l; l = l->next) {
		ev_io_stop(w->loop, &l->io);
		l->paused = true;
	}
}

void lb_hold(struct lb *lb, bool hold)
{
	if (hold == atomic_load(&lb->held))
		return;
	atomic_store(&lb->held, hold);
	workers_call(lb, worker_hold, NULL);
}

void lb_stop_accepting(struct lb *lb)
{
	struct lsock *all = lb->lsocks;

	lb->accepting = false;
	lb->lsocks = NULL;
	workers_call(lb, worker_sync_listeners, NULL);
	lsocks_close(all);
}

static void worker_close_all(struct lb_worker *w, void *arg)
{
	while (w->conns)
		conn_close(w->conns, arg);
}

void lb_close_all(struct lb *lb, const char *reason)
{
	workers_call(lb, worker_close_all, (void *)reason);
}

struct close_backend {
	struct backend *b;
	const char *reason;
	unsigned n;
};

static void worker_close_backend(struct lb_worker *w, void *arg)
{
	struct close_backend *cb = arg;
	struct conn *c = w->conns;

	while (c) {
		struct conn *next = conn_next(c);
		if (conn_backend(c) == cb->b) {
			conn_close(c, cb->reason);
			cb->n++;
		}
		c = next;
	}
}

void lb_close_backend(struct lb *lb, struct backend *b, const char *reason)
{
	struct close_backend cb = { .b = b, .reason = reason };

	workers_call(lb, worker_close_backend, &cb);
	if (cb.n)
		log_notice("service %s backend %s: closed %u connections (%s)",
			   b->svc ? b->svc->name : "-", b->name, cb.n, reason);
}

struct each_transparent {
	void (*fn)(const struct addr *ip, uint16_t port, void *arg);
	void *arg;
};

static void worker_each_transparent(struct lb_worker *w, void *arg)
{
	struct each_transparent *et = arg;
	struct addr ip;
	uint16_t port;

	for (const struct conn *c = w->conns; c; c = conn_next(c))
		if (conn_transparent_peer(c, &ip, &port))
			et->fn(&ip, port, et->arg);
}

void lb_each_transparent(const struct lb *lb,
			 void (*fn)(const struct addr *ip, uint16_t port, void *arg), void *arg)
{
	struct each_transparent et = { .fn = fn, .arg = arg };

	workers_call((struct lb *)lb, worker_each_transparent, &et);
}

struct close_vip {
	const struct addr *ip;
	const char *reason;
	unsigned n, queued;
};

static void worker_close_vip(struct lb_worker *w, void *arg)
{
	struct close_vip *cv = arg;
	struct conn *c = w->conns;

	while (c) {
		struct conn *next = conn_next(c);

		if (conn_on_vip(c, cv->ip)) {
			conn_kill(c, cv->reason);
			cv->n++;
		}
		c = next;
	}
	/* and those the kernel completed just before the address went */
	for (struct listener *l = w->listeners; l; l = l->next)
		if (addr_equal_ip(&l->addr, cv->ip))
			cv->queued += listener_flush(l);
}

unsigned lb_close_vip(struct lb *lb, const struct addr *ip, const char *reason)
{
	struct close_vip cv = { .ip = ip, .reason = reason };
	char as[ADDR_STRLEN];

	workers_call(lb, worker_close_vip, &cv);
	if (cv.n || cv.queued)
		log_notice("VIP %s: closed %u proxied connection%s and %u waiting to be "
			   "accepted (%s)", addr_ip_str(ip, as, sizeof(as)), cv.n,
			   cv.n == 1 ? "" : "s", cv.queued, reason);
	return cv.n + cv.queued;
}

void lb_worker_stats(const struct lb *lb, unsigned i, struct lb_stats *out)
{
	const struct worker_stats *ws = &lb->workers[i]->stats;

	memset(out, 0, sizeof(*out));
	out->accepted = ws->accepted;
	out->active = ws->active;
	out->refused = ws->refused;
	out->local_errors = ws->local_errors;
	out->bytes_in = ws->bytes_in;
	out->bytes_out = ws->bytes_out;
	out->accept_paused = ws->accept_paused;
}

void lb_get_stats(const struct lb *lb, struct lb_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < lb->nworkers; i++) {
		struct lb_stats w;

		lb_worker_stats(lb, i, &w);
		out->accepted += w.accepted;
		out->refused += w.refused;
		out->local_errors += w.local_errors;
		out->bytes_in += w.bytes_in;
		out->bytes_out += w.bytes_out;
		out->accept_paused += w.accept_paused;
	}
	for (const struct lsock *ls = lb->lsocks; ls; ls = ls->next)
		out->listeners++;
	out->active = lb->nconns;
}

uint32_t lb_active(const struct lb *lb) { return lb->nconns; }

void lb_set_persist_hook(struct lb *lb, lb_persist_cb *cb, void *arg)
{
	lb->persist_cb = cb;
	lb->persist_arg = arg;
}

void lb_persist_note(struct lb *lb, struct service *svc, const struct addr *client,
		     const struct backend *b, double now)
{
	struct persist_key k;
	double ttl = svc->persist_ms / 1000.0;

	if (!svc->persist)
		return;
	persist_key_make(client, svc->source_mask, &k);
	if (persist_put(svc->persist, &k, b->name, now + ttl, now, ttl))
		lb_post_persist(lb, svc->name, &k, b->name, svc->persist_ms);
}

void lb_persist_learn(struct lb *lb, const char *svc, const struct persist_key *k,
		      const char *be, uint32_t ttl_ms)
{
	struct service *s = lb_find_service(lb, svc);
	double now = ev_now(lb->loop);

	if (!s)
		return;
	service_lock(s);
	if (s->persist) {
		if (ttl_ms > s->persist_ms)
			ttl_ms = s->persist_ms;
		persist_put(s->persist, k, be, now + ttl_ms / 1000.0, now, ttl_ms / 1000.0);
	}
	service_unlock(s);
}

struct persist_each {
	const char *svc;
	lb_persist_cb *cb;
	void *arg;
};

static void persist_each_cb(const struct persist_key *k, const char *be, double left, void *arg)
{
	struct persist_each *pe = arg;
	uint32_t ms = (uint32_t)(left * 1000);

	if (ms)
		pe->cb(pe->svc, k, be, ms, pe->arg);
}

void lb_persist_each(struct lb *lb, lb_persist_cb *cb, void *arg)
{
	for (size_t i = 0; i < lb->nservices; i++) {
		struct service *s = lb->services[i];
		struct persist_each pe = { .svc = s->name, .cb = cb, .arg = arg };

		service_lock(s);
		persist_foreach(s->persist, ev_now(lb->loop), persist_each_cb, &pe);
		service_unlock(s);
	}
}
