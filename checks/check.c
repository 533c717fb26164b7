/* check.c - the checker: one struct check per backend holding one entry per
 * configured check; scheduling, rise/fall per entry, the backend's verdict
 * reported through the checker's hooks (see check.h). */
#include "checks/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "checks/check_state.h"
#include "checks/probe.h"
#include "common/log.h"
#include "common/util.h"

#define CHECK_SPREAD_MAX_MS 50u       /* first probes of one backend's entries: step at most */

struct check_entry {
	struct check *ck;
	size_t idx;
	struct check_conf conf;       /* deep copy of the configured check */
	uint16_t port;                /* the port probed */
	uint64_t ports_mask;          /* service port indexes gated, 0: the whole backend */
	struct probe probe;
	ev_timer tick;                /* start of the next probe */
	uint64_t due_ms;              /* when tick should fire (monotonic) */
	struct check_state st;
	uint32_t local_backoff_ms;    /* retry delay while probes cannot start, 0 if they can */
	uint64_t local_run;           /* local errors since probes last started */
	char local_reason[REPLY_TEXT_MAX]; /* the reason last logged, "" if none */
	bool waiting;                 /* in the checker's queue for a probe slot */
	bool holds_slot;              /* the running probe counts in inflight */
	ev_timer slot;                /* gives the slot back after timeout / 4 */
	TAILQ_ENTRY(check_entry) wait_link;
	char last[16];                /* check_result_str(), "passive" or "none" */
	char detail[REPLY_TEXT_MAX];
	struct check_stats stats;
};

struct check {
	struct checker *checker;
	LIST_ENTRY(check) link;
	void *owner;                  /* held through the hooks */
	struct check **handle;
	char *service, *name;
	struct addr addr;
	uint16_t port;                /* the backend's own port, 0: the client's */
	uint16_t svc_port;            /* the service's first port */
	bool has_source;
	struct addr source;
	enum send_proxy send_proxy;
	bool seen;                    /* mark of checker_sync() */
	bool maint;                   /* the backend is in maintenance (not probed) */
	const char *since;            /* when the verdict restarted: "start", "reload",
					 "maintenance" (for the never-up report) */
	bool healthy;                 /* the verdict last reported */
	uint64_t gated_down;          /* the gated ports last reported */
	struct check_entry *e;        /* n entries, never moved while they run */
	size_t n;
	struct check_stats gone;      /* counters of entries replaced by a reload */
};

TAILQ_HEAD(check_waitq, check_entry);

