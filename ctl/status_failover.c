/* status_failover.c - failover's part of the status text and JSON and its
 * vigil_failover_* metric families, from its snapshot (vip/failover_view.h). */
#include "ctl/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "ctl/prom.h"
#include "vip/failover_view.h"

/* ---- text ---- */

static void text_peer(const struct failover_view_peer *p, struct buf *out)
{
	buf_printf(out, "\n  peer %s: ", p->address);
	if (!p->heard) {
		buf_puts(out, "never heard");
		return;
	}
	buf_printf(out, "%s %s%s priority %u, last advert %.0f ms ago%s", p->node, p->state,
		   p->standby ? " (standby)" : "", p->priority, p->last_seen_s * 1000,
		   p->vip_set_match ? "" : ", VIP set differs");
}

void status_failover_text(const struct failover_view *v, struct buf *out)
{
	uint64_t rejected = 0;

	for (size_t r = 0; r < FAILOVER_VIEW_REJECTS; r++)
		rejected += v->rejected[r].n;
	buf_printf(out, "  (%s)\n  adverts sent %" PRIu64 "  received %" PRIu64
		   "  rejected %" PRIu64, v->ngroups ? v->groups[0].reason : "",
		   v->adverts_sent, v->adverts_received, rejected);
	if (v->gate.waiting)
		buf_printf(out, "\n  waiting for the peer's operator state (%.0f ms so far)",
			   v->gate.waited_ms);
	for (size_t k = 0; v->ngroups > 1 && k < v->ngroups; k++) {
		const struct failover_view_group *g = &v->groups[k];

		buf_printf(out, "\n  group %u: %s%s priority %d (%s)", g->id, g->state,
			   g->standby ? " (standby)" : "", g->priority, g->reason);
	}
	for (size_t i = 0; i < v->npeers; i++)
		text_peer(&v->peers[i], out);
}

/* ---- JSON ---- */

/* n strings as JSON strings, comma-separated (no brackets). */
static void json_strs(char *const *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		buf_puts(out, i ? ", " : "");
		buf_json_str(out, s[i]);
	}
}

static void json_group(const struct failover_view_group *g, struct buf *out)
{
	buf_printf(out, "{\"id\": %u, \"state\": ", g->id);
	buf_json_str(out, g->state);
	buf_printf(out, ", \"priority\": %d, \"base_priority\": %u, \"standby\": %s, "
		   "\"forced\": %s, \"master\": ", g->priority, g->base_priority,
		   g->standby ? "true" : "false", g->forced ? "true" : "false");
	if (g->has_master)
		buf_json_str(out, g->master);
	else
		buf_puts(out, "null");
	buf_puts(out, ", \"reason\": ");
	buf_json_str(out, g->reason);
	buf_printf(out, ", \"since\": %.3f, \"transitions\": %" PRIu64 ", \"vips\": [",
		   g->since, g->transitions);
	json_strs(g->vips, g->nvips, out);
	buf_puts(out, "], \"addresses\": [");
	json_strs(g->addresses, g->naddresses, out);
	buf_puts(out, "], \"services\": [");
	json_strs(g->services, g->nservices, out);
	buf_puts(out, "]}");
}

static void json_peer(const struct failover_view_peer *p, struct buf *out)
{
	buf_puts(out, "{\"address\": ");
	buf_json_str(out, p->address);
	if (!p->heard) {
		buf_puts(out, ", \"last_seen_ms\": null}");
		return;
	}
	buf_puts(out, ", \"node\": ");
	buf_json_str(out, p->node);
	buf_puts(out, ", \"state\": ");
	buf_json_str(out, p->state);
	buf_printf(out, ", \"priority\": %u, \"standby\": %s, \"last_seen_ms\": %.0f, "
		   "\"vip_set_match\": %s, \"boot\": \"%016" PRIx64 "\", \"restarts\": %" PRIu64
		   "}", p->priority, p->standby ? "true" : "false", p->last_seen_s * 1000,
		   p->vip_set_match ? "true" : "false", p->boot, p->restarts);
}

