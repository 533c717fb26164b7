/* cfg_regex.c - POSIX regular expressions compiled once at load, shared by
 * reference between the config and the checks that copy it.
 *
 * Bounded before regcomp() sees a pattern: glibc expands x{m,n} into n
 * copies of x (30 characters, ((a{255}){255}){255}, took 3.4 GB), recurses
 * once per nested group (100,000 '(' overflowed the stack) and is
 * superlinear in alternatives (300,000 'a|': 18 GB) and its epsilon
 * closures are quadratic in the expanded size (((a*){63}){63}: 131 MB). So a
 * pattern has at most CFG_REGEX_MAX_LEN characters, CFG_REGEX_MAX_DEPTH
 * nested groups and a cost (atoms once repetitions are expanded, each
 * repetition operator doubling what it repeats) of CFG_REGEX_MAX_COST.
 */
#include "config/config.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct cfg_regex {
	unsigned refs;
	char *pattern;
	regex_t re;
};

/* Length of the bracket expression at p ("[...]"), 0 if it is not closed. */
static size_t bracket_len(const char *p)
{
	size_t i = 1;

	if (p[i] == '^')
		i++;
	if (p[i] == ']')
		i++;                          /* a first ']' is a member */
	while (p[i] && p[i] != ']') {
		if (p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
			char end = p[i + 1];
			size_t j = i + 2;

			while (p[j] && !(p[j] == end && p[j + 1] == ']'))
				j++;
			if (!p[j])
				return 0;
			i = j + 2;
			continue;
		}
		i++;
	}
	return p[i] ? i + 1 : 0;
}

/* An interval {m}, {m,}, {,n} or {m,n} at p: its length, and in *copies how
 * many copies of the preceding atom regcomp makes; 0 if p is no interval. */
static size_t interval_len(const char *p, size_t *copies)
{
	size_t i = 1, m = 0, n = 0;
	bool has_m = false, has_n = false, comma = false;

	for (; p[i] >= '0' && p[i] <= '9'; i++, has_m = true)
		m = m < 100000 ? m * 10 + (size_t)(p[i] - '0') : m;
	if (p[i] == ',') {
		comma = true;
		for (i++; p[i] >= '0' && p[i] <= '9'; i++, has_n = true)
			n = n < 100000 ? n * 10 + (size_t)(p[i] - '0') : n;
	}
	if (p[i] != '}' || (!has_m && !has_n))
		return 0;
	*copies = has_n ? (m > n ? m : n) : m + (comma ? 1 : 0);
	if (*copies == 0)
		*copies = 1;
	return i + 1;
}

size_t cfg_regex_cost(const char *pattern)
{
	size_t sum[CFG_REGEX_MAX_DEPTH + 1] = { 0 }, last = 0, copies, n;
	int depth = 0;

	if (strlen(pattern) > CFG_REGEX_MAX_LEN)
		return SIZE_MAX;
	for (const char *p = pattern; *p; p += n) {
		n = 1;
		switch (*p) {
		case '(':
			if (depth == CFG_REGEX_MAX_DEPTH)
				return SIZE_MAX;
			sum[++depth] = 0;
			last = 0;
			continue;
		case ')':
			if (depth == 0)
				break;                /* a literal ')' */
			last = sum[depth--];
			sum[depth] += last;
			continue;
		case '|':
			last = 0;                     /* every alternative is compiled */
			continue;
		case '*':
		case '?':
		case '+':                             /* x+ is x x*; stacked ones nest */
			sum[depth] += last;
			last *= 2;
			if (sum[depth] > CFG_REGEX_MAX_COST)
				return SIZE_MAX;
			continue;
		case '{':
			n = interval_len(p, &copies);
			if (!n) {
				n = 1;
				break;                /* a literal '{' */
			}
			if (last && copies > CFG_REGEX_MAX_COST / last)
				return SIZE_MAX;
			sum[depth] += last * (copies - 1);
			last *= copies;
			if (sum[depth] > CFG_REGEX_MAX_COST)
				return SIZE_MAX;
			continue;
		case '[':
			n = bracket_len(p);
			if (!n)
				n = strlen(p);        /* not closed: regcomp refuses it */
			break;
		case '\\':
			n = p[1] ? 2 : 1;
			break;
		default:
			break;
		}
		last = 1;                             /* one atom */
		if (++sum[depth] > CFG_REGEX_MAX_COST)
			return SIZE_MAX;
	}
	for (; depth > 0; depth--)                    /* groups left open */
		sum[depth - 1] += sum[depth];
	return sum[0] > CFG_REGEX_MAX_COST ? SIZE_MAX : sum[0];
}

struct cfg_regex *cfg_regex_new(const char *pattern, char *err, size_t errlen)
{
	struct cfg_regex *r;
	int rc;

	if (cfg_regex_cost(pattern) == SIZE_MAX) {
		snprintf(err, errlen, "too large (at most %d characters, %d nested groups and "
			 "%d atoms once repetitions {m,n} are expanded)", CFG_REGEX_MAX_LEN,
			 CFG_REGEX_MAX_DEPTH, CFG_REGEX_MAX_COST);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB);

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
