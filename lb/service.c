/* service.c - a service's backends, pools and schedulers. */
#include "lb/service.h"
#include "lb/persist.h"
#include "common/log.h"
#include "common/util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void service_copy_conf(struct service *s, const struct service_conf *sc)
{
	s->conf = sc;
	s->live = true;
	s->timeouts = sc->timeouts;
	s->maxconn = sc->maxconn;
	s->source_mask = sc->source_mask;
	s->has_source = sc->has_source;
	s->source = sc->source;
	s->source_client = sc->source_client;
	s->sched_kind = sc->scheduler;
	s->on_down = sc->check.on_down;
	s->persist_ms = sc->persist_ms;
	if (s->persist_ms && !s->persist)
		s->persist = persist_new(PERSIST_MAX);
	if (!s->persist_ms) {
		persist_free(s->persist);
		s->persist = NULL;
	}
}

static void pools_destroy(struct service *s)
{
	for (int i = 0; i < 2; i++) {
		struct sched_pool *p = &s->pools[i];

		if (p->ops && p->st)
			p->ops->destroy(p->st);
		free(p->members);
		memset(p, 0, sizeof(*p));
	}
}

static void pools_build(struct service *s)
{
	const struct sched_ops *ops = sched_for(s->sched_kind);

	for (int i = 0; i < 2; i++) {
		struct sched_pool *p = &s->pools[i];

		p->ops = ops;
		p->members = xcalloc(s->nbackends, sizeof(*p->members));
		p->n = 0;
		for (size_t j = 0; j < s->nbackends; j++) {
			struct backend *b = s->backends[j];

			if (b->backup != (i == 1))
				continue;
			b->pool_idx = (unsigned)p->n;
			p->members[p->n++] = b;
		}
		p->st = ops->create(p->members, p->n);
	}
}

static bool any_up(const struct service *s)
{
	for (size_t i = 0; i < s->nbackends; i++)
		if (s->backends[i]->state == BACKEND_UP)
			return true;
	return false;
}

/* Recompute availability; tell the hook when it flipped. */
static void service_check_avail(struct service *s)
{
	bool now = any_up(s);

	if (now == s->available)
		return;
	s->available = now;
	s->avail_changes++;
	if (now)
		log_notice("service %s: available, a backend is up", s->name);
	else
		log_warning("service %s: no backend up, new clients are refused", s->name);
	if (s->hooks.avail)
		s->hooks.avail(s, now, s->hooks.arg);
}

static struct backend *take_matching(struct service *old, const struct backend_conf *bc)
{
	if (!old)
		return NULL;
	for (size_t i = 0; i < old->nbackends; i++) {
		struct backend *b = old->backends[i];

		if (b && strcmp(b->name, bc->name) == 0 && addr_equal_ip(&b->addr, &bc->addr) &&
		    b->port == bc->port) {
			old->backends[i] = NULL;
			return b;
		}
	}
	return NULL;
}

/* Build s->backends from sc, moving matching ones out of prev[]. */
static void backends_build(struct service *s, const struct service_conf *sc, struct service *prev)
{
	s->backends = xcalloc(sc->nbackends, sizeof(*s->backends));
	s->nbackends = sc->nbackends;
	for (size_t i = 0; i < sc->nbackends; i++) {
		const struct backend_conf *bc = &sc->backends[i];
		struct backend *b = take_matching(prev, bc);

		if (b) {
			b->maxconn = bc->maxconn;
			b->backup = bc->backup;
			b->send_proxy = bc->send_proxy;
			if (!b->weight_set_by_ctl)
				backend_conf_weight(b, bc->weight);
		} else {
			b = backend_new(bc);
		}
		b->svc = s;
		s->backends[i] = b;
	}
}

struct service *service_new(const struct service_conf *sc)
{
	struct service *s = xcalloc(1, sizeof(*s));

	s->refs = 1;
	pthread_mutex_init(&s->lock, NULL);
	s->name = xstrdup(sc->name);
	service_copy_conf(s, sc);
	backends_build(s, sc, NULL);
	pools_build(s);
	s->available = any_up(s);
	return s;
}

void service_update(struct service *s, const struct service_conf *sc)
{
	struct service old = { .backends = s->backends, .nbackends = s->nbackends };

	service_lock(s);
	pools_destroy(s);
	service_copy_conf(s, sc);
	backends_build(s, sc, &old);
	for (size_t i = 0; i < old.nbackends; i++) {
		struct backend *b = old.backends[i];

		if (!b)
			continue;
		log_notice("service %s backend %s: removed by reload (%u connections finish)",
			   s->name, b->name, (unsigned)b->active);
		b->svc = NULL;
		backend_unref(b);
	}
	free(old.backends);
	pools_build(s);
	service_unlock(s);
	service_check_avail(s);
}

