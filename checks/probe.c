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

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "common/proxy_hdr.h"
#include "common/util.h"

#define MAX_STEPS 256                 /* phase changes per event, a safety bound */
#define MAX_READS 16                  /* reads per event before yielding */

/* What one phase step did. A status, never a byte count: reads report their
 * byte counts through a separate size_t (see read_some()). */
enum step {
	STEP_WAIT_READ,               /* wait until the socket is readable */
	STEP_WAIT_WRITE,              /* wait until the socket is writable */
	STEP_AGAIN,                   /* progress made: run the next phase now */
	STEP_YIELD,                   /* read budget spent: read again next loop */
	STEP_DONE,                    /* the probe ended (the result was reported) */
};

/* What one read did; the bytes read travel in a size_t beside it. */
enum read_result {
	READ_DATA,                    /* *got > 0 bytes appended to rbuf */
	READ_EOF,                     /* the server closed */
	READ_WAIT_READ,               /* nothing yet */
	READ_WAIT_WRITE,              /* TLS needs to write first */
	READ_FAILED,                  /* the probe was finished with an error */
};

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
	case CHECK_EXPECT: return &probe_proto_expect;
	default: return &probe_proto_tcp;
	}
}

/* Read and drop what is already queued so that close() sends FIN, not RST. */
/* Free the write buffer, wiped first when it held a secret (AUTH). */
static void wbuf_free(struct probe *p)
{
	if (p->secret && p->wbuf.data)
		OPENSSL_cleanse(p->wbuf.data, p->wbuf.cap);
	p->secret = false;
	buf_free(&p->wbuf);
}

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
	const char *quit = how != PROBE_CLOSE_QUIT ? NULL : p->quit ? p->quit : p->proto->quit;

	ev_io_stop(loop, &p->io);
	ev_timer_stop(loop, &p->deadline);
	if (p->icmp_waiting)
		icmp_probe_cancel(p);
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
	wbuf_free(p);
	p->woff = 0;
	free(p->quit);
	p->quit = NULL;
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

void probe_cleanup(struct probe *p)
{
	probe_abort(p);
	probe_forget_session(p);
	wbuf_free(p);
}

void probe_abort(struct probe *p)
{
	if (p->phase != PROBE_IDLE)
		probe_release(p, PROBE_CLOSE_NOW);
	wbuf_free(p);                   /* also the one probe_init() made for a probe never run */
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

/* Fail before any I/O happened: report from the next loop iteration. what
 * names the call that failed, or is NULL when the result's class says it. */
static void probe_fail_early(struct probe *p, enum check_result res, const char *what)
{
	if (what)
		snprintf(p->early_detail, sizeof(p->early_detail), "%s: %s", what, strerror(errno));
	else
		snprintf(p->early_detail, sizeof(p->early_detail), "%s", strerror(errno));
	p->early_res = res;
	p->phase = PROBE_REPORT;
	ev_timer_set(&p->deadline, 0., 0.);
	ev_timer_start(probe_ctx_loop(p->ctx), &p->deadline);
}

uint32_t probe_rtt_us(const struct probe *p)
{
	uint64_t d = now_us() - p->started_us;

	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

void probe_fail_soon(struct probe *p, enum check_result res, const char *detail)
{
	snprintf(p->early_detail, sizeof(p->early_detail), "%s", detail);
	p->early_res = res;
	p->phase = PROBE_REPORT;
	ev_timer_set(&p->deadline, 0., 0.);
	ev_timer_start(probe_ctx_loop(p->ctx), &p->deadline);
}

void probe_start(struct probe *p, const struct check_conf *conf,
		 const struct addr *dst, const struct addr *src)
{
	if (conf->type == CHECK_ICMP) {
		icmp_probe_start(p, conf, dst, src);
		return;
	}
	probe_start_proto(p, conf->type == CHECK_EXPECT && conf->tls ? &probe_proto_expect_tls
				: probe_proto_for(conf->type), conf, dst, src);
}

void probe_start_proto(struct probe *p, const struct probe_proto *proto,
		       const struct check_conf *conf, const struct addr *dst,
		       const struct addr *src)
{
	struct ev_loop *loop = probe_ctx_loop(p->ctx);

	p->conf = conf;
	p->proto = proto;
	p->dst = *dst;
	p->started_ms = now_ms();
	p->started_us = now_us();
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
		if (connect_errno_is_local(errno))
			probe_fail_early(p, CHECK_ERR_LOCAL, "connect");
		else
			probe_fail_early(p, CHECK_ERR_CONNECT, NULL);
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

void probe_send_secret(struct probe *p, const char *what, const char *data, size_t len)
{
	buf_append(&p->wbuf, data, len);
	p->secret = true;
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

/* Map an SSL_get_error() to the wait it asks for: true and *wait set, or
 * false when the call failed. */
static bool tls_want(SSL *ssl, int ret, enum step *wait)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ: *wait = STEP_WAIT_READ; return true;
	case SSL_ERROR_WANT_WRITE: *wait = STEP_WAIT_WRITE; return true;
	default: return false;
	}
}

/* The PROXY header of a probe, a connection of our own: v2 LOCAL; v1 a
 * TCP4/TCP6 line naming the probe's own two ends, as the spec recommends
 * for health checks because some servers (postfix) reject "PROXY UNKNOWN",
 * which is only the fallback when the local address cannot be read. Sent at
 * once after connect: it is far smaller than a fresh socket's send buffer,
 * so a short write means the socket failed. True when sent; false after
 * finishing the probe. */
static bool send_proxy_hdr(struct probe *p)
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
		return true;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "write (PROXY header): %s",
			     strerror(errno));
	else
		probe_finish(p, CHECK_ERR_LOCAL, PROBE_CLOSE_NOW, "write (PROXY header): "
			     "%zd of %d bytes taken by a new socket", n < 0 ? 0 : n, len);
	return false;
}

