/* http.h - the small HTTP status server of global.status_listen.
 *
 *	GET /metrics   Prometheus text (text/plain; version=0.0.4)
 *	GET /status    the status JSON (application/json), as `vigilctl status --json`
 *	GET /          a self-contained HTML dashboard polling /status every 2 s
 *
 * One request per connection (Connection: close, Content-Length always set),
 * GET and HEAD only (405 otherwise), request head at most HTTP_HEAD_MAX bytes
 * (431 beyond, 400 when malformed), all non-blocking on the daemon's loop.
 * Protection against slow and idle clients (see oneshot.h): the whole request
 * head within HTTP_HEAD_DEADLINE_S of accept, the answer within
 * HTTP_DEADLINE_S; at most HTTP_MAX_CLIENTS connections and
 * HTTP_MAX_PER_SOURCE from one address (IPv6: one /64), a new connection
 * closing the oldest idle or slow one when full. The control socket has its
 * own server and limits, so this listener can never crowd it out.
 */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stddef.h>

#include "common/addr.h"

struct vigild;
struct status_http;
struct oneshot_stats;

#define HTTP_HEAD_MAX 8192
#define HTTP_MAX_CLIENTS 256
#define HTTP_MAX_PER_SOURCE 32
#define HTTP_HEAD_DEADLINE_S 2.0
#define HTTP_DEADLINE_S 5.0

/* The request line of a parsed head; pointers into the caller's buffer. */
struct http_req {
	const char *method;
	size_t method_len;
	const char *target;           /* origin form: starts with "/" */
	size_t target_len;
	size_t path_len;              /* target up to "?" or "#" */
	int minor;                    /* HTTP/1.minor */
};

/* Length of the head at the start of buf[0..len) including its blank line
 * ("\r\n\r\n" or "\n\n"), or 0 while incomplete. Pure. */
size_t http_head_len(const char *buf, size_t len);
/* Parse a complete head of len bytes: 0, or -1 when malformed. Pure. */
int http_parse_head(const char *buf, size_t len, struct http_req *out);

/* The dashboard page served at "/". */
extern const char http_dashboard_html[];

/* Listen on addr and serve the status pages on d->loop. NULL with err on failure. */
struct status_http *status_http_new(struct vigild *d, const struct addr *listen, char *err,
				    size_t errlen);
/* The connection counters of h (all zero for NULL). */
void status_http_get_stats(const struct status_http *h, struct oneshot_stats *out);
/* Close the listener and every client, free. */
void status_http_free(struct status_http *h);

#endif
