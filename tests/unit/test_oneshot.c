/* test_oneshot.c - the connection limits of the control socket and the status
 * listener: the pure policy (source keys, admission verdicts), and the shedding
 * of the oldest idle connection driven through a real loop on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/oneshot.h"

static struct oneshot_source src_of4(const char *ip)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(1234) };
	struct oneshot_source out;

	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	oneshot_source_of((struct sockaddr *)&sa, sizeof(sa), &out);
	return out;
}

static struct oneshot_source src_of6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct oneshot_source out;

	assert_int_equal(inet_pton(AF_INET6, ip, &sa.sin6_addr), 1);
	oneshot_source_of((struct sockaddr *)&sa, sizeof(sa), &out);
	return out;
}

static void test_source_keys(void **state)
{
	struct oneshot_source a = src_of4("192.0.2.1"), b = src_of4("192.0.2.1");
	struct oneshot_source c = src_of4("192.0.2.2");
	struct oneshot_source m = src_of6("::ffff:192.0.2.1", 9);
	struct oneshot_source x = src_of6("2001:db8:1:2::1", 1), y = src_of6("2001:db8:1:2:ffff::9", 2);
	struct oneshot_source z = src_of6("2001:db8:1:3::1", 1);
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct oneshot_source u1, u2;

	assert_int_equal(a.family, AF_INET);
	assert_true(oneshot_source_equal(&a, &b));        /* the port does not matter */
	assert_false(oneshot_source_equal(&a, &c));
	assert_true(oneshot_source_equal(&a, &m));        /* v4-mapped is the v4 address */
	assert_int_equal(x.family, AF_INET6);
	assert_true(oneshot_source_equal(&x, &y));        /* one /64 is one source */
	assert_false(oneshot_source_equal(&x, &z));
	assert_false(oneshot_source_equal(&x, &a));
	oneshot_source_of((struct sockaddr *)&su, sizeof(sa_family_t), &u1);
	oneshot_source_of((struct sockaddr *)&su, sizeof(su), &u2);
	assert_int_equal(u1.family, AF_UNSPEC);
	assert_true(oneshot_source_equal(&u1, &u2));
	/* a truncated address is no address */
	{
		struct sockaddr_in sa = { .sin_family = AF_INET };

		oneshot_source_of((struct sockaddr *)&sa, 4, &u1);
		assert_int_equal(u1.family, AF_UNSPEC);
	}
}

static void test_admit(void **state)
{
	struct oneshot_ops ops = { .max_clients = 4, .max_per_source = 2 };

	assert_int_equal(oneshot_admit(&ops, 0, 0), ONESHOT_ADMIT);
	assert_int_equal(oneshot_admit(&ops, 3, 1), ONESHOT_ADMIT);
	assert_int_equal(oneshot_admit(&ops, 3, 2), ONESHOT_EVICT_SOURCE);
	assert_int_equal(oneshot_admit(&ops, 4, 2), ONESHOT_EVICT_SOURCE);
	assert_int_equal(oneshot_admit(&ops, 4, 1), ONESHOT_EVICT_ANY);
	assert_int_equal(oneshot_admit(&ops, 9, 0), ONESHOT_EVICT_ANY);
	ops.max_per_source = 0;                          /* no per-source limit */
	assert_int_equal(oneshot_admit(&ops, 3, 3), ONESHOT_ADMIT);
	assert_int_equal(oneshot_admit(&ops, 4, 4), ONESHOT_EVICT_ANY);
}

/* ---------------------------------------------------------------- through a loop */

static int answered;

static size_t line_complete(const char *in, size_t len)
{
	const char *nl = memchr(in, '\n', len);

	return nl ? (size_t)(nl - in) + 1 : 0;
}

static void echo_handle(void *arg, enum oneshot_event ev, const char *in, size_t len,
			const char *peer, struct buf *out)
{
	if (ev == ONESHOT_REQUEST) {
		buf_append(out, in, len);
		answered++;
	}
}

