/* ctl_parse.c - the control protocol's request line: parse and format (pure). */
#include "ctl/ctl.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CTL_MAX_WORDS 5

struct ctl_words {
	char w[CTL_MAX_WORDS][CTL_NAME_MAX];
	size_t n;
};

static const struct {
	const char *name;
	enum ctl_op op;
	size_t nargs;                 /* words after the command word */
	bool group;                   /* ... or one more: an optional GROUP */
} ctl_cmds[] = {
	{ "status", CTL_STATUS, 0, false },
	{ "drain", CTL_DRAIN, 2, false },
	{ "disable", CTL_DISABLE, 2, false },
	{ "enable", CTL_ENABLE, 2, false },
	{ "weight", CTL_WEIGHT, 3, false },
	{ "standby", CTL_STANDBY, 0, true },
	{ "takeover", CTL_TAKEOVER, 0, true },
	{ "reload", CTL_RELOAD, 0, false },
	{ "resume", CTL_RESUME, 0, true },
	{ "sync", CTL_SYNC, 0, false },
	{ "rollback", CTL_ROLLBACK, 0, false },
	{ "events", CTL_EVENTS, 0, false },
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_end(char c)
{
	return c == '\0' || c == '\n' || c == '\r';
}

/* Read one word at *pp (bare or double quoted) into dst. 0 or -1. */
static int ctl_word(const char **pp, char *dst, char *err, size_t errlen)
{
	const char *p = *pp;
	size_t n = 0;
	int quoted = (*p == '"');

	if (quoted)
		p++;
	for (;;) {
		char c = *p;

		if (quoted ? c == '"' : (is_blank(c) || is_end(c)))
			break;
		if (quoted && is_end(c)) {
			snprintf(err, errlen, "unterminated quoted word");
			return -1;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "control character in request");
			return -1;
		}
		if (quoted && c == '\\') {
			c = *++p;
			if (c != '"' && c != '\\') {
				snprintf(err, errlen, "bad escape in quoted word");
				return -1;
			}
		}
		if (n + 1 >= CTL_NAME_MAX) {
			snprintf(err, errlen, "word longer than %d bytes", CTL_NAME_MAX - 1);
			return -1;
		}
		dst[n++] = c;
		p++;
	}
	if (quoted) {
		p++;
		if (!is_blank(*p) && !is_end(*p)) {
			snprintf(err, errlen, "missing blank after quoted word");
			return -1;
		}
	}
	dst[n] = '\0';
	*pp = p;
	return 0;
}

/* Split line into words; the line ends at NUL, or at "\n" / "\r\n". */
static int ctl_split(const char *line, struct ctl_words *ws, char *err, size_t errlen)
{
	const char *p = line;

	ws->n = 0;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\r' && p[1] == '\n')
			p++;
		if (*p == '\n') {
			if (p[1] != '\0') {
				snprintf(err, errlen, "more than one request line");
				return -1;
			}
			break;
		}
		if (*p == '\0')
			break;
		if (*p == '\r') {
			snprintf(err, errlen, "control character in request");
			return -1;
		}
		if (ws->n == CTL_MAX_WORDS) {
			snprintf(err, errlen, "too many words");
			return -1;
		}
		if (ctl_word(&p, ws->w[ws->n], err, errlen) < 0)
			return -1;
		ws->n++;
	}
	if (ws->n == 0) {
		snprintf(err, errlen, "empty request");
		return -1;
	}
	return 0;
}

