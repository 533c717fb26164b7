/* test_status_failover.c - failover's status text, JSON and metrics
 * (ctl/status_failover.c) from a filled-in snapshot with fixed values,
 * checked byte for byte: the expected texts are what vigild wrote before the
 * renderers moved out of vip/ (scripts, dashboards and alerts read them), so
 * any drift fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "ctl/status.h"
#include "vip/failover_view.h"

static char *vips51[] = { "192.0.2.51", "2001:db8::51" }, *addrs51[] = { "198.51.100.1" };
static char *vips52[] = { "192.0.2.52", "2001:db8::52" }, *addrs52[] = { "198.51.100.2" };
static char *svcs51[] = { "a", "c" }, *svcs52[] = { "b", "d" }, *down[] = { "b", "x\"y" };
static const char *const reasons[FAILOVER_VIEW_REJECTS] = {
	"truncated", "oversized", "bad_mac", "version", "group", "replay", "unknown_sender",
	"ttl", "reflected", "wrong_address", "table_full",
};

/* Node lb1, two groups (51 in standby, 52 taken over), three peers: lb2
 * (standby, another VIP set), lb3 (master of 52 long ago), 192.0.2.4 never
 * heard. */
static void view_two_groups(struct failover_view *v)
{
	memset(v, 0, sizeof(*v));
	v->state = "backup";
	v->priority = 0;
	snprintf(v->node, sizeof(v->node), "lb1");
	v->boot = 0x0123456789abcdefULL;
	v->advert_version = 2;
	snprintf(v->interface, sizeof(v->interface), "eth0");
	v->advert_interval_ms = 100;
	v->groups[0] = (struct failover_view_group){
		.id = 51, .state = "backup", .standby = true, .priority = 0, .base_priority = 150,
		.since = 1700000002.0, .master_down_s = 0.4, .transitions = 7, .garps_sent = 4,
		.vips = vips51, .nvips = 2, .addresses = addrs51, .naddresses = 1,
		.services = svcs51, .nservices = 2,
	};
	snprintf(v->groups[0].reason, sizeof(v->groups[0].reason), "a \"quoted\"\\reason\n");
	v->groups[1] = (struct failover_view_group){
		.id = 52, .state = "backup", .forced = true, .priority = 255, .base_priority = 100,
		.since = 1700000003.25, .master_down_s = 0.4, .transitions = 3, .garps_sent = 6,
		.duplicate_refusals = 1, .vips_restored = 5, .vips = vips52, .nvips = 2,
		.addresses = addrs52, .naddresses = 1, .services = svcs52, .nservices = 2,
	};
	snprintf(v->groups[1].reason, sizeof(v->groups[1].reason), "start-up");
	v->ngroups = 2;
	v->peers[0] = (struct failover_view_peer){
		.address = "192.0.2.2", .seen = true, .last_seen_s = 0.2504, .heard = true,
		.node = "lb2", .state = "backup", .priority = 0, .standby = true,
		.vip_set_match = false, .boot = 0xfeedface00000007ULL, .restarts = 3,
	};
	v->peers[1] = (struct failover_view_peer){
		.address = "2001:db8::2", .seen = true, .last_seen_s = 1.5, .heard = true,
		.node = "lb3", .state = "master", .priority = 150, .vip_set_match = true,
		.boot = 0xfeedface00000008ULL,
	};
	v->peers[2] = (struct failover_view_peer){ .address = "192.0.2.4" };
	v->npeers = 3;
	v->services_down = down;
	v->nservices_down = 2;
	v->gate = (struct failover_view_gate){ .state = "learnt", .waited_ms = 8.4 };
	snprintf(v->gate.reason, sizeof(v->gate.reason), "operator state learnt from lb2");
	v->adverts_sent = 1000;
	v->adverts_received = 990;
	v->advert_gaps = 2;
	for (size_t r = 0; r < FAILOVER_VIEW_REJECTS; r++)
		v->rejected[r] = (struct failover_view_count){ reasons[r], r * 10 + 11 };
	v->states[0] = "init";
	v->states[1] = "backup";
	v->states[2] = "master";
	v->states[3] = "fault";
}

