/* peer.c - the failover state machine of each group: init, backup, master,
 * fault. No I/O here: every side effect goes through f->ops.
 *
 * VRRP-like, per group. The master advertises every advert_interval; a backup
 * that hears nothing for master-down = 3 x advert + skew (skew = (256 - prio)
 * / 256 x advert) takes over. A priority-0 advert (standby, SIGTERM) hands
 * over at once. Between two masters the higher priority wins, then the higher
 * node address; the winner re-asserts with an advert and a fresh GARP burst.
 * Backups advertise too (state backup), so each side knows the other is alive.
 */
#include "vip/peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/util.h"

static double now(const struct failover *f)
{
	return f->ops->now(f);
}

/* A service of g has no backend up (track.services). */
static bool group_svc_down(const struct fo_group *g)
{
	const struct failover *f = g->f;

	for (size_t i = 0; i < f->nsvc_down; i++)
		for (size_t j = 0; j < g->set.nservices; j++)
			if (strcmp(f->svc_down[i], g->set.services[j]) == 0)
				return true;
	return false;
}

int peer_effective_priority(const struct fo_group *g)
{
	int p = (int)g->set.priority;

	if (g->standby || g->f->stopping)
		return 0;
	if (g->forced)
		return 255;
	if (g->set.track_services && group_svc_down(g))
		p -= (int)g->set.track_weight;
	return p < 1 ? 1 : p;
}

static const struct fo_heard *master_heard(const struct fo_group *g)
{
	return g->master >= 0 ? &g->heard[g->master] : NULL;
}

ev_tstamp peer_master_down(const struct fo_group *g)
{
	uint32_t adv = g->f->set.advert_ms;
	int prio = peer_effective_priority(g);
	const struct fo_heard *m = master_heard(g);

	if (m && m->last.advert_ms)
		adv = m->last.advert_ms;
	if (prio > 255)
		prio = 255;
	return (3.0 * adv + (256.0 - prio) / 256.0 * adv) / 1000.0;
}

const struct fo_heard *peer_live_master(const struct fo_group *g)
{
	const struct fo_heard *m = master_heard(g);

	if (m && m->last.state == PEER_MASTER && now(g->f) - m->last_seen < peer_master_down(g))
		return m;
	return NULL;
}

/* ---- addresses and announcements ---- */

void peer_add_vips(struct fo_group *g)
{
	for (size_t i = 0; i < g->set.nvips; i++)
		g->f->ops->add_vip(g, &g->set.vips[i]);
}

void peer_del_vips(struct fo_group *g)
{
	for (size_t i = 0; i < g->set.nvips; i++)
		g->f->ops->del_vip(g, &g->set.vips[i]);
}

/* A burst of garp.count announcements, the first one now. */
void peer_garp_burst(struct fo_group *g)
{
	const struct fo_settings *s = &g->f->set;

	ev_timer_stop(g->f->loop, &g->garp_timer);
	if (s->garp_count == 0 && s->garp_refresh_ms == 0)
		return;
	g->garp_left = 0;
	if (s->garp_count > 0) {
		g->f->ops->garp(g);
		g->garp_left = s->garp_count - 1;
	}
	if (g->garp_left > 0) {
		ev_timer_set(&g->garp_timer, s->garp_interval_ms / 1000.0, 0.);
		ev_timer_start(g->f->loop, &g->garp_timer);
	} else if (s->garp_refresh_ms) {
		ev_timer_set(&g->garp_timer, s->garp_refresh_ms / 1000.0, 0.);
		ev_timer_start(g->f->loop, &g->garp_timer);
	}
}

static void garp_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fo_group *g = container_of(w, struct fo_group, garp_timer);
	const struct fo_settings *s = &g->f->set;

	if (g->state != PEER_MASTER)
		return;
	g->f->ops->garp(g);
	if (g->garp_left > 0)
		g->garp_left--;
	if (g->garp_left > 0)
		ev_timer_set(w, s->garp_interval_ms / 1000.0, 0.);
	else if (s->garp_refresh_ms)
		ev_timer_set(w, s->garp_refresh_ms / 1000.0, 0.);
	else
		return;
	ev_timer_start(loop, w);
}

/* ---- timers ---- */

static void restart_down_timer(struct fo_group *g)
{
	g->down_timer.repeat = peer_master_down(g);
	ev_timer_again(g->f->loop, &g->down_timer);
}

/* ---- the start-up gate ---- */

static void try_preempt(struct fo_group *g);

const char *peer_gate_str(enum peer_gate gate)
{
	static const char *const names[] = { "off", "waiting", "learnt", "alone" };

	return (unsigned)gate < 4 ? names[gate] : "?";
}

