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
#include "common/util.h"

/* ---- settings: a private copy of what the configuration says ---- */

static void settings_free(struct fo_settings *s)
{
	free(s->peers);
	for (size_t i = 0; s->peer_names && i < s->npeers; i++)
		free(s->peer_names[i]);
	free(s->peer_names);
	for (size_t i = 0; i < s->ngroups; i++)
		peer_group_set_free(&s->groups[i]);
	free(s->groups);
	memset(s, 0, sizeof(*s));
}

static void vip_add(struct fo_group_set *g, const struct addr *ip, int prefix, unsigned link)
{
	for (size_t j = 0; j < g->nvips; j++)
		if (addr_equal_ip(&g->vips[j].ip, ip))
			return;
	g->vips[g->nvips].ip = *ip;
	addr_set_port(&g->vips[g->nvips].ip, 0);
	g->vips[g->nvips].prefix = prefix > 0 ? prefix : addr_family(ip) == AF_INET ? 32 : 128;
	g->vips[g->nvips].link = link;
	g->nvips++;
}

/* The link number of an address's interface (0: failover.interface), a new
 * one if need be; -1 when there are too many. */
static int settings_link(struct fo_settings *s, const char *ifname)
{
	if (!ifname || strcmp(ifname, s->ifname) == 0)
		return 0;
	for (size_t i = 0; i < s->nlinks; i++)
		if (strcmp(s->links[i], ifname) == 0)
			return (int)i + 1;
	if (s->nlinks == PEER_MAX_LINKS || strlen(ifname) >= IF_NAMESIZE)
		return -1;
	strcpy(s->links[s->nlinks++], ifname);
	return (int)s->nlinks;
}

/* One group: its services' distinct VIPs, then its failover.addresses. */
static int settings_group(struct fo_settings *s, struct fo_group_set *g,
			  const struct fo_group_conf *gc, const struct config *cfg,
			  char *err, size_t errlen)
{
	const struct failover_conf *fc = &cfg->failover;

	memset(g, 0, sizeof(*g));
	g->id = gc->id;
	g->priority = gc->priority;
	g->preempt = gc->preempt;
	g->preempt_delay_ms = gc->preempt_delay_ms;
	g->track_services = gc->track_services;
	g->track_weight = gc->track_weight;
	g->services = xcalloc(gc->nservices ? gc->nservices : 1, sizeof(*g->services));
	for (size_t i = 0; i < gc->nservices; i++)
		g->services[g->nservices++] = xstrdup(gc->services[i]);
	g->vips = xcalloc(cfg->nservices + fc->naddresses + 1, sizeof(*g->vips));
	for (size_t i = 0; i < cfg->nservices; i++)
		if (cfg_service_group(fc, cfg->services[i].name) == gc)
			vip_add(g, &cfg->services[i].vip, cfg->services[i].vip_prefix, 0);
	for (size_t i = 0; i < fc->naddresses; i++) {
		size_t before = g->nvips;
		int link;

		if (fc->addresses[i].group != gc->id)
			continue;
		link = settings_link(s, fc->addresses[i].interface);
		if (link < 0) {
			snprintf(err, errlen, "failover.addresses: more than %d interfaces besides "
				 "failover.interface", PEER_MAX_LINKS);
			return -1;
		}
		vip_add(g, &fc->addresses[i].address, fc->addresses[i].prefix, (unsigned)link);
		g->naddrs += g->nvips - before;
	}
	peer_vip_digest(g->vips, g->nvips, g->digest);
	return 0;
}

