/* check.c - the checker: one struct check per backend, scheduling, rise/fall
 * verdicts reported through backend_set_health() (see check.h). */
#include "checks/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checks/check_state.h"
#include "checks/probe.h"
#include "common/log.h"
#include "common/util.h"
#include "lb/backend.h"
#include "lb/lb.h"
#include "lb/service.h"

struct check {
	struct checker *checker;
	struct check *prev, *next;
	struct backend *b;            /* one reference */
	struct check_conf conf;       /* deep copy of the service's check: */
	uint16_t svc_port;            /* the service's first port */
	bool has_source;
	struct addr source;
	struct probe probe;
	ev_timer tick;                /* start of the next probe */
	uint64_t due_ms;              /* when tick should fire (monotonic) */
	struct check_state st;
	bool seen;                    /* mark of checker_sync() */
	bool maint;                   /* the backend is in maintenance (not probed) */
	const char *since;            /* when the verdict restarted: "start", "reload",
					 "maintenance" (for the never-up report) */
	uint32_t local_backoff_ms;    /* retry delay while probes cannot start, 0 if they can */
	uint64_t local_run;           /* local errors since probes last started */
	char local_reason[REPLY_TEXT_MAX]; /* the reason last logged, "" if none */
	bool waiting;                 /* in the checker's queue for a probe slot */
	bool holds_slot;              /* the running probe counts in inflight */
	ev_timer slot;                /* gives the slot back after timeout / 4 */
	struct check *wait_prev, *wait_next;
	struct check_stats stats;
};

struct checker {
	struct ev_loop *loop;
	struct probe_ctx *pctx;
	struct check *checks;
	unsigned count;
	unsigned inflight;            /* young probes running (see CHECK_MAX_INFLIGHT) */
	struct check *wait_head, *wait_tail;  /* due, waiting for a slot (FIFO) */
	uint64_t rng;
	bool synced;                  /* checker_sync() ran once: new checks come from a reload */
	struct check_stats gone;      /* counters of checks since freed */
};

const char *check_result_str(enum check_result r)
{
	switch (r) {
	case CHECK_OK: return "ok";
	case CHECK_ERR_CONNECT: return "connect";
	case CHECK_ERR_TIMEOUT: return "timeout";
	case CHECK_ERR_PROTOCOL: return "protocol";
	case CHECK_ERR_TLS: return "tls";
	case CHECK_ERR_LOCAL: return "local";
	}
	return "?";
}

static uint32_t checker_rand(struct checker *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return (uint32_t)(c->rng >> 32);
}

static void conf_copy(struct check_conf *dst, const struct check_conf *src)
{
	*dst = *src;
	dst->path = xstrdup(src->path);
	dst->host = xstrdup(src->host);
	dst->expect_body = xstrdup(src->expect_body);
	dst->ehlo = xstrdup(src->ehlo);
	dst->ca_file = xstrdup(src->ca_file);
	dst->send = xstrdup(src->send);
	dst->expect = xstrdup(src->expect);
	dst->quit = xstrdup(src->quit);
	dst->expect_re = cfg_regex_ref(src->expect_re);
}