/* The closed gate holds back a claim of g (what: for the log): true while a
 * peer is alive - its adverts are heard - and its operator state has not
 * arrived; the claim waits in *held. With no peer heard within the last
 * master-down (none since start, or it died meanwhile), nobody can send that
 * state and nobody else holds the VIPs: the gate opens and the claim goes on. */
static bool gate_holds(struct fo_group *g, bool *held, const char *what)
{
	struct failover *f = g->f;

	if (f->gate != PEER_GATE_WAITING)
		return false;
	if (!f->seen_peer || now(f) - f->peer_heard_at >= peer_master_down(g)) {
		peer_gate_open(f, PEER_GATE_ALONE, f->seen_peer ? "the peer fell silent" :
			       "no peer heard within master-down");
		return false;
	}
	if (!*held)
		log_notice("failover: group %u: %s waits for the peer's operator state "
			   "(failover.sync)", g->set.id, what);
	*held = true;
	return true;
}

static void gate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct failover *f = container_of(w, struct failover, gate_timer);
	char why[96];

	snprintf(why, sizeof(why), "the peer's operator state did not arrive within %.0f s",
		 f->gate_max_s);
	peer_gate_open(f, PEER_GATE_ALONE, why);
}

void peer_gate_start(struct failover *f, double max_s)
{
	f->gate = PEER_GATE_WAITING;
	f->gate_since = now(f);
	f->gate_max_s = max_s;
	ev_timer_init(&f->gate_timer, gate_cb, max_s, 0.);
	ev_timer_start(f->loop, &f->gate_timer);
	log_notice("failover: no group claims the VIPs before the peer's operator state "
		   "arrives (failover.sync; at most %.0f s, or master-down with no peer heard)",
		   max_s);
}

void peer_gate_stop(struct failover *f)
{
	ev_timer_stop(f->loop, &f->gate_timer);
}

/* The gate opened: what it held back of g happens now. */
static void gate_release(struct fo_group *g, const char *why)
{
	bool claim = g->claim_held, preempt = g->preempt_held;
	char reason[160], who[160];

	g->claim_held = g->preempt_held = false;
	if (g->state != PEER_BACKUP || g->standby || g->f->stopping)
		return;
	if (claim && !peer_live_master(g)) {
		snprintf(reason, sizeof(reason), "no master heard; held until %s", why);
		if (peer_claim(g, !g->f->seen_peer, reason, who, sizeof(who)) < 0)
			restart_down_timer(g);
	} else if (claim) {
		restart_down_timer(g);
	} else if (preempt) {
		try_preempt(g);
	}
}

void peer_gate_open(struct failover *f, enum peer_gate how, const char *why)
{
	double waited;

	if (f->gate != PEER_GATE_WAITING)
		return;
	f->gate = how;
	ev_timer_stop(f->loop, &f->gate_timer);
	f->gate_opened_at = now(f);
	waited = (f->gate_opened_at - f->gate_since) * 1000;
	snprintf(f->gate_reason, sizeof(f->gate_reason), "%s", why);
	if (how == PEER_GATE_LEARNT)
		log_notice("failover: %s after %.0f ms: the groups may claim the VIPs", why, waited);
	else
		log_warning("failover: proceeding WITHOUT the peer's operator state after %.0f ms: "
			    "%s", waited, why);
	if (f->ops->gate_opened)
		f->ops->gate_opened(f, why);
	for (size_t i = 0; i < f->ngroups; i++)
		gate_release(f->groups[i], why);
}

static void down_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fo_group *g = container_of(w, struct fo_group, down_timer);
	const struct fo_heard *m;
	char why[160], who[160];
	bool probe = !g->f->seen_peer;

	ev_timer_stop(loop, w);
	if (g->state != PEER_BACKUP || g->f->stopping)
		return;
	/* our own loop may be the late one: an advert that arrived in time may
	 * still wait in the socket */
	g->f->ops->drain(g->f);
	if (g->state != PEER_BACKUP || ev_is_active(w))
		return;
	if (g->standby) {
		restart_down_timer(g);
		return;
	}
	if (gate_holds(g, &g->claim_held, "taking over")) {
		restart_down_timer(g);  /* to see whether the peer is still alive then */
		return;
	}
	if (g->state != PEER_BACKUP)    /* the gate just opened and released our claim */
		return;
	m = master_heard(g);
	if (m)
		snprintf(why, sizeof(why), "master %s silent for %.0f ms", m->last.node,
			 (now(g->f) - m->last_seen) * 1000);
	else
		snprintf(why, sizeof(why), "no master heard for %.0f ms",
			 peer_master_down(g) * 1000);
	if (peer_claim(g, probe, why, who, sizeof(who)) < 0)
		restart_down_timer(g);
}

