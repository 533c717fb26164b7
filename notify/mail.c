/* mail.c - the notification mail dialogue as hooks of the client core
 * (see mail.h). */
#include "notify/mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "checks/probe.h"
#include "common/util.h"

enum mail_step { MAIL_BANNER, MAIL_EHLO, MAIL_STARTTLS, MAIL_AUTH_PLAIN_SENT,
		 MAIL_AUTH_LOGIN_SENT, MAIL_AUTH_USER_SENT, MAIL_AUTH_PASS_SENT, MAIL_FROM,
		 MAIL_RCPT, MAIL_DATA, MAIL_TEXT };

#define MAIL_CRED_MAX 1024            /* user name or password, bytes */

struct mail_send {
	struct probe probe;           /* the client core's connection */
	struct check_conf conf;       /* deadline; TLS without verification */
	struct mail_msg msg;
	char relay_ip[ADDR_STRLEN];   /* the name to verify when msg.host is NULL */
	size_t rcpt;                  /* recipients sent */
	bool starttls_offered;
	unsigned auth;                /* MAIL_AUTH_* of the last EHLO reply */
	bool permanent;               /* the failure cannot be helped by trying again */
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

/* The mechanisms listed after "AUTH" or "AUTH=" in text[0..n). */
static unsigned auth_mechs(const char *text, size_t n)
{
	unsigned bits = MAIL_AUTH_OFFERED;
	size_t i = 0;

	while (i < n) {
		size_t j;

		while (i < n && text[i] == ' ')
			i++;
		for (j = i; j < n && text[j] != ' '; j++)
			;
		if (j - i == 5 && strncasecmp(text + i, "PLAIN", 5) == 0)
			bits |= MAIL_AUTH_PLAIN;
		else if (j - i == 5 && strncasecmp(text + i, "LOGIN", 5) == 0)
			bits |= MAIL_AUTH_LOGIN;
		i = j;
	}
	return bits;
}

unsigned mail_ehlo_auth(const char *reply, size_t len)
{
	size_t off = 0;
	unsigned bits = 0;

	while (off < len) {
		const char *line = reply + off;
		size_t textlen, n = reply_line(line, len - off, &textlen);

		if (n == 0)
			break;
		off += n;
		if (textlen < 8 || strncasecmp(line + 4, "AUTH", 4) != 0)
			continue;
		if (textlen == 8 || line[8] == ' ' || line[8] == '=')
			bits |= auth_mechs(line + 9, textlen > 9 ? textlen - 9 : 0);
	}
	return bits;
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
		[MAIL_BANNER] = 220, [MAIL_EHLO] = 250, [MAIL_STARTTLS] = 220,
		[MAIL_AUTH_PLAIN_SENT] = 235, [MAIL_AUTH_LOGIN_SENT] = 334,
		[MAIL_AUTH_USER_SENT] = 334, [MAIL_AUTH_PASS_SENT] = 235, [MAIL_FROM] = 250,
		[MAIL_RCPT] = 250, [MAIL_DATA] = 354, [MAIL_TEXT] = 250,
	};

	return code == expect[step] || (step == MAIL_RCPT && code == 251);
}

static bool mail_step_is_auth(int step)
{
	return step >= MAIL_AUTH_PLAIN_SENT && step <= MAIL_AUTH_PASS_SENT;
}

/* Send "PREFIX" + base64(a [NUL b]) + CRLF as a secret, then wait in step. */
static void mail_send_b64(struct probe *p, int step, const char *what, const char *prefix,
			  const char *a, const char *b)
{
	unsigned char raw[2 * MAIL_CRED_MAX + 2];
	char line[sizeof(raw) / 3 * 4 + 64];
	size_t n = 0, la = strlen(a), lb = b ? strlen(b) : 0, plen = strlen(prefix);
	int enc;

	if (la > MAIL_CRED_MAX || lb > MAIL_CRED_MAX) {
		mail_of(p)->permanent = true;
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_QUIT, "user name or password "
			     "longer than %d bytes", MAIL_CRED_MAX);
		return;
	}
	if (b)
		raw[n++] = '\0';         /* PLAIN: authzid (none) NUL authcid NUL passwd */
	memcpy(raw + n, a, la);
	n += la;
	if (b) {
		raw[n++] = '\0';
		memcpy(raw + n, b, lb);
		n += lb;
	}
	memcpy(line, prefix, plen);
	enc = EVP_EncodeBlock((unsigned char *)line + plen, raw, (int)n);
	memcpy(line + plen + (size_t)enc, "\r\n", 2);
	p->step = step;
	probe_send_secret(p, what, line, plen + (size_t)enc + 2);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(line, sizeof(line));
}

