/* test_check_probe.c - the probe core and the plain-text protocols against
 * scripted servers forked on 127.0.0.1: replies, split replies, slow and
 * over-long lines, resets, clean FIN close, and 10 000 probes without a
 * leaked descriptor. (TLS is covered by tests/integration/test_checks*.py.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "checks/probe.h"
#include "common/util.h"

/* One scripted server: a forked child serving `conns` connections. */
struct server {
	pid_t pid;
	uint16_t port;
	int report;                   /* read end: one byte per connection */
};

struct result {
	bool done;
	enum check_result res;
	char detail[REPLY_TEXT_MAX];
	int count;
};

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Read one line from the client; 0 on success, -1 on EOF or error. */
static int read_line(int fd)
{
	char c;
	int i;

	for (i = 0; i < 4096; i++) {
		if (recv(fd, &c, 1, 0) != 1)
			return -1;
		if (c == '\n')
			return 0;
	}
	return -1;
}

/* Read until the client's close: 'F' for a FIN, 'R' for a reset, 'T' for
 * nothing within the receive timeout. */
static char wait_close(int fd)
{
	char scratch[256];
	ssize_t n;
	int i;

	for (i = 0; i < 1000; i++) {
		n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == 0)
			return 'F';
		if (n < 0)
			return errno == ECONNRESET ? 'R' : 'T';
	}
	return 'D';
}

static void send_str(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		_exit(3);
}

/* Run script on one connection. Ops: "S<text>" send, "R" read a line,
 * "W<ms>" sleep, "1<text>" send one byte per packet, "B<n>" send n bytes
 * without a newline, "X" reset, "H" half-close (FIN), "E" report how the
 * client closed. */
static char run_script(int fd, const char *const *script)
{
	char rep = '-';
	const char *op;
	size_t i, k;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (i = 0; (op = script[i]); i++) {
		switch (op[0]) {
		case 'S': send_str(fd, op + 1); break;
		case 'R': if (read_line(fd) < 0) return 'e'; break;
		case 'W': msleep(atoi(op + 1)); break;
		case '1':
			for (k = 0; op[1 + k]; k++) {
				if (send(fd, op + 1 + k, 1, MSG_NOSIGNAL) != 1)
					return 'e';
				msleep(1);
			}
			break;
		case 'B': {
			size_t n = (size_t)atol(op + 1);
			char *big = malloc(n);

			memset(big, 'x', n);
			if (send(fd, big, n, MSG_NOSIGNAL) < 0)
				rep = 'e';
			free(big);
			break;
		}
		case 'X': {
			struct linger lg = { 1, 0 };

			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			return 'X';
		}
		case 'H': shutdown(fd, SHUT_WR); break;
		case 'E': rep = wait_close(fd); break;
		}
	}
	return rep;
}

static struct server server_start(const char *const *script, int conns)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct server s;
	int lfd, pfd[2], one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 512), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	assert_int_equal(pipe(pfd), 0);
	s.port = ntohs(sa.sin_port);
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0) {
		struct timeval tv = { 3, 0 };
		int i;

		close(pfd[0]);
		alarm(60);
		for (i = 0; i < conns; i++) {
			int fd = accept(lfd, NULL, NULL);
			char rep;

			if (fd < 0)
				_exit(2);
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			rep = run_script(fd, script);
			close(fd);
			if (write(pfd[1], &rep, 1) != 1)
				_exit(2);
		}
		_exit(0);
	}
	close(lfd);
	close(pfd[1]);
	s.report = pfd[0];
	return s;
}

/* Wait for the server child; returns its report for the first connection. */
static char server_finish(struct server *s)
{
	char rep = '?';
	int status;

	if (read(s->report, &rep, 1) != 1)
		rep = '?';
	close(s->report);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, &status, 0);
	return rep;
}

static struct result *g_result;   /* the probe of the running test */

