/* test_api.c - POST /api/ctl before anything runs: the request length with a
 * body, Content-Length / Transfer-Encoding / Authorization in the head, the
 * admin token file and the token check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/sha.h>

#include "ctl/http.h"

#define TOKEN "0123456789abcdef-token"

static void test_request_len_body(void **state)
{
	const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *post = "POST /api/ctl HTTP/1.1\r\nContent-Length: 11\r\n\r\ndrain s be1";
	size_t head = strlen(post) - 11;

	assert_int_equal(http_request_len(get, strlen(get)), strlen(get));
	assert_int_equal(http_request_len(get, strlen(get) - 1), 0);
	/* the body completes the request, byte by byte until the last one */
	for (size_t n = 0; n < strlen(post); n++)
		assert_int_equal(http_request_len(post, n), 0);
	assert_int_equal(http_request_len(post, strlen(post)), strlen(post));
	assert_int_equal(head + 11, strlen(post));
}

static void test_request_len_refused_bodies_end_at_head(void **state)
{
	char buf[HTTP_HEAD_MAX + 16];
	const char *big = "POST /api/ctl HTTP/1.1\r\nContent-Length: 4097\r\n\r\n";
	const char *max = "POST /api/ctl HTTP/1.1\r\nContent-Length: 4096\r\n\r\n";
	const char *te = "POST /api/ctl HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
	const char *bad = "POST /api/ctl HTTP/1.1\r\nContent-Length: 1x\r\n\r\n";

	/* over the limit: answered (413) at once, the body not waited for */
	assert_int_equal(http_request_len(big, strlen(big)), strlen(big));
	assert_int_equal(http_request_len(max, strlen(max)), 0);
	assert_int_equal(http_request_len(te, strlen(te)), strlen(te) - 3);
	assert_int_equal(http_request_len(bad, strlen(bad)), strlen(bad));
	/* no head within HTTP_HEAD_MAX bytes: hand it over for a 431 */
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(http_request_len(buf, HTTP_HEAD_MAX - 1), 0);
	assert_int_equal(http_request_len(buf, HTTP_HEAD_MAX), HTTP_HEAD_MAX);
}

static int parse(const char *h, struct http_req *r)
{
	return http_parse_head(h, strlen(h), r);
}

static void test_parse_body_headers(void **state)
{
	struct http_req r;

	assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &r), 0);
	assert_int_equal(r.content_length, -1);
	assert_null(r.authorization);
	assert_int_equal(parse("POST /api/ctl HTTP/1.1\r\ncontent-length:  12 \r\n"
			       "AUTHORIZATION: Bearer abc \r\n\r\n", &r), 0);
	assert_int_equal(r.content_length, 12);
	assert_int_equal(r.authorization_len, 10);
	assert_memory_equal(r.authorization, "Bearer abc", 10);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
			       &r), 0);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 0);
	assert_int_equal(r.transfer_encoding, 1);
	/* malformed: differing lengths, signs, empty, too many digits, two tokens */
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
			       &r), -1);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r), -1);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", &r), -1);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", &r), -1);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 1234567890123456\r\n\r\n", &r),
			 -1);
	assert_int_equal(parse("POST / HTTP/1.1\r\nAuthorization: Bearer a\r\n"
			       "Authorization: Bearer b\r\n\r\n", &r), -1);
}

static void test_auth_check(void **state)
{
	uint8_t digest[32];
	const char *ok = "Bearer " TOKEN;

	SHA256((const unsigned char *)TOKEN, strlen(TOKEN), digest);
	assert_int_equal(http_auth_check(NULL, ok, strlen(ok)), HTTP_AUTH_NO_TOKEN_FILE);
	assert_int_equal(http_auth_check(digest, NULL, 0), HTTP_AUTH_MISSING);
	assert_int_equal(http_auth_check(digest, ok, strlen(ok)), HTTP_AUTH_OK);
	assert_int_equal(http_auth_check(digest, "bearer " TOKEN, strlen(ok)), HTTP_AUTH_OK);
	assert_int_equal(http_auth_check(digest, ok, strlen(ok) - 1), HTTP_AUTH_WRONG);
	assert_int_equal(http_auth_check(digest, "Bearer " TOKEN "x", strlen(ok) + 1),
			 HTTP_AUTH_WRONG);
	assert_int_equal(http_auth_check(digest, "Basic " TOKEN, strlen(ok) - 1),
			 HTTP_AUTH_MISSING);
	assert_int_equal(http_auth_check(digest, "Bearer ", 7), HTTP_AUTH_MISSING);
	assert_int_equal(http_auth_check(digest, "Bearer", 6), HTTP_AUTH_MISSING);
}

static char *write_token(const char *text, mode_t mode)
{
	char *path = strdup("/tmp/vigil-test-token-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void token_load(const char *text, mode_t mode, int want, const char *why)
{
	char *path = write_token(text, mode);
	uint8_t digest[32], expect[32];
	char err[256] = "";
	int rc = http_token_load(path, digest, err, sizeof(err));

	unlink(path);
	free(path);
	if (rc != want)
		fail_msg("token \"%s\" mode %o: %d (%s)", text, (unsigned)mode, rc, err);
	if (want < 0) {
		if (!strstr(err, why))
			fail_msg("token \"%s\": error \"%s\" lacks \"%s\"", text, err, why);
		return;
	}
	SHA256((const unsigned char *)TOKEN, strlen(TOKEN), expect);
	assert_memory_equal(digest, expect, 32);
}

static void test_token_file(void **state)
{
	uint8_t digest[32];
	char err[256];

	token_load(TOKEN, 0600, 0, NULL);
	token_load(TOKEN "\n", 0640, 0, NULL);
	token_load(TOKEN " \r\nsecond line\n", 0400, 0, NULL);
	token_load(TOKEN, 0644, -1, "readable by others");
	token_load(TOKEN, 0604, -1, "readable by others");
	token_load("", 0600, -1, "16 or more");
	token_load("short\n", 0600, -1, "16 or more");
	token_load("has a blank in it 0123456789", 0600, -1, "without blanks");
	assert_int_equal(http_token_load("/nonexistent/token", digest, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_len_body),
		cmocka_unit_test(test_request_len_refused_bodies_end_at_head),
		cmocka_unit_test(test_parse_body_headers),
		cmocka_unit_test(test_auth_check),
		cmocka_unit_test(test_token_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
