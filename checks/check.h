/* check.h - health checks: one probe per backend, rise/fall, passive signal.
 *
 * A checker runs every probe of the daemon in its one libev loop. After each
 * lb_apply() the daemon calls checker_sync(), which makes the set of probes
 * match the backends of the live services. Each backend gets a struct check
 * (b->check) holding a copy of its service's check: configuration, a probe,
 * one scheduling timer and the rise/fall counters. Verdicts reach the load
 * balancer only through backend_set_health().
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
 * b->check_last is one of check_result_str(): "ok", "connect" (socket-level:
 * refused, reset, unreachable), "timeout", "protocol" (unexpected reply,
 * early close, over-long line), "tls" (handshake or certificate), "local"
 * (the probe could not start on this node), "passive" (a client's connect
 * failed), or "none" (no probe since start or maintenance); b->check_detail
 * holds the server's reply line or the error text, without repeating the
 * class (a refused connect is "connect" / "Connection refused"; logs show
 * it as "connect: Connection refused").
 *
 * Logged once per event: every verdict change (backend_set_health()); a
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

struct lb;
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

/* New checker on loop; no probes until checker_sync(). */
struct checker *checker_new(struct ev_loop *loop);
/* Stop and free every probe, timer, socket and TLS object; clears b->check. */
void checker_free(struct checker *c);
/* Make the probes match the backends of lb's live services: start new ones
 * (a new backend is marked unhealthy until its first probe passes), update
 * changed check configurations, stop probes of removed backends. */
void checker_sync(struct checker *c, struct lb *lb);
/* Number of backends being checked. */
unsigned checker_count(const struct checker *c);
/* Totals over every check, including those of backends since removed. */
void checker_get_stats(const struct checker *c, struct check_stats *out);

/* A client's connect to ck's backend failed or timed out: count a failed
 * probe and re-probe at once. ck may be NULL (unchecked backend). */
void check_passive_failure(struct check *ck);
/* The backend's admin state changed (vigilctl enable/disable/drain): the
 * backend's admin_changed hook, called before the state is recomputed. A backend leaving maintenance is taken down
 * ("awaiting a fresh probe after maintenance": its verdict from before is
 * stale) and probed at once; it starts over as a new backend does, so the
 * first fresh probe that passes brings it up. ck may be NULL. */
void check_admin_changed(struct check *ck);
/* Counters of one check. */
void check_get_stats(const struct check *ck, struct check_stats *out);
/* True while a probe of ck is in flight. */
bool check_probing(const struct check *ck);

/* "ok", "connect", "timeout", "protocol", "tls", "local". */
const char *check_result_str(enum check_result r);

#endif
