/* notify.h - the outbox of notifications: programs run with a timeout and
 * mails through an SMTP relay, never blocking the loop. Two owners use it:
 * failover.notify (notify_send: a program run with argv NEW_STATE OLD_STATE
 * NODE and VIGIL_GROUP / VIGIL_REASON in its environment, and one mail per
 * state change naming the group) and the alerts (alerts.h: one program
 * run and one mail per batch, through notify_run and notify_mail).
 *
 * A program runs in a process group of its own, reaped with ev_child; after
 * NOTIFY_EXEC_TIMEOUT_MS the whole group gets SIGTERM, and SIGKILL
 * NOTIFY_EXEC_GRACE_MS later, so nothing it started outlives it. A mail goes
 * through the outbound client core (mail.h), with NOTIFY_SMTP_TRIES attempts
 * unless a failure is permanent (credentials refused, or never to be sent in
 * clear text): that is logged once, and not again until a mail goes through.
 */
#ifndef VIGIL_NOTIFY_H
#define VIGIL_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/addr.h"
#include "common/buf.h"
#include "config/config.h"

#define NOTIFY_EXEC_TIMEOUT_MS 10000
#define NOTIFY_EXEC_GRACE_MS 2000
#define NOTIFY_SMTP_TIMEOUT_MS 10000
#define NOTIFY_SMTP_TRIES 3
#define NOTIFY_SMTP_RETRY_MS 2000
#define NOTIFY_PASSWORD_MAX 1023      /* bytes of an SMTP AUTH password */

/* Where notifications go (failover.notify or alerts), with the password read
 * from email.password_file; owned by whoever holds it. */
struct notify_conf {
	char *exec;                   /* NULL: none */
	bool has_email;
	struct addr smtp;
	char *from;
	char **to;
	size_t nto;
	char *username;               /* SMTP AUTH, NULL: none */
	char *password;               /* with username; wiped when freed */
	bool implicit_tls;            /* email.tls: implicit */
	bool verify;                  /* check the relay's certificate */
	char *ca_file;                /* NULL: the system store */
	char *host;                   /* the name to check, NULL: the relay's IP */
};

struct notify;

/* One failover state change, as its notifications describe it. */
struct notify_event {
	const char *node;
	const char *new_state;
	const char *old_state;
	const char *reason;
	double when;                  /* wall clock, seconds */
	uint32_t group;               /* the failover group that changed */
};

/* The end of one program run (exit 0) or one mail (delivered, or given up). */
typedef void notify_done_fn(void *arg, bool ok);

/* Fill dst from exec and email settings (has_email: e is given), reading
 * e->password_file: 0, or -1 with err (dst is then empty). */
int notify_conf_load(struct notify_conf *dst, const char *exec, bool has_email,
		     const struct email_conf *e, char *err, size_t errlen);
void notify_conf_free(struct notify_conf *c);
/* Read an SMTP AUTH password: the file's first line (a final LF or CRLF
 * dropped), 1..NOTIFY_PASSWORD_MAX bytes, no NUL. 0, or -1 with err. */
int notify_password_read(const char *path, char **out, char *err, size_t errlen);

/* name: how its log lines start ("failover: notify" gives "failover:
 * notify.exec ...", "alerts" gives "alerts.exec ..."); kept, not copied. */
struct notify *notify_new(struct ev_loop *loop, const char *name);
/* Kill running programs (their process groups), abandon mail in flight
 * (their done functions are not called), free. NULL is fine. */
void notify_free(struct notify *n);
/* Take c's settings (c is left empty); programs and mails in flight keep
 * the settings they started with. */
void notify_set_conf(struct notify *n, struct notify_conf *c);
const struct notify_conf *notify_get_conf(const struct notify *n);

/* Run argv[0] with argv, the environment plus env (NULL-terminated
 * "KEY=VALUE" entries, overriding), and input on its stdin (NULL: /dev/null).
 * what names it in the log. done (may be NULL) gets the outcome. */
void notify_run(struct notify *n, char *const argv[], char *const env[], const char *input,
		const char *what, notify_done_fn *done, void *arg);
/* Send text (mail_text.h: headers, body, CRLF, dot-stuffed) to the
 * configured recipients; subject and msgid name it in the log. done (may be
 * NULL) gets the outcome. Nothing happens (done(arg, false)) without email. */
void notify_mail(struct notify *n, const char *subject, const char *msgid, const char *text,
		 notify_done_fn *done, void *arg);

/* A new Message-ID for a mail from this outbox (mail_message_id: from's
 * domain, random part, sequence). */
void notify_message_id(struct notify *n, double when, char *buf, size_t len);

/* Pure: base (e.g. environ) without the keys env sets, then env; the
 * entries are borrowed: free the array only. */
char **notify_env_merge(char *const base[], char *const env[]);

/* failover.notify: start the program (VIGIL_GROUP and VIGIL_REASON in its
 * environment) and the mail (the group in its subject and body) for one
 * state change. */
void notify_send(struct notify *n, const struct notify_event *ev);
/* Programs and mails still in flight (for tests and status). */
size_t notify_pending(const struct notify *n);

/* Pure: the failover mail (headers and body, CRLF line ends, dot-stuffed,
 * without the final "."), into out; msgid as mail_message_id() makes it. */
void notify_mail_text(const struct notify_conf *c, const struct notify_event *ev,
		      const char *msgid, struct buf *out);

#endif
