/* fuzz_http_request.c - libFuzzer target for the status listener's request
 * parser: http_request_len() (head + Content-Length body), http_parse_head()
 * and the Authorization check of POST /api/ctl, on any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t digest[32] = { 1, 2, 3 };
	const char *buf;
	char *copy;
	struct http_req req;
	size_t n, head;

	if (size > HTTP_HEAD_MAX + HTTP_BODY_MAX)
		return 0;
	copy = malloc(size ? size : 1);    /* exact size: ASan sees any overread */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	buf = copy;
	n = http_request_len(buf, size);
	if (n > size)
		abort();
	head = http_head_len(buf, size < HTTP_HEAD_MAX ? size : HTTP_HEAD_MAX);
	if (head && http_parse_head(buf, head, &req) == 0) {
		if (req.authorization && (req.authorization < buf ||
					  req.authorization + req.authorization_len > buf + head))
			abort();
		(void)http_auth_check(digest, req.authorization, req.authorization_len);
		if (req.content_length > 0 && req.content_length <= HTTP_BODY_MAX &&
		    !req.transfer_encoding && n != 0 && n != head + (size_t)req.content_length)
			abort();
	}
	free(copy);
	return 0;
}