static void conf_free(struct check_conf *cc)
{
	free(cc->path);
	free(cc->host);
	free(cc->expect_body);
	free(cc->ehlo);
	free(cc->ca_file);
	free(cc->send);
	free(cc->expect);
	free(cc->quit);
	cfg_regex_unref(cc->expect_re);
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool conf_equal(const struct check_conf *a, const struct check_conf *b)
{
	return a->type == b->type && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->rise == b->rise && a->fall == b->fall &&
	       a->port == b->port && str_eq(a->path, b->path) && str_eq(a->host, b->host) &&
	       a->expect_status == b->expect_status && str_eq(a->expect_body, b->expect_body) &&
	       str_eq(a->ehlo, b->ehlo) && a->starttls == b->starttls &&
	       a->verify == b->verify && str_eq(a->ca_file, b->ca_file) &&
	       a->on_down == b->on_down && str_eq(a->send, b->send) &&
	       str_eq(a->expect, b->expect) && str_eq(a->quit, b->quit) && a->tls == b->tls;
}

/* Arm the tick to start the next probe delay_ms from now. */
static void check_schedule(struct check *ck, uint64_t delay_ms)
{
	struct ev_loop *loop = ck->checker->loop;

	ev_timer_stop(loop, &ck->tick);
	ck->due_ms = now_ms() + delay_ms;
	ev_timer_set(&ck->tick, (double)delay_ms / 1000., 0.);
	ev_timer_start(loop, &ck->tick);
}

static void check_set_status(struct check *ck, const char *last, const char *detail)
{
	struct backend *b = ck->b;

	snprintf(b->check_last, sizeof(b->check_last), "%s", last);
	snprintf(b->check_detail, sizeof(b->check_detail), "%s", detail);
}

static const char *check_svc_name(const struct check *ck)
{
	return ck->b->svc ? ck->b->svc->name : "-";
}

/* Count one result; change the backend's health when rise/fall says so, or
 * report once a backend that failed `fall` probes without coming up since
 * the check (re)started. reason: "ok" or what failed, as logged. */
static void check_count(struct check *ck, bool ok, const char *reason)
{
	uint32_t rise = ck->conf.rise ? ck->conf.rise : 1;
	uint32_t fall = ck->conf.fall ? ck->conf.fall : 1;
	bool first = !ck->st.checked;
	char why[REPLY_TEXT_MAX + 48];
	enum check_change ch = check_state_update(&ck->st, ok, rise, fall);
	uint32_t n = first && ch != CHECK_NEVER_UP ? 1 : (ch == CHECK_WENT_UP ? rise : fall);

	switch (ch) {
	case CHECK_SAME:
		return;
	case CHECK_NEVER_UP:
		log_warning("service %s backend %s: down (%s) after %u failed check%s, "
			    "never up since %s", check_svc_name(ck), ck->b->name, reason, n,
			    n == 1 ? "" : "s", ck->since);
		return;
	case CHECK_WENT_UP:
		snprintf(why, sizeof(why), "%s after %u passing check%s", first ? "ok" : reason,
			 n, n == 1 ? "" : "s");
		break;
	case CHECK_WENT_DOWN:
		snprintf(why, sizeof(why), "%s after %u failed check%s", reason, n,
			 n == 1 ? "" : "s");
		break;
	}
	ck->stats.transitions++;
	backend_set_health(ck->b, ch == CHECK_WENT_UP, why);
}

static void wait_remove(struct check *ck)
{
	struct checker *c = ck->checker;

	if (!ck->waiting)
		return;
	if (ck->wait_prev)
		ck->wait_prev->wait_next = ck->wait_next;
	else
		c->wait_head = ck->wait_next;
	if (ck->wait_next)
		ck->wait_next->wait_prev = ck->wait_prev;
	else
		c->wait_tail = ck->wait_prev;
	ck->wait_prev = ck->wait_next = NULL;
	ck->waiting = false;
}

static void wait_append(struct check *ck)
{
	struct checker *c = ck->checker;

	if (ck->waiting)
		return;
	ck->waiting = true;
	ck->wait_next = NULL;
	ck->wait_prev = c->wait_tail;
	if (c->wait_tail)
		c->wait_tail->wait_next = ck;
	else
		c->wait_head = ck;
	c->wait_tail = ck;
}

/* Address and port to probe: check port, else the backend's, else the service's. */
static void check_target(const struct check *ck, struct addr *dst)
{
	const struct backend *b = ck->b;
	uint16_t port = ck->conf.port ? ck->conf.port : (b->port ? b->port : ck->svc_port);

	*dst = b->addr;
	addr_set_port(dst, port);
}

/* Start the probe that is due now (a slot is free). */
static void check_start(struct check *ck)
{
	uint64_t now = now_ms(), late = now > ck->due_ms ? now - ck->due_ms : 0;
	struct addr dst;

	if (ck->b->admin == ADMIN_MAINT) {
		ck->maint = true;
		check_schedule(ck, ck->conf.interval_ms);
		return;
	}
	if (late > CHECK_LATE_MS)
		ck->stats.late++;
	if (late > ck->stats.max_late_ms)
		ck->stats.max_late_ms = late;
	check_target(ck, &dst);
	ck->checker->inflight++;
	ck->holds_slot = true;
	ev_timer_set(&ck->slot, (ck->conf.timeout_ms / 4 > CHECK_SLOT_MIN_MS ?
				 ck->conf.timeout_ms / 4 : CHECK_SLOT_MIN_MS) / 1000., 0.);
	ev_timer_start(ck->checker->loop, &ck->slot);
	ck->probe.send_proxy = ck->b->send_proxy;
	probe_start(&ck->probe, &ck->conf, &dst, ck->has_source ? &ck->source : NULL);
}

static void release_slot(struct check *ck)
{
	if (!ck->holds_slot)
		return;
	ck->holds_slot = false;
	ck->checker->inflight--;
	ev_timer_stop(ck->checker->loop, &ck->slot);
}

/* Give free probe slots to the checks waiting longest. */
static void checker_admit(struct checker *c)
{
	while (c->wait_head && c->inflight < CHECK_MAX_INFLIGHT) {
		struct check *ck = c->wait_head;

		wait_remove(ck);
		check_start(ck);
	}
}

/* A probe still running after a quarter of its timeout waits on the
 * server, not on our CPU: it stops counting against the cap. */
static void check_slot_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct check *ck = container_of(w, struct check, slot);

	release_slot(ck);
	checker_admit(ck->checker);
}

