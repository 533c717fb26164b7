/* lb.c - the set of services and listeners, and applying a configuration. */
#include "lb/lb_internal.h"
#include "common/log.h"
#include "common/util.h"

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

struct lb *lb_new(struct ev_loop *loop)
{
	struct lb *lb = xcalloc(1, sizeof(*lb));
	const char *ns = getenv("VIGIL_NO_SPLICE");

	lb->loop = loop;
	lb->accepting = true;
	lb->use_splice = !(ns && *ns && strcmp(ns, "0") != 0);
	ev_init(&lb->resume_timer, listeners_resume_cb);
	return lb;
}

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
	for (size_t i = 0; i < lb->nservices; i++) {
		service_retire(lb->services[i]);
		service_unref(lb->services[i]);
	}
	free(lb->services);
	pipes_free_all(lb);
	free(lb);
}

static struct service *find_old(struct lb *lb, const char *name)
{
	for (size_t i = 0; i < lb->nservices; i++)
		if (lb->services[i] && strcmp(lb->services[i]->name, name) == 0)
			return lb->services[i];
	return NULL;
}

static struct listener *find_listener(struct listener *list, const struct addr *a)
{
	for (struct listener *l = list; l; l = l->next)
		if (addr_equal_ip(&l->addr, a) && addr_port(&l->addr) == addr_port(a))
			return l;
	return NULL;
}

/* Open every VIP:port of cfg that is not open yet; all or nothing. The new
 * listeners are returned in *fresh, not started. */
