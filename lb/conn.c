/* conn.c - one proxied connection: client socket, backend socket, and the
 * data moving between them (splice(2) through a pipe per direction, or a
 * plain buffer as fallback). conn_close() is its one exit.
 */
#include "lb/lb_internal.h"
#include "common/log.h"
#include "common/proxy_hdr.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE    (16 * 1024)     /* fallback buffer per direction */
#define PUMP_ROUNDS 8               /* read/write rounds per wake-up */

_Static_assert(BUF_SIZE > PROXY_HDR_MAX, "the PROXY header fits the buffer");

enum { UP, DOWN };                  /* UP: client -> backend, DOWN: backend -> client */


struct half {
	struct pipe_pair pipe;      /* rd < 0: none held */
	char *buf;                  /* fallback mode only */
	uint32_t off;
	uint32_t pending;           /* bytes held in pipe or buf */
	bool splice;                /* zero copy through the pipe, else the buffer */
	bool eof;                   /* the source sent FIN */
	bool shut;                  /* FIN passed on to the destination */
	bool splice_after;          /* buffered only for the PROXY header: splice once drained */
};

struct conn {
	struct conn *prev, *next;
	struct lb_worker *w;
	struct service *svc;        /* reference */
	struct backend *be;         /* reference, NULL until picked */
	int cfd, bfd;
	uint16_t port;              /* service port the client came in on */
	struct addr vip;            /* VIP the client connected to (port 0) */
	struct addr client;         /* the client's address and port (transparent, persistence) */
	bool transparent;           /* the backend socket is bound to the client's address */
	bool relaying;              /* connected to the backend */
	enum send_proxy send_proxy; /* the backend's, when it was picked */
	uint32_t attempts;          /* backends tried for this client */
	uint32_t key;               /* source-hash key */
	ev_io c_r, c_w, b_r, b_w;
	ev_timer timer;             /* connect deadline, then idle check */
	ev_tstamp last_c, last_b;   /* last data from client / backend */
	struct half half[2];
	uint64_t *skip;             /* tried backends: pool 0 then pool 1 bits */
	size_t skip_words[2];
	uint64_t skip_inline[2];
};

static void conn_connect_next(struct conn *c);

struct conn *conn_next(const struct conn *c) { return c->next; }
struct backend *conn_backend(const struct conn *c) { return c->be; }

bool conn_transparent_peer(const struct conn *c, struct addr *ip, uint16_t *port)
{
	if (!c->transparent || !c->be)
		return false;
	*ip = c->be->addr;
	addr_set_port(ip, 0);
	*port = backend_port(c->be, c->port);
	return true;
}

/* ---- teardown ---- */

/* Give back a half's pipe (to the pool when empty) and buffer: an idle
 * direction holds neither. */
static void half_release(struct lb_worker *w, struct half *h)
{
	if (h->pipe.rd >= 0) {
		if (h->pending == 0) {
			pipes_put(w, &h->pipe);
		} else {
			close(h->pipe.rd);
			close(h->pipe.wr);
		}
	}
	h->pipe.rd = h->pipe.wr = -1;
	free(h->buf);
	h->buf = NULL;
	if (h->splice_after && h->pending == 0) {
		h->splice = true;
		h->splice_after = false;
	}
}

static void conn_unlink(struct conn *c)
{
	struct lb_worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub_explicit(&w->stats.active, 1, memory_order_relaxed);
	/* its places under maxconn, taken at accept */
	atomic_fetch_sub(&c->svc->active, 1);
	atomic_fetch_sub(&w->lb->nconns, 1);
}

static void conn_drop_backend(struct conn *c, enum sched_outcome how)
{
	if (!c->be)
		return;
	service_release(c->svc, c->be, how);
	backend_unref(c->be);
	c->be = NULL;
}

static void close_fd(int *fd, bool reset)
{
	if (*fd < 0)
		return;
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(*fd);
	*fd = -1;
}

static void conn_free(struct conn *c, bool reset_client, bool reset_backend)
{
	struct lb_worker *w = c->w;
	struct ev_loop *loop = w->loop;

	ev_io_stop(loop, &c->c_r);
	ev_io_stop(loop, &c->c_w);
	ev_io_stop(loop, &c->b_r);
	ev_io_stop(loop, &c->b_w);
	ev_timer_stop(loop, &c->timer);
	close_fd(&c->cfd, reset_client);
	close_fd(&c->bfd, reset_backend);
	half_release(w, &c->half[UP]);
	half_release(w, &c->half[DOWN]);
	conn_drop_backend(c, SCHED_OK);
	conn_unlink(c);
	service_unref(c->svc);
	if (c->skip != c->skip_inline)
		free(c->skip);
	free(c);
	/* room under maxconn: this worker's paused listeners, and the others' */
	if (atomic_load_explicit(&w->paused, memory_order_relaxed))
		listeners_resume(w);
	if (w->lb->nworkers > 1)
		workers_kick_paused(w->lb, w);
}

