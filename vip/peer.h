/* peer.h - inside failover: the runtime state shared by the state machine
 * (peer.c), its side effects, sockets and netlink events (peer_io.c) and the
 * daemon-facing API (failover.c). Not for use outside vip/.
 *
 * Each failover group is elected on its own (struct fo_group: its state, its
 * timers, what it heard from each peer); the node (struct failover) owns the
 * sockets, the sender table and the groups. The state machine reaches the
 * world only through struct peer_ops, so that unit tests drive it with fakes.
 */
#ifndef VIGIL_PEER_H
#define VIGIL_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "config/config.h"
#include "vip/addr_nl.h"
#include "vip/failover.h"
#include "vip/garp.h"
#include "vip/heartbeat.h"
#include "vip/peer_msg.h"
#include "vip/peer_table.h"
#include "vip/peer_vip.h"
#include "vip/watcher.h"

#define PEER_PROBE_TRIES 3
#define PEER_PROBE_INTERVAL_MS 20
#define PEER_MAX_GROUPS HEARTBEAT_MAX_MSGS
#define PEER_MAX_LINKS 4              /* extra interfaces of failover.addresses */
#define PEER_GATE_MAX_S 10.0          /* the longest a starting node waits for the
					 peer's operator state (failover.sync) */

/* The start-up gate (failover.sync): a starting node claims no group until
 * it has the peer's operator state, or knows that no peer can give it. */
enum peer_gate {
	PEER_GATE_OFF,                /* no sync: never closed */
	PEER_GATE_WAITING,            /* closed: no claim, the lb holds its listeners */
	PEER_GATE_LEARNT,             /* opened by the peer's snapshot */
	PEER_GATE_ALONE,              /* opened without it: no peer heard, or timeout */
};

/* What the configuration says about one group (a private copy). */
struct fo_group_set {
	uint32_t id;
	uint32_t priority;
	bool preempt;
	uint32_t preempt_delay_ms;
	bool track_services;
	uint32_t track_weight;
	char **services;
	size_t nservices;
	struct peer_vip *vips;        /* its services' VIPs, then its failover.addresses */
	size_t nvips, naddrs;         /* naddrs: how many of vips are addresses */
	uint8_t digest[PEER_DIGEST_LEN];
};

/* What the configuration says about the node, copied so that a reload can
 * free its config. */
struct fo_settings {
	char node[PEER_NODE_MAX + 1];
	char ifname[IF_NAMESIZE];
	struct addr *peers;
	char **peer_names;            /* failover.nodes: each peer's name; else NULL */
	size_t npeers;
	uint16_t port;
	uint32_t advert_ms;
	uint8_t key[PEER_KEY_MAX];
	size_t keylen;
	uint32_t garp_count, garp_interval_ms, garp_refresh_ms;
	char links[PEER_MAX_LINKS][IF_NAMESIZE]; /* extra interfaces, in peer_vip.link order */
	size_t nlinks;
	struct fo_group_set *groups;
	size_t ngroups;
};

/* What this node last heard from one peer about one group. */
struct fo_heard {
	bool heard;
	struct peer_msg last;
	double last_seen;             /* loop time */
	bool digest_warned;
};

struct failover;

/* An extra interface that floating addresses go on (failover.addresses). */
struct fo_link {
	struct failover *f;
	struct addr_nl nl;
	struct garp garp;
	struct watcher watcher;       /* removes our addresses there after a kill -9 */
	ev_child child;
};

/* One group: elected on its own. */
struct fo_group {
	struct failover *f;
	struct fo_group_set set;
	enum peer_state state;
	bool standby, forced;
	bool yield_pending;           /* next advert carries PEER_F_YIELD */
	bool claim_held, preempt_held; /* a takeover / preempt the gate held back */
	int master;                   /* index in f->senders of the peer heard as master, or -1 */
	struct fo_heard heard[PEER_MAX_SENDERS]; /* by index in f->senders */
	ev_timer down_timer, preempt_timer, garp_timer;
	uint32_t garp_left;
	uint64_t transitions, garps_sent, probes_refused, vip_restored;
	char reason[160];
	double changed_at;            /* wall clock of the last transition */
};

/* The side effects of the state machine: peer_io.c has the real ones. */
struct peer_ops {
	/* Put v on / take v off the interface. 0, or -1 (logged). del also
	 * tells the daemon's released hook. */
	int (*add_vip)(struct fo_group *g, const struct peer_vip *v);
	void (*del_vip)(struct fo_group *g, const struct peer_vip *v);
	/* One advert of g with this priority, now. */
	void (*send_advert)(struct fo_group *g, int priority);
	/* One gratuitous ARP / unsolicited NA for each VIP of g. */
	void (*garp)(struct fo_group *g);
	/* Duplicate-address check of g's VIPs: 1 another host holds one (who
	 * names it), 0 free, -1 the check failed (logged; treated as free). */
	int (*probe)(struct fo_group *g, char *who, size_t wholen);
	/* g changed state (after the side effects): heartbeat, notify hook. */
	void (*changed)(struct fo_group *g, enum peer_state old, const char *why);
	/* Handle every advert waiting on the socket. */
	void (*drain)(struct failover *f);
	/* The loop clock, seconds. */
	double (*now)(const struct failover *f);
	/* The start-up gate opened (f->gate says how): the daemon's lb may serve. */
	void (*gate_opened)(struct failover *f, const char *why);
};

struct failover {
	struct ev_loop *loop;
	const struct peer_ops *ops;
	struct fo_settings set;
	char *user;

	struct addr_nl nl;
	struct garp garp;
	struct watcher watcher;
	ev_child watcher_child;
	struct fo_link links[PEER_MAX_LINKS]; /* f->set.links, opened at start */
	size_t nlinks;
	struct addr self;             /* our own address on the interface */
	bool have_self;

