/* icmp.c - check type icmp: ICMP / ICMPv6 echo over one socket per family,
 * shared by every probe of a checker (a probe_ctx).
 *
 * The socket is a ping socket (SOCK_DGRAM, IPPROTO_ICMP / ICMPV6) when the
 * kernel allows it (net.ipv4.ping_group_range includes our group; the kernel
 * then owns the identifier and gives us only our replies), else a raw socket
 * (vigild keeps cap_net_raw after dropping root), with a kernel filter that
 * passes only echo replies and our own random identifier checked here. Which
 * one is logged once per family. Each echo request carries a sequence number
 * that indexes the table of waiting probes; a reply counts only when its
 * identifier, sequence and source address all match the probe. Errors such
 * as "destination unreachable" are not read: the probe runs into its
 * timeout. The service's source address is not used for ICMP.
 */
#include "checks/probe.h"

#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "checks/icmp_reply.h"
#include "common/log.h"
#include "common/util.h"

#define ICMP_SLOTS 65536u
#define ICMP_READS 64                 /* datagrams per wake-up before yielding */
#ifndef ICMP_FILTER
#define ICMP_FILTER 1                 /* linux/icmp.h: SOL_RAW option, a type bitmask */
#endif

struct icmp_sock {
	int fd;                       /* -1 until the first probe of the family */
	bool raw;                     /* raw socket: check the identifier ourselves */
	bool v6;
	uint16_t next_seq;
	unsigned waiting;
	ev_io io;
	struct probe **slot;          /* ICMP_SLOTS entries, by sequence */
	struct icmp_engine *eng;
};

struct icmp_engine {
	struct ev_loop *loop;
	uint16_t id;                  /* identifier of raw sockets' requests */
	struct icmp_sock s4, s6;
};

static void icmp_read_cb(struct ev_loop *loop, ev_io *w, int revents);

struct icmp_engine *icmp_engine_new(struct ev_loop *loop)
{
	struct icmp_engine *e = xcalloc(1, sizeof(*e));

	e->loop = loop;
	e->id = (uint16_t)(getpid() ^ now_us() ^ (uint64_t)time(NULL));
	e->s4.fd = e->s6.fd = -1;
	e->s6.v6 = true;
	e->s4.eng = e->s6.eng = e;
	return e;
}

static void icmp_sock_close(struct icmp_engine *e, struct icmp_sock *s)
{
	if (s->fd >= 0) {
		ev_io_stop(e->loop, &s->io);
		close(s->fd);
	}
	free(s->slot);
	s->slot = NULL;
	s->fd = -1;
}

void icmp_engine_free(struct icmp_engine *e)
{
	if (!e)
		return;
	icmp_sock_close(e, &e->s4);
	icmp_sock_close(e, &e->s6);
	free(e);
}

/* Only echo replies reach a raw socket. */
static void raw_filter(int fd, bool v6)
{
	if (v6) {
		struct icmp6_filter f;

		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
	} else {
		uint32_t mask = ~(1u << 0);  /* block every type but 0, echo reply */

		setsockopt(fd, SOL_RAW, ICMP_FILTER, &mask, sizeof(mask));
	}
}

/* Open the family's socket: a ping socket if allowed, else raw. 0 or -1 (errno). */
static int icmp_sock_open(struct icmp_engine *e, struct icmp_sock *s)
{
	int fam = s->v6 ? AF_INET6 : AF_INET, proto = s->v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto), ping_err = 0;

	s->raw = false;
	if (fd < 0) {
		ping_err = errno;
		fd = socket(fam, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
		if (fd < 0)
			return -1;
		s->raw = true;
		raw_filter(fd, s->v6);
	}
	s->fd = fd;
	s->slot = xcalloc(ICMP_SLOTS, sizeof(s->slot[0]));
	ev_io_init(&s->io, icmp_read_cb, fd, EV_READ);
	ev_io_start(e->loop, &s->io);
	if (s->raw)
		log_info("checks: ICMP%s echo over a raw socket (no ping socket: %s; see "
			 "net.ipv4.ping_group_range)", s->v6 ? "v6" : "", strerror(ping_err));
	else
		log_info("checks: ICMP%s echo over a ping socket", s->v6 ? "v6" : "");
	return 0;
}

/* A free sequence number, or -1 when every one is in use. */
static int icmp_seq_take(struct icmp_sock *s, struct probe *p)
{
	for (unsigned i = 0; i < ICMP_SLOTS; i++) {
		uint16_t seq = s->next_seq++;

		if (!s->slot[seq]) {
			s->slot[seq] = p;
			s->waiting++;
			return seq;
		}
	}
	return -1;
}

