/* failover.c - the daemon-facing side of failover: set-up from the
 * configuration, reload, operator commands, status and metrics.
 */
#include "vip/peer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "common/text.h"
#include "common/util.h"

/* ---- settings: a private copy of what the configuration says ---- */

static void settings_free(struct fo_settings *s)
{
	free(s->peers);
	free(s->vips);
	memset(s, 0, sizeof(*s));
}

/* Every distinct service VIP, with its prefix. */
static void settings_vips(struct fo_settings *s, const struct config *cfg)
{
	s->vips = xcalloc(cfg->nservices ? cfg->nservices : 1, sizeof(*s->vips));
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct service_conf *sc = &cfg->services[i];
		bool dup = false;

		for (size_t j = 0; j < s->nvips; j++)
			dup |= addr_equal_ip(&s->vips[j].ip, &sc->vip);
		if (dup)
			continue;
		s->vips[s->nvips].ip = sc->vip;
		addr_set_port(&s->vips[s->nvips].ip, 0);
		s->vips[s->nvips].prefix = sc->vip_prefix > 0 ? sc->vip_prefix :
					   addr_family(&sc->vip) == AF_INET ? 32 : 128;
		s->nvips++;
	}
	peer_vip_digest(s->vips, s->nvips, s->digest);
}

/* Fill s from cfg. On a reload (old set) an unreadable key file - e.g. root
 * only, and we dropped root - keeps the old key with a warning. */
static int settings_load(struct fo_settings *s, const struct config *cfg,
			 const struct fo_settings *old, char *err, size_t errlen)
{
	const struct failover_conf *fc = &cfg->failover;
	int klen;

	memset(s, 0, sizeof(*s));
	klen = peer_key_load(fc->auth_key_file, s->key, sizeof(s->key), err, errlen);
	if (klen < 0 && !old)
		return -1;
	if (klen < 0) {
		log_warning("failover: %s; keeping the key in use", err);
		memcpy(s->key, old->key, sizeof(s->key));
		klen = (int)old->keylen;
	}
	s->keylen = (size_t)klen;
	snprintf(s->node, sizeof(s->node), "%s", fc->node ? fc->node : "vigil");
	if (!fc->interface || strlen(fc->interface) >= sizeof(s->ifname)) {
		snprintf(err, errlen, "failover.interface missing or too long");
		return -1;
	}
	strcpy(s->ifname, fc->interface);
	s->group = fc->group;
	s->priority = fc->priority;
	s->npeers = fc->npeers;
	s->peers = xcalloc(fc->npeers ? fc->npeers : 1, sizeof(*s->peers));
	if (fc->npeers)
		memcpy(s->peers, fc->peers, fc->npeers * sizeof(*s->peers));
	s->port = fc->port ? fc->port : 7788;
	s->advert_ms = fc->advert_interval_ms ? fc->advert_interval_ms : 100;
	s->preempt = fc->preempt;
	s->preempt_delay_ms = fc->preempt_delay_ms;
	s->garp_count = fc->garp_count;
	s->garp_interval_ms = fc->garp_interval_ms ? fc->garp_interval_ms : 200;
	s->garp_refresh_ms = fc->garp_refresh_ms;
	s->track_services = fc->track_services;
	s->track_weight = fc->track_weight;
	settings_vips(s, cfg);
	return 0;
}

/* ---- life cycle ---- */

static void watcher_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct failover *f = container_of(w, struct failover, watcher_child);

	ev_child_stop(loop, w);
	f->watcher.pid = -1;
	if (!f->stopping)
		log_error("failover: the VIP watcher exited (status %d): a kill -9 of vigild "
			  "would now leave the VIPs behind", w->rstatus);
}

