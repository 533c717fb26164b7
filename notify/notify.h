/* notify.h - tell people about failover state changes: a program run with
 * argv (NEW_STATE OLD_STATE NODE) and VIGIL_GROUP / VIGIL_REASON in its
 * environment, and an e-mail through an SMTP relay (the group in its
 * subject and body).
 * Never blocks the loop. The program runs in a process group of its own,
 * reaped with ev_child; after NOTIFY_EXEC_TIMEOUT_MS the whole group gets
 * SIGTERM, and SIGKILL NOTIFY_EXEC_GRACE_MS later, so nothing it started
 * outlives it. The mail goes through the outbound client core (mail.h), with
 * a few retries.
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

/* A copy of failover.notify, owned by whoever holds it. */
struct notify_conf {
	char *exec;                   /* NULL: none */
	bool has_email;
	struct addr smtp;
	char *from;
	char **to;
	size_t nto;
};

struct notify;

/* One state change, as the notifications describe it. */
struct notify_event {
	const char *node;
	const char *new_state;
	const char *old_state;
	const char *reason;
	double when;                  /* wall clock, seconds */
	uint32_t group;               /* the failover group that changed */
};

void notify_conf_copy(struct notify_conf *dst, const struct failover_conf *fc);
void notify_conf_free(struct notify_conf *c);

struct notify *notify_new(struct ev_loop *loop);
/* Kill running programs (their process groups), abandon mail in flight,
 * free. NULL is fine. */
void notify_free(struct notify *n);
/* Take cfg's failover.notify settings (start-up and reload); programs and
 * mails in flight keep the settings they started with. */
void notify_apply(struct notify *n, const struct config *cfg);
/* Start the program and the e-mail that the settings ask for; returns at once. */
void notify_send(struct notify *n, const struct notify_event *ev);
/* Programs and mails still in flight (for tests and status). */
size_t notify_pending(const struct notify *n);

/* Pure: the program's environment, base (e.g. environ) without any
 * VIGIL_GROUP= or VIGIL_REASON= of its own, then VIGIL_GROUP=<group> and
 * VIGIL_REASON=<reason>. NULL-terminated; free with notify_env_free(). */
char **notify_exec_env(char *const base[], const struct notify_event *ev);
void notify_env_free(char **env);

/* Pure: the mail (headers and body, CRLF line ends, dot-stuffed, without the
 * final "."), into out. */
void notify_mail_text(const struct notify_conf *c, const struct notify_event *ev,
		      struct buf *out);

#endif
