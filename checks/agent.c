/* agent.c - the agents of backends (see agent.h): one probe on the probe
 * core per agent, its own timer, the verdict through backend_set_agent(). */
#include "checks/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "checks/probe.h"
#include "common/log.h"
#include "common/text.h"
#include "common/util.h"
#include "lb/lb.h"
#include "lb/service.h"

#define AGENT_TIMEOUT_MAX_MS 2000u    /* an agent answers at once or not at all */

struct agent {
	LIST_ENTRY(agent) link;
	struct agents *owner;
	struct backend *b;            /* one reference */
	struct check_conf conf;       /* type tcp; timeout_ms bounds one dialogue */
	uint16_t port;
	uint32_t interval_ms;
	struct probe probe;
	ev_timer tick;
	bool seen;                    /* mark of agents_sync() */
	char failing[REPLY_TEXT_MAX]; /* the failure last logged, "" while it answers */
};

struct agents {
	struct ev_loop *loop;
	struct probe_ctx *pctx;
	LIST_HEAD(, agent) list;
	unsigned count;
};

static const char *agent_svc(const struct agent *ag)
{
	return ag->b->svc ? ag->b->svc->name : "-";
}

/* A failed or unusable answer: logged once per reason, nothing changes. */
static void agent_failed(struct agent *ag, const char *why)
{
	if (strcmp(ag->failing, why) == 0)
		return;
	log_warning("service %s backend %s: agent port %u: %s; weight and state unchanged "
		    "(logged again when the agent answers or the reason changes)",
		    agent_svc(ag), ag->b->name, ag->port, why);
	snprintf(ag->failing, sizeof(ag->failing), "%s", why);
}

static void agent_apply(struct agent *ag, const char *text)
{
	struct agent_reply r;
	char err[REPLY_TEXT_MAX], reason[REPLY_TEXT_MAX + 16];

	if (agent_line_parse(text, strlen(text), &r, err, sizeof(err)) < 0) {
		agent_failed(ag, err);
		return;
	}
	if (ag->failing[0]) {
		log_notice("service %s backend %s: agent port %u answers again (\"%s\")",
			   agent_svc(ag), ag->b->name, ag->port, text);
		ag->failing[0] = '\0';
	}
	snprintf(reason, sizeof(reason), "agent: %s", text);
	backend_set_agent(ag->b, r.has_state ? r.state : ag->b->agent,
			  r.has_pct ? r.pct : ag->b->agent_pct, reason);
}

static void agent_done(struct probe *p, enum check_result res, const char *detail)
{
	struct agent *ag = container_of(p, struct agent, probe);
	char why[REPLY_TEXT_MAX + 16];

	if (res == CHECK_OK) {
		agent_apply(ag, detail);
	} else {
		snprintf(why, sizeof(why), "%s%s%s", check_result_str(res), detail[0] ? ": " : "",
			 detail);
		agent_failed(ag, why);
	}
	ev_timer_set(&ag->tick, ag->interval_ms / 1000., 0.);
	ev_timer_start(ag->owner->loop, &ag->tick);
}

/* The line is the reply: finish with it (cleaned) as the detail. */
static void agent_take_line(struct probe *p, size_t textlen)
{
	char text[REPLY_TEXT_MAX];

	text_clean(text, sizeof(text), p->rbuf, textlen);
	probe_finish(p, CHECK_OK, PROBE_CLOSE_FIN, "%s", text);
}

static void agent_start(struct probe *p)
{
	p->waiting = "agent line";
}

static void agent_input(struct probe *p)
{
	size_t tlen;

	if (reply_line(p->rbuf, p->rlen, &tlen) > 0) {
		agent_take_line(p, tlen);
		return;
	}
	if (p->rlen > AGENT_LINE_MAX)
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_NOW,
			     "line longer than %d bytes", AGENT_LINE_MAX);
}

/* Many agents write their line and close without a line end. */
static void agent_eof(struct probe *p)
{
	if (p->rlen == 0) {
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "closed without a line");
		return;
	}
	agent_take_line(p, p->rlen);
}