static int open_new_listeners(struct lb *lb, const struct config *cfg, struct listener **fresh,
			      char *err, size_t errlen)
{
	*fresh = NULL;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct service_conf *sc = &cfg->services[i];

		for (size_t p = 0; p < sc->nports; p++) {
			struct addr a = sc->vip;
			struct listener *l;

			addr_set_port(&a, sc->ports[p]);
			if (find_listener(lb->listeners, &a) || find_listener(*fresh, &a))
				continue;
			l = listener_open(lb, &a, sc->backlog, err, errlen);
			if (!l) {
				while (*fresh) {
					l = *fresh;
					*fresh = l->next;
					listener_close(l);
				}
				return -1;
			}
			l->next = *fresh;
			*fresh = l;
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

/* Point every listener at its service; close the ones no service wants. */
static void assign_listeners(struct lb *lb, struct listener *fresh, const struct config *cfg)
{
	struct listener **pp = &lb->listeners;

	while (*pp) {
		struct listener *l = *pp;
		struct service *owner = owner_of(lb->services, cfg, &l->addr);

		if (!owner) {
			char as[ADDR_STRLEN];
			log_notice("listener %s closed (no longer configured)",
				   addr_str(&l->addr, as, sizeof(as)));
			*pp = l->next;
			listener_close(l);
			continue;
		}
		if (l->svc != owner) {
			service_unref(l->svc);
			l->svc = service_ref(owner);
		}
		pp = &l->next;
	}
	*pp = fresh;
	for (struct listener *l = fresh; l; l = l->next) {
		l->svc = service_ref(owner_of(lb->services, cfg, &l->addr));
		listener_start(l);
	}
}

int lb_apply(struct lb *lb, const struct config *cfg, char *err, size_t errlen)
{
	struct listener *fresh;
	struct service **svcs;

	if (open_new_listeners(lb, cfg, &fresh, err, errlen) < 0)
		return -1;
	svcs = build_services(lb, cfg);
	for (size_t i = 0; i < lb->nservices; i++) {
		struct service *gone = lb->services[i];

		if (!gone)
			continue;
		log_notice("service %s removed (%u connections finish)", gone->name, gone->active);
		service_retire(gone);
		service_unref(gone);
	}
	free(lb->services);
	lb->services = svcs;
	lb->nservices = cfg->nservices;
	lb->maxconn = cfg->global.maxconn;
	assign_listeners(lb, fresh, cfg);
	listeners_resume(lb);
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

void lb_hold(struct lb *lb, bool hold)
{
	if (hold == lb->held)
		return;
	lb->held = hold;
	if (!hold) {
		listeners_resume(lb);
		return;
	}
	for (struct listener *l = lb->listeners; l; l = l->next) {
		ev_io_stop(lb->loop, &l->io);
		l->paused = true;
	}
}

void lb_stop_accepting(struct lb *lb)
{
	lb->accepting = false;
	ev_timer_stop(lb->loop, &lb->resume_timer);
	while (lb->listeners) {
		struct listener *l = lb->listeners;
		lb->listeners = l->next;
		listener_close(l);
	}
}

void lb_close_all(struct lb *lb, const char *reason)
{
	while (lb->conns)
		conn_close(lb->conns, reason);
}

void lb_close_backend(struct lb *lb, struct backend *b, const char *reason)
{
	struct conn *c = lb->conns;
	unsigned n = 0;

	while (c) {
		struct conn *next = conn_next(c);
		if (conn_backend(c) == b) {
			conn_close(c, reason);
			n++;
		}
		c = next;
	}
	if (n)
		log_notice("service %s backend %s: closed %u connections (%s)",
			   b->svc ? b->svc->name : "-", b->name, n, reason);
}

void lb_each_transparent(const struct lb *lb,
			 void (*fn)(const struct addr *ip, uint16_t port, void *arg), void *arg)
{
	struct addr ip;
	uint16_t port;

	for (const struct conn *c = lb->conns; c; c = conn_next(c))
		if (conn_transparent_peer(c, &ip, &port))
			fn(&ip, port, arg);
}

unsigned lb_close_vip(struct lb *lb, const struct addr *ip, const char *reason)
{
	struct conn *c = lb->conns;
	char as[ADDR_STRLEN];
	unsigned n = 0, queued = 0;

	while (c) {
		struct conn *next = conn_next(c);

		if (conn_on_vip(c, ip)) {
			conn_kill(c, reason);
			n++;
		}
		c = next;
	}
	/* and those the kernel completed just before the address went */
	for (struct listener *l = lb->listeners; l; l = l->next)
		if (addr_equal_ip(&l->addr, ip))
			queued += listener_flush(l);
	if (n || queued)
		log_notice("VIP %s: closed %u proxied connection%s and %u waiting to be "
			   "accepted (%s)", addr_ip_str(ip, as, sizeof(as)), n, n == 1 ? "" : "s",
			   queued, reason);
	return n + queued;
}

void lb_get_stats(const struct lb *lb, struct lb_stats *out)
{
	size_t n = 0;

	*out = lb->stats;
	for (const struct listener *l = lb->listeners; l; l = l->next)
		n++;
	out->listeners = n;
	out->active = lb->nconns;
}

uint32_t lb_active(const struct lb *lb) { return lb->nconns; }

void lb_set_persist_hook(struct lb *lb, lb_persist_cb *cb, void *arg)
{
	lb->persist_cb = cb;
	lb->persist_arg = arg;
}

void lb_persist_note(struct lb *lb, struct service *svc, const struct addr *client,
		     const struct backend *b)
{
	struct persist_key k;
	double now = ev_now(lb->loop), ttl = svc->persist_ms / 1000.0;

	if (!svc->persist)
		return;
	persist_key_make(client, svc->source_mask, &k);
	if (persist_put(svc->persist, &k, b->name, now + ttl, now, ttl) && lb->persist_cb)
		lb->persist_cb(svc->name, &k, b->name, svc->persist_ms, lb->persist_arg);
}

void lb_persist_learn(struct lb *lb, const char *svc, const struct persist_key *k,
		      const char *be, uint32_t ttl_ms)
{
	struct service *s = lb_find_service(lb, svc);
	double now = ev_now(lb->loop);

	if (!s || !s->persist)
		return;
	if (ttl_ms > s->persist_ms)
		ttl_ms = s->persist_ms;
	persist_put(s->persist, k, be, now + ttl_ms / 1000.0, now, ttl_ms / 1000.0);
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
		struct persist_each pe = { .svc = lb->services[i]->name, .cb = cb, .arg = arg };

		persist_foreach(lb->services[i]->persist, ev_now(lb->loop), persist_each_cb, &pe);
	}
}
