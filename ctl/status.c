/* status.c - the daemon-wide parts of status JSON, table and metrics. */
#include "ctl/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/vigild.h"
#include "sync/sync.h"
#include "lb/lb.h"
#include "checks/check.h"
#include "ctl/ctl.h"
#include "ctl/http.h"
#include "ctl/oneshot.h"
#include "vip/failover.h"

static const char *const failover_states[] = {
	"init", "backup", "master", "fault", "standalone",
};

/* failover.node if configured, else the host name. */
static const char *status_node(const struct vigild *d, char *buf, size_t len)
{
	if (d->cfg && d->cfg->has_failover && d->cfg->failover.node && d->cfg->failover.node[0])
		return d->cfg->failover.node;
	if (gethostname(buf, len) < 0)
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
	return buf;
}

static double status_uptime(const struct vigild *d)
{
	double up = wall_now() - d->started;

	return up > 0 ? up : 0;
}

static size_t status_nservices(const struct vigild *d)
{
	return d->lb ? lb_nservices(d->lb) : 0;
}

static void status_stats(const struct vigild *d, struct lb_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (d->lb)
		lb_get_stats(d->lb, st);
}

/* failover.config_digest, and failover.sync when it is on. */
static void json_sync(const struct vigild *d, struct buf *out)
{
	char hex[65];

	vigild_config_digest_hex(d, hex);
	buf_puts(out, ", \"config_digest\": ");
	buf_json_str(out, hex);
	if (d->sync) {
		buf_puts(out, ", \"sync\": ");
		sync_status_json(d->sync, out);
	}
}

static void json_failover(const struct vigild *d, struct buf *out)
{
	buf_puts(out, "  \"failover\": {\"state\": ");
	buf_json_str(out, vigild_failover_state(d));
	buf_printf(out, ", \"priority\": %d, \"group\": ", vigild_failover_priority(d));
	if (d->cfg && d->cfg->has_failover)
		buf_printf(out, "%" PRIu32, (d->cfg->failover.ngroups ? d->cfg->failover.groups[0].id : d->cfg->failover.group));
	else
		buf_puts(out, "null");
	if (d->fo)
		failover_status_json(d->fo, out);
	json_sync(d, out);
	buf_puts(out, "}");
}

void status_json(const struct vigild *d, struct buf *out)
{
	char host[256];
	struct lb_stats st;
	size_t i, n = status_nservices(d);

	status_stats(d, &st);
	buf_puts(out, "{\n  \"node\": ");
	buf_json_str(out, status_node(d, host, sizeof(host)));
	buf_puts(out, ",\n  \"version\": ");
	buf_json_str(out, VIGIL_VERSION);
	buf_printf(out, ",\n  \"uptime_s\": %.0f,\n  \"reloads\": %" PRIu64
		   ",\n  \"reload_failures\": %" PRIu64 ",\n  \"active\": %" PRIu64
		   ",\n  \"total\": %" PRIu64 ",\n  \"refused\": %" PRIu64
		   ",\n  \"local_errors\": %" PRIu64
		   ",\n  \"bytes_in\": %" PRIu64 ",\n  \"bytes_out\": %" PRIu64
		   ",\n  \"maxconn\": %" PRIu32 ",\n  \"fd_limit\": %" PRIu64 ",\n",
		   status_uptime(d), d->reloads, d->reload_failures, st.active, st.accepted,
		   st.refused, st.local_errors, st.bytes_in, st.bytes_out, d->cfg->global.maxconn,
		   d->nofile);
	json_failover(d, out);
	buf_puts(out, ",\n  \"services\": [");
	for (i = 0; i < n; i++) {
		buf_puts(out, i ? ",\n    " : "\n    ");
		status_json_service(lb_service(d->lb, i), out);
	}
	buf_puts(out, n ? "\n  ]\n}" : "]\n}");
}

void status_text(const struct vigild *d, struct buf *out)
{
	char host[256];
	struct lb_stats st;
	size_t i, n = status_nservices(d);
	unsigned long up = (unsigned long)status_uptime(d);

	status_stats(d, &st);
	buf_printf(out, "node %s  vigil %s  up ", status_node(d, host, sizeof(host)),
		   VIGIL_VERSION);
	if (up >= 86400)
		buf_printf(out, "%lud%02luh%02lum", up / 86400, up / 3600 % 24, up / 60 % 60);
	else if (up >= 3600)
		buf_printf(out, "%luh%02lum", up / 3600, up / 60 % 60);
	else if (up >= 60)
		buf_printf(out, "%lum%02lus", up / 60, up % 60);
	else
		buf_printf(out, "%lus", up);
	buf_printf(out, "  reloads %" PRIu64 "\n", d->reloads);
	buf_printf(out, "failover %s", vigild_failover_state(d));
	if (d->cfg && d->cfg->has_failover)
		buf_printf(out, "  priority %d  group %" PRIu32, vigild_failover_priority(d),
			   (d->cfg->failover.ngroups ? d->cfg->failover.groups[0].id : d->cfg->failover.group));
	if (d->fo)
		failover_status_text(d->fo, out);
	buf_printf(out, "\nconnections active %" PRIu64 "  total %" PRIu64 "  refused %" PRIu64 "\n",
		   st.active, st.accepted, st.refused);
	for (i = 0; i < n; i++) {
		buf_puts(out, "\n");
		status_text_service(lb_service(d->lb, i), out);
	}
}

