/* http.c - the HTTP status server: /metrics, /status and the dashboard. */
#include "ctl/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "common/version.h"
#include "ctl/ctl.h"
#include "ctl/oneshot.h"
#include "ctl/status.h"

#define HTTP_BACKLOG 1024   /* accepting never pauses for the limits; this absorbs bursts */

struct status_http {
	const struct ctl_daemon *dm;
	struct oneshot *os;
	bool has_token;
	uint8_t token[32];            /* SHA-256 of the admin token */
};

static void http_handle(void *arg, enum oneshot_event ev, const char *in, size_t len,
			const char *peer, struct buf *out);

static const struct oneshot_ops http_ops = {
	.name = "status listener",
	.max_request = HTTP_HEAD_MAX + HTTP_BODY_MAX,
	.head_deadline_s = HTTP_HEAD_DEADLINE_S,
	.deadline_s = HTTP_DEADLINE_S,
	.max_clients = HTTP_MAX_CLIENTS,
	.max_per_source = HTTP_MAX_PER_SOURCE,
	.linger = true,
	.complete = http_request_len,
	.handle = http_handle,
};

/* Append a whole response; HEAD gets the headers only. */
static void http_respond(struct buf *out, int head_only, const char *status, const char *ctype,
			 const char *extra, const char *body, size_t bodylen)
{
	buf_printf(out, "HTTP/1.1 %s\r\nServer: vigil/%s\r\nContent-Type: %s\r\n"
		   "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n%s\r\n",
		   status, VIGIL_VERSION, ctype, bodylen, extra ? extra : "");
	if (!head_only)
		buf_append(out, body, bodylen);
}

static void http_error(struct buf *out, int head_only, const char *status, const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s\n", status);

	http_respond(out, head_only, status, "text/plain; charset=utf-8", extra, body, (size_t)n);
}

static int http_path_is(const struct http_req *r, const char *path)
{
	return r->path_len == strlen(path) && !memcmp(r->target, path, r->path_len);
}

static int http_method_is(const struct http_req *r, const char *m)
{
	return r->method_len == strlen(m) && !memcmp(r->method, m, r->method_len);
}

/* {"ok": ok, "message": the answer without its "ok" / "error: " word}. */
static void http_api_answer(struct buf *out, const char *status, bool ok, const char *msg,
			    size_t msglen)
{
	struct buf body, text;

	buf_init(&body);
	buf_init(&text);
	if (ok && msglen >= 3 && !memcmp(msg, "ok\n", 3))
		msg += 3, msglen -= 3;
	else if (!ok && msglen >= 7 && !memcmp(msg, "error: ", 7))
		msg += 7, msglen -= 7;
	while (msglen && msg[msglen - 1] == '\n')
		msglen--;
	buf_append(&text, msg, msglen);
	buf_append(&text, "", 1);
	buf_printf(&body, "{\"ok\": %s, \"message\": ", ok ? "true" : "false");
	buf_json_str(&body, text.data);
	buf_puts(&body, "}\n");
	http_respond(out, 0, status, "application/json", NULL, body.data, body.len);
	buf_free(&body);
	buf_free(&text);
}

/* POST /api/ctl: the checks, then one command through ctl_run(). */
static void http_api(const struct status_http *h, const struct http_req *r, const char *body,
		     const char *peer, struct buf *out)
{
	static const char *const refusals[] = {
		[HTTP_AUTH_NO_TOKEN_FILE] = "no global.admin_token_file is configured: "
					    "the status listener is read-only",
		[HTTP_AUTH_MISSING] = "an \"Authorization: Bearer TOKEN\" header is required",
		[HTTP_AUTH_WRONG] = "wrong token",
	};
	const struct ctl_daemon *dm = h->dm;
	enum http_auth a = http_auth_check(h->has_token ? h->token : NULL, r->authorization,
					   r->authorization_len);
	char origin[ONESHOT_PEER_MAX + 8];
	const char *status;
	struct buf ans;
	int ok;

	if (a != HTTP_AUTH_OK) {
		status = a == HTTP_AUTH_NO_TOKEN_FILE ? "403 Forbidden" : "401 Unauthorized";
		http_api_answer(out, status, false, refusals[a], strlen(refusals[a]));
		return;
	}
	snprintf(origin, sizeof(origin), "api %s", peer[0] ? peer : "?");
	buf_init(&ans);
	ok = ctl_run(dm, body, (size_t)r->content_length, origin, &ans);
	http_api_answer(out, "200 OK", ok, ans.data, ans.len);
	buf_free(&ans);
}

