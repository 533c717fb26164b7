/* smtp.h - one non-blocking SMTP delivery attempt on a libev loop:
 * EHLO, STARTTLS when the relay offers it (opportunistic: the certificate is
 * not verified), MAIL / RCPT for every recipient / DATA, QUIT. One deadline
 * bounds the whole dialogue.
 */
#ifndef VIGIL_SMTP_H
#define VIGIL_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "common/addr.h"

struct smtp;

/* Called once when the attempt ends; the smtp object is freed right after. */
typedef void smtp_done_fn(bool ok, const char *detail, void *arg);

/* Start delivering text (headers + body, CRLF, dot-stuffed) from from to each
 * of to[0..nto-1] through relay. NULL with err when it cannot even start. */
struct smtp *smtp_start(struct ev_loop *loop, const struct addr *relay, const char *from,
			char *const *to, size_t nto, const char *text, unsigned timeout_ms,
			smtp_done_fn *done, void *arg, char *err, size_t errlen);
/* Abandon an attempt without calling done. */
void smtp_abort(struct smtp *s);

/* Pure: feed one reply line; returns 1 when the reply is complete (code in
 * *code), 0 when more lines follow, -1 when the line is not SMTP. */
int smtp_reply_line(const char *line, int *code);

#endif
