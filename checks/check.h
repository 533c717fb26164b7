/* check.h - health checks: a list of probes per backend, rise/fall, passive signal.
 *
 * A checker runs every probe of the daemon in its one libev loop. checks/
 * does not know lb/: after each lb_apply() the daemon calls checker_sync()
 * with an iterator over the live backends (struct check_target: names,
 * address, ports, the list of checks), and the checker reports each
 * backend's verdict through its hooks (struct check_hooks), which the daemon
 * wires to backend_set_check_status(). A backend's struct check (its handle,
 * stored where the target says) holds one entry per configured check: a copy
 * of its configuration, a probe, one scheduling timer and its own rise/fall
 * counters, interval and timeout.
 *
 * Several checks: the backend is healthy while every entry without `ports:`
 * is up. An entry with `ports:` (a subset of the service's ports) gates only
 * those ports: while it is down they are reported in gated_down (a bitmask
 * over the service's port indexes) and the schedulers skip this backend for
 * clients of those ports, the other ports carry on. The status shows the
 * first failing entry (an ungated one first), else the first entry. An
 * entry probes its `port:`, else the backend's port, else the first of its
 * `ports:`, else the service's first port. The first probes of one backend's
 * entries are spread 1/n of an interval apart (at most 50 ms); all probes
 * share the checker's concurrency limit.
 *
 * Scheduling (see check_state.h): the first probe of a new backend runs at
 * once (spread over 10 ms, or 0.5 ms per backend added together, at most half
 * an interval) and the backend takes no traffic until it passes; a backend
 * that passes its first probe is up immediately, from then on rise/fall
 * apply. Probes start every `interval` (jittered 0..-10%), and every "fast
 * interval" = max(min(interval, timeout) / 4, 10 ms) while a backend is in
 * transition (an up backend that failed, or a down backend that passed). A
 * probe that took longer than that period is followed at once, so an
 * unresponsive server is declared down within fall x timeout of its first
 * failing probe, a refusing one within (fall - 1) x fast interval; counted
 * from the moment it fails, add up to one interval. At most 128 young probes
 * run at once (CHECK_MAX_INFLIGHT); more wait their turn in order.
 *
 * The reported `last` is one of check_result_str(): "ok", "connect"
 * (socket-level: refused, reset, unreachable), "timeout", "protocol"
 * (unexpected reply, early close, over-long line), "tls" (handshake or
 * certificate), "local" (the probe could not start on this node), "passive"
 * (a client's connect failed), or "none" (no probe since start or
 * maintenance); `detail` holds the server's reply line or the error text,
 * without repeating the class (a refused connect is "connect" / "Connection
 * refused"; logs show it as "connect: Connection refused").
 *
 * Logged once per event: every verdict change (by the hook's owner); an entry
 * that changes while the backend's verdict does not (several checks); a
 * backend that has failed `fall` probes without being up since start, the
 * reload that added it or the end of its maintenance ("down (REASON) after
 * 3 failed checks, never up since start"); a probe that cannot start on this
 * node ("cannot probe (...)"), once per reason while it is retried after
 * 50 ms, 100 ms, ... up to the interval, and once when probes run again.
 */
#ifndef VIGIL_CHECK_H
#define VIGIL_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "common/addr.h"
#include "config/config.h"

struct checker;
struct check;

enum check_result {
	CHECK_OK,
	CHECK_ERR_CONNECT,
	CHECK_ERR_TIMEOUT,
	CHECK_ERR_PROTOCOL,
	CHECK_ERR_TLS,
	CHECK_ERR_LOCAL,              /* this node could not probe (no fd, no memory,
					 source address unusable): not the backend's
					 fault, not counted for rise/fall, retried soon */
};

/* Counters of one backend's check, or of all checks of a checker. */
struct check_stats {
	uint64_t probes;              /* probes completed */
	uint64_t failures;            /* of which failed */
	uint64_t timeouts;            /* of which hit the deadline */
	uint64_t passive;             /* client connect failures reported by lb */
	uint64_t late;                /* probes started > 100 ms after their due time */
	uint64_t max_late_ms;         /* worst start delay seen */
	uint64_t transitions;         /* health verdict changes made by checks */
	uint64_t local_errors;        /* probes that could not start on this node
					 (CHECK_ERR_LOCAL): not counted as probes */
	uint32_t last_ms;             /* duration of the last probe */
};

