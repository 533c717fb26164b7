/* test_peer_fsm.c - the failover state machine without a socket: fake side
 * effects (struct peer_ops) and a fake clock. Master-down, preempt, yield,
 * per-group election, track per group, standby of one group, the start-up
 * gate of failover.sync. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vip/failover_view.h"
#include "vip/peer.h"

/* What the fakes saw. */
struct seen {
	int adds[256], dels[256];     /* by group id */
	int adverts[256];
	int last_prio[256];
	bool last_yield[256];
	int garps, changes, probes, gate_opened;
	int probe_rc;
	double now;
};

static struct seen seen;

static int fake_add(struct fo_group *g, const struct peer_vip *v)
{
	seen.adds[g->set.id]++;
	return 0;
}

static void fake_del(struct fo_group *g, const struct peer_vip *v)
{
	seen.dels[g->set.id]++;
}

static void fake_advert(struct fo_group *g, int priority)
{
	seen.adverts[g->set.id]++;
	seen.last_prio[g->set.id] = priority;
	seen.last_yield[g->set.id] = g->yield_pending;
	g->yield_pending = false;
}

static void fake_garp(struct fo_group *g)
{
	seen.garps++;
}

static int fake_probe(struct fo_group *g, char *who, size_t wholen)
{
	seen.probes++;
	snprintf(who, wholen, "192.0.2.51");
	return seen.probe_rc;
}

static void fake_changed(struct fo_group *g, enum peer_state old, const char *why)
{
	seen.changes++;
}

static void fake_drain(struct failover *f)
{
}

static void fake_gate_opened(struct failover *f, const char *why)
{
	seen.gate_opened++;
}

static double fake_now(const struct failover *f)
{
	return seen.now;
}

static const struct peer_ops fake_ops = {
	.add_vip = fake_add, .del_vip = fake_del, .send_advert = fake_advert,
	.garp = fake_garp, .probe = fake_probe, .changed = fake_changed, .drain = fake_drain,
	.now = fake_now, .gate_opened = fake_gate_opened,
};

static struct addr ip(const char *s)
{
	struct addr a;

	assert_int_equal(addr_parse_ip(s, &a), 0);
	return a;
}

/* Node lb1 (192.0.2.1) with peer lb2 (192.0.2.2) and groups 51 (services
 * a, VIP .51) and 52 (service b, VIP .52) at the given priorities. */
static struct failover *node(int prio51, int prio52)
{
	struct failover *f = calloc(1, sizeof(*f));
	struct addr peer = ip("192.0.2.2");
	char *names[1] = { "lb2" };
	char *svc[2] = { "a", "b" };
	int prio[2] = { prio51, prio52 };

	memset(&seen, 0, sizeof(seen));
	seen.now = 100.0;
	f->loop = ev_loop_new(EVFLAG_AUTO);
	f->ops = &fake_ops;
	f->sock = -1;
	snprintf(f->set.node, sizeof(f->set.node), "lb1");
	snprintf(f->set.ifname, sizeof(f->set.ifname), "eth0");
	f->set.advert_ms = 100;
	f->set.garp_count = 1;
	f->self = ip("192.0.2.1");
	f->have_self = f->link_up = true;
	peer_table_sync(&f->senders, &peer, 1, names, 1.0);
	for (int i = 0; i < 2; i++) {
		struct peer_vip v = { .ip = ip(i ? "192.0.2.52" : "192.0.2.51"), .prefix = 32 };
		struct fo_group_set gs = {
			.id = (uint32_t)(51 + i), .priority = (uint32_t)prio[i], .preempt = true,
			.track_services = true, .track_weight = 60, .services = &svc[i],
			.nservices = 1, .vips = &v, .nvips = 1,
		};

		f->groups[f->ngroups++] = peer_group_new(f, &gs);
	}
	peer_set_state_all(f, PEER_BACKUP, "start-up");
	return f;
}

static void node_free(struct failover *f)
{
	peer_gate_stop(f);
	for (size_t i = 0; i < f->ngroups; i++)
		peer_group_free(f->groups[i]);
	for (size_t i = 0; i < f->nsvc_down; i++)
		free(f->svc_down[i]);
	free(f->svc_down);
	ev_loop_destroy(f->loop);
	free(f);
}

