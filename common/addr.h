/* addr.h - socket address parsing and printing (IPv4 and IPv6). */
#ifndef VIGIL_ADDR_H
#define VIGIL_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct addr {
	struct sockaddr_storage ss;   /* AF_INET or AF_INET6, port in network order */
	socklen_t len;
};

/* Longest text addr_str() produces: "[v6addr]:65535". */
#define ADDR_STRLEN 64

/* Parse a bare IP address ("192.0.2.1", "2001:db8::1"); port set to 0. 0 or -1. */
int addr_parse_ip(const char *s, struct addr *out);
/* Parse "IP/PREFIX" or "IP"; *prefix gets the length or -1 when absent. 0 or -1. */
int addr_parse_cidr(const char *s, struct addr *out, int *prefix);
/* Parse "IP:PORT", "[IPv6]:PORT"; port must be 1..65535. 0 or -1. */
int addr_parse_hostport(const char *s, struct addr *out);

int addr_family(const struct addr *a);
uint16_t addr_port(const struct addr *a);              /* host order */
void addr_set_port(struct addr *a, uint16_t port);     /* host order */
bool addr_equal_ip(const struct addr *a, const struct addr *b);
/* Raw address bytes (4 or 16) and their length. */
const uint8_t *addr_bytes(const struct addr *a, size_t *len);
/* Build an addr from a sockaddr returned by accept() and friends. */
void addr_from_sockaddr(struct addr *out, const struct sockaddr *sa, socklen_t len);

/* "192.0.2.1" or "2001:db8::1" into buf (ADDR_STRLEN); returns buf. */
char *addr_ip_str(const struct addr *a, char *buf, size_t len);
/* "192.0.2.1:80" or "[2001:db8::1]:80" into buf; returns buf. */
char *addr_str(const struct addr *a, char *buf, size_t len);

#endif