/* After the last EHLO: AUTH if the relay asks and it is safe, else MAIL FROM. */
static void mail_after_ehlo(struct probe *p)
{
	struct mail_send *s = mail_of(p);

	if (s->msg.username && (s->auth & MAIL_AUTH_OFFERED)) {
		s->permanent = true;
		if (!p->tls) {
			probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_QUIT, "relay offers AUTH "
				     "without TLS (no STARTTLS): credentials not sent in clear text");
			return;
		}
		s->permanent = false;
		if (s->auth & MAIL_AUTH_PLAIN) {
			mail_send_b64(p, MAIL_AUTH_PLAIN_SENT, "AUTH reply", "AUTH PLAIN ",
				      s->msg.username, s->msg.password);
			return;
		}
		if (s->auth & MAIL_AUTH_LOGIN) {
			p->step = MAIL_AUTH_LOGIN_SENT;
			probe_send(p, "AUTH reply", "AUTH LOGIN\r\n");
			return;
		}
		s->permanent = true;
		probe_finish(p, CHECK_ERR_PROTOCOL, PROBE_CLOSE_QUIT, "relay offers no AUTH "
			     "mechanism vigil speaks (PLAIN, LOGIN)");
		return;
	}
	p->step = MAIL_FROM;
	probe_send(p, "MAIL reply", "MAIL FROM:<%s>\r\n", s->msg.from);
}

/* A complete reply arrived in state p->step. */
static void mail_reply(struct probe *p, const struct smtp_reply *r)
{
	struct mail_send *s = mail_of(p);

	if (!mail_code_ok(p->step, r->code)) {
		/* credentials refused (5xx): the same ones will not do better */
		s->permanent = mail_step_is_auth(p->step) && r->code >= 500;
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
		mail_after_ehlo(p);
		break;
	case MAIL_STARTTLS:
		probe_starttls(p);
		break;
	case MAIL_AUTH_LOGIN_SENT:
		mail_send_b64(p, MAIL_AUTH_USER_SENT, "AUTH reply", "", s->msg.username, NULL);
		break;
	case MAIL_AUTH_USER_SENT:
		mail_send_b64(p, MAIL_AUTH_PASS_SENT, "AUTH reply", "", s->msg.password, NULL);
		break;
	case MAIL_AUTH_PLAIN_SENT:
	case MAIL_AUTH_PASS_SENT:
		p->step = MAIL_FROM;
		probe_send(p, "MAIL reply", "MAIL FROM:<%s>\r\n", s->msg.from);
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
	if (p->step == MAIL_EHLO) {
		s->starttls_offered = mail_ehlo_offers(p->rbuf, (size_t)n, "STARTTLS");
		s->auth = mail_ehlo_auth(p->rbuf, (size_t)n);
	}
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

static const struct probe_proto mail_proto_tls = {
	.name = "mail",
	.implicit_tls = true,
	.quit = "QUIT\r\n",
	.start = mail_start,
	.input = mail_input,
	.tls_up = mail_send_ehlo,
};

static void mail_probe_done(struct probe *p, enum check_result res, const char *detail)
{
	struct mail_send *s = mail_of(p);

	s->done(s, res == CHECK_OK, res != CHECK_OK && s->permanent, detail, s->arg);
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
	s->conf.verify = msg->verify;
	s->conf.ca_file = (char *)msg->ca_file;
	if (msg->host) {
		s->conf.host = (char *)msg->host;
	} else if (msg->verify) {
		addr_ip_str(&msg->relay, s->relay_ip, sizeof(s->relay_ip));
		s->conf.host = s->relay_ip;
	}
	probe_init(&s->probe, ctx, mail_probe_done);
	probe_start_proto(&s->probe, msg->implicit_tls ? &mail_proto_tls : &mail_proto, &s->conf,
			  &s->msg.relay, NULL);
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
