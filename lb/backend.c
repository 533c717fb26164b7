/* backend.c - backend runtime state; the one writer of backend state. */
#include "lb/backend.h"
#include "lb/service.h"
#include "common/log.h"
#include "common/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct backend *backend_new(const struct backend_conf *bc)
{
	struct backend *b = xcalloc(1, sizeof(*b));

	b->refs = 1;
	b->name = xstrdup(bc->name);
	b->addr = bc->addr;
	b->port = bc->port;
	b->maxconn = bc->maxconn;
	b->backup = bc->backup;
	b->send_proxy = bc->send_proxy;
	b->weight = b->weight_cfg = bc->weight;
	b->agent_pct = 100;
	b->agent = AGENT_UP;
	b->healthy = false;             /* no traffic before a probe passed */
	b->admin = ADMIN_NONE;
	b->state = BACKEND_DOWN;
	b->last_change = wall_now();
	strcpy(b->check_last, "none");
	strcpy(b->check_detail, "not checked yet");
	return b;
}

struct backend *backend_ref(struct backend *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void backend_unref(struct backend *b)
{
	if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) > 1)
		return;
	free(b->name);
	free(b);
}

const char *backend_state_str(enum backend_state s)
{
	switch (s) {
	case BACKEND_UP: return "up";
	case BACKEND_DOWN: return "down";
	case BACKEND_DRAIN: return "drain";
	case BACKEND_MAINT: return "maint";
	}
	return "?";
}

uint16_t backend_port(const struct backend *b, uint16_t svc_port)
{
	return b->port ? b->port : svc_port;
}

bool backend_port_open(const struct backend *b, int port_idx)
{
	return port_idx < 0 || port_idx >= 64 || !(b->gated_down >> port_idx & 1u);
}

bool backend_usable(const struct backend *b)
{
	return b->state == BACKEND_UP && b->weight > 0 &&
	       (b->maxconn == 0 || b->active < b->maxconn);
}

/* The writes the schedulers read happen under the service's lock. */
static void be_lock(struct backend *b)
{
	if (b->svc)
		service_lock(b->svc);
}

static void be_unlock(struct backend *b)
{
	if (b->svc)
		service_unlock(b->svc);
}

static enum backend_state derive_state(const struct backend *b)
{
	if (b->admin == ADMIN_MAINT || b->agent == AGENT_MAINT)
		return BACKEND_MAINT;
	if (b->admin == ADMIN_DRAIN || b->agent == AGENT_DRAIN)
		return BACKEND_DRAIN;
	return b->healthy && b->agent != AGENT_DOWN ? BACKEND_UP : BACKEND_DOWN;
}

/* weight_cfg x agent_pct / 100, rounded; at least 1 unless either is 0. */
static uint32_t effective_weight(const struct backend *b)
{
	uint64_t w = ((uint64_t)b->weight_cfg * b->agent_pct + 50) / 100;

	if (w == 0 && b->weight_cfg > 0 && b->agent_pct > 0)
		w = 1;
	return (uint32_t)w;
}

/* Recompute the state; log and tell the service when it changed. */
static void backend_update(struct backend *b, const char *reason)
{
	enum backend_state old = b->state, now = derive_state(b);

	if (old == now)
		return;
	be_lock(b);
	b->state = now;
	be_unlock(b);
	b->transitions++;
	b->last_change = wall_now();
	log_msg(now == BACKEND_UP ? LOG_LVL_NOTICE : LOG_LVL_WARNING,
		"service %s backend %s: %s -> %s (%s)", b->svc ? b->svc->name : "-", b->name,
		backend_state_str(old), backend_state_str(now), reason ? reason : "no reason");
	if (b->svc && b->svc->hooks.state_changed)
		b->svc->hooks.state_changed(b->svc, b, old, reason ? reason : "no reason",
					    b->svc->hooks.arg);
	if (b->svc)
		service_backend_changed(b->svc, b, old == BACKEND_UP);
}

void backend_set_health(struct backend *b, bool healthy, const char *reason)
{
	b->healthy = healthy;
	backend_update(b, reason);
}