static struct icmp_sock *icmp_sock_of(struct icmp_engine *e, const struct addr *dst)
{
	return addr_family(dst) == AF_INET6 ? &e->s6 : &e->s4;
}

/* A send error that is this node's, not the host's. */
static bool icmp_error_is_local(int err)
{
	return err != EHOSTUNREACH && err != ENETUNREACH && err != EHOSTDOWN &&
	       err != ECONNREFUSED;
}

static void icmp_fail(struct probe *p, enum check_result res, const char *what, int err)
{
	char detail[REPLY_TEXT_MAX];

	snprintf(detail, sizeof(detail), "%s%s%s", what ? what : "", what ? ": " : "",
		 strerror(err));
	probe_fail_soon(p, res, detail);
}

void icmp_probe_start(struct probe *p, const struct check_conf *conf,
		      const struct addr *dst, const struct addr *src)
{
	struct icmp_engine **ep = probe_ctx_icmp(p->ctx), *e;
	struct icmp_sock *s;
	uint8_t pkt[ICMP_ECHO_LEN];
	size_t len;
	int seq;

	p->conf = conf;
	p->proto = &probe_proto_tcp;  /* no hooks run: no connection */
	p->dst = *dst;
	addr_set_port(&p->dst, 0);
	p->started_ms = now_ms();
	p->started_us = now_us();
	p->waiting = "echo reply";
	if (!*ep)
		*ep = icmp_engine_new(probe_ctx_loop(p->ctx));
	e = *ep;
	s = icmp_sock_of(e, dst);
	if (s->fd < 0 && icmp_sock_open(e, s) < 0) {
		icmp_fail(p, CHECK_ERR_LOCAL, s->v6 ? "ICMPv6 socket" : "ICMP socket", errno);
		return;
	}
	seq = icmp_seq_take(s, p);
	if (seq < 0) {
		icmp_fail(p, CHECK_ERR_LOCAL, "ICMP sequence numbers", EBUSY);
		return;
	}
	p->icmp_seq = (uint16_t)seq;
	p->icmp_waiting = true;
	len = icmp_echo_build(pkt, s->v6, e->id, (uint16_t)seq);
	if (sendto(s->fd, pkt, len, 0, (const struct sockaddr *)&p->dst.ss, p->dst.len) < 0) {
		int err = errno;

		icmp_probe_cancel(p);
		icmp_fail(p, icmp_error_is_local(err) ? CHECK_ERR_LOCAL : CHECK_ERR_CONNECT,
			  icmp_error_is_local(err) ? "sendto" : NULL, err);
		return;
	}
	p->phase = PROBE_RECV;
	ev_timer_set(&p->deadline, conf->timeout_ms / 1000., 0.);
	ev_timer_start(probe_ctx_loop(p->ctx), &p->deadline);
}

void icmp_probe_cancel(struct probe *p)
{
	struct icmp_engine *e = *probe_ctx_icmp(p->ctx);
	struct icmp_sock *s;

	if (!p->icmp_waiting || !e)
		return;
	p->icmp_waiting = false;
	s = icmp_sock_of(e, &p->dst);
	if (s->slot && s->slot[p->icmp_seq] == p) {
		s->slot[p->icmp_seq] = NULL;
		s->waiting--;
	}
}

/* The probe waiting for this reply from this source, or NULL. */
static struct probe *icmp_match(struct icmp_sock *s, const struct icmp_reply *r,
				const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct probe *p;
	struct addr src;

	if (!r->echo_reply || (s->raw && r->id != s->eng->id))
		return NULL;
	p = s->slot[r->seq];
	if (!p)
		return NULL;
	addr_from_sockaddr(&src, (const struct sockaddr *)from, fromlen);
	addr_set_port(&src, 0);
	return addr_equal_ip(&src, &p->dst) ? p : NULL;
}

static void icmp_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct icmp_sock *s = container_of(w, struct icmp_sock, io);
	uint8_t buf[1500];
	char err[REPLY_TEXT_MAX];

	for (int i = 0; i < ICMP_READS; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct icmp_reply r;
		struct probe *p;
		ssize_t n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0)
			return;           /* EAGAIN, or an error queued for a send */
		if (icmp_reply_parse(buf, (size_t)n, s->v6, s->raw && !s->v6, &r, err,
				     sizeof(err)) < 0)
			continue;
		p = icmp_match(s, &r, &from, fl);
		if (!p)
			continue;
		icmp_probe_cancel(p);
		probe_finish(p, CHECK_OK, PROBE_CLOSE_NOW, "echo reply in %.3f ms",
			     probe_rtt_us(p) / 1000.);
	}
}
