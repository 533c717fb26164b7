/* peer_table.h - who may speak to us: the sender table and the replay state,
 * pure (no I/O, no clock of its own) so that unit tests drive it.
 *
 * Identity. An advert names its sender (node name + random 64-bit boot ID)
 * inside the authenticated bytes. An advert that names this node (our node
 * name or our boot ID) is a reflection of our own traffic: refused as
 * `reflected`, whatever its source address.
 *  - Unicast (failover.peers): one entry per configured address, never
 *    evicted. The source address must be one of them (else `unknown_sender`).
 *    The entry is bound to the first node name accepted from it; another name
 *    from that address is `unknown_sender`, and a name already bound to another
 *    address is `wrong_address`.
 *  - Multicast (no peers configured): entries are learnt by node name, at most
 *    PEER_MAX_SENDERS. An entry remembers the address it was first heard from:
 *    the same boot from another address is `wrong_address`; a new boot may
 *    move (the node restarted on another address). When the table is full, a
 *    new node takes the place of a learnt entry silent for PEER_STALE_S, never
 *    of a configured one or one heard recently; else `table_full`.
 * A MAC-valid advert can only come from a holder of the key or be a replay of
 * one, so strangers without the key never get an entry at all (`bad_mac`).
 *
 * Replay. Per entry (that is, per claimed node): the current boot ID and the
 * highest sequence accepted from it, plus a FIFO of the last PEER_BOOTS_RETIRED
 * boot IDs it had before. An advert is accepted when its boot is the current
 * one with a higher sequence, or a boot never seen from that node (the peer
 * restarted: accepted at once, whatever its sequence; the old boot is retired).
 * A retired boot is never accepted again. "Newer" is decided without any
 * clock: a boot ID is random, so a boot we have not seen is a new one, and
 * one we have seen is old. Residual risk: a boot older than the last
 * PEER_BOOTS_RETIRED of that node, or any boot from before this vigild
 * started, is unknown to us; an attacker holding adverts captured from such a
 * boot can replay them (each sequence once), which also retires the genuine
 * current boot - that node is then refused as `replay` until it restarts.
 */
#ifndef VIGIL_PEER_TABLE_H
#define VIGIL_PEER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "vip/peer_msg.h"

#define PEER_MAX_SENDERS 16
#define PEER_BOOTS_RETIRED 16
#define PEER_STALE_S 60.0

/* Anti-replay memory for one node. */
struct peer_replay {
	bool seen;
	uint64_t boot, seq;                   /* current boot, highest sequence */
	uint64_t retired[PEER_BOOTS_RETIRED]; /* FIFO of older boots */
	size_t nretired, next;
	uint64_t restarts;                    /* boot changes seen */
};

/* One node we hear from. */
struct peer_sender {
	struct addr addr;             /* configured or learnt address, port 0 */
	bool configured;              /* listed in failover.peers: never evicted */
	char node[PEER_NODE_MAX + 1]; /* node name bound to this entry, "" if none yet */
	struct peer_replay replay;
	bool heard;
	struct peer_msg last;         /* last accepted advert */
	double last_seen;             /* loop time we read it */
	double last_arrival;          /* kernel arrival time (wall clock), 0 if unknown */
	bool digest_warned;
};

struct peer_table {
	struct peer_sender s[PEER_MAX_SENDERS];
	size_t n;
	bool multicast;               /* learn senders (no configured peers) */
};

/* Who we are: an advert naming either is a reflection. */
struct peer_self {
	const char *node;
	uint64_t boot;
};

/* Whether the replay state would take (boot, seq), without changing it. */
enum peer_reject peer_replay_peek(const struct peer_replay *r, uint64_t boot, uint64_t seq);
/* Take (boot, seq): PEER_OK and remembered (a new boot retires the current
 * one; *restarted set), else PEER_REJ_REPLAY and r unchanged. */
enum peer_reject peer_replay_check(struct peer_replay *r, uint64_t boot, uint64_t seq,
				   bool *restarted);

/* Reset t to the configured peers (unicast; none: multicast), keeping the
 * state of entries whose address stays, and in multicast mode what was learnt. */
void peer_table_sync(struct peer_table *t, const struct addr *peers, size_t npeers);
/* The entry for an address (configured or learnt), or NULL. */
struct peer_sender *peer_table_find_addr(struct peer_table *t, const struct addr *a);
/* Decide on an authentic advert m from `from` at loop time now: PEER_OK with
 * *out the sender's entry (replay state and binding updated, *restarted when
 * it came with a new boot), or the reason with err filled and nothing changed. */
enum peer_reject peer_table_admit(struct peer_table *t, const struct peer_self *self,
				  const struct addr *from, const struct peer_msg *m, double now,
				  struct peer_sender **out, bool *restarted, char *err,
				  size_t errlen);

#endif
