/* lb_internal.h - what lb.c, listener.c, conn.c and pipes.c share. Not an
 * interface for other modules: they use lb/lb.h. */
#ifndef VIGIL_LB_INTERNAL_H
#define VIGIL_LB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "common/addr.h"
#include "lb/lb.h"

struct conn;

struct listener {
	ev_io io;
	int fd;
	struct addr addr;              /* VIP and port */
	uint16_t port;
	uint32_t backlog;
	struct service *svc;           /* reference */
	struct lb *lb;
	struct listener *next;
	bool paused;                   /* maxconn reached, or held: left in the backlog */
	bool mark;                     /* scratch for lb_apply */
};

struct pipe_pair {
	int rd, wr;
	int size;                      /* capacity in bytes */
};

#define PIPES_DEFAULT_SIZE (64 * 1024)
#define PIPES_BULK_SIZE    (1024 * 1024)

struct lb {
	struct ev_loop *loop;
	struct listener *listeners;
	struct service **services;     /* references, config order */
	size_t nservices;
	struct conn *conns;            /* doubly linked, all open connections */
	uint32_t maxconn;              /* global */
	uint32_t nconns;
	bool use_splice;
	bool accepting;
	bool held;                     /* lb_hold: listeners wait, clients stay in the backlog */
	ev_timer resume_timer;         /* accept paused after EMFILE/ENFILE */
	int accept_errno;              /* last accept error logged; 0 after an accept */
	int pipe_errno;                /* last pipe error logged; 0 after a pipe was made */
	struct pipe_pair *spare;       /* pool of empty pipes */
	size_t nspare, spare_cap;
	struct lb_stats stats;
	void (*avail_cb)(struct service *, bool, void *);
	void *avail_arg;
	lb_persist_cb *persist_cb;
	void *persist_arg;
	lb_state_fn *state_cb;
	void *state_arg;
};

/* listener.c */
struct listener *listener_open(struct lb *lb, const struct addr *a, uint32_t backlog,
			       char *err, size_t errlen);
void listener_start(struct listener *l);
void listener_close(struct listener *l);
/* Reset every connection waiting in l's accept queue (its VIP is gone);
 * returns how many. */
unsigned listener_flush(struct listener *l);
/* A connection closed: restart listeners paused by maxconn. */
void listeners_resume(struct lb *lb);
/* Stop every listener for a moment after EMFILE/ENFILE. */
void listeners_backoff(struct lb *lb);
/* lb->resume_timer's callback: the backoff is over. */
void listeners_resume_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* conn.c */
/* The call of a backend connect attempt that failed. */
enum dial_step { DIAL_SOCKET, DIAL_TRANSPARENT, DIAL_BIND, DIAL_CONNECT };
/* Whose failure it is: SCHED_LOCAL_FAILED (this node: out of fds, memory,
 * ports, a local policy) or SCHED_BACKEND_FAILED. Pure. */
enum sched_outcome conn_dial_failure_side(enum dial_step step, int err);
/* Take over accepted client fd cfd that came in on vip (VIP and service
 * port); picks and connects a backend. */
void conn_start(struct lb *lb, struct service *svc, const struct addr *vip, int cfd,
		const struct addr *client);
/* The one exit of a connection: stop watchers, close fds, release backend, free. */
void conn_close(struct conn *c, const char *reason);
/* Close with a reset to the client (it cannot be reached through us any more). */
void conn_kill(struct conn *c, const char *reason);
/* True if the client came in on VIP ip (any port). */
bool conn_on_vip(const struct conn *c, const struct addr *ip);
struct conn *conn_next(const struct conn *c);
/* A connection of a source: client service with a backend picked: its
 * backend's address (port 0) and port. False otherwise. */
bool conn_transparent_peer(const struct conn *c, struct addr *ip, uint16_t *port);
struct backend *conn_backend(const struct conn *c);

/* pipes.c */
/* An empty pipe from the pool (or a new one); -1 when none can be made. */
int pipes_get(struct lb *lb, struct pipe_pair *out);
/* Give back an EMPTY pipe; closed if the pool is full. */
void pipes_put(struct lb *lb, struct pipe_pair *p);
void pipes_free_all(struct lb *lb);
/* A bulk transfer filled p: grow it to PIPES_BULK_SIZE, so each splice(2)
 * moves more and the transfer costs fewer system calls per byte. */
void pipes_grow(struct pipe_pair *p);

#endif
