/* proto_smtp.c - the smtp check: 220 banner, EHLO -> 250, optionally
 * STARTTLS -> 220, TLS, EHLO -> 250 again, then QUIT -> 221 and a clean
 * close. Any 4xx/5xx reply fails the probe with the reply as the detail. */
#include "checks/probe.h"

#include <stdio.h>

enum { SMTP_BANNER, SMTP_EHLO, SMTP_STARTTLS, SMTP_QUIT };

static const char *smtp_ehlo(const struct probe *p)
{
	return p->conf->ehlo && p->conf->ehlo[0] ? p->conf->ehlo : "vigil";
}

static void smtp_send_ehlo(struct probe *p)
{
	p->step = SMTP_EHLO;
	probe_send(p, "EHLO reply", "EHLO %s\r\n", smtp_ehlo(p));
}

/* A complete reply arrived in state p->step. */
static void smtp_reply(struct probe *p, const struct smtp_reply *r)
{
	static const int expect[] = {
		[SMTP_BANNER] = 220, [SMTP_EHLO] = 250, [SMTP_STARTTLS] = 220, [SMTP_QUIT] = 221,
	};

	if (r->code != expect[p->step]) {
		/* after the banner, say QUIT so the server logs a clean session */
		probe_finish(p, CHECK_ERR_PROTOCOL,
			     p->step == SMTP_BANNER || p->step == SMTP_QUIT ? PROBE_CLOSE_FIN
									     : PROBE_CLOSE_QUIT,
			     "%s", r->text);
		return;
	}
	switch (p->step) {
	case SMTP_BANNER:
		smtp_send_ehlo(p);
		break;
	case SMTP_EHLO:
		snprintf(p->note, sizeof(p->note), "%s", r->text);
		if (p->conf->starttls && !p->tls) {
			p->step = SMTP_STARTTLS;
			probe_send(p, "STARTTLS reply", "STARTTLS\r\n");
		} else {
			p->step = SMTP_QUIT;
			probe_send(p, "QUIT reply", "QUIT\r\n");
		}
		break;
	case SMTP_STARTTLS:
		probe_starttls(p);
		break;
	default:
		probe_finish(p, CHECK_OK, PROBE_CLOSE_FIN, "%s", p->note);
		break;
	}
}

static void smtp_start(struct probe *p)
{
	p->step = SMTP_BANNER;
	p->waiting = "banner";
}

static void smtp_input(struct probe *p)
{
	struct smtp_reply r;
	char err[REPLY_TEXT_MAX];
	long n;

	while (p->phase == PROBE_RECV) {
		n = smtp_reply_parse(p->rbuf, p->rlen, &r, err, sizeof(err));
		if (n == 0)
			return;
		if (n < 0) {
			probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "%s", err);
			return;
		}
		probe_consume(p, (size_t)n);
		smtp_reply(p, &r);
	}
}

const struct probe_proto probe_proto_smtp = {
	.name = "smtp",
	.quit = "QUIT\r\n",
	.start = smtp_start,
	.input = smtp_input,
	.tls_up = smtp_send_ehlo,
};