	int sock;                     /* UDP adverts */
	ev_io sock_io;
	struct nl_sock *nlw;          /* link / address events */
	ev_io nl_io;

	struct fo_group *groups[PEER_MAX_GROUPS];
	size_t ngroups;
	bool link_up;
	bool stopping;
	bool seen_peer;               /* an authentic advert arrived since start */
	double peer_heard_at;         /* loop time of the last one */
	enum peer_gate gate;          /* the start-up gate (failover.sync) */
	ev_timer gate_timer;          /* opens it after PEER_GATE_MAX_S at the latest */
	double gate_max_s;
	double gate_since, gate_opened_at; /* loop time */
	char gate_reason[160];        /* why it opened */
	char **svc_down;              /* services with no backend up */
	size_t nsvc_down;

	uint64_t boot_id;             /* random, from getrandom() at start */
	_Atomic uint64_t seq;         /* shared with the heartbeat thread */
	struct heartbeat *hb;         /* periodic adverts */
	bool hb_rt;                   /* ... at real-time priority */

	struct peer_table senders;

	uint64_t sent, received, rejected[PEER_REJ__COUNT];
	uint64_t advert_gaps;         /* adverts of a peer more than 2 intervals apart */

	struct failover_hooks hooks;  /* the daemon's: state changes, VIPs released */
};

/* ---- peer.c: the state machine ---- */

/* A new group of f with settings gs (copied: services, VIPs), in init. */
struct fo_group *peer_group_new(struct failover *f, const struct fo_group_set *gs);
/* Stop its timers, free it (its VIPs are not touched). */
void peer_group_free(struct fo_group *g);
/* The group with this id, or NULL. */
struct fo_group *peer_group_find(const struct failover *f, uint32_t id);
/* Copy / free a group's settings. */
void peer_group_set_copy(struct fo_group_set *dst, const struct fo_group_set *src);
void peer_group_set_free(struct fo_group_set *s);
/* The only writer of g->state: logs, adds / removes VIPs, starts the GARP
 * burst, (re)arms timers, sends an advert, calls ops->changed. */
void peer_set_state(struct fo_group *g, enum peer_state st, const char *why);
/* Every group to st (link, own address, start-up). */
void peer_set_state_all(struct failover *f, enum peer_state st, const char *why);
/* Become master after the duplicate check when probe is set; stays backup
 * (returns -1, who says why) when another host answers. */
int peer_claim(struct fo_group *g, bool probe, const char *why, char *who, size_t wholen);
/* Handle one authentic advert from s (its group found here; none: ignored). */
void peer_on_advert(struct failover *f, struct peer_sender *s, const struct peer_msg *m);
/* The link went up or down (netlink). */
void peer_on_link(struct failover *f, bool up);
/* An address of the node itself came or went: fault without one. */
void peer_on_own_addr(struct failover *f, bool have_self);
/* One of our VIPs was deleted from the interface. */
void peer_on_addr_del(struct failover *f, const struct peer_vip *v);
/* Priority inputs changed (services, standby): advertise at once if it matters. */
void peer_priority_changed(struct fo_group *g, const char *why);
/* The priority g advertises now. */
int peer_effective_priority(const struct fo_group *g);
/* 3 x advert + skew, in seconds. */
ev_tstamp peer_master_down(const struct fo_group *g);
/* The peer g hears as master (heard within master-down), or NULL. */
const struct fo_heard *peer_live_master(const struct fo_group *g);
/* garp.count announcements of every VIP of g, the first one now, then the
 * periodic refresh if configured. */
void peer_garp_burst(struct fo_group *g);
/* Add / remove every VIP of g (errors are logged). */
void peer_add_vips(struct fo_group *g);
void peer_del_vips(struct fo_group *g);
/* The sender table changed (reload): move what each group heard. old is
 * the table before, with its addresses. */
void peer_groups_remap(struct failover *f, const struct peer_table *old);

/* Close the start-up gate for at most max_s seconds (failover.sync with a
 * peer): until peer_gate_open(), no group claims the VIPs - unless no peer
 * was heard within the last master-down, or a peer resigns (nobody else
 * would hold them). Call before the groups enter backup. */
void peer_gate_start(struct failover *f, double max_s);
/* Open the gate (how: LEARNT or ALONE, why for the log) if it is closed:
 * tell ops->gate_opened, then let each group do what the gate held back:
 * claim when its master-down passed with no master, preempt when it would
 * have. */
void peer_gate_open(struct failover *f, enum peer_gate how, const char *why);
/* Stop the gate's timer (teardown). */
void peer_gate_stop(struct failover *f);
/* "off", "waiting", "learnt", "alone". */
const char *peer_gate_str(enum peer_gate g);

/* ---- peer_io.c: sockets, events and the real side effects ---- */

extern const struct peer_ops peer_io_ops;

/* Open the advert socket, netlink watch, packet socket. 0, or -1 with err. */
int peer_io_open(struct failover *f, char *err, size_t errlen);
void peer_io_close(struct failover *f);
/* Read and handle every advert waiting on the socket. */
void peer_io_drain(struct failover *f);
/* Hand the current adverts (each group's state, priority, flags) to the
 * heartbeat thread. */
void peer_hb_refresh(struct failover *f);
/* Start the heartbeat thread, or re-configure it after a reload. 0 or -1. */
int peer_hb_sync(struct failover *f, char *err, size_t errlen);
/* Adverts sent by the loop and the heartbeat together. */
uint64_t peer_adverts_sent(const struct failover *f);
/* Rebuild the sender table after peers changed (reload). */
void peer_senders_sync(struct failover *f);
/* Learn our own address on the interface; false when there is none. */
bool peer_io_learn_self(struct failover *f);

#endif
