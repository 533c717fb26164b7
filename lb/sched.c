/* sched.c - scheduler lookup by kind, and the source-hash key of a client. */
#include "lb/sched.h"

#include <string.h>

#include "common/addr.h"
#include "lb/backend.h"

const struct sched_ops *sched_for(enum sched_kind k)
{
	switch (k) {
	case SCHED_ROUNDROBIN:
		return &sched_roundrobin;
	case SCHED_WEIGHTED_ROUNDROBIN:
		return &sched_weighted_roundrobin;
	case SCHED_LEASTCONN:
		return &sched_leastconn;
	case SCHED_WEIGHTED_LEASTCONN:
		return &sched_weighted_leastconn;
	case SCHED_SOURCE_HASH:
		return &sched_source_hash;
	case SCHED_FIXED_WEIGHT:
		return &sched_fixed_weight;
	case SCHED_WEIGHTED_RESPONSE_TIME:
		return &sched_weighted_response_time;
	}
	return NULL;
}

const char *sched_outcome_str(enum sched_outcome o)
{
	switch (o) {
	case SCHED_OK:
		return "ok";
	case SCHED_BACKEND_FAILED:
		return "backend failed";
	case SCHED_LOCAL_FAILED:
		return "local failure";
	}
	return "?";
}

bool sched_eligible(const struct backend *b, const struct sched_skip *skip)
{
	return backend_usable(b) && !sched_skipped(skip, b->pool_idx) &&
	       !(skip && (b->gated_down & skip->port_mask));
}

/* murmur3's 32-bit finalizer: every input bit affects every output bit. */
static uint32_t fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/*
 * FNV-1a over the family and the address bytes masked to mask_bits, then
 * fmix32. An IPv4-mapped IPv6 client hashes as its IPv4 address. mask_bits
 * outside 0..width means the whole address.
 */
uint32_t sched_source_key(const struct addr *client, int mask_bits)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t b[16];
	size_t len, i;
	const uint8_t *raw = addr_bytes(client, &len);
	uint8_t family = len == 4 ? 4 : 6;
	uint32_t h = 2166136261u;
	int width;

	if (len == 16 && memcmp(raw, v4mapped, sizeof(v4mapped)) == 0) {
		raw += 12;
		len = 4;
		family = 4;
	}
	memcpy(b, raw, len);
	width = (int)len * 8;
	if (mask_bits >= 0 && mask_bits < width) {
		for (i = (size_t)mask_bits / 8; i < len; i++)
			b[i] = 0;
		if (mask_bits % 8)
			b[mask_bits / 8] = raw[mask_bits / 8] & (uint8_t)(0xff00u >> (mask_bits % 8));
	}
	h = (h ^ family) * 16777619u;
	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return fmix32(h);
}