struct service *service_ref(struct service *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void service_lock(struct service *s) { pthread_mutex_lock(&s->lock); }
void service_unlock(struct service *s) { pthread_mutex_unlock(&s->lock); }

void service_retire(struct service *s)
{
	service_lock(s);
	s->live = false;
	s->conf = NULL;
	service_unlock(s);
	memset(&s->hooks, 0, sizeof(s->hooks));
}

void service_params_locked(const struct service *s, struct service_params *out)
{
	out->timeouts = s->timeouts;
	out->has_source = s->has_source;
	out->source_client = s->source_client;
	out->source = s->source;
	out->source_mask = s->source_mask;
	out->sched_kind = s->sched_kind;
	out->pool_n[0] = s->pools[0].n;
	out->pool_n[1] = s->pools[1].n;
}

void service_params(struct service *s, struct service_params *out)
{
	service_lock(s);
	service_params_locked(s, out);
	service_unlock(s);
}

size_t service_persist_count(struct service *s)
{
	size_t n;

	service_lock(s);
	n = persist_count(s->persist);
	service_unlock(s);
	return n;
}

uint64_t service_persist_full(struct service *s)
{
	uint64_t n;

	service_lock(s);
	n = persist_full(s->persist);
	service_unlock(s);
	return n;
}

void service_unref(struct service *s)
{
	/* the last reference: acquire what the other holders wrote */
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) > 1)
		return;
	pools_destroy(s);
	for (size_t i = 0; i < s->nbackends; i++) {
		if (s->backends[i]->svc == s)
			s->backends[i]->svc = NULL;
		backend_unref(s->backends[i]);
	}
	free(s->backends);
	free(s->name);
	persist_free(s->persist);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct backend *service_find_backend(const struct service *s, const char *name)
{
	for (size_t i = 0; i < s->nbackends; i++)
		if (strcmp(s->backends[i]->name, name) == 0)
			return s->backends[i];
	return NULL;
}

static bool pool_has_up(const struct sched_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->members[i]->state == BACKEND_UP)
			return true;
	return false;
}

uint64_t service_port_mask(const struct service *s, uint16_t port)
{
	for (size_t i = 0; s->conf && i < s->conf->nports && i < 64; i++)
		if (s->conf->ports[i] == port)
			return 1ull << i;
	return 0;
}

struct backend *service_pick(struct service *s, uint32_t key, const struct sched_skip skip[2])
{
	struct sched_pool *normal = &s->pools[0], *backup = &s->pools[1];
	struct backend *b = NULL;

	if (pool_has_up(normal))
		b = normal->ops->pick(normal->st, key, &skip[0]);
	/* backups serve while no normal backend is up, and as the last resort
	 * when every normal one failed for this client */
	if (!b && backup->n)
		b = backup->ops->pick(backup->st, key, &skip[1]);
	return b;
}

static struct sched_pool *pool_of(struct service *s, struct backend *b)
{
	struct sched_pool *p = &s->pools[b->backup ? 1 : 0];

	if (b->svc != s || b->pool_idx >= p->n || p->members[b->pool_idx] != b)
		return NULL;
	return p;
}

void service_take(struct service *s, struct backend *b)
{
	struct sched_pool *p = pool_of(s, b);

	b->active++;
	if (p && p->ops->take)
		p->ops->take(p->st, b);
}

void service_release(struct service *s, struct backend *b, enum sched_outcome how)
{
	struct sched_pool *p;

	service_lock(s);
	p = pool_of(s, b);
	b->active--;
	if (p && p->ops->release)
		p->ops->release(p->st, b, how);
	service_unlock(s);
}

void service_backend_changed(struct service *s, struct backend *b, bool was_up)
{
	struct sched_pool *p;
	bool up = b->state == BACKEND_UP;

	service_lock(s);
	p = pool_of(s, b);
	if (p) {
		if (up && p->ops->server_up)
			p->ops->server_up(p->st, b);   /* also after a weight change */
		else if (!up && was_up && p->ops->server_down)
			p->ops->server_down(p->st, b);
	}
	service_unlock(s);
	if (was_up && b->state == BACKEND_DOWN && s->on_down == ON_DOWN_CLOSE &&
	    s->hooks.backend_down)
		s->hooks.backend_down(s, b, s->hooks.arg);
	service_check_avail(s);
}

struct backend *service_persist_get(struct service *s, const struct addr *client, double now)
{
	struct persist_key k;
	const char *name;
	struct backend *b;

	if (!s->persist)
		return NULL;
	persist_key_make(client, s->source_mask, &k);
	name = persist_get(s->persist, &k, now);
	b = name ? service_find_backend(s, name) : NULL;
	return b && backend_usable(b) ? b : NULL;
}
