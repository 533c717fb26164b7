/* transparent.c - source: client in the daemon: which policy rules are needed
 * (the configuration's, plus those of open connections to backends a reload
 * removed), installed through vip/rules_nl. */
#include "daemon/transparent.h"
#include "common/log.h"
#include "common/util.h"
#include "lb/lb.h"
#include "vip/rules_nl.h"

#include <stdbool.h>
#include <stdlib.h>

struct key_list {
	struct rules_nl_key *k;
	size_t n, cap;
};

static void key_collect_cb(const struct addr *ip, uint16_t port, void *arg)
{
	struct key_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->k = xrealloc(l->k, l->cap * sizeof(*l->k));
	}
	l->k[l->n].ip = *ip;
	l->k[l->n].port = port;
	l->n++;
}

/* The rules needed now: cfg's, and those of open transparent connections to
 * a backend that a reload removed (their replies still come back through
 * the rules). *lingering: some of the latter. */
static size_t transparent_wanted(const struct vigild *d, const struct config *cfg,
				 struct rules_nl_key **out, bool *lingering)
{
	struct key_list l = { 0 };
	size_t base;

	l.n = l.cap = base = rules_nl_wanted(cfg, &l.k);
	if (d->lb)
		lb_each_transparent(d->lb, key_collect_cb, &l);
	l.n = rules_nl_normalize(l.k, l.n);
	*lingering = l.n > base;
	*out = l.k;
	return l.n;
}

/* source: client: install exactly the policy rules needed (on every node of
 * a pair, whoever holds the VIPs: they only catch replies from backends to
 * client addresses, which a backup never gets). While connections keep
 * rules that cfg dropped, look again every second. 0, or -1 with err. */
int transparent_apply(struct vigild *d, const struct config *cfg, char *err,
			     size_t errlen)
{
	struct rules_nl_key *want;
	bool lingering;
	size_t n = transparent_wanted(d, cfg, &want, &lingering), had = rules_nl_count(d->rules);
	int rc = rules_nl_sync(d->rules, want, n, err, errlen);

	free(want);
	if (rc == 0 && n != had)
		log_notice("source: client: %zu policy rule%s to table %d%s", n, n == 1 ? "" : "s",
			   RULES_NL_TABLE, lingering ? " (some kept for open connections to "
			   "removed backends)" : "");
	if (rc == 0 && lingering) {
		d->rules_timer.repeat = 1.0;
		ev_timer_again(d->loop, &d->rules_timer);
	} else {
		ev_timer_stop(d->loop, &d->rules_timer);
	}
	return rc;
}

static void transparent_linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct vigild *d = container_of(w, struct vigild, rules_timer);
	char err[512];

	if (transparent_apply(d, d->cfg, err, sizeof(err)) < 0)
		log_error("source: client: %s", err);
}

/* At start: remove what a crashed run left, then install cfg's rules.
 * 0, or -1 after logging why. */
int transparent_start(struct vigild *d, const struct config *cfg)
{
	struct rules_nl_key *want;
	size_t removed, n = rules_nl_wanted(cfg, &want);
	char err[512];

	free(want);
	ev_init(&d->rules_timer, transparent_linger_cb);
	d->rules = rules_nl_open(err, sizeof(err));
	if (!d->rules) {
		log_error("policy rules: %s", err);
		return -1;
	}
	if (rules_nl_flush(d->rules, &removed, err, sizeof(err)) < 0) {
		if (n) {
			log_error("source: client: %s", err);
			return -1;
		}
		log_warning("policy rules of an earlier run stay: %s", err);
	} else if (removed) {
		log_notice("removed %zu policy rule%s left by an earlier run", removed,
			   removed == 1 ? "" : "s");
	}
	if (transparent_apply(d, cfg, err, sizeof(err)) < 0) {
		log_error("source: client: %s", err);
		return -1;
	}
	return 0;
}

void transparent_stop(struct vigild *d)
{
	char err[512];

	if (d->loop)
		ev_timer_stop(d->loop, &d->rules_timer);
	if (rules_nl_close(d->rules, err, sizeof(err)) < 0)
		log_error("policy rules: %s", err);
	d->rules = NULL;
}