/* Peers and, with failover.nodes, their names. */
static void settings_peers(struct fo_settings *s, const struct failover_conf *fc)
{
	s->npeers = fc->npeers;
	s->peers = xcalloc(fc->npeers ? fc->npeers : 1, sizeof(*s->peers));
	if (fc->npeers)
		memcpy(s->peers, fc->peers, fc->npeers * sizeof(*s->peers));
	if (!fc->nnodes)
		return;
	s->peer_names = xcalloc(fc->npeers ? fc->npeers : 1, sizeof(*s->peer_names));
	for (size_t i = 0; i < fc->npeers; i++)
		for (size_t j = 0; j < fc->nnodes; j++)
			if (!s->peer_names[i] && addr_equal_ip(&fc->nodes[j].address, &fc->peers[i]))
				s->peer_names[i] = xstrdup(fc->nodes[j].name);
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
	if (fc->ngroups == 0 || fc->ngroups > PEER_MAX_GROUPS) {
		snprintf(err, errlen, "failover: %zu groups (expected 1..%d)", fc->ngroups,
			 PEER_MAX_GROUPS);
		return -1;
	}
	strcpy(s->ifname, fc->interface);
	settings_peers(s, fc);
	s->port = fc->port ? fc->port : 7788;
	s->advert_ms = fc->advert_interval_ms ? fc->advert_interval_ms : 100;
	s->garp_count = fc->garp_count;
	s->garp_interval_ms = fc->garp_interval_ms ? fc->garp_interval_ms : 200;
	s->garp_refresh_ms = fc->garp_refresh_ms;
	s->groups = xcalloc(fc->ngroups, sizeof(*s->groups));
	for (size_t i = 0; i < fc->ngroups; i++)
		if (settings_group(s, &s->groups[s->ngroups++], &fc->groups[i], cfg, err,
				   errlen) < 0)
			return -1;
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
	for (size_t i = 0; i < f->nlinks; i++) {
		size_t k = 0;

		if (addr_nl_flush_tagged(&f->links[i].nl, &k, err, sizeof(err)) < 0)
			log_error("failover: removing stale addresses: %s", err);
		n += k;
	}
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
		peer_set_state_all(f, PEER_FAULT, "link down at start-up");
	else if (!peer_io_learn_self(f))
		peer_set_state_all(f, PEER_FAULT, "no usable address on the interface");
	else
		peer_set_state_all(f, PEER_BACKUP, "start-up");
}

static void groups_create(struct failover *f)
{
	for (size_t i = 0; i < f->set.ngroups; i++)
		f->groups[f->ngroups++] = peer_group_new(f, &f->set.groups[i]);
}

static void log_start(const struct failover *f)
{
	char groups[256] = "";
	size_t nvips = 0;

	for (size_t i = 0; i < f->ngroups; i++) {
		const struct fo_group *g = f->groups[i];

		nvips += g->set.nvips;
		snprintf(groups + strlen(groups), sizeof(groups) - strlen(groups),
			 "%s%u (priority %u, %zu VIP%s)", i ? ", " : "", g->set.id, g->set.priority,
			 g->set.nvips, g->set.nvips == 1 ? "" : "s");
	}
	log_notice("failover: node %s, group%s %s, %s adverts every %u ms on %s port %u (%s "
		   "thread), %zu VIP%s", f->set.node, f->ngroups == 1 ? "" : "s", groups,
		   f->set.npeers ? "unicast" : "multicast " PEER_DEFAULT_MCAST, f->set.advert_ms,
		   f->set.ifname, f->set.port, f->hb_rt ? "real-time" : "normal-priority", nvips,
		   nvips == 1 ? "" : "s");
}

static void link_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct fo_link *l = container_of(w, struct fo_link, child);

	ev_child_stop(loop, w);
	l->watcher.pid = -1;
	if (!l->f->stopping)
		log_error("failover: the watcher of %s exited (status %d): a kill -9 of vigild "
			  "would now leave its addresses behind", l->nl.ifname, w->rstatus);
}

/* A watcher for each extra interface (peer_io_open opened them). */
static int links_watch(struct failover *f, char *err, size_t errlen)
{
	for (size_t i = 0; i < f->nlinks; i++) {
		struct fo_link *l = &f->links[i];

		if (watcher_start(&l->watcher, f->set.links[i], f->user, err, errlen) < 0)
			return -1;
		ev_child_init(&l->child, link_child_cb, l->watcher.pid, 0);
		ev_child_start(f->loop, &l->child);
	}
	return 0;
}

