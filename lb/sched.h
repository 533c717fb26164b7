/* sched.h - backend schedulers behind one small ops table.
 *
 * A scheduler serves one pool (the normal or the backup backends of a
 * service). It sees backends only through struct backend: state, weight,
 * active, maxconn, gated ports (sched_eligible()) and pool_idx, so a unit
 * test drives it with plain structs and no sockets. pick() returns a backend
 * for which sched_eligible() holds, or NULL. server_up, server_down, take and
 * release may be NULL (nothing to do).
 */
#ifndef VIGIL_SCHED_H
#define VIGIL_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct backend;

/* What this client may not use: backends already tried (a bitset over
 * pool_idx) and the service port it came in on, for per-port gating. */
struct sched_skip {
	const uint64_t *bits;         /* NULL: skip none */
	size_t nbits;
	uint64_t port_mask;           /* bit of the client's service port index; 0: any port */
};

static inline int sched_skipped(const struct sched_skip *s, unsigned idx)
{
	return s && s->bits && idx < s->nbits && (s->bits[idx / 64] >> (idx % 64)) & 1u;
}

/* How a connection to a backend ended, for release(): as nginx's peer.free()
 * state. A local failure (this node out of fds, ports or memory) says nothing
 * about the backend and must never count against it. */
enum sched_outcome {
	SCHED_OK,                     /* connected (and later closed) */
	SCHED_BACKEND_FAILED,         /* the backend refused, reset or timed out */
	SCHED_LOCAL_FAILED,           /* our socket()/bind()/connect() failed locally */
};

const char *sched_outcome_str(enum sched_outcome o);

/* The one test every scheduler applies: b is usable (up, weight > 0, below
 * maxconn), not in the skip set, and the client's port is not gated down for b. */
bool sched_eligible(const struct backend *b, const struct sched_skip *skip);

struct sched_ops {
	const char *name;
	/* Build the state over pool[0..n-1]; pool[i]->pool_idx == i. */
	void *(*create)(struct backend *const *pool, size_t n);
	void (*destroy)(void *st);
	/* Choose a backend for a new connection. key: the client's hash (source-hash). */
	struct backend *(*pick)(void *st, uint32_t key, const struct sched_skip *skip);
	/* b's state changed to / away from BACKEND_UP, or its weight changed. */
	void (*server_up)(void *st, struct backend *b);
	void (*server_down)(void *st, struct backend *b);
	/* A connection was assigned to / released from b (after b->active
	 * changed); release says how it ended. */
	void (*take)(void *st, struct backend *b);
	void (*release)(void *st, struct backend *b, enum sched_outcome how);
};

extern const struct sched_ops sched_roundrobin;
extern const struct sched_ops sched_weighted_roundrobin;
extern const struct sched_ops sched_leastconn;
extern const struct sched_ops sched_weighted_leastconn;
extern const struct sched_ops sched_source_hash;
extern const struct sched_ops sched_fixed_weight;
extern const struct sched_ops sched_weighted_response_time;

const struct sched_ops *sched_for(enum sched_kind k);

/* Hash of the client address masked to mask_bits (source-hash key). */
uint32_t sched_source_key(const struct addr *client, int mask_bits);

/* weighted-response-time: recompute at most this often, factor bound. */
#define SCHED_WRT_PERIOD_MS 1000u
#define SCHED_WRT_BOUND 8u
/* The weight in use for a backend of weight whose probes average rtt_us
 * against mean_us over the pool: weight x mean / rtt within weight / 8 ..
 * weight x 8; weight itself without a measurement; 0 for weight 0. */
uint32_t sched_wrt_weight(uint32_t weight, uint32_t rtt_us, uint64_t mean_us);

/* Maglev table size (prime). */
#define SCHED_MAGLEV_SIZE 65537u

#endif
