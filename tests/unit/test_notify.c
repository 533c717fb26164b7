/* test_notify.c - pure pieces of notify/: the notification mail's text and
 * the EHLO reply scan of the mail dialogue. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "notify/mail.h"
#include "notify/notify.h"

static void test_mail_text(void **state)
{
	char *to[] = { "ops@example.com", "oncall@example.com" };
	struct notify_conf c = { .has_email = true, .from = "vigil@example.com", .to = to,
				 .nto = 2 };
	struct notify_event ev = { .node = "lb1", .new_state = "master", .old_state = "backup",
				   .reason = ".dot first\nsecond line", .when = 0, .group = 52 };
	struct buf b;

	buf_init(&b);
	notify_mail_text(&c, &ev, &b);
	assert_non_null(strstr(b.data, "Subject: [vigil] lb1 group 52: backup -> master\r\n"));
	assert_non_null(strstr(b.data, "group:  52\r\n"));
	assert_non_null(strstr(b.data, "To: ops@example.com, oncall@example.com\r\n"));
	assert_non_null(strstr(b.data, "time:   1970-01-01 00:00:00 UTC\r\n"));
	assert_non_null(strstr(b.data, "reason: .dot first\r\n"));
	/* a line starting with a dot is stuffed, every line ends in CRLF */
	buf_reset(&b);
	ev.reason = "x\n.";
	notify_mail_text(&c, &ev, &b);
	assert_non_null(strstr(b.data, "\r\n..\r\n"));
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n')
			assert_int_equal(b.data[i - 1], '\r');
	assert_int_equal(b.data[b.len - 1], '\n');
	buf_free(&b);
}

/* The program's environment: the daemon's, without its own VIGIL_GROUP /
 * VIGIL_REASON, then the event's. */
static void test_exec_env(void **state)
{
	char *base[] = { "PATH=/bin", "VIGIL_GROUP=9", "VIGIL_GROUPX=keep", "HOME=/", NULL };
	struct notify_event ev = { .node = "lb1", .new_state = "master", .old_state = "backup",
				   .reason = "master lb2 silent", .group = 52 };
	char **env = notify_exec_env(base, &ev);
	size_t n = 0, groups = 0;

	for (; env[n]; n++)
		groups += strncmp(env[n], "VIGIL_GROUP=", 12) == 0;
	assert_int_equal(n, 5);
	assert_int_equal(groups, 1);
	assert_string_equal(env[0], "PATH=/bin");
	assert_string_equal(env[1], "VIGIL_GROUPX=keep");
	assert_string_equal(env[3], "VIGIL_GROUP=52");
	assert_string_equal(env[4], "VIGIL_REASON=master lb2 silent");
	notify_env_free(env);
	env = notify_exec_env(NULL, &ev);
	assert_string_equal(env[0], "VIGIL_GROUP=52");
	assert_null(env[2]);
	notify_env_free(env);
}

/* A copy of s in a heap block of exactly its length (no NUL): reading past
 * the end is an AddressSanitizer report. */
static char *exact(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n ? n : 1);

	memcpy(p, s, n);
	return p;
}

static bool offers(const char *reply, const char *kw)
{
	char *p = exact(reply);
	bool r = mail_ehlo_offers(p, strlen(reply), kw);

	free(p);
	return r;
}

static void test_ehlo_offers(void **state)
{
	assert_true(offers("250-relay.example\r\n250-SIZE 1000\r\n250 STARTTLS\r\n", "STARTTLS"));
	assert_true(offers("250-relay\r\n250-starttls\r\n250 8BITMIME\r\n", "STARTTLS"));
	assert_true(offers("250-relay\n250 AUTH PLAIN\n", "AUTH"));
	assert_false(offers("250-relay\r\n250 8BITMIME\r\n", "STARTTLS"));
	assert_false(offers("250-relay\r\n250 STARTTLSX\r\n", "STARTTLS"));
	/* the greeting line's text is not an extension list, but later lines are */
	assert_false(offers("250 STARTTLS-less relay\r\n", "STARTTLS"));
	/* a bare "250": nothing offered, and nothing read past its end */
	assert_false(offers("250\r\n", "STARTTLS"));
	assert_false(offers("250\n", "STARTTLS"));
	assert_false(offers("250", "STARTTLS"));
	assert_false(offers("", "STARTTLS"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_text),
		cmocka_unit_test(test_exec_env),
		cmocka_unit_test(test_ehlo_offers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
