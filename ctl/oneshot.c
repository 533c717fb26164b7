/* oneshot.c - one request, one answer, close: the connection loop shared by
 * the control socket and the HTTP status server. */
#include "ctl/oneshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define ONESHOT_ACCEPT_BURST 32
#define ONESHOT_RESUME_S 1.0    /* retry accepting after EMFILE and friends */

enum client_phase { PHASE_READ, PHASE_WRITE, PHASE_LINGER };

struct oneshot_client {
	struct oneshot *srv;
	struct oneshot_client *prev, *next;
	int fd;
	enum client_phase phase;
	ev_io io;
	ev_timer deadline;
	struct buf out;
	size_t off;                   /* bytes of out already written */
	size_t inlen;
	char in[];                    /* ops->max_request bytes */
};

struct oneshot {
	struct ev_loop *loop;
	const struct oneshot_ops *ops;
	void *arg;
	int fd;
	ev_io accept_w;
	ev_timer resume;
	struct oneshot_client *clients;
	unsigned nclients;
	bool in_handler;              /* inside ops->handle() */
	bool dead;                    /* oneshot_free() was called from handle() */
};

static void oneshot_accept_cb(struct ev_loop *loop, ev_io *w, int revents);
static void oneshot_resume_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void client_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents);

struct oneshot *oneshot_new(struct ev_loop *loop, int fd, const struct oneshot_ops *ops,
			    void *arg)
{
	struct oneshot *s;

	if (fd_set_nonblock(fd) < 0) {
		close(fd);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->ops = ops;
	s->arg = arg;
	s->fd = fd;
	ev_io_init(&s->accept_w, oneshot_accept_cb, fd, EV_READ);
	ev_timer_init(&s->resume, oneshot_resume_cb, ONESHOT_RESUME_S, 0.);
	ev_io_start(loop, &s->accept_w);
	return s;
}

/* Resume accepting if the listener is open and nothing holds it paused. */
static void oneshot_maybe_resume(struct oneshot *s)
{
	if (s->fd >= 0 && !s->dead && s->nclients < s->ops->max_clients &&
	    !ev_is_active(&s->resume))
		ev_io_start(s->loop, &s->accept_w);
}

static void client_close(struct oneshot_client *c)
{
	struct oneshot *s = c->srv;

	ev_io_stop(s->loop, &c->io);
	ev_timer_stop(s->loop, &c->deadline);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	buf_free(&c->out);
	free(c);
	s->nclients--;
	oneshot_maybe_resume(s);
}

static void oneshot_destroy(struct oneshot *s)
{
	while (s->clients)
		client_close(s->clients);
	free(s);
}

void oneshot_free(struct oneshot *s)
{
	if (!s)
		return;
	ev_io_stop(s->loop, &s->accept_w);
	ev_timer_stop(s->loop, &s->resume);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->in_handler) {
		s->dead = true;
		return;
	}
	oneshot_destroy(s);
}

static void client_add(struct oneshot *s, int fd)
{
	struct oneshot_client *c = xcalloc(1, sizeof(*c) + s->ops->max_request);

	c->srv = s;
	c->fd = fd;
	c->phase = PHASE_READ;
	buf_init(&c->out);
	ev_io_init(&c->io, client_io_cb, fd, EV_READ);
	ev_timer_init(&c->deadline, client_deadline_cb, s->ops->deadline_s, 0.);
	ev_io_start(s->loop, &c->io);
	ev_timer_start(s->loop, &c->deadline);
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->nclients++;
}

static void oneshot_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct oneshot *s = container_of(w, struct oneshot, accept_w);
	int i, fd;

	for (i = 0; i < ONESHOT_ACCEPT_BURST; i++) {
		if (s->nclients >= s->ops->max_clients) {
			ev_io_stop(loop, &s->accept_w);
			return;
		}
		fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			client_add(s, fd);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_warning("control/status accept: %s; pausing 1 s", strerror(errno));
			ev_io_stop(loop, &s->accept_w);
			ev_timer_start(loop, &s->resume);
			return;
		}
		/* ECONNABORTED, EINTR, EPROTO...: that client is gone, go on */
	}
}

static void oneshot_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct oneshot *s = container_of(w, struct oneshot, resume);

	oneshot_maybe_resume(s);
}

static void client_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	client_close(container_of(w, struct oneshot_client, deadline));
}

static void client_watch(struct oneshot_client *c, int events)
{
	struct ev_loop *loop = c->srv->loop;

	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(loop, &c->io);
}

/* Write what the socket takes; when all is out, close or linger. */
static void client_write(struct oneshot_client *c)
{
	while (c->off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->off, c->out.len - c->off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->off += (size_t)n;
	}
	if (!c->srv->ops->linger) {
		client_close(c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->phase = PHASE_LINGER;
	client_watch(c, EV_READ);
}

/* Hand the request to the server's handler, then start answering. */
static void client_dispatch(struct oneshot_client *c, enum oneshot_event ev, size_t len)
{
	struct oneshot *s = c->srv;

	s->in_handler = true;
	s->ops->handle(s->arg, ev, c->in, len, &c->out);
	s->in_handler = false;
	if (s->dead) {
		oneshot_destroy(s);
		return;
	}
	if (c->out.len == 0) {
		client_close(c);
		return;
	}
	c->phase = PHASE_WRITE;
	client_watch(c, EV_WRITE);
	client_write(c);
}

static void client_read(struct oneshot_client *c)
{
	size_t max = c->srv->ops->max_request, req;
	ssize_t n = recv(c->fd, c->in + c->inlen, max - c->inlen, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		client_close(c);
		return;
	}
	if (n == 0) {
		client_dispatch(c, ONESHOT_EOF, c->inlen);
		return;
	}
	c->inlen += (size_t)n;
	req = c->srv->ops->complete(c->in, c->inlen);
	if (req > 0)
		client_dispatch(c, ONESHOT_REQUEST, req);
	else if (c->inlen == max)
		client_dispatch(c, ONESHOT_TOO_LONG, c->inlen);
}

/* Discard what the client still sends until it closes (or the deadline). */
static void client_linger(struct oneshot_client *c)
{
	char sink[4096];
	ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0)
		client_close(c);
}

static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct oneshot_client *c = container_of(w, struct oneshot_client, io);

	switch (c->phase) {
	case PHASE_READ:
		client_read(c);
		break;
	case PHASE_WRITE:
		client_write(c);
		break;
	case PHASE_LINGER:
		client_linger(c);
		break;
	}
}
