/* alert_batch.h - the pure part of the alerts: events gathered into
 * windows, the hourly rate limit, and the texts of a batch (mail subject
 * and body, the program's stdin lines). No loop, no clock: the caller
 * brings the time (monotonic seconds for windows and the limit, wall
 * clock in each alert), so unit tests drive it with a fake clock.
 *
 * A window opens with the first event and closes batch_ms later; every
 * event in it goes into one batch (the first ALERTS_BATCH_MAX listed, the
 * others counted). At most max_per_hour batches are delivered in any hour:
 * the events of a window beyond that are dropped and counted, and the next
 * delivered batch says how many and since when.
 */
#ifndef VIGIL_ALERT_BATCH_H
#define VIGIL_ALERT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define ALERTS_BATCH_MAX 100          /* events listed in one batch */
#define ALERTS_NAME_MAX 64            /* service / backend kept, NUL included */
#define ALERTS_TEXT_MAX 256           /* text kept, NUL included */
#define ALERTS_HOUR 3600.0

enum alert_kind {
	ALERT_BACKEND_DOWN,           /* a backend left rotation: up -> down */
	ALERT_BACKEND_UP,             /* and came back */
	ALERT_SERVICE_DOWN,           /* a service has no backend left to send clients to */
	ALERT_SERVICE_UP,             /* and has one again */
	ALERT_FAILOVER,               /* a failover transition */
	ALERT_SYNC_REFUSED,           /* a configuration sync refused (by either node) */
	ALERT__COUNT
};

/* One event as the daemon reports it (strings borrowed; NULL: not about one). */
struct alert {
	enum alert_kind kind;
	double when;                  /* wall clock seconds */
	const char *service;
	const char *backend;
	uint32_t group;               /* failover group, 0: none */
	const char *text;             /* "up -> down (connection refused)", ... */
};

/* One event as kept (cleaned, cut to fit). */
struct alert_item {
	enum alert_kind kind;
	double when;
	char service[ALERTS_NAME_MAX];
	char backend[ALERTS_NAME_MAX];
	uint32_t group;
	char text[ALERTS_TEXT_MAX];
};

/* What one delivery carries. */
struct alert_batch {
	struct alert_item *items;     /* n of them, owned */
	size_t n;
	uint64_t more;                /* events of the window beyond ALERTS_BATCH_MAX */
	uint64_t suppressed;          /* dropped by the rate limit before this batch */
	double suppressed_since;      /* wall clock of the first of those */
	uint32_t max_per_hour;        /* the limit, for the text */
};

struct alert_batcher {
	uint32_t batch_ms;
	uint32_t max_per_hour;
	bool open;                    /* a window is open */
	double due;                   /* when it closes (monotonic) */
	struct alert_item *items;     /* ALERTS_BATCH_MAX slots */
	size_t n;
	uint64_t more;
	double *sent;                 /* monotonic times of the batches of the last hour, oldest first */
	size_t nsent;
	uint64_t suppressed;          /* dropped since the last delivered batch */
	double suppressed_since;
	uint64_t suppressed_total;
	uint64_t events_total;
	uint64_t batches_total;
};

void alert_batcher_init(struct alert_batcher *b, uint32_t batch_ms, uint32_t max_per_hour);
/* New settings (a reload); the open window and the hour's history stay. */
void alert_batcher_set(struct alert_batcher *b, uint32_t batch_ms, uint32_t max_per_hour);
void alert_batcher_free(struct alert_batcher *b);
/* Record a at monotonic time now: true when it opened a window, which is
 * then due at b->due. */
bool alert_batcher_add(struct alert_batcher *b, const struct alert *a, double now);
/* Close the window at monotonic time now: true with out filled (release it
 * with alert_batch_free), or false when there was nothing to deliver or
 * the rate limit dropped the window's events (counted in suppressed). */
bool alert_batcher_flush(struct alert_batcher *b, double now, struct alert_batch *out);
void alert_batch_free(struct alert_batch *bt);

/* "backend-down", "backend-up", "service-down", "service-up", "failover", "sync-refused". */
const char *alert_kind_str(enum alert_kind k);
/* "[vigil] NODE: N alerts: FIRST (+K more)", "[vigil] NODE: 1 alert: FIRST". */
void alert_batch_subject(const struct alert_batch *bt, const char *node, char *buf,
			 size_t len);
/* The mail body: a heading line, one line per event, then what was left
 * out or suppressed. LF line ends. */
void alert_batch_body(const struct alert_batch *bt, const char *node, struct buf *out);
/* The program's stdin: one line per event, "TIME<TAB>KIND<TAB>SUBJECT<TAB>TEXT"
 * (TIME ISO 8601 UTC, SUBJECT service/backend, service, group:N or "-"). */
void alert_batch_lines(const struct alert_batch *bt, struct buf *out);

#endif
