/* notify.c - notify.exec (posix_spawn into its own process group, timeout,
 * ev_child) and notify.email (mail.c, retried), never blocking the loop.
 */
#include "notify/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checks/probe.h"
#include "common/log.h"
#include "common/util.h"
#include "notify/mail.h"

extern char **environ;

/* A running notify.exec program; its pid is also its process group. */
struct notify_job {
	struct notify *n;
	LIST_ENTRY(notify_job) link;
	pid_t pid;
	bool exited;                  /* the program itself was reaped */
	bool terminating;             /* the timeout fired: SIGTERM sent to the group */
	ev_child child;
	ev_timer timeout;             /* the timeout, then the grace before SIGKILL */
	char *what;
};

/* One e-mail: its attempts and the pause between them. */
struct notify_mail {
	struct notify *n;
	LIST_ENTRY(notify_mail) link;
	struct notify_conf conf;
	char *text;
	char *subject;
	unsigned attempt;
	struct mail_send *send;       /* the attempt in flight (or just ended), or NULL */
	bool ended;                   /* send ended: handle the outcome on the timer */
	bool ok;
	char detail[REPLY_TEXT_MAX];
	ev_timer timer;               /* outcome of an attempt, or the pause before a retry */
};

struct notify {
	struct ev_loop *loop;
	struct probe_ctx *probes;     /* the client core's shared state (TLS, closers) */
	struct notify_conf conf;
	LIST_HEAD(, notify_job) jobs;
	LIST_HEAD(, notify_mail) mails;
};

void notify_conf_copy(struct notify_conf *dst, const struct failover_conf *fc)
{
	memset(dst, 0, sizeof(*dst));
	dst->exec = fc->notify_exec ? xstrdup(fc->notify_exec) : NULL;
	dst->has_email = fc->has_email;
	if (!fc->has_email)
		return;
	dst->smtp = fc->email.smtp;
	dst->from = xstrdup(fc->email.from ? fc->email.from : "vigil@localhost");
	dst->to = xcalloc(fc->email.nto ? fc->email.nto : 1, sizeof(*dst->to));
	for (size_t i = 0; i < fc->email.nto; i++)
		dst->to[i] = xstrdup(fc->email.to[i]);
	dst->nto = fc->email.nto;
}

static void conf_dup(struct notify_conf *dst, const struct notify_conf *src)
{
	*dst = *src;
	dst->exec = src->exec ? xstrdup(src->exec) : NULL;
	dst->from = src->from ? xstrdup(src->from) : NULL;
	dst->to = xcalloc(src->nto ? src->nto : 1, sizeof(*dst->to));
	for (size_t i = 0; i < src->nto; i++)
		dst->to[i] = xstrdup(src->to[i]);
}

void notify_conf_free(struct notify_conf *c)
{
	free(c->exec);
	free(c->from);
	for (size_t i = 0; i < c->nto; i++)
		free(c->to[i]);
	free(c->to);
	memset(c, 0, sizeof(*c));
}

struct notify *notify_new(struct ev_loop *loop)
{
	struct notify *n = xcalloc(1, sizeof(*n));

	n->loop = loop;
	n->probes = probe_ctx_new(loop);
	LIST_INIT(&n->jobs);
	LIST_INIT(&n->mails);
	return n;
}

void notify_apply(struct notify *n, const struct config *cfg)
{
	notify_conf_free(&n->conf);
	if (cfg->has_failover)
		notify_conf_copy(&n->conf, &cfg->failover);
}

/* ---- notify.exec ---- */

static void job_free(struct notify_job *j)
{
	LIST_REMOVE(j, link);
	ev_child_stop(j->n->loop, &j->child);
	ev_timer_stop(j->n->loop, &j->timeout);
	free(j->what);
	free(j);
}

static void job_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct notify_job *j = container_of(w, struct notify_job, child);
	int st = w->rstatus;

	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_info("failover: notify.exec %s: exit 0", j->what);
	else if (WIFEXITED(st))
		log_warning("failover: notify.exec %s: exit %d", j->what, WEXITSTATUS(st));
	else
		log_warning("failover: notify.exec %s: killed by signal %d", j->what,
			    WTERMSIG(st));
	j->exited = true;
	ev_child_stop(loop, w);
	/* after a timeout, what the program started gets its SIGKILL too */
	if (!j->terminating)
		job_free(j);
}

