/* test_vip_frames.c - pure pieces of vip/: GARP / ND frames. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/buf.h"
#include "vip/garp.h"

static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static void test_garp_arp(void **state)
{
	uint8_t f[64];
	const uint8_t ip[4] = { 192, 0, 2, 10 };
	static const uint8_t want[28] = {
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,      /* ethernet, IPv4, request */
		0x02, 0, 0, 0, 0, 0x01, 192, 0, 2, 10,          /* sender = VIP */
		0, 0, 0, 0, 0, 0, 192, 0, 2, 10,                /* target = VIP */
	};

	assert_int_equal(garp_build_arp(f, mac, ip, ip), 28);
	assert_memory_equal(f, want, 28);
}

static void test_unsolicited_na(void **state)
{
	uint8_t f[128];
	const uint8_t vip[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
	const uint8_t all[16] = { 0xff, 0x02, [15] = 1 };
	size_t n = garp_build_nd(f, 136, mac, vip, all, vip);

	assert_int_equal(n, 40 + 32);
	assert_int_equal(f[0], 0x60);
	assert_int_equal(f[5], 32);             /* payload length */
	assert_int_equal(f[6], 58);             /* ICMPv6 */
	assert_int_equal(f[7], 255);            /* hop limit 255, as ND requires */
	assert_int_equal(f[40], 136);
	assert_int_equal(f[44], 0x20);          /* override, not solicited, not router */
	assert_memory_equal(f + 48, vip, 16);
	assert_int_equal(f[64], 2);             /* target link-layer address option */
	assert_memory_equal(f + 66, mac, 6);
	/* checksum computed independently (Python) over the pseudo-header */
	assert_int_equal(f[42], 0xf9);
	assert_int_equal(f[43], 0x0c);
}

static void test_dad_ns(void **state)
{
	uint8_t f[128];
	const uint8_t vip[16] = { 0x20, 0x01, 0x0d, 0xb8, [13] = 0xab, 0xcd, 0x10 };
	const uint8_t zero[16] = { 0 };
	const uint8_t sol[16] = { 0xff, 0x02, [11] = 1, 0xff, 0xab, 0xcd, 0x10 };

	assert_int_equal(garp_build_nd(f, 135, mac, zero, sol, vip), 40 + 24);
	assert_int_equal(f[40], 135);
	assert_memory_equal(f + 8, zero, 16);   /* DAD: from the unspecified address */
	assert_memory_equal(f + 48, vip, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garp_arp),
		cmocka_unit_test(test_unsolicited_na),
		cmocka_unit_test(test_dad_ns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
