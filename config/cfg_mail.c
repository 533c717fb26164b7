/* cfg_mail.c - the mail settings shared by failover.notify.email and
 * alerts.email (relay, addresses, SMTP AUTH, TLS), and the alerts section.
 * The password file is not opened here (as with every file the
 * configuration names): the daemon reads it at start and reload.
 */
#include "config/cfg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"

#define MAIL_ADDR_MAX 254        /* RFC 5321's path limit, without the brackets */

static const char *const email_tls_names[] = { "starttls", "implicit", NULL };

bool cfg_mail_addr_ok(const char *s)
{
	const char *at = strrchr(s, '@');
	size_t len = strlen(s);

	if (!at || at == s || !at[1] || len > MAIL_ADDR_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>()[]\\,;:\"", *p))
			return false;
	return strchr(s, '@') == at;
}

/* An address scalar into *dst. */
static void fld_addr(struct cfg_ctx *c, const struct ynode *v, const char *path,
		     const struct cfg_field *f, void *dst)
{
	char **sp = dst, shown[MAIL_ADDR_MAX + 1];

	if (!cfg_want_scalar(c, v, path, f->what))
		return;
	if (!cfg_mail_addr_ok(v->text)) {
		text_clean(shown, sizeof(shown), v->text, strlen(v->text));
		errlist_at(c->el, v, path, "\"%s\" is not an e-mail address (expected %s)",
			   shown, f->what);
		return;
	}
	free(*sp);
	*sp = xstrdup(v->text);
}

static void fld_to(struct cfg_ctx *c, const struct ynode *v, const char *path,
		   const struct cfg_field *f, void *dst)
{
	static const struct cfg_field item = { .fn = fld_addr,
					       .what = "an e-mail address, e.g. ops@example.com" };
	struct email_conf *e = dst;

	cfg_fld_list(c, v, path, f->what, &item, &e->to, &e->nto);
}

/* A user name for AUTH: printable ASCII, no blanks (it travels base64'd,
 * but a blank is a typo far more often than a real user name). */
static void fld_username(struct cfg_ctx *c, const struct ynode *v, const char *path,
			 const struct cfg_field *f, void *dst)
{
	if (!cfg_want_scalar(c, v, path, f->what))
		return;
	for (const char *p = v->text; *p; p++)
		if (*p <= ' ' || *p >= 0x7f) {
			errlist_at(c->el, v, path, "\"%s\" holds a blank or a control character "
				   "(expected %s)", v->text, f->what);
			return;
		}
	cfg_fld_str(c, v, path, f, dst);
}

static const struct cfg_field email_fields[] = {
	{ .key = "smtp", .fn = cfg_fld_hostport, .off = offsetof(struct email_conf, smtp),
	  .required = true, .what = "IP:PORT of the mail relay, e.g. 198.51.100.25:25" },
	{ .key = "from", .fn = fld_addr, .off = offsetof(struct email_conf, from),
	  .required = true, .what = "an e-mail address, e.g. vigil@example.com" },
	{ .key = "to", .fn = fld_to, .required = true,
	  .what = "a list of e-mail addresses, e.g. [ops@example.com]" },
	{ .key = "username", .fn = fld_username, .max = 255,
	  .off = offsetof(struct email_conf, username), .what = "an SMTP AUTH user name" },
	{ .key = "password_file", .fn = cfg_fld_str,
	  .off = offsetof(struct email_conf, password_file),
	  .what = "the path of a file holding the SMTP AUTH password" },
	{ .key = "tls", .fn = cfg_fld_enum, .off = offsetof(struct email_conf, tls),
	  .names = email_tls_names, .what = "TLS mode" },
	{ .key = "verify", .fn = cfg_fld_bool, .off = offsetof(struct email_conf, verify),
	  .what = "true or false" },
	{ .key = "ca_file", .fn = cfg_fld_str, .off = offsetof(struct email_conf, ca_file),
	  .what = "a file of CA certificates" },
	{ .key = "host", .fn = cfg_fld_str, .max = 253,
	  .off = offsetof(struct email_conf, host),
	  .what = "the relay's host name as its certificate names it" },
	{ 0 },
};