static const struct oneshot_ops small_ops = {
	.name = "test",
	.max_request = 64,
	.head_deadline_s = 30.,
	.deadline_s = 30.,
	.max_clients = 3,
	.max_per_source = 2,
	.linger = false,
	.complete = line_complete,
	.handle = echo_handle,
};

static void spin(struct ev_loop *loop)
{
	int i;

	for (i = 0; i < 20; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(2000);
	}
}

static int client_from(const char *src, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, src, &me.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* 1 if the server closed fd (EOF or reset), 0 if it is still open. */
static int closed_by_server(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 0) <= 0)
		return 0;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static void test_sheds_oldest_idle(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct oneshot_stats st;
	struct oneshot *os;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a1, a2, a3, b1, c1;
	char buf[16];

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	os = oneshot_new(loop, lfd, &small_ops, NULL);
	assert_non_null(os);

	/* two idle from 127.0.0.2, then a third from there: its oldest goes */
	a1 = client_from("127.0.0.2", ntohs(sa.sin_port));
	spin(loop);
	a2 = client_from("127.0.0.2", ntohs(sa.sin_port));
	spin(loop);
	assert_false(closed_by_server(a1));
	a3 = client_from("127.0.0.2", ntohs(sa.sin_port));
	spin(loop);
	assert_true(closed_by_server(a1));
	assert_false(closed_by_server(a2));
	oneshot_get_stats(os, &st);
	assert_int_equal(st.evicted_source, 1);
	assert_int_equal(st.open, 2);

	/* another source fills the listener (3); a fourth source sheds the
	 * oldest of all (a2), not the newcomer */
	b1 = client_from("127.0.0.3", ntohs(sa.sin_port));
	spin(loop);
	c1 = client_from("127.0.0.4", ntohs(sa.sin_port));
	spin(loop);
	assert_true(closed_by_server(a2));
	assert_false(closed_by_server(a3));
	assert_false(closed_by_server(b1));
	oneshot_get_stats(os, &st);
	assert_int_equal(st.evicted_total, 1);
	assert_int_equal(st.open, 3);
	assert_int_equal(st.accepted, 5);

	/* the newest is served at once */
	assert_int_equal(send(c1, "hi\n", 3, 0), 3);
	spin(loop);
	assert_int_equal(recv(c1, buf, sizeof(buf), MSG_DONTWAIT), 3);
	assert_int_equal(answered, 1);

	oneshot_free(os);
	close(a1);
	close(a2);
	close(a3);
	close(b1);
	close(c1);
	ev_loop_destroy(loop);
}

/* An old connection whose whole request already waits in its socket is
 * answered, not shed: the next oldest goes. */
static void test_waiting_request_not_shed(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct oneshot *os;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a1, a2, a3;
	char buf[16];

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	os = oneshot_new(loop, lfd, &small_ops, NULL);
	assert_non_null(os);
	answered = 0;
	a1 = client_from("127.0.0.5", ntohs(sa.sin_port));
	spin(loop);
	a2 = client_from("127.0.0.5", ntohs(sa.sin_port));
	spin(loop);
	/* a1's request and a3's connection arrive before the loop looks */
	assert_int_equal(send(a1, "hi\n", 3, 0), 3);
	a3 = client_from("127.0.0.5", ntohs(sa.sin_port));
	usleep(20000);
	spin(loop);
	assert_int_equal(recv(a1, buf, sizeof(buf), MSG_DONTWAIT), 3);
	assert_int_equal(answered, 1);
	assert_true(closed_by_server(a2));
	assert_false(closed_by_server(a3));
	oneshot_free(os);
	close(a1);
	close(a2);
	close(a3);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source_keys),
		cmocka_unit_test(test_admit),
		cmocka_unit_test(test_sheds_oldest_idle),
		cmocka_unit_test(test_waiting_request_not_shed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
