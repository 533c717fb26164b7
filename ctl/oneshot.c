/* oneshot.c - one request, one answer, close: the connection loop shared by
 * the control socket and the HTTP status server. */
#include "ctl/oneshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define ONESHOT_ACCEPT_BURST 16 /* accepts per loop turn: reads of the accepted interleave */
#define ONESHOT_RESUME_S 1.0    /* retry accepting after EMFILE and friends */
#define ONESHOT_LOG_EVERY_S 60.0 /* at most one line about evictions this often */

enum client_phase { PHASE_READ, PHASE_WRITE, PHASE_LINGER };

struct oneshot_client {
	struct oneshot *srv;
	TAILQ_ENTRY(oneshot_client) link;   /* oldest first */
	int fd;
	enum client_phase phase;
	struct oneshot_source src;
	char peer[ONESHOT_PEER_MAX];  /* the client's address as text, "" for unix */
	ev_io io;
	ev_timer deadline;
	struct buf out;
	size_t off;                   /* bytes of out already written */
	size_t inlen;
	char in[];                    /* ops->max_request bytes */
};

TAILQ_HEAD(oneshot_clients, oneshot_client);

struct oneshot {
	struct ev_loop *loop;
	const struct oneshot_ops *ops;
	void *arg;
	int fd;
	int spare;                    /* the reserved fd (ops->reserve_fd), or -1 */
	ev_io accept_w;
	ev_timer resume;
	struct oneshot_clients clients;
	struct oneshot_stats st;
	uint64_t evicted_logged;      /* evictions already reported in the log */
	ev_tstamp logged_at;          /* when the last eviction line was written */
	bool in_handler;              /* inside ops->handle() */
	bool dead;                    /* oneshot_free() was called from handle() */
};

static void oneshot_accept_cb(struct ev_loop *loop, ev_io *w, int revents);
static void oneshot_resume_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void client_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* ---------------------------------------------------------------- policy (pure) */

void oneshot_source_of(const struct sockaddr *sa, socklen_t len, struct oneshot_source *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(out, 0, sizeof(*out));
	out->family = AF_UNSPEC;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		out->family = AF_INET;
		memcpy(out->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
		   len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const uint8_t *a =
			((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

		if (!memcmp(a, mapped, sizeof(mapped))) {
			out->family = AF_INET;
			memcpy(out->addr, a + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->addr, a, 8);
		}
	}
}

int oneshot_source_equal(const struct oneshot_source *a, const struct oneshot_source *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

enum oneshot_admit oneshot_admit(const struct oneshot_ops *ops, unsigned open,
				 unsigned same_source)
{
	if (ops->max_per_source && same_source >= ops->max_per_source)
		return ONESHOT_EVICT_SOURCE;
	if (open >= ops->max_clients)
		return ONESHOT_EVICT_ANY;
	return ONESHOT_ADMIT;
}

/* ---------------------------------------------------------------- server */

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
	s->spare = -1;
	if (ops->reserve_fd)
		s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	TAILQ_INIT(&s->clients);
	ev_io_init(&s->accept_w, oneshot_accept_cb, fd, EV_READ);
	ev_timer_init(&s->resume, oneshot_resume_cb, ONESHOT_RESUME_S, 0.);
	ev_io_start(loop, &s->accept_w);
	return s;
}

void oneshot_get_stats(const struct oneshot *s, struct oneshot_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s)
		*out = s->st;
}

/* The one way a client goes: stop its watchers, close, unlink, free. */
static void client_close(struct oneshot_client *c)
{
	struct oneshot *s = c->srv;

	ev_io_stop(s->loop, &c->io);
	ev_timer_stop(s->loop, &c->deadline);
	close(c->fd);
	TAILQ_REMOVE(&s->clients, c, link);
	buf_free(&c->out);
	free(c);
	s->st.open--;
	if (s->ops->reserve_fd && s->spare < 0 && s->fd >= 0)
		s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void oneshot_destroy(struct oneshot *s)
{
	while (!TAILQ_EMPTY(&s->clients))
		client_close(TAILQ_FIRST(&s->clients));
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
	if (s->spare >= 0)
		close(s->spare);
	s->spare = -1;
	if (s->in_handler) {
		s->dead = true;
		return;
	}
	oneshot_destroy(s);
}

static unsigned oneshot_count_source(const struct oneshot *s, const struct oneshot_source *src)
{
	const struct oneshot_client *c;
	unsigned n = 0;

	TAILQ_FOREACH(c, &s->clients, link)
		n += (unsigned)oneshot_source_equal(&c->src, src);
	return n;
}

/* 1 if c's whole request already waits in its socket (read soon, not to be
 * shed), peeked into the free tail of c->in without taking it. */
static int client_request_waiting(struct oneshot_client *c)
{
	size_t room = c->srv->ops->max_request - c->inlen;
	ssize_t n = recv(c->fd, c->in + c->inlen, room, MSG_PEEK | MSG_DONTWAIT);

	if (n <= 0)
		return 0;
	return (size_t)n == room || c->srv->ops->complete(c->in, c->inlen + (size_t)n) > 0;
}

/* How willingly c is closed for room, lowest first: an incomplete request
 * (the idle and the slow), then one answered and waiting for the client to
 * close, last one receiving its answer or about to be answered. */
static int client_shed_rank(struct oneshot_client *c)
{
	switch (c->phase) {
	case PHASE_READ:
		return client_request_waiting(c) ? 2 : 0;
	case PHASE_LINGER:
		return 1;
	case PHASE_WRITE:
		break;
	}
	return 2;
}

/* The connection to close for room: the oldest (of src, if given) of the
 * lowest rank. NULL if there is none. */
static struct oneshot_client *oneshot_victim(struct oneshot *s,
					     const struct oneshot_source *src)
{
	struct oneshot_client *c, *best = NULL;
	int rank, best_rank = 3;

	TAILQ_FOREACH(c, &s->clients, link) {
		if (src && !oneshot_source_equal(&c->src, src))
			continue;
		rank = client_shed_rank(c);
		if (rank == 0)
			return c;
		if (rank < best_rank) {
			best = c;
			best_rank = rank;
		}
	}
	return best;
}

/* One line now and then about the connections closed to make room. */
static void oneshot_log_evictions(struct oneshot *s)
{
	uint64_t all = s->st.evicted_total + s->st.evicted_source;
	ev_tstamp now = ev_now(s->loop);

	if (all == s->evicted_logged ||
	    (s->evicted_logged && now - s->logged_at < ONESHOT_LOG_EVERY_S))
		return;
	log_warning("%s: %" PRIu64 " connection(s) closed to make room for new ones "
		    "(limits: %u open, %u per source; oldest idle or slow first)",
		    s->ops->name, all - s->evicted_logged, s->ops->max_clients,
		    s->ops->max_per_source);
	s->evicted_logged = all;
	s->logged_at = now;
}

/* Make room for a new connection from src: close what the limits ask. */
static void oneshot_make_room(struct oneshot *s, const struct oneshot_source *src)
{
	enum oneshot_admit v;
	struct oneshot_client *victim;

	while ((v = oneshot_admit(s->ops, s->st.open, oneshot_count_source(s, src))) !=
	       ONESHOT_ADMIT) {
		victim = oneshot_victim(s, v == ONESHOT_EVICT_SOURCE ? src : NULL);
		if (!victim)
			return;
		if (v == ONESHOT_EVICT_SOURCE)
			s->st.evicted_source++;
		else
			s->st.evicted_total++;
		client_close(victim);
	}
	oneshot_log_evictions(s);
}

/* The address of a client as text: "192.0.2.7", "2001:db8::1", "" for unix. */
static void oneshot_peer_str(const struct sockaddr_storage *ss, char *out, size_t len)
{
	out[0] = '\0';
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)len);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out,
			  (socklen_t)len);
}

