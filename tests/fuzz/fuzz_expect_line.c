/* fuzz_expect_line.c - libFuzzer target: expect_line_parse() on any reply,
 * against a prefix and against a regular expression. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checks/reply.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg_regex *re;
	struct expect_reply r;
	char err[REPLY_TEXT_MAX];
	long n;

	if (!re)
		re = cfg_regex_new("^20[01] .*ready", err, sizeof(err));
	n = expect_line_parse((const char *)data, size, "220 ", NULL, &r, err, sizeof(err));
	if (n > (long)size || memchr(r.text, '\0', sizeof(r.text)) == NULL)
		__builtin_trap();
	n = expect_line_parse((const char *)data, size, NULL, re, &r, err, sizeof(err));
	if (n > (long)size)
		__builtin_trap();
	return 0;
}
