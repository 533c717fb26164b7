/* wire_alerts.c - notify/ wired to the configuration and to the events the
 * daemon hears (see wire_alerts.h). */
#include "daemon/wire_alerts.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/events.h"
#include "common/util.h"

/* ---- settings ---- */

/* failover.node, else the host name. */
static const char *node_name(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->has_failover && cfg->failover.node && cfg->failover.node[0])
		return cfg->failover.node;
	if (gethostname(buf, len) < 0)
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
	return buf;
}

int wire_notify_prepare(const struct config *cfg, struct wire_notify *w, char *err,
			size_t errlen)
{
	const struct failover_conf *fo = &cfg->failover;
	const struct alerts_conf *ac = &cfg->alerts;
	char why[512];

	memset(w, 0, sizeof(*w));
	if (cfg->has_failover &&
	    notify_conf_load(&w->failover, fo->notify_exec, fo->has_email, &fo->email, why,
			     sizeof(why)) < 0) {
		snprintf(err, errlen, "failover.notify.%s", why);
		return -1;
	}
	w->alerts.on = cfg->has_alerts;
	w->alerts.batch_ms = ac->batch_ms;
	w->alerts.max_per_hour = ac->max_per_hour;
	if (cfg->has_alerts &&
	    notify_conf_load(&w->alerts.out, ac->exec, ac->has_email, &ac->email, why,
			     sizeof(why)) < 0) {
		snprintf(err, errlen, "alerts.%s", why);
		notify_conf_free(&w->failover);
		return -1;
	}
	return 0;
}

void wire_notify_commit(struct vigild *d, struct wire_notify *w)
{
	char host[256];

	notify_set_conf(d->notify, &w->failover);
	w->alerts.node = node_name(d->cfg, host, sizeof(host));
	alerts_apply(d->alerts, &w->alerts);
	w->alerts.node = NULL;
}

void wire_notify_discard(struct wire_notify *w)
{
	notify_conf_free(&w->failover);
	notify_conf_free(&w->alerts.out);
}

/* ---- events ---- */

void wire_alert_backend(struct vigild *d, const struct service *svc, const struct backend *b,
			enum backend_state old, const char *reason)
{
	char text[ALERTS_TEXT_MAX];
	struct alert al = { .when = wall_now(), .service = svc->name, .backend = b->name,
			    .text = text };

	/* between up and down only: drain and maint are the operator's doing;
	 * a backend's first up (after start or being added) is no news */
	if (old == BACKEND_UP && b->state == BACKEND_DOWN)
		al.kind = ALERT_BACKEND_DOWN;
	else if (old == BACKEND_DOWN && b->state == BACKEND_UP && b->transitions > 1)
		al.kind = ALERT_BACKEND_UP;
	else
		return;
	snprintf(text, sizeof(text), "%s -> %s (%s)", backend_state_str(old),
		 backend_state_str(b->state), reason);
	alerts_add(d->alerts, &al);
}

void wire_alert_service(struct vigild *d, const struct service *svc, bool available)
{
	struct alert al = { .when = wall_now(), .service = svc->name };

	if (!available) {
		al.kind = ALERT_SERVICE_DOWN;
		al.text = "no backend up: new clients are refused";
	} else if (svc->avail_changes > 1) {  /* not its first availability */
		al.kind = ALERT_SERVICE_UP;
		al.text = "a backend is up again: clients are served";
	} else {
		return;
	}
	alerts_add(d->alerts, &al);
}

void wire_alert_failover(struct vigild *d, const struct failover_change *c)
{
	char text[ALERTS_TEXT_MAX];
	struct alert al = { .kind = ALERT_FAILOVER, .when = c->when, .group = c->group,
			    .text = text };

	if (strcmp(c->old_state, "init") == 0)       /* start-up, not a transition */
		return;
	snprintf(text, sizeof(text), "%s -> %s (%s)", c->old_state, c->new_state, c->reason);
	alerts_add(d->alerts, &al);
}

void wire_alert_sync_refused(struct vigild *d, const char *peer, bool by_peer,
			     const char *reason)
{
	char text[ALERTS_TEXT_MAX];
	struct alert al = { .kind = ALERT_SYNC_REFUSED, .when = wall_now(), .text = text };

	if (by_peer)
		snprintf(text, sizeof(text), "peer %s refused this node's configuration: %s",
			 peer, reason);
	else
		snprintf(text, sizeof(text), "configuration from peer %s refused: %s", peer,
			 reason);
	alerts_add(d->alerts, &al);
	events_add(d->events, al.when, EVENT_SYNC, NULL, NULL, 0, text);
}