void cfg_email_walk(struct cfg_ctx *c, const struct ynode *v, const char *path,
		    struct email_conf *e)
{
	char kpath[256];

	cfg_walk_map(c, v, path, email_fields, e);
	if (v->kind != YNODE_MAP)
		return;
	if (e->username && !e->password_file) {
		cfg_path_key(kpath, sizeof(kpath), path, "username");
		errlist_at(c->el, ymap_key(v, "username"), kpath, "needs password_file (expected "
			   "the password in a file of its own, never in this file)");
	}
	if (e->password_file && !e->username) {
		cfg_path_key(kpath, sizeof(kpath), path, "password_file");
		errlist_at(c->el, ymap_key(v, "password_file"), kpath, "needs username (expected "
			   "the SMTP AUTH user name beside it)");
	}
	if (!e->verify && (ymap_get(v, "ca_file") || ymap_get(v, "host"))) {
		const char *k = ymap_get(v, "ca_file") ? "ca_file" : "host";

		cfg_path_key(kpath, sizeof(kpath), path, k);
		errlist_at(c->el, ymap_key(v, k), kpath, "only with verify: true (expected "
			   "verify: true to check the relay's certificate)");
	}
	if (ymap_get(v, "password")) {
		cfg_path_key(kpath, sizeof(kpath), path, "password");
		errlist_at(c->el, ymap_key(v, "password"), kpath, "a password is never written "
			   "in the configuration (expected password_file: a file holding it)");
	}
}

void cfg_email_clear(struct email_conf *e)
{
	free(e->from);
	for (size_t i = 0; i < e->nto; i++)
		free(e->to[i]);
	free(e->to);
	free(e->username);
	free(e->password_file);
	free(e->ca_file);
	free(e->host);
	memset(e, 0, sizeof(*e));
}

/* ---- alerts ---- */

static void fld_alerts_email(struct cfg_ctx *c, const struct ynode *v, const char *path,
			     const struct cfg_field *f, void *dst)
{
	struct alerts_conf *a = dst;

	a->has_email = true;
	cfg_email_walk(c, v, path, &a->email);
}

static const struct cfg_field alerts_fields[] = {
	{ .key = "exec", .fn = cfg_fld_str, .off = offsetof(struct alerts_conf, exec),
	  .what = "a program path" },
	{ .key = "email", .fn = fld_alerts_email,
	  .what = "a map with smtp, from, to, username, password_file, tls" },
	{ .key = "batch", .fn = cfg_fld_duration, .off = offsetof(struct alerts_conf, batch_ms),
	  .min = 100, .max = 3600000, .what = "a duration of 100ms..1h, e.g. 10s" },
	{ .key = "max_per_hour", .fn = cfg_fld_u32,
	  .off = offsetof(struct alerts_conf, max_per_hour), .min = 1, .max = 3600,
	  .what = "an integer 1..3600" },
	{ 0 },
};

void cfg_alerts_load(struct cfg_ctx *c, const struct ynode *v, struct config *cfg)
{
	struct alerts_conf *a = &cfg->alerts;

	cfg->has_alerts = true;
	cfg_walk_map(c, v, "alerts", alerts_fields, a);
	if (v->kind == YNODE_MAP && !a->exec && !a->has_email)
		errlist_at(c->el, v, "alerts", "nothing to deliver to (expected exec, email or "
			   "both)");
}

void cfg_alerts_builtin(struct alerts_conf *a)
{
	memset(a, 0, sizeof(*a));
	a->batch_ms = 10000;
	a->max_per_hour = 30;
}

void cfg_alerts_clear(struct alerts_conf *a)
{
	free(a->exec);
	cfg_email_clear(&a->email);
	memset(a, 0, sizeof(*a));
}
