/* icmp_reply.h - pure ICMP / ICMPv6 echo encoding and decoding: no I/O. */
#ifndef VIGIL_ICMP_REPLY_H
#define VIGIL_ICMP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ICMP_ECHO_LEN 24              /* 8-byte header + 16-byte payload */

struct icmp_reply {
	uint8_t type, code;
	bool echo_reply;              /* type 0 (IPv4) or 129 (IPv6), code 0 */
	uint16_t id, seq;             /* host order; meaningful for echo replies */
};

/* Internet checksum (RFC 1071) of buf[0..len). */
uint16_t icmp_checksum(const uint8_t *buf, size_t len);
/* Write an echo request (type 8 or 128) with id and seq into buf (at least
 * ICMP_ECHO_LEN bytes) with its checksum; returns its length. */
size_t icmp_echo_build(uint8_t *buf, bool v6, uint16_t id, uint16_t seq);
/* Decode one datagram read from an ICMP socket: for a raw IPv4 socket
 * (ip_header) the IPv4 header comes first and the ICMP checksum is verified
 * here (the kernel checks it on ping sockets and for ICMPv6). 0, or -1 with
 * the reason in err (truncated, not IPv4/ICMP, bad checksum). */
int icmp_reply_parse(const uint8_t *buf, size_t len, bool v6, bool ip_header,
		     struct icmp_reply *out, char *err, size_t errlen);

#endif
