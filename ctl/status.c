/* status.c - the daemon-wide parts of status JSON, table and metrics,
 * and the event log (failover's own parts: status_failover.c). */
#include "ctl/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checks/check.h"
#include "common/events.h"
#include "common/util.h"
#include "common/version.h"
#include "config/config.h"
#include "ctl/ctl.h"
#include "ctl/http.h"
#include "ctl/oneshot.h"
#include "ctl/prom.h"
#include "lb/lb.h"
#include "sync/sync_view.h"
#include "vip/failover_view.h"

/* Events shown in the status JSON (all that the ring holds). */
#define STATUS_EVENTS EVENTS_MAX

/* failover.node if configured, else the host name. */
static const char *status_node(const struct ctl_view *v, char *buf, size_t len)
{
	if (v->cfg && v->cfg->has_failover && v->cfg->failover.node && v->cfg->failover.node[0])
		return v->cfg->failover.node;
	if (gethostname(buf, len) < 0)
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
	return buf;
}

static double status_uptime(const struct ctl_view *v)
{
	double up = wall_now() - v->started;

	return up > 0 ? up : 0;
}

static size_t status_nservices(const struct ctl_view *v)
{
	return v->lb ? lb_nservices(v->lb) : 0;
}

static void status_stats(const struct ctl_view *v, struct lb_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (v->lb)
		lb_get_stats(v->lb, st);
}

/* ---- failover (its details: status_failover.c) ---- */

/* Failover's snapshot into *fv: fv, or NULL when standalone (nothing to free). */
static struct failover_view *status_fo_view(const struct ctl_view *v, struct failover_view *fv)
{
	if (!v->fo)
		return NULL;
	failover_view(v->fo, fv);
	return fv;
}

static void status_fo_view_free(struct failover_view *fv)
{
	if (fv)
		failover_view_free(fv);
}

static const char *status_fo_state(const struct failover_view *fv)
{
	return fv ? fv->state : "standalone";
}

static int status_fo_priority(const struct failover_view *fv)
{
	return fv ? fv->priority : 0;
}

/* The first configured group's id (the "group" field and status line). */
static uint32_t status_fo_group(const struct ctl_view *v)
{
	return v->cfg->failover.ngroups ? v->cfg->failover.groups[0].id : v->cfg->failover.group;
}

/* failover.config_digest, and failover.sync when it is on. */
static void json_sync(const struct ctl_view *v, struct buf *out)
{
	struct sync_view sv;

	buf_puts(out, ", \"config_digest\": ");
	buf_json_str(out, v->config_digest);
	if (v->sync) {
		sync_view(v->sync, &sv);
		buf_puts(out, ", \"sync\": ");
		status_sync_json(&sv, out);
		sync_view_free(&sv);
	}
}

static void json_failover(const struct ctl_view *v, struct buf *out)
{
	struct failover_view view, *fv = status_fo_view(v, &view);

	buf_puts(out, "  \"failover\": {\"state\": ");
	buf_json_str(out, status_fo_state(fv));
	buf_printf(out, ", \"priority\": %d, \"group\": ", status_fo_priority(fv));
	if (v->cfg && v->cfg->has_failover)
		buf_printf(out, "%" PRIu32, status_fo_group(v));
	else
		buf_puts(out, "null");
	if (fv)
		status_failover_json(fv, out);
	json_sync(v, out);
	buf_puts(out, "}");
	status_fo_view_free(fv);
}

static void text_failover(const struct ctl_view *v, struct buf *out)
{
	struct failover_view view, *fv = status_fo_view(v, &view);

	buf_printf(out, "failover %s", status_fo_state(fv));
	if (v->cfg && v->cfg->has_failover)
		buf_printf(out, "  priority %d  group %" PRIu32, status_fo_priority(fv),
			   status_fo_group(v));
	if (fv)
		status_failover_text(fv, out);
	status_fo_view_free(fv);
}

/* Every vigil_failover_* family; standalone, only the state and priority
 * (which come with the process' families). */
static void metrics_failover(const struct ctl_view *v, struct buf *out)
{
	struct failover_view view, *fv = status_fo_view(v, &view);

	status_failover_metrics(fv, out);
	status_fo_view_free(fv);
}

/* ---- alerts ---- */

