/* garp.h - tell the LAN where a VIP lives, and ask whether someone else has it.
 *
 * IPv4: gratuitous ARP (request, sender = target = VIP, broadcast) and ARP
 * probes (sender 0.0.0.0). IPv6: unsolicited Neighbour Advertisement to
 * ff02::1 with the override flag, and DAD-style Neighbour Solicitations.
 * All through AF_PACKET on one interface (needs cap_net_raw).
 */
#ifndef VIGIL_GARP_H
#define VIGIL_GARP_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "vip/peer_vip.h"

struct garp {
	int fd;                       /* AF_PACKET, SOCK_DGRAM, send only */
	int ifindex;
	uint8_t mac[6];
	char ifname[IF_NAMESIZE];
};

/* Open the sending socket on ifname and learn its MAC. 0, or -1 with err. */
int garp_open(struct garp *g, const char *ifname, char *err, size_t errlen);
void garp_close(struct garp *g);

/* Send one gratuitous ARP (IPv4) or unsolicited NA (IPv6) for ip. 0 or -1. */
int garp_announce(struct garp *g, const struct addr *ip, char *err, size_t errlen);

/* Probe every VIP tries times, interval_ms apart, and listen for an answer
 * from another MAC. Blocks for at most tries * interval_ms. 1 when a host
 * answered (who says which VIP and which MAC), 0 when none did, -1 on error. */
int garp_probe(struct garp *g, const struct peer_vip *vips, size_t n, int tries,
	       int interval_ms, char *who, size_t wholen, char *err, size_t errlen);

/* Pure frame builders, exposed for unit tests. Return the length written. */
size_t garp_build_arp(uint8_t *out, const uint8_t mac[6], const uint8_t sip[4],
		      const uint8_t tip[4]);
/* ICMPv6 NA (type 136, override) or NS (135) inside an IPv6 header. */
size_t garp_build_nd(uint8_t *out, int type, const uint8_t mac[6], const uint8_t src[16],
		     const uint8_t dst[16], const uint8_t target[16]);

/* Pure readers of what the probe hears, exposed for tests and fuzzing. The
 * VIP of vips that an ARP packet p[0..len) from a MAC other than own_mac
 * claims as its sender address, or NULL. */
const struct peer_vip *garp_arp_conflict(const uint8_t own_mac[6], const uint8_t *p, size_t len,
					 const struct peer_vip *vips, size_t n);
/* The VIP of vips that a Neighbour Advertisement p[0..len) (IPv6 header
 * first) is for, or NULL. */
const struct peer_vip *garp_na_conflict(const uint8_t *p, size_t len, const struct peer_vip *vips,
					size_t n);

#endif
