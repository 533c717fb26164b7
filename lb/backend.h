/* backend.h - a backend server's runtime state: health, admin state, counters.
 *
 * struct backend_conf (config/) is what the file says; struct backend is what
 * is happening now. Backends are reference counted: the service holds one
 * reference, every proxied connection another, so a reload that removes a
 * backend lets its live connections finish. backend_set_check_status() (the
 * checks' verdict, through a hook the daemon wires) and backend_set_admin()
 * are the only writers of the state.
 *
 * lb/ does not know checks/: a backend holds an opaque handle of its checks
 * (struct check, never dereferenced here) and a hooks table to tell them of
 * admin changes and failed client connects; both are set by the daemon.
 */
#ifndef VIGIL_BACKEND_H
#define VIGIL_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"
#include "config/config.h"

struct service;
struct check;

/* How lb/ tells a backend's checks what it saw (the daemon wires it). */
struct backend_check_hooks {
	/* the admin state changed (before the state is recomputed); maint: now in maintenance */
	void (*admin_changed)(struct check *ck, bool maint);
	/* a client's connect to port failed on the backend's side (refused, reset, timed out) */
	void (*passive_failure)(struct check *ck, uint16_t port);
};

/* One verdict of a backend's checks, for backend_set_check_status(). */
struct backend_check_status {
	bool healthy;                 /* every check that gates the whole backend passes */
	uint64_t gated_down;          /* service port indexes whose gating check fails */
	const char *last;             /* result class of the check shown ("ok", "timeout", ...) */
	const char *detail;           /* its reply or error text */
	const char *why;              /* reason logged if the state changes; NULL: "no reason" */
};

enum backend_state { BACKEND_UP, BACKEND_DOWN, BACKEND_DRAIN, BACKEND_MAINT };
enum backend_admin { ADMIN_NONE, ADMIN_DRAIN, ADMIN_MAINT };
/* What the backend's agent (agent: {port, interval}) last said about its state. */
enum backend_agent { AGENT_UP, AGENT_DRAIN, AGENT_MAINT, AGENT_DOWN };

#define BACKEND_RTT_ALPHA_DIV 4       /* EWMA: new = old + (sample - old) / 4 */

/* Threads: the main loop is the only writer of the state, weights, gated
 * ports and check fields, and writes what the schedulers read (state,
 * weight, gated_down, maxconn, rtt_us, send_proxy) under the service's lock
 * (service_lock()); workers read those only under it. The counters are
 * atomics that any worker bumps. */
struct backend {
	_Atomic unsigned refs;
	struct service *svc;          /* NULL once a reload removed it */
	char *name;
	struct addr addr;             /* port 0 unless conf names one */
	uint16_t port;                /* 0: the client's service port */
	uint32_t maxconn;             /* 0: unlimited */
	bool backup;
	enum send_proxy send_proxy;   /* PROXY header before the client's bytes and probes */
	uint32_t weight;              /* effective weight the schedulers use:
					 weight_cfg x agent_pct / 100 */
	uint32_t weight_cfg;          /* runtime weight: config, or vigilctl weight */
	uint32_t agent_pct;           /* the agent's percentage, 100 without an agent */
	enum backend_agent agent;     /* the agent's state word, AGENT_UP without one */
	uint32_t rtt_us;              /* EWMA of passing probes' response times, 0: none yet */
	_Atomic uint32_t rt_weight;   /* weighted-response-time: the weight in use */
	bool weight_set_by_ctl;       /* a reload keeps a weight set by vigilctl */

	bool healthy;                 /* last verdict of the checks (rise/fall applied) */
	enum backend_admin admin;
	enum backend_state state;     /* derived: maint > drain > down > up (admin and agent) */
	unsigned pool_idx;            /* index in its scheduler pool */

	/* counters */
	_Atomic uint32_t active;
	_Atomic uint64_t total;
	_Atomic uint64_t bytes_in;    /* client -> backend */
	_Atomic uint64_t bytes_out;   /* backend -> client */
	_Atomic uint64_t connect_fail;
	uint64_t transitions;         /* state changes since start */
	double last_change;           /* wall clock seconds of the last state change */

	/* check status, written by backend_set_check_status() only */
	struct check *check;          /* opaque handle owned by checks/, NULL when not probed */
	const struct backend_check_hooks *check_hooks;  /* wired with check, else NULL */
	uint64_t gated_down;          /* bit i: service port i is out of rotation for
					 this backend (a check with `ports:` fails) */
	char check_last[16];          /* "ok", "connect", "timeout", ... or "none" */
	char check_detail[160];       /* server reply or error text (of the failing check) */
};

/* New backend from its configuration, down until its first probe passes;
 * one reference held by the caller. */
struct backend *backend_new(const struct backend_conf *bc);
struct backend *backend_ref(struct backend *b);
/* Drop one reference; frees on the last one. */
void backend_unref(struct backend *b);

const char *backend_state_str(enum backend_state s);
/* Port to connect to for a client that came in on service port svc_port. */
uint16_t backend_port(const struct backend *b, uint16_t svc_port);
/* True if b may take a new connection now: up, weight > 0, below maxconn. */
bool backend_usable(const struct backend *b);
/* True if service port index port_idx is not gated down for b (< 0: any port). */
bool backend_port_open(const struct backend *b, int port_idx);

/* The checks' verdict: health, gated ports, and the result shown in status.
 * Logs "service S backend B: up -> down (why)" on a state change and each
 * port gated down or back; tells the scheduler. */
void backend_set_check_status(struct backend *b, const struct backend_check_status *st);
/* Set the health verdict only (keeps the check text and gated ports). */
void backend_set_health(struct backend *b, bool healthy, const char *reason);
/* Set the admin state (vigilctl drain / disable / enable). */
void backend_set_admin(struct backend *b, enum backend_admin admin, const char *reason);
/* Set the runtime weight (0..256). */
void backend_set_weight(struct backend *b, uint32_t weight);
/* A reload's configured weight for a kept backend (no log, no scheduler call:
 * the reload rebuilds the pools; the caller holds the service's lock). */
void backend_conf_weight(struct backend *b, uint32_t weight);
/* The agent's verdict: state word and percentage (0..100) of weight_cfg;
 * logs and tells the scheduler when the state or the weight changed. */
void backend_set_agent(struct backend *b, enum backend_agent agent, uint32_t pct,
		       const char *reason);
/* A passing probe took rtt_us: update the moving average (rtt_us >= 1). */
void backend_note_rtt(struct backend *b, uint32_t rtt_us);
const char *backend_agent_str(enum backend_agent a);

#endif
