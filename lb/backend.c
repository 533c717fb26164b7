/* backend.c - backend runtime state; the one writer of backend state. */
#include "lb/backend.h"
#include "lb/service.h"
#include "common/log.h"
#include "common/util.h"

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
	b->weight = bc->weight;
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
	b->refs++;
	return b;
}

void backend_unref(struct backend *b)
{
	if (!b || --b->refs > 0)
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

bool backend_usable(const struct backend *b)
{
	return b->state == BACKEND_UP && b->weight > 0 &&
	       (b->maxconn == 0 || b->active < b->maxconn);
}

static enum backend_state derive_state(const struct backend *b)
{
	if (b->admin == ADMIN_MAINT)
		return BACKEND_MAINT;
	if (b->admin == ADMIN_DRAIN)
		return BACKEND_DRAIN;
	return b->healthy ? BACKEND_UP : BACKEND_DOWN;
}

/* Recompute the state; log and tell the service when it changed. */
static void backend_update(struct backend *b, const char *reason)
{
	enum backend_state old = b->state, now = derive_state(b);

	if (old == now)
		return;
	b->state = now;
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

void backend_set_admin(struct backend *b, enum backend_admin admin, const char *reason)
{
	if (b->admin == admin)
		return;
	b->admin = admin;
	if (b->admin_changed)           /* first: leaving maint, the old verdict is stale */
		b->admin_changed(b->check);
	backend_update(b, reason);
}

void backend_set_weight(struct backend *b, uint32_t weight)
{
	bool was_up = b->state == BACKEND_UP;

	if (b->weight == weight)
		return;
	log_notice("service %s backend %s: weight %u -> %u", b->svc ? b->svc->name : "-",
		   b->name, b->weight, weight);
	b->weight = weight;
	b->weight_set_by_ctl = true;
	if (b->svc)
		service_backend_changed(b->svc, b, was_up);
}
