/* test_peer_table.c - who may speak to us: reflection, sender identity and
 * binding, replay state per node and boot, the bounded sender table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vip/peer_table.h"

#define STALE 1.0       /* 10 adverts of 100 ms */

static const struct peer_self self = { .node = "lb1", .boot = 0x1111 };

static struct addr ip(const char *s)
{
	struct addr a;

	assert_int_equal(addr_parse_ip(s, &a), 0);
	return a;
}

static struct peer_msg msg(const char *node, uint64_t boot, uint64_t seq)
{
	struct peer_msg m;

	memset(&m, 0, sizeof(m));
	snprintf(m.node, sizeof(m.node), "%s", node);
	m.boot = boot;
	m.seq = seq;
	return m;
}

static enum peer_reject admit(struct peer_table *t, const char *from, const char *node,
			      uint64_t boot, uint64_t seq, double now, bool *restarted)
{
	struct peer_msg m = msg(node, boot, seq);
	struct addr a = ip(from);
	struct peer_sender *s = NULL;
	bool r;
	char err[160];
	enum peer_reject rc = peer_table_admit(t, &self, &a, &m, now, &s, &r, err, sizeof(err));

	if (rc == PEER_OK) {
		assert_non_null(s);
		assert_string_equal(s->node, node);
		s->heard = true;          /* as peer_io does */
		s->last_seen = now;
	} else {
		assert_true(err[0] != '\0');
	}
	if (restarted)
		*restarted = rc == PEER_OK && r;
	return rc;
}

static enum peer_reject chk(struct peer_replay *r, uint64_t boot, uint64_t seq, double now,
			    bool *re)
{
	return peer_replay_check(r, boot, seq, now, STALE, re);
}

static void test_replay_boots(void **state)
{
	struct peer_replay r = { 0 };
	const char *why;
	bool re;

	assert_int_equal(chk(&r, 100, 5, 0.0, &re), PEER_OK);
	assert_false(re);
	assert_int_equal(chk(&r, 100, 5, 0.1, &re), PEER_REJ_REPLAY);   /* same */
	assert_int_equal(chk(&r, 100, 4, 0.1, &re), PEER_REJ_REPLAY);   /* older */
	assert_int_equal(chk(&r, 100, 6, 0.1, &re), PEER_OK);
	/* restart: a boot never seen, accepted at once although its sequence is
	 * lower and its ID smaller - no clock, no ordering of boot IDs */
	assert_int_equal(chk(&r, 7, 1, 0.2, &re), PEER_OK);
	assert_true(re);
	assert_true(r.boot == 7 && r.seq == 1 && r.restarts == 1);
	/* the old boot's adverts: all already seen */
	assert_int_equal(chk(&r, 100, 6, 0.3, &re), PEER_REJ_REPLAY);
	assert_int_equal(chk(&r, 7, 2, 0.3, &re), PEER_OK);
	assert_false(re);
	/* another restart once the first boot fell silent: it is retired for good */
	assert_int_equal(chk(&r, 8, 1, 1.5, &re), PEER_OK);
	assert_true(re);
	assert_int_equal(r.nretired, 1);
	assert_int_equal(peer_replay_peek(&r, 100, 1000, 99, STALE, &why), PEER_REJ_REPLAY);
	assert_string_equal(why, "retired boot");
	assert_int_equal(chk(&r, 100, 1000, 99, &re), PEER_REJ_REPLAY);
}

/* An attacker replays a boot we cannot know while the genuine one is heard:
 * the genuine boot is never retired, the peer never locked out. */
