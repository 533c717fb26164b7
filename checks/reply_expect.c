/* reply_expect.c - the pure judge of check type expect's first line. */
#include "checks/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "config/config.h"

long expect_line_parse(const char *buf, size_t len, const char *prefix,
		       const struct cfg_regex *re, struct expect_reply *out,
		       char *err, size_t errlen)
{
	size_t tlen, ll = reply_line(buf, len, &tlen);
	char *line;

	memset(out, 0, sizeof(*out));
	if (ll == 0)
		return 0;
	text_clean(out->text, sizeof(out->text), buf, tlen);
	if (memchr(buf, '\0', tlen)) {
		snprintf(err, errlen, "NUL byte in the line: \"%s\"", out->text);
		return -1;
	}
	if (re) {
		line = xmalloc(tlen + 1);
		memcpy(line, buf, tlen);
		line[tlen] = '\0';
		out->matched = cfg_regex_match(re, line);
		free(line);
	} else {
		size_t plen = prefix ? strlen(prefix) : 0;

		out->matched = plen <= tlen && memcmp(buf, prefix, plen) == 0;
	}
	return (long)ll;
}
