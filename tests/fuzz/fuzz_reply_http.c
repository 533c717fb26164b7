/* fuzz_reply_http.c - libFuzzer target: the HTTP check's reply parsers
 * (checks/reply_http.c): status line and headers, chunked body, body match.
 *
 * Input: one byte n, n bytes of expect_body needle, one byte of piece size,
 * then the server's reply. Checked, as proto_http.c uses them:
 *   - the head parse is prefix-stable: a complete head of r bytes reads as
 *     "incomplete" one byte earlier;
 *   - chunked decoding gives the same body and outcome whether the bytes
 *     arrive at once or in pieces;
 *   - body_match over the pieces finds the needle exactly when memmem over
 *     the first HTTP_BODY_MAX bytes does.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct body {
	char *v;
	size_t n;
	int rc;                       /* 1 done, 0 ran out of input, -1 malformed */
};

/* Decode in[0..len) as a chunked body, the bytes arriving piece bytes at a time. */
static void dechunk(const char *in, size_t len, size_t piece, struct body *b)
{
	struct http_chunked c;
	size_t off = 0, avail = piece < len ? piece : len;
	char err[REPLY_TEXT_MAX + 64];

	http_chunked_init(&c);
	b->v = malloc(len + 1);
	b->n = 0;
	for (;;) {
		size_t doff, dlen;
		long r = http_chunked_step(&c, in + off, avail - off, &doff, &dlen, err,
					   sizeof(err));

		if (r < 0) {
			b->rc = -1;
			return;
		}
		assert((size_t)r <= avail - off && doff + dlen <= (size_t)r);
		memcpy(b->v + b->n, in + off + doff, dlen);
		b->n += dlen;
		off += (size_t)r;
		if (c.done) {
			b->rc = 1;
			return;
		}
		if (r == 0) {
			if (avail == len) {
				b->rc = 0;
				return;
			}
			avail = len - avail < piece ? len : avail + piece;
		}
	}
}

static void check_match(const char *needle, const char *body, size_t n, size_t piece)
{
	struct body_match m;
	size_t searched = n < HTTP_BODY_MAX ? n : HTTP_BODY_MAX;
	bool want = memmem(body, searched, needle, strlen(needle)) != NULL;
	bool got = false;

	body_match_init(&m, needle);
	for (size_t off = 0; off < n; off += piece)
		got = body_match_feed(&m, body + off, n - off < piece ? n - off : piece);
	if (n == 0)
		got = m.found;
	assert(got == want);
	body_match_free(&m);
}

static void check_body(const struct http_head *h, const char *needle, const char *rest,
		       size_t len, size_t piece)
{
	struct body all, parts;

	if (!h->chunked) {
		size_t n = len;

		if (h->content_length >= 0 && (uint64_t)h->content_length < n)
			n = (size_t)h->content_length;
		if (needle[0])
			check_match(needle, rest, n, piece);
		return;
	}
	dechunk(rest, len, len ? len : 1, &all);
	dechunk(rest, len, piece, &parts);
	assert(all.rc == parts.rc && all.n == parts.n && memcmp(all.v, parts.v, all.n) == 0);
	if (needle[0])
		check_match(needle, all.v, all.n, piece);
	free(all.v);
	free(parts.v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char needle[256], err[REPLY_TEXT_MAX + 64];
	struct http_head h, h2;
	const char *buf;
	size_t nlen, piece, len;
	long r;

	if (size < 2 || (size_t)data[0] + 2 > size)
		return 0;
	nlen = data[0];
	memcpy(needle, data + 1, nlen);
	needle[nlen] = '\0';                    /* a needle stops at its first NUL */
	piece = (size_t)data[1 + nlen] + 1;
	buf = (const char *)data + 2 + nlen;
	len = size - 2 - nlen;

	r = http_head_parse(buf, len, &h, err, sizeof(err));
	if (r <= 0)
		return 0;
	assert((size_t)r <= len && h.status >= 100 && h.status <= 999);
	assert(strlen(h.text) < REPLY_TEXT_MAX && h.content_length >= -1);
	assert(http_head_parse(buf, (size_t)r - 1, &h2, err, sizeof(err)) == 0);
	if (http_status_has_body(h.status))
		check_body(&h, needle, buf + r, len - (size_t)r, piece);
	return 0;
}
