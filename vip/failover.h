/* failover.h - the IP failover of one node: the peer protocol, the VIPs on
 * failover.interface; state changes go out through the daemon's hook (to
 * notify/). What the daemon calls.
 *
 * States: init -> backup -> master, fault (interface down, no usable
 * address); "standalone" is the daemon's word for no failover section.
 * Everything runs on the daemon's libev loop; nothing here blocks for longer
 * than an ARP probe (tens of ms, at start-up and on takeover only).
 * What it shows (status, metrics): failover_view.h.
 */
#ifndef VIGIL_FAILOVER_H
#define VIGIL_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "config/config.h"

struct failover;

/* One state change, as the daemon's hook sees it (for notifications). */
struct failover_change {
	const char *node;
	const char *new_state;
	const char *old_state;
	const char *reason;
	double when;                  /* wall clock, seconds */
	uint32_t group;               /* the failover group that changed */
};

/* Called after every state change (the strings live for the call only). */
typedef void failover_change_fn(const struct failover_change *c, void *arg);

/* What failover tells the rest of the daemon; wired by the daemon. */
struct failover_hooks {
	failover_change_fn *changed;  /* NULL: nobody listens */
	/* This node no longer holds VIP ip (backup, fault, standby, stop, or a
	 * reload dropped it); called after the address is gone. The daemon wires
	 * lb/ here, which closes the connections that came in on it. */
	void (*released)(const struct addr *ip, void *arg);
	/* The start-up gate opened (failover.sync): the peer's operator state
	 * arrived, or this node proceeds without it (why says which). The
	 * daemon's lb starts serving here. */
	void (*gate_opened)(const char *why, void *arg);
	void *arg;                    /* for every hook */
};

/* Start failover for cfg->failover (cfg->has_failover must be set): fork the
 * watcher, open sockets (call before the privilege drop), remove stale VIPs
 * of a previous run, enter backup (or fault). The user to run the watcher as
 * is cfg->global.user. NULL with err on failure. cfg need not outlive f. */
struct failover *failover_new(struct ev_loop *loop, const struct config *cfg,
			      const struct failover_hooks *hooks, char *err, size_t errlen);
/* Reload: take priorities, timers, peers and the VIP set from cfg.
 * Keys that need a restart (interface, group, port) keep their old value
 * with a logged warning. 0, or -1 with err (nothing changed). */
int failover_apply(struct failover *f, const struct config *cfg, char *err, size_t errlen);
/* With failover.sync and a peer, a starting node claims no group before it
 * has the peer's operator state (the start-up gate): true while it waits.
 * It stops waiting on failover_learnt(), when no peer is heard within
 * master-down (the peer is dead: the normal takeover time), when a peer
 * resigns, on vigilctl takeover, or after PEER_GATE_MAX_S at the latest. */
bool failover_waiting(const struct failover *f);
/* The peer's operator state arrived (from names the peer): the gate opens. */
void failover_learnt(struct failover *f, const char *from);
/* The checks say service has (not) a backend up; drives track.services. */
void failover_service_avail(struct failover *f, const char *service, bool available);
/* "init", "backup", "master" or "fault". */
const char *failover_state_str(const struct failover *f);
/* The priority this node advertises now (0 in standby, 255 after takeover). */
int failover_priority(const struct failover *f);
/* The operator commands name a group: 0 (none given) or the configured one;
 * any other is refused. */
/* vigilctl standby: advertise priority 0, hand the VIPs to the peer, stay
 * backup until resume, takeover or restart. Refused unless a peer was heard
 * within master-down and is able to take over: backup or master, not in
 * standby itself, priority above 0. 0, or -1 with err. */
int failover_standby(struct failover *f, uint32_t group, char *err, size_t errlen);
/* vigilctl takeover: claim the VIPs now (after the duplicate-address check
 * unless our authenticated peer holds them). 0, or -1 with err. */
int failover_takeover(struct failover *f, uint32_t group, char *err, size_t errlen);
/* vigilctl resume: end standby or takeover; the configured priority and the
 * normal election (preempt, master-down) apply again. 0, or -1 with err. */
int failover_resume(struct failover *f, uint32_t group, char *err, size_t errlen);
/* Graceful stop (SIGTERM): a priority-0 advert, then the VIPs go; no state
 * changes after this. */
void failover_shutdown(struct failover *f);
/* Remove our VIPs, stop everything, free. NULL is fine. */
void failover_free(struct failover *f);

#endif