/* An advert of lb2 about one group. */
static void hear(struct failover *f, uint8_t group, enum peer_state st, uint8_t prio)
{
	struct peer_msg m = { .version = PEER_MSG_VERSION, .group = group, .priority = prio,
			      .state = (uint8_t)st, .advert_ms = 100, .boot = 7, .seq = 1 };

	snprintf(m.node, sizeof(m.node), "lb2");
	f->senders.s[0].heard = true;
	f->senders.s[0].last = m;
	f->senders.s[0].last_seen = seen.now;
	peer_on_advert(f, &f->senders.s[0], &m);
}

static void fire(struct failover *f, ev_timer *w)
{
	ev_invoke(f->loop, w, EV_TIMER);
}

/* A backup that hears nothing for master-down claims its group, after the
 * duplicate-address check; only that group. */
static void test_master_down(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0], *g52 = f->groups[1];

	assert_int_equal(g51->state, PEER_BACKUP);
	assert_true(ev_is_active(&g51->down_timer));
	/* 3 x 100 ms + (256 - 100) / 256 x 100 ms */
	assert_true(g51->down_timer.repeat > 0.36 && g51->down_timer.repeat < 0.361);
	hear(f, 52, PEER_MASTER, 150);
	fire(f, &g51->down_timer);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(seen.adds[51], 1);
	assert_int_equal(seen.probes, 0);        /* a peer was heard: no probe */
	assert_true(seen.adverts[51] >= 1);
	assert_int_equal(seen.garps, 1);
	assert_int_equal(g52->state, PEER_BACKUP);
	assert_int_equal(seen.adds[52], 0);
	node_free(f);
}

/* Without any peer heard, the claim probes first; a host holding the VIP
 * keeps the group backup and the timer re-armed. */
static void test_master_down_probe_refused(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0];

	seen.probe_rc = 1;
	fire(f, &g51->down_timer);
	assert_int_equal(seen.probes, 1);
	assert_int_equal(g51->state, PEER_BACKUP);
	assert_true(ev_is_active(&g51->down_timer));
	assert_int_equal(g51->probes_refused, 1);
	assert_int_equal(seen.adds[51], 0);
	node_free(f);
}

/* A master's advert of lower priority arms the preempt timer; it claims. */
static void test_preempt(void **state)
{
	struct failover *f = node(150, 100);
	struct fo_group *g51 = f->groups[0], *g52 = f->groups[1];

	hear(f, 51, PEER_MASTER, 100);
	hear(f, 52, PEER_MASTER, 150);
	assert_true(ev_is_active(&g51->preempt_timer));
	assert_false(ev_is_active(&g52->preempt_timer));
	fire(f, &g51->preempt_timer);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(g52->state, PEER_BACKUP);
	/* without preempt: no timer */
	g52->set.preempt = false;
	g52->set.priority = 200;
	hear(f, 52, PEER_MASTER, 150);
	assert_false(ev_is_active(&g52->preempt_timer));
	node_free(f);
}

/* Two masters: the lower one yields, removes its VIPs and says so at once. */
static void test_yield(void **state)
{
	struct failover *f = node(100, 200);
	struct fo_group *g51 = f->groups[0], *g52 = f->groups[1];

	fire(f, &g51->down_timer);
	fire(f, &g52->down_timer);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(g52->state, PEER_MASTER);
	hear(f, 51, PEER_MASTER, 150);
	assert_int_equal(g51->state, PEER_BACKUP);
	assert_int_equal(seen.dels[51], 1);
	assert_true(seen.last_yield[51]);
	/* group 52 is ours (200 > 150): we stay and re-assert */
	seen.garps = 0;
	hear(f, 52, PEER_MASTER, 150);
	assert_int_equal(g52->state, PEER_MASTER);
	assert_int_equal(seen.dels[52], 0);
	assert_int_equal(seen.garps, 1);
	/* equal priority: the higher address wins (192.0.2.2 > 192.0.2.1) */
	hear(f, 52, PEER_MASTER, 200);
	assert_int_equal(g52->state, PEER_BACKUP);
	node_free(f);
}

/* Active/active: each group follows its own master; a resignation of one
 * group's master moves that group only. */
