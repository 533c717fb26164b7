/* peer.h - inside failover: the runtime state shared by the state machine
 * (peer.c), its sockets and netlink events (peer_io.c) and the daemon-facing
 * API (failover.c). Not for use outside vip/.
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
#include "vip/watcher.h"

#define PEER_PROBE_TRIES 3
#define PEER_PROBE_INTERVAL_MS 20

/* What the configuration says, copied so that a reload can free its config. */
struct fo_settings {
	char node[PEER_NODE_MAX + 1];
	uint32_t group;
	uint32_t priority;
	char ifname[IF_NAMESIZE];
	struct addr *peers;
	size_t npeers;
	uint16_t port;
	uint32_t advert_ms;
	bool preempt;
	uint32_t preempt_delay_ms;
	uint8_t key[PEER_KEY_MAX];
	size_t keylen;
	uint32_t garp_count, garp_interval_ms, garp_refresh_ms;
	bool track_services;
	uint32_t track_weight;
	struct peer_vip *vips;
	size_t nvips;
	uint8_t digest[PEER_DIGEST_LEN];
};

struct failover {
	struct ev_loop *loop;
	struct fo_settings set;
	char *user;

	struct addr_nl nl;
	struct garp garp;
	struct watcher watcher;
	ev_child watcher_child;
	struct addr self;             /* our own address on the interface */
	bool have_self;

	int sock;                     /* UDP adverts */
	ev_io sock_io;
	struct nl_sock *nlw;          /* link / address events */
	ev_io nl_io;

	enum peer_state state;
	bool link_up;
	bool standby, forced, stopping;
	bool yield_pending;           /* next advert carries PEER_F_YIELD */
	bool seen_peer;               /* an authentic advert arrived since start */
	char **svc_down;              /* services with no backend up */
	size_t nsvc_down;

	ev_timer down_timer, preempt_timer, garp_timer;
	uint32_t garp_left;
	uint64_t boot_id;             /* random, from getrandom() at start */
	_Atomic uint64_t seq;         /* shared with the heartbeat thread */
	struct heartbeat *hb;         /* periodic adverts */
	bool hb_rt;                   /* ... at real-time priority */

	struct peer_table senders;
	struct peer_sender *master;   /* the peer last heard as master, or NULL */

	uint64_t sent, received, rejected[PEER_REJ__COUNT], transitions;
	uint64_t garps_sent, vip_restored, probes_refused;
	uint64_t advert_gaps;         /* adverts of a peer more than 2 intervals apart */
	char reason[160];
	double changed_at;            /* wall clock of the last transition */

	struct failover_hooks hooks;  /* the daemon's: state changes, VIPs released */
};

/* ---- peer.c: the state machine ---- */

/* The only writer of f->state: logs, adds / removes VIPs, starts the GARP
 * burst, (re)arms timers, sends an advert, calls the daemon's change hook
 * (notifications). */
void peer_set_state(struct failover *f, enum peer_state st, const char *why);
/* Become master after the duplicate check when probe is set; stays backup
 * (returns -1, who says why) when another host answers. */
int peer_claim(struct failover *f, bool probe, const char *why, char *who, size_t wholen);
/* Handle one authentic advert of the right group from s. */
void peer_on_advert(struct failover *f, struct peer_sender *s, const struct peer_msg *m);
/* The link went up or down (netlink). */
void peer_on_link(struct failover *f, bool up);
/* An address of the node itself came or went: fault without one. */
void peer_on_own_addr(struct failover *f);
/* One of our VIPs was deleted from the interface. */
void peer_on_addr_del(struct failover *f, const struct peer_vip *v);
/* Priority inputs changed (services, standby): advertise at once if it matters. */
void peer_priority_changed(struct failover *f, const char *why);
/* The priority advertised now. */
int peer_effective_priority(const struct failover *f);
/* 3 x advert + skew, in seconds. */
ev_tstamp peer_master_down(const struct failover *f);
/* Timer set-up (once, in failover_new). */
void peer_timers_init(struct failover *f);
void peer_timers_stop(struct failover *f);
/* garp.count announcements of every VIP, the first one now, then the
 * periodic refresh if configured. */
void peer_garp_burst(struct failover *f);
/* Add / remove every VIP on the interface (errors are logged). */
void peer_add_vips(struct failover *f);
void peer_del_vips(struct failover *f);
/* Tell the released hook that v is no longer ours. */
void peer_vip_released(struct failover *f, const struct peer_vip *v);

/* ---- peer_io.c: sockets and events ---- */

/* Open the advert socket, netlink watch, packet socket. 0, or -1 with err. */
int peer_io_open(struct failover *f, char *err, size_t errlen);
void peer_io_close(struct failover *f);
/* Send one advert with the current state and priority to every peer. */
void peer_send_advert(struct failover *f, int priority);
/* Read and handle every advert waiting on the socket. */
void peer_io_drain(struct failover *f);
/* Hand the current advert (state, priority, flags) to the heartbeat thread. */
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
