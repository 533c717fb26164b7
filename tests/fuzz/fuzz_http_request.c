/* fuzz_http_request.c - libFuzzer target: the status listener's request
 * parser (ctl/http_parse.c), as oneshot.c and http.c use it, on any bytes:
 *
 * - http_head_len() on what arrived (at most HTTP_HEAD_MAX bytes), then
 *   http_parse_head() on exactly the head, in a buffer of that size so any
 *   over-read is caught. The head length is the first blank line's end; an
 *   accepted head points inside the buffer at a method of token characters
 *   and an origin-form target, and its Authorization inside the head;
 * - http_request_len() (head + Content-Length body) on the whole input, in a
 *   buffer of exactly its size: never more than what arrived, and head +
 *   Content-Length when it is a whole request with a body;
 * - the Authorization check of POST /api/ctl on what the head carried.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* http_head_len + http_parse_head on the head alone; the head's length or 0. */
static size_t fuzz_head(const char *in, size_t size)
{
	static const uint8_t digest[32] = { 1, 2, 3 };
	struct http_req req;
	size_t n;
	char *head;

	if (size > HTTP_HEAD_MAX)
		size = HTTP_HEAD_MAX;
	n = http_head_len(in, size);
	if (n == 0)
		return 0;
	assert(n <= size && n >= 2 && in[n - 1] == '\n');
	assert(http_head_len(in, n - 1) == 0);
	head = malloc(n);
	assert(head);
	memcpy(head, in, n);
	if (http_parse_head(head, n, &req) == 0) {
		assert(req.method == head && req.method_len > 0);
		assert(req.target > head && req.target + req.target_len <= head + n);
		assert(req.target[0] == '/' && req.path_len <= req.target_len);
		assert(req.minor >= 0 && req.minor <= 9);
		assert(!req.authorization || (req.authorization >= head &&
			req.authorization + req.authorization_len <= head + n));
		(void)http_auth_check(digest, req.authorization, req.authorization_len);
	}
	free(head);
	return n;
}

/* http_request_len on the whole input (exact size: ASan sees any over-read). */
static void fuzz_request(const uint8_t *data, size_t size, size_t head)
{
	struct http_req req;
	char *copy;
	size_t n;

	copy = malloc(size ? size : 1);
	assert(copy);
	memcpy(copy, data, size);
	n = http_request_len(copy, size);
	assert(n <= size);
	if (head && http_parse_head(copy, head, &req) == 0 && req.content_length > 0 &&
	    req.content_length <= HTTP_BODY_MAX && !req.transfer_encoding && n != 0)
		assert(n == head + (size_t)req.content_length);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t head;

	if (size > HTTP_HEAD_MAX + HTTP_BODY_MAX)
		return 0;
	head = fuzz_head((const char *)data, size);
	fuzz_request(data, size, head);
	return 0;
}