static enum step do_connect(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr == EINPROGRESS)
		return STEP_WAIT_WRITE;
	if (soerr) {
		/* check_last says "connect" already: the detail is the reason alone */
		probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "%s", strerror(soerr));
		return STEP_DONE;
	}
	if (p->send_proxy != SEND_PROXY_NONE && !send_proxy_hdr(p))
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

static enum step do_handshake(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	enum step wait;
	int ret;

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
	if (tls_want(p->ssl, ret, &wait))
		return wait;
	probe_tls_error(p->ssl, ret, "TLS handshake", err, sizeof(err));
	probe_finish(p, CHECK_ERR_TLS, PROBE_CLOSE_NOW, "%s", err);
	return STEP_DONE;
}

static enum step do_send(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	size_t left = p->wbuf.len - p->woff;
	enum step wait;
	ssize_t n;

	while (left > 0) {
		if (p->tls) {
			ERR_clear_error();
			n = SSL_write(p->ssl, p->wbuf.data + p->woff, (int)left);
			if (n <= 0) {
				if (tls_want(p->ssl, (int)n, &wait))
					return wait;
				probe_tls_error(p->ssl, (int)n, "TLS write", err, sizeof(err));
				probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "%s", err);
				return STEP_DONE;
			}
		} else {
			n = send(p->fd, p->wbuf.data + p->woff, left, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				return STEP_WAIT_WRITE;
			if (n < 0) {
				probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "write (%s): %s",
					     p->waiting, strerror(errno));
				return STEP_DONE;
			}
		}
		p->woff += (size_t)n;
		left -= (size_t)n;
	}
	if (p->secret) {
		OPENSSL_cleanse(p->wbuf.data, p->wbuf.cap);
		p->secret = false;
	}
	buf_reset(&p->wbuf);
	p->woff = 0;
	p->phase = PROBE_RECV;
	if (p->rlen > 0)                /* bytes that came early */
		p->proto->input(p);
	return p->phase == PROBE_IDLE ? STEP_DONE : STEP_AGAIN;
}

/* One read into rbuf: READ_DATA with *got > 0 bytes, READ_EOF, a wait, or
 * READ_FAILED after finishing the probe with an error. */
static enum read_result read_some(struct probe *p, size_t *got)
{
	char err[REPLY_TEXT_MAX];
	size_t room = PROBE_RBUF - p->rlen;
	enum step wait;
	ssize_t n;

	*got = 0;
	if (p->tls) {
		ERR_clear_error();
		n = SSL_read(p->ssl, p->rbuf + p->rlen, (int)room);
		if (n > 0) {
			*got = (size_t)n;
			return READ_DATA;
		}
		if (SSL_get_error(p->ssl, (int)n) == SSL_ERROR_ZERO_RETURN)
			return READ_EOF;
		if (tls_want(p->ssl, (int)n, &wait))
			return wait == STEP_WAIT_WRITE ? READ_WAIT_WRITE : READ_WAIT_READ;
		if (SSL_get_error(p->ssl, (int)n) == SSL_ERROR_SYSCALL && errno == 0)
			return READ_EOF;      /* EOF without close_notify */
		probe_tls_error(p->ssl, (int)n, "TLS read", err, sizeof(err));
		probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "%s", err);
		return READ_FAILED;
	}
	n = recv(p->fd, p->rbuf + p->rlen, room, 0);
	if (n > 0) {
		*got = (size_t)n;
		return READ_DATA;
	}
	if (n == 0)
		return READ_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return READ_WAIT_READ;
	probe_finish(p, CHECK_ERR_CONNECT, PROBE_CLOSE_NOW, "read (%s): %s",
		     p->waiting, strerror(errno));
	return READ_FAILED;
}

static enum step on_eof(struct probe *p)
{
	if (p->proto->eof)
		p->proto->eof(p);
	else
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN,
			     "connection closed by server while waiting for %s", p->waiting);
	return p->phase == PROBE_IDLE ? STEP_DONE : STEP_AGAIN;
}

/* A reply (line, reply or response head) may fill the whole buffer,
 * PROBE_RBUF bytes with its terminator, and pass; only when the buffer is
 * full and the protocol still waits for more does the probe fail. */
static enum step do_recv(struct probe *p)
{
	size_t got;
	int i;

	for (i = 0; i < MAX_READS; i++) {
		if (p->rlen == PROBE_RBUF) {
			probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN,
				     "reply too long (no end of %s in %d bytes)",
				     p->waiting, PROBE_RBUF);
			return STEP_DONE;
		}
		switch (read_some(p, &got)) {
		case READ_DATA: break;
		case READ_EOF: return on_eof(p);
		case READ_WAIT_READ: return STEP_WAIT_READ;
		case READ_WAIT_WRITE: return STEP_WAIT_WRITE;
		case READ_FAILED: return STEP_DONE;
		}
		p->rlen += got;
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
	enum step r = STEP_DONE;
	int i, ev;

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
	ev = r == STEP_WAIT_WRITE ? EV_WRITE : EV_READ;
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