struct checker {
	struct ev_loop *loop;
	struct probe_ctx *pctx;
	struct check_hooks hooks;
	LIST_HEAD(, check) checks;
	unsigned count;
	unsigned inflight;            /* young probes running (see CHECK_MAX_INFLIGHT) */
	struct check_waitq waitq;     /* due, waiting for a slot (FIFO) */
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

/* Arm the tick to start the next probe delay_ms from now. */
static void entry_schedule(struct check_entry *e, uint64_t delay_ms)
{
	struct ev_loop *loop = e->ck->checker->loop;

	ev_timer_stop(loop, &e->tick);
	e->due_ms = now_ms() + delay_ms;
	ev_timer_set(&e->tick, (double)delay_ms / 1000., 0.);
	ev_timer_start(loop, &e->tick);
}

/* "" with one check; "check 2 (https:443 /owa/healthcheck.htm): " with several. */
static void entry_label(const struct check_entry *e, char *out, size_t outlen)
{
	bool http = e->conf.type == CHECK_HTTP || e->conf.type == CHECK_HTTPS;

	if (e->ck->n < 2) {
		out[0] = '\0';
		return;
	}
	snprintf(out, outlen, "check %zu (%s:%u%s%s): ", e->idx + 1,
		 cfg_check_type_name(e->conf.type), e->port, http && e->conf.path ? " " : "",
		 http && e->conf.path ? e->conf.path : "");
}

/* The entry the status shows: the first failing one that gates the whole
 * backend, else the first failing one, else the first. */
static const struct check_entry *entry_shown(const struct check *ck)
{
	const struct check_entry *gated = NULL;

	for (size_t i = 0; i < ck->n; i++) {
		const struct check_entry *e = &ck->e[i];
		bool failing = !e->st.healthy || (strcmp(e->last, "ok") != 0 &&
						   strcmp(e->last, "none") != 0);

		if (failing && !e->ports_mask)
			return e;
		if (failing && !gated)
			gated = e;
	}
	return gated ? gated : &ck->e[0];
}

/* Tell the owner the backend's verdict and the status of the entry shown. */
static void check_report(struct check *ck, const char *why)
{
	const struct check_entry *shown = entry_shown(ck);
	struct check_report r = {
		.healthy = true, .last = shown->last, .detail = shown->detail, .why = why,
	};

	for (size_t i = 0; i < ck->n; i++) {
		const struct check_state *st = &ck->e[i].st;

		if (st->healthy)
			continue;
		/* a gating entry without its first result holds the whole
		 * backend back: it comes up with every port proven */
		if (ck->e[i].ports_mask && st->checked)
			r.gated_down |= ck->e[i].ports_mask;
		else
			r.healthy = false;
	}
	ck->healthy = r.healthy;
	ck->gated_down = r.gated_down;
	ck->checker->hooks.report(ck->owner, &r, ck->checker->hooks.arg);
}

static void entry_set_status(struct check_entry *e, const char *last, const char *detail)
{
	snprintf(e->last, sizeof(e->last), "%s", last);
	snprintf(e->detail, sizeof(e->detail), "%s", detail);
}

/* Count one result; report the backend's verdict when rise/fall changes it,
 * or report once an entry that failed `fall` probes without coming up since
 * the check (re)started. reason: "ok" or what failed, as logged. */
static void entry_count(struct check_entry *e, bool ok, const char *reason)
{
	struct check *ck = e->ck;
	uint32_t rise = e->conf.rise ? e->conf.rise : 1;
	uint32_t fall = e->conf.fall ? e->conf.fall : 1;
	bool first = !e->st.checked, was = ck->healthy;
	uint64_t was_gated = ck->gated_down;
	char why[REPLY_TEXT_MAX + 128], label[REPLY_TEXT_MAX + 40];
	enum check_change ch = check_state_update(&e->st, ok, rise, fall);
	uint32_t n = first && ch != CHECK_NEVER_UP ? 1 : (ch == CHECK_WENT_UP ? rise : fall);

	entry_label(e, label, sizeof(label));
	switch (ch) {
	case CHECK_SAME:
		check_report(ck, NULL);
		return;
	case CHECK_NEVER_UP:
		log_warning("service %s backend %s: %sdown (%s) after %u failed check%s, "
			    "never up since %s", ck->service, ck->name, label, reason, n,
			    n == 1 ? "" : "s", ck->since);
		check_report(ck, NULL);
		return;
	case CHECK_WENT_UP:
		snprintf(why, sizeof(why), "%s%s after %u passing check%s", label,
			 first ? "ok" : reason, n, n == 1 ? "" : "s");
		break;
	case CHECK_WENT_DOWN:
		snprintf(why, sizeof(why), "%s%s after %u failed check%s", label, reason, n,
			 n == 1 ? "" : "s");
		break;
	}
	e->stats.transitions++;
	check_report(ck, why);
	if (ck->healthy == was && ck->gated_down == was_gated && !first)
		log_notice("service %s backend %s: %s (%s; the backend stays %s)", ck->service,
			   ck->name, ch == CHECK_WENT_UP ? "check up" : "check down", why,
			   ck->healthy ? "up" : "down");
}

static void wait_remove(struct check_entry *e)
{
	if (!e->waiting)
		return;
	TAILQ_REMOVE(&e->ck->checker->waitq, e, wait_link);
	e->waiting = false;
}

static void wait_append(struct check_entry *e)
{
	if (e->waiting)
		return;
	e->waiting = true;
	TAILQ_INSERT_TAIL(&e->ck->checker->waitq, e, wait_link);
}

/* Start the probe that is due now (a slot is free). */
static void entry_start(struct check_entry *e)
{
	struct check *ck = e->ck;
	uint64_t now = now_ms(), late = now > e->due_ms ? now - e->due_ms : 0;
	struct addr dst = ck->addr;

	if (ck->maint) {
		entry_schedule(e, e->conf.interval_ms);
		return;
	}
	if (late > CHECK_LATE_MS)
		e->stats.late++;
	if (late > e->stats.max_late_ms)
		e->stats.max_late_ms = late;
	addr_set_port(&dst, e->port);
	ck->checker->inflight++;
	e->holds_slot = true;
	ev_timer_set(&e->slot, (e->conf.timeout_ms / 4 > CHECK_SLOT_MIN_MS ?
				e->conf.timeout_ms / 4 : CHECK_SLOT_MIN_MS) / 1000., 0.);
	ev_timer_start(ck->checker->loop, &e->slot);
	e->probe.send_proxy = ck->send_proxy;
	probe_start(&e->probe, &e->conf, &dst, ck->has_source ? &ck->source : NULL);
}

static void release_slot(struct check_entry *e)
{
	if (!e->holds_slot)
		return;
	e->holds_slot = false;
	e->ck->checker->inflight--;
	ev_timer_stop(e->ck->checker->loop, &e->slot);
}

/* Give free probe slots to the entries waiting longest. */
static void checker_admit(struct checker *c)
{
	while (!TAILQ_EMPTY(&c->waitq) && c->inflight < CHECK_MAX_INFLIGHT) {
		struct check_entry *e = TAILQ_FIRST(&c->waitq);

		wait_remove(e);
		entry_start(e);
	}
}

/* A probe still running after a quarter of its timeout waits on the
 * server, not on our CPU: it stops counting against the cap. */
static void entry_slot_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct check_entry *e = container_of(w, struct check_entry, slot);

