/* test_notify.c - pure pieces of notify/: the mails' headers and text, the
 * EHLO reply scans of the mail dialogue (extensions, AUTH mechanisms), and
 * the SMTP AUTH password file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "notify/mail.h"
#include "notify/mail_text.h"
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
	notify_mail_text(&c, &ev, "<1.2.3@example.com>", &b);
	assert_non_null(strstr(b.data, "Subject: [vigil] lb1 group 52: backup -> master\r\n"));
	assert_non_null(strstr(b.data, "group:  52\r\n"));
	assert_non_null(strstr(b.data, "\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
	assert_non_null(strstr(b.data, "\r\nMessage-ID: <1.2.3@example.com>\r\n"));
	assert_non_null(strstr(b.data, "To: ops@example.com, oncall@example.com\r\n"));
	assert_non_null(strstr(b.data, "time:   1970-01-01 00:00:00 UTC\r\n"));
	assert_non_null(strstr(b.data, "reason: .dot first\r\n"));
	/* a line starting with a dot is stuffed, every line ends in CRLF */
	buf_reset(&b);
	ev.reason = "x\n.";
	notify_mail_text(&c, &ev, "<1.2.3@example.com>", &b);
	assert_non_null(strstr(b.data, "\r\n..\r\n"));
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n')
			assert_int_equal(b.data[i - 1], '\r');
	assert_int_equal(b.data[b.len - 1], '\n');
	buf_free(&b);
}

/* The program's environment: the daemon's, without the keys the event sets
 * (VIGIL_GROUP, VIGIL_REASON), then the event's. */
