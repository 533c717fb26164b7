/* alerts.h - alerts: backend, service, failover and sync events, batched
 * (alert_batch.h) into one mail and one program run per window and
 * rate-limited, delivered through an outbox of their own (notify.h: the
 * same program runner and the same mail client as failover.notify).
 *
 * The daemon feeds alerts_add() from the hooks it wires (lb's state and
 * availability hooks, failover's and sync's); no other module sees this.
 * The program (alerts.exec) runs once per batch, argv just its path, with
 * VIGIL_NODE, VIGIL_ALERTS (events in the batch), VIGIL_SUPPRESSED (events
 * dropped by the rate limit before it) and VIGIL_SUBJECT in its environment
 * and the events on stdin, one a line (alert_batch_lines()).
 */
#ifndef VIGIL_ALERTS_H
#define VIGIL_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "notify/alert_batch.h"
#include "notify/notify.h"

struct alerts;

/* The alerts section as the daemon hands it over (alerts_apply). */
struct alerts_settings {
	bool on;                      /* an alerts section is configured */
	struct notify_conf out;       /* exec and email, password read; moved in */
	uint32_t batch_ms;
	uint32_t max_per_hour;
	const char *node;             /* this node's name, copied */
};

/* Counters for status and metrics. */
struct alerts_stats {
	bool on;
	uint64_t events;              /* alerts recorded */
	uint64_t batches;             /* batches delivered (each: a mail and/or a program run) */
	uint64_t sent;                /* mails delivered */
	uint64_t failed;              /* mails given up on */
	uint64_t suppressed;          /* alerts dropped by max_per_hour */
	uint64_t exec_ok;             /* program runs that exited 0 */
	uint64_t exec_failed;         /* that did not (or could not start) */
	uint64_t queued;              /* alerts in the open window */
};

struct alerts *alerts_new(struct ev_loop *loop);
/* Drop the open window, kill programs, abandon mails, free. NULL is fine. */
void alerts_free(struct alerts *a);
/* Take s (start and reload; s->out is left empty). Off: the open window is
 * dropped and alerts_add() does nothing. Deliveries in flight finish. */
void alerts_apply(struct alerts *a, struct alerts_settings *s);
/* Record one event; the first of a window arms its delivery. */
void alerts_add(struct alerts *a, const struct alert *al);
void alerts_get_stats(const struct alerts *a, struct alerts_stats *out);

#endif