	release_slot(e);
	checker_admit(e->ck->checker);
}

/* Stop a running probe without a result. */
static void entry_stop_probe(struct check_entry *e)
{
	wait_remove(e);
	release_slot(e);
	probe_abort(&e->probe);
}

/* The probe could not start on this node (no descriptor, source address
 * unusable): not counted against the backend. Retry after 50 ms, doubling
 * up to the interval; log once per reason, count every one. */
static void entry_local_error(struct check_entry *e, const char *detail)
{
	struct check *ck = e->ck;
	uint32_t cap = e->conf.interval_ms > CHECK_LOCAL_RETRY_MS ? e->conf.interval_ms
								    : CHECK_LOCAL_RETRY_MS;

	e->stats.local_errors++;
	e->local_run++;
	if (e->local_backoff_ms == 0)
		e->local_backoff_ms = CHECK_LOCAL_RETRY_MS;
	else
		e->local_backoff_ms = e->local_backoff_ms > cap / 2 ? cap : e->local_backoff_ms * 2;
	if (strcmp(e->local_reason, detail) != 0) {
		log_warning("service %s backend %s: cannot probe (%s), not counted, retry in %u ms, "
			    "backing off up to %u ms (logged again when the reason changes)",
			    ck->service, ck->name, detail, e->local_backoff_ms, cap);
		snprintf(e->local_reason, sizeof(e->local_reason), "%s", detail);
	}
	entry_set_status(e, check_result_str(CHECK_ERR_LOCAL), detail);
	check_report(ck, NULL);
	entry_schedule(e, e->local_backoff_ms);
}

/* A probe ran after local errors: say so once. */
static void entry_local_recovered(struct check_entry *e)
{
	if (!e->local_reason[0])
		return;
	log_notice("service %s backend %s: probing again after %" PRIu64 " local error%s (%s)",
		   e->ck->service, e->ck->name, e->local_run, e->local_run == 1 ? "" : "s",
		   e->local_reason);
	e->local_reason[0] = '\0';
	e->local_backoff_ms = 0;
	e->local_run = 0;
}