static const char expect_text[] =
	"  (a \"quoted\"\\reason\n"
	")\n"
	"  adverts sent 1000  received 990  rejected 671\n"
	"  group 51: backup (standby) priority 0 (a \"quoted\"\\reason\n"
	")\n"
	"  group 52: backup priority 255 (start-up)\n"
	"  peer 192.0.2.2: lb2 backup (standby) priority 0, last advert 250 ms ago, "
	"VIP set differs\n"
	"  peer 2001:db8::2: lb3 master priority 150, last advert 1500 ms ago\n"
	"  peer 192.0.2.4: never heard";

static const char expect_json[] =
	", \"node\": \"lb1\", \"boot\": \"0123456789abcdef\", \"advert_version\": 2, "
	"\"interface\": \"eth0\", \"base_priority\": 150, \"standby\": true, "
	"\"forced\": false, \"advert_interval_ms\": 100, \"master_down_ms\": 400, "
	"\"reason\": \"a \\\"quoted\\\"\\\\reason\\n\", \"since\": 1700000002.000, "
	"\"transitions\": 10, \"vips\": [\"192.0.2.51\", \"2001:db8::51\", \"192.0.2.52\", "
	"\"2001:db8::52\"], \"services_down\": [\"b\", \"x\\\"y\"], \"start_gate\": {\"state\": "
	"\"learnt\", \"reason\": \"operator state learnt from lb2\", \"waited_ms\": 8}, "
	"\"groups\": [{\"id\": 51, "
	"\"state\": \"backup\", \"priority\": 0, \"base_priority\": 150, \"standby\": true, "
	"\"forced\": false, \"master\": null, \"reason\": \"a \\\"quoted\\\"\\\\reason\\n\", "
	"\"since\": 1700000002.000, \"transitions\": 7, \"vips\": [\"192.0.2.51\", "
	"\"2001:db8::51\"], \"addresses\": [\"198.51.100.1\"], \"services\": [\"a\", \"c\"]}, "
	"{\"id\": 52, \"state\": \"backup\", \"priority\": 255, \"base_priority\": 100, "
	"\"standby\": false, \"forced\": true, \"master\": null, \"reason\": \"start-up\", "
	"\"since\": 1700000003.250, \"transitions\": 3, \"vips\": [\"192.0.2.52\", "
	"\"2001:db8::52\"], \"addresses\": [\"198.51.100.2\"], \"services\": [\"b\", \"d\"]}], "
	"\"peers\": [{\"address\": \"192.0.2.2\", \"node\": \"lb2\", \"state\": \"backup\", "
	"\"priority\": 0, \"standby\": true, \"last_seen_ms\": 250, \"vip_set_match\": false, "
	"\"boot\": \"feedface00000007\", \"restarts\": 3}, {\"address\": \"2001:db8::2\", "
	"\"node\": \"lb3\", \"state\": \"master\", \"priority\": 150, \"standby\": false, "
	"\"last_seen_ms\": 1500, \"vip_set_match\": true, \"boot\": \"feedface00000008\", "
	"\"restarts\": 0}, {\"address\": \"192.0.2.4\", \"last_seen_ms\": null}], "
	"\"adverts\": {\"sent\": 1000, \"received\": 990, \"rejected\": {\"truncated\": 11, "
	"\"oversized\": 21, \"bad_mac\": 31, \"version\": 41, \"group\": 51, \"replay\": 61, "
	"\"unknown_sender\": 71, \"ttl\": 81, \"reflected\": 91, \"wrong_address\": 101, "
	"\"table_full\": 111}, \"gaps\": 2}, \"garps_sent\": 10, \"duplicate_refusals\": 1, "
	"\"vips_restored\": 5";