static void json_alerts(const struct ctl_view *v, struct buf *out)
{
	const struct alerts_stats *a = &v->alerts;

	buf_printf(out, ",\n  \"alerts\": {\"enabled\": %s, \"events\": %" PRIu64
		   ", \"queued\": %" PRIu64 ", \"batches\": %" PRIu64 ", \"sent\": %" PRIu64
		   ", \"failed\": %" PRIu64 ", \"suppressed\": %" PRIu64 ", \"exec_ok\": %" PRIu64
		   ", \"exec_failed\": %" PRIu64 "}", a->on ? "true" : "false", a->events,
		   a->queued, a->batches, a->sent, a->failed, a->suppressed, a->exec_ok,
		   a->exec_failed);
}

static void metrics_alerts(const struct ctl_view *v, struct buf *out)
{
	const struct alerts_stats *a = &v->alerts;

	prom_scalar(out, "vigil_alerts_events_total", "counter",
		    "Alerts recorded (backend, service, failover, sync events).", a->events);
	prom_scalar(out, "vigil_alerts_suppressed_total", "counter",
		    "Alerts dropped by alerts.max_per_hour.", a->suppressed);
	prom_scalar(out, "vigil_alerts_batches_total", "counter",
		    "Alert batches delivered (each one mail and one program run).", a->batches);
	prom_family(out, "vigil_alerts_mails_total", "counter",
		    "Alert mails by outcome: sent (the relay took it) or failed (given up).");
	buf_printf(out, "vigil_alerts_mails_total{result=\"sent\"} %" PRIu64 "\n"
		   "vigil_alerts_mails_total{result=\"failed\"} %" PRIu64 "\n", a->sent, a->failed);
	prom_family(out, "vigil_alerts_exec_total", "counter",
		    "Runs of alerts.exec by outcome: ok (exit 0) or failed.");
	buf_printf(out, "vigil_alerts_exec_total{result=\"ok\"} %" PRIu64 "\n"
		   "vigil_alerts_exec_total{result=\"failed\"} %" PRIu64 "\n", a->exec_ok,
		   a->exec_failed);
}

/* ---- events ---- */

void status_json_events(const struct events *ev, size_t max, struct buf *out)
{
	size_t n = events_count(ev);
	char when[40];

	if (n > max)
		n = max;
	buf_puts(out, "[");
	for (size_t i = 0; i < n; i++) {
		const struct event *e = events_get(ev, i);

		buf_printf(out, "%s{\"seq\": %" PRIu64 ", \"time\": \"%s\", \"kind\": \"%s\"",
			   i ? ",\n    " : "\n    ", e->seq,
			   events_iso_time(e->when, when, sizeof(when)), events_kind_str(e->kind));
		if (e->service[0]) {
			buf_puts(out, ", \"service\": ");
			buf_json_str(out, e->service);
		}
		if (e->backend[0]) {
			buf_puts(out, ", \"backend\": ");
			buf_json_str(out, e->backend);
		}
		if (e->group)
			buf_printf(out, ", \"group\": %" PRIu32, e->group);
		buf_puts(out, ", \"text\": ");
		buf_json_str(out, e->text);
		buf_puts(out, "}");
	}
	buf_puts(out, n ? "\n  ]" : "]");
}

/* ---- the whole status ---- */

void status_json(const struct ctl_view *v, struct buf *out)
{
	char host[256];
	struct lb_stats st;
	size_t i, n = status_nservices(v);

	status_stats(v, &st);
	buf_puts(out, "{\n  \"node\": ");
	buf_json_str(out, status_node(v, host, sizeof(host)));
	buf_puts(out, ",\n  \"version\": ");
	buf_json_str(out, VIGIL_VERSION);
	buf_printf(out, ",\n  \"uptime_s\": %.0f,\n  \"reloads\": %" PRIu64
		   ",\n  \"reload_failures\": %" PRIu64 ",\n  \"active\": %" PRIu64
		   ",\n  \"total\": %" PRIu64 ",\n  \"refused\": %" PRIu64
		   ",\n  \"local_errors\": %" PRIu64
		   ",\n  \"bytes_in\": %" PRIu64 ",\n  \"bytes_out\": %" PRIu64
		   ",\n  \"maxconn\": %" PRIu32 ",\n  \"fd_limit\": %" PRIu64
		   ",\n  \"workers\": %u,\n",
		   status_uptime(v), v->reloads, v->reload_failures, st.active, st.accepted,
		   st.refused, st.local_errors, st.bytes_in, st.bytes_out, v->cfg->global.maxconn,
		   v->nofile, v->lb ? lb_nworkers(v->lb) : 0);
	json_failover(v, out);
	json_alerts(v, out);
	buf_puts(out, ",\n  \"services\": [");
	for (i = 0; i < n; i++) {
		buf_puts(out, i ? ",\n    " : "\n    ");
		status_json_service(lb_service(v->lb, i), out);
	}
	buf_puts(out, n ? "\n  ],\n  \"events\": " : "],\n  \"events\": ");
	status_json_events(v->events, STATUS_EVENTS, out);
	buf_puts(out, "\n}");
}

