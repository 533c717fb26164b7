/* test_proxy_hdr.c - PROXY protocol v1/v2 headers, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/addr.h"
#include "common/proxy_hdr.h"

static const uint8_t sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

static struct addr hp(const char *s)
{
	struct addr a;

	assert_int_equal(addr_parse_hostport(s, &a), 0);
	return a;
}

static void expect_v1(const struct addr *src, const struct addr *dst, const char *line)
{
	uint8_t out[PROXY_HDR_MAX];
	int n = proxy_hdr_encode(PROXY_HDR_V1, src, dst, out, sizeof(out));

	assert_int_equal(n, (int)strlen(line));
	assert_memory_equal(out, line, strlen(line));
}

/* The spec's example line (section 2.1). */
static void test_v1_tcp4(void **state)
{
	struct addr s = hp("192.168.0.1:56324"), d = hp("192.168.0.11:443");

	expect_v1(&s, &d, "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
}

static void test_v1_tcp6(void **state)
{
	struct addr s = hp("[2001:db8::1]:65535"), d = hp("[2001:db8:0:1::25]:25");

	expect_v1(&s, &d, "PROXY TCP6 2001:db8::1 2001:db8:0:1::25 65535 25\r\n");
}

/* The longest TCP6 line the spec names: 104 bytes. */
static void test_v1_tcp6_longest(void **state)
{
	struct addr s = hp("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	uint8_t out[PROXY_HDR_MAX];

	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V1, &s, &s, out, sizeof(out)), 104);
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V1, &s, &s, out, 103), -1);
}

static void test_v1_unknown(void **state)
{
	struct addr d = hp("192.0.2.10:25");

	expect_v1(NULL, NULL, "PROXY UNKNOWN\r\n");
	expect_v1(NULL, &d, "PROXY UNKNOWN\r\n");
}

/* IPv4-mapped IPv6 counts as IPv4: both mapped, or one mapped and one plain
 * IPv4, give a TCP4 line; a mapped client on an IPv6 VIP stays TCP6 with the
 * IPv4 end written mapped, in hexadecimal groups. */
static void test_v1_mapped(void **state)
{
	struct addr m = hp("[::ffff:192.0.2.7]:40000"), v4 = hp("192.0.2.10:25");
	struct addr v6 = hp("[2001:db8::10]:25"), plain4 = hp("192.0.2.7:40000");

	expect_v1(&m, &v4, "PROXY TCP4 192.0.2.7 192.0.2.10 40000 25\r\n");
	expect_v1(&m, &m, "PROXY TCP4 192.0.2.7 192.0.2.7 40000 40000\r\n");
	expect_v1(&m, &v6, "PROXY TCP6 ::ffff:c000:207 2001:db8::10 40000 25\r\n");
	expect_v1(&plain4, &v6, "PROXY TCP6 ::ffff:c000:207 2001:db8::10 40000 25\r\n");
}

static void test_v1_too_small(void **state)
{
	struct addr s = hp("192.168.0.1:56324"), d = hp("192.168.0.11:443");
	uint8_t out[PROXY_HDR_MAX];
	size_t len = strlen("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");

	memset(out, 0xAA, sizeof(out));
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V1, &s, &d, out, len - 1), -1);
	assert_int_equal(out[0], 0xAA);
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V1, &s, &d, out, len), (int)len);
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V1, NULL, NULL, out, 14), -1);
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V1, NULL, NULL, out, 15), 15);
}

static void test_v2_tcp4(void **state)
{
	struct addr s = hp("192.168.0.1:56324"), d = hp("192.168.0.11:443");
	uint8_t out[PROXY_HDR_MAX];
	static const uint8_t want[28] = {
		0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
		0x21, 0x11, 0x00, 0x0C,
		192, 168, 0, 1, 192, 168, 0, 11,
		0xDC, 0x04, 0x01, 0xBB,           /* 56324, 443 */
	};

	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, &s, &d, out, sizeof(out)), 28);
	assert_memory_equal(out, want, sizeof(want));
}

static void test_v2_tcp6(void **state)
{
	struct addr s = hp("[2001:db8::1]:65535"), d = hp("[2001:db8:0:1::25]:25");
	uint8_t out[PROXY_HDR_MAX];
	static const uint8_t want[52] = {
		0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
		0x21, 0x21, 0x00, 0x24,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x25,
		0xFF, 0xFF, 0x00, 0x19,
	};

	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, &s, &d, out, sizeof(out)), 52);
	assert_memory_equal(out, want, sizeof(want));
}

static void test_v2_local(void **state)
{
	struct addr d = hp("192.0.2.10:25");
	uint8_t out[PROXY_HDR_MAX];
	static const uint8_t want[16] = {
		0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
		0x20, 0x00, 0x00, 0x00,
	};

	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, NULL, NULL, out, sizeof(out)), 16);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, &d, NULL, out, sizeof(out)), 16);
	assert_memory_equal(out, want, sizeof(want));
}

static void test_v2_mapped(void **state)
{
	struct addr m = hp("[::ffff:192.0.2.7]:40000"), v4 = hp("192.0.2.10:25");
	struct addr v6 = hp("[2001:db8::10]:25");
	uint8_t out[PROXY_HDR_MAX];

	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, &m, &v4, out, sizeof(out)), 28);
	assert_int_equal(out[13], 0x11);
	assert_memory_equal(out + 16, ((const uint8_t[]){ 192, 0, 2, 7, 192, 0, 2, 10 }), 8);
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, &v4, &v6, out, sizeof(out)), 52);
	assert_int_equal(out[13], 0x21);
	assert_memory_equal(out + 16, ((const uint8_t[]){ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
							  0xff, 0xff, 192, 0, 2, 10 }), 16);
}

static void test_v2_too_small(void **state)
{
	struct addr s4 = hp("192.0.2.1:1"), s6 = hp("[2001:db8::1]:1");
	uint8_t out[PROXY_HDR_MAX];

	memset(out, 0xAA, sizeof(out));
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, &s4, &s4, out, 27), -1);
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, &s6, &s6, out, 51), -1);
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, NULL, NULL, out, 15), -1);
	assert_int_equal(out[0], 0xAA);
	assert_int_equal(proxy_hdr_encode(PROXY_HDR_V2, &s6, &s6, out, 52), 52);
	assert_memory_equal(out, sig, sizeof(sig));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_tcp6_longest),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_mapped),
		cmocka_unit_test(test_v1_too_small),
		cmocka_unit_test(test_v2_tcp4),
		cmocka_unit_test(test_v2_tcp6),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_mapped),
		cmocka_unit_test(test_v2_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