static void test_per_group_election(void **state)
{
	struct failover *f = node(150, 100);
	struct fo_group *g51 = f->groups[0], *g52 = f->groups[1];

	fire(f, &g51->down_timer);
	hear(f, 51, PEER_BACKUP, 100);
	hear(f, 52, PEER_MASTER, 150);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(g52->state, PEER_BACKUP);
	assert_true(ev_is_active(&g52->down_timer));
	assert_false(ev_is_active(&g51->down_timer));
	assert_int_equal(g52->master, 0);
	assert_string_equal(failover_state_str(f), "master");
	/* lb2 resigns group 52: we take it at once, 51 untouched */
	seen.adds[51] = 0;
	hear(f, 52, PEER_MASTER, 0);
	assert_int_equal(g52->state, PEER_MASTER);
	assert_int_equal(seen.adds[52], 1);
	assert_int_equal(seen.adds[51], 0);
	/* an advert for a group we do not have changes nothing */
	hear(f, 77, PEER_MASTER, 254);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(g52->state, PEER_MASTER);
	node_free(f);
}

/* track.services lowers only the priority of the group holding the service. */
static void test_track_per_group(void **state)
{
	struct failover *f = node(150, 150);

	failover_service_avail(f, "b", false);
	assert_int_equal(peer_effective_priority(f->groups[0]), 150);
	assert_int_equal(peer_effective_priority(f->groups[1]), 90);
	assert_int_equal(seen.last_prio[52], 90);
	assert_int_equal(seen.adverts[51], 0);
	failover_service_avail(f, "b", true);
	assert_int_equal(peer_effective_priority(f->groups[1]), 150);
	node_free(f);
}

/* vigilctl standby GROUP: only that group hands over (and only when the
 * peer can take it); resume ends it. */