static void on_done(struct probe *p, enum check_result res, const char *detail)
{
	struct result *r = g_result;

	r->done = true;
	r->res = res;
	r->count++;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

static void conf_init(struct check_conf *cc, enum check_type t)
{
	memset(cc, 0, sizeof(*cc));
	cc->type = t;
	cc->interval_ms = 1000;
	cc->timeout_ms = 1000;
	cc->rise = cc->fall = 1;
	cc->expect_status = 200;
}

/* Probe 127.0.0.1:port once and run the loop until the result, then until
 * every closer is done. */
static void probe_once(const struct check_conf *cc, uint16_t port, struct result *r)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct probe_ctx *ctx = probe_ctx_new(loop);
	struct probe p;
	struct addr dst;
	int i;

	memset(r, 0, sizeof(*r));
	g_result = r;
	assert_int_equal(addr_parse_ip("127.0.0.1", &dst), 0);
	addr_set_port(&dst, port);
	probe_init(&p, ctx, on_done);
	probe_start(&p, cc, &dst, NULL);
	assert_false(r->done);          /* never reported before start returns */
	for (i = 0; i < 100000 && (!r->done || probe_ctx_closers(ctx)); i++)
		ev_run(loop, EVRUN_ONCE);
	assert_true(r->done);
	assert_int_equal(r->count, 1);
	assert_false(probe_running(&p));
	probe_ctx_free(ctx);
	ev_loop_destroy(loop);
}

static char run(const char *const *script, const struct check_conf *cc, struct result *r)
{
	struct server s = server_start(script, 1);

	probe_once(cc, s.port, r);
	return server_finish(&s);
}

static void test_tcp(void **state)
{
	const char *const script[] = { "E", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_TCP);
	assert_int_equal(run(script, &cc, &r), 'F');
	assert_int_equal(r.res, CHECK_OK);
}

static void test_tcp_refused(void **state)
{
	struct server s = server_start((const char *const[]){ NULL }, 0);
	struct check_conf cc;
	struct result r;

	server_finish(&s);              /* the port is closed now */
	conf_init(&cc, CHECK_TCP);
	probe_once(&cc, s.port, &r);
	assert_int_equal(r.res, CHECK_ERR_CONNECT);
	assert_non_null(strstr(r.detail, "refused"));
}

static void test_smtp_ok_clean_close(void **state)
{
	const char *const script[] = {
		"S220-mx1 ESMTP\r\n220 ready\r\n", "R", "S250-mx1 Hello\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
		"R", "S221 2.0.0 Bye\r\n", "E", NULL,
	};
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_SMTP);
	cc.ehlo = "vigil.test";
	assert_int_equal(run(script, &cc, &r), 'F');
	assert_int_equal(r.res, CHECK_OK);
	assert_string_equal(r.detail, "250 mx1 Hello");
}

static void test_smtp_421_banner(void **state)
{
	const char *const script[] = { "S421 4.3.2 Service not available\r\n", "E", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_SMTP);
	assert_int_equal(run(script, &cc, &r), 'F');
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "421 4.3.2 Service not available");
}

static void test_smtp_554_after_ehlo_says_quit(void **state)
{
	const char *const script[] = {
		"S220 hi\r\n", "R", "S554 5.7.1 No thanks\r\n", "R", "S221 bye\r\n", "E", NULL,
	};
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_SMTP);
	assert_int_equal(run(script, &cc, &r), 'F');    /* QUIT was read, then FIN */
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "554 5.7.1 No thanks");
}

static void test_smtp_slow_banner(void **state)
{
	const char *const script[] = { "W600", "S220 late\r\n", NULL };
	struct check_conf cc;
	struct result r;
	uint64_t t0 = now_ms(), took;

	conf_init(&cc, CHECK_SMTP);
	cc.timeout_ms = 200;
	run(script, &cc, &r);
	took = now_ms() - t0;
	assert_int_equal(r.res, CHECK_ERR_TIMEOUT);
	assert_string_equal(r.detail, "no banner within 200 ms");
	assert_true(took < 2000);
}

static void test_smtp_garbage(void **state)
{
	const char *const script[] = { "S\x16\x03\x01 garbage \xff\xfe\r\n", "E", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_SMTP);
	run(script, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_non_null(strstr(r.detail, "not an SMTP reply"));
}

static void test_smtp_split_bytes(void **state)
{
	const char *const script[] = {
		"1220-a\r\n220 b\r\n", "R", "1250-x\r\n250 y\r\n", "R", "1221 bye\r\n", "E", NULL,
	};
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_SMTP);
	assert_int_equal(run(script, &cc, &r), 'F');
	assert_int_equal(r.res, CHECK_OK);
}