/* A POST's body checks: 0 if in[head..) holds the whole body, else the
 * error answered. */
static int http_body_check(const struct http_req *r, size_t head, size_t len, struct buf *out)
{
	if (r->transfer_encoding) {
		http_error(out, 0, r->content_length >= 0 ? "400 Bad Request" : "411 Length Required",
			   NULL);
		return -1;
	}
	if (r->content_length < 0) {
		http_error(out, 0, "411 Length Required", NULL);
		return -1;
	}
	if (r->content_length > HTTP_BODY_MAX) {
		http_error(out, 0, "413 Content Too Large", NULL);
		return -1;
	}
	if (len - head != (size_t)r->content_length) {
		http_error(out, 0, "400 Bad Request", NULL);
		return -1;
	}
	return 0;
}

/* Answer one parsed request; in[0..len) is all of it, the head head bytes. */
static void http_route(const struct status_http *h, const struct http_req *r, const char *in,
		       size_t head, size_t len, const char *peer, struct buf *out)
{
	int is_head = http_method_is(r, "HEAD");
	struct ctl_view v;
	struct buf body;

	if (http_path_is(r, "/api/ctl")) {
		if (!http_method_is(r, "POST"))
			http_error(out, is_head, "405 Method Not Allowed", "Allow: POST\r\n");
		else if (http_body_check(r, head, len, out) == 0)
			http_api(h, r, in + head, peer, out);
		return;
	}
	if (!is_head && !http_method_is(r, "GET")) {
		http_error(out, 0, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	buf_init(&body);
	h->dm->view(h->dm->arg, &v);
	if (http_path_is(r, "/metrics")) {
		status_metrics(&v, &body);
		http_respond(out, is_head, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
			     NULL, body.data, body.len);
	} else if (http_path_is(r, "/status")) {
		status_json(&v, &body);
		buf_puts(&body, "\n");
		http_respond(out, is_head, "200 OK", "application/json", NULL, body.data, body.len);
	} else if (http_path_is(r, "/")) {
		http_respond(out, is_head, "200 OK", "text/html; charset=utf-8", NULL,
			     http_dashboard_html, strlen(http_dashboard_html));
	} else {
		http_error(out, is_head, "404 Not Found", NULL);
	}
	buf_free(&body);
}

static void http_handle(void *arg, enum oneshot_event ev, const char *in, size_t len,
			const char *peer, struct buf *out)
{
	struct status_http *h = arg;
	struct http_req req;
	size_t head;

	switch (ev) {
	case ONESHOT_EOF:
		return;
	case ONESHOT_TOO_LONG:
		http_error(out, 0, "431 Request Header Fields Too Large", NULL);
		return;
	case ONESHOT_REQUEST:
		break;
	}
	head = http_head_len(in, len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX);
	if (head == 0) {
		http_error(out, 0, "431 Request Header Fields Too Large", NULL);
		return;
	}
	if (http_parse_head(in, head, &req) < 0) {
		http_error(out, 0, "400 Bad Request", NULL);
		return;
	}
	http_route(h, &req, in, head, len, peer, out);
}

/* A listening TCP socket on a; the fd or -1 with err. */
static int http_listen(const struct addr *a, char *err, size_t errlen)
{
	char as[ADDR_STRLEN];
	int one = 1;
	int fd = socket(addr_family(a), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	addr_str(a, as, sizeof(as));
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", as, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr_family(a) == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		snprintf(err, errlen, "%s: bind: %s", as, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, HTTP_BACKLOG) < 0) {
		snprintf(err, errlen, "%s: listen: %s", as, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct status_http *status_http_new(const struct ctl_daemon *dm, const struct addr *listen_addr,
				    char *err, size_t errlen)
{
	struct status_http *h;
	int fd = http_listen(listen_addr, err, errlen);

	if (fd < 0)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->dm = dm;
	h->os = oneshot_new(dm->loop, fd, &http_ops, h);
	if (!h->os) {
		snprintf(err, errlen, "%s", strerror(errno));
		free(h);
		return NULL;
	}
	return h;
}

void status_http_set_token(struct status_http *h, const uint8_t *digest)
{
	if (!h)
		return;
	h->has_token = digest != NULL;
	if (digest)
		memcpy(h->token, digest, sizeof(h->token));
	else
		memset(h->token, 0, sizeof(h->token));
}

void status_http_get_stats(const struct status_http *h, struct oneshot_stats *out)
{
	oneshot_get_stats(h ? h->os : NULL, out);
}

void status_http_free(struct status_http *h)
{
	if (!h)
		return;
	oneshot_free(h->os);
	free(h);
}
