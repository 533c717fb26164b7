/* reply.c - pure parsers of SMTP, IMAP and POP3 replies (see reply.h). */
#include "checks/reply.h"
#include "common/text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

size_t reply_line(const char *buf, size_t len, size_t *textlen)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n;

	if (!nl)
		return 0;
	n = (size_t)(nl - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*textlen = n;
	return (size_t)(nl - buf) + 1;
}

void reply_sanitize(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (dstlen > 0)
		text_clean(dst, dstlen, src, n);
}

/* Quote a bad line into err: `what: "line"`. */
static void bad_line(char *err, size_t errlen, const char *what, const char *line, size_t n)
{
	char shown[64];

	reply_sanitize(shown, sizeof(shown), line, n);
	snprintf(err, errlen, "%s: \"%s\"", what, shown);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reply code of an SMTP line: "ddd" followed by ' ', '-' or end of line. */
static int smtp_code(const char *line, size_t n, char *sep)
{
	if (n < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
		return -1;
	if (line[0] < '2' || line[0] > '5')
		return -1;
	*sep = n > 3 ? line[3] : ' ';
	if (*sep != ' ' && *sep != '-')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

long smtp_reply_parse(const char *buf, size_t len, struct smtp_reply *out,
		      char *err, size_t errlen)
{
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		size_t tlen, ll = reply_line(buf + off, len - off, &tlen);
		const char *line = buf + off;
		char sep;
		int code;

		if (ll == 0)
			return 0;
		code = smtp_code(line, tlen, &sep);
		if (code < 0) {
			bad_line(err, errlen, "not an SMTP reply", line, tlen);
			return -1;
		}
		if (out->nlines > 0 && code != out->code) {
			bad_line(err, errlen, "reply code changed within a reply", line, tlen);
			return -1;
		}
		if (out->nlines == 0) {
			out->code = code;
			reply_sanitize(out->text, sizeof(out->text), line, tlen);
			if (tlen > 3)
				out->text[3] = ' ';
		}
		out->nlines++;
		off += ll;
		if (sep == ' ')
			return (long)off;
	}
}

/* Does word w (length n) equal the NUL-terminated keyword kw, any case? */
static bool word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/* Split the next space-separated word from line[*pos..n). */
static size_t next_word(const char *line, size_t n, size_t *pos, const char **w)
{
	size_t start = *pos, end;

	while (start < n && line[start] == ' ')
		start++;
	end = start;
	while (end < n && line[end] != ' ')
		end++;
	*w = line + start;
	*pos = end;
	return end - start;
}

static bool imap_tag_ok(const char *t, size_t n)
{
	size_t i;

	if (n == 0 || n >= sizeof(((struct imap_line *)0)->tag))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\+", c))
			return false;
	}
	return true;
}

static int imap_status_word(const char *w, size_t n)
{
	static const char *const words[] = {
		[IMAP_OK] = "OK", [IMAP_NO] = "NO", [IMAP_BAD] = "BAD",
		[IMAP_BYE] = "BYE", [IMAP_PREAUTH] = "PREAUTH",
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (word_is(w, n, words[i]))
			return (int)i;
	return IMAP_DATA;
}

long imap_line_parse(const char *buf, size_t len, struct imap_line *out,
		     char *err, size_t errlen)
{
	size_t tlen, ll = reply_line(buf, len, &tlen), pos = 0, wn;
	const char *w;
	int st;

	memset(out, 0, sizeof(*out));
	if (ll == 0)
		return 0;
	reply_sanitize(out->text, sizeof(out->text), buf, tlen);
	wn = next_word(buf, tlen, &pos, &w);
	if (w != buf) {
		bad_line(err, errlen, "not an IMAP response", buf, tlen);
		return -1;
	}
	if (wn == 1 && w[0] == '+') {
		out->continuation = true;
		out->status = IMAP_DATA;
		return (long)ll;
	}
	if (wn == 1 && w[0] == '*')
		out->untagged = true;
	else if (imap_tag_ok(w, wn))
		memcpy(out->tag, w, wn);
	else {
		bad_line(err, errlen, "not an IMAP response", buf, tlen);
		return -1;
	}
	if (pos >= tlen || buf[pos] != ' ') {
		bad_line(err, errlen, "IMAP response without status", buf, tlen);
		return -1;
	}
	wn = next_word(buf, tlen, &pos, &w);
	st = imap_status_word(w, wn);
	if (!out->untagged && st != IMAP_OK && st != IMAP_NO && st != IMAP_BAD) {
		bad_line(err, errlen, "tagged IMAP response without OK/NO/BAD", buf, tlen);
		return -1;
	}
	out->status = (enum imap_status)st;
	return (long)ll;
}

long pop3_reply_parse(const char *buf, size_t len, struct pop3_reply *out,
		      char *err, size_t errlen)
{
	size_t tlen, ll = reply_line(buf, len, &tlen);

	memset(out, 0, sizeof(*out));
	if (ll == 0)
		return 0;
	reply_sanitize(out->text, sizeof(out->text), buf, tlen);
	if (tlen >= 3 && memcmp(buf, "+OK", 3) == 0 && (tlen == 3 || buf[3] == ' '))
		out->ok = true;
	else if (tlen >= 4 && memcmp(buf, "-ERR", 4) == 0 && (tlen == 4 || buf[4] == ' '))
		out->ok = false;
	else {
		bad_line(err, errlen, "not a POP3 reply", buf, tlen);
		return -1;
	}
	return (long)ll;
}