void conn_close(struct conn *c, const char *reason)
{
	log_debug("service %s backend %s: connection closed (%s)", c->svc->name,
		  c->be ? c->be->name : "-", reason);
	conn_free(c, false, false);
}

void conn_kill(struct conn *c, const char *reason)
{
	log_debug("service %s backend %s: connection killed (%s)", c->svc->name,
		  c->be ? c->be->name : "-", reason);
	conn_free(c, true, false);
}

bool conn_on_vip(const struct conn *c, const struct addr *ip)
{
	return addr_equal_ip(&c->vip, ip);
}

/* Close after a reset on one side, passing the reset on to the other. */
static void conn_abort(struct conn *c, int dir, int err)
{
	log_debug("service %s backend %s: connection aborted (%s %s)", c->svc->name,
		  c->be ? c->be->name : "-", dir == UP ? "client" : "server", strerror(err));
	conn_free(c, dir == DOWN, dir == UP);
}

/* ---- data path ---- */

static int src_fd(const struct conn *c, int dir) { return dir == UP ? c->cfd : c->bfd; }
static int dst_fd(const struct conn *c, int dir) { return dir == UP ? c->bfd : c->cfd; }

/* Counters shared by the workers: relaxed, nothing is ordered by them. */
static void ctr_add(_Atomic uint64_t *ctr, uint64_t n)
{
	atomic_fetch_add_explicit(ctr, n, memory_order_relaxed);
}

static void account(struct conn *c, int dir, size_t n)
{
	if (dir == UP) {
		ctr_add(&c->be->bytes_in, n);
		ctr_add(&c->svc->bytes_in, n);
		ctr_add(&c->w->stats.bytes_in, n);
		c->last_c = ev_now(c->w->loop);
	} else {
		ctr_add(&c->be->bytes_out, n);
		ctr_add(&c->svc->bytes_out, n);
		ctr_add(&c->w->stats.bytes_out, n);
		c->last_b = ev_now(c->w->loop);
	}
}

/* Read from the source into the (empty) half. >0 bytes, 0 EOF, -1 EAGAIN,
 * -2 error. *full: the read took all the room it was given, so the source
 * may hold more. */
static ssize_t half_fill(struct conn *c, struct half *h, int src, bool *full)
{
	size_t room;
	ssize_t n;

	if (h->splice && h->pipe.rd < 0) {
		if (pipes_get(c->w, &h->pipe) < 0) {
			/* once per run of failures, not once per connection */
			if (!c->w->pipe_errno)
				log_warning("service %s backend %s: no pipe for splice (%s), "
					    "connections go on with buffers until pipes can be made",
					    c->svc->name, c->be->name, strerror(errno));
			c->w->pipe_errno = errno;
			h->splice = false;
		} else if (c->w->pipe_errno) {
			log_notice("pipes for splice can be made again");
			c->w->pipe_errno = 0;
		}
	}
	if (h->splice) {
		room = (size_t)h->pipe.size;
		n = splice(src, NULL, h->pipe.wr, NULL, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0 && (size_t)n == room)
			pipes_grow(&h->pipe);
	} else {
		if (!h->buf)
			h->buf = xmalloc(BUF_SIZE);
		h->off = 0;
		room = BUF_SIZE;
		n = read(src, h->buf, room);
	}
	*full = n > 0 && (size_t)n == room;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	h->pending = (uint32_t)n;
	return n;
}

