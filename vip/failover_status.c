/* failover_status.c - what failover shows: the status text and JSON (the
 * node, each group, each peer) and the Prometheus metrics.
 */
#include "vip/peer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

/* ---- status and metrics ---- */

/* What the first group heard from s (the peers' view in status). */
static const struct fo_heard *first_heard(const struct failover *f, size_t i)
{
	for (size_t k = 0; k < f->ngroups; k++)
		if (f->groups[k]->heard[i].heard)
			return &f->groups[k]->heard[i];
	return NULL;
}

static bool any_digest_warned(const struct failover *f, size_t i)
{
	for (size_t k = 0; k < f->ngroups; k++)
		if (f->groups[k]->heard[i].digest_warned)
			return true;
	return false;
}

static void json_senders(const struct failover *f, struct buf *out)
{
	char ip[ADDR_STRLEN];

	buf_puts(out, ", \"peers\": [");
	for (size_t i = 0; i < f->senders.n; i++) {
		const struct peer_sender *s = &f->senders.s[i];
		const struct fo_heard *h = first_heard(f, i);

		buf_puts(out, i ? ", {\"address\": " : "{\"address\": ");
		buf_json_str(out, addr_ip_str(&s->addr, ip, sizeof(ip)));
		if (!s->heard || !h) {
			buf_puts(out, ", \"last_seen_ms\": null}");
			continue;
		}
		buf_puts(out, ", \"node\": ");
		buf_json_str(out, s->last.node);
		buf_puts(out, ", \"state\": ");
		buf_json_str(out, peer_state_str(h->last.state));
		buf_printf(out, ", \"priority\": %u, \"standby\": %s, \"last_seen_ms\": %.0f, "
			   "\"vip_set_match\": %s, \"boot\": \"%016" PRIx64 "\", \"restarts\": %" PRIu64
			   "}", h->last.priority, (h->last.flags & PEER_F_STANDBY) ? "true" : "false",
			   (ev_now(f->loop) - s->last_seen) * 1000,
			   any_digest_warned(f, i) ? "false" : "true", s->last.boot,
			   s->replay.restarts);
	}
	buf_puts(out, "]");
}

void failover_status_text(const struct failover *f, struct buf *out)
{
	char ip[ADDR_STRLEN];
	uint64_t rejected = 0;

	for (int r = PEER_OK + 1; r < PEER_REJ__COUNT; r++)
		rejected += f->rejected[r];
	buf_printf(out, "  (%s)\n  adverts sent %" PRIu64 "  received %" PRIu64
		   "  rejected %" PRIu64, f->ngroups ? f->groups[0]->reason : "",
		   peer_adverts_sent(f), f->received, rejected);
	if (f->gate == PEER_GATE_WAITING)
		buf_printf(out, "\n  waiting for the peer's operator state (%.0f ms so far)",
			   (ev_now(f->loop) - f->gate_since) * 1000);
	for (size_t k = 0; f->ngroups > 1 && k < f->ngroups; k++) {
		const struct fo_group *g = f->groups[k];

		buf_printf(out, "\n  group %u: %s%s priority %d (%s)", g->set.id,
			   peer_state_str(g->state), g->standby ? " (standby)" : "",
			   peer_effective_priority(g), g->reason);
	}
	for (size_t i = 0; i < f->senders.n; i++) {
		const struct peer_sender *s = &f->senders.s[i];
		const struct fo_heard *h = first_heard(f, i);

		buf_printf(out, "\n  peer %s: ", addr_ip_str(&s->addr, ip, sizeof(ip)));
		if (!s->heard || !h) {
			buf_puts(out, "never heard");
			continue;
		}
		buf_printf(out, "%s %s%s priority %u, last advert %.0f ms ago%s", s->last.node,
			   peer_state_str(h->last.state),
			   (h->last.flags & PEER_F_STANDBY) ? " (standby)" : "", h->last.priority,
			   (ev_now(f->loop) - s->last_seen) * 1000,
			   any_digest_warned(f, i) ? ", VIP set differs" : "");
	}
}

static void json_vips(const struct peer_vip *v, size_t n, struct buf *out)
{
	char ip[ADDR_STRLEN];

	for (size_t i = 0; i < n; i++) {
		buf_puts(out, i ? ", " : "");
		buf_json_str(out, addr_ip_str(&v[i].ip, ip, sizeof(ip)));
	}
}

