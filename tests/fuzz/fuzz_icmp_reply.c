/* fuzz_icmp_reply.c - libFuzzer target: icmp_reply_parse() on any datagram,
 * in each of its modes (IPv4 ping socket, IPv4 raw with the IP header,
 * ICMPv6). The first byte picks the mode; the rest is the datagram. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checks/icmp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct icmp_reply r;
	char err[128];
	bool v6, ip;

	if (size < 1)
		return 0;
	v6 = data[0] & 1;
	ip = data[0] & 2;
	if (icmp_reply_parse(data + 1, size - 1, v6, ip, &r, err, sizeof(err)) == 0) {
		if (r.echo_reply && r.code != 0)
			__builtin_trap();
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		__builtin_trap();
	}
	return 0;
}
