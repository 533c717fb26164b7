/* peer_io.c - the advert socket (UDP, unicast or link-local multicast, TTL
 * 255 both ways), netlink events, and the table of senders we hear from.
 */
#include "vip/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static int adv_family(const struct failover *f)
{
	return f->set.npeers ? addr_family(&f->set.peers[0]) : AF_INET;
}

static void mcast_group(struct addr *g, uint16_t port)
{
	addr_parse_ip(PEER_DEFAULT_MCAST, g);
	addr_set_port(g, port);
}

/* The advert of g as of now, without a sequence number. */
static void fill_msg(const struct fo_group *g, int priority, struct peer_msg *m)
{
	const struct failover *f = g->f;

	memset(m, 0, sizeof(*m));
	m->group = (uint8_t)g->set.id;
	m->priority = (uint8_t)(priority < 0 ? 0 : priority > 255 ? 255 : priority);
	m->state = (uint8_t)g->state;
	m->flags = (uint8_t)((g->standby ? PEER_F_STANDBY : 0) | (g->forced ? PEER_F_FORCED : 0));
	m->advert_ms = (uint16_t)(f->set.advert_ms > 65535 ? 65535 : f->set.advert_ms);
	m->boot = f->boot_id;
	memcpy(m->vip_digest, g->set.digest, PEER_DIGEST_LEN);
	snprintf(m->node, sizeof(m->node), "%s", f->set.node);
}

/* The multicast group, or every peer, with the advert port. */
static size_t adv_dests(const struct failover *f, struct addr *out, size_t max)
{
	size_t n = 0;

	if (f->set.npeers == 0) {
		mcast_group(&out[n++], f->set.port);
		return n;
	}
	for (size_t i = 0; i < f->set.npeers && n < max; i++) {
		out[n] = f->set.peers[i];
		addr_set_port(&out[n++], f->set.port);
	}
	return n;
}

static void io_send_advert(struct fo_group *g, int priority)
{
	struct failover *f = g->f;
	struct peer_msg m;
	uint8_t buf[PEER_MSG_LEN];
	struct addr to[HEARTBEAT_MAX_DEST];
	size_t n;

	if (f->sock < 0)
		return;
	fill_msg(g, priority, &m);
	if (g->yield_pending)
		m.flags |= PEER_F_YIELD;
	g->yield_pending = false;
	if (f->hb) {
		f->sent += heartbeat_send(f->hb, &m);
		peer_hb_refresh(f);
		return;
	}
	m.seq = atomic_fetch_add(&f->seq, 1) + 1;
	peer_msg_encode(&m, f->set.key, f->set.keylen, buf);
	n = adv_dests(f, to, HEARTBEAT_MAX_DEST);
	for (size_t i = 0; i < n; i++) {
		if (sendto(f->sock, buf, sizeof(buf), 0, (struct sockaddr *)&to[i].ss, to[i].len) < 0)
			log_debug("failover: advert: %s", strerror(errno));
		else
			f->sent++;
	}
	peer_hb_refresh(f);
}

void peer_hb_refresh(struct failover *f)
{
	struct peer_msg m[PEER_MAX_GROUPS];
	size_t n = 0;

	if (!f->hb)
		return;
	for (size_t i = 0; i < f->ngroups; i++) {
		const struct fo_group *g = f->groups[i];

		if (g->state == PEER_MASTER || g->state == PEER_BACKUP)
			fill_msg(g, peer_effective_priority(g), &m[n++]);
	}
	heartbeat_set(f->hb, m, n);
}

int peer_hb_sync(struct failover *f, char *err, size_t errlen)
{
	struct addr to[HEARTBEAT_MAX_DEST];
	struct heartbeat_conf c = { .sock = f->sock, .dest = to, .key = f->set.key,
				    .keylen = f->set.keylen, .interval_ms = f->set.advert_ms };

	c.ndest = adv_dests(f, to, HEARTBEAT_MAX_DEST);
	if (f->hb) {
		heartbeat_configure(f->hb, &c);
	} else {
		f->hb = heartbeat_start(&c, &f->seq, &f->hb_rt, err, errlen);
		if (!f->hb)
			return -1;
	}
	peer_hb_refresh(f);
	return 0;
}

/* ---- the real side effects of the state machine ---- */

/* The interface v goes on. */
static struct addr_nl *vip_nl(struct failover *f, const struct peer_vip *v)
{
	return v->link && v->link <= f->nlinks ? &f->links[v->link - 1].nl : &f->nl;
}

static struct garp *vip_garp(struct failover *f, const struct peer_vip *v)
{
	return v->link && v->link <= f->nlinks ? &f->links[v->link - 1].garp : &f->garp;
}

