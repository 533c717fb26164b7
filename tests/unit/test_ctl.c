/* test_ctl.c - the control protocol's request parser and the HTTP head parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "ctl/ctl.h"
#include "ctl/http.h"

static void parse_ok(const char *line, struct ctl_cmd *cmd)
{
	char err[256] = "";

	if (ctl_parse(line, cmd, err, sizeof(err)) != 0)
		fail_msg("ctl_parse(\"%s\") failed: %s", line, err);
}

static void parse_err(const char *line, const char *want)
{
	struct ctl_cmd cmd;
	char err[256] = "";

	if (ctl_parse(line, &cmd, err, sizeof(err)) == 0)
		fail_msg("ctl_parse(\"%s\") accepted", line);
	if (!strstr(err, want))
		fail_msg("ctl_parse(\"%s\"): error \"%s\" lacks \"%s\"", line, err, want);
}

static void test_parse_commands(void **state)
{
	struct ctl_cmd c;

	parse_ok("status\n", &c);
	assert_int_equal(c.op, CTL_STATUS);
	assert_int_equal(c.json, 0);
	parse_ok("status json\r\n", &c);
	assert_int_equal(c.op, CTL_STATUS);
	assert_int_equal(c.json, 1);
	parse_ok("  status   --json  ", &c);
	assert_int_equal(c.json, 1);
	parse_ok("drain smtp mx1\n", &c);
	assert_int_equal(c.op, CTL_DRAIN);
	assert_string_equal(c.svc, "smtp");
	assert_string_equal(c.be, "mx1");
	parse_ok("disable exchange-https cas1", &c);
	assert_int_equal(c.op, CTL_DISABLE);
	parse_ok("enable\tsmtp\tmx2\n", &c);
	assert_int_equal(c.op, CTL_ENABLE);
	assert_string_equal(c.be, "mx2");
	parse_ok("weight smtp mx1 0\n", &c);
	assert_int_equal(c.op, CTL_WEIGHT);
	assert_int_equal(c.weight, 0);
	parse_ok("weight smtp mx1 256", &c);
	assert_int_equal(c.weight, 256);
	parse_ok("standby\n", &c);
	assert_int_equal(c.op, CTL_STANDBY);
	parse_ok("takeover", &c);
	assert_int_equal(c.op, CTL_TAKEOVER);
	parse_ok("reload\n", &c);
	assert_int_equal(c.op, CTL_RELOAD);
}

/* standby, takeover and resume take an optional failover GROUP. */
static void test_parse_failover_group(void **state)
{
	struct ctl_cmd c;
	struct buf b;

	parse_ok("resume\n", &c);
	assert_int_equal(c.op, CTL_RESUME);
	assert_int_equal(c.group, 0);
	parse_ok("standby", &c);
	assert_int_equal(c.group, 0);
	parse_ok("standby 51\n", &c);
	assert_int_equal(c.op, CTL_STANDBY);
	assert_int_equal(c.group, 51);
	parse_ok("takeover 255", &c);
	assert_int_equal(c.op, CTL_TAKEOVER);
	assert_int_equal(c.group, 255);
	parse_ok("resume 1", &c);
	assert_int_equal(c.op, CTL_RESUME);
	assert_int_equal(c.group, 1);
	parse_err("resume 0\n", "GROUP must be a failover group 1..255");
	parse_err("standby 256\n", "1..255");
	parse_err("takeover lb1\n", "1..255");
	parse_err("standby 99999999999999999999\n", "1..255");
	parse_err("resume 51 52\n", "usage: resume [GROUP]");
	parse_err("standby 51 x\n", "usage: standby [GROUP]");
	/* ctl_format -> ctl_parse keeps the group */
	buf_init(&b);
	memset(&c, 0, sizeof(c));
	c.op = CTL_RESUME;
	c.group = 51;
	ctl_format(&c, &b);
	assert_string_equal(b.data, "resume 51");
	buf_reset(&b);
	c.op = CTL_STANDBY;
	c.group = 0;
	ctl_format(&c, &b);
	assert_string_equal(b.data, "standby");
	buf_free(&b);
}

static void test_parse_errors(void **state)
{
	parse_err("", "empty request");
	parse_err("\n", "empty request");
	parse_err("   \n", "empty request");
	parse_err("stats\n", "unknown command \"stats\"");
	parse_err("STATUS\n", "unknown command");
	parse_err("status xml\n", "usage: status");
	parse_err("drain smtp\n", "usage: drain SERVICE BACKEND");
	parse_err("drain smtp mx1 mx2\n", "usage: drain");
	parse_err("weight smtp mx1\n", "usage: weight SERVICE BACKEND N");
	parse_err("weight smtp mx1 257\n", "0..256");
	parse_err("weight smtp mx1 -1\n", "0..256");
	parse_err("weight smtp mx1 1x\n", "0..256");
	parse_err("weight smtp mx1 99999999999999999999\n", "0..256");
	parse_err("reload now\n", "usage: reload");
	parse_err("status\nreload\n", "more than one request line");
	parse_err("status\rjson\n", "control character");
	parse_err("drain \"smtp mx1\n", "unterminated");
	parse_err("drain \"a\\x\" b\n", "bad escape");
	parse_err("drain \"a\"b c\n", "missing blank");
	parse_err("drain sm\001tp mx1\n", "control character");
	parse_err("a b c d e f\n", "too many words");
}

