/* status.c - the daemon-wide parts of status JSON, table and metrics,
 * failover's among them (from failover_snapshot()), and the event log. */
#include "ctl/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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
#include "vip/failover.h"

/* Events shown in the status JSON (all that the ring holds). */
#define STATUS_EVENTS EVENTS_MAX

static const char *const standalone_states[] = {
	"init", "backup", "master", "fault", "standalone",
};

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

/* ---- failover ---- */

static void json_peers(const struct failover_snap *fs, struct buf *out)
{
	char ip[ADDR_STRLEN];

	buf_puts(out, ", \"peers\": [");
	for (size_t i = 0; i < fs->npeers; i++) {
		const struct failover_peer_snap *p = &fs->peers[i];

		buf_puts(out, i ? ", {\"address\": " : "{\"address\": ");
		buf_json_str(out, addr_ip_str(&p->addr, ip, sizeof(ip)));
		if (!p->heard) {
			buf_puts(out, ", \"last_seen_ms\": null}");
			continue;
		}
		buf_puts(out, ", \"node\": ");
		buf_json_str(out, p->node);
		buf_puts(out, ", \"state\": ");
		buf_json_str(out, p->state);
		buf_printf(out, ", \"priority\": %u, \"standby\": %s, \"last_seen_ms\": %.0f, "
			   "\"vip_set_match\": %s, \"boot\": \"%016" PRIx64 "\", \"restarts\": %" PRIu64
			   "}", p->priority, p->standby ? "true" : "false", p->last_seen_ago_s * 1000,
			   p->vip_set_match ? "true" : "false", p->boot, p->restarts);
	}
	buf_puts(out, "]");
}

/* The fields of the "failover" object after state, priority and group. */
static void json_failover_detail(const struct failover_snap *fs, struct buf *out)
{
	char ip[ADDR_STRLEN];

	buf_puts(out, ", \"node\": ");
	buf_json_str(out, fs->node);
	buf_printf(out, ", \"boot\": \"%016" PRIx64 "\", \"advert_version\": %d", fs->boot,
		   fs->advert_version);
	buf_puts(out, ", \"interface\": ");
	buf_json_str(out, fs->ifname);
	buf_printf(out, ", \"base_priority\": %u, \"standby\": %s, \"forced\": %s, "
		   "\"advert_interval_ms\": %u, \"master_down_ms\": %.0f, \"reason\": ",
		   fs->base_priority, fs->standby ? "true" : "false", fs->forced ? "true" : "false",
		   fs->advert_ms, fs->master_down_s * 1000);
	buf_json_str(out, fs->reason);
	buf_printf(out, ", \"since\": %.3f, \"transitions\": %" PRIu64 ", \"vips\": [",
		   fs->since, fs->transitions);
	for (size_t i = 0; i < fs->nvips; i++) {
		buf_puts(out, i ? ", " : "");
		buf_json_str(out, addr_ip_str(&fs->vips[i], ip, sizeof(ip)));
	}
	buf_puts(out, "], \"services_down\": [");
	for (size_t i = 0; i < fs->nservices_down; i++) {
		buf_puts(out, i ? ", " : "");
		buf_json_str(out, fs->services_down[i]);
	}
	buf_puts(out, "]");
	json_peers(fs, out);
	buf_printf(out, ", \"adverts\": {\"sent\": %" PRIu64 ", \"received\": %" PRIu64
		   ", \"rejected\": {", fs->sent, fs->received);
	for (size_t r = 0; r < fs->nrejects; r++)
		buf_printf(out, "%s\"%s\": %" PRIu64, r ? ", " : "", fs->reject_names[r],
			   fs->rejected[r]);
	buf_printf(out, "}, \"gaps\": %" PRIu64 "}, \"garps_sent\": %" PRIu64
		   ", \"duplicate_refusals\": %" PRIu64 ", \"vips_restored\": %" PRIu64,
		   fs->gaps, fs->garps_sent, fs->duplicate_refusals, fs->vips_restored);
}

static void json_failover(const struct ctl_view *v, struct buf *out)
{
	struct failover_snap fs;

	buf_puts(out, "  \"failover\": {\"state\": ");
	if (v->fo)
		failover_snapshot(v->fo, &fs);
	buf_json_str(out, v->fo ? fs.state : "standalone");
	buf_printf(out, ", \"priority\": %d, \"group\": ", v->fo ? fs.priority : 0);
	if (v->cfg && v->cfg->has_failover)
		buf_printf(out, "%" PRIu32, v->cfg->failover.group);
	else
		buf_puts(out, "null");
	if (v->fo) {
		json_failover_detail(&fs, out);
		failover_snapshot_free(&fs);
	}
	buf_puts(out, "}");
}

