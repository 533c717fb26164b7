/* proxy_hdr.h - the PROXY protocol header a balancer sends to a backend
 * before the client's bytes (HAProxy's doc/proxy-protocol.txt, versions 1
 * and 2). Pure encoder: no I/O, no allocation. vigil only sends headers, it
 * never parses one.
 *
 * Families: the header names the family both ends really have. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as IPv4; when the two
 * ends still differ, the IPv4 one is written IPv4-mapped and the header is
 * TCP6, so a header always carries one family.
 */
#ifndef VIGIL_PROXY_HDR_H
#define VIGIL_PROXY_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

enum proxy_hdr_version {
	PROXY_HDR_V1 = 1,             /* text line */
	PROXY_HDR_V2 = 2,             /* binary */
};

/* Longest header proxy_hdr_encode() writes: v1's worst case is 107 bytes
 * ("PROXY UNKNOWN" + two full IPv6 addresses), v2 TCP over IPv6 is 52. */
#define PROXY_HDR_MAX 108

/* Encode the header of a connection relayed from src (the client) to dst
 * (the address it connected to) into out: v1 "PROXY TCP4|TCP6 ...\r\n", v2
 * PROXY command with a TCP over IPv4/IPv6 block. src or dst NULL (or not
 * IPv4/IPv6): a connection made on purpose by the balancer (health probe):
 * v1 "PROXY UNKNOWN\r\n", v2 LOCAL command, no addresses. Returns the length
 * (the header is not NUL-terminated), or -1 when outlen is too small (out
 * is then left untouched). */
int proxy_hdr_encode(enum proxy_hdr_version v, const struct addr *src, const struct addr *dst,
		     uint8_t *out, size_t outlen);

#endif