struct failover *failover_new(struct ev_loop *loop, const struct config *cfg,
			      const struct failover_hooks *hooks, char *err, size_t errlen)
{
	struct failover *f = xcalloc(1, sizeof(*f));

	f->loop = loop;
	f->ops = &peer_io_ops;
	f->sock = -1;
	f->garp.fd = -1;
	for (size_t i = 0; i < PEER_MAX_LINKS; i++) {
		f->links[i].f = f;
		f->links[i].garp.fd = -1;
		f->links[i].watcher.fd = -1;
		f->links[i].watcher.pid = -1;
	}
	f->watcher.fd = -1;
	f->watcher.pid = -1;
	if (boot_id(&f->boot_id, err, errlen) < 0)
		goto fail;
	if (settings_load(&f->set, cfg, NULL, err, errlen) < 0)
		goto fail;
	f->user = cfg->global.user ? xstrdup(cfg->global.user) : NULL;
	if (hooks)
		f->hooks = *hooks;
	groups_create(f);
	if (peer_io_open(f, err, errlen) < 0)
		goto fail;
	peer_senders_sync(f);
	remove_stale(f);
	if (watcher_start(&f->watcher, f->set.ifname, f->user, err, errlen) < 0)
		goto fail;
	ev_child_init(&f->watcher_child, watcher_child_cb, f->watcher.pid, 0);
	ev_child_start(loop, &f->watcher_child);
	if (links_watch(f, err, errlen) < 0)
		goto fail;
	/* after the fork of the watcher: no thread may exist when it forks */
	if (peer_hb_sync(f, err, errlen) < 0)
		goto fail;
	log_start(f);
	if (cfg->failover.sync && f->set.npeers)
		peer_gate_start(f, PEER_GATE_MAX_S);
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
	peer_gate_stop(f);
	for (size_t i = 0; i < f->ngroups; i++)
		peer_group_free(f->groups[i]);
	f->ngroups = 0;
	if (f->nl.sk && addr_nl_flush_tagged(&f->nl, &n, err, sizeof(err)) < 0)
		log_error("failover: %s", err);
	for (size_t i = 0; i < f->nlinks; i++) {
		struct fo_link *l = &f->links[i];

		if (l->nl.sk && addr_nl_flush_tagged(&l->nl, &n, err, sizeof(err)) < 0)
			log_error("failover: %s", err);
		if (ev_is_active(&l->child))
			ev_child_stop(f->loop, &l->child);
		watcher_stop(&l->watcher);
	}
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
	f->stopping = true;
	for (size_t i = 0; i < f->ngroups; i++) {
		struct fo_group *g = f->groups[i];

		g->standby = true;
		/* priority 0 first, so the peer takes over at once; twice against a loss */
		f->ops->send_advert(g, 0);
		f->ops->send_advert(g, 0);
	}
	for (size_t i = 0; i < f->ngroups; i++)
		if (f->groups[i]->state == PEER_MASTER)
			peer_set_state(f->groups[i], PEER_BACKUP, "shutting down");
}

/* ---- reload ---- */

static bool vip_in(const struct peer_vip *v, const struct fo_group_set *s)
{
	for (size_t i = 0; i < s->nvips; i++)
		if (addr_equal_ip(&s->vips[i].ip, &v->ip) && s->vips[i].prefix == v->prefix)
			return true;
	return false;
}

/* While master, make the interface follow g's changed VIP set. */
static void apply_vips(struct fo_group *g, const struct fo_group_set *old)
{
	char ip[ADDR_STRLEN];
	bool changed = false;

	for (size_t i = 0; i < old->nvips; i++) {
		if (vip_in(&old->vips[i], &g->set))
			continue;
		changed = true;
		if (g->state == PEER_MASTER)
			g->f->ops->del_vip(g, &old->vips[i]);
		log_notice("failover: group %u: VIP %s removed by reload", g->set.id,
			   addr_ip_str(&old->vips[i].ip, ip, sizeof(ip)));
	}
	for (size_t i = 0; i < g->set.nvips; i++)
		if (!vip_in(&g->set.vips[i], old))
			changed = true;
	if (changed && g->state == PEER_MASTER) {
		peer_add_vips(g);
		g->f->ops->send_advert(g, peer_effective_priority(g));
		peer_garp_burst(g);
	}
}

/* The extra interfaces are opened at start: a reload keeps them; an address
 * on a new interface waits for the next restart. */
static void keep_links(struct fo_settings *n, const struct fo_settings *o)
{
	char ip[ADDR_STRLEN];

	for (size_t k = 0; k < n->ngroups; k++) {
		struct fo_group_set *g = &n->groups[k];
		size_t j = 0;

		for (size_t i = 0; i < g->nvips; i++) {
			struct peer_vip v = g->vips[i];
			size_t m = 0;

			if (v.link) {
				while (m < o->nlinks && strcmp(o->links[m], n->links[v.link - 1]) != 0)
					m++;
				if (m == o->nlinks) {
					log_warning("failover: address %s on %s: a new interface takes "
						    "effect at the next restart", addr_ip_str(&v.ip, ip,
						    sizeof(ip)), n->links[v.link - 1]);
					g->naddrs--;
					continue;
				}
				v.link = (unsigned)m + 1;
			}
			g->vips[j++] = v;
		}
		g->nvips = j;
		peer_vip_digest(g->vips, g->nvips, g->digest);
	}
	memcpy(n->links, o->links, sizeof(n->links));
	n->nlinks = o->nlinks;
}