/* "vips" of the node: every group's VIPs (not its addresses), in group order. */
static void json_node_vips(const struct failover_view *v, struct buf *out)
{
	bool first = true;

	buf_puts(out, ", \"vips\": [");
	for (size_t k = 0; k < v->ngroups; k++) {
		if (!v->groups[k].nvips)
			continue;
		buf_puts(out, first ? "" : ", ");
		json_strs(v->groups[k].vips, v->groups[k].nvips, out);
		first = false;
	}
	buf_puts(out, "]");
}

/* The counters: adverts, GARPs, duplicate-address refusals, VIPs restored. */
static void json_counters(const struct failover_view *v, struct buf *out)
{
	uint64_t garps = 0, refusals = 0, restored = 0;

	for (size_t k = 0; k < v->ngroups; k++) {
		garps += v->groups[k].garps_sent;
		refusals += v->groups[k].duplicate_refusals;
		restored += v->groups[k].vips_restored;
	}
	buf_printf(out, ", \"adverts\": {\"sent\": %" PRIu64 ", \"received\": %" PRIu64
		   ", \"rejected\": {", v->adverts_sent, v->adverts_received);
	for (size_t r = 0; r < FAILOVER_VIEW_REJECTS; r++)
		buf_printf(out, "%s\"%s\": %" PRIu64, r ? ", " : "", v->rejected[r].reason,
			   v->rejected[r].n);
	buf_printf(out, "}, \"gaps\": %" PRIu64 "}, \"garps_sent\": %" PRIu64
		   ", \"duplicate_refusals\": %" PRIu64 ", \"vips_restored\": %" PRIu64,
		   v->advert_gaps, garps, refusals, restored);
}

/* The start-up gate: state, why it opened, how long the node waited. */
static void json_gate(const struct failover_view_gate *g, struct buf *out)
{
	buf_puts(out, ", \"start_gate\": {\"state\": ");
	buf_json_str(out, g->state);
	buf_puts(out, ", \"reason\": ");
	buf_json_str(out, g->reason);
	if (strcmp(g->state, "off") == 0)
		buf_puts(out, ", \"waited_ms\": null}");
	else
		buf_printf(out, ", \"waited_ms\": %.0f}", g->waited_ms);
}

void status_failover_json(const struct failover_view *v, struct buf *out)
{
	const struct failover_view_group *g0 = &v->groups[0];
	uint64_t transitions = 0;

	for (size_t k = 0; k < v->ngroups; k++)
		transitions += v->groups[k].transitions;
	buf_puts(out, ", \"node\": ");
	buf_json_str(out, v->node);
	buf_printf(out, ", \"boot\": \"%016" PRIx64 "\", \"advert_version\": %d", v->boot,
		   v->advert_version);
	buf_puts(out, ", \"interface\": ");
	buf_json_str(out, v->interface);
	buf_printf(out, ", \"base_priority\": %u, \"standby\": %s, \"forced\": %s, "
		   "\"advert_interval_ms\": %u, \"master_down_ms\": %.0f, \"reason\": ",
		   g0->base_priority, g0->standby ? "true" : "false", g0->forced ? "true" : "false",
		   v->advert_interval_ms, g0->master_down_s * 1000);
	buf_json_str(out, g0->reason);
	buf_printf(out, ", \"since\": %.3f, \"transitions\": %" PRIu64, g0->since, transitions);
	json_node_vips(v, out);
	buf_puts(out, ", \"services_down\": [");
	json_strs(v->services_down, v->nservices_down, out);
	buf_puts(out, "]");
	json_gate(&v->gate, out);
	buf_puts(out, ", \"groups\": [");
	for (size_t k = 0; k < v->ngroups; k++) {
		buf_puts(out, k ? ", " : "");
		json_group(&v->groups[k], out);
	}
	buf_puts(out, "], \"peers\": [");
	for (size_t i = 0; i < v->npeers; i++) {
		buf_puts(out, i ? ", " : "");
		json_peer(&v->peers[i], out);
	}
	buf_puts(out, "]");
	json_counters(v, out);
}

/* ---- metrics ---- */

/* vigil_failover_state and vigil_failover_priority, the two families a
 * standalone node has too (v NULL). */
