/* test_config_bounds.c - config/ stays bounded on hostile input: a fixed
 * budget of nodes and of listed errors, and linear time in the file's size
 * (maps with many keys, long port lists, many services on one VIP, many
 * peers). Each input is generated here; they were the fuzzing findings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <time.h>

#include "common/buf.h"
#include "config/config.h"

/* Generous: a linear load of these inputs takes well under a second even
 * under ASan on a busy 2-core box; the quadratic one took minutes. */
#define LOAD_MAX_S 10.0

static const char svc_head[] =
	"services:\n"
	"  - name: a\n"
	"    vip: 192.0.2.1\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Load text; return the errors (config must be refused) and the time taken. */
static double load_bad(const struct buf *text, struct cfg_errors *errs)
{
	double t0 = now_s();
	struct config *cfg = cfg_load_string("big.yaml", text->data, text->len, errs);
	double dt = now_s() - t0;

	assert_null(cfg);
	assert_true(errs->count > 0);
	if (dt >= LOAD_MAX_S)
		fprintf(stderr, "load took %.1f s\n", dt);
	assert_true(dt < LOAD_MAX_S);
	return dt;
}

/* The last message says the list was cut after 100. */
static void assert_capped(const struct cfg_errors *errs)
{
	assert_int_equal(errs->count, 101);
	assert_string_equal(errs->msgs[100],
			    "big.yaml: too many errors (only the first 100 are listed)");
}

/* 90,000 distinct unknown keys: the duplicate-key check was pairwise
 * (quadratic) and every key was listed (90,000 messages of ~150 bytes). */
static void test_many_keys(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	for (int i = 0; i < 90000; i++)
		buf_printf(&b, "key%d: 1\n", i);
	load_bad(&b, &errs);
	assert_capped(&errs);
	assert_string_equal(errs.msgs[0], "big.yaml:1:1: key0: unknown key (expected one of: "
			    "global, defaults, services, failover, alerts)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* One known key given 50,000 times: each occurrence was compared with all
 * before it. */
static void test_repeated_key(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [25]\n    backends:\n      - address: 198.51.100.1\n",
		   svc_head);
	for (int i = 0; i < 50000; i++)
		buf_puts(&b, "        weight: 1\n");
	load_bad(&b, &errs);
	assert_capped(&errs);
	assert_string_equal(errs.msgs[0], "big.yaml:8:9: services[0].backends[0].weight: "
			    "duplicate key (already given at line 7)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* More values than YTREE_MAX_NODES: refused with one message at the first
 * value past the budget, instead of a tree (and a config) of any size. */
static void test_node_budget(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "x: [");
	for (int i = 0; i < 300000; i++)
		buf_puts(&b, "1,");
	buf_puts(&b, "1]\n");
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.msgs[0], ": too many values (expected at most 200000 keys, "
			       "values and list items in one file)"));
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* Every port twice: the duplicate check scanned the ports kept so far
 * (65,535 x 131,070 comparisons). Now a bitmap: 65,535 duplicates, listed
 * up to the cap. */
static void test_ports_twice(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    backends: [{name: b, address: 198.51.100.1}]\n    ports: [",
		   svc_head);
	for (int round = 0; round < 2; round++)
		for (int p = 1; p <= 65535; p++)
			buf_printf(&b, "%d,", p);
	buf_puts(&b, "1]\n");
	load_bad(&b, &errs);
	assert_capped(&errs);
	assert_non_null(strstr(errs.msgs[0], "services[0].ports[65535]: duplicate port 1 "
			       "(expected each port once)"));
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* 12,000 services on one VIP, each its own port, then one that takes the
 * first one's port and name: exactly those two conflicts are found (the
 * VIP:port and name checks were pairwise over services). */
static void test_many_services(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "services:\n");
	for (int i = 0; i < 12000; i++)
		buf_printf(&b, "  - {name: s%d, vip: 192.0.2.1, ports: [%d], "
			   "backends: [{name: b, address: 198.51.100.1}]}\n", i, i + 1);
	buf_puts(&b, "  - {name: s0, vip: 192.0.2.1, ports: [1], "
		 "backends: [{name: b, address: 198.51.100.1}]}\n");
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 2);
	assert_string_equal(errs.msgs[0], "big.yaml:12002:12: services[12000].name: duplicate "
			    "service name \"s0\" (already used by services[0])");
	assert_string_equal(errs.msgs[1], "big.yaml:12002:40: services[12000].ports[0]: "
			    "192.0.2.1:1 is already used by service \"s0\" (expected each VIP:port "
			    "in one service only)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* Backend names and peers: duplicates found against the first use. */
static void test_dups_first_use(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [25]\n    backends:\n", svc_head);
	for (int i = 0; i < 30000; i++)
		buf_printf(&b, "      - {name: b%d, address: 198.51.100.1}\n", i % 29999);
	buf_puts(&b, "failover:\n  group: 1\n  interface: eth0\n  auth_key_file: /k\n"
		 "  peers: [192.0.2.7, 192.0.2.8, 2001:db8::1, 192.0.2.8]\n");
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 2);
	assert_string_equal(errs.msgs[0], "big.yaml:30005:16: services[0].backends[29999].name: "
			    "duplicate backend name \"b0\" (already used by backends[0])");
	assert_string_equal(errs.msgs[1], "big.yaml:30010:46: failover.peers[3]: duplicate peer "
			    "192.0.2.8 (expected each peer once)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_repeated_key),
		cmocka_unit_test(test_node_budget),
		cmocka_unit_test(test_ports_twice),
		cmocka_unit_test(test_many_services),
		cmocka_unit_test(test_dups_first_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
