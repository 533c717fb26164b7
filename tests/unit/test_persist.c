/* test_persist.c - the persistence table: masking, expiry, the bound, announces. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lb/persist.h"

static struct persist_key key(const char *ip, int mask)
{
	struct addr a;
	struct persist_key k;

	assert_int_equal(addr_parse_ip(ip, &a), 0);
	persist_key_make(&a, mask, &k);
	return k;
}

static void test_mask(void **state)
{
	struct persist_key a = key("192.0.2.77", 24), b = key("192.0.2.1", 24);
	struct persist_key c = key("192.0.3.1", 24), m = key("::ffff:192.0.2.5", 24);
	struct persist_key full = key("192.0.2.77", -1), v6 = key("2001:db8::1", 64);

	assert_int_equal(a.len, 4);
	assert_memory_equal(a.b, b.b, 4);
	assert_memory_not_equal(a.b, c.b, 4);
	assert_int_equal(m.len, 4);
	assert_memory_equal(m.b, a.b, 4);
	assert_int_equal(full.b[3], 77);
	assert_int_equal(v6.len, 16);
	assert_int_equal(v6.b[15], 0);
	assert_int_equal(key("192.0.2.77", 25).b[3], 0);
	assert_int_equal(key("192.0.2.200", 25).b[3], 128);
}

static void test_get_put_expire(void **state)
{
	struct persist *p = persist_new(3);
	struct persist_key a = key("192.0.2.1", -1), b = key("192.0.2.2", -1);
	struct persist_key c = key("192.0.2.3", -1), d = key("192.0.2.4", -1);

	assert_null(persist_get(p, &a, 0));
	assert_true(persist_put(p, &a, "be1", 60, 0, 60));       /* new: announce */
	assert_string_equal(persist_get(p, &a, 1), "be1");
	assert_false(persist_put(p, &a, "be1", 61, 1, 60));      /* a refresh: not yet */
	assert_true(persist_put(p, &a, "be1", 95, 35, 60));      /* moved > ttl/2 */
	assert_true(persist_put(p, &a, "be2", 95, 35, 60));      /* another backend */
	assert_string_equal(persist_get(p, &a, 36), "be2");
	assert_true(persist_put(p, &b, "be1", 40, 0, 60));
	assert_true(persist_put(p, &c, "be1", 40, 0, 60));
	assert_int_equal(persist_count(p), 3);
	/* full: refused and counted */
	assert_false(persist_put(p, &d, "be1", 60, 0, 60));
	assert_int_equal(persist_full(p), 1);
	assert_null(persist_get(p, &d, 0));
	/* expired entries make room */
	assert_true(persist_put(p, &d, "be1", 100, 50, 60));
	assert_int_equal(persist_count(p), 2);
	assert_null(persist_get(p, &b, 50));
	assert_null(persist_get(p, &a, 200));
	persist_free(p);
}

static void count_cb(const struct persist_key *k, const char *be, double left, void *arg)
{
	double *sum = arg;

	assert_string_equal(be, "be1");
	*sum += left;
}

static void test_foreach(void **state)
{
	struct persist *p = persist_new(10);
	struct persist_key a = key("192.0.2.1", -1), b = key("192.0.2.2", -1);
	double sum = 0;

	persist_put(p, &a, "be1", 10, 0, 10);
	persist_put(p, &b, "be1", 4, 0, 10);
	persist_foreach(p, 5, count_cb, &sum);      /* b has expired */
	assert_true(sum > 4.99 && sum < 5.01);
	persist_foreach(NULL, 5, count_cb, &sum);
	persist_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_get_put_expire),
		cmocka_unit_test(test_foreach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