static void test_standby_group(void **state)
{
	struct failover *f = node(150, 150);
	struct fo_group *g51 = f->groups[0], *g52 = f->groups[1];
	char err[256];

	fire(f, &g51->down_timer);
	fire(f, &g52->down_timer);
	/* no peer heard: refused */
	assert_int_equal(failover_standby(f, 52, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no peer is alive"));
	hear(f, 51, PEER_BACKUP, 100);
	hear(f, 52, PEER_BACKUP, 100);
	assert_int_equal(failover_standby(f, 9, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no failover group 9"));
	assert_int_equal(failover_standby(f, 52, err, sizeof(err)), 0);
	assert_int_equal(g52->state, PEER_BACKUP);
	assert_true(g52->standby);
	assert_int_equal(seen.dels[52], 1);
	assert_int_equal(peer_effective_priority(g52), 0);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_false(g51->standby);
	assert_int_equal(seen.dels[51], 0);
	/* in standby, the master-down timer does not claim */
	fire(f, &g52->down_timer);
	assert_int_equal(g52->state, PEER_BACKUP);
	/* a peer in standby for that group refuses our standby of it */
	hear(f, 51, PEER_BACKUP, 0);
	f->groups[0]->heard[0].last.flags = PEER_F_STANDBY;
	assert_int_equal(failover_standby(f, 51, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "standby itself"));
	assert_int_equal(failover_resume(f, 52, err, sizeof(err)), 0);
	assert_false(g52->standby);
	assert_int_equal(peer_effective_priority(g52), 150);
	fire(f, &g52->down_timer);
	assert_int_equal(g52->state, PEER_MASTER);
	node_free(f);
}

/* The link goes down: every group to fault, VIPs removed; up: backup. */
static void test_link(void **state)
{
	struct failover *f = node(150, 100);

	fire(f, &f->groups[0]->down_timer);
	peer_on_link(f, false);
	assert_int_equal(f->groups[0]->state, PEER_FAULT);
	assert_int_equal(f->groups[1]->state, PEER_FAULT);
	assert_int_equal(seen.dels[51], 1);
	assert_false(ev_is_active(&f->groups[1]->down_timer));
	assert_string_equal(failover_state_str(f), "fault");
	peer_on_link(f, true);
	assert_int_equal(f->groups[0]->state, PEER_BACKUP);
	assert_int_equal(f->groups[1]->state, PEER_BACKUP);
	node_free(f);
}

/* The snapshot ctl/ renders: what each group and the peer are now, copied
 * out (the view outlives the node). */
static void test_view(void **state)
{
	struct failover *f = node(150, 100);
	struct failover_view v;

	hear(f, 52, PEER_MASTER, 150);
	seen.now += 0.25;
	f->rejected[PEER_REJ_BAD_MAC] = 3;
	failover_service_avail(f, "a", false);
	failover_view(f, &v);
	node_free(f);
	assert_string_equal(v.node, "lb1");
	assert_string_equal(v.interface, "eth0");
	assert_string_equal(v.state, "backup");
	assert_int_equal(v.priority, 90);             /* 150 - track weight 60 */
	assert_int_equal(v.ngroups, 2);
	assert_int_equal(v.groups[0].id, 51);
	assert_string_equal(v.groups[0].state, "backup");
	assert_false(v.groups[0].has_master);
	assert_int_equal(v.groups[0].base_priority, 150);
	assert_int_equal(v.groups[0].nvips, 1);
	assert_string_equal(v.groups[0].vips[0], "192.0.2.51");
	assert_int_equal(v.groups[0].naddresses, 0);
	assert_string_equal(v.groups[0].services[0], "a");
	assert_true(v.groups[1].has_master);
	assert_string_equal(v.groups[1].master, "lb2");
	assert_int_equal(v.nservices_down, 1);
	assert_string_equal(v.services_down[0], "a");
	assert_int_equal(v.npeers, 1);
	assert_string_equal(v.peers[0].address, "192.0.2.2");
	assert_true(v.peers[0].seen && v.peers[0].heard && v.peers[0].vip_set_match);
	assert_string_equal(v.peers[0].node, "lb2");
	assert_string_equal(v.peers[0].state, "master");
	assert_int_equal(v.peers[0].priority, 150);
	assert_true(v.peers[0].last_seen_s > 0.2499 && v.peers[0].last_seen_s < 0.2501);
	assert_int_equal(v.peers[0].boot, 7);
	assert_string_equal(v.rejected[2].reason, "bad_mac");
	assert_int_equal(v.rejected[2].n, 3);
	assert_string_equal(v.states[3], "fault");
	failover_view_free(&v);
}

/* ---- the start-up gate (failover.sync) ---- */

/* A node restarted while lb2 holds group 51 at a lower priority: preempt
 * waits for the peer's operator state, then happens at once. */
static void test_gate_holds_preempt(void **state)
{
	struct failover *f = node(150, 100);
	struct fo_group *g51 = f->groups[0];

	peer_gate_start(f, 10.0);
	assert_true(failover_waiting(f));
	hear(f, 51, PEER_MASTER, 100);
	assert_true(ev_is_active(&g51->preempt_timer));
	fire(f, &g51->preempt_timer);
	assert_int_equal(g51->state, PEER_BACKUP);
	assert_int_equal(seen.adds[51], 0);
	assert_true(g51->preempt_held);
	/* more adverts while waiting: still backup */
	seen.now += 0.1;
	hear(f, 51, PEER_MASTER, 100);
	fire(f, &g51->preempt_timer);
	assert_int_equal(g51->state, PEER_BACKUP);
	assert_int_equal(seen.gate_opened, 0);
	seen.now += 0.2;
	failover_learnt(f, "lb2");
	assert_false(failover_waiting(f));
	assert_int_equal(f->gate, PEER_GATE_LEARNT);
	assert_int_equal(seen.gate_opened, 1);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(seen.adds[51], 1);
	assert_false(ev_is_active(&f->gate_timer));
	/* learnt again (a reconnect): nothing more */
	failover_learnt(f, "lb2");
	assert_int_equal(seen.gate_opened, 1);
	node_free(f);
}

/* The peer is alive (its backup adverts are heard) but no master: the
 * master-down claim waits for the operator state, then happens. */
static void test_gate_holds_claim(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0], *g52 = f->groups[1];

	peer_gate_start(f, 10.0);
	hear(f, 51, PEER_BACKUP, 100);
	hear(f, 52, PEER_MASTER, 150);
	fire(f, &g51->down_timer);
	assert_int_equal(g51->state, PEER_BACKUP);
	assert_true(g51->claim_held);
	assert_int_equal(seen.adds[51], 0);
	assert_int_equal(seen.probes, 0);
	seen.now += 0.1;
	hear(f, 52, PEER_MASTER, 150);
	failover_learnt(f, "lb2");
	/* 51 had no master: claimed; 52 has a live master of higher priority */
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(seen.probes, 0);
	assert_int_equal(g52->state, PEER_BACKUP);
	assert_true(ev_is_active(&g52->down_timer));
	node_free(f);
}

/* The peer was heard, then falls silent while we wait (its state never came):
 * the next master-down claims, alone - the VIPs are not left without a holder
 * until the gate's timeout. */
static void test_gate_peer_dies(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0];

	peer_gate_start(f, 10.0);
	hear(f, 51, PEER_BACKUP, 100);
	seen.now += 0.2;
	fire(f, &g51->down_timer);
	assert_int_equal(g51->state, PEER_BACKUP);
	assert_true(g51->claim_held);
	assert_true(ev_is_active(&g51->down_timer));
	seen.now += 0.4;                       /* > master-down since the last advert */
	fire(f, &g51->down_timer);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(f->gate, PEER_GATE_ALONE);
	assert_string_equal(f->gate_reason, "the peer fell silent");
	assert_int_equal(seen.probes, 0);      /* a peer was heard: it held no VIP */
	node_free(f);
}

/* A held claim is dropped when a master appears meanwhile. */
static void test_gate_claim_dropped_by_master(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0];

	peer_gate_start(f, 10.0);
	hear(f, 51, PEER_BACKUP, 100);
	fire(f, &g51->down_timer);
	assert_true(g51->claim_held);
	hear(f, 51, PEER_MASTER, 200);
	assert_false(g51->claim_held);
	failover_learnt(f, "lb2");
	assert_int_equal(g51->state, PEER_BACKUP);
	assert_true(ev_is_active(&g51->down_timer));
	node_free(f);
}

/* No peer heard at all within master-down: the peer is dead, the node takes
 * over at the normal time (after the duplicate-address probe), alone. */
static void test_gate_no_peer(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0], *g52 = f->groups[1];

	peer_gate_start(f, 10.0);
	fire(f, &g51->down_timer);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(seen.probes, 1);
	assert_int_equal(f->gate, PEER_GATE_ALONE);
	assert_non_null(strstr(f->gate_reason, "no peer heard"));
	assert_int_equal(seen.gate_opened, 1);
	/* the other group's timer claims it in turn */
	fire(f, &g52->down_timer);
	assert_int_equal(g52->state, PEER_MASTER);
	assert_int_equal(seen.gate_opened, 1);
	node_free(f);
}

