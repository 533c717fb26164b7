/* persist.c - the persistence table: client -> backend with expiry. */
#include "lb/persist.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/util.h"

struct persist_entry {
	LIST_ENTRY(persist_entry) link;
	struct persist_key key;
	char *be;
	double expires;
	double announced;             /* expiry last told to the peer */
};

LIST_HEAD(persist_bucket, persist_entry);

struct persist {
	struct persist_bucket buckets[PERSIST_BUCKETS];
	size_t n, max;
	uint64_t full;
};

struct persist *persist_new(size_t max)
{
	struct persist *p = xcalloc(1, sizeof(*p));

	for (size_t i = 0; i < PERSIST_BUCKETS; i++)
		LIST_INIT(&p->buckets[i]);
	p->max = max;
	return p;
}

static void entry_free(struct persist *p, struct persist_entry *e)
{
	LIST_REMOVE(e, link);
	free(e->be);
	free(e);
	p->n--;
}

void persist_free(struct persist *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < PERSIST_BUCKETS; i++)
		while (!LIST_EMPTY(&p->buckets[i]))
			entry_free(p, LIST_FIRST(&p->buckets[i]));
	free(p);
}

void persist_key_make(const struct addr *client, int mask, struct persist_key *k)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	size_t len;
	const uint8_t *raw = addr_bytes(client, &len);
	int width;

	memset(k, 0, sizeof(*k));
	if (len == 16 && memcmp(raw, v4mapped, sizeof(v4mapped)) == 0) {
		raw += 12;
		len = 4;
	}
	k->len = (uint8_t)len;
	memcpy(k->b, raw, len);
	width = (int)len * 8;
	if (mask >= 0 && mask < width) {
		for (size_t i = (size_t)mask / 8; i < len; i++)
			k->b[i] = 0;
		if (mask % 8)
			k->b[mask / 8] = raw[mask / 8] & (uint8_t)(0xff00u >> (mask % 8));
	}
}

static struct persist_bucket *bucket(struct persist *p, const struct persist_key *k)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < k->len; i++)
		h = (h ^ k->b[i]) * 16777619u;
	return &p->buckets[h % PERSIST_BUCKETS];
}

static struct persist_entry *find(struct persist *p, const struct persist_key *k, double now)
{
	struct persist_entry *e, *next;

	for (e = LIST_FIRST(bucket(p, k)); e; e = next) {
		next = LIST_NEXT(e, link);
		if (e->expires <= now) {
			entry_free(p, e);
			continue;
		}
		if (e->key.len == k->len && !memcmp(e->key.b, k->b, k->len))
			return e;
	}
	return NULL;
}

const char *persist_get(struct persist *p, const struct persist_key *k, double now)
{
	struct persist_entry *e = find(p, k, now);

	return e ? e->be : NULL;
}

static void purge(struct persist *p, double now)
{
	for (size_t i = 0; i < PERSIST_BUCKETS; i++) {
		struct persist_entry *e, *next;

		for (e = LIST_FIRST(&p->buckets[i]); e; e = next) {
			next = LIST_NEXT(e, link);
			if (e->expires <= now)
				entry_free(p, e);
		}
	}
}

bool persist_put(struct persist *p, const struct persist_key *k, const char *be,
		 double expires, double now, double ttl)
{
	struct persist_entry *e = find(p, k, now);

	if (e) {
		if (strcmp(e->be, be) != 0) {
			free(e->be);
			e->be = xstrdup(be);
			e->announced = 0;
		}
		if (expires > e->expires)
			e->expires = expires;
		if (e->expires - e->announced <= ttl / 2)
			return false;
		e->announced = e->expires;
		return true;
	}
	if (p->n >= p->max)
		purge(p, now);
	if (p->n >= p->max) {
		p->full++;
		return false;
	}
	e = xcalloc(1, sizeof(*e));
	e->key = *k;
	e->be = xstrdup(be);
	e->expires = e->announced = expires;
	LIST_INSERT_HEAD(bucket(p, k), e, link);
	p->n++;
	return true;
}

void persist_foreach(const struct persist *p, double now,
		     void (*fn)(const struct persist_key *k, const char *be, double left,
				void *arg), void *arg)
{
	for (size_t i = 0; p && i < PERSIST_BUCKETS; i++) {
		const struct persist_entry *e;

		LIST_FOREACH(e, &p->buckets[i], link)
			if (e->expires > now)
				fn(&e->key, e->be, e->expires - now, arg);
	}
}

size_t persist_count(const struct persist *p)
{
	return p ? p->n : 0;
}

uint64_t persist_full(const struct persist *p)
{
	return p ? p->full : 0;
}
