/* cfg_regex.c - POSIX regular expressions compiled once at load, shared by
 * reference between the config and the checks that copy it. */
#include "config/config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct cfg_regex {
	unsigned refs;
	char *pattern;
	regex_t re;
};

struct cfg_regex *cfg_regex_new(const char *pattern, char *err, size_t errlen)
{
	struct cfg_regex *r = xcalloc(1, sizeof(*r));
	int rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB);

	if (rc != 0) {
		regerror(rc, &r->re, err, errlen);
		free(r);
		return NULL;
	}
	r->refs = 1;
	r->pattern = xstrdup(pattern);
	return r;
}

struct cfg_regex *cfg_regex_ref(struct cfg_regex *re)
{
	if (re)
		re->refs++;
	return re;
}

void cfg_regex_unref(struct cfg_regex *re)
{
	if (!re || --re->refs > 0)
		return;
	regfree(&re->re);
	free(re->pattern);
	free(re);
}

bool cfg_regex_match(const struct cfg_regex *re, const char *text)
{
	return regexec(&re->re, text, 0, NULL, 0) == 0;
}

const char *cfg_regex_pattern(const struct cfg_regex *re)
{
	return re->pattern;
}