/* One live backend as checks/ sees it (filled by the daemon's iterator). */
struct check_target {
	void *owner;                  /* the backend; opaque here, passed to the hooks */
	struct check **handle;        /* the owner's slot for its struct check */
	const char *service, *name;   /* for logs */
	struct addr addr;             /* the backend's address (port ignored) */
	uint16_t port;                /* the backend's own port, 0: the client's */
	const uint16_t *svc_ports;    /* the service's ports */
	size_t nsvc_ports;
	const struct check_conf *checks;  /* at least one */
	size_t nchecks;
	bool has_source;
	struct addr source;           /* source address of probes (port ignored) */
	enum send_proxy send_proxy;   /* PROXY header before each probe */
	bool maint;                   /* in maintenance now: not probed */
};

/* The live backends, one at a time: next() fills out, false at the end. */
struct check_iter {
	bool (*next)(void *it, struct check_target *out);
	void *it;
};

/* A backend's verdict as its checks see it. */
struct check_report {
	bool healthy;                 /* every entry without ports: is up */
	uint64_t gated_down;          /* service port indexes gated down by entries with ports: */
	const char *last;             /* check_result_str() of the entry shown, or "none" */
	const char *detail;           /* its reply or error text */
	const char *why;              /* on a verdict change: what changed it, for the log */
};

/* How the checker reaches the backends' owner (wired by the daemon). */
struct check_hooks {
	/* new verdict or status text of owner's checks */
	void (*report)(void *owner, const struct check_report *r, void *arg);
	void (*hold)(void *owner, void *arg);     /* the check keeps owner alive */
	void (*release)(void *owner, void *arg);  /* ... until this */
	/* a probe of owner passed in us microseconds (NULL: nobody asks) */
	void (*rtt)(void *owner, uint32_t us, void *arg);
	void *arg;
};

/* One entry of a backend's check list, for the status page. */
struct check_entry_info {
	enum check_type type;
	uint16_t port;                /* the port it probes */
	uint64_t ports_mask;          /* service port indexes it gates, 0: the whole backend */
	bool up;                      /* its own rise/fall verdict */
	const char *last;             /* check_result_str(), "passive" or "none" */
	const char *detail;
	struct check_stats stats;
};

/* New checker on loop reporting through hooks (copied); no probes until checker_sync(). */
struct checker *checker_new(struct ev_loop *loop, const struct check_hooks *hooks);
/* Stop and free every probe, timer, socket and TLS object; clears every handle. */
void checker_free(struct checker *c);
/* Make the probes match the live backends it yields: start new ones (a new
 * backend is reported unhealthy until its first probes pass), update changed
 * check lists, stop the checks of backends no longer yielded. */
void checker_sync(struct checker *c, const struct check_iter *it);
/* Number of backends being checked. */
unsigned checker_count(const struct checker *c);
/* Totals over every check, including those of backends since removed. */
void checker_get_stats(const struct checker *c, struct check_stats *out);

/* A client's connect to ck's backend on port failed or timed out: count a
 * failed probe on the entry that probes that port (else the first entry
 * that gates the whole backend) and re-probe it at once. ck may be NULL. */
void check_passive_failure(struct check *ck, uint16_t port);
/* The backend's admin state changed (vigilctl enable/disable/drain), before
 * its state is recomputed. A backend leaving maintenance is taken down
 * ("awaiting a fresh probe after maintenance": its verdict from before is
 * stale) and probed at once; it starts over as a new backend does, so the
 * first fresh probes that pass bring it up. ck may be NULL. */
void check_admin_changed(struct check *ck, bool maint);
/* Counters of one backend's checks (all entries together). */
void check_get_stats(const struct check *ck, struct check_stats *out);
/* Entries of ck's list (0 if ck is NULL), and entry i of them. */
size_t check_entries(const struct check *ck);
void check_entry_get(const struct check *ck, size_t i, struct check_entry_info *out);
/* Index of the entry the status shows (the first failing one that gates the
 * whole backend, else the first failing one, else 0). */
size_t check_shown(const struct check *ck);
/* True while a probe of ck is in flight. */
bool check_probing(const struct check *ck);

/* "ok", "connect", "timeout", "protocol", "tls", "local". */
const char *check_result_str(enum check_result r);

#endif
