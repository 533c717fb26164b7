/* test_config_classic.c - configuration of issue 14: check types expect and
 * icmp, schedulers fixed-weight and weighted-response-time, backend agents.
 * (The bad files of these keys are rows of test_config.c's table.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

/* The source tree: VIGIL_SRCDIR, the current directory, or two up from the binary. */
static void src_path(char *buf, size_t len, const char *rel)
{
	char exe[PATH_MAX], probe[PATH_MAX + 32], root[PATH_MAX];
	const char *env = getenv("VIGIL_SRCDIR");
	struct stat st;
	ssize_t n;

	if (env) {
		snprintf(root, sizeof(root), "%s", env);
	} else if (stat("tests/config/good", &st) == 0) {
		snprintf(root, sizeof(root), ".");
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		assert_true(n > 0);
		exe[n] = '\0';
		snprintf(probe, sizeof(probe), "%s/../..", dirname(exe));
		assert_non_null(realpath(probe, root));
	}
	if ((size_t)snprintf(buf, len, "%s/%s", root, rel) >= len)
		fail_msg("path too long: %s", rel);
}

static struct config *load_string(const char *text, struct cfg_errors *errs)
{
	return cfg_load_string("t.yaml", text, strlen(text), errs);
}

static void test_classic_good(void **state)
{
	char path[PATH_MAX];
	struct cfg_errors errs;
	struct config *cfg;
	const struct service_conf *ftp, *news, *ping;

	src_path(path, sizeof(path), "tests/config/good/classic.yaml");
	cfg = cfg_load(path, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "  got: %s\n", errs.msgs[i]);
	assert_non_null(cfg);
	cfg_errors_free(&errs);
	ftp = &cfg->services[0];
	news = &cfg->services[1];
	ping = &cfg->services[2];
	assert_int_equal(ftp->scheduler, SCHED_FIXED_WEIGHT);
	assert_int_equal(ftp->check.type, CHECK_EXPECT);
	assert_string_equal(ftp->check.expect, "220 ");
	assert_null(ftp->check.expect_re);            /* a prefix */
	assert_string_equal(ftp->check.quit, "QUIT");
	assert_null(ftp->check.send);
	assert_false(ftp->check.tls);
	assert_false(ftp->backends[0].has_agent);
	assert_true(ftp->backends[1].has_agent);
	assert_int_equal(ftp->backends[1].agent_port, 9777);
	assert_int_equal(ftp->backends[1].agent_interval_ms, 2000);

	assert_int_equal(news->scheduler, SCHED_WEIGHTED_RESPONSE_TIME);
	assert_string_equal(news->check.send, "MODE READER");
	assert_string_equal(news->check.expect, "/^20[01] /");
	assert_non_null(news->check.expect_re);
	assert_string_equal(cfg_regex_pattern(news->check.expect_re), "^20[01] ");
	assert_true(cfg_regex_match(news->check.expect_re, "201 news.example.com ready"));
	assert_false(cfg_regex_match(news->check.expect_re, "502 no"));
	assert_string_equal(news->check.quit, "QUIT");  /* inherited */
	assert_true(news->check.tls);
	assert_true(news->check.verify);
	assert_string_equal(news->check.host, "news.example.com");
	assert_int_equal(news->backends[0].agent_interval_ms, 500);

	assert_int_equal(ping->check.type, CHECK_ICMP);
	assert_null(ping->check.expect);                /* dropped: not an expect check */
	assert_null(ping->check.quit);
	assert_null(ping->check.expect_re);
	assert_string_equal(cfg_sched_name(SCHED_FIXED_WEIGHT), "fixed-weight");
	assert_string_equal(cfg_sched_name(SCHED_WEIGHTED_RESPONSE_TIME),
			    "weighted-response-time");
	assert_string_equal(cfg_check_type_name(CHECK_EXPECT), "expect");
	assert_string_equal(cfg_check_type_name(CHECK_ICMP), "icmp");
	cfg_free(cfg);
}

/* tls: only for expect; verify needs a TLS check, and expect with tls is one. */
static void test_expect_tls_keys(void **state)
{
	static const char ok[] =
		"services: [{name: a, vip: 192.0.2.1, ports: [992], backends: [{name: b, "
		"address: 198.51.100.1}], check: {type: expect, expect: '+OK', tls: true, "
		"verify: true, ca_file: /etc/ssl/certs/ca-certificates.crt}}]";
	static const char bad[] =
		"services: [{name: a, vip: 192.0.2.1, ports: [23], backends: [{name: b, "
		"address: 198.51.100.1}], check: {type: expect, expect: x, verify: true}}]";
	struct cfg_errors errs;
	struct config *cfg = load_string(ok, &errs);

	assert_non_null(cfg);
	assert_true(cfg->services[0].check.verify);
	cfg_free(cfg);
	cfg_errors_free(&errs);
	assert_null(load_string(bad, &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "t.yaml:1:130: services[0].check.verify: not valid "
			    "for a check without TLS (expected type https, imaps, pop3s, "
			    "starttls: true, or tls: true)");
	cfg_errors_free(&errs);
}

/* A regex compiled at load is shared, not recompiled, by every copy; a
 * service that rewrites expect gets its own. */
static void test_expect_regex_inherited(void **state)
{
	static const char text[] =
		"defaults: {check: {type: expect, expect: '/^2/'}}\n"
		"services:\n"
		" - {name: a, vip: 192.0.2.1, ports: [1], backends: [{name: b, address: 198.51.100.1}]}\n"
		" - {name: c, vip: 192.0.2.1, ports: [2], backends: [{name: d, address: 198.51.100.2}],"
		" check: {expect: '/^3/'}}\n"
		" - {name: e, vip: 192.0.2.1, ports: [3], backends: [{name: f, address: 198.51.100.3}],"
		" check: {expect: '2'}}\n"
		" - {name: g, vip: 192.0.2.1, ports: [4], backends: [{name: h, address: 198.51.100.4}],"
		" check: {type: tcp}}\n";
	struct cfg_errors errs;
	struct config *cfg = load_string(text, &errs);

	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "  got: %s\n", errs.msgs[i]);
	assert_non_null(cfg);
	assert_true(cfg_regex_match(cfg->services[0].check.expect_re, "220"));
	assert_false(cfg_regex_match(cfg->services[1].check.expect_re, "220"));
	assert_true(cfg_regex_match(cfg->services[1].check.expect_re, "300"));
	assert_null(cfg->services[2].check.expect_re);
	assert_null(cfg->services[3].check.expect_re);
	assert_null(cfg->services[3].check.expect);
	cfg_free(cfg);
	cfg_errors_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_good),
		cmocka_unit_test(test_expect_tls_keys),
		cmocka_unit_test(test_expect_regex_inherited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
