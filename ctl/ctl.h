/* ctl.h - the control socket: a unix stream socket that vigilctl talks to.
 *
 * Protocol. One request per connection: the client connects, sends one line
 * (at most CTL_LINE_MAX bytes, "\n" or "\r\n" terminated; end of stream also
 * ends it), the server answers and closes. Words are separated by blanks; a
 * word holding blanks, quotes or backslashes is written "double quoted" with
 * \" and \\ escapes. Requests:
 *
 *	status                  the status table (status_text())
 *	status json             the status as one JSON object (status_json())
 *	drain SERVICE BACKEND   no new connections, existing ones finish
 *	disable SERVICE BACKEND maintenance: out of rotation, not probed
 *	enable SERVICE BACKEND  back into rotation (subject to checks)
 *	weight SERVICE BACKEND N    runtime weight, N in 0..256
 *	standby [GROUP]         hand the VIPs to the peer (refused unless a peer
 *	                        is alive and able to take over)
 *	takeover [GROUP]        claim the VIPs now
 *	resume [GROUP]          end standby / takeover: normal election again
 *	reload                  load the configuration file again
 *	sync                    push this node's configuration to the peer now
 *	rollback                reinstall FILE.prev, reload, and sync it
 *	events [since SEQ]      the event log, oldest first, one event a line:
 *	                        "SEQ TIME KIND SUBJECT TEXT" (TIME ISO 8601 UTC,
 *	                        SUBJECT service/backend, group:N or "-"); with
 *	                        since, only the events after SEQ (vigilctl
 *	                        events --follow polls with it)
 *
 * Anything the client sends after the first line is read and ignored.
 * Answer: a first line "ok" or "error: REASON", then the payload (the status
 * text or JSON; for a refused reload every configuration error, one a line),
 * then the server shuts down its side and closes once the client has closed.
 * Example:
 *
 *	> weight smtp mx9 3
 *	< error: service smtp has no backend "mx9"
 *
 * The server never blocks its loop: non-blocking accept, read and write,
 * state per connection. The request line must arrive within
 * CTL_HEAD_DEADLINE_S of accept, the answer gets CTL_DEADLINE_S. At most
 * CTL_MAX_CLIENTS connections at once; a new one always gets in, closing the
 * oldest idle or slow one when full (see oneshot.h), so idle clients never
 * lock the operator out. The HTTP status listener has its own server and
 * limits and cannot take this socket's room, and a spare fd is held for the
 * day the proxy has used every other one.
 */
#ifndef VIGIL_CTL_H
#define VIGIL_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "notify/alerts.h"

struct ev_loop;
struct ctl_server;
struct oneshot_stats;
struct config;
struct lb;
struct checker;
struct failover;
struct events;
struct sync;
struct status_http;

#define CTL_LINE_MAX 4096       /* longest request line, terminator included */
#define CTL_NAME_MAX 256        /* longest service / backend name, NUL included */
#define CTL_MAX_CLIENTS 32
#define CTL_HEAD_DEADLINE_S 2.0
#define CTL_DEADLINE_S 5.0
#define CTL_DEFAULT_SOCKET "/run/vigil/control.sock"
#define CTL_ORIGIN_SOCKET "control socket"   /* where socket commands come from */

enum ctl_op {
	CTL_STATUS,
	CTL_DRAIN,
	CTL_DISABLE,
	CTL_ENABLE,
	CTL_WEIGHT,
	CTL_STANDBY,
	CTL_TAKEOVER,
	CTL_RELOAD,
	CTL_RESUME,
	CTL_SYNC,
	CTL_ROLLBACK,
	CTL_EVENTS,                   /* keep CTL_OP_LAST the last one */
};
#define CTL_OP_LAST CTL_EVENTS

/* One parsed request. */
struct ctl_cmd {
	enum ctl_op op;
	int json;                     /* status: JSON instead of the table */
	char svc[CTL_NAME_MAX];       /* drain/disable/enable/weight */
	char be[CTL_NAME_MAX];
	uint32_t weight;              /* weight: 0..256 */
	uint32_t group;               /* standby/takeover/resume: 1..255, 0 = not given */
	uint64_t since;               /* events: after this sequence number, 0 = all */
};

