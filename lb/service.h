/* service.h - a service's runtime: its backends in a normal and a backup pool,
 * each behind a scheduler, and the service's counters.
 *
 * Services are reference counted like backends: connections hold a reference
 * so a service removed by a reload lives until its last connection closes.
 */
#ifndef VIGIL_SERVICE_H
#define VIGIL_SERVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "lb/backend.h"
#include "lb/sched.h"

struct sched_pool {
	const struct sched_ops *ops;
	void *st;
	struct backend **members;
	size_t n;
};

/* Who hears about a service's changes (the lb sets these). */
struct service_hooks {
	/* the service gained its first, or lost its last, backend that is up */
	void (*avail)(struct service *svc, bool available, void *arg);
	/* b just went down (health), with on_down: close in force */
	void (*backend_down)(struct service *svc, struct backend *b, void *arg);
	/* b changed state (from old; b->state is the new one) for reason */
	void (*state_changed)(struct service *svc, struct backend *b, enum backend_state old,
			      const char *reason, void *arg);
	void *arg;
};

/* Threads: workers pick, take and release under `lock`, which also guards
 * the pools, the persistence table, conf and the copied settings below
 * (the main loop writes them under it on a reload); the counters are atomics. */
struct service {
	_Atomic unsigned refs;
	pthread_mutex_t lock;
	char *name;
	const struct service_conf *conf;  /* current config; NULL once removed */
	bool live;                        /* still in the running configuration */

	/* copied from conf so that connections never read a freed config */
	struct timeouts_conf timeouts;
	_Atomic uint32_t maxconn;
	int source_mask;
	bool has_source;
	struct addr source;
	bool source_client;               /* transparent: connect from the client's address */
	enum sched_kind sched_kind;
	enum on_down on_down;
	uint32_t persist_ms;              /* 0: no persistence */
	struct persist *persist;          /* client -> backend, while persist_ms */

	struct backend **backends;        /* all, in config order */
	size_t nbackends;
	struct sched_pool pools[2];       /* [0] normal, [1] backup */
	bool available;                   /* some backend is up */
	uint64_t avail_changes;           /* times available flipped (the avail hook's calls) */

	struct service_hooks hooks;

	_Atomic uint32_t active;
	_Atomic uint64_t total;
	_Atomic uint64_t refused;         /* clients closed: no backend, all failed, or local error */
	_Atomic uint64_t local_errors;    /* backend connects that failed on this node (EMFILE...) */
	_Atomic int local_errno;          /* the last one logged; 0 once a connect goes through (lock) */
	uint64_t local_errors_from;       /* local_errors before that run of them began (lock) */
	_Atomic uint64_t bytes_in, bytes_out;
};

/* Build a service from its configuration. Returns a new reference. */
struct service *service_new(const struct service_conf *sc);
/* Apply a new configuration of the same-named service in place (reload):
 * backends with the same name and address are kept with their state and
 * counters, removed ones are detached (their connections finish), new ones
 * added; schedulers are rebuilt. */
void service_update(struct service *s, const struct service_conf *sc);
struct service *service_ref(struct service *s);
/* Drop one reference; on the last one, release backends and schedulers. */
void service_unref(struct service *s);
/* Mark removed from the running configuration (conf becomes NULL). */
void service_retire(struct service *s);

/* The service's lock (see struct service); never held across a hook. */
void service_lock(struct service *s);
void service_unlock(struct service *s);

/* What a connection reads of its service's settings, copied under the lock
 * (a reload may change them while it runs). */
struct service_params {
	struct timeouts_conf timeouts;
	bool has_source, source_client;
	struct addr source;
	int source_mask;
	enum sched_kind sched_kind;
	size_t pool_n[2];                 /* backends in the normal and backup pool */
};
void service_params(struct service *s, struct service_params *out);
/* The same, for a caller that holds the lock. */
void service_params_locked(const struct service *s, struct service_params *out);
/* Persistence entries and clients the full table refused (locked reads). */
size_t service_persist_count(struct service *s);
uint64_t service_persist_full(struct service *s);

struct backend *service_find_backend(const struct service *s, const char *name);
/* The backend that client should go to by persistence: remembered, up and
 * not draining (usable); NULL otherwise. Caller holds the lock. */
struct backend *service_persist_get(struct service *s, const struct addr *client, double now);

/* The bit of service port `port` among the service's ports (for per-port
 * gating, struct sched_skip.port_mask); 0 if not one of them or past the 64th. */
uint64_t service_port_mask(const struct service *s, uint16_t port);
/* Choose a backend for a client: normal pool while any normal backend is up,
 * else the backup pool. skip: per-pool tried bitsets (pool 0 and pool 1).
 * Caller holds the lock (and keeps it over the service_take() that follows,
 * so that maxconn and the scheduler's counts hold across workers). */
struct backend *service_pick(struct service *s, uint32_t key, const struct sched_skip skip[2]);
/* Book-keeping around a connection attempt to b: b->active and the
 * scheduler's take/release (told how it ended). The service's own counters
 * are the caller's. take: caller holds the lock; release takes it. */
void service_take(struct service *s, struct backend *b);
void service_release(struct service *s, struct backend *b, enum sched_outcome how);
/* A backend's usable state changed: tell its scheduler, update availability.
 * Main loop, without the lock. */
void service_backend_changed(struct service *s, struct backend *b, bool was_up);

#endif