/* Preempt the master heard if it still has the lower priority. */
static void try_preempt(struct fo_group *g)
{
	const struct fo_heard *m = master_heard(g);
	char why[160], who[160];
	int mine = peer_effective_priority(g);

	if (g->state != PEER_BACKUP || g->standby || g->f->stopping || !m ||
	    m->last.state != PEER_MASTER || m->last.priority >= mine)
		return;
	if (gate_holds(g, &g->preempt_held, "preempting"))
		return;
	snprintf(why, sizeof(why), "preempt: priority %d above master %s (%d)", mine,
		 m->last.node, m->last.priority);
	peer_claim(g, false, why, who, sizeof(who));
}

static void preempt_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fo_group *g = container_of(w, struct fo_group, preempt_timer);

	ev_timer_stop(loop, w);
	try_preempt(g);
}

/* ---- groups ---- */

void peer_group_set_copy(struct fo_group_set *dst, const struct fo_group_set *src)
{
	*dst = *src;
	dst->services = xcalloc(src->nservices ? src->nservices : 1, sizeof(*dst->services));
	for (size_t i = 0; i < src->nservices; i++)
		dst->services[i] = xstrdup(src->services[i]);
	dst->vips = xcalloc(src->nvips ? src->nvips : 1, sizeof(*dst->vips));
	if (src->nvips)
		memcpy(dst->vips, src->vips, src->nvips * sizeof(*dst->vips));
}

void peer_group_set_free(struct fo_group_set *s)
{
	for (size_t i = 0; i < s->nservices; i++)
		free(s->services[i]);
	free(s->services);
	free(s->vips);
	memset(s, 0, sizeof(*s));
}

struct fo_group *peer_group_new(struct failover *f, const struct fo_group_set *gs)
{
	struct fo_group *g = xcalloc(1, sizeof(*g));

	g->f = f;
	g->master = -1;
	g->state = PEER_INIT;
	peer_group_set_copy(&g->set, gs);
	ev_timer_init(&g->down_timer, down_cb, 0., 1.);
	ev_timer_init(&g->preempt_timer, preempt_cb, 0., 0.);
	ev_timer_init(&g->garp_timer, garp_cb, 0., 0.);
	/* timing must not wait behind the data path */
	ev_set_priority(&g->down_timer, EV_MAXPRI);
	return g;
}

static void group_timers_stop(struct fo_group *g)
{
	ev_timer_stop(g->f->loop, &g->down_timer);
	ev_timer_stop(g->f->loop, &g->preempt_timer);
	ev_timer_stop(g->f->loop, &g->garp_timer);
}

void peer_group_free(struct fo_group *g)
{
	if (!g)
		return;
	group_timers_stop(g);
	peer_group_set_free(&g->set);
	free(g);
}

struct fo_group *peer_group_find(const struct failover *f, uint32_t id)
{
	for (size_t i = 0; i < f->ngroups; i++)
		if (f->groups[i]->set.id == id)
			return f->groups[i];
	return NULL;
}

void peer_groups_remap(struct failover *f, const struct peer_table *old)
{
	for (size_t i = 0; i < f->ngroups; i++) {
		struct fo_group *g = f->groups[i];
		struct fo_heard h[PEER_MAX_SENDERS];
		int master = -1;

		memcpy(h, g->heard, sizeof(h));
		memset(g->heard, 0, sizeof(g->heard));
		for (size_t j = 0; j < old->n; j++) {
			struct peer_sender *s = peer_table_find_addr(&f->senders, &old->s[j].addr);
			size_t k;

			if (!s || strcmp(s->node, old->s[j].node) != 0)
				continue;
			k = (size_t)(s - f->senders.s);
			g->heard[k] = h[j];
			if (g->master == (int)j)
				master = (int)k;
		}
		g->master = master;
	}
}

/* ---- the one writer of g->state ---- */

static void enter_master(struct fo_group *g)
{
	ev_timer_stop(g->f->loop, &g->down_timer);
	ev_timer_stop(g->f->loop, &g->preempt_timer);
	g->f->ops->send_advert(g, peer_effective_priority(g));
	peer_add_vips(g);
	peer_garp_burst(g);
}

static void enter_backup(struct fo_group *g, enum peer_state old)
{
	ev_timer_stop(g->f->loop, &g->garp_timer);
	if (old == PEER_MASTER)
		peer_del_vips(g);
	restart_down_timer(g);
}