static void test_smtp_long_line(void **state)
{
	const char *const script[] = { "S220", "B102400", "W300", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_SMTP);
	run(script, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_non_null(strstr(r.detail, "reply too long"));
}

static void test_smtp_reset(void **state)
{
	const char *const script[] = { "S220 hi\r\n", "R", "X", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_SMTP);
	run(script, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_CONNECT);
	assert_non_null(strstr(r.detail, "reset"));
}

static void test_smtp_early_close(void **state)
{
	const char *const script[] = { "S220 hi\r\n", "R", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_SMTP);
	run(script, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "connection closed by server while waiting for EHLO reply");
}

static void test_imap(void **state)
{
	const char *const ok[] = {
		"S* OK [CAPABILITY IMAP4rev1] ready\r\n", "R", "S* BYE Logging out\r\na2 OK Logout\r\n",
		"E", NULL,
	};
	const char *const bye[] = { "S* BYE Too many connections\r\n", "E", NULL };
	const char *const garbage[] = { "SHTTP/1.1 400 Bad\r\n", "E", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_IMAP);
	assert_int_equal(run(ok, &cc, &r), 'F');
	assert_int_equal(r.res, CHECK_OK);
	assert_string_equal(r.detail, "* OK [CAPABILITY IMAP4rev1] ready");
	run(bye, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "* BYE Too many connections");
	run(garbage, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
}

static void test_imap_starttls_refused(void **state)
{
	const char *const script[] = {
		"S* OK ready\r\n", "R", "S* CAPABILITY IMAP4rev1\r\na1 NO STARTTLS unavailable\r\n",
		"R", "E", NULL,
	};
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_IMAP);
	cc.starttls = true;
	assert_int_equal(run(script, &cc, &r), 'F');
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "a1 NO STARTTLS unavailable");
}

static void test_pop3(void **state)
{
	const char *const ok[] = { "S+OK POP3 ready\r\n", "R", "S+OK bye\r\n", "E", NULL };
	const char *const err_[] = { "S-ERR [SYS/TEMP] busy\r\n", "E", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_POP3);
	assert_int_equal(run(ok, &cc, &r), 'F');
	assert_int_equal(r.res, CHECK_OK);
	assert_string_equal(r.detail, "+OK POP3 ready");
	run(err_, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "-ERR [SYS/TEMP] busy");
}

static void http_case(const char *reply, const char *expect_body, enum check_result want,
		      const char *want_detail)
{
	const char *const script[] = { "R", "W20", reply, "H", "E", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_HTTP);
	cc.path = "/owa/healthcheck.htm";
	cc.host = "mail.example.com";
	cc.expect_body = (char *)expect_body;
	assert_int_equal(run(script, &cc, &r), 'F');
	assert_int_equal(r.res, want);
	assert_string_equal(r.detail, want_detail);
}