void status_text(const struct ctl_view *v, struct buf *out)
{
	char host[256];
	struct lb_stats st;
	size_t i, n = status_nservices(v);
	unsigned long up = (unsigned long)status_uptime(v);

	status_stats(v, &st);
	buf_printf(out, "node %s  vigil %s  up ", status_node(v, host, sizeof(host)),
		   VIGIL_VERSION);
	if (up >= 86400)
		buf_printf(out, "%lud%02luh%02lum", up / 86400, up / 3600 % 24, up / 60 % 60);
	else if (up >= 3600)
		buf_printf(out, "%luh%02lum", up / 3600, up / 60 % 60);
	else if (up >= 60)
		buf_printf(out, "%lum%02lus", up / 60, up % 60);
	else
		buf_printf(out, "%lus", up);
	buf_printf(out, "  reloads %" PRIu64 "\n", v->reloads);
	text_failover(v, out);
	if (v->alerts.on)
		buf_printf(out, "\nalerts %" PRIu64 "  mails sent %" PRIu64 "  failed %" PRIu64
			   "  suppressed %" PRIu64, v->alerts.events, v->alerts.sent,
			   v->alerts.failed, v->alerts.suppressed);
	buf_printf(out, "\nconnections active %" PRIu64 "  total %" PRIu64 "  refused %" PRIu64 "\n",
		   st.active, st.accepted, st.refused);
	for (i = 0; i < n; i++) {
		buf_puts(out, "\n");
		status_text_service(lb_service(v->lb, i), out);
	}
}

/* Totals of every health check, including those of backends since removed. */
static void metrics_checks(const struct ctl_view *v, struct buf *out)
{
	struct check_stats cs = { 0 };

	if (v->checker)
		checker_get_stats(v->checker, &cs);
	prom_scalar(out, "vigil_check_probes_total", "counter", "Health probes completed.",
		    cs.probes);
	prom_scalar(out, "vigil_check_failures_total", "counter", "Health probes that failed.",
		    cs.failures);
	prom_scalar(out, "vigil_check_local_errors_total", "counter",
		    "Probes that could not start on this node.", cs.local_errors);
	prom_scalar(out, "vigil_check_late_starts_total", "counter",
		    "Probes started more than 100 ms after they were due.", cs.late);
	prom_scalar(out, "vigil_check_max_late_milliseconds", "gauge",
		    "Worst delay of a probe start.", cs.max_late_ms);
}

/* Per worker: the totals above are their sums. */
static void metrics_workers(const struct ctl_view *v, struct buf *out)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} fam[] = {
		{ "vigil_worker_active_connections", "gauge",
		  "Open client connections of each proxy worker.", offsetof(struct lb_stats, active) },
		{ "vigil_worker_connections_total", "counter",
		  "Client connections each proxy worker accepted.",
		  offsetof(struct lb_stats, accepted) },
		{ "vigil_worker_bytes_in_total", "counter",
		  "Bytes from clients to backends, by proxy worker.",
		  offsetof(struct lb_stats, bytes_in) },
		{ "vigil_worker_bytes_out_total", "counter",
		  "Bytes from backends to clients, by proxy worker.",
		  offsetof(struct lb_stats, bytes_out) },
	};
	unsigned n = v->lb ? lb_nworkers(v->lb) : 0;

	prom_scalar(out, "vigil_workers", "gauge", "Proxy workers (global.workers).", n);
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		prom_family(out, fam[f].name, fam[f].type, fam[f].help);
		for (unsigned i = 0; i < n; i++) {
			struct lb_stats st;

			lb_worker_stats(v->lb, i, &st);
			buf_printf(out, "%s{worker=\"%u\"} %" PRIu64 "\n", fam[f].name, i,
				   *(const uint64_t *)((const char *)&st + fam[f].off));
		}
	}
}

