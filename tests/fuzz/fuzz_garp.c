/* fuzz_garp.c - libFuzzer target: what the VIP probe reads off the LAN
 * (vip/garp.c): ARP packets and ICMPv6 Neighbour Advertisements.
 *
 * The first byte picks ARP (even) or NA (odd), the rest is the frame as
 * recvfrom() gave it. A reported conflict names one of our VIPs, whose
 * address the frame carries at the right offset, from a MAC that is not ours.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vip/garp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t own_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer_vip vips[3] = { { .prefix = 32 }, { .prefix = 128 }, { .prefix = 24 } };
	const struct peer_vip *hit;
	const uint8_t *b;
	uint8_t *frame;
	size_t len, alen;

	if (size < 1)
		return 0;
	if (addr_parse_ip("192.0.2.10", &vips[0].ip) < 0 ||
	    addr_parse_ip("2001:db8::10", &vips[1].ip) < 0 ||
	    addr_parse_ip("198.51.100.7", &vips[2].ip) < 0)
		abort();
	len = size - 1;
	frame = malloc(len ? len : 1);         /* exact size: over-reads are caught */
	memcpy(frame, data + 1, len);
	if (data[0] & 1) {
		hit = garp_na_conflict(frame, len, vips, 3);
		if (hit) {
			b = addr_bytes(&hit->ip, &alen);
			assert(alen == 16 && len >= 64 && memcmp(frame + 48, b, 16) == 0);
		}
	} else {
		hit = garp_arp_conflict(own_mac, frame, len, vips, 3);
		if (hit) {
			b = addr_bytes(&hit->ip, &alen);
			assert(alen == 4 && len >= 28 && memcmp(frame + 14, b, 4) == 0);
			assert(memcmp(frame + 8, own_mac, 6) != 0);
		}
	}
	assert(!hit || (hit >= vips && hit < vips + 3));
	free(frame);
	return 0;
}
