/* mail_text.c - headers and body of a mail (see mail_text.h). */
#include "notify/mail_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAIL_FOLD_AT 78

void mail_date(double when, char *buf, size_t len)
{
	time_t t = (time_t)floor(when);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

void mail_message_id(char *buf, size_t len, const char *from, double when, uint64_t rnd,
		     uint64_t seq)
{
	const char *at = from ? strrchr(from, '@') : NULL;
	const char *domain = at && at[1] ? at + 1 : "localhost";

	snprintf(buf, len, "<%" PRIu64 ".%016" PRIx64 ".%" PRIu64 "@%s>",
		 (uint64_t)floor(when > 0 ? when : 0), rnd, seq, domain);
}

/* text with LF -> CRLF, leading dots doubled, ending in CRLF. */
static void dot_stuff(struct buf *out, const char *text)
{
	bool bol = true;

	for (const char *p = text; *p; p++) {
		if (bol && *p == '.')
			buf_puts(out, ".");
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			buf_puts(out, "\r");
		buf_append(out, p, 1);
		bol = *p == '\n';
	}
	if (!bol)
		buf_puts(out, "\r\n");
}

static void header_to(const struct mail_head *h, struct buf *out)
{
	size_t col = 4;

	buf_puts(out, "To: ");
	for (size_t i = 0; i < h->nto; i++) {
		size_t n = strlen(h->to[i]);

		if (i && col + 2 + n > MAIL_FOLD_AT) {
			buf_puts(out, ",\n ");
			col = 1;
		} else if (i) {
			buf_puts(out, ", ");
			col += 2;
		}
		buf_puts(out, h->to[i]);
		col += n;
	}
	buf_puts(out, "\n");
}

void mail_compose(const struct mail_head *h, const char *body, struct buf *out)
{
	char date[64];
	struct buf text;
	size_t slen = strcspn(h->subject, "\r\n");

	if (slen > MAIL_SUBJECT_MAX)
		slen = MAIL_SUBJECT_MAX;
	mail_date(h->when, date, sizeof(date));
	buf_init(&text);
	buf_printf(&text, "From: %s\n", h->from);
	header_to(h, &text);
	buf_printf(&text, "Subject: %.*s\nDate: %s\nMessage-ID: %s\n", (int)slen, h->subject,
		   date, h->msgid);
	buf_puts(&text, "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
		 "Content-Transfer-Encoding: 7bit\nAuto-Submitted: auto-generated\n\n");
	buf_puts(&text, body);
	dot_stuff(out, text.data);
	buf_free(&text);
}
