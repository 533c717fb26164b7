/* failover_view.h - what failover shows, as plain data: the node, each
 * group, each peer and the counters, taken at one moment. vip/ fills it;
 * ctl/ renders it (status text and JSON, Prometheus metrics), so this header
 * is all that ctl/ knows of failover.
 *
 * The view holds no pointer into struct failover: names, reasons and
 * addresses are copies, the state and reason names are static strings. The
 * lists of unbounded length (VIPs, services) are allocated by failover_view()
 * and released by failover_view_free().
 */
#ifndef VIGIL_FAILOVER_VIEW_H
#define VIGIL_FAILOVER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net/if.h>

#include "common/addr.h"

struct failover;

#define FAILOVER_VIEW_MAX_GROUPS 16   /* groups of one node */
#define FAILOVER_VIEW_MAX_PEERS 16    /* senders a node hears from */
#define FAILOVER_VIEW_NAME_MAX 32     /* a node name, without its NUL */
#define FAILOVER_VIEW_REASON_MAX 160  /* a group's last reason, with its NUL */
#define FAILOVER_VIEW_STATES 4        /* init, backup, master, fault */
#define FAILOVER_VIEW_REJECTS 11      /* the reasons an advert is rejected for */

/* One failover group. */
struct failover_view_group {
	uint32_t id;
	const char *state;            /* "init", "backup", "master" or "fault" */
	bool standby, forced;         /* vigilctl standby / takeover in force */
	int priority;                 /* advertised now */
	uint32_t base_priority;       /* configured */
	bool has_master;              /* master: this node, or a peer heard within master-down */
	char master[FAILOVER_VIEW_NAME_MAX + 1];
	char reason[FAILOVER_VIEW_REASON_MAX]; /* of the last transition or priority change */
	double since;                 /* wall clock of the last transition, seconds */
	double master_down_s;         /* how long a backup waits for the master's adverts */
	uint64_t transitions, garps_sent, duplicate_refusals, vips_restored;
	char **vips;                  /* its services' VIPs, as text */
	size_t nvips;
	char **addresses;             /* its floating failover.addresses, as text */
	size_t naddresses;
	char **services;
	size_t nservices;
};

/* One peer (an entry of the sender table). */
struct failover_view_peer {
	char address[ADDR_STRLEN];
	bool seen;                    /* an advert was accepted from it: last_seen_s is set */
	double last_seen_s;           /* seconds since that advert (loop clock) */
	bool heard;                   /* ... about one of our groups: the fields below are set */
	char node[FAILOVER_VIEW_NAME_MAX + 1];
	const char *state;            /* what its last advert (first group heard) says */
	unsigned priority;
	bool standby;
	bool vip_set_match;           /* its VIP set is ours in every group */
	uint64_t boot;                /* its boot ID */
	uint64_t restarts;            /* new boots seen after the first */
};

/* A counter by reason. */
struct failover_view_count {
	const char *reason;
	uint64_t n;
};

/* The start-up gate (failover.sync): a starting node serves nothing before
 * it has the peer's operator state. */
struct failover_view_gate {
	const char *state;            /* "off", "waiting", "learnt" or "alone" */
	char reason[160];             /* why it opened */
	bool waiting;
	double waited_ms;             /* so far, or until it opened (not for "off") */
};

struct failover_view {
	const char *state;            /* the node's: master of any group, else backup, fault, init */
	int priority;                 /* the first group's advertised priority */
	char node[FAILOVER_VIEW_NAME_MAX + 1];
	uint64_t boot;                /* this node's boot ID */
	int advert_version;           /* of the wire format */
	char interface[IF_NAMESIZE];
	uint32_t advert_interval_ms;
	struct failover_view_group groups[FAILOVER_VIEW_MAX_GROUPS];
	size_t ngroups;
	struct failover_view_peer peers[FAILOVER_VIEW_MAX_PEERS];
	size_t npeers;
	struct failover_view_gate gate;
	char **services_down;         /* services with no backend up */
	size_t nservices_down;
	uint64_t adverts_sent, adverts_received, advert_gaps;
	struct failover_view_count rejected[FAILOVER_VIEW_REJECTS]; /* wire order */
	const char *states[FAILOVER_VIEW_STATES]; /* every state name, in order */
};

/* Fill out with what f shows now. Release with failover_view_free(). */
void failover_view(const struct failover *f, struct failover_view *out);
/* Free the lists failover_view() allocated; out's fields are left dangling. */
void failover_view_free(struct failover_view *v);

#endif