static void text_failover(const struct ctl_view *v, struct buf *out)
{
	struct failover_snap fs;
	char ip[ADDR_STRLEN];
	uint64_t rejected = 0;

	if (!v->fo) {
		buf_puts(out, "failover standalone");
		if (v->cfg && v->cfg->has_failover)
			buf_printf(out, "  priority 0  group %" PRIu32, v->cfg->failover.group);
		return;
	}
	failover_snapshot(v->fo, &fs);
	buf_printf(out, "failover %s", fs.state);
	if (v->cfg && v->cfg->has_failover)
		buf_printf(out, "  priority %d  group %" PRIu32, fs.priority,
			   v->cfg->failover.group);
	for (size_t r = 0; r < fs.nrejects; r++)
		rejected += fs.rejected[r];
	buf_printf(out, "  (%s)\n  adverts sent %" PRIu64 "  received %" PRIu64
		   "  rejected %" PRIu64, fs.reason, fs.sent, fs.received, rejected);
	for (size_t i = 0; i < fs.npeers; i++) {
		const struct failover_peer_snap *p = &fs.peers[i];

		buf_printf(out, "\n  peer %s: ", addr_ip_str(&p->addr, ip, sizeof(ip)));
		if (!p->heard) {
			buf_puts(out, "never heard");
			continue;
		}
		buf_printf(out, "%s %s%s priority %u, last advert %.0f ms ago%s", p->node,
			   p->state, p->standby ? " (standby)" : "", p->priority,
			   p->last_seen_ago_s * 1000, p->vip_set_match ? "" : ", VIP set differs");
	}
	failover_snapshot_free(&fs);
}

/* Every vigil_failover_* family, standalone or not (the one writer). */
static void metrics_failover(const struct ctl_view *v, struct buf *out)
{
	struct failover_snap fs;

	if (!v->fo) {
		prom_family(out, "vigil_failover_state", "gauge", "1 for this node's failover state.");
		for (size_t i = 0; i < ARRAY_SIZE(standalone_states); i++)
			buf_printf(out, "vigil_failover_state{state=\"%s\"} %d\n",
				   standalone_states[i], i == ARRAY_SIZE(standalone_states) - 1);
		prom_scalar(out, "vigil_failover_priority", "gauge",
			    "Effective failover priority (0 when standalone).", 0);
		return;
	}
	failover_snapshot(v->fo, &fs);
	prom_family(out, "vigil_failover_state", "gauge", "1 for this node's failover state.");
	for (size_t i = 0; i < fs.nstates; i++)
		buf_printf(out, "vigil_failover_state{state=\"%s\"} %d\n", fs.state_names[i],
			   strcmp(fs.state, fs.state_names[i]) == 0);
	prom_family(out, "vigil_failover_priority", "gauge",
		    "Effective failover priority (0 when standalone).");
	buf_printf(out, "vigil_failover_priority %d\n", fs.priority);
	prom_scalar(out, "vigil_failover_transitions_total", "counter", "State changes",
		    fs.transitions);
	prom_scalar(out, "vigil_failover_adverts_sent_total", "counter", "Adverts sent", fs.sent);
	prom_scalar(out, "vigil_failover_adverts_received_total", "counter", "Adverts accepted",
		    fs.received);
	prom_family(out, "vigil_failover_adverts_rejected_total", "counter",
		    "Adverts rejected, by reason");
	for (size_t r = 0; r < fs.nrejects; r++)
		buf_printf(out, "vigil_failover_adverts_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
			   fs.reject_names[r], fs.rejected[r]);
	prom_scalar(out, "vigil_failover_garps_sent_total", "counter",
		    "Gratuitous ARPs / unsolicited NAs sent", fs.garps_sent);
	prom_family(out, "vigil_failover_peer_last_seen_seconds", "gauge",
		    "Seconds since the last advert from a peer (-1: never)");
	buf_printf(out, "vigil_failover_peer_last_seen_seconds %.3f\n", fs.peer_last_seen_ago_s);
	failover_snapshot_free(&fs);
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
		   ",\n  \"maxconn\": %" PRIu32 ",\n  \"fd_limit\": %" PRIu64 ",\n",
		   status_uptime(v), v->reloads, v->reload_failures, st.active, st.accepted,
		   st.refused, st.local_errors, st.bytes_in, st.bytes_out, v->cfg->global.maxconn,
		   v->nofile);
	json_failover(v, out);
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
	metrics_failover(v, out);
	metrics_checks(v, out);
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
	free(svcs);
}