static int io_add_vip(struct fo_group *g, const struct peer_vip *v)
{
	char err[256];

	if (addr_nl_add(vip_nl(g->f, v), v, err, sizeof(err)) < 0) {
		log_error("failover: group %u: %s", g->set.id, err);
		return -1;
	}
	return 0;
}

static void io_del_vip(struct fo_group *g, const struct peer_vip *v)
{
	char err[256];

	if (addr_nl_del(vip_nl(g->f, v), v, err, sizeof(err)) < 0)
		log_error("failover: group %u: %s", g->set.id, err);
	if (g->f->hooks.released)
		g->f->hooks.released(&v->ip, g->f->hooks.arg);
}

static void io_garp(struct fo_group *g)
{
	char err[256];

	for (size_t i = 0; i < g->set.nvips; i++) {
		if (garp_announce(vip_garp(g->f, &g->set.vips[i]), &g->set.vips[i].ip, err,
				  sizeof(err)) < 0)
			log_warning("failover: %s", err);
		else
			g->garps_sent++;
	}
}

/* The duplicate-address probe, on each interface for its own addresses. */
static int io_probe(struct fo_group *g, char *who, size_t wholen)
{
	struct failover *f = g->f;
	struct peer_vip *on = xcalloc(g->set.nvips ? g->set.nvips : 1, sizeof(*on));
	char err[256];
	int rc = 0;

	for (unsigned link = 0; link <= f->nlinks && rc != 1; link++) {
		size_t n = 0;

		for (size_t i = 0; i < g->set.nvips; i++)
			if (g->set.vips[i].link == link)
				on[n++] = g->set.vips[i];
		if (n == 0)
			continue;
		rc = garp_probe(vip_garp(f, &on[0]), on, n, PEER_PROBE_TRIES,
				PEER_PROBE_INTERVAL_MS, who, wholen, err, sizeof(err));
		if (rc < 0)
			log_warning("failover: duplicate-address probe failed: %s", err);
	}
	free(on);
	return rc;
}

static void io_changed(struct fo_group *g, enum peer_state old, const char *why)
{
	struct failover *f = g->f;
	struct failover_change ch = {
		.node = f->set.node, .new_state = peer_state_str(g->state),
		.old_state = peer_state_str(old), .reason = why, .when = g->changed_at,
		.group = g->set.id,
	};

	peer_hb_refresh(f);
	if (f->hooks.changed)
		f->hooks.changed(&ch, f->hooks.arg);
}

static void io_gate_opened(struct failover *f, const char *why)
{
	if (f->hooks.gate_opened)
		f->hooks.gate_opened(why, f->hooks.arg);
}

static double io_now(const struct failover *f)
{
	return ev_now(f->loop);
}

const struct peer_ops peer_io_ops = {
	.add_vip = io_add_vip, .del_vip = io_del_vip, .send_advert = io_send_advert,
	.garp = io_garp, .probe = io_probe, .changed = io_changed, .drain = peer_io_drain,
	.now = io_now, .gate_opened = io_gate_opened,
};

uint64_t peer_adverts_sent(const struct failover *f)
{
	return f->sent + (f->hb ? heartbeat_sent(f->hb) : 0);
}

void peer_senders_sync(struct failover *f)
{
	struct peer_table old = f->senders;

	peer_table_sync(&f->senders, f->set.peers, f->set.npeers, f->set.peer_names,
			PEER_BOOT_STALE_ADVERTS * f->set.advert_ms / 1000.0);
	peer_groups_remap(f, &old);
}

/* TTL / hop limit (-1 if absent) and kernel arrival time (0 if absent)
 * from the control messages. */
static int recv_meta(struct msghdr *mh, double *arrival)
{
	int ttl = -1;

	*arrival = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		struct timespec ts;

		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			*arrival = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		}
	}
	return ttl;
}

static void reject(struct failover *f, enum peer_reject r, const struct addr *from,
		   const char *detail)
{
	char ip[ADDR_STRLEN];

	f->rejected[r]++;
	/* the first few of each kind loudly, then quietly */
	if (f->rejected[r] <= 3 || (f->rejected[r] & (f->rejected[r] - 1)) == 0)
		log_warning("failover: advert from %s rejected (%s): %s [%llu so far]",
			    addr_ip_str(from, ip, sizeof(ip)), peer_reject_str(r), detail,
			    (unsigned long long)f->rejected[r]);
}

/* Adverts lost on the way (sequence gap) or sent late (arrival time gap):
 * worth a line when it comes near the master-down interval. */
