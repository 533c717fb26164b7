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

struct vigild;
struct ctl_server;
struct oneshot_stats;

#define CTL_LINE_MAX 4096       /* longest request line, terminator included */
#define CTL_NAME_MAX 256        /* longest service / backend name, NUL included */
#define CTL_MAX_CLIENTS 32
#define CTL_HEAD_DEADLINE_S 2.0
#define CTL_DEADLINE_S 5.0
#define CTL_DEFAULT_SOCKET "/run/vigil/control.sock"

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
	CTL_ROLLBACK,                 /* keep CTL_OP_LAST the last one */
};
#define CTL_OP_LAST CTL_ROLLBACK

/* One parsed request. */
struct ctl_cmd {
	enum ctl_op op;
	int json;                     /* status: JSON instead of the table */
	char svc[CTL_NAME_MAX];       /* drain/disable/enable/weight */
	char be[CTL_NAME_MAX];
	uint32_t weight;              /* weight: 0..256 */
	uint32_t group;               /* standby/takeover/resume: 1..255, 0 = not given */
};

/* Parse one request line (terminator optional). 0, or -1 with the reason in err.
 * Pure: no I/O, no daemon state. */
int ctl_parse(const char *line, struct ctl_cmd *out, char *err, size_t errlen);

/* Append word to b as one protocol word, quoted when it needs to be. */
void ctl_quote(struct buf *b, const char *word);

/* The request line for cmd (without terminator), as vigilctl sends it. */
void ctl_format(const struct ctl_cmd *cmd, struct buf *out);

/* Run cmd against the daemon and append the whole answer ("ok\n" + payload,
 * or "error: REASON\n" + details) to out. */
void ctl_exec(struct vigild *d, const struct ctl_cmd *cmd, struct buf *out);

/* Listen on the unix socket path and serve it on d->loop. A stale socket file
 * is removed first; a live daemon answering there is an error; a missing
 * parent directory is created (0755); the socket is made 0600.
 * NULL with err on failure. */
struct ctl_server *ctl_server_new(struct vigild *d, const char *path, char *err, size_t errlen);
/* Close the listener and every client connection, unlink the path, free.
 * Safe to call from inside a command (e.g. a reload): the work is finished
 * before the memory goes. */
void ctl_server_free(struct ctl_server *s);
/* The connection counters of s (all zero for NULL). */
void ctl_server_get_stats(const struct ctl_server *s, struct oneshot_stats *out);

#endif