/* Stop a running probe without a result. */
static void check_stop_probe(struct check *ck)
{
	wait_remove(ck);
	release_slot(ck);
	probe_abort(&ck->probe);
}

/* The probe could not start on this node (no descriptor, source address
 * unusable): not counted against the backend. Retry after 50 ms, doubling
 * up to the interval; log once per reason, count every one. */
static void check_local_error(struct check *ck, const char *detail)
{
	uint32_t cap = ck->conf.interval_ms > CHECK_LOCAL_RETRY_MS ? ck->conf.interval_ms
								     : CHECK_LOCAL_RETRY_MS;

	ck->stats.local_errors++;
	ck->local_run++;
	if (ck->local_backoff_ms == 0)
		ck->local_backoff_ms = CHECK_LOCAL_RETRY_MS;
	else
		ck->local_backoff_ms = ck->local_backoff_ms > cap / 2 ? cap : ck->local_backoff_ms * 2;
	if (strcmp(ck->local_reason, detail) != 0) {
		log_warning("service %s backend %s: cannot probe (%s), not counted, retry in %u ms, "
			    "backing off up to %u ms (logged again when the reason changes)",
			    check_svc_name(ck), ck->b->name, detail, ck->local_backoff_ms, cap);
		snprintf(ck->local_reason, sizeof(ck->local_reason), "%s", detail);
	}
	check_set_status(ck, check_result_str(CHECK_ERR_LOCAL), detail);
	check_schedule(ck, ck->local_backoff_ms);
}

/* A probe ran after local errors: say so once. */
static void check_local_recovered(struct check *ck)
{
	if (!ck->local_reason[0])
		return;
	log_notice("service %s backend %s: probing again after %" PRIu64 " local error%s (%s)",
		   check_svc_name(ck), ck->b->name, ck->local_run, ck->local_run == 1 ? "" : "s",
		   ck->local_reason);
	ck->local_reason[0] = '\0';
	ck->local_backoff_ms = 0;
	ck->local_run = 0;
}

