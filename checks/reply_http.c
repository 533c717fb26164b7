/* reply_http.c - pure parsers of HTTP/1.x responses: head, chunked coding,
 * and the streaming expect_body search (see reply.h). */
#include "checks/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void bad(char *err, size_t errlen, const char *what, const char *line, size_t n)
{
	char shown[64];

	reply_sanitize(shown, sizeof(shown), line, n);
	snprintf(err, errlen, "%s: \"%s\"", what, shown);
}

/* "HTTP/1.x SSS reason" */
static int status_line(const char *l, size_t n, struct http_head *h, char *err, size_t errlen)
{
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || !is_digit(l[7]) || l[8] != ' ' ||
	    !is_digit(l[9]) || !is_digit(l[10]) || !is_digit(l[11]) ||
	    (n > 12 && l[12] != ' ') || l[9] == '0') {
		bad(err, errlen, "not an HTTP/1.x status line", l, n);
		return -1;
	}
	h->minor = l[7] - '0';
	h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	reply_sanitize(h->text, sizeof(h->text), l + 9, n - 9);
	return 0;
}

/* Trim spaces and tabs around v[0..*n). */
static const char *trim(const char *v, size_t *n)
{
	while (*n > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		(*n)--;
	}
	while (*n > 0 && (v[*n - 1] == ' ' || v[*n - 1] == '\t'))
		(*n)--;
	return v;
}

static int content_length(const char *v, size_t n, struct http_head *h)
{
	int64_t cl = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return -1;
		cl = cl * 10 + (v[i] - '0');
	}
	if (h->content_length >= 0 && h->content_length != cl)
		return -1;
	h->content_length = cl;
	return 0;
}

/* Transfer-Encoding: chunked when the last coding listed is "chunked". */
static void transfer_encoding(const char *v, size_t n, struct http_head *h)
{
	const char *last = v;
	size_t i, ln;

	for (i = 0; i < n; i++)
		if (v[i] == ',')
			last = v + i + 1;
	ln = n - (size_t)(last - v);
	last = trim(last, &ln);
	h->chunked = ln == 7 && strncasecmp(last, "chunked", 7) == 0;
}

static int header_line(const char *l, size_t n, struct http_head *h, char *err, size_t errlen)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t nl, vn;

	if (n > 0 && (l[0] == ' ' || l[0] == '\t'))
		return 0;                       /* obsolete line folding: ignore */
	if (!colon || colon == l) {
		bad(err, errlen, "malformed HTTP header", l, n);
		return -1;
	}
	nl = (size_t)(colon - l);
	vn = n - nl - 1;
	v = trim(colon + 1, &vn);
	if (nl == 14 && strncasecmp(l, "Content-Length", 14) == 0) {
		if (content_length(v, vn, h) < 0) {
			bad(err, errlen, "bad Content-Length", l, n);
			return -1;
		}
	} else if (nl == 17 && strncasecmp(l, "Transfer-Encoding", 17) == 0) {
		transfer_encoding(v, vn, h);
	}
	return 0;
}

long http_head_parse(const char *buf, size_t len, struct http_head *out,
		     char *err, size_t errlen)
{
	size_t off = 0, tlen, ll;

	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	ll = reply_line(buf, len, &tlen);
	if (ll == 0)
		return 0;
	if (status_line(buf, tlen, out, err, errlen) < 0)
		return -1;
	off = ll;
	for (;;) {
		ll = reply_line(buf + off, len - off, &tlen);
		if (ll == 0)
			return 0;
		if (tlen == 0)
			return (long)(off + ll);
		if (header_line(buf + off, tlen, out, err, errlen) < 0)
			return -1;
		off += ll;
	}
}

bool http_status_has_body(int status)
{
	return !(status < 200 || status == 204 || status == 304);
}

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "hex[;ext]" into c->left. */
static int chunk_size(struct http_chunked *c, const char *l, size_t n)
{
	size_t i;
	int digits = 0;

	c->left = 0;
	for (i = 0; i < n && hexval(l[i]) >= 0; i++) {
		if (++digits > 15)
			return -1;
		c->left = c->left * 16 + (uint64_t)hexval(l[i]);
	}
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (digits == 0 || (i < n && l[i] != ';'))
		return -1;
	return 0;
}

static long chunk_line_step(struct http_chunked *c, const char *in, size_t len,
			    char *err, size_t errlen)
{
	size_t tlen, ll = reply_line(in, len, &tlen);

	if (ll == 0)
		return 0;
	switch (c->state) {
	case CH_SIZE:
		if (chunk_size(c, in, tlen) < 0) {
			bad(err, errlen, "bad chunk size", in, tlen);
			return -1;
		}
		c->state = c->left ? CH_DATA : CH_TRAILER;
		break;
	case CH_DATA_END:
		if (tlen != 0) {
			bad(err, errlen, "chunk not followed by CRLF", in, tlen);
			return -1;
		}
		c->state = CH_SIZE;
		break;
	default:                                /* CH_TRAILER */
		if (tlen == 0) {
			c->state = CH_DONE;
			c->done = true;
		}
		break;
	}
	return (long)ll;
}

long http_chunked_step(struct http_chunked *c, const char *in, size_t len,
		       size_t *doff, size_t *dlen, char *err, size_t errlen)
{
	size_t n;

	*doff = 0;
	*dlen = 0;
	if (c->state == CH_DONE || len == 0)
		return 0;
	if (c->state != CH_DATA)
		return chunk_line_step(c, in, len, err, errlen);
	n = len < c->left ? len : (size_t)c->left;
	c->left -= n;
	*dlen = n;
	if (c->left == 0)
		c->state = CH_DATA_END;
	return (long)n;
}

void body_match_init(struct body_match *m, const char *needle)
{
	memset(m, 0, sizeof(*m));
	m->needle = needle;
	m->nlen = strlen(needle);
	m->win = xmalloc(2 * m->nlen + 1);
	m->found = m->nlen == 0;
}

void body_match_free(struct body_match *m)
{
	free(m->win);
	m->win = NULL;
}

bool body_match_full(const struct body_match *m)
{
	return m->seen >= HTTP_BODY_MAX;
}

/* Keep the last nlen - 1 bytes of (window + data) in the window. */
static void keep_tail(struct body_match *m, const char *data, size_t len)
{
	size_t keep = m->nlen - 1, from_win;

	if (len >= keep) {
		memcpy(m->win, data + len - keep, keep);
		m->wlen = keep;
		return;
	}
	from_win = m->wlen + len > keep ? keep - len : m->wlen;
	memmove(m->win, m->win + m->wlen - from_win, from_win);
	memcpy(m->win + from_win, data, len);
	m->wlen = from_win + len;
}

bool body_match_feed(struct body_match *m, const char *data, size_t len)
{
	size_t head;

	if (m->found || body_match_full(m) || len == 0)
		return m->found;
	if (len > HTTP_BODY_MAX - m->seen)
		len = HTTP_BODY_MAX - m->seen;
	m->seen += len;
	/* a match across the previous bytes and this piece */
	head = len < m->nlen - 1 ? len : m->nlen - 1;
	memcpy(m->win + m->wlen, data, head);
	if (memmem(m->win, m->wlen + head, m->needle, m->nlen) ||
	    memmem(data, len, m->needle, m->nlen)) {
		m->found = true;
		return true;
	}
	keep_tail(m, data, len);
	return false;
}
