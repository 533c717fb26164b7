/* fuzz_mail_ehlo.c - libFuzzer target: the notification mail client's EHLO
 * scans (notify/mail.c): the extension scan (mail_ehlo_offers) and the AUTH
 * mechanism scan (mail_ehlo_auth).
 *
 * The input is an EHLO reply as the relay sent it, copied into a buffer of
 * exactly its size so ASan sees any read past its end (a bare "250" line
 * was read past its end by the old client). The scan must agree with a
 * plain reference written here.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "notify/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference: some complete line (ending in LF; a CR before it is not
 * text) whose text from its 5th byte on is KW, alone or followed by a
 * space, compared without case (the code and separator are the reply
 * parser's business, checked before the scan). */
static bool reference(const char *r, size_t len, const char *kw)
{
	size_t kl = strlen(kw), i = 0;

	while (i < len) {
		size_t end = i, n;

		while (end < len && r[end] != '\n')
			end++;
		if (end == len)
			return false;             /* no LF: not a line yet */
		n = end - i;
		if (n > 0 && r[i + n - 1] == '\r')
			n--;
		if (n >= 4 + kl && strncasecmp(r + i + 4, kw, kl) == 0 &&
		    (n == 4 + kl || r[i + 4 + kl] == ' '))
			return true;
		i = end + 1;
	}
	return false;
}

/* Reference of mail_ehlo_auth: every complete line whose text from its 5th
 * byte is AUTH (any case) followed by the end, a space or "=" offers AUTH;
 * the words after it, split on spaces, name the mechanisms. */
static unsigned reference_auth(const char *r, size_t len)
{
	unsigned bits = 0;
	size_t i = 0;

	while (i < len) {
		size_t end = i, n;

		while (end < len && r[end] != '\n')
			end++;
		if (end == len)
			break;
		n = end - i;
		if (n > 0 && r[i + n - 1] == '\r')
			n--;
		if (n >= 8 && strncasecmp(r + i + 4, "AUTH", 4) == 0 &&
		    (n == 8 || r[i + 8] == ' ' || r[i + 8] == '=')) {
			bits |= MAIL_AUTH_OFFERED;
			for (size_t w = i + 9; w < i + n;) {
				size_t e = w;

				while (e < i + n && r[e] != ' ')
					e++;
				if (e - w == 5 && strncasecmp(r + w, "PLAIN", 5) == 0)
					bits |= MAIL_AUTH_PLAIN;
				if (e - w == 5 && strncasecmp(r + w, "LOGIN", 5) == 0)
					bits |= MAIL_AUTH_LOGIN;
				w = e + 1;
			}
		}
		i = end + 1;
	}
	return bits;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kws[] = { "STARTTLS", "AUTH", "8BITMIME", "PIPELINING" };
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (size_t k = 0; k < sizeof(kws) / sizeof(kws[0]); k++) {
		assert(mail_ehlo_offers(buf, size, kws[k]) == reference(buf, size, kws[k]));
	}
	assert(mail_ehlo_auth(buf, size) == reference_auth(buf, size));
	free(buf);
	return 0;
}
