/* proto_pop3.c - the pop3 / pop3s check: "+OK" greeting, optionally STLS
 * and the handshake, then QUIT answered by "+OK". pop3s speaks TLS from the
 * first byte. */
#include "checks/probe.h"

#include <stdio.h>

enum { POP3_GREETING, POP3_STLS, POP3_QUIT };

static void pop3_quit(struct probe *p)
{
	p->step = POP3_QUIT;
	probe_send(p, "QUIT reply", "QUIT\r\n");
}

static void pop3_reply(struct probe *p, const struct pop3_reply *r)
{
	if (!r->ok) {
		probe_finish(p, CHECK_ERR_PROTOCOL,
			     p->step == POP3_STLS ? PROBE_CLOSE_QUIT : PROBE_CLOSE_FIN,
			     "%s", r->text);
		return;
	}
	switch (p->step) {
	case POP3_GREETING:
		snprintf(p->note, sizeof(p->note), "%s", r->text);
		if (p->conf->starttls && !p->tls) {
			p->step = POP3_STLS;
			probe_send(p, "STLS reply", "STLS\r\n");
		} else {
			pop3_quit(p);
		}
		break;
	case POP3_STLS:
		probe_starttls(p);
		break;
	default:
		probe_finish(p, CHECK_OK, PROBE_CLOSE_FIN, "%s", p->note);
		break;
	}
}

static void pop3_start(struct probe *p)
{
	p->step = POP3_GREETING;
	p->waiting = "greeting";
}

static void pop3_input(struct probe *p)
{
	struct pop3_reply r;
	char err[REPLY_TEXT_MAX];
	long n;

	while (p->phase == PROBE_RECV) {
		n = pop3_reply_parse(p->rbuf, p->rlen, &r, err, sizeof(err));
		if (n == 0)
			return;
		if (n < 0) {
			probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "%s", err);
			return;
		}
		probe_consume(p, (size_t)n);
		pop3_reply(p, &r);
	}
}

const struct probe_proto probe_proto_pop3 = {
	.name = "pop3",
	.quit = "QUIT\r\n",
	.start = pop3_start,
	.input = pop3_input,
	.tls_up = pop3_quit,
};

const struct probe_proto probe_proto_pop3s = {
	.name = "pop3s",
	.implicit_tls = true,
	.quit = "QUIT\r\n",
	.start = pop3_start,
	.input = pop3_input,
	.tls_up = pop3_quit,
};
