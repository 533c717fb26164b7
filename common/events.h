/* events.h - the event log: the last EVENTS_MAX things that happened to the
 * daemon (backend state changes, failover transitions, reloads, operator
 * commands), newest kept, oldest dropped. Memory only; the producers log
 * their own line (this module never logs). Every text is cleaned with
 * text_clean() on the way in, so readers may show it as is.
 *
 * The daemon owns one ring and wires the producers to it through their hooks
 * (lb/, checks/ and vip/ never see it); ctl/ reads it for status and
 * `vigilctl events`.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define EVENTS_MAX 500
#define EVENTS_NAME_MAX 64            /* service / backend name kept, NUL included */
#define EVENTS_TEXT_MAX 256           /* text kept, NUL included */

enum event_kind {
	EVENT_BACKEND,                /* a backend changed state */
	EVENT_FAILOVER,               /* a failover transition */
	EVENT_RELOAD,                 /* a configuration reload, done or refused */
	EVENT_COMMAND,                /* an operator command, with where it came from */
	EVENT_SYNC,                   /* a configuration sync with the peer */
	EVENT__COUNT
};

struct event {
	uint64_t seq;                 /* 1, 2, ...: never reused */
	double when;                  /* wall clock seconds */
	enum event_kind kind;
	char service[EVENTS_NAME_MAX];    /* "" when not about one */
	char backend[EVENTS_NAME_MAX];
	uint32_t group;               /* failover group, 0 when not about one */
	char text[EVENTS_TEXT_MAX];
};

struct events;

struct events *events_new(void);
void events_free(struct events *ev);

/* Record one event at wall clock time when; service and backend may be NULL.
 * text is cleaned (text_clean) and cut to fit. */
void events_add(struct events *ev, double when, enum event_kind kind, const char *service,
		const char *backend, uint32_t group, const char *text);
/* Number held (at most EVENTS_MAX). */
size_t events_count(const struct events *ev);
/* The i-th newest (0 = newest), or NULL beyond events_count(). */
const struct event *events_get(const struct events *ev, size_t i);
/* "backend", "failover", "reload", "command", "sync". */
const char *events_kind_str(enum event_kind k);
/* ISO 8601 UTC with milliseconds, "2026-12-02T06:19:27.123Z"; buf >= 32 bytes. */
char *events_iso_time(double when, char *buf, size_t len);

#endif