static void note_gap(struct failover *f, const struct peer_sender *s, const struct peer_msg *m,
		     double arrival)
{
	double gap;
	uint64_t lost;

	if (!s->heard || s->last.boot != m->boot || m->seq <= s->last.seq)
		return;
	if (arrival > 0 && s->last_arrival > 0)
		gap = (arrival - s->last_arrival) * 1000;
	else
		gap = (ev_now(f->loop) - s->last_seen) * 1000;
	lost = m->seq - s->last.seq - 1;
	if (gap < 2.0 * (m->advert_ms ? m->advert_ms : f->set.advert_ms))
		return;
	f->advert_gaps++;
	log_warning("failover: adverts from %s arrived %.0f ms apart (%llu lost on the way%s)",
		    m->node, gap, (unsigned long long)lost, lost ? "" : ": sent late");
}

/* What the groups heard from a recycled entry is another node's. */
static void forget_sender(struct failover *f, const struct peer_sender *s)
{
	int idx = (int)(s - f->senders.s);

	for (size_t i = 0; i < f->ngroups; i++) {
		memset(&f->groups[i]->heard[idx], 0, sizeof(f->groups[i]->heard[idx]));
		if (f->groups[i]->master == idx)
			f->groups[i]->master = -1;
	}
}

static void handle_datagram(struct failover *f, const uint8_t *buf, size_t len,
			    const struct addr *from, int ttl, double arrival)
{
	struct peer_msg m;
	struct peer_sender *s;
	struct peer_self self = { .node = f->set.node, .boot = f->boot_id };
	char err[160];
	enum peer_reject r;
	bool restarted;

	if (ttl != 255) {
		snprintf(err, sizeof(err), "TTL %d, expected 255", ttl);
		reject(f, PEER_REJ_TTL, from, err);
		return;
	}
	r = peer_msg_decode(buf, len, f->set.key, f->set.keylen, &m, err, sizeof(err));
	if (r != PEER_OK) {
		reject(f, r, from, err);
		return;
	}
	/* our own advert looped back to us (a peers list naming this node): the
	 * kernel never delivers a packet from the wire with our address as source */
	if (m.boot == f->boot_id && f->have_self && addr_equal_ip(from, &f->self))
		return;
	if (!peer_group_find(f, m.group) && !peer_names_self(&self, &m)) {
		snprintf(err, sizeof(err), "group %u, not one of ours (%u%s)", m.group,
			 f->groups[0]->set.id, f->ngroups > 1 ? ", ..." : "");
		reject(f, PEER_REJ_GROUP, from, err);
		return;
	}
	r = peer_table_admit(&f->senders, &self, from, &m, ev_now(f->loop), &s, &restarted, err,
			     sizeof(err));
	if (r != PEER_OK) {
		reject(f, r, from, err);
		return;
	}
	if (!s->heard)                        /* a new or recycled entry */
		forget_sender(f, s);
	if (restarted)
		log_notice("failover: peer %s restarted (new boot %016llx): accepted", m.node,
			   (unsigned long long)m.boot);
	f->received++;
	note_gap(f, s, &m, arrival);
	s->last_arrival = arrival;
	s->heard = true;
	s->last = m;
	s->last_seen = ev_now(f->loop);
	peer_on_advert(f, s, &m);
}

void peer_io_drain(struct failover *f)
{
	for (int i = 0; i < 64 && f->sock >= 0; i++) {
		uint8_t buf[PEER_MSG_LEN + 64];
		union {
			char b[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct timespec)) + 64];
			struct cmsghdr align;
		} ctl;
		double arrival;
		int ttl;
		struct sockaddr_storage ss;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct addr from;
		ssize_t n = recvmsg(f->sock, &mh, 0);

		if (n < 0)
			return;
		addr_from_sockaddr(&from, (struct sockaddr *)&ss, mh.msg_namelen);
		addr_set_port(&from, 0);
		ttl = recv_meta(&mh, &arrival);
		handle_datagram(f, buf, (mh.msg_flags & MSG_TRUNC) ? sizeof(buf) + 1 : (size_t)n,
				&from, ttl, arrival);
	}
}

static void sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	peer_io_drain(container_of(w, struct failover, sock_io));
}

static void link_event(struct failover *f, bool up)
{
	if (up && !f->link_up)
		peer_io_learn_self(f);
	peer_on_link(f, up);
}

static void own_addr_event(struct failover *f)
{
	bool had = f->have_self;

	if (f->stopping)
		return;
	peer_io_learn_self(f);
	peer_on_own_addr(f, had);
}

