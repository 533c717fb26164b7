/* listener.c - listening sockets on VIP:port, bound with IP_FREEBIND so a
 * backup node already listens on addresses it does not hold yet. */
#include "lb/lb_internal.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

static bool at_limit(const struct lb *lb, const struct service *svc)
{
	return (lb->maxconn && lb->nconns >= lb->maxconn) ||
	       (svc->maxconn && svc->active >= svc->maxconn);
}

static void listener_pause(struct listener *l)
{
	ev_io_stop(l->lb->loop, &l->io);
	if (!l->paused) {
		l->paused = true;
		l->lb->stats.accept_paused++;
		log_warning("service %s: maxconn reached, new clients wait in the backlog",
			    l->svc->name);
	}
}

static void listener_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = container_of(w, struct listener, io);

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct addr client;
		int fd;

		if (at_limit(l->lb, l->svc)) {
			listener_pause(l);
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* once per run of failures: the backoff repeats */
				if (l->lb->accept_errno != errno)
					log_error("service %s: accept: %s, pausing accepts for "
						  "%.0f ms at a time until it works again",
						  l->svc->name, strerror(errno), EMFILE_BACKOFF * 1000);
				l->lb->accept_errno = errno;
				listeners_backoff(l->lb);
			}
			return;   /* EAGAIN, ECONNABORTED, ...: wait for the next wake-up */
		}
		if (l->lb->accept_errno) {
			log_notice("service %s: accept works again", l->svc->name);
			l->lb->accept_errno = 0;
		}
		addr_from_sockaddr(&client, (struct sockaddr *)&ss, len);
		conn_start(l->lb, l->svc, &l->addr, fd, &client);
	}
}

struct listener *listener_open(struct lb *lb, const struct addr *a, uint32_t backlog,
			       char *err, size_t errlen)
{
	char as[ADDR_STRLEN];
	struct listener *l;
	int one = 1, fd;

	fd = socket(addr_family(a), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* accepted sockets inherit TCP_NODELAY: one call here, none per client */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    set_freebind(fd, addr_family(a)) < 0 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, (int)(backlog ? backlog : 1024)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		goto fail;
	}
	l = xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->addr = *a;
	l->port = addr_port(a);
	l->backlog = backlog;
	l->lb = lb;
	ev_io_init(&l->io, listener_accept_cb, fd, EV_READ);
	return l;
fail:
	snprintf(err, errlen, "listen on %s: %s", addr_str(a, as, sizeof(as)), strerror(errno));
	return NULL;
}

void listener_start(struct listener *l)
{
	l->paused = l->lb->held;
	if (l->lb->accepting && !l->lb->held)
		ev_io_start(l->lb->loop, &l->io);
}

void listener_close(struct listener *l)
{
	ev_io_stop(l->lb->loop, &l->io);
	close(l->fd);
	if (l->svc)
		service_unref(l->svc);
	free(l);
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

void listeners_resume(struct lb *lb)
{
	if (!lb->accepting || lb->held || ev_is_active(&lb->resume_timer))
		return;
	for (struct listener *l = lb->listeners; l; l = l->next) {
		if (!l->paused || at_limit(lb, l->svc))
			continue;
		l->paused = false;
		ev_io_start(lb->loop, &l->io);
	}
}

void listeners_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* the backoff is over (a one-shot timer is no longer active here) */
	listeners_resume(container_of(w, struct lb, resume_timer));
}

void listeners_backoff(struct lb *lb)
{
	for (struct listener *l = lb->listeners; l; l = l->next) {
		ev_io_stop(lb->loop, &l->io);
		l->paused = true;
	}
	lb->stats.accept_paused++;
	ev_timer_stop(lb->loop, &lb->resume_timer);
	ev_timer_set(&lb->resume_timer, EMFILE_BACKOFF, 0.);
	ev_timer_start(lb->loop, &lb->resume_timer);
}
