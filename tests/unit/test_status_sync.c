/* test_status_sync.c - the sync channel's status object and metrics
 * (ctl/status_sync.c) from a filled-in snapshot with fixed values, checked
 * byte for byte: the expected texts are what vigild wrote before the
 * renderers moved out of sync/, so any drift fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "ctl/status.h"
#include "sync/sync_view.h"

static const char *const reasons[SYNC_VIEW_REJECTS] = {
	"truncated", "oversized", "bad_mac", "replay", "malformed", "stranger",
};

/* Two peers: lb2 connected and in sync (its last answer: older), 2001:db8::3
 * never connected. The origin's name needs escaping. */
static void view_two_peers(struct sync_view *v, struct sync_view_peer peers[2])
{
	memset(v, 0, sizeof(*v));
	v->port = 7789;
	v->clock = 12;
	v->config_clock = 11;
	snprintf(v->config_origin, sizeof(v->config_origin), "lb\"2");
	v->configs_applied = 3;
	v->configs_refused = 1;
	v->operator_entries = 4;
	v->persist_sent = 100;
	v->persist_received = 90;
	memset(peers, 0, 2 * sizeof(*peers));
	snprintf(peers[0].address, sizeof(peers[0].address), "192.0.2.2");
	snprintf(peers[0].node, sizeof(peers[0].node), "lb2");
	snprintf(peers[0].version, sizeof(peers[0].version), "0.1.0");
	peers[0].connected = peers[0].has_digest = peers[0].in_sync = true;
	memset(peers[0].digest, 'a', sizeof(peers[0].digest) - 1);
	for (size_t i = 1; i < sizeof(peers[0].digest) - 1; i += 2)
		peers[0].digest[i] = 'b';
	peers[0].clock = 9;
	peers[0].last_result = "older";
	snprintf(peers[0].last_reason, sizeof(peers[0].last_reason), "newer \"one\"\n");
	peers[0].configs_sent = 5;
	peers[0].configs_received = 6;
	peers[0].ops_sent = 7;
	peers[0].ops_received = 8;
	snprintf(peers[1].address, sizeof(peers[1].address), "2001:db8::3");
	v->peers = peers;
	v->npeers = 2;
	for (size_t r = 0; r < SYNC_VIEW_REJECTS; r++)
		v->rejected[r] = (struct sync_view_count){ reasons[r], (r + 1) * 7 };
}

static const char expect_json[] =
	"{\"port\": 7789, \"clock\": 12, \"config_clock\": 11, \"config_origin\": \"lb\\\"2\", "
	"\"configs_applied\": 3, \"configs_refused\": 1, \"operator_entries\": 4, "
	"\"persist_sent\": 100, \"persist_received\": 90, "
	"\"peers\": [{\"address\": \"192.0.2.2\", \"node\": \"lb2\", \"connected\": true, "
	"\"version\": \"0.1.0\", "
	"\"config_digest\": \"abababababababababababababababababababababababababababababababab\", "
	"\"in_sync\": true, \"clock\": 9, \"last_result\": \"older\", "
	"\"last_reason\": \"newer \\\"one\\\"\\n\", \"configs_sent\": 5, "
	"\"configs_received\": 6, \"ops_sent\": 7, \"ops_received\": 8}, "
	"{\"address\": \"2001:db8::3\", \"node\": \"\", \"connected\": false, "
	"\"version\": \"\", \"config_digest\": null, \"in_sync\": false, \"clock\": 0, "
	"\"last_result\": null, \"last_reason\": \"\", \"configs_sent\": 0, "
	"\"configs_received\": 0, \"ops_sent\": 0, \"ops_received\": 0}], "
	"\"rejected\": {\"truncated\": 7, \"oversized\": 14, \"bad_mac\": 21, \"replay\": 28, "
	"\"malformed\": 35, \"stranger\": 42}}";

static const char expect_metrics[] =
	"# HELP vigil_sync_rejected_total Sync connections closed, by reason.\n"
	"# TYPE vigil_sync_rejected_total counter\n"
	"vigil_sync_rejected_total{reason=\"truncated\"} 7\n"
	"vigil_sync_rejected_total{reason=\"oversized\"} 14\n"
	"vigil_sync_rejected_total{reason=\"bad_mac\"} 21\n"
	"vigil_sync_rejected_total{reason=\"replay\"} 28\n"
	"vigil_sync_rejected_total{reason=\"malformed\"} 35\n"
	"vigil_sync_rejected_total{reason=\"stranger\"} 42\n"
	"# HELP vigil_sync_peer_connected 1 while the peer's sync channel is up.\n"
	"# TYPE vigil_sync_peer_connected gauge\n"
	"vigil_sync_peer_connected{peer=\"192.0.2.2\"} 1\n"
	"vigil_sync_peer_connected{peer=\"2001:db8::3\"} 0\n"
	"# HELP vigil_sync_peer_in_sync 1 while the peer runs this node's configuration.\n"
	"# TYPE vigil_sync_peer_in_sync gauge\n"
	"vigil_sync_peer_in_sync{peer=\"192.0.2.2\"} 1\n"
	"vigil_sync_peer_in_sync{peer=\"2001:db8::3\"} 0\n"
	"# HELP vigil_sync_configs_total Configurations received from the peer.\n"
	"# TYPE vigil_sync_configs_total counter\n"
	"vigil_sync_configs_total{result=\"applied\"} 3\n"
	"vigil_sync_configs_total{result=\"refused\"} 1\n";

static void check(void (*fn)(const struct sync_view *, struct buf *), const struct sync_view *v,
		  const char *want)
{
	struct buf b;

	buf_init(&b);
	fn(v, &b);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void test_json(void **state)
{
	struct sync_view v;
	struct sync_view_peer peers[2];

	view_two_peers(&v, peers);
	check(status_sync_json, &v, expect_json);
}

static void test_metrics(void **state)
{
	struct sync_view v;
	struct sync_view_peer peers[2];

	view_two_peers(&v, peers);
	check(status_sync_metrics, &v, expect_metrics);
}

/* No peer: empty lists, the per-peer families still declared. */
static void test_no_peer(void **state)
{
	struct sync_view v;
	struct sync_view_peer peers[2];
	struct buf b;

	view_two_peers(&v, peers);
	v.npeers = 0;
	buf_init(&b);
	status_sync_json(&v, &b);
	buf_append(&b, "", 1);
	assert_non_null(strstr(b.data, "\"persist_received\": 90, \"peers\": [], \"rejected\": {"));
	buf_reset(&b);
	status_sync_metrics(&v, &b);
	buf_append(&b, "", 1);
	assert_non_null(strstr(b.data, "# TYPE vigil_sync_peer_in_sync gauge\n"
			       "# HELP vigil_sync_configs_total"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_no_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