static void enter_fault(struct fo_group *g)
{
	group_timers_stop(g);
	peer_del_vips(g);
}

void peer_set_state(struct fo_group *g, enum peer_state st, const char *why)
{
	enum peer_state old = g->state;

	if (st == old)
		return;
	g->state = st;
	g->transitions++;
	g->changed_at = wall_now();
	snprintf(g->reason, sizeof(g->reason), "%s", why);
	if (st == PEER_MASTER)
		log_notice("failover: group %u: %s -> master (%s), priority %d, %zu VIP%s on %s",
			   g->set.id, peer_state_str(old), why, peer_effective_priority(g),
			   g->set.nvips, g->set.nvips == 1 ? "" : "s", g->f->set.ifname);
	else
		log_notice("failover: group %u: %s -> %s (%s)", g->set.id, peer_state_str(old),
			   peer_state_str(st), why);
	if (st == PEER_MASTER)
		enter_master(g);
	else if (st == PEER_BACKUP)
		enter_backup(g, old);
	else if (st == PEER_FAULT)
		enter_fault(g);
	g->f->ops->changed(g, old, why);
}

void peer_set_state_all(struct failover *f, enum peer_state st, const char *why)
{
	for (size_t i = 0; i < f->ngroups; i++) {
		if (st == PEER_BACKUP)
			f->groups[i]->master = -1;
		peer_set_state(f->groups[i], st, why);
	}
}

int peer_claim(struct fo_group *g, bool probe, const char *why, char *who, size_t wholen)
{
	int rc = 0;

	if (probe && g->set.nvips)
		rc = g->f->ops->probe(g, who, wholen);
	if (rc == 1) {
		g->probes_refused++;
		/* loudly, but not every master-down interval for hours */
		if ((g->probes_refused & (g->probes_refused - 1)) == 0)
			log_error("failover: group %u: NOT taking over (%s): VIP %s - another host "
				  "holds the address; staying %s [%llu refusals]", g->set.id, why,
				  who, peer_state_str(g->state),
				  (unsigned long long)g->probes_refused);
		return -1;
	}
	peer_set_state(g, PEER_MASTER, why);
	return 0;
}

/* ---- events ---- */

/* a beats b: higher priority, then higher address. */
static bool peer_wins(int pa, const struct addr *a, int pb, const struct addr *b)
{
	size_t la, lb;
	const uint8_t *ba, *bb;

	if (pa != pb)
		return pa > pb;
	ba = addr_bytes(a, &la);
	bb = addr_bytes(b, &lb);
	if (la != lb)
		return la > lb;
	return memcmp(ba, bb, la) > 0;
}

static void on_master_advert_as_backup(struct fo_group *g, const struct peer_msg *m)
{
	char why[160], who[160];
	int mine = peer_effective_priority(g);

	if (m->priority == 0) {
		if (g->standby)
			return;
		snprintf(why, sizeof(why), "master %s resigned (priority 0)", m->node);
		/* it leaves: nobody else would hold the VIPs */
		peer_gate_open(g->f, PEER_GATE_ALONE, why);
		peer_claim(g, false, why, who, sizeof(who));
		return;
	}
	g->claim_held = false;        /* a master is alive */
	restart_down_timer(g);
	if (g->set.preempt && !g->standby && mine > m->priority) {
		if (!ev_is_active(&g->preempt_timer)) {
			ev_timer_set(&g->preempt_timer, g->set.preempt_delay_ms / 1000.0, 0.);
			ev_timer_start(g->f->loop, &g->preempt_timer);
			if (g->set.preempt_delay_ms)
				log_info("failover: group %u: master %s has priority %d below ours "
					 "(%d): preempting in %u ms", g->set.id, m->node, m->priority,
					 mine, g->set.preempt_delay_ms);
		}
	} else {
		ev_timer_stop(g->f->loop, &g->preempt_timer);
		g->preempt_held = false;
	}
}

static void on_master_advert_as_master(struct fo_group *g, const struct peer_sender *s,
				       const struct peer_msg *m)
{
	char why[160];
	int mine = peer_effective_priority(g);

	if (m->priority != 0 && peer_wins(m->priority, &s->addr, mine, &g->f->self)) {
		snprintf(why, sizeof(why), "%s is a better master (priority %d, ours %d)",
			 m->node, m->priority, mine);
		peer_set_state(g, PEER_BACKUP, why);
		/* tell the winner at once, so it re-announces the VIPs to the LAN */
		g->yield_pending = true;
		g->f->ops->send_advert(g, mine);
		return;
	}
	log_warning("failover: group %u: heard master %s (priority %d) while master (ours %d): "
		    "re-asserting with an advert and gratuitous ARPs", g->set.id, m->node,
		    m->priority, mine);
	g->f->ops->send_advert(g, mine);
	peer_garp_burst(g);
}

