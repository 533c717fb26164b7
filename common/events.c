/* events.c - the event log ring. */
#include "common/events.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/text.h"
#include "common/util.h"

struct events {
	struct event ring[EVENTS_MAX];
	size_t head;                  /* where the next one goes */
	size_t count;
	uint64_t seq;                 /* of the newest */
};

static const char *const event_kinds[EVENT__COUNT] = {
	"backend", "failover", "reload", "command", "sync",
};

struct events *events_new(void)
{
	return xcalloc(1, sizeof(struct events));
}

void events_free(struct events *ev)
{
	free(ev);
}

void events_add(struct events *ev, double when, enum event_kind kind, const char *service,
		const char *backend, uint32_t group, const char *text)
{
	struct event *e;

	if (!ev)
		return;
	e = &ev->ring[ev->head];
	memset(e, 0, sizeof(*e));
	e->seq = ++ev->seq;
	e->when = when;
	e->kind = kind;
	e->group = group;
	text_clean(e->service, sizeof(e->service), service ? service : "", EVENTS_NAME_MAX);
	text_clean(e->backend, sizeof(e->backend), backend ? backend : "", EVENTS_NAME_MAX);
	text_clean(e->text, sizeof(e->text), text ? text : "", 4 * EVENTS_TEXT_MAX);
	ev->head = (ev->head + 1) % EVENTS_MAX;
	if (ev->count < EVENTS_MAX)
		ev->count++;
}

size_t events_count(const struct events *ev)
{
	return ev ? ev->count : 0;
}

const struct event *events_get(const struct events *ev, size_t i)
{
	if (!ev || i >= ev->count)
		return NULL;
	return &ev->ring[(ev->head + EVENTS_MAX - 1 - i) % EVENTS_MAX];
}

const char *events_kind_str(enum event_kind k)
{
	return (unsigned)k < EVENT__COUNT ? event_kinds[k] : "unknown";
}

char *events_iso_time(double when, char *buf, size_t len)
{
	time_t secs = (time_t)floor(when);
	int ms = (int)((when - (double)secs) * 1000);
	struct tm tm;

	if (ms > 999)
		ms = 999;
	if (ms < 0)
		ms = 0;
	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return buf;
}