static const char expect_metrics[] =
	"# HELP vigil_failover_state 1 for the current failover state\n"
	"# TYPE vigil_failover_state gauge\n"
	"vigil_failover_state{state=\"init\"} 0\n"
	"vigil_failover_state{state=\"backup\"} 1\n"
	"vigil_failover_state{state=\"master\"} 0\n"
	"vigil_failover_state{state=\"fault\"} 0\n"
	"# HELP vigil_failover_priority Effective advertised priority\n"
	"# TYPE vigil_failover_priority gauge\n"
	"vigil_failover_priority 0\n"
	"# HELP vigil_failover_transitions_total State changes\n"
	"# TYPE vigil_failover_transitions_total counter\n"
	"vigil_failover_transitions_total 10\n"
	"# HELP vigil_failover_group_state 1 for each failover group's current state\n"
	"# TYPE vigil_failover_group_state gauge\n"
	"vigil_failover_group_state{group=\"51\",state=\"init\"} 0\n"
	"vigil_failover_group_state{group=\"51\",state=\"backup\"} 1\n"
	"vigil_failover_group_state{group=\"51\",state=\"master\"} 0\n"
	"vigil_failover_group_state{group=\"51\",state=\"fault\"} 0\n"
	"vigil_failover_group_state{group=\"52\",state=\"init\"} 0\n"
	"vigil_failover_group_state{group=\"52\",state=\"backup\"} 1\n"
	"vigil_failover_group_state{group=\"52\",state=\"master\"} 0\n"
	"vigil_failover_group_state{group=\"52\",state=\"fault\"} 0\n"
	"# HELP vigil_failover_group_priority Effective advertised priority of each group\n"
	"# TYPE vigil_failover_group_priority gauge\n"
	"vigil_failover_group_priority{group=\"51\"} 0\n"
	"vigil_failover_group_priority{group=\"52\"} 255\n"
	"# HELP vigil_failover_group_transitions_total State changes of each group\n"
	"# TYPE vigil_failover_group_transitions_total counter\n"
	"vigil_failover_group_transitions_total{group=\"51\"} 7\n"
	"vigil_failover_group_transitions_total{group=\"52\"} 3\n"
	"# HELP vigil_failover_adverts_sent_total Adverts sent\n"
	"# TYPE vigil_failover_adverts_sent_total counter\n"
	"vigil_failover_adverts_sent_total 1000\n"
	"# HELP vigil_failover_adverts_received_total Adverts accepted\n"
	"# TYPE vigil_failover_adverts_received_total counter\n"
	"vigil_failover_adverts_received_total 990\n"
	"# HELP vigil_failover_adverts_rejected_total Adverts rejected, by reason\n"
	"# TYPE vigil_failover_adverts_rejected_total counter\n"
	"vigil_failover_adverts_rejected_total{reason=\"truncated\"} 11\n"
	"vigil_failover_adverts_rejected_total{reason=\"oversized\"} 21\n"
	"vigil_failover_adverts_rejected_total{reason=\"bad_mac\"} 31\n"
	"vigil_failover_adverts_rejected_total{reason=\"version\"} 41\n"
	"vigil_failover_adverts_rejected_total{reason=\"group\"} 51\n"
	"vigil_failover_adverts_rejected_total{reason=\"replay\"} 61\n"
	"vigil_failover_adverts_rejected_total{reason=\"unknown_sender\"} 71\n"
	"vigil_failover_adverts_rejected_total{reason=\"ttl\"} 81\n"
	"vigil_failover_adverts_rejected_total{reason=\"reflected\"} 91\n"
	"vigil_failover_adverts_rejected_total{reason=\"wrong_address\"} 101\n"
	"vigil_failover_adverts_rejected_total{reason=\"table_full\"} 111\n"
	"# HELP vigil_failover_garps_sent_total Gratuitous ARPs / unsolicited NAs sent\n"
	"# TYPE vigil_failover_garps_sent_total counter\n"
	"vigil_failover_garps_sent_total 10\n"
	"# HELP vigil_failover_peer_last_seen_seconds Seconds since the last advert from a "
	"peer (-1: never)\n"
	"# TYPE vigil_failover_peer_last_seen_seconds gauge\n"
	"vigil_failover_peer_last_seen_seconds 0.250\n";

