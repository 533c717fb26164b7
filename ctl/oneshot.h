/* oneshot.h - a small request/response server on a listening socket: each
 * connection sends one request, gets one answer, and is closed. Shared by the
 * control socket and the HTTP status server.
 *
 * Never blocks the loop: non-blocking accept, read and write; the answer is
 * buffered and written as the socket allows; every client has one deadline
 * from accept to close; at most max_clients at once (accepting pauses beyond
 * that and resumes when one closes).
 */
#ifndef VIGIL_ONESHOT_H
#define VIGIL_ONESHOT_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "common/buf.h"

struct oneshot;

enum oneshot_event {
	ONESHOT_REQUEST,              /* in[0..len) is one whole request */
	ONESHOT_TOO_LONG,             /* max_request bytes and still incomplete */
	ONESHOT_EOF,                  /* the client ended the stream before a whole request */
};

struct oneshot_ops {
	size_t max_request;           /* bytes buffered for one request */
	double deadline_s;            /* from accept to close */
	unsigned max_clients;
	bool linger;                  /* after the answer: shut down writing, read to EOF, then close */
	/* Length of the request at the start of in[0..len), 0 while incomplete. */
	size_t (*complete)(const char *in, size_t len);
	/* Append the answer to out; an empty out closes the connection silently.
	 * May free the server (oneshot_free), which then finishes after return. */
	void (*handle)(void *arg, enum oneshot_event ev, const char *in, size_t len,
		       struct buf *out);
};

/* Serve the listening socket fd (taken over: closed by oneshot_free, also on
 * failure) on loop. ops must outlive the server. */
struct oneshot *oneshot_new(struct ev_loop *loop, int fd, const struct oneshot_ops *ops,
			    void *arg);
/* Stop, close the listener and every client, free. From inside handle() the
 * memory is released once handle() has returned. */
void oneshot_free(struct oneshot *s);

#endif
