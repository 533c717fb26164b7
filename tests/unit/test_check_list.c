/* test_check_list.c - the checker on its own (no lb/): a backend with a list
 * of checks against sockets of this process; the verdict reaches the owner
 * only through struct check_hooks, the backends only through an iterator. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "checks/check.h"
#include "common/addr.h"
#include "common/util.h"

/* The owner: what the hooks told it. */
struct fake_backend {
	struct check *ck;
	int reports, holds, releases;
	bool healthy;
	uint64_t gated;
	char last[16], detail[256];
};

static void fake_report(void *owner, const struct check_report *r, void *arg)
{
	struct fake_backend *b = owner;

	b->reports++;
	b->healthy = r->healthy;
	b->gated = r->gated_down;
	snprintf(b->last, sizeof(b->last), "%s", r->last);
	snprintf(b->detail, sizeof(b->detail), "%s", r->detail);
}

static void fake_hold(void *owner, void *arg) { ((struct fake_backend *)owner)->holds++; }
static void fake_release(void *owner, void *arg) { ((struct fake_backend *)owner)->releases++; }

static const struct check_hooks fake_hooks = {
	.report = fake_report, .hold = fake_hold, .release = fake_release,
};

/* Yields targets[0..n) once. */
struct fake_iter {
	struct check_target *t;
	size_t n, i;
};

static bool fake_next(void *it, struct check_target *out)
{
	struct fake_iter *f = it;

	if (f->i >= f->n)
		return false;
	*out = f->t[f->i++];
	return true;
}

static void sync_targets(struct checker *c, struct check_target *t, size_t n)
{
	struct fake_iter f = { .t = t, .n = n };
	struct check_iter it = { .next = fake_next, .it = &f };

	checker_sync(c, &it);
}

/* A listening socket (connects complete in its backlog), or a port that refuses. */
static uint16_t tcp_port(bool listening, int *fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	if (listening) {
		assert_int_equal(listen(*fd, 64), 0);
	} else {
		close(*fd);
		*fd = -1;
	}
	return ntohs(sa.sin_port);
}

static struct check_conf tcp_check(uint16_t port, uint16_t *gate, size_t ngate)
{
	return (struct check_conf){
		.type = CHECK_TCP, .interval_ms = 50, .timeout_ms = 40, .rise = 1, .fall = 1,
		.expect_status = 200, .port = port, .gate_ports = gate, .ngate_ports = ngate,
	};
}

/* Run the loop until pred(b) or 3 s. */
static bool run_until(struct ev_loop *loop, struct fake_backend *b,
		      bool (*pred)(const struct fake_backend *))
{
	for (int i = 0; i < 300 && !pred(b); i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	return pred(b);
}

static bool up_and_gated(const struct fake_backend *b)
{
	return b->healthy && b->gated == 2 && strcmp(b->last, "connect") == 0;
}

static bool down(const struct fake_backend *b)
{
	return b->reports > 1 && !b->healthy;
}

static struct check_target make_target(struct fake_backend *b, const uint16_t *svc_ports,
				       size_t nports, const struct check_conf *checks, size_t n)
{
	struct check_target t = {
		.owner = b, .handle = &b->ck, .service = "svc", .name = "b1",
		.svc_ports = svc_ports, .nsvc_ports = nports, .checks = checks, .nchecks = n,
	};

	assert_int_equal(addr_parse_ip("127.0.0.1", &t.addr), 0);
	return t;
}

/* ports: [closed] fails: the backend is up, the port gated, the status
 * shows the failing entry; an ungated failing entry takes it down. */
static void test_gated_and_whole(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct checker *c = checker_new(loop, &fake_hooks);
	struct fake_backend b = { 0 };
	int lfd, dummy;
	uint16_t open_port = tcp_port(true, &lfd), closed = tcp_port(false, &dummy);
	uint16_t svc_ports[2] = { open_port, closed };
	uint16_t gate[1] = { closed };
	struct check_conf gated[2] = { tcp_check(0, NULL, 0), tcp_check(0, gate, 1) };
	struct check_conf whole[2] = { tcp_check(0, NULL, 0), tcp_check(closed, NULL, 0) };
	struct check_target t = make_target(&b, svc_ports, 2, gated, 2);
	struct check_entry_info e;

	sync_targets(c, &t, 1);
	assert_non_null(b.ck);
	assert_int_equal(b.holds, 1);
	assert_false(b.healthy);                  /* nothing proven yet */
	assert_true(run_until(loop, &b, up_and_gated));
	assert_int_equal(check_entries(b.ck), 2);
	assert_int_equal(check_shown(b.ck), 1);
	check_entry_get(b.ck, 0, &e);
	assert_true(e.up);
	assert_int_equal(e.port, open_port);
	assert_int_equal(e.ports_mask, 0);
	check_entry_get(b.ck, 1, &e);
	assert_false(e.up);
	assert_int_equal(e.port, closed);         /* the first gated port */
	assert_int_equal(e.ports_mask, 2);
	assert_string_equal(e.last, "connect");

	/* the same backend, the closed port now gating the whole of it */
	t = make_target(&b, svc_ports, 2, whole, 2);
	sync_targets(c, &t, 1);
	assert_int_equal(b.holds, 1);             /* kept, its list rebuilt */
	assert_true(run_until(loop, &b, down));
	assert_int_equal(b.gated, 0);
	assert_string_equal(b.last, "connect");

	sync_targets(c, NULL, 0);                 /* the backend is gone */
	assert_null(b.ck);
	assert_int_equal(b.releases, 1);
	assert_int_equal(checker_count(c), 0);
	checker_free(c);
	close(lfd);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gated_and_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
