/* proto_imap.c - the imap / imaps check: greeting "* OK" or "* PREAUTH"
 * ("* BYE" is down), optionally "a1 STARTTLS" and the handshake, then
 * "a2 LOGOUT" answered by "a2 OK". imaps speaks TLS from the first byte. */
#include "checks/probe.h"

#include <stdio.h>
#include <string.h>

enum { IMAP_GREETING, IMAP_STARTTLS, IMAP_LOGOUT };

static void imap_logout(struct probe *p)
{
	p->step = IMAP_LOGOUT;
	probe_send(p, "LOGOUT reply", "a2 LOGOUT\r\n");
}

static void imap_greeting(struct probe *p, const struct imap_line *l)
{
	if (!l->untagged || (l->status != IMAP_OK && l->status != IMAP_PREAUTH)) {
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "%s", l->text);
		return;
	}
	snprintf(p->note, sizeof(p->note), "%s", l->text);
	if (!p->conf->starttls || p->tls) {
		imap_logout(p);
		return;
	}
	if (l->status == IMAP_PREAUTH) {
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_QUIT,
			     "PREAUTH greeting, STARTTLS not possible: %s", l->text);
		return;
	}
	p->step = IMAP_STARTTLS;
	probe_send(p, "STARTTLS reply", "a1 STARTTLS\r\n");
}

/* A response line while waiting for the tagged reply to tag. */
static void imap_tagged(struct probe *p, const struct imap_line *l, const char *tag)
{
	if (l->untagged && (l->status != IMAP_BYE || p->step == IMAP_LOGOUT))
		return;                         /* untagged data, or LOGOUT's BYE */
	if (l->untagged || l->continuation || strcmp(l->tag, tag) != 0) {
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "%s", l->text);
		return;
	}
	if (l->status != IMAP_OK) {
		probe_finish(p, CHECK_ERR_PROTOCOL,
			     p->step == IMAP_LOGOUT ? PROBE_CLOSE_FIN : PROBE_CLOSE_QUIT,
			     "%s", l->text);
		return;
	}
	if (p->step == IMAP_STARTTLS)
		probe_starttls(p);
	else
		probe_finish(p, CHECK_OK, PROBE_CLOSE_FIN, "%s", p->note);
}

static void imap_start(struct probe *p)
{
	p->step = IMAP_GREETING;
	p->waiting = "greeting";
}

static void imap_input(struct probe *p)
{
	struct imap_line l;
	char err[REPLY_TEXT_MAX];
	long n;

	while (p->phase == PROBE_RECV) {
		n = imap_line_parse(p->rbuf, p->rlen, &l, err, sizeof(err));
		if (n == 0)
			return;
		if (n < 0) {
			probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_FIN, "%s", err);
			return;
		}
		probe_consume(p, (size_t)n);
		if (p->step == IMAP_GREETING)
			imap_greeting(p, &l);
		else
			imap_tagged(p, &l, p->step == IMAP_STARTTLS ? "a1" : "a2");
	}
}

const struct probe_proto probe_proto_imap = {
	.name = "imap",
	.quit = "a9 LOGOUT\r\n",
	.start = imap_start,
	.input = imap_input,
	.tls_up = imap_logout,
};

const struct probe_proto probe_proto_imaps = {
	.name = "imaps",
	.implicit_tls = true,
	.quit = "a9 LOGOUT\r\n",
	.start = imap_start,
	.input = imap_input,
	.tls_up = imap_logout,
};
