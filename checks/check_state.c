/* check_state.c - rise/fall counting and probe timing (see check_state.h). */
#include "checks/check_state.h"

void check_state_restart(struct check_state *st)
{
	*st = (struct check_state){ .unproven = true };
}

/* A failure of a down backend: counted only while unproven, to report once
 * that it never came up. */
static enum check_change still_down(struct check_state *st, uint32_t fall)
{
	if (!st->unproven)
		return CHECK_SAME;
	if (++st->nfail < (fall ? fall : 1))
		return CHECK_SAME;
	st->unproven = false;
	return CHECK_NEVER_UP;
}

enum check_change check_state_update(struct check_state *st, bool ok,
				     uint32_t rise, uint32_t fall)
{
	bool first = !st->checked;

	if (first) {
		st->checked = true;
		st->npass = st->nfail = 0;
	}
	if (ok) {
		st->nfail = 0;
		if (st->healthy)
			return CHECK_SAME;
		if (!first && ++st->npass < (rise ? rise : 1))
			return CHECK_SAME;
		st->healthy = true;
		st->unproven = false;
		st->npass = 0;
		return CHECK_WENT_UP;
	}
	st->npass = 0;
	if (!st->healthy)
		return still_down(st, fall);
	if (!first && ++st->nfail < (fall ? fall : 1))
		return CHECK_SAME;
	st->healthy = false;
	st->nfail = 0;
	return CHECK_WENT_DOWN;
}

bool check_state_transient(const struct check_state *st)
{
	return st->healthy ? st->nfail > 0 : st->npass > 0;
}

uint32_t check_fast_interval(uint32_t interval_ms, uint32_t timeout_ms)
{
	uint32_t f = (interval_ms < timeout_ms ? interval_ms : timeout_ms) / 4;

	if (f < CHECK_FAST_MIN_MS)
		f = CHECK_FAST_MIN_MS;
	return f < interval_ms ? f : interval_ms;
}

uint64_t check_next_delay(const struct check_state *st, const struct check_conf *cc,
			  uint64_t started, uint64_t now, uint64_t nprobes, uint32_t rnd)
{
	uint64_t iv = cc->interval_ms ? cc->interval_ms : 1, period, due;

	if (check_state_transient(st)) {
		period = check_fast_interval(cc->interval_ms, cc->timeout_ms);
		due = started + period;
		return due > now ? due - now : 0;
	}
	if (nprobes == 1)
		period = iv / 2 + rnd % (iv - iv / 2 + 1);
	else
		period = iv - rnd % (iv / 10 + 1);
	due = started + period;
	/* a probe that overran its period: not at once (probes that timed out
	 * together would stay in step), but spread over a quarter interval */
	if (due < now + iv / 4)
		return iv / 4 + (rnd >> 8) % (iv / 4 + 1);
	return due - now;
}

uint32_t check_first_spread(uint32_t interval_ms, unsigned nnew)
{
	uint32_t spread = nnew / 2;

	if (spread > interval_ms / 2)
		spread = interval_ms / 2;
	return spread > CHECK_FIRST_JITTER_MS ? spread : CHECK_FIRST_JITTER_MS;
}