/* Write what the half holds. 0 all written, -1 EAGAIN (some left), -2 error. */
static int half_flush(struct conn *c, struct half *h, int dst)
{
	while (h->pending > 0) {
		ssize_t n;

		if (h->splice)
			n = splice(h->pipe.rd, NULL, dst, NULL, h->pending,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		else
			n = send(dst, h->buf + h->off, h->pending, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -1 : -2;
		h->off += (uint32_t)n;
		h->pending -= (uint32_t)n;
	}
	return 0;
}

/* Arm the watchers of one direction for what it waits on. */
static void half_arm(struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	ev_io *rd = dir == UP ? &c->c_r : &c->b_r;
	ev_io *wr = dir == UP ? &c->b_w : &c->c_w;

	if (h->pending) {
		ev_io_stop(c->w->loop, rd);
		ev_io_start(c->w->loop, wr);
		return;
	}
	ev_io_stop(c->w->loop, wr);
	if (h->eof)
		ev_io_stop(c->w->loop, rd);
	else
		ev_io_start(c->w->loop, rd);
}

/* Pass EOF on as a half-close once the data before it is out. When the other
 * direction is already closed the connection ends here, and close() sends
 * the FIN: no shutdown(2) needed. Returns -1 when the connection was closed. */
static int half_finish(struct conn *c, int dir)
{
	struct half *h = &c->half[dir];

	if (!h->eof || h->pending || h->shut)
		return 0;
	h->shut = true;
	if (c->half[!dir].shut) {
		conn_close(c, "both sides closed");
		return -1;
	}
	shutdown(dst_fd(c, dir), SHUT_WR);
	return 0;
}

/* Move one direction's data as far as the sockets allow. A read shorter
 * than asked means the socket is drained: stop there instead of paying for
 * an EAGAIN. Returns -1 when the connection was closed. */
static int conn_pump(struct conn *c, int dir)
{
	struct half *h = &c->half[dir];
	int src = src_fd(c, dir), dst = dst_fd(c, dir);
	bool drained = false;

	for (int round = 0; round < PUMP_ROUNDS; round++) {
		int fl = half_flush(c, h, dst);
		bool full = false;
		ssize_t n;

		if (fl == -2) {
			conn_abort(c, !dir, errno);
			return -1;
		}
		if (fl == -1 || h->eof || drained)
			break;
		n = half_fill(c, h, src, &full);
		if (n == -2) {
			int err = errno;
			if (err == EINVAL && h->splice && h->pending == 0) {
				/* splice not supported here: fall back to buffers */
				half_release(c->w, h);
				h->splice = false;
				continue;
			}
			conn_abort(c, dir, err);
			return -1;
		}
		if (n == -1)
			break;
		if (n == 0) {
			h->eof = true;
			break;
		}
		account(c, dir, (size_t)n);
		drained = !full;
	}
	if (h->pending == 0)
		half_release(c->w, h);
	if (half_finish(c, dir) < 0)
		return -1;
	half_arm(c, dir);
	return 0;
}

static void conn_client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	conn_pump(container_of(w, struct conn, c_r), UP);
}

static void conn_backend_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	conn_pump(container_of(w, struct conn, b_w), UP);
}

static void conn_backend_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	conn_pump(container_of(w, struct conn, b_r), DOWN);
}

static void conn_client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	conn_pump(container_of(w, struct conn, c_w), DOWN);
}

/* ---- timers ---- */

static ev_tstamp ms_to_s(uint32_t ms) { return (ev_tstamp)ms / 1000.0; }

/* Seconds until the nearer idle deadline in *left (<= 0: passed), naming it
 * in *which. False when neither client_idle nor server_idle is set. */
static bool idle_left(struct conn *c, ev_tstamp *left, const char **which)
{
	ev_tstamp now = ev_now(c->w->loop);
	struct service_params sp;
	const struct timeouts_conf *t = &sp.timeouts;
	bool have = false;

	service_params(c->svc, &sp);      /* a reload may change them */

	if (t->client_idle_ms) {
		*left = c->last_c + ms_to_s(t->client_idle_ms) - now;
		*which = "client idle timeout";
		have = true;
	}
	if (t->server_idle_ms) {
		ev_tstamp b = c->last_b + ms_to_s(t->server_idle_ms) - now;

		if (!have || b < *left) {
			*left = b;
			*which = "server idle timeout";
		}
		have = true;
	}
	return have;
}

static void conn_idle_arm(struct conn *c)
{
	const char *which = NULL;
	ev_tstamp left = 0;

	if (!idle_left(c, &left, &which)) {
		ev_timer_stop(c->w->loop, &c->timer);
		return;
	}
	c->timer.repeat = left > 0.001 ? left : 0.001;
	ev_timer_again(c->w->loop, &c->timer);
}

