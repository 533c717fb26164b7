/* test_events.c - the event log ring: bounded, newest first, cleaned text,
 * ISO times; and its JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/events.h"
#include "ctl/status.h"

static void test_ring_bounded_newest_first(void **state)
{
	struct events *ev = events_new();
	char text[32];

	assert_int_equal(events_count(ev), 0);
	assert_null(events_get(ev, 0));
	for (int i = 1; i <= EVENTS_MAX + 37; i++) {
		snprintf(text, sizeof(text), "event %d", i);
		events_add(ev, 1000.0 + i, EVENT_BACKEND, "svc", "be", 0, text);
		assert_int_equal(events_count(ev), i < EVENTS_MAX ? (size_t)i : EVENTS_MAX);
		assert_string_equal(events_get(ev, 0)->text, text);
	}
	assert_int_equal(events_get(ev, 0)->seq, EVENTS_MAX + 37);
	assert_string_equal(events_get(ev, EVENTS_MAX - 1)->text, "event 38");
	assert_int_equal(events_get(ev, EVENTS_MAX - 1)->seq, 38);
	assert_null(events_get(ev, EVENTS_MAX));
	for (size_t i = 1; i < EVENTS_MAX; i++)
		assert_int_equal(events_get(ev, i)->seq + 1, events_get(ev, i - 1)->seq);
	events_free(ev);
	events_free(NULL);
	events_add(NULL, 0, EVENT_RELOAD, NULL, NULL, 0, "nobody listens");
}

static void test_text_cleaned_and_cut(void **state)
{
	struct events *ev = events_new();
	char longtext[1000];
	const struct event *e;

	events_add(ev, 0, EVENT_FAILOVER, NULL, NULL, 7, "peer says \x1b[31mhi\r\nforged line");
	e = events_get(ev, 0);
	assert_string_equal(e->text, "peer says \\x1b[31mhi\\x0d\\x0aforged line");
	assert_string_equal(e->service, "");
	assert_int_equal(e->group, 7);
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	events_add(ev, 0, EVENT_COMMAND, longtext, "b\x01", 0, longtext);
	e = events_get(ev, 0);
	assert_true(strlen(e->text) < EVENTS_TEXT_MAX);
	assert_true(strlen(e->service) < EVENTS_NAME_MAX);
	assert_string_equal(e->backend, "b\\x01");
	events_free(ev);
}

static void test_iso_time_and_kinds(void **state)
{
	char buf[40];

	assert_string_equal(events_iso_time(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
	assert_string_equal(events_iso_time(1796192367.1234, buf, sizeof(buf)),
			    "2026-12-02T06:19:27.123Z");
	assert_string_equal(events_kind_str(EVENT_BACKEND), "backend");
	assert_string_equal(events_kind_str(EVENT_FAILOVER), "failover");
	assert_string_equal(events_kind_str(EVENT_RELOAD), "reload");
	assert_string_equal(events_kind_str(EVENT_COMMAND), "command");
	assert_string_equal(events_kind_str(EVENT_SYNC), "sync");
	assert_string_equal(events_kind_str(EVENT__COUNT), "unknown");
}

static void test_json(void **state)
{
	struct events *ev = events_new();
	struct buf b;

	buf_init(&b);
	status_json_events(ev, 10, &b);
	assert_string_equal(b.data, "[]");
	events_add(ev, 0, EVENT_BACKEND, "web", "h\"1", 0, "up -> drain (vigilctl)");
	events_add(ev, 1.5, EVENT_FAILOVER, NULL, NULL, 3, "backup -> master");
	buf_reset(&b);
	status_json_events(ev, 10, &b);
	assert_string_equal(b.data,
		"[\n    {\"seq\": 2, \"time\": \"1970-01-01T00:00:01.500Z\", \"kind\": \"failover\", "
		"\"group\": 3, \"text\": \"backup -> master\"},\n"
		"    {\"seq\": 1, \"time\": \"1970-01-01T00:00:00.000Z\", \"kind\": \"backend\", "
		"\"service\": \"web\", \"backend\": \"h\\\"1\", \"text\": \"up -> drain (vigilctl)\"}\n  ]");
	buf_reset(&b);
	status_json_events(ev, 1, &b);
	assert_null(strstr(b.data, "\"seq\": 1"));
	buf_free(&b);
	events_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_bounded_newest_first),
		cmocka_unit_test(test_text_cleaned_and_cut),
		cmocka_unit_test(test_iso_time_and_kinds),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
