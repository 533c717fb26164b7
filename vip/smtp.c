/* smtp.c - a small non-blocking SMTP client for notification mail. */
#include "vip/smtp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/buf.h"
#include "common/util.h"

enum smtp_step {
	ST_CONNECT, ST_GREETING, ST_EHLO, ST_STARTTLS, ST_HANDSHAKE, ST_EHLO_TLS, ST_MAIL,
	ST_RCPT, ST_DATA, ST_BODY, ST_QUIT,
};

struct smtp {
	struct ev_loop *loop;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	ev_io io;
	ev_timer deadline;
	enum smtp_step step;
	bool starttls_offered;
	size_t rcpt;                  /* next recipient */
	char *from;
	char **to;
	size_t nto;
	char *text;
	struct buf out;               /* pending bytes to send */
	size_t out_off;
	char in[4096];                /* partial reply line */
	size_t in_len;
	smtp_done_fn *done;
	void *arg;
};

int smtp_reply_line(const char *line, int *code)
{
	if (strlen(line) < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	if (line[3] != '\0' && line[3] != ' ' && line[3] != '-')
		return -1;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	return line[3] == '-' ? 0 : 1;
}

static void smtp_free(struct smtp *s)
{
	ev_io_stop(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->deadline);
	if (s->ssl)
		SSL_free(s->ssl);
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	if (s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; i < s->nto; i++)
		free(s->to[i]);
	free(s->to);
	free(s->from);
	free(s->text);
	buf_free(&s->out);
	free(s);
}

void smtp_abort(struct smtp *s)
{
	if (s)
		smtp_free(s);
}

/* The one exit: report and free. */
static void smtp_finish(struct smtp *s, bool ok, const char *detail)
{
	smtp_done_fn *done = s->done;
	void *arg = s->arg;
	char copy[256];

	snprintf(copy, sizeof(copy), "%s", detail);
	smtp_free(s);
	done(ok, copy, arg);
}

static void want(struct smtp *s, int events)
{
	if (s->io.events == events && ev_is_active(&s->io))
		return;
	ev_io_stop(s->loop, &s->io);
	ev_io_set(&s->io, s->fd, events);
	ev_io_start(s->loop, &s->io);
}

static void sendf(struct smtp *s, const char *fmt, const char *arg)
{
	buf_printf(&s->out, fmt, arg);
}

/* Write what is pending. 0, or -1 on error. */
static int flush_out(struct smtp *s)
{
	while (s->out_off < s->out.len) {
		size_t left = s->out.len - s->out_off;
		ssize_t n;

		if (s->ssl) {
			int r = SSL_write(s->ssl, s->out.data + s->out_off, (int)left);

			if (r <= 0) {
				int e = SSL_get_error(s->ssl, r);

				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					return 0;
				return -1;
			}
			n = r;
		} else {
			n = send(s->fd, s->out.data + s->out_off, left, MSG_NOSIGNAL);
			if (n < 0)
				return errno == EAGAIN ? 0 : -1;
		}
		s->out_off += (size_t)n;
	}
	buf_reset(&s->out);
	s->out_off = 0;
	return 0;
}

/* Next command after a complete reply with code. -1 with detail on failure. */
static int advance(struct smtp *s, int code, const char *line, char *detail, size_t dlen)
{
	static const int expect[] = { [ST_GREETING] = 220, [ST_EHLO] = 250, [ST_STARTTLS] = 220,
				      [ST_EHLO_TLS] = 250, [ST_MAIL] = 250, [ST_RCPT] = 250,
				      [ST_DATA] = 354, [ST_BODY] = 250, [ST_QUIT] = 221 };

	if (code != expect[s->step] && !(s->step == ST_RCPT && code == 251) &&
	    !(s->step == ST_QUIT && code / 100 == 2)) {
		snprintf(detail, dlen, "relay said \"%.200s\"", line);
		return -1;
	}
	switch (s->step) {
	case ST_GREETING:
		sendf(s, "EHLO %s\r\n", "vigil");
		s->step = ST_EHLO;
		break;
	case ST_EHLO:
		if (s->starttls_offered) {
			sendf(s, "%s", "STARTTLS\r\n");
			s->step = ST_STARTTLS;
			break;
		}
		/* fall through */
	case ST_EHLO_TLS:
		sendf(s, "MAIL FROM:<%s>\r\n", s->from);
		s->step = ST_MAIL;
		break;
	case ST_STARTTLS:
		s->step = ST_HANDSHAKE;
		return 1;
	case ST_MAIL:
	case ST_RCPT:
		if (s->rcpt < s->nto) {
			sendf(s, "RCPT TO:<%s>\r\n", s->to[s->rcpt++]);
			s->step = ST_RCPT;
		} else {
			sendf(s, "%s", "DATA\r\n");
			s->step = ST_DATA;
		}
		break;
	case ST_DATA:
		buf_puts(&s->out, s->text);
		buf_puts(&s->out, ".\r\n");
		s->step = ST_BODY;
		break;
	case ST_BODY:
		sendf(s, "%s", "QUIT\r\n");
		s->step = ST_QUIT;
		break;
	case ST_QUIT:
		return 2;
	default:
		break;
	}
	return 0;
}

/* Handle one received line. 0 go on, 1 start TLS, 2 done, -1 failed. */
static int on_line(struct smtp *s, const char *line, char *detail, size_t dlen)
{
	int code, r = smtp_reply_line(line, &code);

	if (r < 0) {
		snprintf(detail, dlen, "not SMTP: \"%.80s\"", line);
		return -1;
	}
	if ((s->step == ST_EHLO) && strncasecmp(line + 4, "STARTTLS", 8) == 0)
		s->starttls_offered = true;
	if (r == 0)
		return 0;
	return advance(s, code, line, detail, dlen);
}

static int read_some(struct smtp *s, char *p, size_t n)
{
	if (s->ssl) {
		int r = SSL_read(s->ssl, p, (int)n);

		if (r > 0)
			return r;
		r = SSL_get_error(s->ssl, r);
		if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE) {
			errno = EAGAIN;
			return -1;
		}
		errno = ECONNRESET;
		return r == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	return (int)recv(s->fd, p, n, 0);
}

/* Read replies. 0 go on, 1 start TLS, 2 done, -1 failed. */
static int on_readable(struct smtp *s, char *detail, size_t dlen)
{
	for (int iter = 0; iter < 64; iter++) {
		int n = read_some(s, s->in + s->in_len, sizeof(s->in) - 1 - s->in_len);
		char *nl;

		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			snprintf(detail, dlen, "connection closed by the relay");
			return -1;
		}
		if (n < 0)
			return 0;
		s->in_len += (size_t)n;
		s->in[s->in_len] = '\0';
		while ((nl = strchr(s->in, '\n'))) {
			int r;

			*nl = '\0';
			if (nl > s->in && nl[-1] == '\r')
				nl[-1] = '\0';
			r = on_line(s, s->in, detail, dlen);
			s->in_len -= (size_t)(nl + 1 - s->in);
			memmove(s->in, nl + 1, s->in_len + 1);
			if (r != 0)
				return r;
		}
		if (s->in_len >= sizeof(s->in) - 1) {
			snprintf(detail, dlen, "reply line too long");
			return -1;
		}
	}
	return 0;
}