static void json_groups(const struct failover *f, struct buf *out)
{
	buf_puts(out, ", \"groups\": [");
	for (size_t k = 0; k < f->ngroups; k++) {
		const struct fo_group *g = f->groups[k];
		const struct fo_heard *m = peer_live_master(g);

		buf_printf(out, "%s{\"id\": %u, \"state\": ", k ? ", " : "", g->set.id);
		buf_json_str(out, peer_state_str(g->state));
		buf_printf(out, ", \"priority\": %d, \"base_priority\": %u, \"standby\": %s, "
			   "\"forced\": %s, \"master\": ", peer_effective_priority(g), g->set.priority,
			   g->standby ? "true" : "false", g->forced ? "true" : "false");
		if (g->state == PEER_MASTER)
			buf_json_str(out, f->set.node);
		else if (m)
			buf_json_str(out, m->last.node);
		else
			buf_puts(out, "null");
		buf_puts(out, ", \"reason\": ");
		buf_json_str(out, g->reason);
		buf_printf(out, ", \"since\": %.3f, \"transitions\": %" PRIu64 ", \"vips\": [",
			   g->changed_at, g->transitions);
		json_vips(g->set.vips, g->set.nvips - g->set.naddrs, out);
		buf_puts(out, "], \"addresses\": [");
		json_vips(g->set.vips + g->set.nvips - g->set.naddrs, g->set.naddrs, out);
		buf_puts(out, "], \"services\": [");
		for (size_t i = 0; i < g->set.nservices; i++) {
			buf_puts(out, i ? ", " : "");
			buf_json_str(out, g->set.services[i]);
		}
		buf_puts(out, "]}");
	}
	buf_puts(out, "]");
}

/* The start-up gate: state, why it opened, how long the node waited. */
static void json_gate(const struct failover *f, struct buf *out)
{
	double end = f->gate == PEER_GATE_WAITING ? ev_now(f->loop) : f->gate_opened_at;

	buf_puts(out, ", \"start_gate\": {\"state\": ");
	buf_json_str(out, peer_gate_str(f->gate));
	buf_puts(out, ", \"reason\": ");
	buf_json_str(out, f->gate_reason);
	if (f->gate == PEER_GATE_OFF)
		buf_puts(out, ", \"waited_ms\": null}");
	else
		buf_printf(out, ", \"waited_ms\": %.0f}", (end - f->gate_since) * 1000);
}

void failover_status_json(const struct failover *f, struct buf *out)
{
	const struct fo_group *g0 = f->groups[0];
	uint64_t transitions = 0, garps = 0, refusals = 0, restored = 0;
	bool first = true;

	for (size_t k = 0; k < f->ngroups; k++) {
		transitions += f->groups[k]->transitions;
		garps += f->groups[k]->garps_sent;
		refusals += f->groups[k]->probes_refused;
		restored += f->groups[k]->vip_restored;
	}
	buf_puts(out, ", \"node\": ");
	buf_json_str(out, f->set.node);
	buf_printf(out, ", \"boot\": \"%016" PRIx64 "\", \"advert_version\": %d", f->boot_id,
		   PEER_MSG_VERSION);
	buf_puts(out, ", \"interface\": ");
	buf_json_str(out, f->set.ifname);
	buf_printf(out, ", \"base_priority\": %u, \"standby\": %s, \"forced\": %s, "
		   "\"advert_interval_ms\": %u, \"master_down_ms\": %.0f, \"reason\": ",
		   g0->set.priority, g0->standby ? "true" : "false", g0->forced ? "true" : "false",
		   f->set.advert_ms, peer_master_down(g0) * 1000);
	buf_json_str(out, g0->reason);
	buf_printf(out, ", \"since\": %.3f, \"transitions\": %" PRIu64 ", \"vips\": [",
		   g0->changed_at, transitions);
	for (size_t k = 0; k < f->ngroups; k++) {
		const struct fo_group *g = f->groups[k];

		if (g->set.nvips > g->set.naddrs) {
			buf_puts(out, first ? "" : ", ");
			json_vips(g->set.vips, g->set.nvips - g->set.naddrs, out);
			first = false;
		}
	}
	buf_puts(out, "], \"services_down\": [");
	for (size_t i = 0; i < f->nsvc_down; i++) {
		buf_puts(out, i ? ", " : "");
		buf_json_str(out, f->svc_down[i]);
	}
	buf_puts(out, "]");
	json_gate(f, out);
	json_groups(f, out);
	json_senders(f, out);
	buf_printf(out, ", \"adverts\": {\"sent\": %" PRIu64 ", \"received\": %" PRIu64
		   ", \"rejected\": {", peer_adverts_sent(f), f->received);
	for (int r = PEER_OK + 1; r < PEER_REJ__COUNT; r++)
		buf_printf(out, "%s\"%s\": %" PRIu64, r == 1 ? "" : ", ",
			   peer_reject_str((enum peer_reject)r), f->rejected[r]);
	buf_printf(out, "}, \"gaps\": %" PRIu64 "}, \"garps_sent\": %" PRIu64
		   ", \"duplicate_refusals\": %" PRIu64 ", \"vips_restored\": %" PRIu64,
		   f->advert_gaps, garps, refusals, restored);
}