static void entry_probe_done(struct probe *p, enum check_result res, const char *detail)
{
	struct check_entry *e = container_of(p, struct check_entry, probe);
	struct checker *c = e->ck->checker;
	char reason[REPLY_TEXT_MAX + 16];
	uint64_t now = now_ms();

	release_slot(e);
	if (res == CHECK_ERR_LOCAL) {
		entry_local_error(e, detail);
		checker_admit(c);
		return;
	}
	entry_local_recovered(e);
	e->stats.probes++;
	e->stats.last_ms = (uint32_t)(now - p->started_ms);
	if (res != CHECK_OK)
		e->stats.failures++;
	else if (c->hooks.rtt)          /* weighted-response-time reads it */
		c->hooks.rtt(e->ck->owner, probe_rtt_us(p), c->hooks.arg);
	if (res == CHECK_ERR_TIMEOUT)
		e->stats.timeouts++;
	entry_set_status(e, check_result_str(res), detail);
	/* a socket error's detail is the bare reason: the log names the class */
	snprintf(reason, sizeof(reason), "%s%s%s", res == CHECK_ERR_CONNECT ? "connect" : "",
		 res == CHECK_ERR_CONNECT ? ": " : "", res == CHECK_OK ? "ok" : detail);
	entry_count(e, res == CHECK_OK, reason);
	entry_schedule(e, check_next_delay(&e->st, &e->conf, p->started_ms, now,
					   e->stats.probes, checker_rand(c)));
	checker_admit(c);
}

static void entry_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct check_entry *e = container_of(w, struct check_entry, tick);
	struct checker *c = e->ck->checker;

	if (probe_running(&e->probe) || e->waiting)
		return;
	if (c->inflight >= CHECK_MAX_INFLIGHT && !e->ck->maint) {
		wait_append(e);
		return;
	}
	entry_start(e);
}

/* Service port indexes named by the entry's ports:, 0 if none. */
static uint64_t ports_mask(const struct check_conf *cc, const struct check_target *t)
{
	uint64_t m = 0;

	for (size_t i = 0; i < cc->ngate_ports; i++)
		for (size_t j = 0; j < t->nsvc_ports && j < 64; j++)
			if (t->svc_ports[j] == cc->gate_ports[i])
				m |= 1ull << j;
	return m;
}

/* Port probed: the check's port:, the backend's, the first gated, the service's first. */
static uint16_t entry_port(const struct check_conf *cc, const struct check_target *t)
{
	if (cc->port)
		return cc->port;
	if (t->port)
		return t->port;
	if (cc->ngate_ports)
		return cc->gate_ports[0];
	return t->nsvc_ports ? t->svc_ports[0] : 0;
}

/* Copy what the backend's checks need from its target. */
static void check_take_target(struct check *ck, const struct check_target *t)
{
	free(ck->service);
	free(ck->name);
	ck->service = xstrdup(t->service ? t->service : "-");
	ck->name = xstrdup(t->name ? t->name : "-");
	ck->addr = t->addr;
	ck->port = t->port;
	ck->svc_port = t->nsvc_ports ? t->svc_ports[0] : 0;
	ck->has_source = t->has_source;
	ck->source = t->source;
	addr_set_port(&ck->source, 0);
	ck->send_proxy = t->send_proxy;
}

/* Fresh entries for the target's check list. kept (a reload; NULL at start)
 * holds the nkept entries from before: entry i keeps kept[i]'s verdict and
 * status text (its counting starts over); entries beyond take the backend's
 * verdict until their first result. */