static void check_probe_done(struct probe *p, enum check_result res, const char *detail)
{
	struct check *ck = container_of(p, struct check, probe);
	struct checker *c = ck->checker;
	char reason[REPLY_TEXT_MAX + 16];
	uint64_t now = now_ms();

	release_slot(ck);
	if (res == CHECK_ERR_LOCAL) {
		check_local_error(ck, detail);
		checker_admit(c);
		return;
	}
	check_local_recovered(ck);
	ck->stats.probes++;
	ck->stats.last_ms = (uint32_t)(now - p->started_ms);
	if (res != CHECK_OK)
		ck->stats.failures++;
	else                            /* weighted-response-time reads it */
		backend_note_rtt(ck->b, probe_rtt_us(p));
	if (res == CHECK_ERR_TIMEOUT)
		ck->stats.timeouts++;
	check_set_status(ck, check_result_str(res), detail);
	/* a socket error's detail is the bare reason: the log names the class */
	snprintf(reason, sizeof(reason), "%s%s%s", res == CHECK_ERR_CONNECT ? "connect" : "",
		 res == CHECK_ERR_CONNECT ? ": " : "", res == CHECK_OK ? "ok" : detail);
	check_count(ck, res == CHECK_OK, reason);
	check_schedule(ck, check_next_delay(&ck->st, &ck->conf, p->started_ms, now,
					    ck->stats.probes, checker_rand(c)));
	checker_admit(c);
}

static void check_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct check *ck = container_of(w, struct check, tick);
	struct checker *c = ck->checker;

	if (probe_running(&ck->probe) || ck->waiting)
		return;
	if (c->inflight >= CHECK_MAX_INFLIGHT && ck->b->admin != ADMIN_MAINT) {
		wait_append(ck);
		return;
	}
	check_start(ck);
}

/* Copy what the check needs from its service (port, source address). */
static void check_take_service(struct check *ck, const struct service *svc)
{
	const struct service_conf *sc = svc->conf;

	ck->svc_port = sc->nports ? sc->ports[0] : 0;
	ck->has_source = svc->has_source;
	if (svc->has_source) {
		ck->source = svc->source;
		addr_set_port(&ck->source, 0);
	}
}

static void check_new(struct checker *c, struct backend *b, const struct service *svc,
		      uint32_t spread_ms)
{
	struct check *ck = xcalloc(1, sizeof(*ck));

	ck->checker = c;
	ck->b = backend_ref(b);
	conf_copy(&ck->conf, &svc->conf->check);
	check_take_service(ck, svc);
	probe_init(&ck->probe, c->pctx, check_probe_done);
	ev_init(&ck->tick, check_tick_cb);
	ev_init(&ck->slot, check_slot_cb);
	ck->seen = true;
	ck->maint = b->admin == ADMIN_MAINT;
	ck->since = c->synced ? "reload" : "start";
	check_state_restart(&ck->st);
	ck->next = c->checks;
	if (ck->next)
		ck->next->prev = ck;
	c->checks = ck;
	c->count++;
	b->check = ck;
	b->admin_changed = check_admin_changed;
	b->passive_failure = check_passive_failure;
	if (b->healthy)
		backend_set_health(b, false, "not checked yet");
	check_schedule(ck, checker_rand(c) % (spread_ms + 1));
}

/* A backend that stays: follow a changed check configuration. */
static void check_update(struct check *ck, const struct service *svc)
{
	ck->seen = true;
	check_take_service(ck, svc);
	if (conf_equal(&ck->conf, &svc->conf->check))
		return;
	check_stop_probe(ck);         /* it points into the old copy */
	probe_forget_session(&ck->probe);
	conf_free(&ck->conf);
	conf_copy(&ck->conf, &svc->conf->check);
	ck->st.npass = ck->st.nfail = 0;
	check_schedule(ck, checker_rand(ck->checker) % (CHECK_FIRST_JITTER_MS + 1));
}

static void stats_add(struct check_stats *to, const struct check_stats *s)
{
	to->probes += s->probes;
	to->failures += s->failures;
	to->timeouts += s->timeouts;
	to->passive += s->passive;
	to->late += s->late;
	to->transitions += s->transitions;
	to->local_errors += s->local_errors;
	if (s->max_late_ms > to->max_late_ms)
		to->max_late_ms = s->max_late_ms;
	to->last_ms = s->last_ms;
}