static void metrics_node(const struct failover_view *v, struct buf *out)
{
	static const char *const standalone[] = {
		"init", "backup", "master", "fault", "standalone",
	};
	const char *const *names = v ? v->states : standalone;
	size_t n = v ? FAILOVER_VIEW_STATES : ARRAY_SIZE(standalone);
	const char *now = v ? v->state : "standalone";
	char lab[64];

	prom_family(out, "vigil_failover_state", "gauge",
		    v ? "1 for the current failover state" : "1 for this node's failover state.");
	for (size_t i = 0; i < n; i++) {
		snprintf(lab, sizeof(lab), "state=\"%s\"", names[i]);
		prom_sample(out, "vigil_failover_state", lab, strcmp(now, names[i]) == 0);
	}
	prom_scalar(out, "vigil_failover_priority", "gauge",
		    v ? "Effective advertised priority" :
		    "Effective failover priority (0 when standalone).",
		    v && v->priority > 0 ? (uint64_t)v->priority : 0);
}

static void metrics_groups(const struct failover_view *v, struct buf *out)
{
	char lab[64];

	prom_family(out, "vigil_failover_group_state", "gauge",
		    "1 for each failover group's current state");
	for (size_t k = 0; k < v->ngroups; k++)
		for (size_t s = 0; s < FAILOVER_VIEW_STATES; s++) {
			snprintf(lab, sizeof(lab), "group=\"%u\",state=\"%s\"", v->groups[k].id,
				 v->states[s]);
			prom_sample(out, "vigil_failover_group_state", lab,
				    strcmp(v->groups[k].state, v->states[s]) == 0);
		}
	prom_family(out, "vigil_failover_group_priority", "gauge",
		    "Effective advertised priority of each group");
	for (size_t k = 0; k < v->ngroups; k++) {
		snprintf(lab, sizeof(lab), "group=\"%u\"", v->groups[k].id);
		prom_sample(out, "vigil_failover_group_priority", lab,
			    v->groups[k].priority > 0 ? (uint64_t)v->groups[k].priority : 0);
	}
	prom_family(out, "vigil_failover_group_transitions_total", "counter",
		    "State changes of each group");
	for (size_t k = 0; k < v->ngroups; k++) {
		snprintf(lab, sizeof(lab), "group=\"%u\"", v->groups[k].id);
		prom_sample(out, "vigil_failover_group_transitions_total", lab,
			    v->groups[k].transitions);
	}
}

static void metrics_adverts(const struct failover_view *v, struct buf *out)
{
	char lab[64];

	prom_scalar(out, "vigil_failover_adverts_sent_total", "counter", "Adverts sent",
		    v->adverts_sent);
	prom_scalar(out, "vigil_failover_adverts_received_total", "counter", "Adverts accepted",
		    v->adverts_received);
	prom_family(out, "vigil_failover_adverts_rejected_total", "counter",
		    "Adverts rejected, by reason");
	for (size_t r = 0; r < FAILOVER_VIEW_REJECTS; r++) {
		snprintf(lab, sizeof(lab), "reason=\"%s\"", v->rejected[r].reason);
		prom_sample(out, "vigil_failover_adverts_rejected_total", lab, v->rejected[r].n);
	}
}

/* Seconds since the latest advert of any peer, -1 when none was seen. */
static double last_seen_s(const struct failover_view *v)
{
	double last = 0;
	bool seen = false;

	for (size_t i = 0; i < v->npeers; i++)
		if (v->peers[i].seen && (!seen || v->peers[i].last_seen_s < last)) {
			last = v->peers[i].last_seen_s;
			seen = true;
		}
	return seen ? last : -1.0;
}

void status_failover_metrics(const struct failover_view *v, struct buf *out)
{
	uint64_t transitions = 0, garps = 0;

	metrics_node(v, out);
	if (!v)
		return;
	for (size_t k = 0; k < v->ngroups; k++) {
		transitions += v->groups[k].transitions;
		garps += v->groups[k].garps_sent;
	}
	prom_scalar(out, "vigil_failover_transitions_total", "counter", "State changes",
		    transitions);
	metrics_groups(v, out);
	metrics_adverts(v, out);
	prom_scalar(out, "vigil_failover_garps_sent_total", "counter",
		    "Gratuitous ARPs / unsolicited NAs sent", garps);
	prom_family(out, "vigil_failover_peer_last_seen_seconds", "gauge",
		    "Seconds since the last advert from a peer (-1: never)");
	buf_printf(out, "vigil_failover_peer_last_seen_seconds %.3f\n", last_seen_s(v));
}
