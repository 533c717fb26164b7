/* heartbeat.h - periodic adverts from a thread of their own.
 *
 * The advert is the one thing whose timing must not depend on the data path:
 * a proxy moving gigabits in the same libev loop, or a saturated box, would
 * delay a loop timer by tens of milliseconds and make the backup take over
 * for nothing. So a small thread (SCHED_FIFO when allowed) sends the current
 * advert every interval on a monotonic clock. It never touches the loop: the
 * loop hands it a template (state, priority, flags...) whenever one changes,
 * and the sequence counter is shared atomically with the loop's own sends.
 * It is started before the privilege drop (real-time scheduling needs root
 * here); the drop switches its user too, and it limits its own capability
 * bounding set to the three vigil keeps.
 */
#ifndef VIGIL_HEARTBEAT_H
#define VIGIL_HEARTBEAT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vip/peer_msg.h"

#define HEARTBEAT_MAX_DEST 16
#define HEARTBEAT_RT_PRIO 10
#define HEARTBEAT_MAX_MSGS 16         /* one advert per failover group */

struct heartbeat;

/* Where and how to send, copied into the heartbeat. */
struct heartbeat_conf {
	int sock;                     /* UDP socket, owned by the caller */
	const struct addr *dest;      /* with ports */
	size_t ndest;
	const uint8_t *key;
	size_t keylen;
	uint32_t interval_ms;
};

/* Start the thread (idle until heartbeat_set() makes it active). seq is the
 * counter shared with every other sender. NULL with err on failure; *rt says
 * whether real-time scheduling was granted. */
struct heartbeat *heartbeat_start(const struct heartbeat_conf *c, _Atomic uint64_t *seq,
				  bool *rt, char *err, size_t errlen);
/* New destinations, key or interval (reload). */
void heartbeat_configure(struct heartbeat *hb, const struct heartbeat_conf *c);
/* The adverts to repeat from now on, each every interval (seq is filled per
 * send); n 0: inactive. At most HEARTBEAT_MAX_MSGS are kept. */
void heartbeat_set(struct heartbeat *hb, const struct peer_msg *tmpls, size_t n);
/* Send m now (its seq is filled here), serialised with the thread so that
 * sequence numbers leave in order. Returns how many destinations took it. */
size_t heartbeat_send(struct heartbeat *hb, const struct peer_msg *m);
/* Adverts the thread has sent. */
uint64_t heartbeat_sent(const struct heartbeat *hb);
/* Stop and join the thread, free. NULL is fine. */
void heartbeat_stop(struct heartbeat *hb);

#endif
