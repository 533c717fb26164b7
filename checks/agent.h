/* agent.h - per-backend agents (agent: {port, interval}), as HAProxy's
 * agent-check: every interval, connect to the backend's agent port and read
 * one line that sets the backend's effective weight (a percentage of its
 * configured weight) and/or its state (up, drain, maint, down). An agent that
 * cannot be reached, times out or answers an invalid line changes nothing;
 * that is logged once, and once again when it answers. The agents run on
 * their own probe_ctx beside the checker; the daemon calls agents_sync()
 * after every lb_apply().
 *
 * The line (first line, CR LF or LF, or everything up to the close): words
 * separated by spaces, tabs or commas, case-insensitive:
 *   N%                 weight = configured weight x N / 100 (N = 0..100)
 *   up | ready         the agent's state is up (the checks decide)
 *   drain              no new connections (as vigilctl drain)
 *   maint | stopped    maintenance (as vigilctl disable)
 *   down | failed      down, whatever the checks say
 *   #...               the rest of the line is a comment
 * e.g. "75%", "drain", "up 50%", "down # disk full". The last state word wins;
 * a line without one keeps the state, one without a percentage keeps it.
 */
#ifndef VIGIL_AGENT_H
#define VIGIL_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "lb/backend.h"

struct lb;
struct agents;

#define AGENT_LINE_MAX 512            /* longest line an agent may send */

struct agent_reply {
	bool has_state;
	enum backend_agent state;
	bool has_pct;
	uint32_t pct;                 /* 0..100 */
};

/* Parse one agent line, text[0..len) without its line end. 0, or -1 with
 * the reason in err (an unknown word, a percentage out of range, nothing). */
int agent_line_parse(const char *text, size_t len, struct agent_reply *out,
		     char *err, size_t errlen);

/* Agents of the backends that name one; none until agents_sync(). */
struct agents *agents_new(struct ev_loop *loop);
/* Stop every agent, close every socket. */
void agents_free(struct agents *a);
/* Match the agents to lb's live services: start new ones, follow changed
 * ports and intervals, stop removed ones (a backend whose agent: was removed
 * goes back to state up and 100%). */
void agents_sync(struct agents *a, struct lb *lb);
/* Number of agents running. */
unsigned agents_count(const struct agents *a);

#endif