static int tls_start(struct smtp *s, char *detail, size_t dlen)
{
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (s->ctx)
		s->ssl = SSL_new(s->ctx);
	if (!s->ssl || !SSL_set_fd(s->ssl, s->fd)) {
		snprintf(detail, dlen, "TLS set-up failed");
		return -1;
	}
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);
	SSL_set_connect_state(s->ssl);
	return 0;
}

/* Drive the TLS handshake. 0 in progress, 1 done, -1 failed. */
static int tls_step(struct smtp *s, char *detail, size_t dlen)
{
	int r = SSL_do_handshake(s->ssl);

	if (r == 1) {
		s->step = ST_EHLO_TLS;
		sendf(s, "EHLO %s\r\n", "vigil");
		return 1;
	}
	r = SSL_get_error(s->ssl, r);
	if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE) {
		want(s, r == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
		return 0;
	}
	snprintf(detail, dlen, "STARTTLS handshake failed");
	return -1;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct smtp *s = container_of(w, struct smtp, io);
	char detail[256] = "";
	int r = 0, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (s->step == ST_CONNECT) {
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			snprintf(detail, sizeof(detail), "connect: %s", strerror(soerr));
			smtp_finish(s, false, detail);
			return;
		}
		s->step = ST_GREETING;
	} else if (s->step == ST_HANDSHAKE) {
		r = tls_step(s, detail, sizeof(detail));
	} else if (revents & EV_READ) {
		r = on_readable(s, detail, sizeof(detail));
		if (r == 1 && tls_start(s, detail, sizeof(detail)) == 0)
			r = tls_step(s, detail, sizeof(detail));
	}
	if (r == 2) {
		smtp_finish(s, true, "delivered");
		return;
	}
	if (r < 0 || flush_out(s) < 0) {
		smtp_finish(s, false, detail[0] ? detail : "write failed");
		return;
	}
	if (s->step != ST_HANDSHAKE)
		want(s, s->out.len ? EV_READ | EV_WRITE : EV_READ);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtp *s = container_of(w, struct smtp, deadline);

	smtp_finish(s, false, "timed out");
}

struct smtp *smtp_start(struct ev_loop *loop, const struct addr *relay, const char *from,
			char *const *to, size_t nto, const char *text, unsigned timeout_ms,
			smtp_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct smtp *s;
	int fd = socket(addr_family(relay), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (const struct sockaddr *)&relay->ss, relay->len) < 0 &&
	    errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->fd = fd;
	s->from = xstrdup(from);
	s->to = xcalloc(nto ? nto : 1, sizeof(*s->to));
	for (size_t i = 0; i < nto; i++)
		s->to[i] = xstrdup(to[i]);
	s->nto = nto;
	s->text = xstrdup(text);
	buf_init(&s->out);
	s->done = done;
	s->arg = arg;
	s->step = ST_CONNECT;
	ev_io_init(&s->io, io_cb, fd, EV_WRITE);
	ev_io_start(loop, &s->io);
	ev_timer_init(&s->deadline, deadline_cb, timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &s->deadline);
	return s;
}
