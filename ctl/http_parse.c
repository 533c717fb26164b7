/* http_parse.c - the HTTP/1.x request head, parsed without I/O. */
#include "ctl/http.h"

#include <string.h>
#include <strings.h>

size_t http_head_len(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* RFC 9110 tchar. */
static int http_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Length of the line at p (up to end), without its "\n" or "\r\n";
 * *next gets the start of the following line. -1 without a "\n". */
static long http_line(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	long n;

	if (!nl)
		return -1;
	*next = nl + 1;
	n = nl - p;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

static int http_request_line(const char *p, size_t n, struct http_req *out)
{
	const char *sp1 = memchr(p, ' ', n), *sp2, *v;
	size_t i;

	if (!sp1 || sp1 == p)
		return -1;
	out->method = p;
	out->method_len = (size_t)(sp1 - p);
	for (i = 0; i < out->method_len; i++)
		if (!http_tchar((unsigned char)p[i]))
			return -1;
	out->target = sp1 + 1;
	sp2 = memchr(out->target, ' ', n - out->method_len - 1);
	if (!sp2 || sp2 == out->target || *out->target != '/')
		return -1;
	out->target_len = (size_t)(sp2 - out->target);
	for (i = 0; i < out->target_len; i++) {
		unsigned char c = (unsigned char)out->target[i];

		if (c <= 0x20 || c == 0x7f)
			return -1;
	}
	out->path_len = strcspn(out->target, "?# ");
	v = sp2 + 1;
	if ((size_t)(p + n - v) != 8 || memcmp(v, "HTTP/1.", 7) || v[7] < '0' || v[7] > '9')
		return -1;
	out->minor = v[7] - '0';
	return 0;
}

static int http_name_is(const char *p, size_t n, const char *name)
{
	return n == strlen(name) && !strncasecmp(p, name, n);
}

/* Content-Length: 1*DIGIT, at most HTTP_BODY_LIMIT digits' worth; a repeat
 * must say the same (RFC 9112 6.3). 0 or -1. */
static int http_content_length(const char *v, size_t n, struct http_req *out)
{
	int64_t cl = 0;
	size_t i;

	if (n == 0 || n > 15)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		cl = cl * 10 + (v[i] - '0');
	}
	if (out->content_length >= 0 && out->content_length != cl)
		return -1;
	out->content_length = cl;
	return 0;
}

/* The headers this server reads: Content-Length, Transfer-Encoding, Authorization. */
static int http_header_value(const char *name, size_t nlen, const char *v, size_t n,
			     struct http_req *out)
{
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (http_name_is(name, nlen, "content-length"))
		return http_content_length(v, n, out);
	if (http_name_is(name, nlen, "transfer-encoding")) {
		out->transfer_encoding = 1;
		return 0;
	}
	if (http_name_is(name, nlen, "authorization")) {
		if (out->authorization)
			return -1;
		out->authorization = v;
		out->authorization_len = n;
	}
	return 0;
}

/* "Name: value" with a token name and no control characters but tab. */
static int http_header_line(const char *p, size_t n, struct http_req *out)
{
	const char *colon = memchr(p, ':', n);
	size_t i;

	if (!colon || colon == p)
		return -1;
	for (i = 0; p + i < colon; i++)
		if (!http_tchar((unsigned char)p[i]))
			return -1;
	for (i = (size_t)(colon - p) + 1; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	return http_header_value(p, (size_t)(colon - p), colon + 1, n - (size_t)(colon - p) - 1,
				 out);
}

int http_parse_head(const char *buf, size_t len, struct http_req *out)
{
	const char *p = buf, *end = buf + len, *next;
	long n;

	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	n = http_line(p, end, &next);
	if (n <= 0 || http_request_line(p, (size_t)n, out) < 0)
		return -1;
	for (p = next; p < end; p = next) {
		n = http_line(p, end, &next);
		if (n < 0)
			return -1;
		if (n == 0)
			return next == end ? 0 : -1;
		if (http_header_line(p, (size_t)n, out) < 0)
			return -1;
	}
	return -1;
}

size_t http_request_len(const char *buf, size_t len)
{
	struct http_req req;
	size_t head = http_head_len(buf, len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX);

	if (head == 0)
		return len >= HTTP_HEAD_MAX ? len : 0;
	if (http_parse_head(buf, head, &req) < 0 || req.transfer_encoding ||
	    req.content_length <= 0 || req.content_length > HTTP_BODY_MAX)
		return head;
	return len >= head + (size_t)req.content_length ? head + (size_t)req.content_length : 0;
}
