/* listener.c - listening sockets on VIP:port, bound with IP_FREEBIND so a
 * backup node already listens on addresses it does not hold yet. */
#include "lb/lb_internal.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH   64       /* accepts per wake-up, for fairness */
#define EMFILE_BACKOFF 0.1      /* seconds without accepting after EMFILE */

static int set_freebind(int fd, int family)
{
	int one = 1;

	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			return -1;
#ifdef IPV6_FREEBIND
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) == 0)
			return 0;
#endif
	}
	return setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
}

/* TCP keepalive after timeouts.keepalive of silence: a probe every idle/6
 * seconds (1..10 s), and the connection goes after 6 unanswered ones. */
#define KEEPALIVE_PROBES    6
#define KEEPALIVE_INTVL_MAX 10

void sock_keepalive(int fd, uint32_t ms, bool clear)
{
	int on = 1, off = 0, idle = (int)(ms / 1000), intvl = idle / 6, cnt = KEEPALIVE_PROBES;

	if (idle <= 0) {
		if (clear)
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &off, sizeof(off));
		return;
	}
	if (intvl < 1)
		intvl = 1;
	if (intvl > KEEPALIVE_INTVL_MAX)
		intvl = KEEPALIVE_INTVL_MAX;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void lsock_keepalive(struct lsock *ls, uint32_t ms)
{
	if (ls->keepalive_set && ls->keepalive_ms == ms)
		return;
	for (unsigned i = 0; i < ls->nfds; i++)
		sock_keepalive(ls->fds[i], ms, true);
	ls->keepalive_ms = ms;
	ls->keepalive_set = true;
}

static bool at_limit(const struct lb *lb, const struct service *svc)
{
	uint32_t max = lb->maxconn, smax = svc->maxconn;

	return (max && lb->nconns >= max) || (smax && svc->active >= smax);
}

/* Take one client's places under the global and the service's maxconn
 * before accepting it, so that the limits hold across workers. */
static bool slots_take(struct lb *lb, struct service *svc)
{
	uint32_t max = lb->maxconn, smax = svc->maxconn;

	if (atomic_fetch_add(&lb->nconns, 1) >= max && max) {
		atomic_fetch_sub(&lb->nconns, 1);
		return false;
	}
	if (atomic_fetch_add(&svc->active, 1) >= smax && smax) {
		atomic_fetch_sub(&svc->active, 1);
		atomic_fetch_sub(&lb->nconns, 1);
		return false;
	}
	return true;
}

static void slots_put(struct lb *lb, struct service *svc)
{
	atomic_fetch_sub(&svc->active, 1);
	atomic_fetch_sub(&lb->nconns, 1);
}

static void listener_pause(struct listener *l)
{
	ev_io_stop(l->w->loop, &l->io);
	atomic_store(&l->w->paused, true);
	if (!l->paused) {
		l->paused = true;
		l->w->stats.accept_paused++;
		log_warning("service %s: maxconn reached, new clients wait in the backlog%s",
			    l->svc->name, l->w->lb->nworkers > 1 ? " (worker paused)" : "");
	}
}

static void listener_accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct listener *l = container_of(io, struct listener, io);
	struct lb_worker *w = l->w;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct addr client;
		int fd;

		if (!slots_take(w->lb, l->svc)) {
			listener_pause(l);
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int err = errno;

			slots_put(w->lb, l->svc);
			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
				/* once per run of failures: the backoff repeats */
				if (w->accept_errno != err)
					log_error("service %s: accept: %s, pausing accepts for "
						  "%.0f ms at a time until it works again",
						  l->svc->name, strerror(err), EMFILE_BACKOFF * 1000);
				w->accept_errno = err;
				listeners_backoff(w);
			}
			return;   /* EAGAIN, ECONNABORTED, ...: wait for the next wake-up */
		}
		if (w->accept_errno) {
			log_notice("service %s: accept works again", l->svc->name);
			w->accept_errno = 0;
		}
		addr_from_sockaddr(&client, (struct sockaddr *)&ss, len);
		conn_start(w, l->svc, &l->addr, fd, &client);
	}
}

