/* test_common.c - addresses, text buffers and escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "common/addr.h"
#include "common/buf.h"

static void test_parse_ip(void **state)
{
	struct addr a;
	char s[ADDR_STRLEN];

	assert_int_equal(addr_parse_ip("192.0.2.10", &a), 0);
	assert_int_equal(addr_family(&a), AF_INET);
	assert_int_equal(addr_port(&a), 0);
	assert_int_equal(addr_parse_ip("2001:db8::1", &a), 0);
	assert_int_equal(addr_family(&a), AF_INET6);
	assert_string_equal(addr_ip_str(&a, s, sizeof(s)), "2001:db8::1");
	assert_int_equal(addr_parse_ip("192.0.2.256", &a), -1);
	assert_int_equal(addr_parse_ip("mail.example.com", &a), -1);
	assert_int_equal(addr_parse_ip("", &a), -1);
}

static void test_parse_cidr(void **state)
{
	struct addr a;
	int prefix;

	assert_int_equal(addr_parse_cidr("192.0.2.10/24", &a, &prefix), 0);
	assert_int_equal(prefix, 24);
	assert_int_equal(addr_parse_cidr("192.0.2.10", &a, &prefix), 0);
	assert_int_equal(prefix, -1);
	assert_int_equal(addr_parse_cidr("2001:db8::10/64", &a, &prefix), 0);
	assert_int_equal(prefix, 64);
	assert_int_equal(addr_parse_cidr("192.0.2.10/33", &a, &prefix), -1);
	assert_int_equal(addr_parse_cidr("2001:db8::10/129", &a, &prefix), -1);
	assert_int_equal(addr_parse_cidr("192.0.2.10/", &a, &prefix), -1);
	assert_int_equal(addr_parse_cidr("192.0.2.10/-1", &a, &prefix), -1);
	assert_int_equal(addr_parse_cidr("192.0.2.10/2x", &a, &prefix), -1);
}

static void test_parse_hostport(void **state)
{
	struct addr a;
	char s[ADDR_STRLEN];

	assert_int_equal(addr_parse_hostport("127.0.0.1:8404", &a), 0);
	assert_int_equal(addr_port(&a), 8404);
	assert_string_equal(addr_str(&a, s, sizeof(s)), "127.0.0.1:8404");
	assert_int_equal(addr_parse_hostport("[::1]:25", &a), 0);
	assert_string_equal(addr_str(&a, s, sizeof(s)), "[::1]:25");
	assert_int_equal(addr_parse_hostport("::1:25", &a), -1);
	assert_int_equal(addr_parse_hostport("127.0.0.1:0", &a), -1);
	assert_int_equal(addr_parse_hostport("127.0.0.1:65536", &a), -1);
	assert_int_equal(addr_parse_hostport("127.0.0.1", &a), -1);
	assert_int_equal(addr_parse_hostport("[::1]", &a), -1);
}

static void test_equal_ip(void **state)
{
	struct addr a, b;

	addr_parse_ip("192.0.2.1", &a);
	addr_parse_ip("192.0.2.1", &b);
	addr_set_port(&b, 80);
	assert_true(addr_equal_ip(&a, &b));
	addr_parse_ip("::ffff:192.0.2.1", &b);
	assert_false(addr_equal_ip(&a, &b));
}

static void test_json_escape(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_json_str(&b, "a\"b\\c\nd\te\x01" "f");
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\te\\u0001f\"");
	buf_reset(&b);
	buf_json_str(&b, NULL);
	assert_string_equal(b.data, "\"\"");
	buf_free(&b);
}

static void test_prom_label(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_prom_label(&b, "x\"y\\z\nw");
	assert_string_equal(b.data, "x\\\"y\\\\z\\nw");
	buf_free(&b);
}

static void test_buf_grows(void **state)
{
	struct buf b;

	buf_init(&b);
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, "%05d,", i);
	assert_int_equal(b.len, 60000);
	assert_memory_equal(b.data + 59994, "09999,", 6);
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ip),
		cmocka_unit_test(test_parse_cidr),
		cmocka_unit_test(test_parse_hostport),
		cmocka_unit_test(test_equal_ip),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_prom_label),
		cmocka_unit_test(test_buf_grows),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
