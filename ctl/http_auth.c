/* http_auth.c - the admin token of POST /api/ctl: loaded once as a SHA-256
 * digest, compared in constant time. */
#include "ctl/http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define HTTP_TOKEN_FILE_MAX 1024

int http_token_load(const char *path, uint8_t digest[32], char *err, size_t errlen)
{
	char text[HTTP_TOKEN_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t len, i;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(err, errlen, "admin_token_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0007)) {
		snprintf(err, errlen, "admin_token_file %s: %s", path,
			 !S_ISREG(st.st_mode) ? "not a regular file" :
			 "readable by others (chmod o-rwx, e.g. 0600 or 0640)");
		close(fd);
		return -1;
	}
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 0 || n > HTTP_TOKEN_FILE_MAX) {
		snprintf(err, errlen, "admin_token_file %s: %s", path,
			 n < 0 ? strerror(errno) : "longer than 1024 bytes");
		return -1;
	}
	len = strcspn(text, "\n") < (size_t)n ? strcspn(text, "\n") : (size_t)n;
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r'))
		len--;
	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] <= 0x20 || text[i] == 0x7f)
			break;
	if (len < HTTP_TOKEN_MIN || i < len) {
		snprintf(err, errlen, "admin_token_file %s: the token (first line) must be %d or "
			 "more printable characters without blanks", path, HTTP_TOKEN_MIN);
		return -1;
	}
	SHA256((const unsigned char *)text, len, digest);
	OPENSSL_cleanse(text, sizeof(text));
	return 0;
}

enum http_auth http_auth_check(const uint8_t *digest, const char *auth, size_t authlen)
{
	uint8_t got[SHA256_DIGEST_LENGTH];

	if (!digest)
		return HTTP_AUTH_NO_TOKEN_FILE;
	if (!auth || authlen < 7 || strncasecmp(auth, "Bearer ", 7) != 0)
		return HTTP_AUTH_MISSING;
	auth += 7;
	authlen -= 7;
	while (authlen && *auth == ' ')
		auth++, authlen--;
	if (authlen == 0)
		return HTTP_AUTH_MISSING;
	/* equal-length digests: the time depends on neither token's content */
	SHA256((const unsigned char *)auth, authlen, got);
	return CRYPTO_memcmp(got, digest, sizeof(got)) == 0 ? HTTP_AUTH_OK : HTTP_AUTH_WRONG;
}
