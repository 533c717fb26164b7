/* test_classic_parse.c - the pure parsers of issue 14: expect's first line,
 * the agent's line, ICMP echo requests and replies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "checks/agent.h"
#include "checks/icmp_reply.h"
#include "checks/reply.h"
#include "config/config.h"

static void test_expect_prefix(void **state)
{
	struct expect_reply r;
	char err[REPLY_TEXT_MAX];
	const char *banner = "220 (vsFTPd 3.0.3)\r\n";

	assert_int_equal(expect_line_parse(banner, 5, "220", NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(expect_line_parse(banner, strlen(banner), "220", NULL, &r, err,
					   sizeof(err)), (long)strlen(banner));
	assert_true(r.matched);
	assert_string_equal(r.text, "220 (vsFTPd 3.0.3)");
	assert_int_equal(expect_line_parse(banner, strlen(banner), "221", NULL, &r, err,
					   sizeof(err)), (long)strlen(banner));
	assert_false(r.matched);
	/* a prefix longer than the line */
	assert_int_equal(expect_line_parse("22\n", 3, "220", NULL, &r, err, sizeof(err)), 3);
	assert_false(r.matched);
	/* only the first line counts; the text is cleaned */
	assert_int_equal(expect_line_parse("500 \x1b[31mno\n220 ok\n", 19, "220", NULL, &r, err,
					   sizeof(err)), 12);
	assert_false(r.matched);
	assert_string_equal(r.text, "500 \\x1b[31mno");
	/* a NUL in the line is not a line */
	assert_int_equal(expect_line_parse("220\0x\n", 6, "220", NULL, &r, err, sizeof(err)), -1);
}

static void test_expect_regex(void **state)
{
	char err[256];
	struct cfg_regex *re = cfg_regex_new("^20[01] ", err, sizeof(err));
	struct expect_reply r;

	assert_non_null(re);
	assert_string_equal(cfg_regex_pattern(re), "^20[01] ");
	assert_int_equal(expect_line_parse("200 news ready\r\n", 16, NULL, re, &r, err,
					   sizeof(err)), 16);
	assert_true(r.matched);
	assert_int_equal(expect_line_parse("201 no posting\n", 15, NULL, re, &r, err,
					   sizeof(err)), 15);
	assert_true(r.matched);
	assert_int_equal(expect_line_parse("502 go away\n", 12, NULL, re, &r, err,
					   sizeof(err)), 12);
	assert_false(r.matched);
	/* the line end is not part of the line: $ matches before CR LF */
	cfg_regex_unref(re);
	re = cfg_regex_new("ready$", err, sizeof(err));
	assert_int_equal(expect_line_parse("200 ready\r\n", 11, NULL, re, &r, err, sizeof(err)), 11);
	assert_true(r.matched);
	assert_ptr_equal(cfg_regex_ref(re), re);
	cfg_regex_unref(re);
	cfg_regex_unref(re);
	assert_null(cfg_regex_new("(unclosed", err, sizeof(err)));
	assert_true(strlen(err) > 0);
}

static void agent_ok(const char *line, bool has_state, enum backend_agent st, bool has_pct,
		     uint32_t pct)
{
	struct agent_reply r;
	char err[128];

	if (agent_line_parse(line, strlen(line), &r, err, sizeof(err)) != 0)
		fail_msg("\"%s\": %s", line, err);
	assert_int_equal(r.has_state, has_state);
	if (has_state)
		assert_int_equal(r.state, st);
	assert_int_equal(r.has_pct, has_pct);
	if (has_pct)
		assert_int_equal(r.pct, pct);
}