static void prom_scalar(struct buf *out, const char *name, const char *type, const char *help,
			uint64_t v)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type,
		   name, v);
}

/* Totals of every health check, including those of backends since removed. */
static void metrics_checks(const struct vigild *d, struct buf *out)
{
	struct check_stats cs = { 0 };

	if (d->checker)
		checker_get_stats(d->checker, &cs);
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

static void metrics_process(const struct vigild *d, struct buf *out)
{
	char host[256];
	struct lb_stats st;
	const char *fs = vigild_failover_state(d);
	size_t i;

	status_stats(d, &st);
	buf_puts(out, "# HELP vigil_info Version and node name of this vigild.\n"
		 "# TYPE vigil_info gauge\nvigil_info{version=\"" VIGIL_VERSION "\",node=\"");
	buf_prom_label(out, status_node(d, host, sizeof(host)));
	buf_puts(out, "\"} 1\n");
	buf_printf(out, "# HELP vigil_uptime_seconds Seconds since vigild started.\n"
		   "# TYPE vigil_uptime_seconds gauge\nvigil_uptime_seconds %.3f\n",
		   status_uptime(d));
	prom_scalar(out, "vigil_reloads_total", "counter", "Successful configuration reloads.",
		    d->reloads);
	prom_scalar(out, "vigil_reload_failures_total", "counter", "Refused configuration reloads.",
		    d->reload_failures);
	prom_scalar(out, "vigil_active_connections", "gauge", "Open client connections.", st.active);
	prom_scalar(out, "vigil_maxconn", "gauge",
		    "Effective global maxconn (clamped to the open file limit).",
		    d->cfg->global.maxconn);
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
	if (!d->fo) {
		/* standalone; with failover, failover_metrics() writes these families */
		buf_puts(out, "# HELP vigil_failover_state 1 for this node's failover state.\n"
			 "# TYPE vigil_failover_state gauge\n");
		for (i = 0; i < ARRAY_SIZE(failover_states); i++)
			buf_printf(out, "vigil_failover_state{state=\"%s\"} %d\n",
				   failover_states[i], strcmp(fs, failover_states[i]) == 0);
		prom_scalar(out, "vigil_failover_priority", "gauge",
			    "Effective failover priority (0 when standalone).", 0);
	}
	metrics_checks(d, out);
}

/* The control socket's and the status listener's own connections. */
static void metrics_listeners(const struct vigild *d, struct buf *out)
{
	struct oneshot_stats st[2];
	static const char *const names[2] = { "control", "status" };
	size_t i;

	ctl_server_get_stats(d->ctl, &st[0]);
	status_http_get_stats(d->http, &st[1]);
	buf_puts(out, "# HELP vigil_status_conns_open Connections open on the control socket "
		 "and the status listener.\n# TYPE vigil_status_conns_open gauge\n");
	for (i = 0; i < 2; i++)
		buf_printf(out, "vigil_status_conns_open{listener=\"%s\"} %u\n", names[i],
			   st[i].open);
	buf_puts(out, "# HELP vigil_status_conns_accepted_total Connections accepted by the "
		 "control socket and the status listener.\n"
		 "# TYPE vigil_status_conns_accepted_total counter\n");
	for (i = 0; i < 2; i++)
		buf_printf(out, "vigil_status_conns_accepted_total{listener=\"%s\"} %" PRIu64 "\n",
			   names[i], st[i].accepted);
	buf_puts(out, "# HELP vigil_status_conns_rejected_total Connections closed by the "
		 "limits: to make room (total_limit, source_limit), or with no whole request "
		 "in time (head_timeout), or when accept failed (accept_error).\n"
		 "# TYPE vigil_status_conns_rejected_total counter\n");
	for (i = 0; i < 2; i++)
		buf_printf(out,
			   "vigil_status_conns_rejected_total{listener=\"%s\",reason=\"total_limit\"} %" PRIu64 "\n"
			   "vigil_status_conns_rejected_total{listener=\"%s\",reason=\"source_limit\"} %" PRIu64 "\n"
			   "vigil_status_conns_rejected_total{listener=\"%s\",reason=\"head_timeout\"} %" PRIu64 "\n"
			   "vigil_status_conns_rejected_total{listener=\"%s\",reason=\"accept_error\"} %" PRIu64 "\n",
			   names[i], st[i].evicted_total, names[i], st[i].evicted_source,
			   names[i], st[i].head_timeouts, names[i], st[i].accept_errors);
	buf_puts(out, "# HELP vigil_status_conns_reserved_total Clients accepted on the fd "
		 "held in reserve while the process was out of fds.\n"
		 "# TYPE vigil_status_conns_reserved_total counter\n");
	for (i = 0; i < 2; i++)
		buf_printf(out, "vigil_status_conns_reserved_total{listener=\"%s\"} %" PRIu64 "\n",
			   names[i], st[i].reserve_used);
}

void status_metrics(const struct vigild *d, struct buf *out)
{
	size_t i, n = status_nservices(d);
	struct service **svcs = xcalloc(n + 1, sizeof(*svcs));

	for (i = 0; i < n; i++)
		svcs[i] = lb_service(d->lb, i);
	metrics_process(d, out);
	metrics_listeners(d, out);
	status_metrics_services(svcs, n, out);
	if (d->fo)
		failover_metrics(d->fo, out);
	if (d->sync)
		sync_metrics(d->sync, out);
	free(svcs);
}
