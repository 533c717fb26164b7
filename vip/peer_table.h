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
 *  - Unicast with configured names (failover.nodes): each entry is bound to
 *    its node's name from the start. A configured name claimed from any other
 *    address (a configured one or not) is `wrong_address`; a name that is not
 *    configured is `unknown_sender`.
 *  - Multicast (no peers configured): entries are learnt by node name, at most
 *    PEER_MAX_SENDERS. Each live boot of a node is tied to the address it was
 *    first heard from: that boot from another address is `wrong_address`; a
 *    new boot may come from a new address (the node restarted elsewhere). When the table is full, a
 *    new node takes the place of a learnt entry silent for PEER_STALE_S, never
 *    of a configured one or one heard within PEER_STALE_S; else `table_full`.
 * A MAC-valid advert can only come from a holder of the key or be a replay of
 * one, so strangers without the key never get an entry at all (`bad_mac`).
 *
 * Replay. Per entry (that is, per claimed node), never per source address:
 * up to PEER_BOOTS_LIVE boots of that node with the highest sequence accepted
 * from each and when (our loop clock), plus a FIFO of the last
 * PEER_BOOTS_RETIRED boot IDs retired for good. An advert is accepted when its
 * boot is live with a higher sequence, or a boot never seen from that node
 * (the peer restarted: accepted at once, whatever its sequence, when a slot is
 * free or a live boot has been silent for boot_stale_s; the silent one is then
 * retired). A retired boot is never accepted again.
 * "Newer" is decided without the sender's clock: a boot ID is random, so a
 * boot we have not seen is a new one, one we have seen is old; a boot is
 * retired once another boot of the node was heard and it has itself been
 * silent for boot_stale_s by our own monotonic loop clock. Why not retire the
 * old boot as soon as a new one shows up: a boot we cannot know (from before
 * this vigild started, or older than the FIFO) replayed by an attacker would
 * then retire the genuine, live boot and lock the peer out (and, the peer
 * unheard, make a backup take over: split brain). With the live slots such a
 * replay is heard as an old message of the peer (each captured sequence at
 * most once, and only while fewer than PEER_BOOTS_LIVE boots of the node are
 * being heard), and the genuine boot is never retired while it is heard.
 * Residual risks: adverts captured from a boot we cannot know can be replayed
 * once each, so old state (e.g. a resignation) may be heard for an advert
 * interval; the genuine peer's next advert corrects it. And an old boot that
 * still holds a slot accepts a sequence above the highest we saw from it: only
 * an advert that old process sent and we never received can be that (an
 * attacker able to withhold adverts from us can cause a split brain anyway by
 * dropping them). Memory per node is fixed: PEER_BOOTS_LIVE +
 * PEER_BOOTS_RETIRED boot IDs.
 */
#ifndef VIGIL_PEER_TABLE_H
#define VIGIL_PEER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "vip/peer_msg.h"

#define PEER_MAX_SENDERS 16
#define PEER_BOOTS_LIVE 2
#define PEER_BOOTS_RETIRED 16
#define PEER_BOOT_STALE_ADVERTS 10    /* a boot silent this many intervals may be retired */
#define PEER_STALE_S 60.0

/* One boot of a node as we heard it. */
struct peer_boot {
	uint64_t id, seq;             /* boot ID, highest sequence accepted */
	double last;                  /* loop time of that advert */
	struct addr from;             /* where this boot speaks from, port 0 */
};

/* Anti-replay memory for one node. */
struct peer_replay {
	struct peer_boot live[PEER_BOOTS_LIVE];
	size_t nlive;
	uint64_t retired[PEER_BOOTS_RETIRED]; /* FIFO of boots never accepted again */
	size_t nretired, next;
	uint64_t boot, seq;                   /* the advert accepted last (0: none yet) */
	uint64_t restarts;                    /* new boots seen after the first */
};

/* One node we hear from. */
struct peer_sender {
	struct addr addr;             /* configured or learnt address, port 0 */
	bool configured;              /* listed in failover.peers: never evicted */
	bool bound;                   /* node name fixed by the configuration (failover.nodes) */
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
	double boot_stale_s;          /* silence after which a live boot may be retired */
};

/* Who we are: an advert naming either is a reflection. */
struct peer_self {
	const char *node;
	uint64_t boot;
};

/* Whether the replay state would take (boot, seq) at loop time now, without
 * changing it; *why says what is wrong when it would not. */
enum peer_reject peer_replay_peek(const struct peer_replay *r, uint64_t boot, uint64_t seq,
				  double now, double stale, const char **why);
/* Take (boot, seq): PEER_OK and remembered (*restarted when a new boot came
 * after another; a live boot silent for stale seconds may be retired to make
 * room), else PEER_REJ_REPLAY and r unchanged. */
enum peer_reject peer_replay_check(struct peer_replay *r, uint64_t boot, uint64_t seq,
				   double now, double stale, bool *restarted);
/* True when boot is one of the node's live boots. */
bool peer_replay_is_live(const struct peer_replay *r, uint64_t boot);

/* Reset t to the configured peers (unicast; none: multicast), keeping the
 * state of entries whose address (and configured name) stays, and in
 * multicast mode what was learnt. names: NULL, or each peer's configured node
 * name (failover.nodes), which binds that name to that address. */
void peer_table_sync(struct peer_table *t, const struct addr *peers, size_t npeers,
		     char *const *names, double boot_stale_s);
/* The entry for an address (configured or learnt), or NULL. */
struct peer_sender *peer_table_find_addr(struct peer_table *t, const struct addr *a);
/* True when m names this node (our node name or our boot ID). */
bool peer_names_self(const struct peer_self *self, const struct peer_msg *m);
/* Decide on an authentic advert m from `from` at loop time now: PEER_OK with
 * *out the sender's entry (replay state and binding updated, *restarted when
 * it came with a new boot), or the reason with err filled and nothing changed. */
enum peer_reject peer_table_admit(struct peer_table *t, const struct peer_self *self,
				  const struct addr *from, const struct peer_msg *m, double now,
				  struct peer_sender **out, bool *restarted, char *err,
				  size_t errlen);

#endif