/* A peer heard but its state never comes (sync blocked): the gate's timer
 * opens it, and the held claim goes on. */
static void test_gate_timeout(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0];

	peer_gate_start(f, 10.0);
	assert_true(ev_is_active(&f->gate_timer));
	assert_true(f->gate_max_s == 10.0);
	hear(f, 51, PEER_BACKUP, 100);
	fire(f, &g51->down_timer);
	assert_int_equal(g51->state, PEER_BACKUP);
	seen.now += 10.0;
	fire(f, &f->gate_timer);
	assert_int_equal(f->gate, PEER_GATE_ALONE);
	assert_non_null(strstr(f->gate_reason, "did not arrive within 10 s"));
	assert_int_equal(g51->state, PEER_MASTER);
	node_free(f);
}

/* The master resigns (priority 0) while we wait: we take over at once. */
static void test_gate_peer_resigns(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0];

	peer_gate_start(f, 10.0);
	hear(f, 51, PEER_MASTER, 200);
	hear(f, 51, PEER_MASTER, 0);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(f->gate, PEER_GATE_ALONE);
	node_free(f);
}

/* vigilctl takeover opens the gate: the operator decides. */
static void test_gate_takeover(void **state)
{
	struct failover *f = node(100, 100);
	struct fo_group *g51 = f->groups[0];
	char err[256];

	peer_gate_start(f, 10.0);
	hear(f, 51, PEER_MASTER, 200);
	assert_int_equal(failover_takeover(f, 51, err, sizeof(err)), 0);
	assert_int_equal(g51->state, PEER_MASTER);
	assert_int_equal(f->gate, PEER_GATE_ALONE);
	assert_int_equal(seen.gate_opened, 1);
	node_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master_down),
		cmocka_unit_test(test_master_down_probe_refused),
		cmocka_unit_test(test_preempt),
		cmocka_unit_test(test_yield),
		cmocka_unit_test(test_per_group_election),
		cmocka_unit_test(test_track_per_group),
		cmocka_unit_test(test_standby_group),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_gate_holds_preempt),
		cmocka_unit_test(test_gate_holds_claim),
		cmocka_unit_test(test_gate_claim_dropped_by_master),
		cmocka_unit_test(test_gate_peer_dies),
		cmocka_unit_test(test_gate_no_peer),
		cmocka_unit_test(test_gate_timeout),
		cmocka_unit_test(test_gate_peer_resigns),
		cmocka_unit_test(test_gate_takeover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
