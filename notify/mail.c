/* mail.c - the notification mail dialogue as hooks of the client core
 * (see mail.h). */
#include "notify/mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checks/probe.h"
#include "common/util.h"

enum mail_step { MAIL_BANNER, MAIL_EHLO, MAIL_STARTTLS, MAIL_FROM, MAIL_RCPT, MAIL_DATA,
		 MAIL_TEXT };

struct mail_send {
	struct probe probe;           /* the client core's connection */
	struct check_conf conf;       /* deadline; TLS without verification */
	struct mail_msg msg;
	size_t rcpt;                  /* recipients sent */
	bool starttls_offered;
	mail_done_fn *done;
	void *arg;
};

bool mail_ehlo_offers(const char *reply, size_t len, const char *keyword)
{
	size_t klen = strlen(keyword), off = 0;

	while (off < len) {
		const char *line = reply + off;
		size_t textlen, n = reply_line(line, len - off, &textlen);

		if (n == 0)
			return false;
		off += n;
		if (textlen < 4 + klen || strncasecmp(line + 4, keyword, klen) != 0)
			continue;
		if (textlen == 4 + klen || line[4 + klen] == ' ')
			return true;
	}
	return false;
}

static struct mail_send *mail_of(struct probe *p)
{
	return container_of(p, struct mail_send, probe);
}

static void mail_send_ehlo(struct probe *p)
{
	p->step = MAIL_EHLO;
	probe_send(p, "EHLO reply", "EHLO vigil\r\n");
}

static void mail_next_rcpt(struct probe *p)
{
	struct mail_send *s = mail_of(p);

	if (s->rcpt < s->msg.nto) {
		p->step = MAIL_RCPT;
		probe_send(p, "RCPT reply", "RCPT TO:<%s>\r\n", s->msg.to[s->rcpt++]);
		return;
	}
	p->step = MAIL_DATA;
	probe_send(p, "DATA reply", "DATA\r\n");
}

static bool mail_code_ok(int step, int code)
{
	static const int expect[] = {
		[MAIL_BANNER] = 220, [MAIL_EHLO] = 250, [MAIL_STARTTLS] = 220, [MAIL_FROM] = 250,
		[MAIL_RCPT] = 250, [MAIL_DATA] = 354, [MAIL_TEXT] = 250,
	};

	return code == expect[step] || (step == MAIL_RCPT && code == 251);
}

/* A complete reply arrived in state p->step. */
static void mail_reply(struct probe *p, const struct smtp_reply *r)
{
	struct mail_send *s = mail_of(p);

	if (!mail_code_ok(p->step, r->code)) {
		probe_finish(p, CHECK_ERR_PROTOCOL,
			     p->step == MAIL_BANNER ? PROBE_CLOSE_FIN : PROBE_CLOSE_QUIT,
			     "relay refused (%s): %s", p->waiting, r->text);
		return;
	}
	switch (p->step) {
	case MAIL_BANNER:
		mail_send_ehlo(p);
		break;
	case MAIL_EHLO:
		if (s->starttls_offered && !p->tls) {
			p->step = MAIL_STARTTLS;
			probe_send(p, "STARTTLS reply", "STARTTLS\r\n");
			break;
		}
		p->step = MAIL_FROM;
		probe_send(p, "MAIL reply", "MAIL FROM:<%s>\r\n", s->msg.from);
		break;
	case MAIL_STARTTLS:
		probe_starttls(p);
		break;
	case MAIL_FROM:
	case MAIL_RCPT:
		mail_next_rcpt(p);
		break;
	case MAIL_DATA:
		p->step = MAIL_TEXT;
		probe_send(p, "reply to the mail text", "%s.\r\n", s->msg.text);
		break;
	default:
		probe_finish(p, CHECK_OK, PROBE_CLOSE_QUIT, "%s", r->text);
		break;
	}
}

static void mail_start(struct probe *p)
{
	p->step = MAIL_BANNER;
	p->waiting = "banner";
}

static void mail_input(struct probe *p)
{
	struct mail_send *s = mail_of(p);
	struct smtp_reply r;
	char err[REPLY_TEXT_MAX];
	long n;

	if (p->phase != PROBE_RECV)
		return;
	n = smtp_reply_parse(p->rbuf, p->rlen, &r, err, sizeof(err));
	if (n == 0)
		return;
	if (n < 0) {
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "relay: %s", err);
		return;
	}
	if ((size_t)n < p->rlen) {
		/* we never pipeline: bytes beyond the reply are not an answer to
		 * anything we sent (after a 220 to STARTTLS: response injection) */
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_NOW,
			     "relay sent %zu unexpected bytes after its %s \"%s\": refused",
			     p->rlen - (size_t)n, p->waiting, r.text);
		return;
	}
	if (p->step == MAIL_EHLO)
		s->starttls_offered = mail_ehlo_offers(p->rbuf, (size_t)n, "STARTTLS");
	probe_consume(p, (size_t)n);
	mail_reply(p, &r);
}

static const struct probe_proto mail_proto = {
	.name = "mail",
	.quit = "QUIT\r\n",
	.start = mail_start,
	.input = mail_input,
	.tls_up = mail_send_ehlo,
};

static void mail_probe_done(struct probe *p, enum check_result res, const char *detail)
{
	struct mail_send *s = mail_of(p);

	s->done(s, res == CHECK_OK, detail, s->arg);
}

struct mail_send *mail_send_start(struct probe_ctx *ctx, const struct mail_msg *msg,
				  uint32_t timeout_ms, mail_done_fn *done, void *arg)
{
	struct mail_send *s = xcalloc(1, sizeof(*s));

	s->msg = *msg;
	s->done = done;
	s->arg = arg;
	s->conf.type = CHECK_SMTP;
	s->conf.timeout_ms = timeout_ms;
	s->conf.verify = false;
	probe_init(&s->probe, ctx, mail_probe_done);
	probe_start_proto(&s->probe, &mail_proto, &s->conf, &s->msg.relay, NULL);
	return s;
}

void mail_send_free(struct mail_send *s)
{
	if (!s)
		return;
	probe_abort(&s->probe);
	probe_forget_session(&s->probe);
	free(s);
}
