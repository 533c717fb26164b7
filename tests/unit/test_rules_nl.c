/* test_rules_nl.c - the policy rules a configuration needs (source: client):
 * one per backend address and port, each once, sorted; none for other
 * services. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vip/rules_nl.h"

static struct config *load(const char *text)
{
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string("t.yaml", text, strlen(text), &errs);

	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	assert_non_null(cfg);
	cfg_errors_free(&errs);
	return cfg;
}

static void assert_key(const struct rules_nl_key *k, const char *ip, uint16_t port)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_ip_str(&k->ip, buf, sizeof(buf)), ip);
	assert_int_equal(addr_port(&k->ip), 0);
	assert_int_equal(k->port, port);
}

static void test_wanted(void **state)
{
	struct config *cfg = load(
		"services:\n"
		"  - name: smtp\n"
		"    vip: 192.0.2.10\n"
		"    ports: [587, 25]\n"
		"    source: client\n"
		"    backends:\n"
		"      - {name: mx2, address: 198.51.100.12}\n"
		"      - {name: mx1, address: 198.51.100.11}\n"
		"  - name: smtp-again\n"           /* same backends and ports: no second rule */
		"    vip: 192.0.2.11\n"
		"    ports: [25]\n"
		"    source: client\n"
		"    backends: [{name: mx1, address: 198.51.100.11}]\n"
		"  - name: web\n"                  /* backend port: the rule's port */
		"    vip: 2001:db8::10\n"
		"    ports: [443]\n"
		"    source: client\n"
		"    backends: [{name: w1, address: \"2001:db8:1::11\", port: 8443}]\n"
		"  - name: plain\n"                /* no source: client: no rule */
		"    vip: 192.0.2.12\n"
		"    ports: [80]\n"
		"    source: 198.51.100.1\n"
		"    backends: [{name: p1, address: 198.51.100.21}]\n");
	struct rules_nl_key *k;
	size_t n = rules_nl_wanted(cfg, &k);

	assert_int_equal(n, 5);
	assert_key(&k[0], "198.51.100.11", 25);
	assert_key(&k[1], "198.51.100.11", 587);
	assert_key(&k[2], "198.51.100.12", 25);
	assert_key(&k[3], "198.51.100.12", 587);
	assert_key(&k[4], "2001:db8:1::11", 8443);
	for (size_t i = 1; i < n; i++)
		assert_true(rules_nl_key_cmp(&k[i - 1], &k[i]) < 0);
	free(k);
	cfg_free(cfg);
}

static void test_wanted_none(void **state)
{
	struct config *cfg = load(
		"services:\n"
		"  - {name: s, vip: 192.0.2.10, ports: [25], backends: [{name: a, address: 198.51.100.11}]}\n");
	struct rules_nl_key *k = (struct rules_nl_key *)&k;
	size_t n = rules_nl_wanted(cfg, &k);

	assert_int_equal(n, 0);
	assert_null(k);
	cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_wanted_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