static void metrics_process(const struct ctl_view *v, struct buf *out)
{
	char host[256];
	struct lb_stats st;

	status_stats(v, &st);
	prom_family(out, "vigil_info", "gauge", "Version and node name of this vigild.");
	buf_puts(out, "vigil_info{version=\"" VIGIL_VERSION "\",node=\"");
	buf_prom_label(out, status_node(v, host, sizeof(host)));
	buf_puts(out, "\"} 1\n");
	prom_family(out, "vigil_uptime_seconds", "gauge", "Seconds since vigild started.");
	buf_printf(out, "vigil_uptime_seconds %.3f\n", status_uptime(v));
	prom_scalar(out, "vigil_reloads_total", "counter", "Successful configuration reloads.",
		    v->reloads);
	prom_scalar(out, "vigil_reload_failures_total", "counter", "Refused configuration reloads.",
		    v->reload_failures);
	prom_scalar(out, "vigil_active_connections", "gauge", "Open client connections.", st.active);
	prom_scalar(out, "vigil_maxconn", "gauge",
		    "Effective global maxconn (clamped to the open file limit).",
		    v->cfg->global.maxconn);
	prom_scalar(out, "vigil_connections_total", "counter", "Client connections accepted.",
		    st.accepted);
	prom_scalar(out, "vigil_refused_total", "counter",
		    "Clients closed because no backend could take them.", st.refused);
	prom_scalar(out, "vigil_local_errors_total", "counter",
		    "Backend connects that failed on this node (out of fds, ports, memory).",
		    st.local_errors);
	prom_scalar(out, "vigil_bytes_in_total", "counter", "Bytes from clients to backends.",
		    st.bytes_in);
	prom_scalar(out, "vigil_bytes_out_total", "counter", "Bytes from backends to clients.",
		    st.bytes_out);
	if (!v->fo)
		metrics_failover(v, out);
	metrics_checks(v, out);
	metrics_workers(v, out);
}

/* The control socket's and the status listener's own connections. */
static void metrics_listeners(const struct ctl_view *v, struct buf *out)
{
	struct oneshot_stats st[2];
	static const char *const names[2] = { "control", "status" };
	size_t i;

	ctl_server_get_stats(v->ctl, &st[0]);
	status_http_get_stats(v->http, &st[1]);
	prom_family(out, "vigil_status_conns_open", "gauge",
		    "Connections open on the control socket and the status listener.");
	for (i = 0; i < 2; i++)
		buf_printf(out, "vigil_status_conns_open{listener=\"%s\"} %u\n", names[i],
			   st[i].open);
	prom_family(out, "vigil_status_conns_accepted_total", "counter",
		    "Connections accepted by the control socket and the status listener.");
	for (i = 0; i < 2; i++)
		buf_printf(out, "vigil_status_conns_accepted_total{listener=\"%s\"} %" PRIu64 "\n",
			   names[i], st[i].accepted);
	prom_family(out, "vigil_status_conns_rejected_total", "counter",
		    "Connections closed by the limits: to make room (total_limit, source_limit), "
		    "or with no whole request in time (head_timeout), or when accept failed "
		    "(accept_error).");
	for (i = 0; i < 2; i++)
		buf_printf(out,
			   "vigil_status_conns_rejected_total{listener=\"%s\",reason=\"total_limit\"} %" PRIu64 "\n"
			   "vigil_status_conns_rejected_total{listener=\"%s\",reason=\"source_limit\"} %" PRIu64 "\n"
			   "vigil_status_conns_rejected_total{listener=\"%s\",reason=\"head_timeout\"} %" PRIu64 "\n"
			   "vigil_status_conns_rejected_total{listener=\"%s\",reason=\"accept_error\"} %" PRIu64 "\n",
			   names[i], st[i].evicted_total, names[i], st[i].evicted_source,
			   names[i], st[i].head_timeouts, names[i], st[i].accept_errors);
	prom_family(out, "vigil_status_conns_reserved_total", "counter",
		    "Clients accepted on the fd held in reserve while the process was out of fds.");
	for (i = 0; i < 2; i++)
		buf_printf(out, "vigil_status_conns_reserved_total{listener=\"%s\"} %" PRIu64 "\n",
			   names[i], st[i].reserve_used);
}

void status_metrics(const struct ctl_view *v, struct buf *out)
{
	size_t i, n = status_nservices(v);
	struct service **svcs = xcalloc(n + 1, sizeof(*svcs));

	for (i = 0; i < n; i++)
		svcs[i] = lb_service(v->lb, i);
	metrics_process(v, out);
	metrics_listeners(v, out);
	status_metrics_services(svcs, n, out);
	if (v->fo)
		metrics_failover(v, out);
	if (v->sync) {
		struct sync_view sv;

		sync_view(v->sync, &sv);
		status_sync_metrics(&sv, out);
		sync_view_free(&sv);
	}
	metrics_alerts(v, out);
	free(svcs);
}
