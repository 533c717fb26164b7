/* mail_text.h - the text of a mail as RFC 5322 wants it: headers (From, To,
 * Subject, Date, Message-ID, ...) and body, CRLF line ends, dot-stuffed for
 * SMTP's DATA. Pure: no I/O, no clock, no randomness (the caller brings the
 * time and the random part of the Message-ID), so unit tests pin every byte.
 */
#ifndef VIGIL_MAIL_TEXT_H
#define VIGIL_MAIL_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define MAIL_SUBJECT_MAX 200          /* longer subjects are cut (RFC 5322: lines <= 998) */
#define MAIL_MSGID_MAX 320

/* What the headers say. */
struct mail_head {
	const char *from;
	char *const *to;
	size_t nto;
	const char *subject;          /* printable ASCII; cut to MAIL_SUBJECT_MAX */
	double when;                  /* wall clock seconds: the Date header */
	const char *msgid;            /* "<...@...>" (mail_message_id) */
};

/* RFC 5322 date-time in UTC: "Wed, 02 Dec 2026 11:05:02 +0000". */
void mail_date(double when, char *buf, size_t len);
/* A Message-ID "<SECONDS.RANDOM.SEQ@DOMAIN>": DOMAIN is from's domain part
 * ("localhost" when from has none); rnd and seq make it unique. */
void mail_message_id(char *buf, size_t len, const char *from, double when, uint64_t rnd,
		     uint64_t seq);
/* Headers, a blank line and body into out: LF in body becomes CRLF, a line
 * starting with "." gets another, the text ends in CRLF; no final ".". The
 * To header is folded so no line of it passes 78 characters. */
void mail_compose(const struct mail_head *h, const char *body, struct buf *out);

#endif
