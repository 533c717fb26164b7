/* oneshot.h - a small request/response server on a listening socket: each
 * connection sends one request, gets one answer, and is closed. Shared by the
 * control socket and the HTTP status server, each with its own instance and
 * limits, so clients of one can never take the other's room.
 *
 * Never blocks the loop: non-blocking accept, read and write, all state per
 * connection; the answer is buffered and written as the socket allows.
 *
 * Deadlines: the whole request must arrive within head_deadline_s of accept
 * (one timer, not reset by each byte: a client dribbling its request is
 * closed); answering and lingering then get deadline_s.
 *
 * Limits: at most max_clients connections at once, and at most
 * max_per_source from one source (IPv4 address, IPv6 /64). Accepting never
 * pauses for them: a new connection always gets in, and the room is made by
 * closing the oldest connection of the same source (if the source is at its
 * limit) or else of the whole listener (if that is full): the oldest with an
 * incomplete request goes first (one whose request already waits in its
 * socket is not incomplete), then the oldest already answered, and one about
 * to get or still receiving its answer only when nothing else is left. A legitimate
 * request completes in milliseconds, so the connections that grow old are the
 * slow and idle ones (the policy of nginx's and HAProxy's self-protection:
 * shed the oldest, never lock out the newcomer).
 *
 * With reserve_fd, a spare descriptor is held open and given up when accept
 * fails for lack of fds (the proxy may use them all), so one client still
 * gets in; the spare is taken again once a client has closed.
 */
#ifndef VIGIL_ONESHOT_H
#define VIGIL_ONESHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "common/buf.h"

struct oneshot;

#define ONESHOT_PEER_MAX 46           /* INET6_ADDRSTRLEN */

enum oneshot_event {
	ONESHOT_REQUEST,              /* in[0..len) is one whole request */
	ONESHOT_TOO_LONG,             /* max_request bytes and still incomplete */
	ONESHOT_EOF,                  /* the client ended the stream before a whole request */
};

struct oneshot_ops {
	const char *name;             /* for the log: "status listener", "control socket" */
	size_t max_request;           /* bytes buffered for one request */
	double head_deadline_s;       /* from accept until the whole request is in */
	double deadline_s;            /* from the request to close: answer and linger */
	unsigned max_clients;         /* connections open at once */
	unsigned max_per_source;      /* from one source address; 0: no limit */
	bool linger;                  /* after the answer: shut down writing, read to EOF, then close */
	bool reserve_fd;              /* hold a spare fd, given up to accept one client when
				       * the process is out of fds (the operator's slot) */
	/* Length of the request at the start of in[0..len), 0 while incomplete. */
	size_t (*complete)(const char *in, size_t len);
	/* Append the answer to out; an empty out closes the connection silently.
	 * peer is the client's address as text ("" for a unix socket).
	 * May free the server (oneshot_free), which then finishes after return. */
	void (*handle)(void *arg, enum oneshot_event ev, const char *in, size_t len,
		       const char *peer, struct buf *out);
};

/* Counters of one server since it was made. */
struct oneshot_stats {
	uint64_t accepted;
	uint64_t evicted_total;       /* closed to make room: the listener was full */
	uint64_t evicted_source;      /* closed to make room: its source was at its limit */
	uint64_t head_timeouts;       /* closed: no whole request within head_deadline_s */
	uint64_t accept_errors;       /* accept() failed for lack of fds or memory */
	uint64_t reserve_used;        /* clients accepted on the spare fd (reserve_fd) */
	unsigned open;                /* connections open now */
};

/* Where a connection comes from, as far as the per-source limit cares. */
struct oneshot_source {
	sa_family_t family;           /* AF_INET, AF_INET6, or AF_UNSPEC (one source for all) */
	uint8_t addr[8];              /* IPv4 address, or the IPv6 /64 prefix */
};

/* What a new connection needs before it joins. */
enum oneshot_admit {
	ONESHOT_ADMIT,                /* room enough */
	ONESHOT_EVICT_SOURCE,         /* close the oldest connection of the same source first */
	ONESHOT_EVICT_ANY,            /* close the oldest connection of the listener first */
};

/* The source of peer address sa (len bytes): IPv4 and IPv4-mapped IPv6 by
 * address, IPv6 by /64, anything else (unix) AF_UNSPEC. Pure. */
void oneshot_source_of(const struct sockaddr *sa, socklen_t len, struct oneshot_source *out);
/* 1 if a and b are the same source, else 0. Pure. */
int oneshot_source_equal(const struct oneshot_source *a, const struct oneshot_source *b);
/* The verdict for a new connection when open are open in all (limit max_clients)
 * and same_source of them come from its source (limit max_per_source, 0 none).
 * Pure. */
enum oneshot_admit oneshot_admit(const struct oneshot_ops *ops, unsigned open,
				 unsigned same_source);

/* Serve the listening socket fd (taken over: closed by oneshot_free, also on
 * failure) on loop. ops must outlive the server. */
struct oneshot *oneshot_new(struct ev_loop *loop, int fd, const struct oneshot_ops *ops,
			    void *arg);
/* Stop, close the listener and every client, free. From inside handle() the
 * memory is released once handle() has returned. */
void oneshot_free(struct oneshot *s);
/* The counters of s (all zero for NULL). */
void oneshot_get_stats(const struct oneshot *s, struct oneshot_stats *out);

#endif