static void keep_restart_keys(struct fo_settings *n, const struct fo_settings *o)
{
	if (strcmp(n->ifname, o->ifname) != 0)
		log_warning("failover.interface changed: takes effect at the next restart");
	if (n->port != o->port)
		log_warning("failover.port changed: takes effect at the next restart");
	if ((n->npeers == 0) != (o->npeers == 0) ||
	    (n->npeers && addr_family(&n->peers[0]) != addr_family(&o->peers[0]))) {
		log_warning("failover: switching between unicast and multicast (or the peers' "
			    "address family) takes effect at the next restart");
		free(n->peers);
		for (size_t i = 0; n->peer_names && i < n->npeers; i++)
			free(n->peer_names[i]);
		free(n->peer_names);
		n->peer_names = NULL;
		n->npeers = o->npeers;
		n->peers = xcalloc(o->npeers ? o->npeers : 1, sizeof(*n->peers));
		memcpy(n->peers, o->peers, o->npeers * sizeof(*n->peers));
		if (o->peer_names) {
			n->peer_names = xcalloc(o->npeers ? o->npeers : 1, sizeof(*n->peer_names));
			for (size_t i = 0; i < o->npeers; i++)
				n->peer_names[i] = o->peer_names[i] ? xstrdup(o->peer_names[i]) : NULL;
		}
	}
	strcpy(n->ifname, o->ifname);
	n->port = o->port;
	keep_links(n, o);
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

/* A group the reload dropped: its VIPs go (if it held them). */
static void group_drop(struct fo_group *g)
{
	log_notice("failover: group %u removed by reload", g->set.id);
	if (g->state == PEER_MASTER) {
		g->f->ops->send_advert(g, 0);
		peer_del_vips(g);
	}
	peer_group_free(g);
}

/* Groups follow the new settings: same id, same runtime state. */
static void apply_groups(struct failover *f, int prio[])
{
	struct fo_group *keep[PEER_MAX_GROUPS];
	size_t n = 0;

	for (size_t i = 0; i < f->ngroups; i++) {
		bool stays = false;

		for (size_t j = 0; j < f->set.ngroups; j++)
			stays |= f->set.groups[j].id == f->groups[i]->set.id;
		if (!stays) {
			group_drop(f->groups[i]);
			f->groups[i] = NULL;
		}
	}
	for (size_t j = 0; j < f->set.ngroups; j++) {
		struct fo_group *g = NULL;
		struct fo_group_set old;

		for (size_t i = 0; i < f->ngroups; i++)
			if (f->groups[i] && f->groups[i]->set.id == f->set.groups[j].id)
				g = f->groups[i];
		if (!g) {
			g = peer_group_new(f, &f->set.groups[j]);
			keep[n] = g;
			prio[n++] = -1;
			log_notice("failover: group %u added by reload", g->set.id);
			continue;
		}
		old = g->set;
		peer_group_set_copy(&g->set, &f->set.groups[j]);
		apply_vips(g, &old);
		peer_group_set_free(&old);
		keep[n] = g;
		prio[n++] = -2;                 /* filled below by the caller */
	}
	memcpy(f->groups, keep, n * sizeof(keep[0]));
	f->ngroups = n;
}

int failover_apply(struct failover *f, const struct config *cfg, char *err, size_t errlen)
{
	struct fo_settings old = f->set, neu;
	int before[PEER_MAX_GROUPS], prio[PEER_MAX_GROUPS];
	uint32_t ids[PEER_MAX_GROUPS];
	size_t nbefore = f->ngroups;

	if (!cfg->has_failover) {
		log_warning("failover section removed: takes effect at the next restart");
		return 0;
	}
	if (settings_load(&neu, cfg, &old, err, errlen) < 0) {
		settings_free(&neu);
		return -1;
	}
	for (size_t i = 0; i < nbefore; i++) {
		before[i] = peer_effective_priority(f->groups[i]);
		ids[i] = f->groups[i]->set.id;
	}
	keep_restart_keys(&neu, &old);
	f->set = neu;
	apply_groups(f, prio);
	forget_removed_services(f, cfg);
	peer_senders_sync(f);
	for (size_t i = 0; i < f->ngroups; i++) {
		struct fo_group *g = f->groups[i];

		if (prio[i] == -1) {            /* new: the node's state */
			if (f->link_up && f->have_self)
				peer_set_state(g, PEER_BACKUP, "added by reload");
			else
				peer_set_state(g, PEER_FAULT, "added by reload, no usable link");
			continue;
		}
		if (f->set.garp_refresh_ms != old.garp_refresh_ms && g->state == PEER_MASTER)
			ev_feed_event(f->loop, &g->garp_timer, EV_TIMER);
		for (size_t k = 0; k < nbefore; k++)
			if (ids[k] == g->set.id && before[k] != peer_effective_priority(g))
				peer_priority_changed(g, "reload");
	}
	if (peer_hb_sync(f, err, errlen) < 0)
		log_error("failover: %s", err);
	settings_free(&old);
	return 0;
}

/* ---- inputs from the daemon and the operator ---- */

bool failover_waiting(const struct failover *f)
{
	return f->gate == PEER_GATE_WAITING;
}

void failover_learnt(struct failover *f, const char *from)
{
	char why[128];

	snprintf(why, sizeof(why), "operator state learnt from peer %s", from);
	peer_gate_open(f, PEER_GATE_LEARNT, why);
}

void failover_service_avail(struct failover *f, const char *service, bool available)
{
	size_t i;
	int before[PEER_MAX_GROUPS];
	char why[160];

	for (size_t k = 0; k < f->ngroups; k++)
		before[k] = peer_effective_priority(f->groups[k]);
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
	snprintf(why, sizeof(why), "service %s %s", service,
		 available ? "has a backend up again" : "has no backend up");
	for (size_t k = 0; k < f->ngroups; k++)
		if (before[k] != peer_effective_priority(f->groups[k]))
			peer_priority_changed(f->groups[k], why);
}

/* One group: its state. Several: master if master of any, else backup if
 * any is backup, else fault if any is in fault, else init. */
const char *failover_state_str(const struct failover *f)
{
	static const enum peer_state order[] = { PEER_MASTER, PEER_BACKUP, PEER_FAULT };

	for (size_t k = 0; k < ARRAY_SIZE(order); k++)
		for (size_t i = 0; i < f->ngroups; i++)
			if (f->groups[i]->state == order[k])
				return peer_state_str(order[k]);
	return peer_state_str(PEER_INIT);
}

/* The first group's. */
int failover_priority(const struct failover *f)
{
	return f->ngroups ? peer_effective_priority(f->groups[0]) : 0;
}

/* Why h's sender cannot take g's VIPs over, or NULL if it can: its last
 * advert says backup or master, not in standby, priority above 0. */
static const char *peer_unable(const struct fo_heard *h)
{
	const struct peer_msg *m = &h->last;

	if (m->flags & PEER_F_STANDBY)
		return "is in standby itself";
	if (m->priority == 0)
		return "is resigning (priority 0)";
	if (m->state != PEER_BACKUP && m->state != PEER_MASTER)
		return m->state == PEER_FAULT ? "is in fault" : "is still starting";
	return NULL;
}

/* 0 if a peer heard within master-down can take g's VIPs over; else -1
 * with the reason (the last peer heard that cannot) in err. */
static int able_peer(const struct fo_group *g, char *err, size_t errlen)
{
	const struct fo_heard *alive = NULL;
	const char *why = NULL;

	for (size_t i = 0; i < g->f->senders.n && i < PEER_MAX_SENDERS; i++) {
		const struct fo_heard *h = &g->heard[i];

		if (!h->heard || g->f->ops->now(g->f) - h->last_seen >= peer_master_down(g))
			continue;
		why = peer_unable(h);
		if (!why)
			return 0;
		alive = h;
	}
	if (!alive)
		snprintf(err, errlen, "no peer is alive to take the VIPs of group %u over; "
			 "refusing to drop them (stop vigild to force it)", g->set.id);
	else
		snprintf(err, errlen, "peer %s %s: nobody would hold the VIPs of group %u; "
			 "refusing (run 'vigilctl resume' there first)", alive->last.node, why,
			 g->set.id);
	return -1;
}

/* The groups a command names: all for 0, else that one; 0 or -1 with err. */
static int pick_groups(const struct failover *f, uint32_t group, struct fo_group **out,
		       size_t *n, char *err, size_t errlen)
{
	char ids[128] = "";

	*n = 0;
	for (size_t i = 0; i < f->ngroups; i++) {
		if (group == 0 || f->groups[i]->set.id == group)
			out[(*n)++] = f->groups[i];
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%u", i ? ", " : "",
			 f->groups[i]->set.id);
	}
	if (*n)
		return 0;
	snprintf(err, errlen, "no failover group %u on this node (it has group%s %s)", group,
		 f->ngroups == 1 ? "" : "s", ids);
	return -1;
}

