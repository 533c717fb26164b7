/* test_check_reply.c - the pure reply parsers of checks/ and the rise/fall
 * state, for every reply shape the probes meet. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/check_state.h"
#include "checks/reply.h"

static char err[256];

/* Feed s one byte longer at a time: incomplete until the whole reply. */
#define assert_complete_only_at_end(fn, s, out)                                \
	do {                                                                   \
		size_t i_, n_ = strlen(s);                                     \
		for (i_ = 0; i_ < n_; i_++)                                    \
			assert_int_equal(fn((s), i_, (out), err, sizeof(err)), 0); \
		assert_int_equal(fn((s), n_, (out), err, sizeof(err)), (long)n_); \
	} while (0)

static void test_reply_line(void **state)
{
	size_t t;

	assert_int_equal(reply_line("abc", 3, &t), 0);
	assert_int_equal(reply_line("abc\r\nx", 6, &t), 5);
	assert_int_equal(t, 3);
	assert_int_equal(reply_line("abc\nx", 5, &t), 4);
	assert_int_equal(t, 3);
	assert_int_equal(reply_line("\r\n", 2, &t), 2);
	assert_int_equal(t, 0);
}

static void test_sanitize(void **state)
{
	char out[16], big[64];

	/* control and 8-bit bytes escaped (text_clean), cut with "..." */
	reply_sanitize(out, sizeof(out), "a\x01\xff" "bcdefghij", 12);
	assert_string_equal(out, "a\\x01\\xffbcd...");
	reply_sanitize(big, sizeof(big), "250 ok\r\nforged: line", 21);
	assert_string_equal(big, "250 ok\\x0d\\x0aforged: line");
	reply_sanitize(out, sizeof(out), "", 0);
	assert_string_equal(out, "");
}

static void test_smtp_banner(void **state)
{
	struct smtp_reply r;
	const char *s = "220 mx1.example.com ESMTP Postfix (Debian/GNU)\r\n";

	assert_complete_only_at_end(smtp_reply_parse, s, &r);
	assert_int_equal(r.code, 220);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.text, "220 mx1.example.com ESMTP Postfix (Debian/GNU)");
}

static void test_smtp_multiline(void **state)
{
	struct smtp_reply r;
	const char *s = "220-mx1 first line\r\n220-second\r\n220 last\r\n";
	const char *ehlo = "250-mx1 Hello\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n";

	assert_complete_only_at_end(smtp_reply_parse, s, &r);
	assert_int_equal(r.code, 220);
	assert_int_equal(r.nlines, 3);
	assert_string_equal(r.text, "220 mx1 first line");
	assert_complete_only_at_end(smtp_reply_parse, ehlo, &r);
	assert_int_equal(r.code, 250);
	assert_int_equal(r.nlines, 4);
	assert_string_equal(r.text, "250 mx1 Hello");
}

static void test_smtp_errors_are_replies(void **state)
{
	struct smtp_reply r;

	assert_int_equal(smtp_reply_parse("421 4.3.2 Service not available\r\n", 33, &r, err,
					  sizeof(err)), 33);
	assert_int_equal(r.code, 421);
	assert_string_equal(r.text, "421 4.3.2 Service not available");
	assert_int_equal(smtp_reply_parse("554 5.7.1 Go away\n", 18, &r, err, sizeof(err)), 18);
	assert_int_equal(r.code, 554);
	assert_int_equal(smtp_reply_parse("221\r\n", 5, &r, err, sizeof(err)), 5);
	assert_int_equal(r.code, 221);
	assert_string_equal(r.text, "221");
}

static void test_smtp_two_replies(void **state)
{
	struct smtp_reply r;
	const char *s = "220 hi\r\n250 ok\r\n";

	assert_int_equal(smtp_reply_parse(s, strlen(s), &r, err, sizeof(err)), 8);
	assert_int_equal(r.code, 220);
	assert_int_equal(smtp_reply_parse(s + 8, strlen(s) - 8, &r, err, sizeof(err)), 8);
	assert_int_equal(r.code, 250);
}

