/* wire_checks.c - checks/ <-> lb/ through hooks (see wire_checks.h). */
#include "daemon/wire_checks.h"

#include "checks/check.h"
#include "lb/backend.h"
#include "lb/lb.h"
#include "lb/service.h"

/* lb/ tells a backend's checks through these. */
static const struct backend_check_hooks wire_backend_hooks = {
	.admin_changed = check_admin_changed,
	.passive_failure = check_passive_failure,
};

static void wire_report(void *owner, const struct check_report *r, void *arg)
{
	struct backend_check_status st = {
		.healthy = r->healthy, .gated_down = r->gated_down, .last = r->last,
		.detail = r->detail, .why = r->why,
	};

	(void)arg;
	backend_set_check_status(owner, &st);
}

static void wire_hold(void *owner, void *arg)
{
	(void)arg;
	backend_ref(owner);
}

/* The check is gone: the backend no longer reaches it. */
static void wire_release(void *owner, void *arg)
{
	struct backend *b = owner;

	(void)arg;
	if (!b->check)
		b->check_hooks = NULL;
	backend_unref(b);
}

/* A passing probe's response time: weighted-response-time's input. */
static void wire_rtt(void *owner, uint32_t us, void *arg)
{
	(void)arg;
	backend_note_rtt(owner, us);
}

struct checker *wire_checker_new(struct ev_loop *loop)
{
	static const struct check_hooks hooks = {
		.report = wire_report, .hold = wire_hold, .release = wire_release,
		.rtt = wire_rtt,
	};

	return checker_new(loop, &hooks);
}

/* Position in lb's live services and their backends. */
struct wire_iter {
	struct lb *lb;
	size_t svc, be;
};

static bool wire_next(void *arg, struct check_target *t)
{
	struct wire_iter *w = arg;

	for (; w->svc < lb_nservices(w->lb); w->svc++, w->be = 0) {
		struct service *svc = lb_service(w->lb, w->svc);
		const struct service_conf *sc = svc->conf;
		struct backend *b;

		if (!sc || w->be >= svc->nbackends)
			continue;
		b = svc->backends[w->be++];
		*t = (struct check_target){
			.owner = b, .handle = &b->check, .service = svc->name, .name = b->name,
			.addr = b->addr, .port = b->port, .svc_ports = sc->ports,
			.nsvc_ports = sc->nports, .checks = sc->nchecks ? sc->checks : &sc->check,
			.nchecks = sc->nchecks ? sc->nchecks : 1, .has_source = svc->has_source,
			.source = svc->source, .send_proxy = b->send_proxy,
			.maint = b->admin == ADMIN_MAINT,
		};
		b->check_hooks = &wire_backend_hooks;
		return true;
	}
	return false;
}

void wire_checks_sync(struct checker *c, struct lb *lb)
{
	struct wire_iter w = { .lb = lb };
	struct check_iter it = { .next = wire_next, .it = &w };

	checker_sync(c, &it);
}
