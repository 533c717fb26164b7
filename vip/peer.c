/* peer.c - the failover state machine: init, backup, master, fault.
 *
 * VRRP-like. The master advertises every advert_interval; a backup that hears
 * nothing for master-down = 3 x advert + skew (skew = (256 - prio) / 256 x
 * advert) takes over. A priority-0 advert (standby, SIGTERM) hands over at
 * once. Between two masters the higher priority wins, then the higher node
 * address; the winner re-asserts with an advert and a fresh GARP burst.
 * Backups advertise too (state backup), so each side knows the other is alive.
 */
#include "vip/peer.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"

int peer_effective_priority(const struct failover *f)
{
	int p = (int)f->set.priority;

	if (f->standby || f->stopping)
		return 0;
	if (f->forced)
		return 255;
	if (f->set.track_services && f->nsvc_down > 0)
		p -= (int)f->set.track_weight;
	return p < 1 ? 1 : p;
}

ev_tstamp peer_master_down(const struct failover *f)
{
	uint32_t adv = f->set.advert_ms;
	int prio = peer_effective_priority(f);

	if (f->master && f->master->last.advert_ms)
		adv = f->master->last.advert_ms;
	if (prio > 255)
		prio = 255;
	return (3.0 * adv + (256.0 - prio) / 256.0 * adv) / 1000.0;
}

/* ---- addresses and announcements ---- */

void peer_add_vips(struct failover *f)
{
	char err[256];

	for (size_t i = 0; i < f->set.nvips; i++)
		if (addr_nl_add(&f->nl, &f->set.vips[i], err, sizeof(err)) < 0)
			log_error("failover: %s", err);
}

void peer_vip_released(struct failover *f, const struct peer_vip *v)
{
	if (f->hooks.released)
		f->hooks.released(&v->ip, f->hooks.arg);
}

void peer_del_vips(struct failover *f)
{
	char err[256];

	for (size_t i = 0; i < f->set.nvips; i++) {
		if (addr_nl_del(&f->nl, &f->set.vips[i], err, sizeof(err)) < 0)
			log_error("failover: %s", err);
		peer_vip_released(f, &f->set.vips[i]);
	}
}

static void send_garps(struct failover *f)
{
	char err[256];

	for (size_t i = 0; i < f->set.nvips; i++) {
		if (garp_announce(&f->garp, &f->set.vips[i].ip, err, sizeof(err)) < 0)
			log_warning("failover: %s", err);
		else
			f->garps_sent++;
	}
}

/* A burst of garp.count announcements, the first one now. */
void peer_garp_burst(struct failover *f)
{
	ev_timer_stop(f->loop, &f->garp_timer);
	if (f->set.garp_count == 0 && f->set.garp_refresh_ms == 0)
		return;
	if (f->set.garp_count > 0) {
		send_garps(f);
		f->garp_left = f->set.garp_count - 1;
	}
	if (f->garp_left > 0) {
		ev_timer_set(&f->garp_timer, f->set.garp_interval_ms / 1000.0, 0.);
		ev_timer_start(f->loop, &f->garp_timer);
	} else if (f->set.garp_refresh_ms) {
		ev_timer_set(&f->garp_timer, f->set.garp_refresh_ms / 1000.0, 0.);
		ev_timer_start(f->loop, &f->garp_timer);
	}
}

static void garp_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct failover *f = container_of(w, struct failover, garp_timer);

	if (f->state != PEER_MASTER)
		return;
	send_garps(f);
	if (f->garp_left > 0)
		f->garp_left--;
	if (f->garp_left > 0)
		ev_timer_set(w, f->set.garp_interval_ms / 1000.0, 0.);
	else if (f->set.garp_refresh_ms)
		ev_timer_set(w, f->set.garp_refresh_ms / 1000.0, 0.);
	else
		return;
	ev_timer_start(loop, w);
}

/* ---- timers ---- */

static void restart_down_timer(struct failover *f)
{
	f->down_timer.repeat = peer_master_down(f);
	ev_timer_again(f->loop, &f->down_timer);
}

static void down_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct failover *f = container_of(w, struct failover, down_timer);
	char why[160], who[160];
	bool probe = !f->seen_peer;

	ev_timer_stop(loop, w);
	if (f->state != PEER_BACKUP || f->stopping)
		return;
	/* our own loop may be the late one: an advert that arrived in time may
	 * still wait in the socket */
	peer_io_drain(f);
	if (f->state != PEER_BACKUP || ev_is_active(w))
		return;
	if (f->standby) {
		restart_down_timer(f);
		return;
	}
	if (f->master)
		snprintf(why, sizeof(why), "master %s silent for %.0f ms", f->master->last.node,
			 (ev_now(loop) - f->master->last_seen) * 1000);
	else
		snprintf(why, sizeof(why), "no master heard for %.0f ms",
			 peer_master_down(f) * 1000);
	if (peer_claim(f, probe, why, who, sizeof(who)) < 0)
		restart_down_timer(f);
}

