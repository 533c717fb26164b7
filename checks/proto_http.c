/* proto_http.c - the http / https check: "GET path HTTP/1.1" with Host,
 * User-Agent: vigil-check and Connection: close; the status must equal
 * expect_status, and expect_body (if set) must occur within the first
 * HTTP_BODY_MAX bytes of the body, framed by Content-Length, chunked coding
 * or the close of the connection. https speaks TLS from the first byte. */
#include "checks/probe.h"

#include <stdio.h>

enum { HTTP_HEAD, HTTP_BODY };

/* The Host header: conf host, else the address (with a non-default port). */
static void http_host(const struct probe *p, char *out, size_t len)
{
	char ip[ADDR_STRLEN];
	uint16_t port = addr_port(&p->dst);
	bool dflt = port == (p->proto->implicit_tls ? 443 : 80);

	if (p->conf->host && p->conf->host[0]) {
		snprintf(out, len, "%s", p->conf->host);
		return;
	}
	addr_ip_str(&p->dst, ip, sizeof(ip));
	if (addr_family(&p->dst) == AF_INET6)
		snprintf(out, len, dflt ? "[%s]" : "[%s]:%u", ip, port);
	else
		snprintf(out, len, dflt ? "%s" : "%s:%u", ip, port);
}

static void http_start(struct probe *p)
{
	char host[300];

	http_host(p, host, sizeof(host));
	p->step = HTTP_HEAD;
	probe_send(p, "response",
		   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: vigil-check\r\n"
		   "Accept: */*\r\nConnection: close\r\n\r\n",
		   p->conf->path && p->conf->path[0] ? p->conf->path : "/", host);
}

static void http_no_match(struct probe *p)
{
	probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN,
		     "HTTP %s: body does not contain \"%s\"", p->head.text, p->conf->expect_body);
}

/* The head is in: judge the status, then pass or start reading the body. */
static void http_head_done(struct probe *p)
{
	const struct http_head *h = &p->head;
	int want = p->conf->expect_status ? p->conf->expect_status : 200;

	if (h->status != want) {
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "HTTP %s (expected %d)",
			     h->text, want);
		return;
	}
	if (!p->conf->expect_body || !p->conf->expect_body[0]) {
		probe_finish(p, CHECK_OK, PROBE_CLOSE_FIN, "HTTP %s", h->text);
		return;
	}
	if (!http_status_has_body(h->status))
		p->body = BODY_NONE;
	else if (h->chunked)
		p->body = BODY_CHUNKED;
	else if (h->content_length >= 0)
		p->body = BODY_LENGTH;
	else
		p->body = BODY_CLOSE;
	p->body_left = h->content_length > 0 ? (uint64_t)h->content_length : 0;
	if (p->body == BODY_NONE || (p->body == BODY_LENGTH && p->body_left == 0)) {
		http_no_match(p);
		return;
	}
	http_chunked_init(&p->chunked);
	body_match_init(&p->match, p->conf->expect_body);
	p->matching = true;
	p->step = HTTP_BODY;
	p->waiting = "body";
}

/* Feed body bytes; returns true if the probe ended. */
static bool http_feed(struct probe *p, const char *data, size_t n, bool last)
{
	if (body_match_feed(&p->match, data, n)) {
		probe_finish(p, CHECK_OK, PROBE_CLOSE_FIN, "HTTP %s", p->head.text);
		return true;
	}
	if (last || body_match_full(&p->match)) {
		http_no_match(p);
		return true;
	}
	return false;
}

static void http_body_chunked(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	size_t doff, dlen;
	long n;

	for (;;) {
		n = http_chunked_step(&p->chunked, p->rbuf, p->rlen, &doff, &dlen, err, sizeof(err));
		if (n < 0) {
			probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "%s", err);
			return;
		}
		if (http_feed(p, p->rbuf + doff, dlen, p->chunked.done))
			return;
		if (n == 0)
			return;
		probe_consume(p, (size_t)n);
	}
}

static void http_body(struct probe *p)
{
	size_t n = p->rlen;

	switch (p->body) {
	case BODY_CHUNKED:
		http_body_chunked(p);
		return;
	case BODY_LENGTH:
		if (n > p->body_left)
			n = (size_t)p->body_left;
		p->body_left -= n;
		if (!http_feed(p, p->rbuf, n, p->body_left == 0))
			probe_consume(p, n);
		return;
	default:
		if (!http_feed(p, p->rbuf, n, false))
			probe_consume(p, n);
		return;
	}
}

static void http_input(struct probe *p)
{
	char err[REPLY_TEXT_MAX];
	long n;

	while (p->phase == PROBE_RECV && p->step == HTTP_HEAD) {
		n = http_head_parse(p->rbuf, p->rlen, &p->head, err, sizeof(err));
		if (n == 0)
			return;
		if (n < 0) {
			probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "%s", err);
			return;
		}
		probe_consume(p, (size_t)n);
		if (p->head.status >= 100 && p->head.status < 200 && p->head.status != 101)
			continue;               /* interim response */
		http_head_done(p);
	}
	if (p->phase == PROBE_RECV && p->step == HTTP_BODY)
		http_body(p);
}

static void http_eof(struct probe *p)
{
	if (p->step == HTTP_BODY && p->body == BODY_CLOSE) {
		http_no_match(p);
		return;
	}
	probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN,
		     "connection closed by server while waiting for %s", p->waiting);
}

const struct probe_proto probe_proto_http = {
	.name = "http",
	.start = http_start,
	.input = http_input,
	.eof = http_eof,
};

const struct probe_proto probe_proto_https = {
	.name = "https",
	.implicit_tls = true,
	.start = http_start,
	.input = http_input,
	.eof = http_eof,
};
