/* status.h - the daemon's state as text: the JSON of `vigilctl status --json`
 * and of HTTP /status, the table of `vigilctl status`, and the Prometheus
 * metrics of HTTP /metrics. Every function appends to out and reads only.
 */
#ifndef VIGIL_STATUS_H
#define VIGIL_STATUS_H

#include <stddef.h>

#include "common/buf.h"

struct ctl_view;
struct events;
struct failover_view;
struct sync_view;
struct service;
struct backend;

/* The whole status as one JSON object (no trailing newline). */
void status_json(const struct ctl_view *v, struct buf *out);
/* The status as an aligned, human-readable table. */
void status_text(const struct ctl_view *v, struct buf *out);
/* Prometheus text exposition format (version 0.0.4). */
void status_metrics(const struct ctl_view *v, struct buf *out);

/* The event log as a JSON array, newest first, at most max events. */
void status_json_events(const struct events *ev, size_t max, struct buf *out);

/* The pieces above that read only services and their backends (status_svc.c,
 * unit-tested without a daemon). */

/* One element of "services": the service's JSON object. */
void status_json_service(const struct service *s, struct buf *out);
/* One service's block of the table: a header line, then one line per backend. */
void status_text_service(const struct service *s, struct buf *out);
/* Every vigil_service_* and vigil_backend_* metric family of svcs[0..n). */
void status_metrics_services(struct service *const *svcs, size_t n, struct buf *out);

/* The backend's "checks" list and "gated_ports" (status_checks.c): ', "checks": [...]'. */
void status_json_checks(const struct service *s, const struct backend *b, struct buf *out);
/* The type of the check the status shows for b ("tcp" ... ). */
const char *status_check_type(const struct service *s, const struct backend *b);
/* Per-check metric families (vigil_check_*{service,backend,check,type,port}). */
void status_metrics_checks(struct service *const *svcs, size_t n, struct buf *out);

/* Failover's parts, from its snapshot (status_failover.c, unit-tested with
 * a filled-in view). */

/* The rest of the table's "failover" line (the first group's reason), then
 * a line of advert counters, one per group (when several), one per peer. */
void status_failover_text(const struct failover_view *v, struct buf *out);
/* The fields of the "failover" object after state, priority and group,
 * each written as ', "key": value'. */
void status_failover_json(const struct failover_view *v, struct buf *out);
/* Every vigil_failover_* metric family; v NULL (standalone): only
 * vigil_failover_state and vigil_failover_priority. */
void status_failover_metrics(const struct failover_view *v, struct buf *out);

/* The sync channel's parts, from its snapshot (status_sync.c). */

/* The "sync" object of the status JSON. */
void status_sync_json(const struct sync_view *v, struct buf *out);
/* Every vigil_sync_* metric family. */
void status_sync_metrics(const struct sync_view *v, struct buf *out);

#endif
