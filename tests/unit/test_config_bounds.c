/* test_config_bounds.c - config/ stays bounded on hostile input: a fixed
 * budget of nodes and of listed errors, and linear time in the file's size
 * (maps with many keys, long port lists, many services on one VIP, many
 * peers, failover nodes, groups, priorities and floating addresses, backends
 * at the VIP, check ports). Each input is generated here; they were the
 * fuzzing findings and the profile of the config target (issue 7).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/resource.h>
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

static const char fo_head[] =
	"failover:\n"
	"  interface: eth0\n"
	"  auth_key_file: /k\n";

/* Load text as node (NULL: the host name); the config and the time taken. */
static struct config *load_node_timed(const struct buf *text, const char *node,
				      struct cfg_errors *errs)
{
	double t0 = now_s();
	struct config *cfg = cfg_load_string_node("big.yaml", text->data, text->len, node, errs);
	double dt = now_s() - t0;

	if (dt >= LOAD_MAX_S)
		fprintf(stderr, "load took %.1f s\n", dt);
	assert_true(dt < LOAD_MAX_S);
	return cfg;
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

/* 40,000 failover nodes, then one repeating a name and one repeating an
 * address: each node was compared with all before it (0.8 billion strcmp). */
static void test_many_nodes(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [25]\n    backends: [{name: b, address: 198.51.100.1}]\n%s"
		   "  group: 1\n  nodes:\n", svc_head, fo_head);
	for (int i = 0; i < 40000; i++)
		buf_printf(&b, "    n%d: {address: 10.%d.%d.%d}\n", i, i >> 16, (i >> 8) & 255,
			   i & 255);
	buf_puts(&b, "    n1: {address: 10.9.9.9}\n    x: {address: 10.0.0.0}\n");
	assert_null(load_node_timed(&b, "n0", &errs));
	assert_int_equal(errs.count, 2);
	assert_string_equal(errs.msgs[0], "big.yaml:40011:5: failover.nodes.n1: duplicate node "
			    "(expected each node once)");
	assert_string_equal(errs.msgs[1], "big.yaml:40012:5: failover.nodes.x: address of node "
			    "n0 too (expected one address per node)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* A group listing one service 100,000 times (a 200 KB file): each entry was
 * compared with every one before it and looked up in every group (minutes). */
static void test_group_services_repeated(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [25]\n    backends: [{name: b, address: 198.51.100.1}]\n%s"
		   "  node: lb1\n  groups:\n    - id: 1\n      services: [a", svc_head, fo_head);
	for (int i = 0; i < 100000; i++)
		buf_puts(&b, ",a");
	buf_puts(&b, "]\n");
	load_bad(&b, &errs);
	assert_capped(&errs);
	assert_string_equal(errs.msgs[0], "big.yaml:12:20: failover.groups[0].services[1]: "
			    "duplicate service \"a\"");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* 30,000 nodes and a priority for each, then one for an unknown node: each
 * priority was looked up among all the nodes (0.9 billion strcmp). */
static void test_many_priorities(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [25]\n    backends: [{name: b, address: 198.51.100.1}]\n%s"
		   "  nodes:\n", svc_head, fo_head);
	for (int i = 0; i < 30000; i++)
		buf_printf(&b, "    n%d: {address: 10.%d.%d.%d}\n", i, i >> 16, (i >> 8) & 255,
			   i & 255);
	buf_puts(&b, "  groups:\n    - id: 1\n      services: [a]\n      priority: {");
	for (int i = 0; i < 30000; i++)
		buf_printf(&b, "n%d: %d, ", i, 1 + i % 254);
	buf_puts(&b, "zz: 1}\n");
	assert_null(load_node_timed(&b, "n7", &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "big.yaml:30013:17: failover.groups[0]: priority for "
			    "unknown node \"zz\" (expected a node of failover.nodes)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* 30,000 groups with the same id: each was compared with all before it, and
 * each group's services looked up in every group. */
static void test_many_groups(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [25]\n    backends: [{name: b, address: 198.51.100.1}]\n%s"
		   "  node: lb1\n  groups:\n", svc_head, fo_head);
	for (int i = 0; i < 30000; i++)
		buf_puts(&b, "    - {id: 1, services: [a]}\n");
	load_bad(&b, &errs);
	assert_capped(&errs);
	assert_string_equal(errs.msgs[0], "big.yaml:11:5: failover.groups: 30000 groups "
			    "(expected at most 16)");
	assert_string_equal(errs.msgs[1], "big.yaml:12:7: failover.groups[1]: duplicate group "
			    "id 1 (expected each id once)");
	assert_string_equal(errs.msgs[2], "big.yaml:13:7: failover.groups[2]: duplicate group "
			    "id 1 (expected each id once)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* 35,000 floating addresses, then the first one again and the VIP: each was
 * compared with all before it. */
static void test_many_addresses(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [25]\n    backends: [{name: b, address: 198.51.100.1}]\n%s"
		   "  group: 1\n  addresses:\n", svc_head, fo_head);
	for (int i = 0; i < 35000; i++)
		buf_printf(&b, "    - {address: 10.%d.%d.%d, group: 1}\n", i >> 16,
			   (i >> 8) & 255, i & 255);
	buf_puts(&b, "    - {address: 10.0.0.0, group: 1}\n"
		 "    - {address: 192.0.2.1, group: 1}\n");
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 2);
	assert_string_equal(errs.msgs[0], "big.yaml:35011:7: failover.addresses[35000]: "
			    "duplicate address (expected each address once)");
	assert_string_equal(errs.msgs[1], "big.yaml:35012:7: failover.addresses[35001]: is the "
			    "VIP of service a (expected an address that is no VIP)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* 40,000 service ports and 20,000 backends at the VIP: each backend scanned
 * every port for a proxy loop (0.8 billion steps). */
static void test_backends_at_vip(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [1", svc_head);
	for (int p = 2; p <= 40000; p++)
		buf_printf(&b, ",%d", p);
	buf_puts(&b, "]\n    backends:\n");
	for (int i = 0; i < 20000; i++)
		buf_printf(&b, "      - {name: b%d, address: 192.0.2.1, port: 65000}\n", i);
	buf_puts(&b, "      - {name: loop, address: 192.0.2.1, port: 80}\n");
	load_bad(&b, &errs);
	assert_capped(&errs);
	assert_string_equal(errs.msgs[0], "big.yaml:6:40: services[0].backends[0].port: not "
			    "allowed when the service has 40000 ports (expected port: only with "
			    "exactly one service port)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* A check naming every port: each was compared with those kept before it. */
static void test_check_ports(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [1]\n    backends: [{name: b, address: 198.51.100.1}]\n"
		   "    check: {type: tcp, ports: [1", svc_head);
	for (int p = 2; p <= 65535; p++)
		buf_printf(&b, ",%d", p);
	buf_puts(&b, ",1]}\n");
	load_bad(&b, &errs);
	assert_capped(&errs);
	assert_non_null(strstr(errs.msgs[0], "services[0].check.ports[1]: 2 is not one of the "
			       "service's ports (expected one of its first 64 ports)"));
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* Peak RSS of this process, KiB. */
static long max_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* defaults.check.ports (refused) with 40,000 ports and 9,000 services: the
 * list was copied into every service (720 MB for a 0.8 MB file). */
static void test_defaults_check_ports(void **state)
{
	struct cfg_errors errs;
	struct buf b;
	long before = max_rss_kib();

	buf_init(&b);
	buf_puts(&b, "defaults:\n  check: {type: tcp, ports: [1");
	for (int p = 2; p <= 40000; p++)
		buf_printf(&b, ",%d", p);
	buf_puts(&b, "]}\nservices:\n");
	for (int i = 0; i < 9000; i++)
		buf_printf(&b, "  - {name: s%d, vip: 192.0.2.1, ports: [%d], "
			   "backends: [{name: b, address: 198.51.100.1}]}\n", i, i + 1);
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "big.yaml:2:22: defaults.check.ports: not valid in "
			    "defaults (expected in a service's check, naming its ports)");
	if (max_rss_kib() - before >= 256 * 1024)
		fprintf(stderr, "peak RSS grew by %ld KiB\n", max_rss_kib() - before);
	assert_true(max_rss_kib() - before < 256 * 1024);
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* A service whose check expects the regex written out by pattern(). */
static void regex_service(struct buf *b, int i, const char *pattern)
{
	buf_printf(b, "  - {name: s%d, vip: 192.0.2.1, ports: [%d], backends: [{name: b, "
		   "address: 198.51.100.1}], check: {type: expect, expect: \"/%s/\"}}\n", i, i + 1,
		   pattern);
}

static void repeat(struct buf *b, const char *s, int n)
{
	for (int i = 0; i < n; i++)
		buf_puts(b, s);
}

/* Patterns glibc's regcomp() cannot take within a budget are refused before
 * it sees them: ((a{255}){255}){255} (30 characters) took 3.4 GB and 15 s;
 * 100,000 nested '(' and 300,000 'a*' overflowed the stack (SIGSEGV: a
 * reload would have killed vigild); 300,000 'a|' took 18 GB. */
static void test_regex_refused(void **state)
{
	static const char *const why = "too large (at most 1024 characters, 32 nested groups "
				       "and 1024 atoms once repetitions {m,n} are expanded) "
				       "(expected a POSIX extended regular expression)";
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "services:\n");
	regex_service(&b, 0, "((a{255}){255}){255}");
	buf_puts(&b, "  - {name: s1, vip: 192.0.2.1, ports: [2], backends: [{name: b, address: "
		 "198.51.100.1}], check: {type: expect, expect: \"/");
	repeat(&b, "(", 100000);
	buf_puts(&b, "a");
	repeat(&b, ")", 100000);
	buf_puts(&b, "/\"}}\n");
	buf_puts(&b, "  - {name: s2, vip: 192.0.2.1, ports: [3], backends: [{name: b, address: "
		 "198.51.100.1}], check: {type: expect, expect: \"/");
	repeat(&b, "a*", 300000);
	buf_puts(&b, "/\"}}\n");
	buf_puts(&b, "  - {name: s3, vip: 192.0.2.1, ports: [4], backends: [{name: b, address: "
		 "198.51.100.1}], check: {type: expect, expect: \"/");
	repeat(&b, "a|", 300000);
	buf_puts(&b, "a/\"}}\n");
	regex_service(&b, 4, "^2[0-9]{2} .*(ESMTP|Postfix)");
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 4);
	for (size_t i = 0; i < errs.count; i++) {
		assert_non_null(strstr(errs.msgs[i], ".check.expect: invalid regular expression /"));
		assert_non_null(strstr(errs.msgs[i], why));
	}
	assert_string_equal(errs.msgs[0], "big.yaml:2:120: services[0].check.expect: invalid "
			    "regular expression /((a{255}){255}){255}/: too large (at most 1024 "
			    "characters, 32 nested groups and 1024 atoms once repetitions {m,n} are "
			    "expanded) (expected a POSIX extended regular expression)");
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* The cost model against what glibc accepts: at the limits, and one past. */
static void test_regex_cost(void **state)
{
	char err[512];
	struct cfg_regex *re;
	struct buf b;

	assert_int_equal(cfg_regex_cost("^2[0-9]{2} .*(ESMTP|Postfix)"), 19);
	assert_int_equal(cfg_regex_cost("a{1024}"), 1024);
	assert_int_equal(cfg_regex_cost("a{1025}"), SIZE_MAX);
	assert_int_equal(cfg_regex_cost("(a{32}){32}"), 1024);
	assert_int_equal(cfg_regex_cost("(a{32}){33}"), SIZE_MAX);
	assert_int_equal(cfg_regex_cost("((a*){16}){16}"), 512);
	assert_int_equal(cfg_regex_cost("((a*){23}){23}"), SIZE_MAX);
	assert_int_equal(cfg_regex_cost("[]{}]{3}x"), 4);
	assert_int_equal(cfg_regex_cost("[[:digit:]]{3}"), 3);
	assert_int_equal(cfg_regex_cost("a\\{9999}"), 7);
	buf_init(&b);
	repeat(&b, "(", 32);
	buf_puts(&b, "a");
	repeat(&b, ")", 32);
	assert_int_equal(cfg_regex_cost(b.data), 1);
	re = cfg_regex_new(b.data, err, sizeof(err));
	assert_non_null(re);
	assert_true(cfg_regex_match(re, "xay"));
	cfg_regex_unref(re);
	buf_reset(&b);
	repeat(&b, "(", 33);
	buf_puts(&b, "a");
	repeat(&b, ")", 33);
	assert_int_equal(cfg_regex_cost(b.data), SIZE_MAX);
	assert_null(cfg_regex_new(b.data, err, sizeof(err)));
	assert_non_null(strstr(err, "too large"));
	buf_reset(&b);
	repeat(&b, "x", 1025);
	assert_int_equal(cfg_regex_cost(b.data), SIZE_MAX);
	buf_free(&b);
}

/* Each regex within the limit, but 17 of the largest in one file: refused at
 * the 17th, once; a 2,000-service file inheriting one of the largest from
 * defaults compiles it once and shares it. */
static void test_regex_load(void **state)
{
	struct cfg_errors errs;
	struct config *cfg;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "services:\n");
	for (int i = 0; i < 40; i++)
		regex_service(&b, i, "(a{32}){32}");
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "big.yaml:18:122: services[16].check.expect: the "
			    "regular expressions of this file add up to too much to compile "
			    "(expected at most 16 of the largest size, 1024 atoms, or more smaller "
			    "ones)");
	cfg_errors_free(&errs);
	buf_reset(&b);
	buf_puts(&b, "defaults: {check: {type: expect, expect: \"/(a{32}){32}/\"}}\nservices:\n");
	for (int i = 0; i < 2000; i++)
		buf_printf(&b, "  - {name: s%d, vip: 192.0.2.1, ports: [%d], backends: [{name: b, "
			   "address: 198.51.100.1}]}\n", i, i + 1);
	cfg = load_node_timed(&b, NULL, &errs);
	assert_non_null(cfg);
	assert_int_equal(errs.count, 0);
	assert_non_null(cfg->services[0].check.expect_re);
	assert_ptr_equal(cfg->services[1999].check.expect_re, cfg->services[0].check.expect_re);
	cfg_free(cfg);
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* A 1 MB check path in defaults and 2,000 services: each service copied it
 * (2 GB for a 1.2 MB file, and the file was valid). */
static void test_inherited_strings(void **state)
{
	struct cfg_errors errs;
	struct buf b;
	long before = max_rss_kib();

	buf_init(&b);
	buf_puts(&b, "defaults:\n  check: {type: http, path: /");
	repeat(&b, "x", 1 << 20);
	buf_puts(&b, "}\nservices:\n");
	for (int i = 0; i < 2000; i++)
		buf_printf(&b, "  - {name: s%d, vip: 192.0.2.1, ports: [%d], "
			   "backends: [{name: b, address: 198.51.100.1}]}\n", i, i + 1);
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "big.yaml:19:5: services[15]: the inherited check "
			    "settings add up to more than 16 MiB (expected shorter check strings, "
			    "or fewer services and checks that inherit them)");
	assert_true(max_rss_kib() - before < 256 * 1024);
	cfg_errors_free(&errs);
	buf_free(&b);
}

/* A 1 MB check path and 100 backends: valid, yet each backend's probe
 * (checks/check.c) copies the service's check: 100 MB once vigild starts,
 * 40 GB with 40,000 backends. */
static void test_probe_copies(void **state)
{
	struct cfg_errors errs;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s    ports: [80]\n    check: {type: http, path: /", svc_head);
	repeat(&b, "x", 1 << 20);
	buf_puts(&b, "}\n    backends:\n");
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "      - {name: b%d, address: 198.51.100.1}\n", i);
	load_bad(&b, &errs);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "big.yaml:2:5: services[0]: the checks of all "
			    "backends add up to more than 64 MiB of check settings, each backend's "
			    "probe having its own copy (expected shorter check strings, or fewer "
			    "backends)");
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
		cmocka_unit_test(test_many_nodes),
		cmocka_unit_test(test_group_services_repeated),
		cmocka_unit_test(test_many_priorities),
		cmocka_unit_test(test_many_groups),
		cmocka_unit_test(test_many_addresses),
		cmocka_unit_test(test_backends_at_vip),
		cmocka_unit_test(test_check_ports),
		cmocka_unit_test(test_defaults_check_ports),
		cmocka_unit_test(test_regex_refused),
		cmocka_unit_test(test_regex_cost),
		cmocka_unit_test(test_regex_load),
		cmocka_unit_test(test_inherited_strings),
		cmocka_unit_test(test_probe_copies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
