/* persist.h - a service's persistence table: client (masked by source_mask)
 * -> backend name, with an expiry (services[].persist).
 *
 * Bounded: at most PERSIST_MAX entries per service; a new client beyond that
 * gets no entry (counted in full). Expired entries go when met, and all of
 * them before a full table refuses one. Pure: the caller passes the time.
 */
#ifndef VIGIL_PERSIST_H
#define VIGIL_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

#define PERSIST_MAX 65536
#define PERSIST_BUCKETS 4096

/* A client's address with the host bits beyond the mask cleared. */
struct persist_key {
	uint8_t len;                  /* 4 or 16 */
	uint8_t b[16];
};

struct persist;

/* An empty table of at most max entries. */
struct persist *persist_new(size_t max);
void persist_free(struct persist *p);

/* The key of client under mask (-1: the whole address; v4-mapped v6 as v4). */
void persist_key_make(const struct addr *client, int mask, struct persist_key *k);

/* The backend remembered for k, NULL if none or expired (then removed). */
const char *persist_get(struct persist *p, const struct persist_key *k, double now);
/* Remember k -> be until expires (a later expiry or another backend replaces
 * the entry). Returns true when the peer should hear of it: the entry is new,
 * names another backend, or its expiry moved by more than half of ttl since
 * the last time it was announced. A full table: false, counted. */
bool persist_put(struct persist *p, const struct persist_key *k, const char *be,
		 double expires, double now, double ttl);
/* Call fn for every live entry, with the seconds it has left. */
void persist_foreach(const struct persist *p, double now,
		     void (*fn)(const struct persist_key *k, const char *be, double left,
				void *arg), void *arg);
size_t persist_count(const struct persist *p);
/* New clients refused because the table was full. */
uint64_t persist_full(const struct persist *p);

#endif