static void agent_bad(const char *line, const char *want)
{
	struct agent_reply r;
	char err[128];

	assert_int_equal(agent_line_parse(line, strlen(line), &r, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

static void test_agent_line(void **state)
{
	agent_ok("75%", false, AGENT_UP, true, 75);
	agent_ok("0%", false, AGENT_UP, true, 0);
	agent_ok("100%", false, AGENT_UP, true, 100);
	agent_ok("drain", true, AGENT_DRAIN, false, 0);
	agent_ok("MAINT", true, AGENT_MAINT, false, 0);
	agent_ok("stopped", true, AGENT_MAINT, false, 0);
	agent_ok("down", true, AGENT_DOWN, false, 0);
	agent_ok("failed", true, AGENT_DOWN, false, 0);
	agent_ok("up", true, AGENT_UP, false, 0);
	agent_ok("ready", true, AGENT_UP, false, 0);
	agent_ok("up 50%", true, AGENT_UP, true, 50);
	agent_ok(" 50%,\tdrain ", true, AGENT_DRAIN, true, 50);
	agent_ok("drain up", true, AGENT_UP, false, 0);      /* the last state word wins */
	agent_ok("down # disk full", true, AGENT_DOWN, false, 0);
	agent_bad("101%", "percentage out of range \"101%\" (expected N%, up, drain, maint or down)");
	agent_bad("75", "unknown word \"75\" (expected N%, up, drain, maint or down)");
	agent_bad("up 7.5%", "unknown word \"7.5%\" (expected N%, up, drain, maint or down)");
	agent_bad("1000%", "unknown word \"1000%\" (expected N%, up, drain, maint or down)");
	agent_bad("%", "unknown word \"%\" (expected N%, up, drain, maint or down)");
	agent_bad("", "empty line (expected N%, up, drain, maint or down)");
	agent_bad("  # only a comment", "empty line (expected N%, up, drain, maint or down)");
	agent_bad("up\x1b[2J", "unknown word \"up\\x1b[2J\" (expected N%, up, drain, maint or down)");
}

static void test_icmp_echo(void **state)
{
	uint8_t req[ICMP_ECHO_LEN], raw[20 + ICMP_ECHO_LEN];
	struct icmp_reply r;
	char err[128];
	uint16_t ck;

	assert_int_equal(icmp_echo_build(req, false, 0x1234, 0xbeef), ICMP_ECHO_LEN);
	assert_int_equal(req[0], 8);
	assert_int_equal(icmp_checksum(req, sizeof(req)), 0);   /* a valid checksum sums to 0 */
	assert_int_equal(icmp_reply_parse(req, sizeof(req), false, false, &r, err, sizeof(err)), 0);
	assert_false(r.echo_reply);                            /* a request, not a reply */
	/* turn it into a reply as a host would: type 0, checksum fixed */
	req[0] = 0;
	req[2] = req[3] = 0;
	ck = icmp_checksum(req, sizeof(req));
	req[2] = (uint8_t)(ck >> 8);
	req[3] = (uint8_t)ck;
	assert_int_equal(icmp_reply_parse(req, sizeof(req), false, false, &r, err, sizeof(err)), 0);
	assert_true(r.echo_reply);
	assert_int_equal(r.id, 0x1234);
	assert_int_equal(r.seq, 0xbeef);
	/* behind an IPv4 header, as a raw socket reads it */
	memset(raw, 0, 20);
	raw[0] = 0x45;
	raw[9] = 1;
	memcpy(raw + 20, req, sizeof(req));
	assert_int_equal(icmp_reply_parse(raw, sizeof(raw), false, true, &r, err, sizeof(err)), 0);
	assert_true(r.echo_reply);
	assert_int_equal(r.seq, 0xbeef);
	raw[30] ^= 1;                                          /* corrupt the payload */
	assert_int_equal(icmp_reply_parse(raw, sizeof(raw), false, true, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "bad ICMP checksum");
	raw[9] = 6;
	assert_int_equal(icmp_reply_parse(raw, sizeof(raw), false, true, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "not ICMP (protocol 6)");
	raw[0] = 0x4f;                                         /* header longer than the packet */
	assert_int_equal(icmp_reply_parse(raw, 40, false, true, &r, err, sizeof(err)), -1);
	assert_int_equal(icmp_reply_parse(raw, 7, false, false, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "ICMP message too short (7 bytes)");
	/* ICMPv6: 128 request, 129 reply */
	icmp_echo_build(req, true, 7, 9);
	assert_int_equal(req[0], 128);
	req[0] = 129;
	assert_int_equal(icmp_reply_parse(req, sizeof(req), true, false, &r, err, sizeof(err)), 0);
	assert_true(r.echo_reply);
	assert_int_equal(r.seq, 9);
	req[1] = 1;                                            /* code must be 0 */
	assert_int_equal(icmp_reply_parse(req, sizeof(req), true, false, &r, err, sizeof(err)), 0);
	assert_false(r.echo_reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expect_prefix),
		cmocka_unit_test(test_expect_regex),
		cmocka_unit_test(test_agent_line),
		cmocka_unit_test(test_icmp_echo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
