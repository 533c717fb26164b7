/* vigild.h - the daemon: one loop, one configuration snapshot, and the
 * modules that run in it. ctl/ receives a pointer to this to answer commands.
 */
#ifndef VIGIL_VIGILD_H
#define VIGIL_VIGILD_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "common/buf.h"
#include "config/config.h"
#include "ctl/ctl.h"

#include "common/version.h"
/* Test only: the vigil version the sync channel announces (VIGIL_VERSION otherwise). */
#define VIGIL_TEST_VERSION_ENV "VIGIL_TEST_SYNC_VERSION"

struct lb;
struct checker;
struct agents;
struct ctl_server;
struct status_http;
struct failover;
struct notify;
struct alerts;
struct rules_nl;
struct sync;
struct sdnotify;
struct events;

struct vigild {
	struct ev_loop *loop;
	char *config_path;
	const char *node;             /* vigild -n NAME (argv), or NULL */
	struct config *cfg;           /* the running configuration */
	struct lb *lb;
	struct checker *checker;
	struct agents *agents;        /* backends' agent: ports */
	struct ctl_server *ctl;
	struct status_http *http;
	struct failover *fo;          /* NULL without a failover section */
	struct notify *notify;        /* failover.notify: programs and mails */
	struct alerts *alerts;        /* alerts: batched events, programs and mails */
	struct rules_nl *rules;       /* policy rules of source: client services */
	ev_timer rules_timer;         /* while connections keep rules a reload dropped */
	struct sync *sync;            /* failover.sync: NULL when off */
	uint8_t config_digest[32];    /* SHA-256 of the running configuration file */
	bool has_digest;
	struct sdnotify *sdn;         /* systemd readiness and status (sd_notify) */
	struct events *events;        /* the event log */
	struct ctl_daemon ctl_dm;     /* what ctl/ sees of us (ctl_server, status_http) */
	double started;               /* wall clock seconds */
	uint64_t reloads, reload_failures;
	uint64_t nofile;              /* open file limit (soft), for maxconn and status */
	bool stopping;
	ev_signal sig_hup, sig_term, sig_int;
	ev_timer drain_timer;
	ev_tstamp drain_deadline;
};

/* Start with a loaded configuration (ownership passes to d): listeners,
 * checks, control socket, status endpoint, privilege drop, signals.
 * 0, or -1 after logging why (call vigild_cleanup() either way). */
int vigild_start(struct vigild *d, struct config *cfg, const char *path);
/* Stop accepting and let connections finish for up to timeouts.drain, then
 * leave the loop. */
void vigild_stop(struct vigild *d, const char *why);
/* Free everything vigild_start() made. */
void vigild_cleanup(struct vigild *d);

/* Load the configuration file again and apply it. On error the running
 * configuration stays; every problem is appended to err (one per line). */
int vigild_reload(struct vigild *d, struct buf *err);

/* The failover state name for status ("standalone" while none is configured),
 * and the effective priority (0 if none). */
const char *vigild_failover_state(const struct vigild *d);
int vigild_failover_priority(const struct vigild *d);
/* vigilctl standby / takeover / resume for group (0: the configured one):
 * 0, or -1 with the reason in err. */
int vigild_standby(struct vigild *d, uint32_t group, char *err, size_t errlen);
int vigild_takeover(struct vigild *d, uint32_t group, char *err, size_t errlen);
int vigild_resume(struct vigild *d, uint32_t group, char *err, size_t errlen);

/* An operator decision (vigilctl drain/disable/enable/weight) taken here:
 * the peer gets it when failover.sync is on. op: CTL-independent
 * 0 enable, 1 drain, 2 disable, 3 weight. */
void vigild_operator_changed(struct vigild *d, int op, const char *svc, const char *be,
			     uint32_t weight);
/* vigilctl sync: push the configuration to the peer now. 0 or -1 with err. */
int vigild_sync_push(struct vigild *d, char *err, size_t errlen);
/* vigilctl rollback: reinstall FILE.prev (the current file becomes FILE.prev),
 * reload, and sync it. 0, or -1 with the reasons appended to err. */
int vigild_rollback(struct vigild *d, struct buf *err);
/* The running configuration's SHA-256 in hex ("" if unknown). */
void vigild_config_digest_hex(const struct vigild *d, char out[65]);

#endif