static int group_standby_check(struct fo_group *g, char *err, size_t errlen)
{
	if (g->state == PEER_FAULT) {
		snprintf(err, errlen, "group %u in fault (%s): nothing to hand over", g->set.id,
			 g->reason);
		return -1;
	}
	if (able_peer(g, err, errlen) < 0) {
		log_warning("failover: vigilctl standby refused: %s", err);
		return -1;
	}
	return 0;
}

int failover_standby(struct failover *f, uint32_t group, char *err, size_t errlen)
{
	struct fo_group *gs[PEER_MAX_GROUPS];
	size_t n;

	if (pick_groups(f, group, gs, &n, err, errlen) < 0)
		return -1;
	if (f->stopping) {
		snprintf(err, errlen, "shutting down");
		return -1;
	}
	for (size_t i = 0; i < n; i++)      /* all or nothing */
		if (group_standby_check(gs[i], err, errlen) < 0)
			return -1;
	for (size_t i = 0; i < n; i++) {
		struct fo_group *g = gs[i];

		g->standby = true;
		g->forced = false;
		log_notice("failover: group %u: standby requested: advertising priority 0 until "
			   "resume, takeover or restart", g->set.id);
		f->ops->send_advert(g, 0);
		if (g->state == PEER_MASTER)
			peer_set_state(g, PEER_BACKUP, "vigilctl standby");
	}
	return 0;
}