/* A random, non-zero boot ID: the identity of this run in every advert. */
static int boot_id(uint64_t *id, char *err, size_t errlen)
{
	ssize_t n;

	do {
		n = getrandom(id, sizeof(*id), 0);
	} while ((n < 0 && errno == EINTR) || (n == (ssize_t)sizeof(*id) && *id == 0));
	if (n != (ssize_t)sizeof(*id)) {
		snprintf(err, errlen, "getrandom: %s", n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	return 0;
}

static void remove_stale(struct failover *f)
{
	char err[256];
	size_t n = 0;

	if (addr_nl_flush_tagged(&f->nl, &n, err, sizeof(err)) < 0)
		log_error("failover: removing stale VIPs: %s", err);
	if (n)
		log_warning("failover: removed %zu stale VIP%s left on %s by a previous run", n,
			    n == 1 ? "" : "s", f->set.ifname);
}

static void first_state(struct failover *f)
{
	char err[128];
	int flags = addr_nl_link_flags(&f->nl, err, sizeof(err));

	f->link_up = flags >= 0 && (flags & IFF_UP) && (flags & IFF_RUNNING);
	if (!f->link_up)
		peer_set_state(f, PEER_FAULT, "link down at start-up");
	else if (!peer_io_learn_self(f))
		peer_set_state(f, PEER_FAULT, "no usable address on the interface");
	else
		peer_set_state(f, PEER_BACKUP, "start-up");
}

struct failover *failover_new(struct ev_loop *loop, const struct config *cfg,
			      const struct failover_hooks *hooks, char *err, size_t errlen)
{
	struct failover *f = xcalloc(1, sizeof(*f));

	f->loop = loop;
	f->sock = -1;
	f->garp.fd = -1;
	f->watcher.fd = -1;
	f->watcher.pid = -1;
	f->state = PEER_INIT;
	if (boot_id(&f->boot_id, err, errlen) < 0)
		goto fail;
	if (settings_load(&f->set, cfg, NULL, err, errlen) < 0)
		goto fail;
	f->user = cfg->global.user ? xstrdup(cfg->global.user) : NULL;
	if (hooks)
		f->hooks = *hooks;
	peer_timers_init(f);
	if (peer_io_open(f, err, errlen) < 0)
		goto fail;
	peer_senders_sync(f);
	remove_stale(f);
	if (watcher_start(&f->watcher, f->set.ifname, f->user, err, errlen) < 0)
		goto fail;
	ev_child_init(&f->watcher_child, watcher_child_cb, f->watcher.pid, 0);
	ev_child_start(loop, &f->watcher_child);
	/* after the fork of the watcher: no thread may exist when it forks */
	if (peer_hb_sync(f, err, errlen) < 0)
		goto fail;
	log_notice("failover: node %s, group %u, priority %u, %s adverts every %u ms on %s "
		   "port %u (%s thread), %zu VIP%s", f->set.node, f->set.group, f->set.priority,
		   f->set.npeers ? "unicast" : "multicast " PEER_DEFAULT_MCAST, f->set.advert_ms,
		   f->set.ifname, f->set.port, f->hb_rt ? "real-time" : "normal-priority",
		   f->set.nvips, f->set.nvips == 1 ? "" : "s");
	first_state(f);
	return f;
fail:
	failover_free(f);
	return NULL;
}

void failover_free(struct failover *f)
{
	char err[256];
	size_t n;

	if (!f)
		return;
	f->stopping = true;
	peer_timers_stop(f);
	if (f->nl.sk && addr_nl_flush_tagged(&f->nl, &n, err, sizeof(err)) < 0)
		log_error("failover: %s", err);
	peer_io_close(f);
	if (ev_is_active(&f->watcher_child))
		ev_child_stop(f->loop, &f->watcher_child);
	watcher_stop(&f->watcher);
	settings_free(&f->set);
	for (size_t i = 0; i < f->nsvc_down; i++)
		free(f->svc_down[i]);
	free(f->svc_down);
	free(f->user);
	free(f);
}

void failover_shutdown(struct failover *f)
{
	if (!f || f->stopping)
		return;
	f->standby = true;
	f->stopping = true;
	/* priority 0 first, so the peer takes over at once; twice against a loss */
	peer_send_advert(f, 0);
	peer_send_advert(f, 0);
	if (f->state == PEER_MASTER)
		peer_set_state(f, PEER_BACKUP, "shutting down");
}

/* ---- reload ---- */

static bool vip_in(const struct peer_vip *v, const struct fo_settings *s)
{
	for (size_t i = 0; i < s->nvips; i++)
		if (addr_equal_ip(&s->vips[i].ip, &v->ip) && s->vips[i].prefix == v->prefix)
			return true;
	return false;
}

/* While master, make the interface follow a changed VIP set. */
static void apply_vips(struct failover *f, const struct fo_settings *old)
{
	char err[256], ip[ADDR_STRLEN];
	bool changed = false;

	for (size_t i = 0; i < old->nvips; i++) {
		if (vip_in(&old->vips[i], &f->set))
			continue;
		changed = true;
		if (f->state == PEER_MASTER && addr_nl_del(&f->nl, &old->vips[i], err,
							   sizeof(err)) < 0)
			log_error("failover: %s", err);
		if (f->state == PEER_MASTER)
			peer_vip_released(f, &old->vips[i]);
		log_notice("failover: VIP %s removed by reload",
			   addr_ip_str(&old->vips[i].ip, ip, sizeof(ip)));
	}
	for (size_t i = 0; i < f->set.nvips; i++)
		if (!vip_in(&f->set.vips[i], old))
			changed = true;
	if (changed && f->state == PEER_MASTER) {
		peer_add_vips(f);
		peer_send_advert(f, peer_effective_priority(f));
		peer_garp_burst(f);
	}
}

static void keep_restart_keys(struct fo_settings *n, const struct fo_settings *o)
{
	if (strcmp(n->ifname, o->ifname) != 0)
		log_warning("failover.interface changed: takes effect at the next restart");
	if (n->group != o->group)
		log_warning("failover.group changed: takes effect at the next restart");
	if (n->port != o->port)
		log_warning("failover.port changed: takes effect at the next restart");
	if ((n->npeers == 0) != (o->npeers == 0) ||
	    (n->npeers && addr_family(&n->peers[0]) != addr_family(&o->peers[0]))) {
		log_warning("failover: switching between unicast and multicast (or the peers' "
			    "address family) takes effect at the next restart");
		free(n->peers);
		n->npeers = o->npeers;
		n->peers = xcalloc(o->npeers ? o->npeers : 1, sizeof(*n->peers));
		memcpy(n->peers, o->peers, o->npeers * sizeof(*n->peers));
	}
	strcpy(n->ifname, o->ifname);
	n->group = o->group;
	n->port = o->port;
}

/* Services gone from the configuration no longer count as down. */
static void forget_removed_services(struct failover *f, const struct config *cfg)
{
	size_t i = 0;

	while (i < f->nsvc_down) {
		bool found = false;

		for (size_t j = 0; j < cfg->nservices; j++)
			found |= strcmp(cfg->services[j].name, f->svc_down[i]) == 0;
		if (found) {
			i++;
			continue;
		}
		free(f->svc_down[i]);
		f->svc_down[i] = f->svc_down[--f->nsvc_down];
	}
}

int failover_apply(struct failover *f, const struct config *cfg, char *err, size_t errlen)
{
	struct fo_settings old = f->set, neu;
	int prio = peer_effective_priority(f);

	if (!cfg->has_failover) {
		log_warning("failover section removed: takes effect at the next restart");
		return 0;
	}
	if (settings_load(&neu, cfg, &old, err, errlen) < 0) {
		settings_free(&neu);
		return -1;
	}
	keep_restart_keys(&neu, &old);
	f->set = neu;
	forget_removed_services(f, cfg);
	peer_senders_sync(f);
	apply_vips(f, &old);
	if (f->set.garp_refresh_ms != old.garp_refresh_ms && f->state == PEER_MASTER)
		ev_feed_event(f->loop, &f->garp_timer, EV_TIMER);
	if (peer_hb_sync(f, err, errlen) < 0)
		log_error("failover: %s", err);
	settings_free(&old);
	if (prio != peer_effective_priority(f))
		peer_priority_changed(f, "reload");
	return 0;
}

/* ---- inputs from the daemon and the operator ---- */

void failover_service_avail(struct failover *f, const char *service, bool available)
{
	size_t i;
	int before = peer_effective_priority(f);
	char why[160];

	for (i = 0; i < f->nsvc_down; i++)
		if (strcmp(f->svc_down[i], service) == 0)
			break;
	if (available && i < f->nsvc_down) {
		free(f->svc_down[i]);
		f->svc_down[i] = f->svc_down[--f->nsvc_down];
	} else if (!available && i == f->nsvc_down) {
		f->svc_down = xrealloc(f->svc_down, (f->nsvc_down + 1) * sizeof(*f->svc_down));
		f->svc_down[f->nsvc_down++] = xstrdup(service);
	}
	if (before != peer_effective_priority(f)) {
		snprintf(why, sizeof(why), "service %s %s", service,
			 available ? "has a backend up again" : "has no backend up");
		peer_priority_changed(f, why);
	}
}

const char *failover_state_str(const struct failover *f)
{
	return peer_state_str(f->state);
}

int failover_priority(const struct failover *f)
{
	return peer_effective_priority(f);
}

/* The peer that is master now (heard within master-down), or NULL. */
static struct peer_sender *live_master(const struct failover *f)
{
	struct peer_sender *m = f->master;

	if (m && m->last.state == PEER_MASTER &&
	    ev_now(f->loop) - m->last_seen < peer_master_down(f))
		return m;
	return NULL;
}

/* Why s cannot take the VIPs over, or NULL if it can: its last advert
 * says backup or master, not in standby, priority above 0. */
static const char *peer_unable(const struct peer_sender *s)
{
	const struct peer_msg *m = &s->last;

	if (m->flags & PEER_F_STANDBY)
		return "is in standby itself";
	if (m->priority == 0)
		return "is resigning (priority 0)";
	if (m->state != PEER_BACKUP && m->state != PEER_MASTER)
		return m->state == PEER_FAULT ? "is in fault" : "is still starting";
	return NULL;
}

/* 0 if a peer heard within master-down can take the VIPs over; else -1
 * with the reason (the last peer heard that cannot) in err. */
static int able_peer(const struct failover *f, char *err, size_t errlen)
{
	const struct peer_sender *alive = NULL;
	const char *why = NULL;

	for (size_t i = 0; i < f->senders.n; i++) {
		const struct peer_sender *s = &f->senders.s[i];

		if (!s->heard || ev_now(f->loop) - s->last_seen >= peer_master_down(f))
			continue;
		why = peer_unable(s);
		if (!why)
			return 0;
		alive = s;
	}
	if (!alive)
		snprintf(err, errlen, "no peer is alive to take the VIPs over; refusing to drop "
			 "them (stop vigild to force it)");
	else
		snprintf(err, errlen, "peer %s %s: nobody would hold the VIPs; refusing (run "
			 "'vigilctl resume' there first)", alive->last.node, why);
	return -1;
}

/* 0 when group is 0 (none given) or ours, else -1 with err. */
static int our_group(const struct failover *f, uint32_t group, char *err, size_t errlen)
{
	if (group == 0 || group == f->set.group)
		return 0;
	snprintf(err, errlen, "no failover group %u on this node (it has group %u)", group,
		 f->set.group);
	return -1;
}

int failover_standby(struct failover *f, uint32_t group, char *err, size_t errlen)
{
	if (our_group(f, group, err, errlen) < 0)
		return -1;
	if (f->stopping) {
		snprintf(err, errlen, "shutting down");
		return -1;
	}
	if (f->state == PEER_FAULT) {
		snprintf(err, errlen, "in fault (%s): nothing to hand over", f->reason);
		return -1;
	}
	if (able_peer(f, err, errlen) < 0) {
		log_warning("failover: vigilctl standby refused: %s", err);
		return -1;
	}
	f->standby = true;
	f->forced = false;
	log_notice("failover: standby requested: advertising priority 0 until takeover or "
		   "restart");
	peer_send_advert(f, 0);
	if (f->state == PEER_MASTER)
		peer_set_state(f, PEER_BACKUP, "vigilctl standby");
	return 0;
}

int failover_takeover(struct failover *f, uint32_t group, char *err, size_t errlen)
{
	struct peer_sender *m = live_master(f);
	char why[160], who[160];
	bool was_forced = f->forced, was_standby = f->standby;

	if (our_group(f, group, err, errlen) < 0)
		return -1;
	if (f->stopping || f->state == PEER_FAULT) {
		snprintf(err, errlen, "%s", f->stopping ? "shutting down" : "in fault");
		return -1;
	}
	f->standby = false;
	f->forced = true;
	if (f->state == PEER_MASTER) {
		peer_priority_changed(f, "vigilctl takeover while master");
		return 0;
	}
	if (m)
		snprintf(why, sizeof(why), "vigilctl takeover from %s", m->last.node);
	else
		snprintf(why, sizeof(why), "vigilctl takeover");
	/* the peer we hear as master holds the VIPs and lets go on our advert */
	if (peer_claim(f, m == NULL, why, who, sizeof(who)) < 0) {
		f->forced = was_forced;
		f->standby = was_standby;
		snprintf(err, errlen, "VIP %s: another host holds the address; not taking over",
			 who);
		return -1;
	}
	return 0;
}

int failover_resume(struct failover *f, uint32_t group, char *err, size_t errlen)
{
	const char *was = f->standby ? "standby" : f->forced ? "takeover" : NULL;

	if (our_group(f, group, err, errlen) < 0)
		return -1;
	if (f->stopping) {
		snprintf(err, errlen, "shutting down");
		return -1;
	}
	if (!was) {
		log_info("failover: vigilctl resume: neither in standby nor after takeover; "
			 "nothing to change");
		return 0;
	}
	f->standby = false;
	f->forced = false;
	log_notice("failover: vigilctl resume: %s ended, normal election again", was);
	/* the advert with our priority lets preempt act on either side; as a
	 * backup without a live master, the master-down timer claims the VIPs */
	peer_priority_changed(f, "vigilctl resume");
	return 0;
}

/* ---- status and metrics: a snapshot, rendered by ctl/ ---- */

static const char *const fo_state_names[PEER_STATE__COUNT] = {
	"init", "backup", "master", "fault",
};

static const char *const fo_reject_names[PEER_REJ__COUNT - 1] = {
	"truncated", "oversized", "bad_mac", "version", "group", "replay",
	"unknown_sender", "ttl", "reflected", "wrong_address", "table_full",
};

_Static_assert(PEER_REJ__COUNT - 1 == ARRAY_SIZE(fo_reject_names), "reject names");
_Static_assert(FAILOVER_NODE_MAX == PEER_NODE_MAX, "node name length");

static void snap_peer(const struct failover *f, const struct peer_sender *s,
		      struct failover_peer_snap *p)
{
	p->addr = s->addr;
	p->heard = s->heard;
	if (!s->heard)
		return;
	text_clean(p->node, sizeof(p->node), s->last.node, sizeof(s->last.node));
	p->state = peer_state_str(s->last.state);
	p->priority = s->last.priority;
	p->standby = (s->last.flags & PEER_F_STANDBY) != 0;
	p->last_seen_ago_s = ev_now(f->loop) - s->last_seen;
	p->vip_set_match = !s->digest_warned;
	p->boot = s->last.boot;
	p->restarts = s->replay.restarts;
}

void failover_snapshot(const struct failover *f, struct failover_snap *out)
{
	double last = -1;

	memset(out, 0, sizeof(*out));
	out->state = peer_state_str(f->state);
	out->state_names = fo_state_names;
	out->nstates = PEER_STATE__COUNT;
	out->priority = peer_effective_priority(f);
	out->node = f->set.node;
	out->boot = f->boot_id;
	out->advert_version = PEER_MSG_VERSION;
	out->ifname = f->set.ifname;
	out->base_priority = f->set.priority;
	out->standby = f->standby;
	out->forced = f->forced;
	out->advert_ms = f->set.advert_ms;
	out->master_down_s = peer_master_down(f);
	out->reason = f->reason;
	out->since = f->changed_at;
	out->transitions = f->transitions;
	out->vips = xcalloc(f->set.nvips + 1, sizeof(*out->vips));
	for (size_t i = 0; i < f->set.nvips; i++)
		out->vips[i] = f->set.vips[i].ip;
	out->nvips = f->set.nvips;
	out->services_down = (const char *const *)f->svc_down;
	out->nservices_down = f->nsvc_down;
	out->peers = xcalloc(f->senders.n + 1, sizeof(*out->peers));
	for (size_t i = 0; i < f->senders.n; i++) {
		snap_peer(f, &f->senders.s[i], &out->peers[i]);
		if (f->senders.s[i].heard && (last < 0 || f->senders.s[i].last_seen > last))
			last = f->senders.s[i].last_seen;
	}
	out->npeers = f->senders.n;
	out->peer_last_seen_ago_s = last < 0 ? -1.0 : ev_now(f->loop) - last;
	out->sent = peer_adverts_sent(f);
	out->received = f->received;
	out->gaps = f->advert_gaps;
	out->garps_sent = f->garps_sent;
	out->duplicate_refusals = f->probes_refused;
	out->vips_restored = f->vip_restored;
	out->reject_names = fo_reject_names;
	out->rejected = &f->rejected[PEER_OK + 1];
	out->nrejects = ARRAY_SIZE(fo_reject_names);
}

void failover_snapshot_free(struct failover_snap *snap)
{
	free(snap->vips);
	free(snap->peers);
	memset(snap, 0, sizeof(*snap));
}