/* Log each service port that a check gated down or opened again. */
static void log_gated(const struct backend *b, uint64_t old, uint64_t now, const char *why)
{
	const struct service_conf *sc = b->svc ? b->svc->conf : NULL;

	for (unsigned i = 0; i < 64; i++) {
		if (((old ^ now) >> i & 1u) == 0)
			continue;
		log_msg(now >> i & 1u ? LOG_LVL_WARNING : LOG_LVL_NOTICE,
			"service %s backend %s: port %u %s (%s)", b->svc ? b->svc->name : "-",
			b->name, sc && i < sc->nports ? sc->ports[i] : 0,
			now >> i & 1u ? "out of rotation" : "back in rotation",
			why ? why : "no reason");
	}
}

void backend_set_check_status(struct backend *b, const struct backend_check_status *st)
{
	uint64_t old = b->gated_down;
	bool was_up = b->state == BACKEND_UP;

	snprintf(b->check_last, sizeof(b->check_last), "%s", st->last ? st->last : "none");
	snprintf(b->check_detail, sizeof(b->check_detail), "%s", st->detail ? st->detail : "");
	be_lock(b);
	b->gated_down = st->gated_down;
	be_unlock(b);
	if (b->healthy != st->healthy) {
		backend_set_health(b, st->healthy, st->why);
		return;
	}
	/* while it is not up, no port of it is in rotation: nothing to say */
	if (old != st->gated_down && was_up)
		log_gated(b, old, st->gated_down, st->why);
	if (old != st->gated_down && b->svc)
		service_backend_changed(b->svc, b, was_up);
}

void backend_set_admin(struct backend *b, enum backend_admin admin, const char *reason)
{
	if (b->admin == admin)
		return;
	b->admin = admin;
	if (b->check_hooks)             /* first: leaving maint, the old verdict is stale */
		b->check_hooks->admin_changed(b->check, admin == ADMIN_MAINT);
	backend_update(b, reason);
}

void backend_set_weight(struct backend *b, uint32_t weight)
{
	bool was_up = b->state == BACKEND_UP;

	if (b->weight_cfg == weight)
		return;
	log_notice("service %s backend %s: weight %u -> %u", b->svc ? b->svc->name : "-",
		   b->name, b->weight_cfg, weight);
	be_lock(b);
	b->weight_cfg = weight;
	b->weight = effective_weight(b);
	be_unlock(b);
	b->weight_set_by_ctl = true;
	if (b->svc)
		service_backend_changed(b->svc, b, was_up);
}

void backend_conf_weight(struct backend *b, uint32_t weight)
{
	b->weight_cfg = weight;
	b->weight = effective_weight(b);
}

const char *backend_agent_str(enum backend_agent a)
{
	switch (a) {
	case AGENT_UP: return "up";
	case AGENT_DRAIN: return "drain";
	case AGENT_MAINT: return "maint";
	case AGENT_DOWN: return "down";
	}
	return "?";
}

void backend_set_agent(struct backend *b, enum backend_agent agent, uint32_t pct,
		       const char *reason)
{
	bool was_up = b->state == BACKEND_UP;
	uint32_t old = b->weight, old_pct = b->agent_pct;

	if (b->agent == agent && b->agent_pct == pct)
		return;
	be_lock(b);
	b->agent = agent;
	b->agent_pct = pct;
	b->weight = effective_weight(b);
	be_unlock(b);
	if (old_pct != pct)
		log_notice("service %s backend %s: agent weight %u%% -> %u%% (weight %u -> %u)",
			   b->svc ? b->svc->name : "-", b->name, old_pct, pct, old, b->weight);
	if (b->state == derive_state(b)) {
		if (b->weight != old && b->svc)
			service_backend_changed(b->svc, b, was_up);
		return;
	}
	backend_update(b, reason);
}

void backend_note_rtt(struct backend *b, uint32_t rtt_us)
{
	int64_t d;

	if (rtt_us == 0)
		rtt_us = 1;
	be_lock(b);
	if (b->rtt_us == 0) {
		b->rtt_us = rtt_us;
	} else {
		d = ((int64_t)rtt_us - (int64_t)b->rtt_us) / BACKEND_RTT_ALPHA_DIV;
		b->rtt_us = (uint32_t)((int64_t)b->rtt_us + d);
		if (b->rtt_us == 0)
			b->rtt_us = 1;
	}
	be_unlock(b);
}