static void test_replay_unknown_boot_no_lockout(void **state)
{
	struct peer_replay r = { 0 };
	bool re;
	double t = 0;

	assert_int_equal(chk(&r, 0xb, 1, t, &re), PEER_OK);             /* genuine B */
	assert_int_equal(chk(&r, 0xa, 50, 0.0625, &re), PEER_OK);       /* replayed A */
	/* more unknown boots while B and A are heard: refused */
	assert_int_equal(chk(&r, 0xd, 9, 0.125, &re), PEER_REJ_REPLAY);
	for (uint64_t seq = 2; seq < 40; seq++) {
		t = 0.125 * (double)seq;      /* B every 125 ms; the window is 8 of them */
		assert_int_equal(chk(&r, 0xb, seq, t, &re), PEER_OK);
		/* a new boot only takes the slot of one silent for the window
		 * (A at 1.125 s, then each intruder 1 s after the last), never B's */
		assert_int_equal(chk(&r, 0xe0 + seq, 1, t, &re),
				 seq % 8 == 1 && seq >= 9 ? PEER_OK : PEER_REJ_REPLAY);
	}
	/* A fell silent and was retired to make room; B is still live */
	assert_true(peer_replay_is_live(&r, 0xb));
	assert_int_equal(chk(&r, 0xa, 51, t, &re), PEER_REJ_REPLAY);
	assert_int_equal(chk(&r, 0xb, 40, t += 0.1, &re), PEER_OK);
}

static void test_replay_retired_bounded(void **state)
{
	struct peer_replay r = { 0 };
	const char *why;
	bool re;

	/* boots 1..40, one a second: memory stays bounded */
	for (uint64_t b = 1; b <= 40; b++)
		assert_int_equal(chk(&r, b, 1, (double)b * 2, &re), PEER_OK);
	assert_int_equal(r.nretired, PEER_BOOTS_RETIRED);
	assert_int_equal(r.nlive, PEER_BOOTS_LIVE);
	for (uint64_t b = 39 - PEER_BOOTS_RETIRED; b < 39; b++)
		assert_int_equal(peer_replay_peek(&r, b, 99, 100, STALE, &why), PEER_REJ_REPLAY);
	/* the documented residual risk: a boot older than the FIFO is unknown */
	assert_int_equal(peer_replay_peek(&r, 1, 99, 100, STALE, &why), PEER_OK);
}

static void test_reflected(void **state)
{
	struct peer_table t = { 0 };
	struct addr peers[1] = { ip("192.0.2.2") };

	peer_table_sync(&t, peers, 1, NULL, STALE);
	/* our own advert sent back from the peer's address, or from anywhere */
	assert_int_equal(admit(&t, "192.0.2.2", "lb1", 0x1111, 50, 1, NULL), PEER_REJ_REFLECTED);
	assert_int_equal(admit(&t, "192.0.2.66", "lb1", 0x1111, 51, 1, NULL), PEER_REJ_REFLECTED);
	/* our boot ID under another name, our name under another boot ID */
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 0x1111, 52, 1, NULL), PEER_REJ_REFLECTED);
	assert_int_equal(admit(&t, "192.0.2.2", "lb1", 0x2222, 53, 1, NULL), PEER_REJ_REFLECTED);
	/* ... and none of it touched the peer's replay state */
	assert_int_equal(t.s[0].replay.nlive, 0);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 0x2222, 1, 1, NULL), PEER_OK);
	t.multicast = true;
	t.n = 0;
	assert_int_equal(admit(&t, "192.0.2.2", "lb1", 0x1111, 50, 1, NULL), PEER_REJ_REFLECTED);
	assert_int_equal(t.n, 0);
}

