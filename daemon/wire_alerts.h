/* wire_alerts.h - the daemon's wiring of notify/: failover.notify and the
 * alerts section get their settings (password files read before a reload
 * commits, so an unreadable one refuses the reload), and the events the
 * daemon hears from lb/, vip/ and sync/ become alerts. Internal to daemon/. */
#ifndef VIGIL_WIRE_ALERTS_H
#define VIGIL_WIRE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/vigild.h"
#include "lb/lb.h"
#include "notify/alerts.h"
#include "notify/notify.h"
#include "vip/failover.h"

/* The outboxes' settings of one configuration, files read. */
struct wire_notify {
	struct notify_conf failover;  /* failover.notify */
	struct alerts_settings alerts;
};

/* Read what cfg's failover.notify and alerts name: 0, or -1 with err
 * (nothing to release then). */
int wire_notify_prepare(const struct config *cfg, struct wire_notify *w, char *err,
			size_t errlen);
/* Hand w to d's outboxes (w is left empty). */
void wire_notify_commit(struct vigild *d, struct wire_notify *w);
/* Release a prepared w that is not committed. */
void wire_notify_discard(struct wire_notify *w);

/* The events: a backend changed state (lb's state hook), a service's
 * availability flipped (lb's avail hook), a failover transition, a
 * configuration sync refused (peer: the other node's name; this one also
 * goes into the event log, which hears of it nowhere else). Each decides
 * whether the event is an alert (see docs/configuration.md, alerts). */
void wire_alert_backend(struct vigild *d, const struct service *svc, const struct backend *b,
			enum backend_state old, const char *reason);
void wire_alert_service(struct vigild *d, const struct service *svc, bool available);
void wire_alert_failover(struct vigild *d, const struct failover_change *c);
void wire_alert_sync_refused(struct vigild *d, const char *peer, bool by_peer,
			     const char *reason);

#endif