static void test_exec_env(void **state)
{
	char *base[] = { "PATH=/bin", "VIGIL_GROUP=9", "VIGIL_GROUPX=keep", "HOME=/", NULL };
	char *ours[] = { "VIGIL_GROUP=52", "VIGIL_REASON=master lb2 silent", NULL };
	char **env = notify_env_merge(base, ours);
	size_t n = 0, groups = 0;

	for (; env[n]; n++)
		groups += strncmp(env[n], "VIGIL_GROUP=", 12) == 0;
	assert_int_equal(n, 5);
	assert_int_equal(groups, 1);
	assert_string_equal(env[0], "PATH=/bin");
	assert_string_equal(env[1], "VIGIL_GROUPX=keep");
	assert_string_equal(env[3], "VIGIL_GROUP=52");
	assert_string_equal(env[4], "VIGIL_REASON=master lb2 silent");
	free(env);
	env = notify_env_merge(NULL, ours);
	assert_string_equal(env[0], "VIGIL_GROUP=52");
	assert_null(env[2]);
	free(env);
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

/* Headers in order, RFC 5322 Date, folded To, subject cut to one line. */
static void test_mail_compose(void **state)
{
	char *to[] = { "ops@example.com", "oncall-team-with-a-long-name@example.com",
		       "third.person@example.org", "d@example.net" };
	struct mail_head h = { .from = "vigil@example.com", .to = to, .nto = 4,
			       .subject = "[vigil] lb1: 2 alerts\r\nBcc: x@evil.example",
			       .when = 1796209502.75, .msgid = "<m@example.com>" };
	struct buf b;

	buf_init(&b);
	mail_compose(&h, "line one\n.dot\n", &b);
	assert_string_equal(b.data,
		"From: vigil@example.com\r\n"
		"To: ops@example.com, oncall-team-with-a-long-name@example.com,\r\n"
		" third.person@example.org, d@example.net\r\n"
		"Subject: [vigil] lb1: 2 alerts\r\n"
		"Date: Wed, 02 Dec 2026 11:05:02 +0000\r\n"
		"Message-ID: <m@example.com>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=us-ascii\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"\r\n"
		"line one\r\n"
		"..dot\r\n");
	buf_free(&b);
}

static void test_message_id(void **state)
{
	char id[MAIL_MSGID_MAX], other[MAIL_MSGID_MAX];

	mail_message_id(id, sizeof(id), "vigil@lb.example.com", 1796209502.9, 0xabcdefULL, 7);
	assert_string_equal(id, "<1796209502.0000000000abcdef.7@lb.example.com>");
	mail_message_id(other, sizeof(other), "vigil@lb.example.com", 1796209502.9, 0xabcdefULL,
			8);
	assert_string_not_equal(id, other);
	mail_message_id(id, sizeof(id), "nobody", 1, 1, 1);
	assert_string_equal(id, "<1.0000000000000001.1@localhost>");
	mail_date(0, id, sizeof(id));
	assert_string_equal(id, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static unsigned auth(const char *reply)
{
	char *p = exact(reply);
	unsigned r = mail_ehlo_auth(p, strlen(reply));

	free(p);
	return r;
}

static void test_ehlo_auth(void **state)
{
	const unsigned off = MAIL_AUTH_OFFERED, plain = MAIL_AUTH_PLAIN, login = MAIL_AUTH_LOGIN;

	assert_int_equal(auth("250-relay\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"),
			 off | plain | login);
	assert_int_equal(auth("250-relay\r\n250 auth login\r\n"), off | login);
	/* the old form with "=" (Outlook, old Exchange), and several lines */
	assert_int_equal(auth("250-relay\r\n250-AUTH=LOGIN\r\n250 AUTH CRAM-MD5 PLAIN\r\n"),
			 off | plain | login);
	assert_int_equal(auth("250-relay\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n"), off);
	assert_int_equal(auth("250-relay\r\n250 AUTH\r\n"), off);
	/* lookalikes: a mechanism is a whole word, AUTH a whole keyword */
	assert_int_equal(auth("250-relay\r\n250 AUTH PLAINX LOGINS XPLAIN\r\n"), off);
	assert_int_equal(auth("250-relay\r\n250 AUTHX PLAIN\r\n"), 0);
	assert_int_equal(auth("250-relay\r\n250 STARTTLS\r\n"), 0);
	/* no complete line: nothing, and nothing read past the end */
	assert_int_equal(auth("250 AUTH PLAIN"), 0);
	assert_int_equal(auth("250-AUTH PLAIN\r\n250 AUTH LOG"), off | plain);
	assert_int_equal(auth("250\n"), 0);
	assert_int_equal(auth(""), 0);
}

/* A file holding text, in a fresh temporary directory; path must hold 64. */
static void write_tmp(char *path, const char *text, size_t len)
{
	FILE *f;

	snprintf(path, 64, "/tmp/vigil-test-pw-XXXXXX");
	assert_non_null(mkdtemp(path));
	strcat(path, "/pw");
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void remove_tmp(char *path)
{
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
}

static void test_password_file(void **state)
{
	static const struct { const char *text; size_t len; const char *want; } cases[] = {
		{ "s3cret\n", 7, "s3cret" },
		{ "s3cret\r\nsecond line\n", 20, "s3cret" },
		{ "with space", 10, "with space" },
		{ "\n", 1, NULL },
		{ "", 0, NULL },
		{ "a\0b\n", 4, NULL },
	};
	char path[64], err[256], *pw;
	char big[NOTIFY_PASSWORD_MAX + 10];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_tmp(path, cases[i].text, cases[i].len);
		if (cases[i].want) {
			assert_int_equal(notify_password_read(path, &pw, err, sizeof(err)), 0);
			assert_string_equal(pw, cases[i].want);
			free(pw);
		} else {
			assert_int_equal(notify_password_read(path, &pw, err, sizeof(err)), -1);
			assert_null(pw);
			assert_non_null(strstr(err, "expected the password on its first line"));
		}
		remove_tmp(path);
	}
	memset(big, 'x', sizeof(big));
	write_tmp(path, big, sizeof(big));
	assert_int_equal(notify_password_read(path, &pw, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	remove_tmp(path);
	assert_int_equal(notify_password_read("/nonexistent/vigil/pw", &pw, err, sizeof(err)), -1);
	assert_string_equal(err, "email.password_file /nonexistent/vigil/pw: cannot read: No such "
			    "file or directory");
}

/* The settings an outbox takes: password read, TLS mode, an unreadable file refused. */
static void test_conf_load(void **state)
{
	char *to[] = { "ops@example.com" };
	char path[64], err[256];
	struct email_conf e = { .from = "vigil@example.com", .to = to, .nto = 1,
				.username = "vigil", .tls = EMAIL_TLS_IMPLICIT };
	struct notify_conf c;

	write_tmp(path, "pw\n", 3);
	e.password_file = path;
	assert_int_equal(notify_conf_load(&c, "/bin/true", true, &e, err, sizeof(err)), 0);
	assert_string_equal(c.exec, "/bin/true");
	assert_string_equal(c.username, "vigil");
	assert_string_equal(c.password, "pw");
	assert_true(c.implicit_tls);
	assert_int_equal(c.nto, 1);
	notify_conf_free(&c);
	assert_null(c.password);
	remove_tmp(path);
	assert_int_equal(notify_conf_load(&c, NULL, true, &e, err, sizeof(err)), -1);
	assert_null(c.username);
	assert_non_null(strstr(err, "cannot read"));
	/* no email: the file is not needed */
	assert_int_equal(notify_conf_load(&c, NULL, false, &e, err, sizeof(err)), 0);
	assert_false(c.has_email);
	notify_conf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_text),
		cmocka_unit_test(test_exec_env),
		cmocka_unit_test(test_ehlo_offers),
		cmocka_unit_test(test_mail_compose),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_ehlo_auth),
		cmocka_unit_test(test_password_file),
		cmocka_unit_test(test_conf_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