static void check_free(struct check *ck)
{
	struct checker *c = ck->checker;

	check_stop_probe(ck);
	probe_forget_session(&ck->probe);
	ev_timer_stop(c->loop, &ck->tick);
	if (ck->prev)
		ck->prev->next = ck->next;
	else
		c->checks = ck->next;
	if (ck->next)
		ck->next->prev = ck->prev;
	c->count--;
	stats_add(&c->gone, &ck->stats);
	if (ck->b->check == ck) {
		ck->b->check = NULL;
		ck->b->admin_changed = NULL;
		ck->b->passive_failure = NULL;
	}
	backend_unref(ck->b);
	conf_free(&ck->conf);
	free(ck);
}

struct checker *checker_new(struct ev_loop *loop)
{
	struct checker *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->pctx = probe_ctx_new(loop);
	c->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ now_ms() ^ 0x9e3779b97f4a7c15ull;
	return c;
}

void checker_free(struct checker *c)
{
	if (!c)
		return;
	while (c->checks)
		check_free(c->checks);
	probe_ctx_free(c->pctx);
	free(c);
}

/* Backends of lb's live services that have no check yet. */
static unsigned count_new(const struct lb *lb)
{
	unsigned n = 0;
	size_t i, j;

	for (i = 0; i < lb_nservices(lb); i++) {
		const struct service *svc = lb_service(lb, i);

		for (j = 0; svc->conf && j < svc->nbackends; j++)
			n += svc->backends[j]->check == NULL;
	}
	return n;
}

void checker_sync(struct checker *c, struct lb *lb)
{
	unsigned nnew = count_new(lb);
	struct check *ck, *next;
	size_t i, j;

	for (ck = c->checks; ck; ck = ck->next)
		ck->seen = false;
	probe_ctx_flush_tls(c->pctx);
	for (i = 0; i < lb_nservices(lb); i++) {
		struct service *svc = lb_service(lb, i);

		if (!svc->conf)
			continue;
		for (j = 0; j < svc->nbackends; j++) {
			struct backend *b = svc->backends[j];

			if (b->check && b->check->checker == c && !b->check->seen)
				check_update(b->check, svc);
			else if (!b->check)
				check_new(c, b, svc, check_first_spread(svc->conf->check.interval_ms,
									  nnew));
		}
	}
	for (ck = c->checks; ck; ck = next) {
		next = ck->next;
		if (!ck->seen)
			check_free(ck);
	}
	c->synced = true;
}

unsigned checker_count(const struct checker *c)
{
	return c->count;
}

void checker_get_stats(const struct checker *c, struct check_stats *out)
{
	const struct check *ck;

	*out = c->gone;
	for (ck = c->checks; ck; ck = ck->next)
		stats_add(out, &ck->stats);
}

void check_get_stats(const struct check *ck, struct check_stats *out)
{
	*out = ck->stats;
}

bool check_probing(const struct check *ck)
{
	return ck && probe_running(&ck->probe);
}

void check_passive_failure(struct check *ck)
{
	if (!ck || ck->b->admin == ADMIN_MAINT)
		return;
	ck->stats.passive++;
	check_set_status(ck, "passive", "client connect failed");
	check_count(ck, false, "client connect failed");
	if (!probe_running(&ck->probe) && !ck->waiting)
		check_schedule(ck, 0);
}

void check_admin_changed(struct check *ck)
{
	bool was_maint;

	if (!ck)
		return;
	was_maint = ck->maint;
	ck->maint = ck->b->admin == ADMIN_MAINT;
	if (!was_maint || ck->maint)
		return;
	/* out of maintenance: what the checks knew before is stale */
	check_stop_probe(ck);
	check_state_restart(&ck->st);
	ck->since = "maintenance";
	check_set_status(ck, "none", "awaiting a fresh probe after maintenance");
	backend_set_health(ck->b, false, "out of maintenance, awaiting a fresh probe");
	check_schedule(ck, 0);
}