static void preempt_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct failover *f = container_of(w, struct failover, preempt_timer);
	char why[160], who[160];
	int mine = peer_effective_priority(f);

	ev_timer_stop(loop, w);
	if (f->state != PEER_BACKUP || f->standby || f->stopping || !f->master ||
	    f->master->last.state != PEER_MASTER || f->master->last.priority >= mine)
		return;
	snprintf(why, sizeof(why), "preempt: priority %d above master %s (%d)", mine,
		 f->master->last.node, f->master->last.priority);
	peer_claim(f, false, why, who, sizeof(who));
}

void peer_timers_init(struct failover *f)
{
	ev_timer_init(&f->down_timer, down_cb, 0., 1.);
	ev_timer_init(&f->preempt_timer, preempt_cb, 0., 0.);
	ev_timer_init(&f->garp_timer, garp_cb, 0., 0.);
	/* timing must not wait behind the data path */
	ev_set_priority(&f->down_timer, EV_MAXPRI);
}

void peer_timers_stop(struct failover *f)
{
	ev_timer_stop(f->loop, &f->down_timer);
	ev_timer_stop(f->loop, &f->preempt_timer);
	ev_timer_stop(f->loop, &f->garp_timer);
}

/* ---- the one writer of f->state ---- */

static void enter_master(struct failover *f)
{
	ev_timer_stop(f->loop, &f->down_timer);
	ev_timer_stop(f->loop, &f->preempt_timer);
	peer_send_advert(f, peer_effective_priority(f));
	peer_add_vips(f);
	peer_garp_burst(f);
}

static void enter_backup(struct failover *f, enum peer_state old)
{
	ev_timer_stop(f->loop, &f->garp_timer);
	if (old == PEER_MASTER)
		peer_del_vips(f);
	restart_down_timer(f);
}

static void enter_fault(struct failover *f)
{
	peer_timers_stop(f);
	peer_del_vips(f);
}

void peer_set_state(struct failover *f, enum peer_state st, const char *why)
{
	enum peer_state old = f->state;
	struct failover_change ch;

	if (st == old)
		return;
	f->state = st;
	f->transitions++;
	f->changed_at = wall_now();
	snprintf(f->reason, sizeof(f->reason), "%s", why);
	if (st == PEER_MASTER)
		log_notice("failover: %s -> master (%s), priority %d, %zu VIP%s on %s",
			   peer_state_str(old), why, peer_effective_priority(f), f->set.nvips,
			   f->set.nvips == 1 ? "" : "s", f->set.ifname);
	else
		log_notice("failover: %s -> %s (%s)", peer_state_str(old), peer_state_str(st), why);
	if (st == PEER_MASTER)
		enter_master(f);
	else if (st == PEER_BACKUP)
		enter_backup(f, old);
	else if (st == PEER_FAULT)
		enter_fault(f);
	peer_hb_refresh(f);
	ch = (struct failover_change){ .node = f->set.node, .new_state = peer_state_str(st),
				       .old_state = peer_state_str(old), .reason = why,
				       .when = f->changed_at };
	if (f->hooks.changed)
		f->hooks.changed(&ch, f->hooks.arg);
}