static void client_add(struct oneshot *s, int fd, const struct oneshot_source *src,
		       const struct sockaddr_storage *ss)
{
	struct oneshot_client *c;

	if (oneshot_admit(s->ops, s->st.open, oneshot_count_source(s, src)) != ONESHOT_ADMIT)
		oneshot_make_room(s, src);
	c = xcalloc(1, sizeof(*c) + s->ops->max_request);
	c->srv = s;
	c->fd = fd;
	c->phase = PHASE_READ;
	c->src = *src;
	oneshot_peer_str(ss, c->peer, sizeof(c->peer));
	buf_init(&c->out);
	ev_io_init(&c->io, client_io_cb, fd, EV_READ);
	ev_timer_init(&c->deadline, client_deadline_cb, s->ops->head_deadline_s, 0.);
	ev_io_start(s->loop, &c->io);
	ev_timer_start(s->loop, &c->deadline);
	TAILQ_INSERT_TAIL(&s->clients, c, link);
	s->st.open++;
	s->st.accepted++;
}

/* Out of fds: give up the spare to accept one client on it. 1 if one was
 * accepted, else 0 (errno from accept). */
static int oneshot_accept_reserved(struct oneshot *s)
{
	struct sockaddr_storage ss;
	struct oneshot_source src;
	socklen_t len = sizeof(ss);
	int fd;

	if (s->spare < 0)
		return 0;
	close(s->spare);
	s->spare = -1;
	fd = accept4(s->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		errno = e;
		return 0;
	}
	log_warning("%s: out of file descriptors; accepted one client on the reserved one",
		    s->ops->name);
	s->st.reserve_used++;
	oneshot_source_of((struct sockaddr *)&ss, len, &src);
	client_add(s, fd, &src, &ss);
	return 1;
}

static void oneshot_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct oneshot *s = container_of(w, struct oneshot, accept_w);
	struct sockaddr_storage ss;
	struct oneshot_source src;
	socklen_t len;
	int i, fd;

	for (i = 0; i < ONESHOT_ACCEPT_BURST; i++) {
		len = sizeof(ss);
		fd = accept4(s->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			oneshot_source_of((struct sockaddr *)&ss, len, &src);
			client_add(s, fd, &src, &ss);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if ((errno == EMFILE || errno == ENFILE) && oneshot_accept_reserved(s))
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			s->st.accept_errors++;
			log_warning("%s: accept: %s; pausing 1 s", s->ops->name, strerror(errno));
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

	if (s->fd >= 0 && !s->dead)
		ev_io_start(loop, &s->accept_w);
}

/* ---------------------------------------------------------------- one client */

static void client_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct oneshot_client *c = container_of(w, struct oneshot_client, deadline);

	if (c->phase == PHASE_READ)
		c->srv->st.head_timeouts++;
	client_close(c);
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

/* Hand the request to the server's handler, then start answering within
 * the answer deadline. */
static void client_dispatch(struct oneshot_client *c, enum oneshot_event ev, size_t len)
{
	struct oneshot *s = c->srv;

	s->in_handler = true;
	s->ops->handle(s->arg, ev, c->in, len, c->peer, &c->out);
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
	ev_timer_stop(s->loop, &c->deadline);
	ev_timer_set(&c->deadline, s->ops->deadline_s, 0.);
	ev_timer_start(s->loop, &c->deadline);
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