/* The timeout: SIGTERM to the group; after the grace: SIGKILL to the group. */
static void job_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notify_job *j = container_of(w, struct notify_job, timeout);

	if (!j->terminating) {
		log_warning("failover: notify.exec %s: still running after %d ms, killing its "
			    "process group (SIGTERM, SIGKILL after %d ms)", j->what,
			    NOTIFY_EXEC_TIMEOUT_MS, NOTIFY_EXEC_GRACE_MS);
		j->terminating = true;
		kill(-j->pid, SIGTERM);
		ev_timer_set(w, NOTIFY_EXEC_GRACE_MS / 1000.0, 0.);
		ev_timer_start(loop, w);
		return;
	}
	if (kill(-j->pid, SIGKILL) == 0)
		log_warning("failover: notify.exec %s: process group still there after SIGTERM, "
			    "sent SIGKILL", j->what);
	if (j->exited)
		job_free(j);
}

/* The entries notify_exec_env() sets (and drops from the base). */
static const char *const env_ours[] = { "VIGIL_GROUP=", "VIGIL_REASON=" };

static bool env_is_ours(const char *e)
{
	for (size_t i = 0; i < sizeof(env_ours) / sizeof(env_ours[0]); i++)
		if (strncmp(e, env_ours[i], strlen(env_ours[i])) == 0)
			return true;
	return false;
}