int peer_claim(struct failover *f, bool probe, const char *why, char *who, size_t wholen)
{
	char err[256];
	int rc = 0;

	if (probe && f->set.nvips) {
		rc = garp_probe(&f->garp, f->set.vips, f->set.nvips, PEER_PROBE_TRIES,
				PEER_PROBE_INTERVAL_MS, who, wholen, err, sizeof(err));
		if (rc < 0)
			log_warning("failover: duplicate-address probe failed: %s", err);
	}
	if (rc == 1) {
		f->probes_refused++;
		/* loudly, but not every master-down interval for hours */
		if ((f->probes_refused & (f->probes_refused - 1)) == 0)
			log_error("failover: NOT taking over (%s): VIP %s - another host holds "
				  "the address; staying %s [%llu refusals]", why, who,
				  peer_state_str(f->state), (unsigned long long)f->probes_refused);
		return -1;
	}
	peer_set_state(f, PEER_MASTER, why);
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

static void on_master_advert_as_backup(struct failover *f, struct peer_sender *s,
				       const struct peer_msg *m)
{
	char why[160], who[160];
	int mine = peer_effective_priority(f);

	if (m->priority == 0) {
		if (f->standby)
			return;
		snprintf(why, sizeof(why), "master %s resigned (priority 0)", m->node);
		peer_claim(f, false, why, who, sizeof(who));
		return;
	}
	restart_down_timer(f);
	if (f->set.preempt && !f->standby && mine > m->priority) {
		if (!ev_is_active(&f->preempt_timer)) {
			ev_timer_set(&f->preempt_timer, f->set.preempt_delay_ms / 1000.0, 0.);
			ev_timer_start(f->loop, &f->preempt_timer);
			if (f->set.preempt_delay_ms)
				log_info("failover: master %s has priority %d below ours (%d): "
					 "preempting in %u ms", m->node, m->priority, mine,
					 f->set.preempt_delay_ms);
		}
	} else {
		ev_timer_stop(f->loop, &f->preempt_timer);
	}
}

static void on_master_advert_as_master(struct failover *f, struct peer_sender *s,
				       const struct peer_msg *m)
{
	char why[160];
	int mine = peer_effective_priority(f);

	if (m->priority != 0 && peer_wins(m->priority, &s->addr, mine, &f->self)) {
		snprintf(why, sizeof(why), "%s is a better master (priority %d, ours %d)",
			 m->node, m->priority, mine);
		peer_set_state(f, PEER_BACKUP, why);
		/* tell the winner at once, so it re-announces the VIPs to the LAN */
		f->yield_pending = true;
		peer_send_advert(f, mine);
		return;
	}
	log_warning("failover: heard master %s (priority %d) while master (ours %d): "
		    "re-asserting with an advert and gratuitous ARPs", m->node, m->priority, mine);
	peer_send_advert(f, mine);
	peer_garp_burst(f);
}

void peer_on_advert(struct failover *f, struct peer_sender *s, const struct peer_msg *m)
{
	char ip[ADDR_STRLEN];

	f->seen_peer = true;
	if (memcmp(m->vip_digest, f->set.digest, PEER_DIGEST_LEN) != 0) {
		if (!s->digest_warned)
			log_warning("failover: peer %s (%s) has a different VIP set: check both "
				    "configurations", m->node, addr_ip_str(&s->addr, ip, sizeof(ip)));
		s->digest_warned = true;
	} else {
		s->digest_warned = false;
	}
	if (m->state != PEER_MASTER) {
		if (f->master == s)
			f->master = NULL;
		if ((m->flags & PEER_F_YIELD) && f->state == PEER_MASTER) {
			log_warning("failover: %s was master too and yielded: re-announcing the "
				    "VIPs with gratuitous ARPs", m->node);
			peer_garp_burst(f);
		}
		return;
	}
	f->master = s;
	if (f->state == PEER_BACKUP)
		on_master_advert_as_backup(f, s, m);
	else if (f->state == PEER_MASTER)
		on_master_advert_as_master(f, s, m);
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
		peer_set_state(f, PEER_FAULT, why);
		return;
	}
	if (!peer_io_learn_self(f)) {
		log_warning("failover: %s but no usable address on it: staying in fault", why);
		return;
	}
	f->master = NULL;
	peer_set_state(f, PEER_BACKUP, why);
}

void peer_on_own_addr(struct failover *f)
{
	bool had = f->have_self;
	char why[96];

	if (f->stopping)
		return;
	peer_io_learn_self(f);
	if (had && !f->have_self && f->state != PEER_FAULT) {
		snprintf(why, sizeof(why), "no usable address on %s", f->set.ifname);
		peer_set_state(f, PEER_FAULT, why);
	} else if (!had && f->have_self && f->state == PEER_FAULT && f->link_up) {
		snprintf(why, sizeof(why), "usable address on %s again", f->set.ifname);
		f->master = NULL;
		peer_set_state(f, PEER_BACKUP, why);
	}
}

void peer_on_addr_del(struct failover *f, const struct peer_vip *v)
{
	char ip[ADDR_STRLEN], err[256];

	if (f->state != PEER_MASTER || f->stopping)
		return;
	for (size_t i = 0; i < f->set.nvips; i++) {
		if (!addr_equal_ip(&f->set.vips[i].ip, &v->ip))
			continue;
		log_warning("failover: VIP %s was removed from %s while master: putting it back",
			    addr_ip_str(&v->ip, ip, sizeof(ip)), f->set.ifname);
		if (addr_nl_add(&f->nl, &f->set.vips[i], err, sizeof(err)) < 0) {
			log_error("failover: %s", err);
			peer_set_state(f, PEER_FAULT, "cannot restore a removed VIP");
			return;
		}
		f->vip_restored++;
		peer_garp_burst(f);
	}
}

void peer_priority_changed(struct failover *f, const char *why)
{
	log_info("failover: effective priority now %d (%s)", peer_effective_priority(f), why);
	if (f->state == PEER_MASTER || f->state == PEER_BACKUP)
		peer_send_advert(f, peer_effective_priority(f));
}