static void check_digest(struct fo_group *g, struct fo_heard *h, const struct peer_sender *s,
			 const struct peer_msg *m)
{
	char ip[ADDR_STRLEN];

	if (memcmp(m->vip_digest, g->set.digest, PEER_DIGEST_LEN) == 0) {
		h->digest_warned = false;
		return;
	}
	if (!h->digest_warned)
		log_warning("failover: group %u: peer %s (%s) has a different VIP set: check "
			    "both configurations", g->set.id, m->node,
			    addr_ip_str(&s->addr, ip, sizeof(ip)));
	h->digest_warned = true;
}

void peer_on_advert(struct failover *f, struct peer_sender *s, const struct peer_msg *m)
{
	struct fo_group *g = peer_group_find(f, m->group);
	int idx = (int)(s - f->senders.s);
	struct fo_heard *h;

	f->seen_peer = true;
	f->peer_heard_at = now(f);
	if (!g || idx < 0 || idx >= PEER_MAX_SENDERS)
		return;
	h = &g->heard[idx];
	h->heard = true;
	h->last = *m;
	h->last_seen = now(f);
	check_digest(g, h, s, m);
	if (m->state != PEER_MASTER) {
		if (g->master == idx)
			g->master = -1;
		if ((m->flags & PEER_F_YIELD) && g->state == PEER_MASTER) {
			log_warning("failover: group %u: %s was master too and yielded: "
				    "re-announcing the VIPs with gratuitous ARPs", g->set.id, m->node);
			peer_garp_burst(g);
		}
		return;
	}
	g->master = idx;
	if (g->state == PEER_BACKUP)
		on_master_advert_as_backup(g, m);
	else if (g->state == PEER_MASTER)
		on_master_advert_as_master(g, s, m);
}

void peer_on_link(struct failover *f, bool up)
{
	char why[96];

	if (up == f->link_up)
		return;
	f->link_up = up;
	if (f->stopping)
		return;
	snprintf(why, sizeof(why), "link %s %s", f->set.ifname, up ? "up" : "down");
	if (!up) {
		peer_set_state_all(f, PEER_FAULT, why);
		return;
	}
	if (!f->have_self) {
		log_warning("failover: %s but no usable address on it: staying in fault", why);
		return;
	}
	peer_set_state_all(f, PEER_BACKUP, why);
}

void peer_on_own_addr(struct failover *f, bool had)
{
	char why[96];

	if (f->stopping)
		return;
	if (had && !f->have_self) {
		snprintf(why, sizeof(why), "no usable address on %s", f->set.ifname);
		peer_set_state_all(f, PEER_FAULT, why);
	} else if (!had && f->have_self && f->link_up) {
		snprintf(why, sizeof(why), "usable address on %s again", f->set.ifname);
		for (size_t i = 0; i < f->ngroups; i++)
			if (f->groups[i]->state == PEER_FAULT) {
				f->groups[i]->master = -1;
				peer_set_state(f->groups[i], PEER_BACKUP, why);
			}
	}
}

void peer_on_addr_del(struct failover *f, const struct peer_vip *v)
{
	char ip[ADDR_STRLEN];

	for (size_t k = 0; k < f->ngroups && !f->stopping; k++) {
		struct fo_group *g = f->groups[k];

		if (g->state != PEER_MASTER)
			continue;
		for (size_t i = 0; i < g->set.nvips; i++) {
			if (!addr_equal_ip(&g->set.vips[i].ip, &v->ip))
				continue;
			log_warning("failover: group %u: VIP %s was removed from %s while master: "
				    "putting it back", g->set.id,
				    addr_ip_str(&v->ip, ip, sizeof(ip)), f->set.ifname);
			if (f->ops->add_vip(g, &g->set.vips[i]) < 0) {
				peer_set_state(g, PEER_FAULT, "cannot restore a removed VIP");
				break;
			}
			g->vip_restored++;
			peer_garp_burst(g);
		}
	}
}

void peer_priority_changed(struct fo_group *g, const char *why)
{
	log_info("failover: group %u: effective priority now %d (%s)", g->set.id,
		 peer_effective_priority(g), why);
	if (g->state == PEER_MASTER || g->state == PEER_BACKUP)
		g->f->ops->send_advert(g, peer_effective_priority(g));
}