static void conn_connect_failed(struct conn *c, enum sched_outcome how, const char *what,
				int err);

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, timer);
	const char *which = NULL;
	ev_tstamp left = 0;

	if (!c->relaying) {
		conn_connect_failed(c, SCHED_BACKEND_FAILED, "connect", ETIMEDOUT);
		return;
	}
	if (idle_left(c, &left, &which) && left <= 0.0005) {
		conn_close(c, which);
		return;
	}
	conn_idle_arm(c);
}

/* ---- PROXY protocol header (send_proxy) ---- */

/* Put the PROXY header for the backend at the head of the client -> backend
 * buffer, followed by whatever the client has sent so far, so that the
 * first write carries both in one system call; a server that speaks first
 * gets the header alone at once. In splice mode that direction goes through
 * the buffer until the header is out, then back to splice. Returns -1 when
 * the connection was closed. */
static int conn_proxy_start(struct conn *c)
{
	struct half *h = &c->half[UP];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct addr client, vip;
	ssize_t n;
	int hl;

	if (getpeername(c->cfd, (struct sockaddr *)&ss, &len) < 0) {
		conn_close(c, "client gone before the PROXY header");
		return -1;
	}
	addr_from_sockaddr(&client, (struct sockaddr *)&ss, len);
	len = sizeof(ss);
	if (getsockname(c->cfd, (struct sockaddr *)&ss, &len) < 0) {
		conn_close(c, "client gone before the PROXY header");
		return -1;
	}
	addr_from_sockaddr(&vip, (struct sockaddr *)&ss, len);
	h->buf = xmalloc(BUF_SIZE);
	hl = proxy_hdr_encode(c->send_proxy == SEND_PROXY_V1 ? PROXY_HDR_V1 : PROXY_HDR_V2,
			      &client, &vip, (uint8_t *)h->buf, BUF_SIZE);
	h->splice_after = h->splice;
	h->splice = false;
	h->off = 0;
	h->pending = (uint32_t)hl;
	n = read(c->cfd, h->buf + hl, BUF_SIZE - (size_t)hl);
	if (n > 0) {
		h->pending += (uint32_t)n;
		account(c, UP, (size_t)n);
	} else if (n == 0) {
		h->eof = true;
	} else if (errno != EAGAIN && errno != EINTR) {
		conn_abort(c, UP, errno);
		return -1;
	}
	return 0;
}

/* ---- connecting to a backend ---- */

/* What fails in socket() or bind() is this node's; of connect()'s errors
 * (at once or later in SO_ERROR), those that mean no fd, memory, buffer or
 * source port here, or a local policy refusing it. */
enum sched_outcome conn_dial_failure_side(enum dial_step step, int err)
{
	if (step != DIAL_CONNECT || connect_errno_is_local(err))
		return SCHED_LOCAL_FAILED;
	return SCHED_BACKEND_FAILED;
}

static const char *dial_step_str(enum dial_step step)
{
	switch (step) {
	case DIAL_SOCKET:
		return "socket";
	case DIAL_TRANSPARENT:
		return "IP_TRANSPARENT (source: client needs CAP_NET_ADMIN)";
	case DIAL_BIND:
		return "bind";
	case DIAL_CONNECT:
		return "connect";
	}
	return "?";
}

static void conn_established(struct conn *c)
{
	struct ev_loop *loop = c->w->loop;
	int one = 1;

	setsockopt(c->bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev_io_stop(loop, &c->b_w);
	ev_timer_stop(loop, &c->timer);
	c->relaying = true;
	atomic_fetch_add_explicit(&c->be->total, 1, memory_order_relaxed);
	c->last_c = c->last_b = ev_now(loop);
	ev_io_init(&c->b_w, conn_backend_write_cb, c->bfd, EV_WRITE);
	ev_io_init(&c->b_r, conn_backend_read_cb, c->bfd, EV_READ);
	ev_io_start(loop, &c->b_r);
	conn_idle_arm(c);
	if (c->send_proxy != SEND_PROXY_NONE && conn_proxy_start(c) < 0)
		return;
	/* the client has most likely sent its request already: move it now
	 * rather than after another trip through epoll */
	conn_pump(c, UP);
}

static void conn_connect_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, b_w);
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		conn_connect_failed(c, conn_dial_failure_side(DIAL_CONNECT, err), "connect", err);
	else
		conn_established(c);
}

/* This node could not make the backend connection (out of fds, ports,
 * memory): refuse the client, count and log it as ours, and charge no
 * backend. Logged once per change of error, and once when connects work
 * again (conn_local_recovered), so a node out of fds does not flood. */
