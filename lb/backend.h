/* backend.h - a backend server's runtime state: health, admin state, counters.
 *
 * struct backend_conf (config/) is what the file says; struct backend is what
 * is happening now. Backends are reference counted: the service holds one
 * reference, every proxied connection another, so a reload that removes a
 * backend lets its live connections finish. backend_set_health() and
 * backend_set_admin() are the only writers of the state.
 */
#ifndef VIGIL_BACKEND_H
#define VIGIL_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"
#include "config/config.h"

struct service;
struct check;

enum backend_state { BACKEND_UP, BACKEND_DOWN, BACKEND_DRAIN, BACKEND_MAINT };
enum backend_admin { ADMIN_NONE, ADMIN_DRAIN, ADMIN_MAINT };
/* What the backend's agent (agent: {port, interval}) last said about its state. */
enum backend_agent { AGENT_UP, AGENT_DRAIN, AGENT_MAINT, AGENT_DOWN };

#define BACKEND_RTT_ALPHA_DIV 4       /* EWMA: new = old + (sample - old) / 4 */

struct backend {
	unsigned refs;
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
	uint32_t rt_weight;           /* weighted-response-time: the weight in use */
	bool weight_set_by_ctl;       /* a reload keeps a weight set by vigilctl */

	bool healthy;                 /* last verdict of the checks (rise/fall applied) */
	enum backend_admin admin;
	enum backend_state state;     /* derived: maint > drain > down > up (admin and agent) */
	unsigned pool_idx;            /* index in its scheduler pool */

	/* counters */
	uint32_t active;
	uint64_t total;
	uint64_t bytes_in;            /* client -> backend */
	uint64_t bytes_out;           /* backend -> client */
	uint64_t connect_fail;
	uint64_t transitions;         /* state changes since start */
	double last_change;           /* wall clock seconds of the last state change */

	/* check status, written by checks/ */
	struct check *check;          /* owned by checks/, NULL when not probed */
	/* hook set by checks/ with check: told of every admin change before the
	 * state is recomputed (so lb/ does not call into checks/) */
	void (*admin_changed)(struct check *ck);
	/* hook set by checks/ with check: a client's connect to the backend
	 * failed on the backend's side (refused, reset, timed out) */
	void (*passive_failure)(struct check *ck);
	char check_last[16];          /* "ok", "connect", "timeout", ... or "none" */
	char check_detail[160];       /* server reply or error text */
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

/* Set the health verdict; logs "service S backend B: up -> down (reason)" and
 * tells the scheduler. reason may be NULL. */
void backend_set_health(struct backend *b, bool healthy, const char *reason);
/* Set the admin state (vigilctl drain / disable / enable). */
void backend_set_admin(struct backend *b, enum backend_admin admin, const char *reason);
/* Set the runtime weight (0..256). */
void backend_set_weight(struct backend *b, uint32_t weight);
/* A reload's configured weight for a kept backend (no log, no scheduler call:
 * the reload rebuilds the pools). */
void backend_conf_weight(struct backend *b, uint32_t weight);
/* The agent's verdict: state word and percentage (0..100) of weight_cfg;
 * logs and tells the scheduler when the state or the weight changed. */
void backend_set_agent(struct backend *b, enum backend_agent agent, uint32_t pct,
		       const char *reason);
/* A passing probe took rtt_us: update the moving average (rtt_us >= 1). */
void backend_note_rtt(struct backend *b, uint32_t rtt_us);
const char *backend_agent_str(enum backend_agent a);

#endif
