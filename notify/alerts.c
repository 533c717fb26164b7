/* alerts.c - the alerts' window timer and deliveries (see alerts.h). */
#include "notify/alerts.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "notify/mail_text.h"

struct alerts {
	struct ev_loop *loop;
	struct notify *out;           /* the outbox: log lines "alerts.exec", "alerts.email" */
	bool on;
	char *node;
	struct alert_batcher b;
	ev_timer window;              /* the open window's end */
	bool limited;                 /* the rate limit is dropping alerts (logged once) */
	uint64_t sent, failed, exec_ok, exec_failed;
};

struct alerts *alerts_new(struct ev_loop *loop)
{
	struct alerts *a = xcalloc(1, sizeof(*a));

	a->loop = loop;
	a->out = notify_new(loop, "alerts");
	a->node = xstrdup("localhost");
	alert_batcher_init(&a->b, 10000, 30);
	return a;
}

void alerts_free(struct alerts *a)
{
	if (!a)
		return;
	ev_timer_stop(a->loop, &a->window);
	notify_free(a->out);          /* calls no done function back */
	alert_batcher_free(&a->b);
	free(a->node);
	free(a);
}

static void drop_window(struct alerts *a)
{
	ev_timer_stop(a->loop, &a->window);
	a->b.n = 0;
	a->b.more = 0;
	a->b.open = false;
}

void alerts_apply(struct alerts *a, struct alerts_settings *s)
{
	a->on = s->on;
	notify_set_conf(a->out, &s->out);
	free(a->node);
	a->node = xstrdup(s->node && s->node[0] ? s->node : "localhost");
	if (!s->on) {
		drop_window(a);
		return;
	}
	alert_batcher_set(&a->b, s->batch_ms, s->max_per_hour);
}

/* ---- delivery ---- */

static void exec_done(void *arg, bool ok)
{
	struct alerts *a = arg;

	if (ok)
		a->exec_ok++;
	else
		a->exec_failed++;
}

static void mail_done(void *arg, bool ok)
{
	struct alerts *a = arg;

	if (ok)
		a->sent++;
	else
		a->failed++;
}

static void run_exec(struct alerts *a, const struct alert_batch *bt, const char *subject)
{
	const struct notify_conf *c = notify_get_conf(a->out);
	char node[300], count[64], supp[64], subj[MAIL_SUBJECT_MAX + 32], what[512];
	char *argv[] = { c->exec, NULL };
	char *env[] = { node, count, supp, subj, NULL };
	struct buf lines;

	snprintf(node, sizeof(node), "VIGIL_NODE=%s", a->node);
	snprintf(count, sizeof(count), "VIGIL_ALERTS=%" PRIu64, (uint64_t)bt->n + bt->more);
	snprintf(supp, sizeof(supp), "VIGIL_SUPPRESSED=%" PRIu64, bt->suppressed);
	snprintf(subj, sizeof(subj), "VIGIL_SUBJECT=%s", subject);
	snprintf(what, sizeof(what), "%s (%" PRIu64 " alert%s)", c->exec,
		 (uint64_t)bt->n + bt->more, bt->n + bt->more == 1 ? "" : "s");
	buf_init(&lines);
	alert_batch_lines(bt, &lines);
	notify_run(a->out, argv, env, lines.data ? lines.data : "", what, exec_done, a);
	buf_free(&lines);
}

static void send_mail(struct alerts *a, const struct alert_batch *bt, const char *subject)
{
	const struct notify_conf *c = notify_get_conf(a->out);
	char msgid[MAIL_MSGID_MAX];
	double now = wall_now();
	struct mail_head h = { .from = c->from, .to = c->to, .nto = c->nto, .subject = subject,
			       .when = now, .msgid = msgid };
	struct buf body, text;

	notify_message_id(a->out, now, msgid, sizeof(msgid));
	buf_init(&body);
	buf_init(&text);
	alert_batch_body(bt, a->node, &body);
	mail_compose(&h, body.data, &text);
	notify_mail(a->out, subject, msgid, text.data, mail_done, a);
	buf_free(&text);
	buf_free(&body);
}

static void deliver(struct alerts *a, const struct alert_batch *bt)
{
	const struct notify_conf *c = notify_get_conf(a->out);
	char subject[MAIL_SUBJECT_MAX + 1];

	alert_batch_subject(bt, a->node, subject, sizeof(subject));
	log_info("alerts: %s%s", subject, bt->suppressed ? " (and the count of alerts the "
		 "rate limit suppressed)" : "");
	if (c->exec)
		run_exec(a, bt, subject);
	if (c->has_email && c->nto)
		send_mail(a, bt, subject);
}

static void window_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct alerts *a = container_of(w, struct alerts, window);
	uint64_t before = a->b.suppressed_total;
	struct alert_batch bt;

	if (alert_batcher_flush(&a->b, ev_now(loop), &bt)) {
		a->limited = false;
		deliver(a, &bt);
		alert_batch_free(&bt);
		return;
	}
	if (a->b.suppressed_total > before && !a->limited) {
		a->limited = true;
		log_warning("alerts: alerts.max_per_hour (%" PRIu32 ") reached: %" PRIu64 " alert%s "
			    "suppressed, and more until the hour allows a batch again (the next "
			    "batch counts them)", a->b.max_per_hour, a->b.suppressed_total - before,
			    a->b.suppressed_total - before == 1 ? "" : "s");
	}
}

void alerts_add(struct alerts *a, const struct alert *al)
{
	if (!a || !a->on)
		return;
	if (alert_batcher_add(&a->b, al, ev_now(a->loop))) {
		ev_timer_init(&a->window, window_cb, a->b.batch_ms / 1000.0, 0.);
		ev_timer_start(a->loop, &a->window);
	}
}

void alerts_get_stats(const struct alerts *a, struct alerts_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!a)
		return;
	*out = (struct alerts_stats){
		.on = a->on, .events = a->b.events_total, .batches = a->b.batches_total,
		.sent = a->sent, .failed = a->failed, .suppressed = a->b.suppressed_total,
		.exec_ok = a->exec_ok, .exec_failed = a->exec_failed,
		.queued = a->b.n + a->b.more,
	};
}
