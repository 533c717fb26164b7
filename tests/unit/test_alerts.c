/* test_alerts.c - the alerts' pure part (notify/alert_batch.c) driven by a
 * fake clock: windows, the hourly rate limit and its count of suppressed
 * alerts, the texts of a batch; and the alerts section of the configuration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "config/config.h"
#include "notify/alert_batch.h"

#define T0 1796209502.0               /* 2026-12-02T11:05:02Z, the alerts' wall clock */

static struct alert backend_down(const char *be, double when)
{
	return (struct alert){ .kind = ALERT_BACKEND_DOWN, .when = when, .service = "web",
			       .backend = be, .text = "up -> down (connection refused)" };
}

/* The first event opens a window due batch later; the others join it. */
static void test_window(void **state)
{
	struct alert_batcher b;
	struct alert_batch bt;
	struct alert a = backend_down("h1", T0);
	struct alert f = { .kind = ALERT_FAILOVER, .when = T0 + 1, .group = 51,
			   .text = "backup -> master (no master heard)" };

	alert_batcher_init(&b, 10000, 30);
	assert_false(alert_batcher_flush(&b, 5.0, &bt));       /* nothing open */
	assert_true(alert_batcher_add(&b, &a, 100.0));
	assert_true(b.due > 109.99 && b.due < 110.01);
	assert_false(alert_batcher_add(&b, &f, 101.0));
	assert_false(alert_batcher_add(&b, &a, 109.0));
	assert_true(alert_batcher_flush(&b, 110.0, &bt));
	assert_int_equal(bt.n, 3);
	assert_int_equal(bt.more, 0);
	assert_int_equal(bt.suppressed, 0);
	assert_int_equal(bt.items[1].kind, ALERT_FAILOVER);
	assert_int_equal(bt.items[1].group, 51);
	assert_string_equal(bt.items[0].backend, "h1");
	alert_batch_free(&bt);
	/* the next event opens a new window */
	assert_true(alert_batcher_add(&b, &a, 200.0));
	assert_true(alert_batcher_flush(&b, 210.0, &bt));
	assert_int_equal(bt.n, 1);
	alert_batch_free(&bt);
	assert_int_equal(b.events_total, 4);
	assert_int_equal(b.batches_total, 2);
	alert_batcher_free(&b);
}

/* At most max_per_hour batches in any hour: a window beyond is dropped and
 * counted, and the next delivered batch tells how many and since when. */
static void test_rate_limit(void **state)
{
	struct alert_batcher b;
	struct alert_batch bt;
	double now = 1000.0;

	alert_batcher_init(&b, 1000, 2);
	for (int i = 0; i < 2; i++) {
		struct alert a = backend_down("h1", T0 + i);

		alert_batcher_add(&b, &a, now + 10 * i);
		assert_true(alert_batcher_flush(&b, now + 10 * i + 1, &bt));
		alert_batch_free(&bt);
	}
	/* two more windows within the hour: 3 + 2 alerts suppressed */
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < 3 - w; i++) {
			struct alert a = backend_down("h2", T0 + 100 + 10 * w + i);

			alert_batcher_add(&b, &a, now + 100 + 10 * w);
		}
		assert_false(alert_batcher_flush(&b, now + 101 + 10 * w, &bt));
		assert_null(bt.items);
	}
	assert_int_equal(b.suppressed_total, 5);
	/* one hour after the first batch, a slot is free again */
	{
		struct alert a = backend_down("h3", T0 + 3600);

		alert_batcher_add(&b, &a, now + 3600.5);
		assert_false(alert_batcher_flush(&b, now + 3600.9, &bt));  /* 3599.9 s: not yet */
		assert_int_equal(b.suppressed_total, 6);
		alert_batcher_add(&b, &a, now + 3601.0);
		assert_true(alert_batcher_flush(&b, now + 3602.0, &bt));
	}
	assert_int_equal(bt.n, 1);
	assert_int_equal(bt.suppressed, 6);
	assert_true(bt.suppressed_since == T0 + 100);
	assert_int_equal(bt.max_per_hour, 2);
	alert_batch_free(&bt);
	/* the count restarts after it was told */
	assert_int_equal(b.suppressed, 0);
	assert_int_equal(b.suppressed_total, 6);
	assert_int_equal(b.batches_total, 3);
	assert_int_equal(b.events_total, 1 + 1 + 3 + 2 + 1 + 1);
	alert_batcher_free(&b);
}

/* A flapping backend for an hour: exactly max_per_hour batches, every other
 * alert counted as suppressed, none lost. */