static void test_http(void **state)
{
	http_case("SHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL, CHECK_OK, "HTTP 200 OK");
	http_case("SHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", NULL,
		  CHECK_ERR_PROTOCOL, "HTTP 503 Service Unavailable (expected 200)");
	http_case("SHTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n<h1>Happy</h1>", "Happy",
		  CHECK_OK, "HTTP 200 OK");
	http_case("SHTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n<h1>Sadly</h1>", "Happy",
		  CHECK_ERR_PROTOCOL, "HTTP 200 OK: body does not contain \"Happy\"");
	http_case("SHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "Happy",
		  CHECK_ERR_PROTOCOL, "HTTP 200 OK: body does not contain \"Happy\"");
	http_case("SHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "3\r\n<h1\r\n4\r\n>Hap\r\n7\r\npy</h1>\r\n0\r\n\r\n", "Happy", CHECK_OK, "HTTP 200 OK");
	http_case("SHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "3\r\n<h1\r\n0\r\n\r\n", "Happy", CHECK_ERR_PROTOCOL,
		  "HTTP 200 OK: body does not contain \"Happy\"");
	http_case("SHTTP/1.0 200 OK\r\n\r\nclose delimited Happy", "Happy", CHECK_OK, "HTTP 200 OK");
	http_case("SHTTP/1.0 200 OK\r\n\r\nclose delimited", "Happy", CHECK_ERR_PROTOCOL,
		  "HTTP 200 OK: body does not contain \"Happy\"");
	http_case("SHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		  NULL, CHECK_OK, "HTTP 200 OK");
	http_case("S220 smtp here\r\n", NULL, CHECK_ERR_PROTOCOL,
		  "not an HTTP/1.x status line: \"220 smtp here\"");
}

/* The request itself, as the server sees it. */
static void test_http_request(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct probe_ctx *ctx = probe_ctx_new(loop);
	struct check_conf cc;
	struct result r = { 0 };
	struct probe p;
	struct addr dst;
	char req[1024];
	ssize_t n = 0, k;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd = -1, i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	conf_init(&cc, CHECK_HTTP);
	cc.timeout_ms = 300;
	g_result = &r;
	addr_parse_ip("127.0.0.1", &dst);
	addr_set_port(&dst, ntohs(sa.sin_port));
	probe_init(&p, ctx, on_done);
	probe_start(&p, &cc, &dst, NULL);
	for (i = 0; i < 1000 && !r.done; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		if (fd < 0)
			fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		if (fd >= 0 && (k = recv(fd, req + n, sizeof(req) - 1 - (size_t)n, 0)) > 0)
			n += k;
		msleep(1);
	}
	req[n] = '\0';
	assert_int_equal(r.res, CHECK_ERR_TIMEOUT);
	snprintf(r.detail, sizeof(r.detail), "GET / HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n",
		 ntohs(sa.sin_port));
	assert_true(strncmp(req, r.detail, strlen(r.detail)) == 0);
	assert_non_null(strstr(req, "\r\nUser-Agent: vigil-check\r\n"));
	assert_non_null(strstr(req, "\r\nConnection: close\r\n\r\n"));
	close(fd);
	close(lfd);
	probe_ctx_free(ctx);
	ev_loop_destroy(loop);
}

/* ---- replies of exact sizes (a read of 512 bytes once read as "done") ---- */

static const size_t reply_sizes[] = { 511, 512, 513, 1024, 4096, PROBE_RBUF };

/* "S" + prefix + pad + suffix, exactly n bytes after the "S". */
static char *sized(const char *prefix, char pad, const char *suffix, size_t n)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *s;

	assert_true(n >= pl + sl);
	s = malloc(n + 2);
	assert_non_null(s);
	s[0] = 'S';
	memcpy(s + 1, prefix, pl);
	memset(s + 1 + pl, pad, n - pl - sl);
	memcpy(s + 1 + n - sl, suffix, sl);
	s[n + 1] = '\0';
	assert_int_equal(strlen(s + 1), n);
	return s;
}

/* An HTTP response of n bytes whose body ends with "Happy": every byte is read. */
static char *http_sized_body(size_t n)
{
	char head[128];
	size_t hl = 0, body = n, prev;
	char *s;

	do {                             /* the length's digits change the head's size */
		prev = hl;
		body = n - hl;
		hl = (size_t)snprintf(head, sizeof(head),
				      "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
	} while (hl != prev);
	s = sized(head, 'x', "Happy", n);
	return s;
}

static void expect_ok(const char *const *script, const struct check_conf *cc, size_t n,
		      const char *proto)
{
	struct result r;
	char rep = run(script, cc, &r);

	if (r.res != CHECK_OK || rep != 'F')
		fail_msg("%s reply of %zu bytes: result %d (%s), server saw '%c'", proto, n,
			 r.res, r.detail, rep);
}

static void test_reply_sizes_http(void **state)
{
	struct check_conf cc;
	size_t i;

	conf_init(&cc, CHECK_HTTP);
	for (i = 0; i < ARRAY_SIZE(reply_sizes); i++) {
		size_t n = reply_sizes[i];
		char *body = http_sized_body(n);
		char *head = sized("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ", 'p',
				   "\r\n\r\n", n);
		const char *const s1[] = { "R", "W20", body, "H", "E", NULL };
		const char *const s2[] = { "R", "W20", head, "H", "E", NULL };

		cc.expect_body = "Happy";        /* the whole response is read */
		expect_ok(s1, &cc, n, "HTTP body");
		cc.expect_body = NULL;           /* a head of n bytes */
		expect_ok(s2, &cc, n, "HTTP head");
		free(body);
		free(head);
	}
}

static void test_reply_sizes_smtp(void **state)
{
	struct check_conf cc;
	size_t i;

	conf_init(&cc, CHECK_SMTP);
	for (i = 0; i < ARRAY_SIZE(reply_sizes); i++) {
		size_t n = reply_sizes[i];
		char *banner = sized("220 ", 'b', "\r\n", n);
		char *ehlo = sized("250-mx1 Hello\r\n250-X", 'e', "\r\n250 8BITMIME\r\n", n);
		const char *const s1[] = { banner, "R", "S250 ok\r\n", "R", "S221 bye\r\n", "E", NULL };
		const char *const s2[] = { "S220 hi\r\n", "R", ehlo, "R", "S221 bye\r\n", "E", NULL };

		expect_ok(s1, &cc, n, "SMTP banner");
		expect_ok(s2, &cc, n, "SMTP EHLO");
		free(banner);
		free(ehlo);
	}
}

static void test_reply_sizes_imap(void **state)
{
	struct check_conf cc;
	size_t i;

	conf_init(&cc, CHECK_IMAP);
	for (i = 0; i < ARRAY_SIZE(reply_sizes); i++) {
		size_t n = reply_sizes[i];
		char *greeting = sized("* OK [CAPABILITY IMAP4rev1 X", 'c', "] ready\r\n", n);
		char *logout = sized("* BYE ", 'y', "\r\na2 OK Logout\r\n", n);
		const char *const s1[] = { greeting, "R", "S* BYE bye\r\na2 OK Logout\r\n", "E", NULL };
		const char *const s2[] = { "S* OK ready\r\n", "R", logout, "E", NULL };

		expect_ok(s1, &cc, n, "IMAP greeting");
		expect_ok(s2, &cc, n, "IMAP LOGOUT reply");
		free(greeting);
		free(logout);
	}
}

/* One byte more than the buffer without an end: "reply too long", for each
 * protocol; a reply exactly filling it passed above. */
static void test_reply_one_over_buffer(void **state)
{
	char *http = sized("HTTP/1.1 200 OK\r\nX-Pad: ", 'p', "\r\n\r\n", PROBE_RBUF + 1);
	char *smtp = sized("220 ", 'b', "\r\n", PROBE_RBUF + 1);
	char *imap = sized("* OK ", 'c', "\r\n", PROBE_RBUF + 1);
	const char *const sh[] = { "R", "W20", http, "W300", NULL };
	const char *const ss[] = { smtp, "W300", NULL };
	const char *const si[] = { imap, "W300", NULL };
	struct check_conf cc;
	struct result r;

	conf_init(&cc, CHECK_HTTP);
	run(sh, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "reply too long (no end of response in 16384 bytes)");
	conf_init(&cc, CHECK_SMTP);
	run(ss, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "reply too long (no end of banner in 16384 bytes)");
	conf_init(&cc, CHECK_IMAP);
	run(si, &cc, &r);
	assert_int_equal(r.res, CHECK_ERR_PROTOCOL);
	assert_string_equal(r.detail, "reply too long (no end of greeting in 16384 bytes)");
	free(http);
	free(smtp);
	free(imap);
}

/* The detail of a refused connect is the reason alone: check_last says
 * "connect" already (the status printed "connect: connect: ..."). */
static void test_refused_detail_not_doubled(void **state)
{
	struct server s = server_start((const char *const[]){ NULL }, 0);
	struct check_conf cc;
	struct result r;

	server_finish(&s);
	conf_init(&cc, CHECK_TCP);
	probe_once(&cc, s.port, &r);
	assert_int_equal(r.res, CHECK_ERR_CONNECT);
	assert_string_equal(r.detail, "Connection refused");
}

/* A source address this node lacks: a local error, never the backend's. */
static void test_bad_source_is_local(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct probe_ctx *ctx = probe_ctx_new(loop);
	struct check_conf cc;
	struct result r = { 0 };
	struct addr dst, src;
	struct probe p;
	int i;

	conf_init(&cc, CHECK_TCP);
	g_result = &r;
	assert_int_equal(addr_parse_ip("127.0.0.1", &dst), 0);
	addr_set_port(&dst, 9);
	assert_int_equal(addr_parse_ip("192.0.2.1", &src), 0);   /* RFC 5737: not ours */
	probe_init(&p, ctx, on_done);
	probe_start(&p, &cc, &dst, &src);
	assert_false(r.done);
	for (i = 0; i < 1000 && !r.done; i++)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(r.res, CHECK_ERR_LOCAL);
	assert_string_equal(r.detail, "bind: Cannot assign requested address");
	probe_ctx_free(ctx);
	ev_loop_destroy(loop);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

#define NPROBES 10000
#define PARALLEL 16

struct many {
	struct probe p[PARALLEL];
	struct check_conf cc;
	struct addr dst;
	int started, done, ok;
};

static struct many *g_many;

static void many_done(struct probe *p, enum check_result res, const char *detail)
{
	g_many->done++;
	g_many->ok += res == CHECK_OK;
}

/* 10 000 smtp probes, 16 at a time: every one passes, no descriptor leaks. */
static void test_many_probes_no_leak(void **state)
{
	const char *const script[] = { "S220 hi\r\n", "R", "S250 ok\r\n", "R", "S221 bye\r\n", "E", NULL };
	struct server s = server_start(script, NPROBES);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct probe_ctx *ctx = probe_ctx_new(loop);
	struct many *m = calloc(1, sizeof(*m));
	int fds0 = count_fds(), i, guard;

	g_many = m;
	conf_init(&m->cc, CHECK_SMTP);
	addr_parse_ip("127.0.0.1", &m->dst);
	addr_set_port(&m->dst, s.port);
	for (i = 0; i < PARALLEL; i++)
		probe_init(&m->p[i], ctx, many_done);
	for (guard = 0; guard < 10 * NPROBES && m->done < NPROBES; guard++) {
		for (i = 0; i < PARALLEL && m->started < NPROBES; i++) {
			if (!probe_running(&m->p[i])) {
				probe_start(&m->p[i], &m->cc, &m->dst, NULL);
				m->started++;
			}
		}
		ev_run(loop, EVRUN_ONCE);
	}
	for (guard = 0; guard < 100000 && probe_ctx_closers(ctx); guard++)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(m->done, NPROBES);
	assert_int_equal(m->ok, NPROBES);
	assert_int_equal(probe_ctx_closers(ctx), 0);
	assert_int_equal(count_fds(), fds0);
	probe_ctx_free(ctx);
	ev_loop_destroy(loop);
	assert_int_equal(server_finish(&s), 'F');
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_tcp_refused),
		cmocka_unit_test(test_smtp_ok_clean_close),
		cmocka_unit_test(test_smtp_421_banner),
		cmocka_unit_test(test_smtp_554_after_ehlo_says_quit),
		cmocka_unit_test(test_smtp_slow_banner),
		cmocka_unit_test(test_smtp_garbage),
		cmocka_unit_test(test_smtp_split_bytes),
		cmocka_unit_test(test_smtp_long_line),
		cmocka_unit_test(test_smtp_reset),
		cmocka_unit_test(test_smtp_early_close),
		cmocka_unit_test(test_imap),
		cmocka_unit_test(test_imap_starttls_refused),
		cmocka_unit_test(test_pop3),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_http_request),
		cmocka_unit_test(test_reply_sizes_http),
		cmocka_unit_test(test_reply_sizes_smtp),
		cmocka_unit_test(test_reply_sizes_imap),
		cmocka_unit_test(test_reply_one_over_buffer),
		cmocka_unit_test(test_refused_detail_not_doubled),
		cmocka_unit_test(test_bad_source_is_local),
		cmocka_unit_test(test_many_probes_no_leak),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