static int ctl_parse_weight(const char *s, uint32_t *out, char *err, size_t errlen)
{
	uint32_t v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9' && v <= 256; p++)
		v = v * 10 + (uint32_t)(*p - '0');
	if (p == s || *p != '\0' || v > 256) {
		snprintf(err, errlen, "weight must be an integer 0..256, not \"%.32s\"", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int ctl_parse_group(const char *s, uint32_t *out, char *err, size_t errlen)
{
	uint32_t v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9' && v <= 255; p++)
		v = v * 10 + (uint32_t)(*p - '0');
	if (p == s || *p != '\0' || v < 1 || v > 255) {
		snprintf(err, errlen, "GROUP must be a failover group 1..255, not \"%.32s\"", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int ctl_status_args(const struct ctl_words *ws, struct ctl_cmd *out,
			   char *err, size_t errlen)
{
	if (ws->n == 1)
		return 0;
	if (ws->n == 2 && (!strcmp(ws->w[1], "json") || !strcmp(ws->w[1], "--json"))) {
		out->json = 1;
		return 0;
	}
	snprintf(err, errlen, "usage: status [--json]");
	return -1;
}

static int ctl_events_args(const struct ctl_words *ws, struct ctl_cmd *out,
			   char *err, size_t errlen)
{
	uint64_t v = 0;
	const char *p;

	if (ws->n == 1)
		return 0;
	if (ws->n == 3 && !strcmp(ws->w[1], "since")) {
		for (p = ws->w[2]; *p >= '0' && *p <= '9' && v < UINT64_MAX / 10 - 1; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		if (p != ws->w[2] && *p == '\0') {
			out->since = v;
			return 0;
		}
	}
	snprintf(err, errlen, "usage: events [since SEQ]");
	return -1;
}

int ctl_parse(const char *line, struct ctl_cmd *out, char *err, size_t errlen)
{
	struct ctl_words ws;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (ctl_split(line, &ws, err, errlen) < 0)
		return -1;
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (!strcmp(ws.w[0], ctl_cmds[i].name))
			break;
	if (i == sizeof(ctl_cmds) / sizeof(ctl_cmds[0])) {
		snprintf(err, errlen, "unknown command \"%.64s\"", ws.w[0]);
		return -1;
	}
	out->op = ctl_cmds[i].op;
	if (out->op == CTL_STATUS)
		return ctl_status_args(&ws, out, err, errlen);
	if (out->op == CTL_EVENTS)
		return ctl_events_args(&ws, out, err, errlen);
	if (ctl_cmds[i].group && ws.n == 2)
		return ctl_parse_group(ws.w[1], &out->group, err, errlen);
	if (ws.n != ctl_cmds[i].nargs + 1) {
		snprintf(err, errlen, "usage: %s%s", ctl_cmds[i].name,
			 ctl_cmds[i].group ? " [GROUP]" : ctl_cmds[i].nargs == 0 ? "" :
			 ctl_cmds[i].nargs == 2 ? " SERVICE BACKEND" : " SERVICE BACKEND N");
		return -1;
	}
	if (ctl_cmds[i].nargs >= 2) {
		memcpy(out->svc, ws.w[1], sizeof(out->svc));
		memcpy(out->be, ws.w[2], sizeof(out->be));
	}
	if (out->op == CTL_WEIGHT)
		return ctl_parse_weight(ws.w[3], &out->weight, err, errlen);
	return 0;
}

void ctl_quote(struct buf *b, const char *word)
{
	const char *p;

	if (*word && !strpbrk(word, " \"\\")) {
		buf_puts(b, word);
		return;
	}
	buf_append(b, "\"", 1);
	for (p = word; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, p, 1);
	}
	buf_append(b, "\"", 1);
}

void ctl_format(const struct ctl_cmd *cmd, struct buf *out)
{
	size_t i;

	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (ctl_cmds[i].op == cmd->op)
			break;
	buf_puts(out, ctl_cmds[i].name);
	if (cmd->op == CTL_STATUS && cmd->json)
		buf_puts(out, " json");
	if (cmd->op == CTL_EVENTS && cmd->since)
		buf_printf(out, " since %" PRIu64, cmd->since);
	if (ctl_cmds[i].nargs >= 2) {
		buf_append(out, " ", 1);
		ctl_quote(out, cmd->svc);
		buf_append(out, " ", 1);
		ctl_quote(out, cmd->be);
	}
	if (cmd->op == CTL_WEIGHT)
		buf_printf(out, " %u", cmd->weight);
	if (ctl_cmds[i].group && cmd->group)
		buf_printf(out, " %u", cmd->group);
}