/* Render with fn and compare with want, byte for byte. */
static void check(void (*fn)(const struct failover_view *, struct buf *),
		  const struct failover_view *v, const char *want)
{
	struct buf b;

	buf_init(&b);
	fn(v, &b);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void test_text(void **state)
{
	struct failover_view v;

	view_two_groups(&v);
	check(status_failover_text, &v, expect_text);
}

static void test_json(void **state)
{
	struct failover_view v;

	view_two_groups(&v);
	check(status_failover_json, &v, expect_json);
}

static void test_metrics(void **state)
{
	struct failover_view v;

	view_two_groups(&v);
	check(status_failover_metrics, &v, expect_metrics);
}

/* One group: no group lines in the text; the master is a peer; the last
 * advert metric counts a peer seen about no group of ours, and the latest
 * of several. */
static void test_one_group(void **state)
{
	struct failover_view v;
	struct buf b;

	view_two_groups(&v);
	v.ngroups = 1;
	v.state = "master";
	v.gate = (struct failover_view_gate){ .state = "waiting", .waiting = true,
					      .waited_ms = 1234.4 };
	v.groups[0].has_master = true;
	snprintf(v.groups[0].master, sizeof(v.groups[0].master), "lb2");
	v.peers[0].heard = false;
	v.peers[0].last_seen_s = 2.0;
	v.peers[2].seen = true;
	v.peers[2].last_seen_s = 0.0126;
	check(status_failover_text, &v,
	      "  (a \"quoted\"\\reason\n)\n  adverts sent 1000  received 990  rejected 671\n"
	      "  waiting for the peer's operator state (1234 ms so far)\n"
	      "  peer 192.0.2.2: never heard\n"
	      "  peer 2001:db8::2: lb3 master priority 150, last advert 1500 ms ago\n"
	      "  peer 192.0.2.4: never heard");
	buf_init(&b);
	status_failover_json(&v, &b);
	buf_append(&b, "", 1);
	assert_non_null(strstr(b.data, "\"master\": \"lb2\""));
	assert_non_null(strstr(b.data, "\"start_gate\": {\"state\": \"waiting\", \"reason\": \"\", "
			       "\"waited_ms\": 1234}"));
	assert_non_null(strstr(b.data, "\"peers\": [{\"address\": \"192.0.2.2\", "
			       "\"last_seen_ms\": null}, {\"address\": \"2001:db8::2\""));
	assert_non_null(strstr(b.data, "\"transitions\": 7, \"vips\": [\"192.0.2.51\", "
			       "\"2001:db8::51\"], \"services_down\""));
	buf_reset(&b);
	v.gate = (struct failover_view_gate){ .state = "off" };
	status_failover_json(&v, &b);
	buf_append(&b, "", 1);
	assert_non_null(strstr(b.data, "\"start_gate\": {\"state\": \"off\", \"reason\": \"\", "
			       "\"waited_ms\": null}"));
	buf_reset(&b);
	status_failover_metrics(&v, &b);
	buf_append(&b, "", 1);
	assert_non_null(strstr(b.data, "\nvigil_failover_state{state=\"master\"} 1\n"));
	assert_non_null(strstr(b.data, "\nvigil_failover_peer_last_seen_seconds 0.013\n"));
	assert_null(strstr(b.data, "group=\"52\""));
	buf_free(&b);
}

/* No peer ever seen: -1. */
static void test_never_seen(void **state)
{
	struct failover_view v;
	struct buf b;

	view_two_groups(&v);
	for (size_t i = 0; i < v.npeers; i++)
		v.peers[i].seen = v.peers[i].heard = false;
	buf_init(&b);
	status_failover_metrics(&v, &b);
	buf_append(&b, "", 1);
	assert_non_null(strstr(b.data, "\nvigil_failover_peer_last_seen_seconds -1.000\n"));
	buf_free(&b);
}

/* Standalone: the same two families, with the state "standalone". */
static void test_metrics_standalone(void **state)
{
	check(status_failover_metrics, NULL,
	      "# HELP vigil_failover_state 1 for this node's failover state.\n"
	      "# TYPE vigil_failover_state gauge\n"
	      "vigil_failover_state{state=\"init\"} 0\n"
	      "vigil_failover_state{state=\"backup\"} 0\n"
	      "vigil_failover_state{state=\"master\"} 0\n"
	      "vigil_failover_state{state=\"fault\"} 0\n"
	      "vigil_failover_state{state=\"standalone\"} 1\n"
	      "# HELP vigil_failover_priority Effective failover priority (0 when standalone).\n"
	      "# TYPE vigil_failover_priority gauge\n"
	      "vigil_failover_priority 0\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_one_group),
		cmocka_unit_test(test_never_seen),
		cmocka_unit_test(test_metrics_standalone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
