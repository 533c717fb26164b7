/* probe.c - the probe core: connect, TLS, send, receive, one deadline,
 * one result (see probe.h). */
#include "checks/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "common/proxy_hdr.h"
#include "common/util.h"

#define STEP_AGAIN 0x100              /* progress made: run the next phase now */
#define STEP_DONE 0x200               /* the probe ended */
#define MAX_STEPS 256                 /* phase changes per event, a safety bound */
#define STEP_YIELD 0x400              /* read budget spent: read again next loop */
#define MAX_READS 16                  /* reads per event before yielding */

static void probe_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void probe_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents);

void probe_init(struct probe *p, struct probe_ctx *ctx, probe_done_fn done)
{
	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	p->done = done;
	p->fd = -1;
	buf_init(&p->wbuf);
	ev_init(&p->io, probe_io_cb);
	ev_init(&p->deadline, probe_deadline_cb);
}

bool probe_running(const struct probe *p)
{
	return p->phase != PROBE_IDLE;
}

const struct probe_proto *probe_proto_for(enum check_type t)
{
	switch (t) {
	case CHECK_HTTP: return &probe_proto_http;
	case CHECK_HTTPS: return &probe_proto_https;
	case CHECK_SMTP: return &probe_proto_smtp;
	case CHECK_IMAP: return &probe_proto_imap;
	case CHECK_IMAPS: return &probe_proto_imaps;
	case CHECK_POP3: return &probe_proto_pop3;
	case CHECK_POP3S: return &probe_proto_pop3s;
	default: return &probe_proto_tcp;
	}
}

/* Read and drop what is already queued so that close() sends FIN, not RST. */
static void drain_now(int fd)
{
	char scratch[4096];
	int i;

	for (i = 0; i < MAX_READS; i++)
		if (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0)
			break;
}

/* Release the connection and buffers; phase becomes idle. */
static void probe_release(struct probe *p, enum probe_close how)
{
	struct ev_loop *loop = probe_ctx_loop(p->ctx);
	const char *quit = how == PROBE_CLOSE_QUIT ? p->proto->quit : NULL;

	ev_io_stop(loop, &p->io);
	ev_timer_stop(loop, &p->deadline);
	if (p->ssl)
		SSL_set_app_data(p->ssl, NULL);   /* no more sessions into p */
	if (p->fd >= 0 && how != PROBE_CLOSE_NOW) {
		probe_closer_start(p->ctx, p->fd, p->tls ? p->ssl : NULL, quit,
				   p->conf->timeout_ms);
		if (!p->tls)
			SSL_free(p->ssl);
	} else {
		SSL_free(p->ssl);
		if (p->fd >= 0) {
			drain_now(p->fd);
			close(p->fd);
		}
	}
	p->ssl = NULL;
	p->fd = -1;
	p->tls = false;
	free(p->rbuf);
	p->rbuf = NULL;
	p->rlen = 0;
	buf_free(&p->wbuf);
	p->woff = 0;
	if (p->matching)
		body_match_free(&p->match);
	p->matching = false;
	p->phase = PROBE_IDLE;
}

void probe_forget_session(struct probe *p)
{
	SSL_SESSION_free(p->session);
	p->session = NULL;
}

void probe_abort(struct probe *p)
{
	if (p->phase != PROBE_IDLE)
		probe_release(p, PROBE_CLOSE_NOW);
}

void probe_finish(struct probe *p, enum check_result res, enum probe_close how,
		  const char *fmt, ...)
{
	char detail[REPLY_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	probe_release(p, how);
	if (res == CHECK_ERR_TLS)
		probe_forget_session(p);
	p->done(p, res, detail);
}

/* Fail before any I/O happened: report from the next loop iteration. */
static void probe_fail_early(struct probe *p, enum check_result res, const char *what)
{
	snprintf(p->early_detail, sizeof(p->early_detail), "%s: %s", what, strerror(errno));
	p->early_res = res;
	p->phase = PROBE_REPORT;
	ev_timer_set(&p->deadline, 0., 0.);
	ev_timer_start(probe_ctx_loop(p->ctx), &p->deadline);
}

void probe_start(struct probe *p, const struct check_conf *conf,
		 const struct addr *dst, const struct addr *src)
{
	struct ev_loop *loop = probe_ctx_loop(p->ctx);

	p->conf = conf;
	p->proto = probe_proto_for(conf->type);
	p->dst = *dst;
	p->started_ms = now_ms();
	p->step = 0;
	p->upgrading = false;
	p->waiting = "connection";
	p->note[0] = '\0';
	p->fd = socket(addr_family(dst), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		probe_fail_early(p, CHECK_ERR_LOCAL, "socket");
		return;
	}
	if (src && bind(p->fd, (const struct sockaddr *)&src->ss, src->len) < 0) {
		probe_fail_early(p, CHECK_ERR_LOCAL, "bind");
		return;
	}
	if (connect(p->fd, (const struct sockaddr *)&dst->ss, dst->len) < 0 &&
	    errno != EINPROGRESS) {
		probe_fail_early(p, CHECK_ERR_CONNECT, "connect");
		return;
	}
	p->rbuf = xmalloc(PROBE_RBUF);
	p->phase = PROBE_CONNECT;
	ev_io_set(&p->io, p->fd, EV_WRITE);
	ev_io_start(loop, &p->io);
	ev_timer_set(&p->deadline, conf->timeout_ms / 1000., 0.);
	ev_timer_start(loop, &p->deadline);
}

void probe_send(struct probe *p, const char *what, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_NOW, "out of memory");
		return;
	}
	buf_append(&p->wbuf, s, (size_t)n);
	free(s);
	p->waiting = what;
	p->phase = PROBE_SEND;
}

