/* proxy_hdr.c - PROXY protocol v1/v2 header encoder (see proxy_hdr.h). */
#include "common/proxy_hdr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

#define V2_CMD_LOCAL 0x20             /* version 2, LOCAL */
#define V2_CMD_PROXY 0x21             /* version 2, PROXY */
#define V2_FAM_UNSPEC 0x00
#define V2_FAM_TCP4 0x11
#define V2_FAM_TCP6 0x21

/* One end of the connection, reduced to what a header carries. */
struct end {
	int family;                   /* AF_INET or AF_INET6 */
	uint8_t ip[16];               /* 4 or 16 bytes used */
	uint16_t port;                /* host order */
};

static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* a as an end, IPv4-mapped IPv6 unmapped. False when not IPv4/IPv6. */
static bool end_from(const struct addr *a, struct end *e)
{
	const uint8_t *ip;
	size_t n;

	if (!a || (addr_family(a) != AF_INET && addr_family(a) != AF_INET6))
		return false;
	ip = addr_bytes(a, &n);
	e->port = addr_port(a);
	if (n == 16 && memcmp(ip, mapped_prefix, sizeof(mapped_prefix)) == 0) {
		e->family = AF_INET;
		memcpy(e->ip, ip + 12, 4);
	} else {
		e->family = n == 4 ? AF_INET : AF_INET6;
		memcpy(e->ip, ip, n);
	}
	return true;
}

/* Write an IPv4 end as IPv4-mapped IPv6. */
static void end_map6(struct end *e)
{
	uint8_t v4[4];

	if (e->family != AF_INET)
		return;
	memcpy(v4, e->ip, 4);
	memcpy(e->ip, mapped_prefix, 12);
	memcpy(e->ip + 12, v4, 4);
	e->family = AF_INET6;
}

/* Both ends in one family; false when either is unusable. */
static bool ends_from(const struct addr *src, const struct addr *dst,
		      struct end *s, struct end *d)
{
	if (!end_from(src, s) || !end_from(dst, d))
		return false;
	if (s->family != d->family) {
		end_map6(s);
		end_map6(d);
	}
	return true;
}

/* Canonical text of an end's address: inet_ntop(), except an IPv4-mapped
 * address in a TCP6 line, written in hexadecimal groups ("::ffff:c000:201")
 * as the spec asks of IPv6 addresses. */
static void end_ip_str(const struct end *e, char *buf, size_t len)
{
	if (e->family == AF_INET6 && memcmp(e->ip, mapped_prefix, sizeof(mapped_prefix)) == 0)
		snprintf(buf, len, "::ffff:%x:%x", (unsigned)(e->ip[12] << 8 | e->ip[13]),
			 (unsigned)(e->ip[14] << 8 | e->ip[15]));
	else
		inet_ntop(e->family, e->ip, buf, (socklen_t)len);
}

static int encode_v1(const struct end *s, const struct end *d, bool known,
		     uint8_t *out, size_t outlen)
{
	char line[PROXY_HDR_MAX + 1], sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	int n;

	if (!known) {
		n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	} else {
		end_ip_str(s, sa, sizeof(sa));
		end_ip_str(d, da, sizeof(da));
		n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
			     s->family == AF_INET ? "TCP4" : "TCP6", sa, da,
			     (unsigned)s->port, (unsigned)d->port);
	}
	if (n < 0 || (size_t)n > outlen)
		return -1;
	memcpy(out, line, (size_t)n);
	return n;
}

static int encode_v2(const struct end *s, const struct end *d, bool known,
		     uint8_t *out, size_t outlen)
{
	size_t alen = !known ? 0 : s->family == AF_INET ? 12 : 36;
	size_t iplen = s->family == AF_INET ? 4 : 16;
	uint8_t *p = out + 16;

	if (outlen < 16 + alen)
		return -1;
	memcpy(out, v2_sig, sizeof(v2_sig));
	out[12] = known ? V2_CMD_PROXY : V2_CMD_LOCAL;
	out[13] = !known ? V2_FAM_UNSPEC : s->family == AF_INET ? V2_FAM_TCP4 : V2_FAM_TCP6;
	out[14] = (uint8_t)(alen >> 8);
	out[15] = (uint8_t)alen;
	if (!known)
		return 16;
	memcpy(p, s->ip, iplen);
	memcpy(p + iplen, d->ip, iplen);
	p += 2 * iplen;
	p[0] = (uint8_t)(s->port >> 8);
	p[1] = (uint8_t)s->port;
	p[2] = (uint8_t)(d->port >> 8);
	p[3] = (uint8_t)d->port;
	return (int)(16 + alen);
}

int proxy_hdr_encode(enum proxy_hdr_version v, const struct addr *src, const struct addr *dst,
		     uint8_t *out, size_t outlen)
{
	struct end s = { 0 }, d = { 0 };
	bool known = ends_from(src, dst, &s, &d);

	return v == PROXY_HDR_V2 ? encode_v2(&s, &d, known, out, outlen)
				 : encode_v1(&s, &d, known, out, outlen);
}