static void test_flapping_hour(void **state)
{
	struct alert_batcher b;
	struct alert_batch bt;
	uint64_t delivered = 0, listed = 0, told = 0;

	alert_batcher_init(&b, 10000, 5);
	for (int s = 0; s < 3600; s += 2) {
		struct alert a = backend_down("h1", T0 + s);

		a.kind = s % 4 ? ALERT_BACKEND_UP : ALERT_BACKEND_DOWN;
		if (alert_batcher_add(&b, &a, s) || !b.open)
			continue;
		if (s >= b.due && alert_batcher_flush(&b, s, &bt)) {
			delivered++;
			listed += bt.n;
			told += bt.suppressed;
			alert_batch_free(&bt);
		}
	}
	assert_int_equal(delivered, 5);
	assert_int_equal(b.batches_total, 5);
	assert_int_equal(listed + told + b.suppressed + b.n, b.events_total);
	assert_true(b.suppressed_total > 1500);
	alert_batcher_free(&b);
}

/* More than ALERTS_BATCH_MAX in a window: the first are listed, the rest counted. */
static void test_overflow(void **state)
{
	struct alert_batcher b;
	struct alert_batch bt;
	struct buf body;

	alert_batcher_init(&b, 10000, 30);
	for (int i = 0; i < ALERTS_BATCH_MAX + 7; i++) {
		struct alert a = backend_down("h1", T0);

		alert_batcher_add(&b, &a, 1.0);
	}
	assert_true(alert_batcher_flush(&b, 11.0, &bt));
	assert_int_equal(bt.n, ALERTS_BATCH_MAX);
	assert_int_equal(bt.more, 7);
	buf_init(&body);
	alert_batch_body(&bt, "lb1", &body);
	assert_non_null(strstr(body.data, "vigil on lb1: 107 alerts\n"));
	assert_non_null(strstr(body.data, "... and 7 more alerts in the same window, not listed\n"));
	buf_free(&body);
	alert_batch_free(&bt);
	alert_batcher_free(&b);
}

/* Subject, body and the program's lines of a batch. */
static void test_texts(void **state)
{
	struct alert_item items[] = {
		{ .kind = ALERT_BACKEND_DOWN, .when = T0 + 0.25, .service = "web", .backend = "h1",
		  .text = "up -> down (connection refused)" },
		{ .kind = ALERT_SERVICE_DOWN, .when = T0 + 0.25, .service = "web",
		  .text = "no backend up: new clients are refused" },
		{ .kind = ALERT_FAILOVER, .when = T0 + 1, .group = 51,
		  .text = "master -> backup (peer lb2 has a higher priority)" },
		{ .kind = ALERT_SYNC_REFUSED, .when = T0 + 2, .text = "configuration from peer "
		  "lb2 refused: vigil versions differ" },
	};
	struct alert_batch bt = { .items = items, .n = 4, .suppressed = 12,
				  .suppressed_since = T0 - 600, .max_per_hour = 30 };
	char subject[256];
	struct buf b;

	alert_batch_subject(&bt, "lb1", subject, sizeof(subject));
	assert_string_equal(subject, "[vigil] lb1: 4 alerts: backend web/h1 down (+3 more)");
	bt.n = 1;
	bt.suppressed = 0;
	alert_batch_subject(&bt, "lb1", subject, sizeof(subject));
	assert_string_equal(subject, "[vigil] lb1: 1 alert: backend web/h1 down");
	bt.items = items + 2;
	alert_batch_subject(&bt, "lb1", subject, sizeof(subject));
	assert_string_equal(subject, "[vigil] lb1: 1 alert: failover group:51: master -> backup (peer lb2 "
			    "has a higher priority)");
	bt.items = items;
	bt.n = 4;
	bt.suppressed = 12;
	buf_init(&b);
	alert_batch_body(&bt, "lb1", &b);
	assert_string_equal(b.data,
		"vigil on lb1: 4 alerts\n\n"
		"2026-12-02T11:05:02.250Z  backend-down  web/h1  up -> down (connection refused)\n"
		"2026-12-02T11:05:02.250Z  service-down  web  no backend up: new clients are refused\n"
		"2026-12-02T11:05:03.000Z  failover      group:51  master -> backup (peer lb2 has a "
		"higher priority)\n"
		"2026-12-02T11:05:04.000Z  sync-refused  -  configuration from peer lb2 refused: "
		"vigil versions differ\n"
		"\n12 alerts were suppressed since 2026-12-02T10:55:02.000Z: alerts.max_per_hour "
		"(30) was reached\n"
		"\n-- \nvigil alerts (alerts: in vigil.yaml)\n");
	buf_reset(&b);
	alert_batch_lines(&bt, &b);
	assert_string_equal(b.data,
		"2026-12-02T11:05:02.250Z\tbackend-down\tweb/h1\tup -> down (connection refused)\n"
		"2026-12-02T11:05:02.250Z\tservice-down\tweb\tno backend up: new clients are refused\n"
		"2026-12-02T11:05:03.000Z\tfailover\tgroup:51\tmaster -> backup (peer lb2 has a "
		"higher priority)\n"
		"2026-12-02T11:05:04.000Z\tsync-refused\t-\tconfiguration from peer lb2 refused: "
		"vigil versions differ\n");
	buf_free(&b);
}