void probe_consume(struct probe *p, size_t n)
{
	if (n >= p->rlen) {
		p->rlen = 0;
		return;
	}
	memmove(p->rbuf, p->rbuf + n, p->rlen - n);
	p->rlen -= n;
}

void probe_starttls(struct probe *p)
{
	char err[REPLY_TEXT_MAX];

	p->ssl = probe_tls_new(p, err, sizeof(err));
	if (!p->ssl) {
		probe_finish(p, CHECK_ERR_TLS, PROBE_CLOSE_QUIT, "%s", err);
		return;
	}
	p->rlen = 0;                  /* nothing sent before TLS may be used after */
	p->upgrading = true;
	p->waiting = "TLS handshake";
	p->phase = PROBE_HANDSHAKE;
}

/* Map an SSL_get_error() to the event to wait for, or -1 on failure. */
static int tls_want(SSL *ssl, int ret)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ: return EV_READ;
	case SSL_ERROR_WANT_WRITE: return EV_WRITE;
	default: return -1;
	}
}

/* The PROXY header of a probe, a connection of our own: v2 LOCAL; v1 a
 * TCP4/TCP6 line naming the probe's own two ends, as the spec recommends
 * for health checks because some servers (postfix) reject "PROXY UNKNOWN",
 * which is only the fallback when the local address cannot be read. Sent at
 * once after connect: it is far smaller than a fresh socket's send buffer,
 * so a short write means the socket failed. 0, or STEP_DONE after
 * finishing the probe. */
static int send_proxy_hdr(struct probe *p)
{
	uint8_t hdr[PROXY_HDR_MAX];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct addr self;
	bool known = false;
	int len;
	ssize_t n;

	if (p->send_proxy == SEND_PROXY_V1 &&
	    getsockname(p->fd, (struct sockaddr *)&ss, &sl) == 0) {
		addr_from_sockaddr(&self, (struct sockaddr *)&ss, sl);
		known = true;
	}
	len = proxy_hdr_encode(p->send_proxy == SEND_PROXY_V1 ? PROXY_HDR_V1 : PROXY_HDR_V2,
			       known ? &self : NULL, known ? &p->dst : NULL, hdr, sizeof(hdr));
	n = send(p->fd, hdr, (size_t)len, MSG_NOSIGNAL);
	if (n == len)
		return 0;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "write (PROXY header): %s",
			     strerror(errno));
	else
		probe_finish(p, CHECK_ERR_LOCAL, PROBE_CLOSE_NOW, "write (PROXY header): "
			     "%zd of %d bytes taken by a new socket", n < 0 ? 0 : n, len);
	return STEP_DONE;
}

static int do_connect(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr == EINPROGRESS)
		return EV_WRITE;
	if (soerr) {
		probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "connect: %s", strerror(soerr));
		return STEP_DONE;
	}
	if (p->send_proxy != SEND_PROXY_NONE && send_proxy_hdr(p) == STEP_DONE)
		return STEP_DONE;
	if (!p->proto->implicit_tls) {
		p->phase = PROBE_RECV;
		p->proto->start(p);
		return STEP_AGAIN;
	}
	p->ssl = probe_tls_new(p, err, sizeof(err));
	if (!p->ssl) {
		probe_finish(p, CHECK_ERR_TLS, PROBE_CLOSE_FIN, "%s", err);
		return STEP_DONE;
	}
	p->waiting = "TLS handshake";
	p->phase = PROBE_HANDSHAKE;
	return STEP_AGAIN;
}

static int do_handshake(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	int ret, want;

	ERR_clear_error();
	ret = SSL_do_handshake(p->ssl);
	if (ret == 1) {
		p->tls = true;
		p->phase = PROBE_RECV;
		if (p->upgrading)
			p->proto->tls_up(p);
		else
			p->proto->start(p);
		return STEP_AGAIN;
	}
	want = tls_want(p->ssl, ret);
	if (want > 0)
		return want;
	probe_tls_error(p->ssl, ret, "TLS handshake", err, sizeof(err));
	probe_finish(p, CHECK_ERR_TLS, PROBE_CLOSE_NOW, "%s", err);
	return STEP_DONE;
}