static void conn_local_failed(struct conn *c, const char *what, int err)
{
	struct service *s = c->svc;

	ctr_add(&s->local_errors, 1);
	ctr_add(&s->refused, 1);
	ctr_add(&c->w->stats.local_errors, 1);
	ctr_add(&c->w->stats.refused, 1);
	service_lock(s);
	if (s->local_errno != err) {
		if (!s->local_errno)
			s->local_errors_from = s->local_errors - 1;
		log_error("service %s backend %s: cannot connect, local error (%s: %s): clients "
			  "refused, the backend is not charged", s->name, c->be->name, what,
			  strerror(err));
		s->local_errno = err;
	}
	service_unlock(s);
	if (err == EMFILE || err == ENFILE)
		listeners_backoff(c->w);    /* out of fds: let the backlog wait a moment */
	conn_drop_backend(c, SCHED_LOCAL_FAILED);
	conn_close(c, "local error");
}

/* Caller holds s's lock. */
static void conn_local_recovered(struct service *s)
{
	log_notice("service %s: backend connects work again after %" PRIu64 " local error%s",
		   s->name, s->local_errors - s->local_errors_from,
		   s->local_errors - s->local_errors_from == 1 ? "" : "s");
	s->local_errno = 0;
}

static void conn_connect_failed(struct conn *c, enum sched_outcome how, const char *what,
				int err)
{
	struct backend *b;

	ev_io_stop(c->w->loop, &c->b_w);
	ev_timer_stop(c->w->loop, &c->timer);
	close_fd(&c->bfd, false);
	if (how == SCHED_LOCAL_FAILED) {
		conn_local_failed(c, what, err);
		return;
	}
	b = backend_ref(c->be);
	atomic_fetch_add_explicit(&b->connect_fail, 1, memory_order_relaxed);
	log_warning("service %s backend %s: connect failed (%s), client goes to another backend",
		    c->svc->name, b->name, strerror(err));
	conn_drop_backend(c, how);
	/* the checks run on the main loop: it re-probes b soon (and may take
	 * it down, and on_down: close then closes b's connections) */
	lb_post_passive_failure(c->w->lb, b, backend_port(b, c->port));
	backend_unref(b);
	conn_connect_next(c);
}

static void skip_mark(struct conn *c, const struct backend *b)
{
	size_t pool = b->backup ? 1 : 0;
	uint64_t *bits = c->skip + (pool ? c->skip_words[0] : 0);

	if (b->pool_idx / 64 < c->skip_words[pool])
		bits[b->pool_idx / 64] |= 1ull << (b->pool_idx % 64);
}

static void skip_init(struct conn *c, const struct service_params *sp)
{
	for (int i = 0; i < 2; i++) {
		size_t words = (sp->pool_n[i] + 63) / 64;
		c->skip_words[i] = words ? words : 1;
	}
	if (c->skip_words[0] == 1 && c->skip_words[1] == 1) {
		c->skip = c->skip_inline;
		c->skip_inline[0] = c->skip_inline[1] = 0;
	} else {
		c->skip = xcalloc(c->skip_words[0] + c->skip_words[1], sizeof(uint64_t));
	}
}

/* source: client (transparent mode): bind fd to the client's address, any
 * port (the kernel picks one at connect: IP_BIND_ADDRESS_NO_PORT). The
 * backend's replies come back to this socket through the policy rules the
 * daemon installs. -1 with errno and *step on failure (EPERM from
 * IP_TRANSPARENT: no CAP_NET_ADMIN). */
static int conn_bind_client(const struct conn *c, int fd, enum dial_step *step)
{
	struct addr src = c->client;
	int one = 1, v6 = addr_family(&src) == AF_INET6;

	*step = DIAL_TRANSPARENT;
	if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT,
		       &one, sizeof(one)) < 0)
		return -1;
	*step = DIAL_BIND;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	addr_set_port(&src, 0);
	return bind(fd, (const struct sockaddr *)&src.ss, src.len);
}

/* Socket + non-blocking connect to b; -1 with errno, and in *step the call
 * that failed, on immediate failure. */
static int conn_dial(struct conn *c, struct backend *b, const struct service_params *sp,
		     enum dial_step *step)
{
	struct addr a = b->addr;
	int fd;