/* Outside bytes in names and texts are cleaned on the way in (no CR/LF
 * reaches a mail header or the program's line format). */
static void test_cleaned(void **state)
{
	struct alert_batcher b;
	struct alert_batch bt;
	struct alert a = { .kind = ALERT_SYNC_REFUSED, .when = T0,
			   .text = "peer said\r\nBcc: x@evil.example\tand a tab" };
	char subject[256];
	struct buf lines;

	alert_batcher_init(&b, 100, 30);
	alert_batcher_add(&b, &a, 0);
	assert_true(alert_batcher_flush(&b, 1, &bt));
	assert_null(strpbrk(bt.items[0].text, "\r\n\t"));
	alert_batch_subject(&bt, "lb1", subject, sizeof(subject));
	assert_null(strpbrk(subject, "\r\n"));
	buf_init(&lines);
	alert_batch_lines(&bt, &lines);
	assert_int_equal(strchr(lines.data, '\n') - lines.data, (long)lines.len - 1);
	buf_free(&lines);
	alert_batch_free(&bt);
	alert_batcher_free(&b);
}

/* A reload may lower the limit: the newest deliveries of the hour are kept. */
static void test_set_keeps_history(void **state)
{
	struct alert_batcher b;
	struct alert_batch bt;
	struct alert a = backend_down("h1", T0);

	alert_batcher_init(&b, 1000, 10);
	for (int i = 0; i < 4; i++) {
		alert_batcher_add(&b, &a, 10.0 * i);
		assert_true(alert_batcher_flush(&b, 10.0 * i + 1, &bt));
		alert_batch_free(&bt);
	}
	alert_batcher_set(&b, 2000, 3);
	assert_int_equal(b.nsent, 3);
	assert_true(b.sent[0] == 11.0);
	alert_batcher_add(&b, &a, 50.0);
	assert_true(b.due == 52.0);
	assert_false(alert_batcher_flush(&b, 52.0, &bt));
	alert_batcher_free(&b);
}

static void test_config(void **state)
{
	static const char yaml[] =
		"services:\n"
		"  - {name: web, vip: 192.0.2.10, ports: [80], backends: [{name: h1, address: 198.51.100.11}]}\n"
		"alerts:\n"
		"  batch: 2s\n"
		"  max_per_hour: 12\n"
		"  exec: /usr/local/bin/page\n"
		"  email:\n"
		"    smtp: 198.51.100.25:587\n"
		"    from: vigil@example.com\n"
		"    to: [ops@example.com, oncall+vigil@example.org]\n"
		"    username: vigil@example.com\n"
		"    password_file: /etc/vigil/smtp.pass\n"
		"    tls: implicit\n";
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string("a.yaml", yaml, strlen(yaml), &errs);

	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	assert_non_null(cfg);
	assert_true(cfg->has_alerts);
	assert_int_equal(cfg->alerts.batch_ms, 2000);
	assert_int_equal(cfg->alerts.max_per_hour, 12);
	assert_string_equal(cfg->alerts.exec, "/usr/local/bin/page");
	assert_true(cfg->alerts.has_email);
	assert_int_equal(cfg->alerts.email.nto, 2);
	assert_string_equal(cfg->alerts.email.to[1], "oncall+vigil@example.org");
	assert_string_equal(cfg->alerts.email.username, "vigil@example.com");
	assert_string_equal(cfg->alerts.email.password_file, "/etc/vigil/smtp.pass");
	assert_int_equal(cfg->alerts.email.tls, EMAIL_TLS_IMPLICIT);
	cfg_free(cfg);
	cfg_errors_free(&errs);
	/* defaults */
	cfg = cfg_load_string("b.yaml", "alerts: {exec: /bin/true}\n", 25, &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->alerts.batch_ms, 10000);
	assert_int_equal(cfg->alerts.max_per_hour, 30);
	assert_false(cfg->alerts.has_email);
	cfg_free(cfg);
	cfg_errors_free(&errs);
}

static void test_mail_addr(void **state)
{
	assert_true(cfg_mail_addr_ok("ops@example.com"));
	assert_true(cfg_mail_addr_ok("a.b+c-d_e@sub.example.org"));
	assert_false(cfg_mail_addr_ok("ops"));
	assert_false(cfg_mail_addr_ok("@example.com"));
	assert_false(cfg_mail_addr_ok("ops@"));
	assert_false(cfg_mail_addr_ok("a@b@c"));
	assert_false(cfg_mail_addr_ok("ops @example.com"));
	assert_false(cfg_mail_addr_ok("<ops@example.com>"));
	assert_false(cfg_mail_addr_ok("ops@example.com>\r\nRCPT TO:<x@y"));
	assert_false(cfg_mail_addr_ok("\"quoted\"@example.com"));
	assert_false(cfg_mail_addr_ok("a@b,c@d"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_flapping_hour),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_texts),
		cmocka_unit_test(test_cleaned),
		cmocka_unit_test(test_set_keeps_history),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_mail_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
