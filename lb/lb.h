/* lb.h - the data path: listeners on every VIP:port, and the proxied
 * connections between clients and backends, spread over `global.workers`
 * event loops (worker 0 on the main loop, the others on threads). Every
 * function here is for the main loop; hooks are called on it too.
 */
#ifndef VIGIL_LB_H
#define VIGIL_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "config/config.h"
#include "lb/persist.h"
#include "lb/service.h"

struct lb;

struct lb_stats {
	uint64_t accepted;
	uint64_t active;
	uint64_t refused;             /* clients closed without a backend */
	uint64_t local_errors;        /* backend connects that failed on this node (EMFILE...) */
	uint64_t bytes_in, bytes_out;
	uint64_t accept_paused;       /* times accepting paused (maxconn, EMFILE) */
	size_t listeners;
};

struct lb *lb_new(struct ev_loop *loop);
/* Start the worker threads (workers 1..N-1; the first lb_apply() made them):
 * after the privilege drop, so that they run with the dropped credentials.
 * Until then the main loop runs their calls itself. */
int lb_start_workers(struct lb *lb, char *err, size_t errlen);
/* Free everything: close listeners, close every connection. */
void lb_free(struct lb *lb);

/* Make cfg the running configuration: build services (reusing same-named
 * services and backends of the previous one), open new listeners, keep
 * existing ones, close removed ones. Live connections keep their service and
 * backend. On failure (a listener cannot be bound) nothing changes and err
 * says why. cfg must outlive the next successful lb_apply(). */
int lb_apply(struct lb *lb, const struct config *cfg, char *err, size_t errlen);

/* Services of the running configuration, in config order. */
size_t lb_nservices(const struct lb *lb);
struct service *lb_service(const struct lb *lb, size_t i);
struct service *lb_find_service(const struct lb *lb, const char *name);

/* hold: accept nothing (clients wait in the listeners' backlogs) until
 * lb_hold(lb, false) - e.g. before the peer's operator state (drain,
 * disable, weight) is known. Listeners opened meanwhile wait too. */
void lb_hold(struct lb *lb, bool hold);
/* Graceful stop: close all listeners; connections go on. */
void lb_stop_accepting(struct lb *lb);
/* Close every open connection now (end of the drain period). */
void lb_close_all(struct lb *lb, const char *reason);
/* Close connections to backend b now (on_down: close). */
void lb_close_backend(struct lb *lb, struct backend *b, const char *reason);
/* This node no longer holds VIP ip (failover): reset every connection that
 * came in on it, any port, now, and log how many. Returns that number. */
unsigned lb_close_vip(struct lb *lb, const struct addr *ip, const char *reason);

/* Hear when a service gains its first or loses its last backend that is up. */
/* Call fn with the backend address (port 0) and backend port of every open
 * connection of a source: client service (once per connection): the policy
 * rules those connections still need after a reload removed their backend. */
void lb_each_transparent(const struct lb *lb,
			 void (*fn)(const struct addr *ip, uint16_t port, void *arg), void *arg);
void lb_set_avail_hook(struct lb *lb, void (*cb)(struct service *, bool, void *), void *arg);
/* Hear every backend state change: the backend (b->state is the new state),
 * the old state and the reason (the strings live for the call only). */
typedef void lb_state_fn(struct service *svc, struct backend *b, enum backend_state old,
			 const char *reason, void *arg);
void lb_set_state_hook(struct lb *lb, lb_state_fn *cb, void *arg);

/* Told of persistence entries this node makes that the peer should learn. */
typedef void lb_persist_cb(const char *svc, const struct persist_key *k, const char *be,
			   uint32_t ttl_ms, void *arg);
void lb_set_persist_hook(struct lb *lb, lb_persist_cb *cb, void *arg);
/* A client went to b of svc at now: remember it (services[].persist); the
 * peer hears of it through the persist hook, on the main loop. Any worker,
 * with svc's lock held. */
void lb_persist_note(struct lb *lb, struct service *svc, const struct addr *client,
		     const struct backend *b, double now);
/* Call cb for every live persistence entry of every service (ttl_ms: the
 * time it has left), e.g. for a peer that just connected. */
void lb_persist_each(struct lb *lb, lb_persist_cb *cb, void *arg);
/* An entry learnt from the peer (ignored for an unknown service or one
 * without persistence). */
void lb_persist_learn(struct lb *lb, const char *svc, const struct persist_key *k,
		      const char *be, uint32_t ttl_ms);

/* Totals over all workers; lb_worker_stats(): worker i's own. */
void lb_get_stats(const struct lb *lb, struct lb_stats *out);
unsigned lb_nworkers(const struct lb *lb);
void lb_worker_stats(const struct lb *lb, unsigned i, struct lb_stats *out);
uint32_t lb_active(const struct lb *lb);

#endif