static int group_takeover(struct fo_group *g, char *err, size_t errlen)
{
	const struct fo_heard *m = peer_live_master(g);
	char why[160], who[160];
	bool was_forced = g->forced, was_standby = g->standby;

	if (g->state == PEER_FAULT) {
		snprintf(err, errlen, "group %u in fault", g->set.id);
		return -1;
	}
	g->standby = false;
	g->forced = true;
	/* the operator's decision: the node serves with what it knows */
	peer_gate_open(g->f, PEER_GATE_ALONE, "vigilctl takeover");
	if (g->state == PEER_MASTER) {
		peer_priority_changed(g, "vigilctl takeover while master");
		return 0;
	}
	if (m)
		snprintf(why, sizeof(why), "vigilctl takeover from %s", m->last.node);
	else
		snprintf(why, sizeof(why), "vigilctl takeover");
	/* the peer we hear as master holds the VIPs and lets go on our advert */
	if (peer_claim(g, m == NULL, why, who, sizeof(who)) < 0) {
		g->forced = was_forced;
		g->standby = was_standby;
		snprintf(err, errlen, "VIP %s: another host holds the address; not taking over",
			 who);
		return -1;
	}
	return 0;
}

int failover_takeover(struct failover *f, uint32_t group, char *err, size_t errlen)
{
	struct fo_group *gs[PEER_MAX_GROUPS];
	size_t n;
	int rc = 0;

	if (pick_groups(f, group, gs, &n, err, errlen) < 0)
		return -1;
	if (f->stopping) {
		snprintf(err, errlen, "shutting down");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (group_takeover(gs[i], err, errlen) < 0)
			rc = -1;
	return rc;
}

int failover_resume(struct failover *f, uint32_t group, char *err, size_t errlen)
{
	struct fo_group *gs[PEER_MAX_GROUPS];
	size_t n;

	if (pick_groups(f, group, gs, &n, err, errlen) < 0)
		return -1;
	if (f->stopping) {
		snprintf(err, errlen, "shutting down");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct fo_group *g = gs[i];
		const char *was = g->standby ? "standby" : g->forced ? "takeover" : NULL;

		if (!was) {
			log_info("failover: group %u: vigilctl resume: neither in standby nor after "
				 "takeover; nothing to change", g->set.id);
			continue;
		}
		g->standby = false;
		g->forced = false;
		log_notice("failover: group %u: vigilctl resume: %s ended, normal election again",
			   g->set.id, was);
		/* the advert with our priority lets preempt act on either side; as a
		 * backup without a live master, the master-down timer claims the VIPs */
		peer_priority_changed(g, "vigilctl resume");
	}
	return 0;
}
