/* lb_internal.h - what lb.c, worker.c, listener.c, conn.c and pipes.c share.
 * Not an interface for other modules: they use lb/lb.h.
 *
 * Threads. The lb (main loop) owns the services and the listening sockets;
 * each worker owns an event loop, its watchers of those sockets, its
 * connections and its spare pipes. Worker 0 runs on the main loop, workers
 * 1..N-1 each on a thread of their own. The main loop acts on a worker's
 * connections only through worker_call() (it waits until the worker ran the
 * function); a worker tells the main loop what the checks and the peer sync
 * must hear through lb_post_*() (queued, run on the main loop). Shared
 * state: services and backends (their lock and atomics, see service.h) and
 * the atomics of struct lb.
 */
#ifndef VIGIL_LB_INTERNAL_H
#define VIGIL_LB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "common/addr.h"
#include "lb/lb.h"

struct conn;
struct lb_worker;
struct lb_post;

/* A listening socket set for one VIP:port, owned by the main loop: one
 * socket per worker (SO_REUSEPORT), or one shared by all. */
struct lsock {
	struct addr addr;              /* VIP and port */
	uint32_t backlog;
	int *fds;                      /* nfds sockets */
	unsigned nfds;
	struct service *svc;           /* reference: the owner in the running config */
	uint32_t keepalive_ms;         /* set on the sockets: accepted ones inherit it */
	bool keepalive_set;
	struct lsock *next;
	bool mark;                     /* scratch for lb_apply */
};

/* A worker's watcher of one listening socket. */
struct listener {
	ev_io io;
	int src;                       /* the lsock's descriptor (owned by the main loop) */
	int fd;                        /* a dup of it, owned: watched and closed by the worker */
	struct addr addr;              /* VIP and port */
	uint16_t port;
	uint32_t backlog;
	struct service *svc;           /* reference */
	struct lb_worker *w;
	struct listener *next;
	bool paused;                   /* maxconn reached, or held: left in the backlog */
	bool seen;                     /* scratch for worker_sync_listeners */
};

struct pipe_pair {
	int rd, wr;
	int size;                      /* capacity in bytes */
};

#define PIPES_DEFAULT_SIZE (64 * 1024)
#define PIPES_BULK_SIZE    (1024 * 1024)

/* A worker's counters: written by the worker, read by the main loop. */
struct worker_stats {
	_Atomic uint64_t accepted;
	_Atomic uint64_t refused;
	_Atomic uint64_t local_errors;
	_Atomic uint64_t bytes_in, bytes_out;
	_Atomic uint64_t accept_paused;
	_Atomic uint32_t active;
};

/* A function the main loop runs on a worker (worker_call). */
struct worker_task {
	void (*fn)(struct lb_worker *w, void *arg);
	void *arg;
	bool done;
	struct worker_task *next;
};

struct lb_worker {
	struct lb *lb;
	unsigned id;
	struct ev_loop *loop;
	bool threaded;                 /* a loop and thread of its own (id > 0) */
	bool running;                  /* the thread runs */
	pthread_t thread;
	struct listener *listeners;
	struct conn *conns;            /* doubly linked, this worker's open connections */
	ev_timer resume_timer;         /* accept paused after EMFILE/ENFILE */
	int accept_errno;              /* last accept error logged; 0 after an accept */
	int pipe_errno;                /* last pipe error logged; 0 after a pipe was made */
	struct pipe_pair *spare;       /* pool of empty pipes */
	size_t nspare, spare_cap;
	struct worker_stats stats;
	_Atomic bool paused;           /* a listener waits for room under maxconn */
	ev_async wake;                 /* tasks, a resume, the stop */
	pthread_mutex_t mu;            /* tasks, stop */
	pthread_cond_t cv;
	struct worker_task *tasks;
	bool stop;
};

struct lb {
	struct ev_loop *loop;          /* the main loop */
	struct lb_worker **workers;
	unsigned nworkers;
	bool started;                  /* lb_start_workers() ran */
	bool shared_listen;            /* one socket per VIP:port for all workers */
	struct lsock *lsocks;
	struct service **services;     /* references, config order */
	size_t nservices;
	_Atomic uint32_t maxconn;      /* global */
	_Atomic uint32_t nconns;       /* all workers */
	bool use_splice;
	_Atomic bool accepting;
	_Atomic bool held;             /* lb_hold: listeners wait, clients stay in the backlog */
	/* worker -> main loop */
	ev_async post_wake;
	pthread_mutex_t post_mu;
	struct lb_post *posts, **posts_tail;
	void (*avail_cb)(struct service *, bool, void *);
	void *avail_arg;
	lb_persist_cb *persist_cb;
	void *persist_arg;
	lb_state_fn *state_cb;
	void *state_arg;
};

