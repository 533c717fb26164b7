/* sync_view.c - what the sync channel shows: the snapshot of sync_view.h. */
#include "sync/sync_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "sync/sync_internal.h"

_Static_assert(SYNC_VIEW_NAME_MAX == SYNC_NAME_MAX, "node names fit");
_Static_assert(SYNC_VIEW_VERSION_MAX == SYNC_VERSION_MAX, "versions fit");
_Static_assert(SYNC_VIEW_REASON_MAX == SYNC_REASON_MAX, "reasons fit");
_Static_assert(SYNC_VIEW_DIGEST_HEX == 2 * SYNC_DIGEST_LEN + 1, "digests fit");
_Static_assert(SYNC_VIEW_REJECTS == SYNC_REJ__COUNT - 1, "every rejection but none");

static void view_peer(const struct sync *s, const struct sync_peer *p,
		      struct sync_view_peer *out)
{
	snprintf(out->address, sizeof(out->address), "%s", p->ip);
	snprintf(out->node, sizeof(out->node), "%s", p->node);
	snprintf(out->version, sizeof(out->version), "%s", p->version);
	out->connected = p->conn != NULL;
	out->has_digest = p->has_state;
	if (p->has_state)
		sync_digest_hex(p->digest, out->digest);
	out->in_sync = p->has_state && s->loaded &&
		       !memcmp(p->digest, s->digest, sizeof(s->digest));
	out->clock = p->stamp.clock;
	out->last_result = p->has_result ? sync_result_str(p->result) : NULL;
	snprintf(out->last_reason, sizeof(out->last_reason), "%s",
		 p->has_result ? p->reason : "");
	out->configs_sent = p->configs_sent;
	out->configs_received = p->configs_received;
	out->ops_sent = p->ops_sent;
	out->ops_received = p->ops_received;
}

void sync_view(const struct sync *s, struct sync_view *out)
{
	memset(out, 0, sizeof(*out));
	out->port = s->port;
	out->clock = s->lamport;
	out->config_clock = s->stamp.clock;
	snprintf(out->config_origin, sizeof(out->config_origin), "%s", s->stamp.origin);
	out->configs_applied = s->applied;
	out->configs_refused = s->refused;
	out->operator_entries = s->nops;
	out->persist_sent = s->persist_sent;
	out->persist_received = s->persist_received;
	out->peers = xcalloc(s->npeers + 1, sizeof(*out->peers));
	for (size_t i = 0; i < s->npeers; i++)
		if (!s->peers[i].self)
			view_peer(s, &s->peers[i], &out->peers[out->npeers++]);
	for (int r = SYNC_REJ_NONE + 1; r < SYNC_REJ__COUNT; r++)
		out->rejected[r - 1] = (struct sync_view_count){
			.reason = sync_reject_str((enum sync_reject)r), .n = s->rejected[r] };
}

void sync_view_free(struct sync_view *v)
{
	free(v->peers);
	v->peers = NULL;
	v->npeers = 0;
}
