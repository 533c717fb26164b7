/* check_state.h - rise/fall counting and probe timing, as pure functions. */
#ifndef VIGIL_CHECK_STATE_H
#define VIGIL_CHECK_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

#define CHECK_FAST_MIN_MS 10u         /* floor of the fast interval */
#define CHECK_FIRST_JITTER_MS 10u     /* first probe of a new backend: 0..10 ms */
#define CHECK_LATE_MS 100u            /* a start later than this counts as late */

struct check_state {
	bool checked;                 /* at least one probe result was counted */
	bool healthy;                 /* the verdict */
	uint32_t npass, nfail;        /* consecutive results against the verdict */
};

enum check_change { CHECK_SAME, CHECK_WENT_UP, CHECK_WENT_DOWN };

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
 * started at `started` (now >= started) and that ran `nprobes` probes.
 * Periods run start to start: fast while transient; otherwise interval minus
 * a 0..10% jitter, except the second probe that lands anywhere in the second
 * half of the interval to spread backends that started together. rnd: any
 * random number. 0 means at once. */
uint64_t check_next_delay(const struct check_state *st, const struct check_conf *cc,
			  uint64_t started, uint64_t now, uint64_t nprobes, uint32_t rnd);

#endif