static void test_unicast_identity(void **state)
{
	struct peer_table t = { 0 };
	struct addr peers[2] = { ip("192.0.2.2"), ip("192.0.2.3") };
	bool re;

	peer_table_sync(&t, peers, 2, NULL, STALE);
	assert_false(t.multicast);
	assert_int_equal(admit(&t, "192.0.2.66", "lb2", 5, 1, 1, NULL), PEER_REJ_UNKNOWN);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 1, 1, NULL), PEER_OK);
	/* the address is bound to lb2 now: another node's advert from it is refused */
	assert_int_equal(admit(&t, "192.0.2.2", "lb3", 9, 1, 1, NULL), PEER_REJ_UNKNOWN);
	/* lb2's advert reflected from the other configured address */
	assert_int_equal(admit(&t, "192.0.2.3", "lb2", 5, 2, 1, NULL), PEER_REJ_ADDRESS);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 2, 1, NULL), PEER_OK);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 2, 1, NULL), PEER_REJ_REPLAY);
	/* restart with sequence 1: accepted at once */
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 6, 1, 2, &re), PEER_OK);
	assert_true(re);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 2, 2, NULL), PEER_REJ_REPLAY);
	/* a reload keeps the state of peers that stay */
	peer_table_sync(&t, peers, 1, NULL, STALE);
	assert_int_equal(t.n, 1);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 6, 1, 3, NULL), PEER_REJ_REPLAY);
	assert_int_equal(admit(&t, "192.0.2.3", "lb3", 9, 1, 3, NULL), PEER_REJ_UNKNOWN);
}

/* failover.nodes: each configured name is bound to its configured address
 * from the start, not to whoever speaks first. */
static void test_unicast_configured_names(void **state)
{
	struct peer_table t = { 0 };
	struct addr peers[2] = { ip("192.0.2.2"), ip("192.0.2.3") };
	char *names[2] = { "lb2", "lb3" };

	peer_table_sync(&t, peers, 2, names, STALE);
	assert_true(t.s[0].bound);
	assert_string_equal(t.s[0].node, "lb2");
	/* lb2 claimed from lb3's address before lb2 ever spoke: wrong address */
	assert_int_equal(admit(&t, "192.0.2.3", "lb2", 5, 1, 1, NULL), PEER_REJ_ADDRESS);
	/* ... and from an address that is no peer at all */
	assert_int_equal(admit(&t, "192.0.2.66", "lb2", 5, 1, 1, NULL), PEER_REJ_ADDRESS);
	/* a name that is not configured, from a configured address */
	assert_int_equal(admit(&t, "192.0.2.2", "lb9", 9, 1, 1, NULL), PEER_REJ_UNKNOWN);
	assert_int_equal(admit(&t, "192.0.2.66", "lb9", 9, 1, 1, NULL), PEER_REJ_UNKNOWN);
	/* the genuine nodes from their own addresses */
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 1, 1, NULL), PEER_OK);
	assert_int_equal(admit(&t, "192.0.2.3", "lb3", 7, 1, 1, NULL), PEER_OK);
	assert_int_equal(admit(&t, "192.0.2.3", "lb2", 5, 2, 1, NULL), PEER_REJ_ADDRESS);
	/* a reload that keeps the binding keeps the replay state */
	peer_table_sync(&t, peers, 2, names, STALE);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 1, 2, NULL), PEER_REJ_REPLAY);
	/* one that binds the address to another name starts afresh */
	names[0] = "lb4";
	peer_table_sync(&t, peers, 2, names, STALE);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 3, 2, NULL), PEER_REJ_UNKNOWN);
	assert_int_equal(admit(&t, "192.0.2.2", "lb4", 8, 1, 2, NULL), PEER_OK);
}

