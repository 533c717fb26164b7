/* fuzz_http_request.c - libFuzzer target: the status listener's request head
 * (ctl/http_parse.c), as oneshot.c and http.c use it: http_head_len() on what
 * arrived (at most HTTP_HEAD_MAX bytes), then http_parse_head() on exactly
 * the head, in a buffer of that size so any over-read is caught.
 *
 * The head length is the first blank line's end; an accepted head points
 * inside the buffer at a method of token characters and an origin-form
 * target.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
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
	memcpy(head, in, n);
	if (http_parse_head(head, n, &req) == 0) {
		assert(req.method == head && req.method_len > 0);
		assert(req.target > head && req.target + req.target_len <= head + n);
		assert(req.target[0] == '/' && req.path_len <= req.target_len);
		assert(req.minor >= 0 && req.minor <= 9);
	}
	free(head);
	return 0;
}
