/* check_state.h - rise/fall counting and probe timing, as pure functions. */
#ifndef VIGIL_CHECK_STATE_H
#define VIGIL_CHECK_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

#define CHECK_FAST_MIN_MS 10u         /* floor of the fast interval */
#define CHECK_FIRST_JITTER_MS 10u     /* first probe of a new backend: 0..10 ms at least */
#define CHECK_LATE_MS 100u            /* a start later than this counts as late */
#define CHECK_LOCAL_RETRY_MS 50u      /* first retry of a probe that could not start */
/* Young probes (started less than a quarter of their timeout ago and still
 * running) per checker at most; more that are due wait in a FIFO (like
 * HAProxy's tune.max-checks-per-thread). When TLS handshakes saturate the
 * CPU, probes then start a little late instead of all missing their deadline
 * together (which would mark healthy servers down); a probe that has waited
 * a quarter of its timeout is waiting on a slow or dead server and stops
 * counting, so an outage of many servers does not hold the others back. */
#define CHECK_SLOT_MIN_MS 50u
#define CHECK_MAX_INFLIGHT 128u

struct check_state {
	bool checked;                 /* at least one probe result was counted */
	bool healthy;                 /* the verdict */
	bool unproven;                /* not up since the check (re)started and its
					 failure not reported yet */
	uint32_t npass, nfail;        /* consecutive results against the verdict
					 (nfail also while unproven and down) */
};

enum check_change {
	CHECK_SAME,
	CHECK_WENT_UP,
	CHECK_WENT_DOWN,
	CHECK_NEVER_UP,               /* unproven and down: `fall` failures in a row
					 (reported once; nothing changes) */
};

/* Start over on fresh evidence only: not checked, down, unproven (a new
 * backend, or one leaving maintenance). */
void check_state_restart(struct check_state *st);
/* Count one probe result. The first result ever decides at once (a pass is
 * up immediately); afterwards `rise` passes bring a down backend up and
 * `fall` failures take an up one down. Returns what changed. */
enum check_change check_state_update(struct check_state *st, bool ok,
				     uint32_t rise, uint32_t fall);
/* True while the verdict may be about to change (an up backend that failed,
 * a down one that passed): probes then run at the fast interval. */
bool check_state_transient(const struct check_state *st);
/* max(min(interval, timeout) / 4, CHECK_FAST_MIN_MS), at most interval. */
uint32_t check_fast_interval(uint32_t interval_ms, uint32_t timeout_ms);
/* Milliseconds from now until the next probe of a check whose last probe
 * started at `started` and ended `now`, after `nprobes` probes. While
 * transient, probes run start to start every fast interval, and at once
 * after one that took longer (so fall timeouts take fall x timeout).
 * Otherwise start to start every interval minus a 0..10% jitter (the second
 * probe anywhere in the second half of the interval, to spread backends
 * that started together), but never sooner than a quarter interval (plus up
 * to another quarter, random) after a probe that overran its period: probes
 * that all timed out together do not stay in step. rnd: any random number.
 * 0 means at once. */
uint64_t check_next_delay(const struct check_state *st, const struct check_conf *cc,
			  uint64_t started, uint64_t now, uint64_t nprobes, uint32_t rnd);
/* Window over which the first probes of nnew backends added together are
 * spread: 0.5 ms per backend, at least CHECK_FIRST_JITTER_MS, at most half
 * an interval (1000 new backends: 500 ms; 20: 10 ms). */
uint32_t check_first_spread(uint32_t interval_ms, unsigned nnew);

#endif