/* What ctl/ sees of the daemon at one instant (filled by ctl_daemon.view):
 * read it, render, keep nothing. */
struct ctl_view {
	const struct config *cfg;
	struct lb *lb;                /* services and backends (the commands change them) */
	const struct checker *checker;
	const struct failover *fo;    /* NULL: standalone */
	struct events *events;        /* the event log (operator commands are added here) */
	const struct ctl_server *ctl; /* the control socket, for its counters */
	const struct status_http *http;   /* the status listener, NULL when none */
	double started;               /* wall clock seconds */
	uint64_t reloads, reload_failures;
	uint64_t nofile;              /* open file limit (soft) */
	char config_digest[65];       /* hex SHA-256 of the running configuration, "" when none */
	const struct sync *sync;      /* the sync channel, NULL when off */
	struct alerts_stats alerts;   /* the alerts' counters (on: false without a section) */
};

/* The daemon as ctl/ uses it: a snapshot accessor and the command entry
 * points ctl/ cannot run itself. Filled by the daemon, which outlives every
 * server made with it. */
struct ctl_daemon {
	struct ev_loop *loop;
	void *arg;                    /* for every function below */
	void (*view)(void *arg, struct ctl_view *out);
	/* Load the configuration file again: 0, or -1 with every error in err. */
	int (*reload)(void *arg, struct buf *err);
	/* standby / takeover / resume of group (0: the configured one):
	 * 0, or -1 with the reason in err. */
	int (*failover)(void *arg, enum ctl_op op, uint32_t group, char *err, size_t errlen);
	/* sync: push this node's configuration to the peer now: 0, or -1 with err. */
	int (*sync_push)(void *arg, char *err, size_t errlen);
	/* rollback: reinstall FILE.prev, reload, sync it: 0, or -1 with every error in err. */
	int (*rollback)(void *arg, struct buf *err);
	/* drain/disable/enable/weight of svc/be done (for the sync channel); may be NULL. */
	void (*operator_changed)(void *arg, enum ctl_op op, const char *svc, const char *be,
				 uint32_t weight);
};

/* Parse one request line (terminator optional). 0, or -1 with the reason in err.
 * Pure: no I/O, no daemon state. */
int ctl_parse(const char *line, struct ctl_cmd *out, char *err, size_t errlen);

/* Append word to b as one protocol word, quoted when it needs to be. */
void ctl_quote(struct buf *b, const char *word);

/* The request line for cmd (without terminator), as vigilctl sends it. */
void ctl_format(const struct ctl_cmd *cmd, struct buf *out);

/* Run cmd against the daemon and append the whole answer ("ok\n" + payload,
 * or "error: REASON\n" + details) to out. A command that changes something
 * goes into the event log with origin ("control socket", "api 192.0.2.7").
 * Returns 1 for ok, 0 for an error answer. */
int ctl_exec(const struct ctl_daemon *dm, const struct ctl_cmd *cmd, const char *origin,
	     struct buf *out);
/* Parse and run one request line of len bytes (the one grammar of the
 * control socket and of POST /api/ctl): the answer as ctl_exec(). */
int ctl_run(const struct ctl_daemon *dm, const char *line, size_t len, const char *origin,
	    struct buf *out);

/* Listen on the unix socket path and serve it on dm->loop. A stale socket file
 * is removed first; a live daemon answering there is an error; a missing
 * parent directory is created (0755); the socket is made 0600.
 * NULL with err on failure. */
struct ctl_server *ctl_server_new(const struct ctl_daemon *dm, const char *path, char *err,
				  size_t errlen);
/* Close the listener and every client connection, unlink the path, free.
 * Safe to call from inside a command (e.g. a reload): the work is finished
 * before the memory goes. */
void ctl_server_free(struct ctl_server *s);
/* The connection counters of s (all zero for NULL). */
void ctl_server_get_stats(const struct ctl_server *s, struct oneshot_stats *out);

#endif
