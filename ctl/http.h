/* http.h - the small HTTP status server of global.status_listen.
 *
 *	GET /metrics   Prometheus text (text/plain; version=0.0.4)
 *	GET /status    the status JSON (application/json), as `vigilctl status --json`
 *	GET /          a self-contained HTML dashboard polling /status every 2 s
 *	POST /api/ctl  one control command (the body: a vigilctl command line,
 *	               the grammar of ctl.h), answered as JSON
 *	               {"ok": bool, "message": str}; needs global.admin_token_file
 *	               (403 without one) and "Authorization: Bearer TOKEN"
 *	               (401 without it or with a wrong one; compared in constant
 *	               time, as SHA-256 digests)
 *
 * One request per connection (Connection: close, Content-Length always set),
 * GET and HEAD everywhere, POST only at /api/ctl (405 otherwise), request head
 * at most HTTP_HEAD_MAX bytes (431 beyond, 400 when malformed), a POST body
 * by Content-Length only (411 without it or with Transfer-Encoding), at most
 * HTTP_BODY_MAX bytes (413 beyond), all non-blocking on the daemon's loop.
 * Without the token the listener is read-only.
 * Protection against slow and idle clients (see oneshot.h): the whole request
 * (head and body) within HTTP_HEAD_DEADLINE_S of accept, the answer within
 * HTTP_DEADLINE_S; at most HTTP_MAX_CLIENTS connections and
 * HTTP_MAX_PER_SOURCE from one address (IPv6: one /64), a new connection
 * closing the oldest idle or slow one when full. The control socket has its
 * own server and limits, so this listener can never crowd it out.
 */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

struct ctl_daemon;
struct status_http;
struct oneshot_stats;

#define HTTP_HEAD_MAX 8192
#define HTTP_BODY_MAX 4096
#define HTTP_TOKEN_MIN 16             /* shortest admin token accepted */
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
	int64_t content_length;       /* -1: no Content-Length header */
	int transfer_encoding;        /* a Transfer-Encoding header was sent */
	const char *authorization;    /* the Authorization value, trimmed, or NULL */
	size_t authorization_len;
};

/* What POST /api/ctl does with a request, before running anything. */
enum http_auth {
	HTTP_AUTH_OK,
	HTTP_AUTH_NO_TOKEN_FILE,      /* 403: no admin_token_file configured */
	HTTP_AUTH_MISSING,            /* 401: no "Authorization: Bearer ..." */
	HTTP_AUTH_WRONG,              /* 401: a token, not ours */
};

/* Length of the head at the start of buf[0..len) including its blank line
 * ("\r\n\r\n" or "\n\n"), or 0 while incomplete. Pure. */
size_t http_head_len(const char *buf, size_t len);
/* Parse a complete head of len bytes: 0, or -1 when malformed (also a
 * Content-Length that is not 1..15 digits, two that differ, or two
 * Authorization headers). Pure. */
int http_parse_head(const char *buf, size_t len, struct http_req *out);
/* Length of the whole request at the start of buf[0..len): the head, plus
 * the body when Content-Length is 1..HTTP_BODY_MAX; 0 while incomplete. A
 * head that cannot be parsed, or a body that is refused (too long, chunked),
 * ends at the head. len itself once HTTP_HEAD_MAX bytes hold no head. Pure. */
size_t http_request_len(const char *buf, size_t len);

/* The SHA-256 of the token in file path (its first line, trailing blanks and
 * CR cut) into digest. Refused: an unreadable file, one readable by others
 * (mode & 0007), or a token shorter than HTTP_TOKEN_MIN bytes or with
 * control characters. 0, or -1 with err. */
int http_token_load(const char *path, uint8_t digest[32], char *err, size_t errlen);
/* The verdict on an Authorization value (NULL: none) against the digest of
 * the admin token (NULL: none configured). Constant time in the token. */
enum http_auth http_auth_check(const uint8_t *digest, const char *auth, size_t authlen);

/* The dashboard page served at "/". */
extern const char http_dashboard_html[];

/* Listen on addr and serve the status pages on dm->loop. NULL with err on failure. */
struct status_http *status_http_new(const struct ctl_daemon *dm, const struct addr *listen,
				    char *err, size_t errlen);
/* The admin token's digest for POST /api/ctl (NULL: none, the API answers 403). */
void status_http_set_token(struct status_http *h, const uint8_t *digest);
/* The connection counters of h (all zero for NULL). */
void status_http_get_stats(const struct status_http *h, struct oneshot_stats *out);
/* Close the listener and every client, free. */
void status_http_free(struct status_http *h);

#endif
