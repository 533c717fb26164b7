/* icmp_reply.c - ICMP / ICMPv6 echo encoding and decoding (see icmp_reply.h). */
#include "checks/icmp_reply.h"

#include <stdio.h>
#include <string.h>

#define ICMP4_ECHO_REPLY 0
#define ICMP4_ECHO_REQUEST 8
#define ICMP6_ECHO_REQUEST_T 128
#define ICMP6_ECHO_REPLY_T 129

uint16_t icmp_checksum(const uint8_t *buf, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)buf[i] << 8 | buf[i + 1];
	if (len & 1)
		sum += (uint32_t)buf[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t icmp_echo_build(uint8_t *buf, bool v6, uint16_t id, uint16_t seq)
{
	static const char payload[16] = "vigil health chk";
	uint16_t ck;

	memset(buf, 0, ICMP_ECHO_LEN);
	buf[0] = v6 ? ICMP6_ECHO_REQUEST_T : ICMP4_ECHO_REQUEST;
	buf[4] = (uint8_t)(id >> 8);
	buf[5] = (uint8_t)id;
	buf[6] = (uint8_t)(seq >> 8);
	buf[7] = (uint8_t)seq;
	memcpy(buf + 8, payload, sizeof(payload));
	ck = icmp_checksum(buf, ICMP_ECHO_LEN);  /* ICMPv6: the kernel writes its own */
	buf[2] = (uint8_t)(ck >> 8);
	buf[3] = (uint8_t)ck;
	return ICMP_ECHO_LEN;
}

/* Skip the IPv4 header of a raw socket's datagram. */
static int skip_ipv4(const uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	size_t ihl;

	if (*len < 20 || (*buf)[0] >> 4 != 4) {
		snprintf(err, errlen, "not an IPv4 packet (%zu bytes)", *len);
		return -1;
	}
	ihl = (size_t)((*buf)[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > *len) {
		snprintf(err, errlen, "bad IPv4 header length %zu of %zu bytes", ihl, *len);
		return -1;
	}
	if ((*buf)[9] != 1) {
		snprintf(err, errlen, "not ICMP (protocol %u)", (*buf)[9]);
		return -1;
	}
	*buf += ihl;
	*len -= ihl;
	return 0;
}

int icmp_reply_parse(const uint8_t *buf, size_t len, bool v6, bool ip_header,
		     struct icmp_reply *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (ip_header && !v6 && skip_ipv4(&buf, &len, err, errlen) < 0)
		return -1;
	if (len < 8) {
		snprintf(err, errlen, "ICMP message too short (%zu bytes)", len);
		return -1;
	}
	if (ip_header && !v6 && icmp_checksum(buf, len) != 0) {
		snprintf(err, errlen, "bad ICMP checksum");
		return -1;
	}
	out->type = buf[0];
	out->code = buf[1];
	out->id = (uint16_t)(buf[4] << 8 | buf[5]);
	out->seq = (uint16_t)(buf[6] << 8 | buf[7]);
	out->echo_reply = out->code == 0 &&
			  out->type == (v6 ? ICMP6_ECHO_REPLY_T : ICMP4_ECHO_REPLY);
	return 0;
}