static void test_multicast_identity(void **state)
{
	struct peer_table t = { 0 };
	struct addr a4;

	peer_table_sync(&t, NULL, 0, NULL, STALE);
	assert_true(t.multicast);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 10, 1, NULL), PEER_OK);
	/* the same boot from another address: a replay from elsewhere */
	assert_int_equal(admit(&t, "192.0.2.66", "lb2", 5, 11, 1, NULL), PEER_REJ_ADDRESS);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 10, 1, NULL), PEER_REJ_REPLAY);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 11, 1, NULL), PEER_OK);
	/* restarted on a new address */
	assert_int_equal(admit(&t, "192.0.2.4", "lb2", 8, 1, 2, NULL), PEER_OK);
	assert_int_equal(t.n, 1);
	a4 = ip("192.0.2.4");
	assert_true(addr_equal_ip(&t.s[0].addr, &a4));
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 11, 2, NULL), PEER_REJ_REPLAY);
	/* an unknown boot of lb2 replayed from a stranger (boot 5 is long silent:
	 * it takes its place) does not lock the live boot 8 out */
	assert_int_equal(admit(&t, "192.0.2.66", "lb2", 99, 1, 2.1, NULL), PEER_OK);
	assert_int_equal(admit(&t, "192.0.2.66", "lb2", 98, 1, 2.15, NULL), PEER_REJ_REPLAY);
	assert_int_equal(admit(&t, "192.0.2.4", "lb2", 8, 2, 2.2, NULL), PEER_OK);
	assert_true(addr_equal_ip(&t.s[0].addr, &a4));
	assert_int_equal(admit(&t, "192.0.2.66", "lb2", 8, 3, 2.2, NULL), PEER_REJ_ADDRESS);
	assert_int_equal(admit(&t, "192.0.2.4", "lb2", 8, 3, 2.2, NULL), PEER_OK);
}

static void test_table_bounded(void **state)
{
	struct peer_table t = { 0 };
	char node[16], from[32];

	peer_table_sync(&t, NULL, 0, NULL, STALE);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 1, 0, NULL), PEER_OK);
	/* 100 other nodes within a minute: the table fills, then refuses */
	for (int i = 0; i < 100; i++) {
		snprintf(node, sizeof(node), "x%d", i);
		snprintf(from, sizeof(from), "198.51.100.%d", i + 1);
		assert_int_equal(admit(&t, from, node, 100 + (uint64_t)i, 1, 1 + i * 0.1, NULL),
				 i < PEER_MAX_SENDERS - 1 ? PEER_OK : PEER_REJ_TABLE_FULL);
		/* the established peer keeps talking and keeps its place */
		assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 2 + (uint64_t)i, 1 + i * 0.1,
				       NULL), PEER_OK);
	}
	assert_int_equal(t.n, PEER_MAX_SENDERS);
	/* later the strangers fell silent: a new node takes a stale place, never lb2's */
	assert_int_equal(admit(&t, "192.0.2.3", "lb3", 77, 1, 50, NULL), PEER_REJ_TABLE_FULL);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 500, 1 + PEER_STALE_S + 20, NULL),
			 PEER_OK);
	assert_int_equal(admit(&t, "192.0.2.3", "lb3", 77, 1, 1 + PEER_STALE_S + 20, NULL),
			 PEER_OK);
	assert_int_equal(t.n, PEER_MAX_SENDERS);
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 501, 90, NULL), PEER_OK);
}

static void test_configured_never_evicted(void **state)
{
	struct peer_table t = { 0 };
	struct addr peers[1] = { ip("192.0.2.2") };

	peer_table_sync(&t, peers, 1, NULL, STALE);
	/* unicast: strangers get no entry at all, however many */
	for (int i = 0; i < 100; i++) {
		char node[16], from[32];

		snprintf(node, sizeof(node), "x%d", i);
		snprintf(from, sizeof(from), "198.51.100.%d", i + 1);
		assert_int_equal(admit(&t, from, node, 100 + (uint64_t)i, 1, 1000, NULL),
				 PEER_REJ_UNKNOWN);
	}
	assert_int_equal(t.n, 1);
	/* never heard, silent for ages: still there */
	assert_int_equal(admit(&t, "192.0.2.2", "lb2", 5, 1, 1e6, NULL), PEER_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_boots),
		cmocka_unit_test(test_replay_unknown_boot_no_lockout),
		cmocka_unit_test(test_replay_retired_bounded),
		cmocka_unit_test(test_reflected),
		cmocka_unit_test(test_unicast_identity),
		cmocka_unit_test(test_unicast_configured_names),
		cmocka_unit_test(test_multicast_identity),
		cmocka_unit_test(test_table_bounded),
		cmocka_unit_test(test_configured_never_evicted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