static const struct probe_proto agent_proto = {
	.name = "agent",
	.start = agent_start,
	.input = agent_input,
	.eof = agent_eof,
};

static void agent_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent *ag = container_of(w, struct agent, tick);
	struct addr dst = ag->b->addr;

	if (probe_running(&ag->probe))
		return;
	addr_set_port(&dst, ag->port);
	probe_start_proto(&ag->probe, &agent_proto, &ag->conf, &dst, NULL);
}

static void agent_configure(struct agent *ag, const struct backend_conf *bc)
{
	ag->port = bc->agent_port;
	ag->interval_ms = bc->agent_interval_ms;
	ag->conf.type = CHECK_TCP;
	ag->conf.timeout_ms = bc->agent_interval_ms < AGENT_TIMEOUT_MAX_MS ?
			      bc->agent_interval_ms : AGENT_TIMEOUT_MAX_MS;
}

static void agent_new(struct agents *a, struct backend *b, const struct backend_conf *bc)
{
	struct agent *ag = xcalloc(1, sizeof(*ag));

	ag->owner = a;
	ag->b = backend_ref(b);
	agent_configure(ag, bc);
	probe_init(&ag->probe, a->pctx, agent_done);
	ev_init(&ag->tick, agent_tick_cb);
	ag->seen = true;
	LIST_INSERT_HEAD(&a->list, ag, link);
	a->count++;
	ev_timer_set(&ag->tick, 0., 0.);
	ev_timer_start(a->loop, &ag->tick);
}

static void agent_free(struct agent *ag, bool reset)
{
	struct agents *a = ag->owner;

	ev_timer_stop(a->loop, &ag->tick);
	probe_abort(&ag->probe);
	LIST_REMOVE(ag, link);
	a->count--;
	if (reset)
		backend_set_agent(ag->b, AGENT_UP, 100, "agent removed");
	backend_unref(ag->b);
	free(ag);
}

struct agents *agents_new(struct ev_loop *loop)
{
	struct agents *a = xcalloc(1, sizeof(*a));

	a->loop = loop;
	a->pctx = probe_ctx_new(loop);
	LIST_INIT(&a->list);
	return a;
}

void agents_free(struct agents *a)
{
	if (!a)
		return;
	while (!LIST_EMPTY(&a->list))
		agent_free(LIST_FIRST(&a->list), false);
	probe_ctx_free(a->pctx);
	free(a);
}

static struct agent *agent_of(struct agents *a, const struct backend *b)
{
	struct agent *ag;

	LIST_FOREACH(ag, &a->list, link)
		if (ag->b == b)
			return ag;
	return NULL;
}

static void agents_sync_service(struct agents *a, const struct service *svc)
{
	for (size_t j = 0; j < svc->nbackends && j < svc->conf->nbackends; j++) {
		const struct backend_conf *bc = &svc->conf->backends[j];
		struct agent *ag;

		if (!bc->has_agent)
			continue;
		ag = agent_of(a, svc->backends[j]);
		if (!ag) {
			agent_new(a, svc->backends[j], bc);
			continue;
		}
		ag->seen = true;
		if (ag->port != bc->agent_port || ag->interval_ms != bc->agent_interval_ms) {
			probe_abort(&ag->probe);
			agent_configure(ag, bc);
			ev_timer_stop(a->loop, &ag->tick);
			ev_timer_set(&ag->tick, 0., 0.);
			ev_timer_start(a->loop, &ag->tick);
		}
	}
}

void agents_sync(struct agents *a, struct lb *lb)
{
	struct agent *ag, *next;

	LIST_FOREACH(ag, &a->list, link)
		ag->seen = false;
	for (size_t i = 0; i < lb_nservices(lb); i++) {
		const struct service *svc = lb_service(lb, i);

		if (svc->conf)
			agents_sync_service(a, svc);
	}
	for (ag = LIST_FIRST(&a->list); ag; ag = next) {
		next = LIST_NEXT(ag, link);
		if (!ag->seen)
			agent_free(ag, ag->b->svc != NULL);
	}
}

unsigned agents_count(const struct agents *a)
{
	return a->count;
}