static void entries_build(struct check *ck, const struct check_target *t,
			  const struct check_entry *kept, size_t nkept)
{
	ck->n = t->nchecks;
	ck->e = xcalloc(ck->n ? ck->n : 1, sizeof(*ck->e));
	for (size_t i = 0; i < ck->n; i++) {
		struct check_entry *e = &ck->e[i];

		e->ck = ck;
		e->idx = i;
		cfg_check_copy(&e->conf, &t->checks[i]);
		e->port = entry_port(&e->conf, t);
		e->ports_mask = ports_mask(&e->conf, t);
		probe_init(&e->probe, ck->checker->pctx, entry_probe_done);
		ev_init(&e->tick, entry_tick_cb);
		ev_init(&e->slot, entry_slot_cb);
		check_state_restart(&e->st);
		entry_set_status(e, "none", "not checked yet");
		if (i < nkept) {
			e->st = kept[i].st;
			e->st.npass = e->st.nfail = 0;
			entry_set_status(e, kept[i].last, kept[i].detail);
		} else if (kept) {
			e->st.healthy = ck->healthy;
		}
	}
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

/* Stop every entry's probe and timers; their counters go to ck->gone. */
static void entries_stop(struct check *ck)
{
	for (size_t i = 0; i < ck->n; i++) {
		struct check_entry *e = &ck->e[i];

		entry_stop_probe(e);
		probe_cleanup(&e->probe);
		ev_timer_stop(ck->checker->loop, &e->tick);
		stats_add(&ck->gone, &e->stats);
	}
}

/* Free stopped entries. */
static void entries_release(struct check_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cfg_check_clear(&e[i].conf);
	free(e);
}

static void entries_free(struct check *ck)
{
	entries_stop(ck);
	entries_release(ck->e, ck->n);
	ck->e = NULL;
	ck->n = 0;
}

/* First probes of the entries: at offset, then 1/n interval apart (at most 50 ms). */
static void entries_schedule(struct check *ck, uint32_t offset)
{
	for (size_t i = 0; i < ck->n; i++) {
		uint32_t step = ck->e[i].conf.interval_ms / (uint32_t)ck->n;

		entry_schedule(&ck->e[i], offset + i * (step < CHECK_SPREAD_MAX_MS ? step :
							 CHECK_SPREAD_MAX_MS));
	}
}

static void check_new(struct checker *c, const struct check_target *t, uint32_t spread_ms)
{
	struct check *ck = xcalloc(1, sizeof(*ck));

	ck->checker = c;
	ck->owner = t->owner;
	ck->handle = t->handle;
	c->hooks.hold(ck->owner, c->hooks.arg);
	check_take_target(ck, t);
	ck->maint = t->maint;
	ck->since = c->synced ? "reload" : "start";
	ck->seen = true;
	entries_build(ck, t, NULL, 0);
	LIST_INSERT_HEAD(&c->checks, ck, link);
	c->count++;
	*ck->handle = ck;
	check_report(ck, "not checked yet");
	entries_schedule(ck, checker_rand(c) % (spread_ms + 1));
}

static bool list_equal(const struct check *ck, const struct check_target *t)
{
	if (ck->n != t->nchecks)
		return false;
	for (size_t i = 0; i < ck->n; i++)
		if (!cfg_check_equal(&ck->e[i].conf, &t->checks[i]) ||
		    ck->e[i].ports_mask != ports_mask(&t->checks[i], t) ||
		    ck->e[i].port != entry_port(&t->checks[i], t))
			return false;
	return true;
}

/* A backend that stays: follow a changed check list. Entries at the same
 * place keep their verdict (counting starts over); new ones take the
 * backend's until their first result. */
static void check_update(struct check *ck, const struct check_target *t)
{
	struct check_entry *old = ck->e;
	size_t nold = ck->n;

	ck->seen = true;
	check_take_target(ck, t);
	if (list_equal(ck, t))
		return;
	entries_stop(ck);
	entries_build(ck, t, old, nold);
	entries_release(old, nold);
	check_report(ck, "check list changed by reload");
	entries_schedule(ck, checker_rand(ck->checker) % (CHECK_FIRST_JITTER_MS + 1));
}

static void check_free(struct check *ck)
{
	struct checker *c = ck->checker;

	entries_free(ck);
	LIST_REMOVE(ck, link);
	c->count--;
	stats_add(&c->gone, &ck->gone);
	if (*ck->handle == ck)
		*ck->handle = NULL;
	c->hooks.release(ck->owner, c->hooks.arg);
	free(ck->service);
	free(ck->name);
	free(ck);
}

struct checker *checker_new(struct ev_loop *loop, const struct check_hooks *hooks)
{
	struct checker *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->hooks = *hooks;
	LIST_INIT(&c->checks);
	TAILQ_INIT(&c->waitq);
	c->pctx = probe_ctx_new(loop);
	c->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ now_ms() ^ 0x9e3779b97f4a7c15ull;
	return c;
}

void checker_free(struct checker *c)
{
	if (!c)
		return;
	while (!LIST_EMPTY(&c->checks))
		check_free(LIST_FIRST(&c->checks));
	probe_ctx_free(c->pctx);
	free(c);
}

void checker_sync(struct checker *c, const struct check_iter *it)
{
	struct check_target *t = NULL;
	size_t n = 0, cap = 0, i;
	struct check *ck, *next;
	unsigned nnew = 0;

	LIST_FOREACH(ck, &c->checks, link)
		ck->seen = false;
	probe_ctx_flush_tls(c->pctx);
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			t = xrealloc(t, cap * sizeof(*t));
		}
		if (!it->next(it->it, &t[n]))
			break;
		if (t[n].nchecks == 0)
			continue;
		nnew += *t[n].handle == NULL;
		n++;
	}
	for (i = 0; i < n; i++) {
		ck = *t[i].handle;
		if (ck && ck->checker == c && !ck->seen)
			check_update(ck, &t[i]);
		else if (!ck)
			check_new(c, &t[i], check_first_spread(t[i].checks[0].interval_ms, nnew));
	}
	free(t);
	for (ck = LIST_FIRST(&c->checks); ck; ck = next) {
		next = LIST_NEXT(ck, link);
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
	LIST_FOREACH(ck, &c->checks, link) {
		struct check_stats s;

		check_get_stats(ck, &s);
		stats_add(out, &s);
	}
}

