/* failover_view.c - what failover shows: the snapshot of failover_view.h,
 * taken from the node, its groups and its sender table (ctl/ renders it). */
#include "vip/failover_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "vip/peer.h"

_Static_assert(FAILOVER_VIEW_MAX_GROUPS == PEER_MAX_GROUPS, "one view slot per group");
_Static_assert(FAILOVER_VIEW_MAX_PEERS == PEER_MAX_SENDERS, "one view slot per sender");
_Static_assert(FAILOVER_VIEW_NAME_MAX == PEER_NODE_MAX, "node names fit");
_Static_assert(FAILOVER_VIEW_REASON_MAX == sizeof(((struct fo_group *)0)->reason),
	       "reasons fit");
_Static_assert(FAILOVER_VIEW_STATES == PEER_STATE__COUNT, "every state");
_Static_assert(FAILOVER_VIEW_REJECTS == PEER_REJ__COUNT - 1, "every rejection but PEER_OK");

/* The texts of n VIPs, allocated. */
static char **view_vips(const struct peer_vip *v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++) {
		out[i] = xmalloc(ADDR_STRLEN);
		addr_ip_str(&v[i].ip, out[i], ADDR_STRLEN);
	}
	return out;
}

static char **view_strs(char *const *s, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(s[i]);
	return out;
}

static void strs_free(char **s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		free(s[i]);
	free(s);
}

static void view_group(const struct failover *f, const struct fo_group *g,
		       struct failover_view_group *out)
{
	const struct fo_heard *m = peer_live_master(g);
	size_t nvips = g->set.nvips - g->set.naddrs;

	out->id = g->set.id;
	out->state = peer_state_str(g->state);
	out->standby = g->standby;
	out->forced = g->forced;
	out->priority = peer_effective_priority(g);
	out->base_priority = g->set.priority;
	out->has_master = g->state == PEER_MASTER || m;
	snprintf(out->master, sizeof(out->master), "%s",
		 g->state == PEER_MASTER ? f->set.node : m ? m->last.node : "");
	snprintf(out->reason, sizeof(out->reason), "%s", g->reason);
	out->since = g->changed_at;
	out->master_down_s = peer_master_down(g);
	out->transitions = g->transitions;
	out->garps_sent = g->garps_sent;
	out->duplicate_refusals = g->probes_refused;
	out->vips_restored = g->vip_restored;
	out->vips = view_vips(g->set.vips, nvips);
	out->nvips = nvips;
	out->addresses = view_vips(g->set.vips + nvips, g->set.naddrs);
	out->naddresses = g->set.naddrs;
	out->services = view_strs(g->set.services, g->set.nservices);
	out->nservices = g->set.nservices;
}

/* What the first group heard from sender i (the peers' view in status). */
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

static void view_peer(const struct failover *f, size_t i, double now,
		      struct failover_view_peer *out)
{
	const struct peer_sender *s = &f->senders.s[i];
	const struct fo_heard *h = first_heard(f, i);

	addr_ip_str(&s->addr, out->address, sizeof(out->address));
	out->seen = s->heard;
	out->last_seen_s = s->heard ? now - s->last_seen : 0;
	out->heard = s->heard && h;
	if (!out->heard)
		return;
	snprintf(out->node, sizeof(out->node), "%s", s->last.node);
	out->state = peer_state_str(h->last.state);
	out->priority = h->last.priority;
	out->standby = h->last.flags & PEER_F_STANDBY;
	out->vip_set_match = !any_digest_warned(f, i);
	out->boot = s->last.boot;
	out->restarts = s->replay.restarts;
}

void failover_view(const struct failover *f, struct failover_view *out)
{
	double now = f->ops->now(f);

	memset(out, 0, sizeof(*out));
	out->state = failover_state_str(f);
	out->priority = failover_priority(f);
	snprintf(out->node, sizeof(out->node), "%s", f->set.node);
	out->boot = f->boot_id;
	out->advert_version = PEER_MSG_VERSION;
	snprintf(out->interface, sizeof(out->interface), "%s", f->set.ifname);
	out->advert_interval_ms = f->set.advert_ms;
	for (size_t k = 0; k < f->ngroups; k++)
		view_group(f, f->groups[k], &out->groups[k]);
	out->ngroups = f->ngroups;
	for (size_t i = 0; i < f->senders.n; i++)
		view_peer(f, i, now, &out->peers[i]);
	out->npeers = f->senders.n;
	out->gate.state = peer_gate_str(f->gate);
	snprintf(out->gate.reason, sizeof(out->gate.reason), "%s", f->gate_reason);
	out->gate.waiting = f->gate == PEER_GATE_WAITING;
	out->gate.waited_ms = ((out->gate.waiting ? now : f->gate_opened_at) - f->gate_since) * 1000;
	out->services_down = view_strs(f->svc_down, f->nsvc_down);
	out->nservices_down = f->nsvc_down;
	out->adverts_sent = peer_adverts_sent(f);
	out->adverts_received = f->received;
	out->advert_gaps = f->advert_gaps;
	for (int r = PEER_OK + 1; r < PEER_REJ__COUNT; r++)
		out->rejected[r - 1] = (struct failover_view_count){
			.reason = peer_reject_str((enum peer_reject)r), .n = f->rejected[r] };
	for (int s = 0; s < PEER_STATE__COUNT; s++)
		out->states[s] = peer_state_str((enum peer_state)s);
}

void failover_view_free(struct failover_view *v)
{
	for (size_t k = 0; k < v->ngroups; k++) {
		struct failover_view_group *g = &v->groups[k];

		strs_free(g->vips, g->nvips);
		strs_free(g->addresses, g->naddresses);
		strs_free(g->services, g->nservices);
	}
	strs_free(v->services_down, v->nservices_down);
}
