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
#include "common/text.h"

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

static void test_text_clean(void **state)
{
	char out[64];
	char small[8];

	assert_string_equal(text_clean(out, sizeof(out), "250 OK ready", 100), "250 OK ready");
	/* a forged log line: CR LF and an ANSI escape are escaped, not passed */
	assert_string_equal(text_clean(out, sizeof(out), "ok\r\nvigild: master -> backup", 100),
			    "ok\\x0d\\x0avigild: master -> backup");
	assert_string_equal(text_clean(out, sizeof(out), "\x1b[31mred", 100), "\\x1b[31mred");
	assert_string_equal(text_clean(out, sizeof(out), "a\\b", 100), "a\\\\b");
	assert_string_equal(text_clean(out, sizeof(out), "caf\xc3\xa9\x7f", 100),
			    "caf\\xc3\\xa9\\x7f");
	/* srclen bounds the input, NUL ends it */
	assert_string_equal(text_clean(out, sizeof(out), "abcdef", 3), "abc");
	assert_string_equal(text_clean(out, sizeof(out), "ab\0cd", 5), "ab");
	/* too long: bounded, marked, never split inside an escape */
	assert_string_equal(text_clean(small, sizeof(small), "abcdefghij", 10), "abcd...");
	assert_string_equal(text_clean(small, sizeof(small), "\n\n\n", 3), "\\x0a...");
	assert_string_equal(text_clean(small, sizeof(small), "a\n\n", 3), "a...");
	assert_int_equal(strlen(text_clean(small, sizeof(small), "\n\n", 2)), 7);
	assert_string_equal(text_clean(small, sizeof(small), "abcdefg", 7), "abcdefg");
	assert_string_equal(text_clean(small, 1, "abc", 3), "");
	assert_true(text_is_clean("lb1.example", 32));
	assert_false(text_is_clean("lb1\n", 32));
	assert_false(text_is_clean("a\\b", 32));
	assert_true(text_is_clean("ab\n", 2));
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
		cmocka_unit_test(test_text_clean),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