	addr_set_port(&a, backend_port(b, c->port));
	*step = DIAL_SOCKET;
	fd = socket(addr_family(&a), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sock_keepalive(fd, sp->timeouts.keepalive_ms, false);
	c->transparent = sp->source_client;
	if (c->transparent) {
		if (conn_bind_client(c, fd, step) < 0)
			goto fail;
	} else if (sp->has_source && addr_family(&sp->source) == addr_family(&a)) {
		int one = 1;
		*step = DIAL_BIND;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&sp->source.ss, sp->source.len) < 0)
			goto fail;
	}
	*step = DIAL_CONNECT;
	if (connect(fd, (const struct sockaddr *)&a.ss, a.len) == 0 || errno == EINPROGRESS) {
		c->bfd = fd;
		return 0;
	}
fail:
	{
		int err = errno;
		close(fd);
		errno = err;
	}
	return -1;
}

/* Under the service's lock, once per attempt: the settings the dial needs
 * (in *sp); on the first attempt the source-hash key and the tried set;
 * then persistence (the first attempt only), else the scheduler; take the
 * backend (maxconn, leastconn counts) and note it for persistence. NULL
 * when none is left. */
static struct backend *conn_pick(struct conn *c, struct service_params *sp)
{
	struct service *s = c->svc;
	struct sched_skip skip[2];
	struct backend *b = NULL;

	service_lock(s);
	service_params_locked(s, sp);
	if (c->attempts == 0) {
		if (sp->sched_kind == SCHED_SOURCE_HASH)
			c->key = sched_source_key(&c->client, sp->source_mask);
		skip_init(c, sp);
	}
	skip[0] = (struct sched_skip){ c->skip, c->skip_words[0] * 64, 0 };
	skip[1] = (struct sched_skip){ c->skip + c->skip_words[0], c->skip_words[1] * 64, 0 };
	skip[0].port_mask = skip[1].port_mask = service_port_mask(s, c->port);
	if (c->attempts == 0 && s->persist)
		b = service_persist_get(s, &c->client, ev_now(c->w->loop));
	if (!b)
		b = service_pick(s, c->key, skip);
	if (b) {
		skip_mark(c, b);
		lb_persist_note(c->w->lb, s, &c->client, b, ev_now(c->w->loop));
		service_take(s, b);
		c->send_proxy = b->send_proxy;
	}
	service_unlock(s);
	return b;
}

/* Pick the next backend the scheduler gives (never one already tried) and
 * connect; close the client when none is left. */
static void conn_connect_next(struct conn *c)
{
	struct service_params sp;
	struct backend *b = conn_pick(c, &sp);
	enum dial_step step;

	if (!b) {
		ctr_add(&c->svc->refused, 1);
		ctr_add(&c->w->stats.refused, 1);
		log_notice("service %s: client closed, %s", c->svc->name,
			   c->attempts ? "every backend failed" : "no backend available");
		conn_close(c, "no backend");
		return;
	}
	c->attempts++;
	c->be = backend_ref(b);
	if (conn_dial(c, b, &sp, &step) < 0) {
		int err = errno;

		conn_connect_failed(c, conn_dial_failure_side(step, err), dial_step_str(step), err);
		return;
	}
	if (c->svc->local_errno) {
		service_lock(c->svc);
		if (c->svc->local_errno)
			conn_local_recovered(c->svc);
		service_unlock(c->svc);
	}
	ev_io_init(&c->b_w, conn_connect_cb, c->bfd, EV_WRITE);
	ev_io_start(c->w->loop, &c->b_w);
	ev_timer_set(&c->timer, ms_to_s(sp.timeouts.connect_ms), 0.);
	ev_timer_start(c->w->loop, &c->timer);
}

void conn_start(struct lb_worker *w, struct service *svc, const struct addr *vip, int cfd,
		const struct addr *client)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->w = w;
	c->svc = service_ref(svc);
	ctr_add(&svc->total, 1);
	c->cfd = cfd;
	c->bfd = -1;
	c->port = addr_port(vip);
	c->vip = *vip;
	addr_set_port(&c->vip, 0);
	c->client = *client;
	for (int i = 0; i < 2; i++) {
		c->half[i].pipe.rd = c->half[i].pipe.wr = -1;
		c->half[i].splice = w->lb->use_splice;
	}
	ev_io_init(&c->c_r, conn_client_read_cb, cfd, EV_READ);
	ev_io_init(&c->c_w, conn_client_write_cb, cfd, EV_WRITE);
	ev_init(&c->timer, conn_timer_cb);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	atomic_fetch_add_explicit(&w->stats.active, 1, memory_order_relaxed);
	ctr_add(&w->stats.accepted, 1);
	conn_connect_next(c);
}