/* worker.c */
struct lb_worker *worker_new(struct lb *lb, unsigned id);
/* Start its thread (id > 0); signals stay with the main thread. */
int worker_start(struct lb_worker *w, char *err, size_t errlen);
/* Stop and join the thread; free everything (connections must be gone). */
void worker_free(struct lb_worker *w);
/* Run fn(w, arg) on w's loop and wait for it; directly when w runs on the
 * calling loop or has no thread yet. Never call with a service lock held. */
void worker_call(struct lb_worker *w, void (*fn)(struct lb_worker *w, void *arg), void *arg);
/* Run fn on every worker in turn (worker_call). */
void workers_call(struct lb *lb, void (*fn)(struct lb_worker *w, void *arg), void *arg);
/* Wake the workers (but except) whose listeners wait for room under maxconn. */
void workers_kick_paused(struct lb *lb, const struct lb_worker *except);
/* Main loop: the set of listening sockets changed (lb->lsocks): watch the
 * new ones, drop the gone ones, follow owner changes; start or keep paused. */
void worker_sync_listeners(struct lb_worker *w, void *arg);

/* The checks must hear that a client's connect to b's port failed on the
 * backend's side; the peer must hear of a persistence entry. Any thread. */
void lb_post_passive_failure(struct lb *lb, struct backend *b, uint16_t port);
void lb_post_persist(struct lb *lb, const char *svc, const struct persist_key *k,
		     const char *be, uint32_t ttl_ms);
/* Main loop: run what the workers posted; drop it (at the end). */
void lb_posts_run(struct lb *lb);
void lb_posts_drop(struct lb *lb);

/* listener.c */
/* Open the sockets of VIP:a: nfds of them with SO_REUSEPORT (after making
 * sure no other process holds the address), or one. */
struct lsock *lsock_open(const struct addr *a, uint32_t backlog, unsigned nfds,
			 char *err, size_t errlen);
void lsock_close(struct lsock *ls);
/* TCP keepalive with an idle time of ms on every socket of the set: the
 * clients' sockets inherit it from the listening one (no system call per
 * client). Nothing when it is already so. */
void lsock_keepalive(struct lsock *ls, uint32_t ms);
/* SO_KEEPALIVE with an idle time of ms (whole seconds); 0: off (clear:
 * switch it off explicitly, for a socket that may have it on). */
void sock_keepalive(int fd, uint32_t ms, bool clear);
struct listener *listener_new(struct lb_worker *w, const struct lsock *ls, int fd);
void listener_start(struct listener *l);
void listener_free(struct listener *l);
/* Reset every connection waiting in l's accept queue (its VIP is gone);
 * returns how many. */
unsigned listener_flush(struct listener *l);
/* A connection closed or room was made: restart listeners paused by maxconn. */
void listeners_resume(struct lb_worker *w);
/* Stop every listener of w for a moment after EMFILE/ENFILE. */
void listeners_backoff(struct lb_worker *w);
/* w->resume_timer's callback: the backoff is over. */
void listeners_resume_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* conn.c */
/* The call of a backend connect attempt that failed. */
enum dial_step { DIAL_SOCKET, DIAL_TRANSPARENT, DIAL_BIND, DIAL_CONNECT };
/* Whose failure it is: SCHED_LOCAL_FAILED (this node: out of fds, memory,
 * ports, a local policy) or SCHED_BACKEND_FAILED. Pure. */
enum sched_outcome conn_dial_failure_side(enum dial_step step, int err);
/* Take over accepted client fd cfd that came in on vip (VIP and service
 * port); its slots under maxconn (lb and service) are already taken. Picks
 * and connects a backend. */
void conn_start(struct lb_worker *w, struct service *svc, const struct addr *vip, int cfd,
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
/* An empty pipe from w's pool (or a new one); -1 when none can be made. */
int pipes_get(struct lb_worker *w, struct pipe_pair *out);
/* Give back an EMPTY pipe; closed if the pool is full. */
void pipes_put(struct lb_worker *w, struct pipe_pair *p);
void pipes_free_all(struct lb_worker *w);
/* A bulk transfer filled p: grow it to PIPES_BULK_SIZE, so each splice(2)
 * moves more and the transfer costs fewer system calls per byte. */
void pipes_grow(struct pipe_pair *p);

#endif
