/* agent_parse.c - the pure parser of an agent's line (see agent.h). */
#include "checks/agent.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

/* A state word, or false. */
static bool state_word(const char *w, size_t n, enum backend_agent *out)
{
	static const struct { const char *word; enum backend_agent st; } words[] = {
		{ "up", AGENT_UP }, { "ready", AGENT_UP }, { "drain", AGENT_DRAIN },
		{ "maint", AGENT_MAINT }, { "stopped", AGENT_MAINT }, { "down", AGENT_DOWN },
		{ "failed", AGENT_DOWN },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].word) == n && strncasecmp(w, words[i].word, n) == 0) {
			*out = words[i].st;
			return true;
		}
	}
	return false;
}

/* "N%" with N = 0..100 (at most 3 digits). */
static bool pct_word(const char *w, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if (n < 2 || n > 4 || w[n - 1] != '%')
		return false;
	for (size_t i = 0; i + 1 < n; i++) {
		if (w[i] < '0' || w[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(w[i] - '0');
	}
	*out = v;
	return true;
}

static void bad_word(char *err, size_t errlen, const char *what, const char *w, size_t n)
{
	char shown[48];

	text_clean(shown, sizeof(shown), w, n);
	snprintf(err, errlen, "%s \"%s\" (expected N%%, up, drain, maint or down)", what, shown);
}

int agent_line_parse(const char *text, size_t len, struct agent_reply *out,
		     char *err, size_t errlen)
{
	size_t i = 0;
	bool any = false;

	memset(out, 0, sizeof(*out));
	while (i < len) {
		size_t start, n;

		while (i < len && is_sep(text[i]))
			i++;
		if (i >= len || text[i] == '#')
			break;
		start = i;
		while (i < len && !is_sep(text[i]))
			i++;
		n = i - start;
		if (state_word(text + start, n, &out->state)) {
			out->has_state = true;
		} else if (pct_word(text + start, n, &out->pct)) {
			if (out->pct > 100) {
				bad_word(err, errlen, "percentage out of range", text + start, n);
				return -1;
			}
			out->has_pct = true;
		} else {
			bad_word(err, errlen, "unknown word", text + start, n);
			return -1;
		}
		any = true;
	}
	if (!any) {
		snprintf(err, errlen, "empty line (expected N%%, up, drain, maint or down)");
		return -1;
	}
	return 0;
}
