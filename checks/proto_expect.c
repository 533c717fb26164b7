/* proto_expect.c - check type expect: a generic dialogue for banner and line
 * protocols (FTP 220, NNTP 200/201, Telnet, ...). Optionally send a line
 * first (send:, CR LF appended), then judge the first line received against
 * expect: (a prefix, or a /regex/ compiled at load), then close, saying the
 * quit: line first when given. With tls: true the connection speaks TLS from
 * the first byte. The first line is bounded by the probe buffer. */
#include "checks/probe.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

static void expect_start(struct probe *p)
{
	if (p->conf->quit && asprintf(&p->quit, "%s\r\n", p->conf->quit) < 0)
		p->quit = NULL;
	if (p->conf->send)
		probe_send(p, "first line", "%s\r\n", p->conf->send);
	else
		p->waiting = "first line";
}

static void expect_input(struct probe *p)
{
	struct expect_reply r;
	char err[REPLY_TEXT_MAX];
	enum probe_close how = p->quit ? PROBE_CLOSE_QUIT : PROBE_CLOSE_FIN;
	long n = expect_line_parse(p->rbuf, p->rlen, p->conf->expect, p->conf->expect_re, &r,
				   err, sizeof(err));

	if (n == 0)
		return;
	if (n < 0) {
		probe_finish(p, CHECK_ERR_PROTOCOL, how, "%s", err);
		return;
	}
	if (!r.matched) {
		probe_finish(p, CHECK_ERR_PROTOCOL, how, "%s", r.text);
		return;
	}
	probe_finish(p, CHECK_OK, how, "%s", r.text);
}

const struct probe_proto probe_proto_expect = {
	.name = "expect",
	.start = expect_start,
	.input = expect_input,
};

const struct probe_proto probe_proto_expect_tls = {
	.name = "expect",
	.implicit_tls = true,
	.start = expect_start,
	.input = expect_input,
};