/* One listening socket on a; reuseport: SO_REUSEPORT, one of a set. */
static int listen_fd(const struct addr *a, uint32_t backlog, bool reuseport, bool do_listen)
{
	int one = 1, fd;

	fd = socket(addr_family(a), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* accepted sockets inherit TCP_NODELAY: one call here, none per client */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    set_freebind(fd, addr_family(a)) < 0 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    (do_listen && listen(fd, (int)(backlog ? backlog : 1024)) < 0)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct lsock *lsock_open(const struct addr *a, uint32_t backlog, unsigned nfds,
			 char *err, size_t errlen)
{
	char as[ADDR_STRLEN];
	struct lsock *ls;
	int fd;

	if (nfds > 1) {
		/* SO_REUSEPORT would share the port with another process of
		 * this user: first make sure nobody else holds it */
		fd = listen_fd(a, backlog, false, false);
		if (fd < 0)
			goto fail;
		close(fd);
	}
	ls = xcalloc(1, sizeof(*ls));
	ls->addr = *a;
	ls->backlog = backlog;
	ls->fds = xcalloc(nfds, sizeof(*ls->fds));
	for (; ls->nfds < nfds; ls->nfds++) {
		ls->fds[ls->nfds] = listen_fd(a, backlog, nfds > 1, true);
		if (ls->fds[ls->nfds] < 0) {
			int e = errno;
			lsock_close(ls);
			errno = e;
			goto fail;
		}
	}
	return ls;
fail:
	snprintf(err, errlen, "listen on %s: %s", addr_str(a, as, sizeof(as)), strerror(errno));
	return NULL;
}

void lsock_close(struct lsock *ls)
{
	for (unsigned i = 0; i < ls->nfds; i++)
		close(ls->fds[i]);
	free(ls->fds);
	if (ls->svc)
		service_unref(ls->svc);
	free(ls);
}

struct listener *listener_new(struct lb_worker *w, const struct lsock *ls, int fd)
{
	struct listener *l;
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	char as[ADDR_STRLEN];

	/* a descriptor of its own: the worker stops watching and closes it on
	 * its own thread, whenever the main loop closes the set's */
	if (own < 0) {
		log_error("worker %u: cannot watch %s (dup: %s); the other workers serve it",
			  w->id, addr_str(&ls->addr, as, sizeof(as)), strerror(errno));
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->src = fd;
	l->fd = own;
	l->addr = ls->addr;
	l->port = addr_port(&ls->addr);
	l->backlog = ls->backlog;
	l->svc = service_ref(ls->svc);
	l->w = w;
	ev_io_init(&l->io, listener_accept_cb, own, EV_READ);
	return l;
}

void listener_start(struct listener *l)
{
	struct lb *lb = l->w->lb;

	l->paused = false;
	if (atomic_load(&lb->accepting) && !atomic_load(&lb->held) &&
	    !ev_is_active(&l->w->resume_timer))
		ev_io_start(l->w->loop, &l->io);
	else
		l->paused = true;
}

void listener_free(struct listener *l)
{
	ev_io_stop(l->w->loop, &l->io);
	close(l->fd);
	service_unref(l->svc);
	free(l);
}

static struct listener *listener_by_src(struct lb_worker *w, int fd)
{
	for (struct listener *l = w->listeners; l; l = l->next)
		if (l->src == fd)
			return l;
	return NULL;
}

void worker_sync_listeners(struct lb_worker *w, void *arg)
{
	struct listener **pp;

	for (struct listener *l = w->listeners; l; l = l->next)
		l->seen = false;
	for (const struct lsock *ls = w->lb->lsocks; ls; ls = ls->next) {
		int fd = ls->fds[ls->nfds == 1 ? 0 : w->id];
		struct listener *l = listener_by_src(w, fd);

		if (!l) {
			l = listener_new(w, ls, fd);
			if (!l)
				continue;
			l->next = w->listeners;
			w->listeners = l;
			listener_start(l);
		} else if (l->svc != ls->svc) {
			service_unref(l->svc);
			l->svc = service_ref(ls->svc);
		}
		l->seen = true;
	}
	for (pp = &w->listeners; *pp;) {
		struct listener *l = *pp;

		if (l->seen) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		listener_free(l);
	}
	listeners_resume(w);
}

unsigned listener_flush(struct listener *l)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	unsigned n = 0, max = l->backlog ? l->backlog : 1024;
	int fd;

	/* bounded by the backlog: nothing new completes a handshake on an
	 * address this node no longer has */
	while (n <= max && (fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		n++;
	}
	return n;
}

void listeners_resume(struct lb_worker *w)
{
	bool still = false;

	if (!atomic_load(&w->lb->accepting) || atomic_load(&w->lb->held) ||
	    ev_is_active(&w->resume_timer))
		return;
	for (struct listener *l = w->listeners; l; l = l->next) {
		if (!l->paused)
			continue;
		if (at_limit(w->lb, l->svc)) {
			still = true;
			continue;
		}
		l->paused = false;
		ev_io_start(w->loop, &l->io);
	}
	atomic_store(&w->paused, still);
}

void listeners_resume_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	/* the backoff is over (a one-shot timer is no longer active here) */
	listeners_resume(container_of(t, struct lb_worker, resume_timer));
}

void listeners_backoff(struct lb_worker *w)
{
	for (struct listener *l = w->listeners; l; l = l->next) {
		ev_io_stop(w->loop, &l->io);
		l->paused = true;
	}
	w->stats.accept_paused++;
	ev_timer_stop(w->loop, &w->resume_timer);
	ev_timer_set(&w->resume_timer, EMFILE_BACKOFF, 0.);
	ev_timer_start(w->loop, &w->resume_timer);
}