static void test_smtp_garbage(void **state)
{
	struct smtp_reply r;
	const char *bad[] = {
		"HTTP/1.1 400 Bad Request\r\n", "\x16\x03\x01\x02\x01\r\n", "22\r\n",
		"220x\r\n", "620 no\r\n", "220-a\r\n250 b\r\n", "\r\n", "abc 220\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(smtp_reply_parse(bad[i], strlen(bad[i]), &r, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
	/* garbage without a newline is just "not complete"; the core bounds it */
	assert_int_equal(smtp_reply_parse("xxxxxxxx", 8, &r, err, sizeof(err)), 0);
}

static void test_imap_lines(void **state)
{
	struct imap_line l;
	const char *g = "* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n";

	assert_complete_only_at_end(imap_line_parse, g, &l);
	assert_true(l.untagged);
	assert_int_equal(l.status, IMAP_OK);
	assert_string_equal(l.text, "* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.");
	assert_int_equal(imap_line_parse("* PREAUTH hi\r\n", 14, &l, err, sizeof(err)), 14);
	assert_int_equal(l.status, IMAP_PREAUTH);
	assert_int_equal(imap_line_parse("* BYE too busy\r\n", 16, &l, err, sizeof(err)), 16);
	assert_int_equal(l.status, IMAP_BYE);
	assert_int_equal(imap_line_parse("* bye lower\r\n", 13, &l, err, sizeof(err)), 13);
	assert_int_equal(l.status, IMAP_BYE);
	assert_int_equal(imap_line_parse("* CAPABILITY IMAP4rev1\r\n", 24, &l, err, sizeof(err)), 24);
	assert_int_equal(l.status, IMAP_DATA);
	assert_int_equal(imap_line_parse("a1 OK Begin TLS\r\n", 17, &l, err, sizeof(err)), 17);
	assert_false(l.untagged);
	assert_string_equal(l.tag, "a1");
	assert_int_equal(l.status, IMAP_OK);
	assert_int_equal(imap_line_parse("a2 NO nope\n", 11, &l, err, sizeof(err)), 11);
	assert_int_equal(l.status, IMAP_NO);
	assert_int_equal(imap_line_parse("a1 BAD what\r\n", 13, &l, err, sizeof(err)), 13);
	assert_int_equal(l.status, IMAP_BAD);
	assert_int_equal(imap_line_parse("+ go ahead\r\n", 12, &l, err, sizeof(err)), 12);
	assert_true(l.continuation);
}

static void test_imap_garbage(void **state)
{
	struct imap_line l;
	const char *bad[] = {
		"220 smtp here\r\n", "*\r\n", "a1\r\n", "a1 FOO bar\r\n", "(x) OK\r\n",
		" * OK\r\n", "\x01\x02\r\n", "\r\n", "a1 BYE x\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(imap_line_parse(bad[i], strlen(bad[i]), &l, err, sizeof(err)), -1);
}

static void test_pop3(void **state)
{
	struct pop3_reply r;
	const char *bad[] = { "+OKAY\r\n", "OK\r\n", "-ER\r\n", "* OK\r\n", "\r\n" };
	size_t i;

	assert_complete_only_at_end(pop3_reply_parse, "+OK Dovecot ready.\r\n", &r);
	assert_true(r.ok);
	assert_string_equal(r.text, "+OK Dovecot ready.");
	assert_int_equal(pop3_reply_parse("-ERR [SYS/TEMP] busy\r\n", 22, &r, err, sizeof(err)), 22);
	assert_false(r.ok);
	assert_int_equal(pop3_reply_parse("+OK\r\n", 5, &r, err, sizeof(err)), 5);
	assert_true(r.ok);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_reply_parse(bad[i], strlen(bad[i]), &r, err, sizeof(err)), -1);
}

static void test_http_head(void **state)
{
	struct http_head h;
	const char *s = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 12\r\n"
			"Content-Type: text/html\r\n\r\nhello world!";

	assert_int_equal(http_head_parse(s, strlen(s), &h, err, sizeof(err)),
			 (long)(strlen(s) - 12));
	assert_int_equal(h.status, 200);
	assert_int_equal(h.minor, 1);
	assert_string_equal(h.text, "200 OK");
	assert_int_equal(h.content_length, 12);
	assert_false(h.chunked);
}

static void test_http_head_split(void **state)
{
	struct http_head h;
	const char *s = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 3\r\n\r\n";

	assert_complete_only_at_end(http_head_parse, s, &h);
	assert_int_equal(h.status, 503);
	assert_string_equal(h.text, "503 Service Unavailable");
}

static void test_http_head_framing(void **state)
{
	struct http_head h;
	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n";
	const char *close_delim = "HTTP/1.0 200 OK\nConnection: close\n\n";
	const char *nocl = "HTTP/1.1 204 No Content\r\n\r\n";
	const char *same = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
	const char *fold = "HTTP/1.1 200 OK\r\nX-A: a\r\n  folded\r\n\r\n";

	assert_true(http_head_parse(chunked, strlen(chunked), &h, err, sizeof(err)) > 0);
	assert_true(h.chunked);
	assert_true(http_head_parse(close_delim, strlen(close_delim), &h, err, sizeof(err)) > 0);
	assert_int_equal(h.content_length, -1);
	assert_false(h.chunked);
	assert_int_equal(h.minor, 0);
	assert_true(http_head_parse(nocl, strlen(nocl), &h, err, sizeof(err)) > 0);
	assert_false(http_status_has_body(h.status));
	assert_true(http_status_has_body(200));
	assert_false(http_status_has_body(304));
	assert_false(http_status_has_body(100));
	assert_true(http_head_parse(same, strlen(same), &h, err, sizeof(err)) > 0);
	assert_int_equal(h.content_length, 5);
	assert_true(http_head_parse(fold, strlen(fold), &h, err, sizeof(err)) > 0);
}

static void test_http_head_garbage(void **state)
{
	struct http_head h;
	const char *bad[] = {
		"220 mail ESMTP\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(http_head_parse(bad[i], strlen(bad[i]), &h, err, sizeof(err)), -1);
}

/* Decode a whole chunked stream fed in pieces of `step` bytes. */
static int decode_chunked(const char *s, size_t step, char *out, size_t outlen)
{
	struct http_chunked c;
	char buf[512];
	size_t have = 0, fed = 0, o = 0, doff, dlen, len = strlen(s);
	long n;

	http_chunked_init(&c);
	while (!c.done) {
		if (fed < len) {
			size_t k = len - fed < step ? len - fed : step;

			memcpy(buf + have, s + fed, k);
			have += k;
			fed += k;
		}
		n = http_chunked_step(&c, buf, have, &doff, &dlen, err, sizeof(err));
		if (n < 0)
			return -1;
		if (dlen && o + dlen < outlen) {
			memcpy(out + o, buf + doff, dlen);
			o += dlen;
		}
		memmove(buf, buf + n, have - (size_t)n);
		have -= (size_t)n;
		if (n == 0 && fed == len && !c.done)
			return -2;              /* truncated */
	}
	out[o] = '\0';
	return 0;
}

static void test_chunked(void **state)
{
	const char *s = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
	char out[64];
	size_t step;

	for (step = 1; step < 60; step += 7) {
		assert_int_equal(decode_chunked(s, step, out, sizeof(out)), 0);
		assert_string_equal(out, "hello world");
	}
	assert_int_equal(decode_chunked("A\nabcdefghij\n0\n\n", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "abcdefghij");
	assert_int_equal(decode_chunked("zz\r\nab\r\n0\r\n\r\n", 4, out, sizeof(out)), -1);
	assert_int_equal(decode_chunked("2\r\nabc\r\n0\r\n\r\n", 4, out, sizeof(out)), -1);
	assert_int_equal(decode_chunked("\r\n", 4, out, sizeof(out)), -1);
	assert_int_equal(decode_chunked("ffffffffffffffffff\r\n", 4, out, sizeof(out)), -1);
	assert_int_equal(decode_chunked("5\r\nhel", 4, out, sizeof(out)), -2);
}

static void test_body_match(void **state)
{
	struct body_match m;
	const char *body = "<html>status: healthy and fine</html>";
	size_t i;

	body_match_init(&m, "healthy");
	for (i = 0; body[i] && !m.found; i++)
		body_match_feed(&m, body + i, 1);
	assert_true(m.found);
	assert_int_equal(i, strstr(body, "healthy") - body + 7);
	body_match_free(&m);

	body_match_init(&m, "healthy");
	assert_false(body_match_feed(&m, "heal", 4));
	assert_false(body_match_feed(&m, "xhy", 3));
	assert_false(body_match_feed(&m, "hea", 3));
	assert_false(body_match_feed(&m, "lth", 3));
	assert_true(body_match_feed(&m, "y", 1));
	body_match_free(&m);

	body_match_init(&m, "ok");
	assert_false(body_match_feed(&m, "nothing here", 12));
	assert_false(body_match_full(&m));
	body_match_free(&m);
}

static void test_body_match_limit(void **state)
{
	struct body_match m;
	char *big = calloc(1, HTTP_BODY_MAX + 16);

	memset(big, 'x', HTTP_BODY_MAX + 16);
	memcpy(big + HTTP_BODY_MAX - 2, "MARK", 4);     /* straddles the limit */
	body_match_init(&m, "MARK");
	assert_false(body_match_feed(&m, big, 1000));
	assert_false(body_match_feed(&m, big + 1000, HTTP_BODY_MAX + 16 - 1000));
	assert_true(body_match_full(&m));
	body_match_free(&m);
	memcpy(big + HTTP_BODY_MAX - 4, "MARK", 4);     /* the last bytes searched */
	body_match_init(&m, "MARK");
	assert_true(body_match_feed(&m, big, HTTP_BODY_MAX + 16));
	body_match_free(&m);
	free(big);
}

static void test_state_first_probe(void **state)
{
	struct check_state st = { .healthy = false };

	assert_int_equal(check_state_update(&st, true, 3, 3), CHECK_WENT_UP);
	assert_true(st.healthy);
	st = (struct check_state){ .healthy = false };
	assert_int_equal(check_state_update(&st, false, 3, 3), CHECK_SAME);
	assert_false(st.healthy);
	/* after a failed first probe, rise applies */
	assert_int_equal(check_state_update(&st, true, 3, 3), CHECK_SAME);
	assert_true(check_state_transient(&st));
	assert_int_equal(check_state_update(&st, true, 3, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, true, 3, 3), CHECK_WENT_UP);
	assert_false(check_state_transient(&st));
}

static void test_state_rise_fall(void **state)
{
	struct check_state st = { .checked = true, .healthy = true };

	assert_int_equal(check_state_update(&st, false, 2, 3), CHECK_SAME);
	assert_true(check_state_transient(&st));
	assert_int_equal(check_state_update(&st, true, 2, 3), CHECK_SAME);   /* resets */
	assert_false(check_state_transient(&st));
	assert_int_equal(check_state_update(&st, false, 2, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, false, 2, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, false, 2, 3), CHECK_WENT_DOWN);
	assert_false(st.healthy);
	assert_false(check_state_transient(&st));
	assert_int_equal(check_state_update(&st, false, 2, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, true, 2, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, false, 2, 3), CHECK_SAME);  /* resets */
	assert_int_equal(check_state_update(&st, true, 2, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, true, 2, 3), CHECK_WENT_UP);
	/* fall 1: the first failure takes it down */
	assert_int_equal(check_state_update(&st, false, 1, 1), CHECK_WENT_DOWN);
	assert_int_equal(check_state_update(&st, true, 1, 1), CHECK_WENT_UP);
}

/* A backend not up since its check (re)started: `fall` failures in a row are
 * reported once (CHECK_NEVER_UP), whatever follows. */
static void test_state_never_up(void **state)
{
	struct check_state st;
	int i;

	check_state_restart(&st);
	assert_false(st.healthy);
	assert_int_equal(check_state_update(&st, false, 3, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, false, 3, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, false, 3, 3), CHECK_NEVER_UP);
	for (i = 0; i < 10; i++)
		assert_int_equal(check_state_update(&st, false, 3, 3), CHECK_SAME);
	/* passes short of rise, then failures again: not reported twice */
	assert_int_equal(check_state_update(&st, true, 3, 3), CHECK_SAME);
	assert_int_equal(check_state_update(&st, true, 3, 3), CHECK_SAME);
	for (i = 0; i < 10; i++)
		assert_int_equal(check_state_update(&st, false, 3, 3), CHECK_SAME);
	/* fall 1: the first failure is the report */
	check_state_restart(&st);
	assert_int_equal(check_state_update(&st, false, 1, 1), CHECK_NEVER_UP);
	assert_int_equal(check_state_update(&st, false, 1, 1), CHECK_SAME);
	/* a failure between passes restarts the count */
	check_state_restart(&st);
	assert_int_equal(check_state_update(&st, false, 2, 2), CHECK_SAME);
	assert_int_equal(check_state_update(&st, true, 2, 2), CHECK_SAME);
	assert_int_equal(check_state_update(&st, false, 2, 2), CHECK_SAME);
	assert_int_equal(check_state_update(&st, false, 2, 2), CHECK_NEVER_UP);
	/* once up, a later fall is an ordinary up -> down, never "never up" */
	check_state_restart(&st);
	assert_int_equal(check_state_update(&st, true, 3, 2), CHECK_WENT_UP);
	assert_int_equal(check_state_update(&st, false, 3, 2), CHECK_SAME);
	assert_int_equal(check_state_update(&st, false, 3, 2), CHECK_WENT_DOWN);
	for (i = 0; i < 10; i++)
		assert_int_equal(check_state_update(&st, false, 3, 2), CHECK_SAME);
	/* a restart (leaving maintenance) forgets the old verdict: down, unproven,
	 * and the first fresh pass decides at once */
	check_state_restart(&st);
	assert_false(st.healthy);
	assert_int_equal(check_state_update(&st, true, 3, 2), CHECK_WENT_UP);
}

static void test_state_timing(void **state)
{
	struct check_conf cc = { .interval_ms = 2000, .timeout_ms = 1000, .rise = 2, .fall = 3 };
	struct check_state up = { .checked = true, .healthy = true };
	struct check_state suspect = { .checked = true, .healthy = true, .nfail = 1 };
	uint32_t r;

	assert_int_equal(check_fast_interval(2000, 1000), 250);
	assert_int_equal(check_fast_interval(100, 1000), 25);
	assert_int_equal(check_fast_interval(20, 10), 10);
	assert_int_equal(check_fast_interval(5, 1000), 5);
	/* start to start: a probe that took 300 ms of a 2 s interval */
	for (r = 0; r < 1000; r += 37) {
		uint64_t d = check_next_delay(&up, &cc, 10000, 10300, 5, r * 7919u);

		assert_true(d <= 1700 && d >= 1500);
		d = check_next_delay(&up, &cc, 10000, 10300, 1, r * 7919u);
		assert_true(d >= 700 && d <= 1700);
	}
	assert_int_equal(check_next_delay(&suspect, &cc, 10000, 10100, 5, 0), 150);
	/* a probe that hit the 1 s deadline: the next one at once */
	assert_int_equal(check_next_delay(&suspect, &cc, 10000, 11000, 5, 0), 0);
	/* not transient and overran: a quarter to half an interval later */
	for (r = 0; r < 100000; r += 997) {
		uint64_t d = check_next_delay(&up, &cc, 10000, 12100, 5, r * 2654435761u);

		assert_true(d >= 500 && d <= 1000);
	}
	assert_int_equal(check_first_spread(2000, 20), CHECK_FIRST_JITTER_MS);
	assert_int_equal(check_first_spread(2000, 1000), 500);
	assert_int_equal(check_first_spread(400, 1000), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_line),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_smtp_banner),
		cmocka_unit_test(test_smtp_multiline),
		cmocka_unit_test(test_smtp_errors_are_replies),
		cmocka_unit_test(test_smtp_two_replies),
		cmocka_unit_test(test_smtp_garbage),
		cmocka_unit_test(test_imap_lines),
		cmocka_unit_test(test_imap_garbage),
		cmocka_unit_test(test_pop3),
		cmocka_unit_test(test_http_head),
		cmocka_unit_test(test_http_head_split),
		cmocka_unit_test(test_http_head_framing),
		cmocka_unit_test(test_http_head_garbage),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_body_match),
		cmocka_unit_test(test_body_match_limit),
		cmocka_unit_test(test_state_first_probe),
		cmocka_unit_test(test_state_rise_fall),
		cmocka_unit_test(test_state_never_up),
		cmocka_unit_test(test_state_timing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
