/* http.c - the HTTP status server: /metrics, /status and the dashboard. */
#include "ctl/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "ctl/oneshot.h"
#include "ctl/status.h"
#include "daemon/vigild.h"

#define HTTP_BACKLOG 1024   /* accepting never pauses for the limits; this absorbs bursts */

struct status_http {
	struct vigild *d;
	struct oneshot *os;
};

static void http_handle(void *arg, enum oneshot_event ev, const char *in, size_t len,
			struct buf *out);

static const struct oneshot_ops http_ops = {
	.name = "status listener",
	.max_request = HTTP_HEAD_MAX,
	.head_deadline_s = HTTP_HEAD_DEADLINE_S,
	.deadline_s = HTTP_DEADLINE_S,
	.max_clients = HTTP_MAX_CLIENTS,
	.max_per_source = HTTP_MAX_PER_SOURCE,
	.linger = true,
	.complete = http_head_len,
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

/* Answer one parsed request. */
static void http_route(struct vigild *d, const struct http_req *r, struct buf *out)
{
	int head = http_method_is(r, "HEAD");
	struct buf body;

	if (!head && !http_method_is(r, "GET")) {
		http_error(out, 0, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	buf_init(&body);
	if (http_path_is(r, "/metrics")) {
		status_metrics(d, &body);
		http_respond(out, head, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
			     NULL, body.data, body.len);
	} else if (http_path_is(r, "/status")) {
		status_json(d, &body);
		buf_puts(&body, "\n");
		http_respond(out, head, "200 OK", "application/json", NULL, body.data, body.len);
	} else if (http_path_is(r, "/")) {
		http_respond(out, head, "200 OK", "text/html; charset=utf-8", NULL,
			     http_dashboard_html, strlen(http_dashboard_html));
	} else {
		http_error(out, head, "404 Not Found", NULL);
	}
	buf_free(&body);
}

static void http_handle(void *arg, enum oneshot_event ev, const char *in, size_t len,
			struct buf *out)
{
	struct status_http *h = arg;
	struct http_req req;

	switch (ev) {
	case ONESHOT_EOF:
		return;
	case ONESHOT_TOO_LONG:
		http_error(out, 0, "431 Request Header Fields Too Large", NULL);
		return;
	case ONESHOT_REQUEST:
		break;
	}
	if (http_parse_head(in, len, &req) < 0) {
		http_error(out, 0, "400 Bad Request", NULL);
		return;
	}
	http_route(h->d, &req, out);
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

struct status_http *status_http_new(struct vigild *d, const struct addr *listen_addr, char *err,
				    size_t errlen)
{
	struct status_http *h;
	int fd = http_listen(listen_addr, err, errlen);

	if (fd < 0)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->d = d;
	h->os = oneshot_new(d->loop, fd, &http_ops, h);
	if (!h->os) {
		snprintf(err, errlen, "%s", strerror(errno));
		free(h);
		return NULL;
	}
	return h;
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