void check_get_stats(const struct check *ck, struct check_stats *out)
{
	*out = ck->gone;
	for (size_t i = 0; i < ck->n; i++)
		stats_add(out, &ck->e[i].stats);
	if (ck->n)
		out->last_ms = ck->e[0].stats.last_ms;
}

size_t check_entries(const struct check *ck)
{
	return ck ? ck->n : 0;
}

void check_entry_get(const struct check *ck, size_t i, struct check_entry_info *out)
{
	const struct check_entry *e = &ck->e[i];

	*out = (struct check_entry_info){
		.type = e->conf.type, .port = e->port, .ports_mask = e->ports_mask,
		.up = e->st.healthy, .last = e->last, .detail = e->detail, .stats = e->stats,
	};
}

size_t check_shown(const struct check *ck)
{
	return ck && ck->n ? (size_t)(entry_shown(ck) - ck->e) : 0;
}

bool check_probing(const struct check *ck)
{
	for (size_t i = 0; ck && i < ck->n; i++)
		if (probe_running(&ck->e[i].probe))
			return true;
	return false;
}

/* The entry a failed client connect to port counts against. */
static struct check_entry *entry_for_port(struct check *ck, uint16_t port)
{
	for (size_t i = 0; i < ck->n; i++)
		if (ck->e[i].port == port)
			return &ck->e[i];
	for (size_t i = 0; i < ck->n; i++)
		if (!ck->e[i].ports_mask)
			return &ck->e[i];
	return ck->n ? &ck->e[0] : NULL;
}

void check_passive_failure(struct check *ck, uint16_t port)
{
	struct check_entry *e;

	if (!ck || ck->maint || !(e = entry_for_port(ck, port)))
		return;
	e->stats.passive++;
	entry_set_status(e, "passive", "client connect failed");
	entry_count(e, false, "client connect failed");
	if (!probe_running(&e->probe) && !e->waiting)
		entry_schedule(e, 0);
}

void check_admin_changed(struct check *ck, bool maint)
{
	bool was_maint;

	if (!ck)
		return;
	was_maint = ck->maint;
	ck->maint = maint;
	if (!was_maint || ck->maint)
		return;
	/* out of maintenance: what the checks knew before is stale */
	ck->since = "maintenance";
	for (size_t i = 0; i < ck->n; i++) {
		entry_stop_probe(&ck->e[i]);
		check_state_restart(&ck->e[i].st);
		entry_set_status(&ck->e[i], "none", "awaiting a fresh probe after maintenance");
	}
	check_report(ck, "out of maintenance, awaiting a fresh probe");
	entries_schedule(ck, 0);
}