static void nl_event_cb(const struct addr_nl_event *ev, void *arg)
{
	struct failover *f = arg;

	if (ev->ifindex != f->nl.ifindex)
		return;
	if (ev->kind == ADDR_NL_LINK)
		link_event(f, (ev->link_flags & IFF_UP) && (ev->link_flags & IFF_RUNNING));
	else if (ev->tagged && ev->kind == ADDR_NL_ADDR_DEL)
		peer_on_addr_del(f, &ev->vip);
	else if (!ev->tagged)
		own_addr_event(f);
}

static void nl_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct failover *f = container_of(w, struct failover, nl_io);
	char err[128];
	int flags;

	if (addr_nl_watch_read(f->nlw, nl_event_cb, f) < 0) {
		/* events lost: look at the link again */
		flags = addr_nl_link_flags(&f->nl, err, sizeof(err));
		log_warning("failover: netlink events lost, re-reading %s", f->set.ifname);
		link_event(f, flags >= 0 && (flags & IFF_UP) && (flags & IFF_RUNNING));
	}
}

static int sockopt(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v));
}

/* The UDP socket: bound to the port on the interface, TTL 255. */
static int open_sock(struct failover *f, char *err, size_t errlen)
{
	int fam = adv_family(f);
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct addr any;
	int rc = 0;

	if (fd < 0) {
		snprintf(err, errlen, "advert socket: %s", strerror(errno));
		return -1;
	}
	memset(&any, 0, sizeof(any));
	any.ss.ss_family = (sa_family_t)fam;
	any.len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	addr_set_port(&any, f->set.port);
	sockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	sockopt(fd, SOL_SOCKET, SO_PRIORITY, 6);
	sockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, f->set.ifname, strlen(f->set.ifname)) < 0)
		rc = -1;
	if (fam == AF_INET) {
		struct ip_mreqn mr = { .imr_ifindex = f->nl.ifindex };

		rc |= sockopt(fd, IPPROTO_IP, IP_TTL, 255) | sockopt(fd, IPPROTO_IP, IP_RECVTTL, 1) |
		      sockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, 255) |
		      sockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0) |
		      sockopt(fd, IPPROTO_IP, IP_TOS, 0xc0);
		if (f->set.npeers == 0) {
			inet_pton(AF_INET, PEER_DEFAULT_MCAST, &mr.imr_multiaddr);
			rc |= setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr));
			rc |= setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr));
		}
	} else {
		rc |= sockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255) |
		      sockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) |
		      sockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, 0xc0);
	}
	if (rc < 0 || bind(fd, (struct sockaddr *)&any.ss, any.len) < 0) {
		snprintf(err, errlen, "advert socket on %s port %u: %s", f->set.ifname, f->set.port,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

bool peer_io_learn_self(struct failover *f)
{
	f->have_self = addr_nl_primary(&f->nl, adv_family(f), &f->self) == 0;
	return f->have_self;
}

int peer_io_open(struct failover *f, char *err, size_t errlen)
{
	int nlfd;

	if (addr_nl_open(&f->nl, f->set.ifname, err, errlen) < 0)
		return -1;
	if (garp_open(&f->garp, f->set.ifname, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < f->set.nlinks; i++) {
		if (addr_nl_open(&f->links[i].nl, f->set.links[i], err, errlen) < 0)
			return -1;
		f->nlinks = i + 1;
		if (garp_open(&f->links[i].garp, f->set.links[i], err, errlen) < 0)
			return -1;
	}
	f->sock = open_sock(f, err, errlen);
	if (f->sock < 0)
		return -1;
	f->nlw = addr_nl_watch_open(&nlfd, err, errlen);
	if (!f->nlw)
		return -1;
	ev_io_init(&f->sock_io, sock_cb, f->sock, EV_READ);
	ev_set_priority(&f->sock_io, EV_MAXPRI);
	ev_io_start(f->loop, &f->sock_io);
	ev_io_init(&f->nl_io, nl_cb, nlfd, EV_READ);
	ev_set_priority(&f->nl_io, EV_MAXPRI);
	ev_io_start(f->loop, &f->nl_io);
	return 0;
}

void peer_io_close(struct failover *f)
{
	heartbeat_stop(f->hb);          /* before the socket it sends on */
	f->hb = NULL;
	if (f->sock >= 0) {
		ev_io_stop(f->loop, &f->sock_io);
		close(f->sock);
		f->sock = -1;
	}
	if (f->nlw) {
		ev_io_stop(f->loop, &f->nl_io);
		addr_nl_watch_close(f->nlw);
		f->nlw = NULL;
	}
	garp_close(&f->garp);
	addr_nl_close(&f->nl);
	for (size_t i = 0; i < f->nlinks; i++) {
		garp_close(&f->links[i].garp);
		addr_nl_close(&f->links[i].nl);
	}
}
