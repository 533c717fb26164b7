/* status_sync.c - the sync channel's status object and its vigil_sync_*
 * metric families, from its snapshot (sync/sync_view.h). */
#include "ctl/status.h"

#include <inttypes.h>
#include <stdio.h>

#include "ctl/prom.h"
#include "sync/sync_view.h"

static void json_peer(const struct sync_view_peer *p, struct buf *out)
{
	buf_puts(out, "{\"address\": ");
	buf_json_str(out, p->address);
	buf_puts(out, ", \"node\": ");
	buf_json_str(out, p->node);
	buf_printf(out, ", \"connected\": %s, \"version\": ", p->connected ? "true" : "false");
	buf_json_str(out, p->version);
	buf_puts(out, ", \"config_digest\": ");
	if (p->has_digest)
		buf_json_str(out, p->digest);
	else
		buf_puts(out, "null");
	buf_printf(out, ", \"in_sync\": %s, \"clock\": %" PRIu64 ", \"last_result\": ",
		   p->in_sync ? "true" : "false", p->clock);
	if (p->last_result)
		buf_json_str(out, p->last_result);
	else
		buf_puts(out, "null");
	buf_puts(out, ", \"last_reason\": ");
	buf_json_str(out, p->last_reason);
	buf_printf(out, ", \"configs_sent\": %" PRIu64 ", \"configs_received\": %" PRIu64
		   ", \"ops_sent\": %" PRIu64 ", \"ops_received\": %" PRIu64 "}",
		   p->configs_sent, p->configs_received, p->ops_sent, p->ops_received);
}

void status_sync_json(const struct sync_view *v, struct buf *out)
{
	buf_printf(out, "{\"port\": %u, \"clock\": %" PRIu64 ", \"config_clock\": %" PRIu64
		   ", \"config_origin\": ", v->port, v->clock, v->config_clock);
	buf_json_str(out, v->config_origin);
	buf_printf(out, ", \"configs_applied\": %" PRIu64 ", \"configs_refused\": %" PRIu64
		   ", \"operator_entries\": %zu, \"persist_sent\": %" PRIu64
		   ", \"persist_received\": %" PRIu64 ", \"peers\": [", v->configs_applied,
		   v->configs_refused, v->operator_entries, v->persist_sent, v->persist_received);
	for (size_t i = 0; i < v->npeers; i++) {
		buf_puts(out, i ? ", " : "");
		json_peer(&v->peers[i], out);
	}
	buf_puts(out, "], \"rejected\": {");
	for (size_t r = 0; r < SYNC_VIEW_REJECTS; r++)
		buf_printf(out, "%s\"%s\": %" PRIu64, r ? ", " : "", v->rejected[r].reason,
			   v->rejected[r].n);
	buf_puts(out, "}}");
}

void status_sync_metrics(const struct sync_view *v, struct buf *out)
{
	char lab[ADDR_STRLEN + 16];

	prom_family(out, "vigil_sync_rejected_total", "counter",
		    "Sync connections closed, by reason.");
	for (size_t r = 0; r < SYNC_VIEW_REJECTS; r++) {
		snprintf(lab, sizeof(lab), "reason=\"%s\"", v->rejected[r].reason);
		prom_sample(out, "vigil_sync_rejected_total", lab, v->rejected[r].n);
	}
	/* each family's lines together, as the text format requires */
	prom_family(out, "vigil_sync_peer_connected", "gauge",
		    "1 while the peer's sync channel is up.");
	for (size_t i = 0; i < v->npeers; i++) {
		snprintf(lab, sizeof(lab), "peer=\"%s\"", v->peers[i].address);
		prom_sample(out, "vigil_sync_peer_connected", lab, v->peers[i].connected);
	}
	prom_family(out, "vigil_sync_peer_in_sync", "gauge",
		    "1 while the peer runs this node's configuration.");
	for (size_t i = 0; i < v->npeers; i++) {
		snprintf(lab, sizeof(lab), "peer=\"%s\"", v->peers[i].address);
		prom_sample(out, "vigil_sync_peer_in_sync", lab, v->peers[i].in_sync);
	}
	prom_family(out, "vigil_sync_configs_total", "counter",
		    "Configurations received from the peer.");
	prom_sample(out, "vigil_sync_configs_total", "result=\"applied\"", v->configs_applied);
	prom_sample(out, "vigil_sync_configs_total", "result=\"refused\"", v->configs_refused);
}