char **notify_exec_env(char *const base[], const struct notify_event *ev)
{
	size_t n = 0, k = 0;
	char **env;
	struct buf b;

	while (base && base[n])
		n++;
	env = xcalloc(n + 3, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (!env_is_ours(base[i]))
			env[k++] = xstrdup(base[i]);
	buf_init(&b);
	buf_printf(&b, "VIGIL_GROUP=%u", ev->group);
	env[k++] = xstrdup(b.data);
	buf_reset(&b);
	buf_printf(&b, "VIGIL_REASON=%s", ev->reason ? ev->reason : "");
	env[k++] = xstrdup(b.data);
	buf_free(&b);
	return env;
}

void notify_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* Start path in a new process group with env, signals at their defaults
 * and unblocked, stdin from /dev/null. The pid, or -1 with errno. */
static pid_t spawn_group(const char *path, char *const argv[], char *const env[])
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	sigset_t none, all;
	pid_t pid = -1;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawn(&pid, path, &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return pid;
}

static void run_exec(struct notify *n, const char *path, const struct notify_event *ev)
{
	char *argv[] = { (char *)path, (char *)ev->new_state, (char *)ev->old_state,
			 (char *)ev->node, NULL };
	struct notify_job *j;
	char what[512], **env = notify_exec_env(environ, ev);
	pid_t pid;

	snprintf(what, sizeof(what), "%s %s %s %s (group %u)", path, ev->new_state,
		 ev->old_state, ev->node, ev->group);
	pid = spawn_group(path, argv, env);
	notify_env_free(env);
	if (pid < 0) {
		log_error("failover: notify.exec %s: cannot start: %s", what, strerror(errno));
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->n = n;
	j->pid = pid;
	j->what = xstrdup(what);
	ev_child_init(&j->child, job_child_cb, pid, 0);
	ev_child_start(n->loop, &j->child);
	ev_timer_init(&j->timeout, job_timeout_cb, NOTIFY_EXEC_TIMEOUT_MS / 1000.0, 0.);
	ev_timer_start(n->loop, &j->timeout);
	LIST_INSERT_HEAD(&n->jobs, j, link);
}

/* ---- notify.email ---- */

static void dot_stuff(struct buf *out, const char *text)
{
	bool bol = true;

	for (const char *p = text; *p; p++) {
		if (bol && *p == '.')
			buf_puts(out, ".");
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			buf_puts(out, "\r");
		buf_append(out, p, 1);
		bol = *p == '\n';
	}
	if (!bol)
		buf_puts(out, "\r\n");
}

void notify_mail_text(const struct notify_conf *c, const struct notify_event *ev,
		      struct buf *out)
{
	char when[64], date[64];
	time_t t = (time_t)ev->when;
	struct tm tm;
	struct buf body;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_init(&body);
	buf_printf(&body, "From: %s\n", c->from);
	buf_puts(&body, "To: ");
	for (size_t i = 0; i < c->nto; i++)
		buf_printf(&body, "%s%s", i ? ", " : "", c->to[i]);
	buf_printf(&body, "\nSubject: [vigil] %s group %u: %s -> %s\nDate: %s\n", ev->node,
		   ev->group, ev->old_state, ev->new_state, date);
	buf_puts(&body, "Auto-Submitted: auto-generated\nContent-Type: text/plain; "
		 "charset=utf-8\n\n");
	buf_printf(&body, "node:   %s\ngroup:  %u\nchange: %s -> %s\nreason: %s\ntime:   %s\n",
		   ev->node, ev->group, ev->old_state, ev->new_state, ev->reason, when);
	dot_stuff(out, body.data);
	buf_free(&body);
}

static void mail_free(struct notify_mail *m)
{
	LIST_REMOVE(m, link);
	ev_timer_stop(m->n->loop, &m->timer);
	mail_send_free(m->send);
	notify_conf_free(&m->conf);
	free(m->text);
	free(m->subject);
	free(m);
}

/* From inside the client core: note the outcome, act on it from the loop. */
static void mail_ended(struct mail_send *s, bool ok, const char *detail, void *arg)
{
	struct notify_mail *m = arg;

	m->ended = true;
	m->ok = ok;
	snprintf(m->detail, sizeof(m->detail), "%s", detail);
	ev_timer_set(&m->timer, 0., 0.);
	ev_timer_start(m->n->loop, &m->timer);
}

/* An attempt ended: delivered, retry later, or give up. */
static void mail_outcome(struct notify_mail *m)
{
	char relay[ADDR_STRLEN];

	m->ended = false;
	mail_send_free(m->send);
	m->send = NULL;
	addr_str(&m->conf.smtp, relay, sizeof(relay));
	if (m->ok) {
		log_info("failover: notify.email \"%s\" to %zu recipient%s via %s: delivered (%s)",
			 m->subject, m->conf.nto, m->conf.nto == 1 ? "" : "s", relay, m->detail);
		mail_free(m);
		return;
	}
	if (m->attempt >= NOTIFY_SMTP_TRIES) {
		log_error("failover: notify.email \"%s\" via %s: %s; giving up after %u attempts",
			  m->subject, relay, m->detail, m->attempt);
		mail_free(m);
		return;
	}
	log_warning("failover: notify.email \"%s\" via %s: %s; retrying in %d ms", m->subject,
		    relay, m->detail, NOTIFY_SMTP_RETRY_MS);
	ev_timer_set(&m->timer, NOTIFY_SMTP_RETRY_MS / 1000.0, 0.);
	ev_timer_start(m->n->loop, &m->timer);
}

static void mail_attempt(struct notify_mail *m)
{
	struct mail_msg msg = { .relay = m->conf.smtp, .from = m->conf.from, .to = m->conf.to,
				.nto = m->conf.nto, .text = m->text };

	m->attempt++;
	m->send = mail_send_start(m->n->probes, &msg, NOTIFY_SMTP_TIMEOUT_MS, mail_ended, m);
}

static void mail_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notify_mail *m = container_of(w, struct notify_mail, timer);

	if (m->ended)
		mail_outcome(m);
	else
		mail_attempt(m);
}

static void send_mail(struct notify *n, const struct notify_conf *c,
		      const struct notify_event *ev)
{
	struct notify_mail *m = xcalloc(1, sizeof(*m));
	struct buf text, subj;

	m->n = n;
	conf_dup(&m->conf, c);
	buf_init(&text);
	notify_mail_text(c, ev, &text);
	m->text = xstrdup(text.data ? text.data : "");
	buf_free(&text);
	buf_init(&subj);
	buf_printf(&subj, "%s group %u: %s -> %s", ev->node, ev->group, ev->old_state,
		   ev->new_state);
	m->subject = xstrdup(subj.data);
	buf_free(&subj);
	ev_timer_init(&m->timer, mail_timer_cb, 0., 0.);
	LIST_INSERT_HEAD(&n->mails, m, link);
	mail_attempt(m);
}

/* ---- both ---- */

void notify_send(struct notify *n, const struct notify_event *ev)
{
	if (!n)
		return;
	if (n->conf.exec)
		run_exec(n, n->conf.exec, ev);
	if (n->conf.has_email && n->conf.nto)
		send_mail(n, &n->conf, ev);
}

size_t notify_pending(const struct notify *n)
{
	const struct notify_job *j;
	const struct notify_mail *m;
	size_t k = 0;

	LIST_FOREACH(j, &n->jobs, link)
		k++;
	LIST_FOREACH(m, &n->mails, link)
		k++;
	return k;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	while (!LIST_EMPTY(&n->jobs)) {
		kill(-LIST_FIRST(&n->jobs)->pid, SIGKILL);
		job_free(LIST_FIRST(&n->jobs));
	}
	while (!LIST_EMPTY(&n->mails))
		mail_free(LIST_FIRST(&n->mails));
	probe_ctx_free(n->probes);
	notify_conf_free(&n->conf);
	free(n);
}