static void prom_head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_groups(const struct failover *f, struct buf *out)
{
	prom_head(out, "vigil_failover_group_state", "gauge",
		  "1 for each failover group's current state");
	for (size_t k = 0; k < f->ngroups; k++)
		for (int s = 0; s < PEER_STATE__COUNT; s++)
			buf_printf(out, "vigil_failover_group_state{group=\"%u\",state=\"%s\"} %d\n",
				   f->groups[k]->set.id, peer_state_str((enum peer_state)s),
				   f->groups[k]->state == (enum peer_state)s);
	prom_head(out, "vigil_failover_group_priority", "gauge",
		  "Effective advertised priority of each group");
	for (size_t k = 0; k < f->ngroups; k++)
		buf_printf(out, "vigil_failover_group_priority{group=\"%u\"} %d\n",
			   f->groups[k]->set.id, peer_effective_priority(f->groups[k]));
	prom_head(out, "vigil_failover_group_transitions_total", "counter",
		  "State changes of each group");
	for (size_t k = 0; k < f->ngroups; k++)
		buf_printf(out, "vigil_failover_group_transitions_total{group=\"%u\"} %" PRIu64 "\n",
			   f->groups[k]->set.id, f->groups[k]->transitions);
}

void failover_metrics(const struct failover *f, struct buf *out)
{
	const char *st = failover_state_str(f);
	uint64_t transitions = 0, garps = 0;
	double last = -1;

	for (size_t k = 0; k < f->ngroups; k++) {
		transitions += f->groups[k]->transitions;
		garps += f->groups[k]->garps_sent;
	}
	prom_head(out, "vigil_failover_state", "gauge", "1 for the current failover state");
	for (int s = 0; s < PEER_STATE__COUNT; s++)
		buf_printf(out, "vigil_failover_state{state=\"%s\"} %d\n",
			   peer_state_str((enum peer_state)s),
			   strcmp(st, peer_state_str((enum peer_state)s)) == 0);
	prom_head(out, "vigil_failover_priority", "gauge", "Effective advertised priority");
	buf_printf(out, "vigil_failover_priority %d\n", failover_priority(f));
	prom_head(out, "vigil_failover_transitions_total", "counter", "State changes");
	buf_printf(out, "vigil_failover_transitions_total %" PRIu64 "\n", transitions);
	metrics_groups(f, out);
	prom_head(out, "vigil_failover_adverts_sent_total", "counter", "Adverts sent");
	buf_printf(out, "vigil_failover_adverts_sent_total %" PRIu64 "\n", peer_adverts_sent(f));
	prom_head(out, "vigil_failover_adverts_received_total", "counter", "Adverts accepted");
	buf_printf(out, "vigil_failover_adverts_received_total %" PRIu64 "\n", f->received);
	prom_head(out, "vigil_failover_adverts_rejected_total", "counter",
		  "Adverts rejected, by reason");
	for (int r = PEER_OK + 1; r < PEER_REJ__COUNT; r++)
		buf_printf(out, "vigil_failover_adverts_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
			   peer_reject_str((enum peer_reject)r), f->rejected[r]);
	prom_head(out, "vigil_failover_garps_sent_total", "counter",
		  "Gratuitous ARPs / unsolicited NAs sent");
	buf_printf(out, "vigil_failover_garps_sent_total %" PRIu64 "\n", garps);
	for (size_t i = 0; i < f->senders.n; i++)
		if (f->senders.s[i].heard && (last < 0 || f->senders.s[i].last_seen > last))
			last = f->senders.s[i].last_seen;
	prom_head(out, "vigil_failover_peer_last_seen_seconds", "gauge",
		  "Seconds since the last advert from a peer (-1: never)");
	buf_printf(out, "vigil_failover_peer_last_seen_seconds %.3f\n",
		   last < 0 ? -1.0 : ev_now(f->loop) - last);
}