static int do_send(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	size_t left = p->wbuf.len - p->woff;
	ssize_t n;
	int want;

	while (left > 0) {
		if (p->tls) {
			ERR_clear_error();
			n = SSL_write(p->ssl, p->wbuf.data + p->woff, (int)left);
			if (n <= 0) {
				want = tls_want(p->ssl, (int)n);
				if (want > 0)
					return want;
				probe_tls_error(p->ssl, (int)n, "TLS write", err, sizeof(err));
				probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "%s", err);
				return STEP_DONE;
			}
		} else {
			n = send(p->fd, p->wbuf.data + p->woff, left, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				return EV_WRITE;
			if (n < 0) {
				probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "write (%s): %s",
					     p->waiting, strerror(errno));
				return STEP_DONE;
			}
		}
		p->woff += (size_t)n;
		left -= (size_t)n;
	}
	buf_reset(&p->wbuf);
	p->woff = 0;
	p->phase = PROBE_RECV;
	if (p->rlen > 0)                /* bytes that came early */
		p->proto->input(p);
	return p->phase == PROBE_IDLE ? STEP_DONE : STEP_AGAIN;
}

/* One read into rbuf: > 0 bytes, 0 EOF, -EV_READ/-EV_WRITE to wait, or
 * STEP_DONE after finishing the probe with an error. */
static ssize_t read_some(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	size_t room = PROBE_RBUF - p->rlen;
	ssize_t n;
	int want;

	if (p->tls) {
		ERR_clear_error();
		n = SSL_read(p->ssl, p->rbuf + p->rlen, (int)room);
		if (n > 0)
			return n;
		if (SSL_get_error(p->ssl, (int)n) == SSL_ERROR_ZERO_RETURN)
			return 0;
		want = tls_want(p->ssl, (int)n);
		if (want > 0)
			return -want;
		if (SSL_get_error(p->ssl, (int)n) == SSL_ERROR_SYSCALL && errno == 0)
			return 0;             /* EOF without close_notify */
		probe_tls_error(p->ssl, (int)n, "TLS read", err, sizeof(err));
		probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "%s", err);
		return STEP_DONE;
	}
	n = recv(p->fd, p->rbuf + p->rlen, room, 0);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -EV_READ;
	probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "read (%s): %s",
		     p->waiting, strerror(errno));
	return STEP_DONE;
}

static int on_eof(struct probe *p)
{
	if (p->proto->eof)
		p->proto->eof(p);
	else
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN,
			     "connection closed by server while waiting for %s", p->waiting);
	return p->phase == PROBE_IDLE ? STEP_DONE : STEP_AGAIN;
}

static int do_recv(struct probe *p)
{
	ssize_t n;
	int i;

	for (i = 0; i < MAX_READS; i++) {
		if (p->rlen == PROBE_RBUF) {
			probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN,
				     "reply too long (no end of %s in %d bytes)",
				     p->waiting, PROBE_RBUF);
			return STEP_DONE;
		}
		n = read_some(p);
		if (n == STEP_DONE)
			return STEP_DONE;
		if (n < 0)
			return (int)-n;
		if (n == 0)
			return on_eof(p);
		p->rlen += (size_t)n;
		p->proto->input(p);
		if (p->phase != PROBE_RECV)
			return p->phase == PROBE_IDLE ? STEP_DONE : STEP_AGAIN;
	}
	return STEP_YIELD;
}

/* Run phases until one must wait for the socket (or the probe ended). */
static void probe_run(struct probe *p)
{
	struct ev_loop *loop = probe_ctx_loop(p->ctx);
	int i, ev, r = STEP_DONE;

	for (i = 0; i < MAX_STEPS; i++) {
		switch (p->phase) {
		case PROBE_CONNECT: r = do_connect(p); break;
		case PROBE_HANDSHAKE: r = do_handshake(p); break;
		case PROBE_SEND: r = do_send(p); break;
		case PROBE_RECV: r = do_recv(p); break;
		default: return;
		}
		if (r == STEP_DONE)
			return;
		if (r != STEP_AGAIN)
			break;
	}
	if (r == STEP_AGAIN) {
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_NOW, "too many steps");
		return;
	}
	ev = r == STEP_YIELD ? EV_READ : r;
	if ((p->io.events & (EV_READ | EV_WRITE)) != ev) {
		ev_io_stop(loop, &p->io);
		ev_io_set(&p->io, p->fd, ev);
		ev_io_start(loop, &p->io);
	}
	if (r == STEP_YIELD)
		ev_feed_event(loop, &p->io, EV_READ);
}

static void probe_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	probe_run(container_of(w, struct probe, io));
}

static void probe_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe *p = container_of(w, struct probe, deadline);

	if (p->phase == PROBE_REPORT) {
		char detail[REPLY_TEXT_MAX];

		memcpy(detail, p->early_detail, sizeof(detail));
		probe_finish(p, p->early_res, PROBE_CLOSE_NOW, "%s", detail);
		return;
	}
	probe_finish(p, CHECK_ERR_TIMEOUT, PROBE_CLOSE_NOW, "no %s within %u ms",
		     p->waiting, p->conf->timeout_ms);
}
