/* sdnotify.h - vigild's side of systemd's Type=notify protocol (sd_notify(3)).
 *
 * READY=1 once the listeners are open, every probed backend has had its first
 * probe and the failover state has settled (master or fault at once; backup
 * after 4 advert intervals, longer than the master-down timer; with
 * failover.sync not before the peer's operator state is learnt), or at the
 * latest after the longest check interval + timeout + 2 s (at most 30 s), so
 * systemd's start-up timeout never hits a slow backend. RELOADING=1 and
 * READY=1 around each reload, STOPPING=1 when a graceful stop begins, and
 * STATUS= with a one-line summary at each of these and every 5 s after that
 * while it changes. Without $NOTIFY_SOCKET nothing is sent; the "ready" log
 * line is written either way.
 */
#ifndef VIGIL_SDNOTIFY_H
#define VIGIL_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>

struct vigild;
struct sdnotify;

enum sdnotify_verdict {
	SDNOTIFY_WAIT,                /* not settled yet, keep waiting */
	SDNOTIFY_READY,               /* settled */
	SDNOTIFY_LATE,                /* not settled but waited long enough */
};

/* What readiness is decided from (a snapshot; no pointers into the daemon). */
struct sdnotify_facts {
	unsigned probes_pending;      /* probed backends without a first result */
	const char *failover;         /* "standalone", "init", "backup", "master", "fault" */
	bool learning;                /* waiting for the peer's operator state (sync) */
	double waited;                /* seconds since vigild_start() */
	double backup_settle;         /* seconds a backup needs to count as settled */
	double limit;                 /* seconds after which readiness is declared anyway */
};

/* Pure: is vigild ready given f? */
enum sdnotify_verdict sdnotify_decide(const struct sdnotify_facts *f);

/* Start the readiness watch on d's loop; call at the end of a successful
 * vigild_start(). Never NULL. */
struct sdnotify *sdnotify_new(struct vigild *d);
/* A reload begins (RELOADING=1) / ended (READY=1 once the start-up readiness
 * was declared, and STATUS=). n may be NULL. */
void sdnotify_reloading(struct sdnotify *n);
void sdnotify_reloaded(struct sdnotify *n, bool ok);
/* A graceful stop begins (STOPPING=1). n may be NULL. */
void sdnotify_stopping(struct sdnotify *n);
/* Stop the timer and free; NULL is fine. */
void sdnotify_free(struct sdnotify *n);

#endif
