/* addr.c - socket address parsing and printing. */
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addr_parse_ip(const char *s, struct addr *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		out->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		out->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

static int parse_uint(const char *s, long max, long *out)
{
	char *end;
	long v;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int addr_parse_cidr(const char *s, struct addr *out, int *prefix)
{
	char tmp[ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	long p;

	*prefix = -1;
	if (!slash)
		return addr_parse_ip(s, out);
	if ((size_t)(slash - s) >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, (size_t)(slash - s));
	tmp[slash - s] = '\0';
	if (addr_parse_ip(tmp, out) < 0)
		return -1;
	if (parse_uint(slash + 1, addr_family(out) == AF_INET ? 32 : 128, &p) < 0)
		return -1;
	*prefix = (int)p;
	return 0;
}

int addr_parse_hostport(const char *s, struct addr *out)
{
	char tmp[ADDR_STRLEN];
	const char *colon, *host = s;
	size_t hlen;
	long port;

	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -1;
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(tmp))
		return -1;
	memcpy(tmp, host, hlen);
	tmp[hlen] = '\0';
	if (addr_parse_ip(tmp, out) < 0)
		return -1;
	if (parse_uint(colon + 1, 65535, &port) < 0 || port < 1)
		return -1;
	addr_set_port(out, (uint16_t)port);
	return 0;
}

int addr_family(const struct addr *a)
{
	return a->ss.ss_family;
}

uint16_t addr_port(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

void addr_set_port(struct addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

const uint8_t *addr_bytes(const struct addr *a, size_t *len)
{
	if (a->ss.ss_family == AF_INET) {
		*len = 4;
		return (const uint8_t *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
	}
	*len = 16;
	return (const uint8_t *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
}

bool addr_equal_ip(const struct addr *a, const struct addr *b)
{
	size_t la, lb;
	const uint8_t *pa, *pb;

	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	pa = addr_bytes(a, &la);
	pb = addr_bytes(b, &lb);
	return la == lb && memcmp(pa, pb, la) == 0;
}

void addr_from_sockaddr(struct addr *out, const struct sockaddr *sa, socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (len > sizeof(out->ss))
		len = sizeof(out->ss);
	memcpy(&out->ss, sa, len);
	out->len = len;
}

char *addr_ip_str(const struct addr *a, char *buf, size_t len)
{
	size_t n;
	const uint8_t *p = addr_bytes(a, &n);

	if (!inet_ntop(a->ss.ss_family, p, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

char *addr_str(const struct addr *a, char *buf, size_t len)
{
	char ip[ADDR_STRLEN];

	addr_ip_str(a, ip, sizeof(ip));
	if (a->ss.ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, addr_port(a));
	else
		snprintf(buf, len, "%s:%u", ip, addr_port(a));
	return buf;
}