static void test_parse_long_word(void **state)
{
	char line[CTL_LINE_MAX];
	struct ctl_cmd c;

	memset(line, 'x', sizeof(line));
	memcpy(line, "drain ", 6);
	line[6 + CTL_NAME_MAX] = '\0';
	parse_err(line, "longer than");
	line[6 + CTL_NAME_MAX - 1] = '\0';
	strcat(line, " b");
	parse_ok(line, &c);
	assert_int_equal(strlen(c.svc), CTL_NAME_MAX - 1);
}

/* Every name survives ctl_quote -> ctl_parse unchanged. */
static void test_quote_roundtrip(void **state)
{
	static const char *const names[] = {
		"plain", "with space", "quo\"te", "back\\slash", "\"", "\\", "", " lead",
		"trail ", "x\"y\\z w",
	};
	struct ctl_cmd c, back;
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.op = CTL_WEIGHT;
		strcpy(c.svc, names[i]);
		strcpy(c.be, "be");
		c.weight = 7;
		buf_init(&b);
		ctl_format(&c, &b);
		parse_ok(b.data, &back);
		assert_int_equal(back.op, CTL_WEIGHT);
		assert_string_equal(back.svc, names[i]);
		assert_string_equal(back.be, "be");
		assert_int_equal(back.weight, 7);
		buf_free(&b);
	}
	buf_init(&b);
	memset(&c, 0, sizeof(c));
	c.op = CTL_STATUS;
	c.json = 1;
	ctl_format(&c, &b);
	assert_string_equal(b.data, "status json");
	buf_free(&b);
}

static void test_http_head_len(void **state)
{
	const char *h = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";

	assert_int_equal(http_head_len(h, strlen(h)), strlen(h) - 4);
	assert_int_equal(http_head_len(h, 10), 0);
	assert_int_equal(http_head_len(h, strlen(h) - 5), 0);
	assert_int_equal(http_head_len("GET / HTTP/1.0\n\n", 16), 16);
	assert_int_equal(http_head_len("", 0), 0);
}

static int parse_head(const char *h, struct http_req *r)
{
	return http_parse_head(h, strlen(h), r);
}

static void test_http_parse_ok(void **state)
{
	struct http_req r;

	assert_int_equal(parse_head("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				    "User-Agent: curl/7.88\r\nAccept: */*\r\n\r\n", &r), 0);
	assert_int_equal(r.method_len, 3);
	assert_memory_equal(r.method, "GET", 3);
	assert_int_equal(r.target_len, 8);
	assert_int_equal(r.path_len, 8);
	assert_memory_equal(r.target, "/metrics", 8);
	assert_int_equal(r.minor, 1);

	assert_int_equal(parse_head("HEAD /status?x=1#f HTTP/1.0\n\n", &r), 0);
	assert_memory_equal(r.method, "HEAD", 4);
	assert_int_equal(r.path_len, 7);
	assert_int_equal(r.target_len, 13);
	assert_int_equal(r.minor, 0);

	assert_int_equal(parse_head("POST / HTTP/1.1\r\nContent-Length: 0\r\nX-E:\r\n\r\n", &r), 0);
	assert_int_equal(r.method_len, 4);
}

static void test_http_parse_bad(void **state)
{
	static const char *const bad[] = {
		"\r\n\r\n",
		"GET\r\n\r\n",
		"GET /\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1x\r\n\r\n",
		"GET /  HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"GET http://x/ HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
		"GET / HTTP/1.1\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\001b\r\n\r\n",
		"GET /\001 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n",
		"GET / HTTP/1.1\r\n\r\nextra",
	};
	struct http_req r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_head(bad[i], &r) != -1)
			fail_msg("accepted bad head #%zu: \"%s\"", i, bad[i]);
	/* a NUL inside the target */
	assert_int_equal(http_parse_head("GET /\0x HTTP/1.1\r\n\r\n", 20, &r), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_commands),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_failover_group),
		cmocka_unit_test(test_parse_long_word),
		cmocka_unit_test(test_quote_roundtrip),
		cmocka_unit_test(test_http_head_len),
		cmocka_unit_test(test_http_parse_ok),
		cmocka_unit_test(test_http_parse_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
