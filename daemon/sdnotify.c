/* sdnotify.c - READY/RELOADING/STOPPING/STATUS for systemd (Type=notify). */
#include "daemon/sdnotify.h"
#include "daemon/vigild.h"
#include "common/log.h"
#include "common/util.h"
#include "lb/lb.h"
#include "vip/failover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#define POLL_START 0.02         /* seconds between readiness checks at start-up */
#define POLL_STATUS 5.0         /* seconds between STATUS= refreshes once ready */
#define LIMIT_CAP 30.0          /* never wait longer than this for readiness */
#define LIMIT_MARGIN 2.0

struct sdnotify {
	struct vigild *d;
	ev_timer timer;
	ev_tstamp started;            /* ev_now() at sdnotify_new() */
	bool enabled;                 /* $NOTIFY_SOCKET is set */
	bool ready;                   /* READY=1 sent (or would have been) */
	char status[160];             /* the last STATUS= sent */
};

enum sdnotify_verdict sdnotify_decide(const struct sdnotify_facts *f)
{
	bool settled = f->probes_pending == 0;

	if (strcmp(f->failover, "init") == 0 || f->learning)
		settled = false;
	else if (strcmp(f->failover, "backup") == 0 && f->waited < f->backup_settle)
		settled = false;
	if (settled)
		return SDNOTIFY_READY;
	return f->waited >= f->limit ? SDNOTIFY_LATE : SDNOTIFY_WAIT;
}

static void backends_count(const struct vigild *d, unsigned *up, unsigned *total,
			   unsigned *pending)
{
	*up = *total = *pending = 0;
	for (size_t i = 0; i < lb_nservices(d->lb); i++) {
		const struct service *s = lb_service(d->lb, i);

		for (size_t j = 0; j < s->nbackends; j++) {
			const struct backend *b = s->backends[j];

			(*total)++;
			*up += b->state == BACKEND_UP;
			*pending += b->check && strcmp(b->check_last, "none") == 0;
		}
	}
}

/* The longest wait readiness allows for (see sdnotify.h). */
static double ready_limit(const struct config *cfg)
{
	double worst = 0;

	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct check_conf *ck = &cfg->services[i].check;
		double t = (ck->interval_ms + ck->timeout_ms) / 1000.0;

		if (t > worst)
			worst = t;
	}
	worst += LIMIT_MARGIN;
	return worst < LIMIT_CAP ? worst : LIMIT_CAP;
}

static void facts_get(const struct sdnotify *n, struct sdnotify_facts *f)
{
	const struct vigild *d = n->d;
	unsigned up, total;

	backends_count(d, &up, &total, &f->probes_pending);
	f->failover = vigild_failover_state(d);
	f->learning = d->fo && failover_waiting(d->fo);
	f->waited = ev_now(d->loop) - n->started;
	f->backup_settle = d->cfg->has_failover
		? 4.0 * d->cfg->failover.advert_interval_ms / 1000.0 : 0;
	f->limit = ready_limit(d->cfg);
}

static void summary(const struct vigild *d, const char *what, char *out, size_t len)
{
	unsigned up, total, pending;

	backends_count(d, &up, &total, &pending);
	snprintf(out, len, "%s: %zu service%s, %u/%u backends up, failover %s%s", what,
		 lb_nservices(d->lb), lb_nservices(d->lb) == 1 ? "" : "s", up, total,
		 vigild_failover_state(d), d->fo && failover_waiting(d->fo) ?
		 " (learning the peer's operator state)" : "");
}

/* Send msg (lines "KEY=VALUE"), then STATUS= when it changed. */
static void send_state(struct sdnotify *n, const char *msg, const char *what)
{
	char status[sizeof(n->status)];
	int rc;

	summary(n->d, what, status, sizeof(status));
	if (!n->enabled)
		return;
	if (msg && strcmp(status, n->status) == 0)
		rc = sd_notify(0, msg);
	else if (msg)
		rc = sd_notifyf(0, "%s\nSTATUS=%s", msg, status);
	else if (strcmp(status, n->status) != 0)
		rc = sd_notifyf(0, "STATUS=%s", status);
	else
		return;
	if (rc < 0)
		log_warning("sd_notify: %s", strerror(-rc));
	memcpy(n->status, status, sizeof(status));
}

static void declare_ready(struct sdnotify *n, enum sdnotify_verdict v,
			  const struct sdnotify_facts *f)
{
	char status[sizeof(n->status)];

	n->ready = true;
	summary(n->d, "ready", status, sizeof(status));
	if (v == SDNOTIFY_LATE)
		log_warning("%s after %.1f s (%u first probe%s still pending, failover %s)",
			    status, f->waited, f->probes_pending,
			    f->probes_pending == 1 ? "" : "s", f->failover);
	else
		log_notice("%s after %.2f s", status, f->waited);
	send_state(n, "READY=1", "ready");
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sdnotify *n = container_of(w, struct sdnotify, timer);
	struct sdnotify_facts f;
	enum sdnotify_verdict v;

	if (n->d->stopping) {
		ev_timer_stop(loop, w);
		return;
	}
	if (n->ready) {
		send_state(n, NULL, "running");
		return;
	}
	facts_get(n, &f);
	v = sdnotify_decide(&f);
	if (v == SDNOTIFY_WAIT)
		return;
	declare_ready(n, v, &f);
	ev_timer_stop(loop, w);
	if (n->enabled) {
		ev_timer_set(w, POLL_STATUS, POLL_STATUS);
		ev_timer_start(loop, w);
	}
}

struct sdnotify *sdnotify_new(struct vigild *d)
{
	struct sdnotify *n = xcalloc(1, sizeof(*n));
	const char *sock = getenv("NOTIFY_SOCKET");

	n->d = d;
	n->enabled = sock && *sock;
	n->started = ev_now(d->loop);
	ev_timer_init(&n->timer, timer_cb, 0., POLL_START);
	ev_timer_start(d->loop, &n->timer);
	if (n->enabled)
		send_state(n, NULL, "starting");
	return n;
}

/* Before start-up readiness a reload is part of starting: nothing to say. */
void sdnotify_reloading(struct sdnotify *n)
{
	struct timespec ts;
	char msg[64];

	if (!n || !n->enabled || !n->ready)
		return;
	/* MONOTONIC_USEC: systemd >= 253 wants it beside RELOADING=1 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	send_state(n, msg, "reloading");
}

void sdnotify_reloaded(struct sdnotify *n, bool ok)
{
	if (!n)
		return;
	send_state(n, n->ready ? "READY=1" : NULL, ok ? "reloaded" : "reload refused");
}

void sdnotify_stopping(struct sdnotify *n)
{
	if (!n)
		return;
	ev_timer_stop(n->d->loop, &n->timer);
	send_state(n, "STOPPING=1", "stopping");
}

void sdnotify_free(struct sdnotify *n)
{
	if (!n)
		return;
	ev_timer_stop(n->d->loop, &n->timer);
	free(n);
}
