/* notify.c - notify.exec (fork/exec with argv, timeout, ev_child) and
 * notify.email (smtp.c, retried), never blocking the loop.
 */
#include "vip/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "vip/smtp.h"

/* A running notify.exec program. */
struct notify_job {
	struct notify *n;
	struct notify_job *next;
	pid_t pid;
	ev_child child;
	ev_timer timeout;
	char *what;
};

/* One e-mail: its attempts and the pause between them. */
struct notify_mail {
	struct notify *n;
	struct notify_mail *next;
	struct notify_conf conf;
	char *text;
	char *subject;
	unsigned attempt;
	struct smtp *smtp;            /* the attempt in flight, or NULL */
	ev_timer retry;
};

struct notify {
	struct ev_loop *loop;
	struct notify_job *jobs;
	struct notify_mail *mails;
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
	return n;
}

/* ---- notify.exec ---- */

static void job_free(struct notify_job *j)
{
	struct notify_job **pp;

	for (pp = &j->n->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
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
	job_free(j);
}

static void job_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notify_job *j = container_of(w, struct notify_job, timeout);

	log_warning("failover: notify.exec %s: still running after %d ms, killing it", j->what,
		    NOTIFY_EXEC_TIMEOUT_MS);
	kill(j->pid, SIGKILL);
}

/* In the child: plain signals, stdin from /dev/null, then exec. */
static void __attribute__((noreturn)) exec_child(const char *path, char *const argv[])
{
	sigset_t none;
	int fd = open("/dev/null", O_RDONLY);

	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fd >= 0) {
		dup2(fd, 0);
		if (fd > 2)
			close(fd);
	}
	setpgid(0, 0);
	execv(path, argv);
	fprintf(stderr, "notify.exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

static void run_exec(struct notify *n, const char *path, const struct notify_event *ev)
{
	char *argv[] = { (char *)path, (char *)ev->new_state, (char *)ev->old_state,
			 (char *)ev->node, NULL };
	struct notify_job *j;
	char what[512];
	pid_t pid;

	snprintf(what, sizeof(what), "%s %s %s %s", path, ev->new_state, ev->old_state, ev->node);
	pid = fork();
	if (pid < 0) {
		log_error("failover: notify.exec %s: fork: %s", what, strerror(errno));
		return;
	}
	if (pid == 0)
		exec_child(path, argv);
	j = xcalloc(1, sizeof(*j));
	j->n = n;
	j->pid = pid;
	j->what = xstrdup(what);
	ev_child_init(&j->child, job_child_cb, pid, 0);
	ev_child_start(n->loop, &j->child);
	ev_timer_init(&j->timeout, job_timeout_cb, NOTIFY_EXEC_TIMEOUT_MS / 1000.0, 0.);
	ev_timer_start(n->loop, &j->timeout);
	j->next = n->jobs;
	n->jobs = j;
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
	buf_printf(&body, "\nSubject: [vigil] %s: %s -> %s\nDate: %s\n", ev->node,
		   ev->old_state, ev->new_state, date);
	buf_puts(&body, "Auto-Submitted: auto-generated\nContent-Type: text/plain; "
		 "charset=utf-8\n\n");
	buf_printf(&body, "node:   %s\nchange: %s -> %s\nreason: %s\ntime:   %s\n", ev->node,
		   ev->old_state, ev->new_state, ev->reason, when);
	dot_stuff(out, body.data);
	buf_free(&body);
}

static void mail_free(struct notify_mail *m)
{
	struct notify_mail **pp;

	for (pp = &m->n->mails; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	ev_timer_stop(m->n->loop, &m->retry);
	smtp_abort(m->smtp);
	notify_conf_free(&m->conf);
	free(m->text);
	free(m->subject);
	free(m);
}

static void mail_attempt(struct notify_mail *m);

static void mail_done(bool ok, const char *detail, void *arg)
{
	struct notify_mail *m = arg;
	char relay[ADDR_STRLEN];

	m->smtp = NULL;
	addr_str(&m->conf.smtp, relay, sizeof(relay));
	if (ok) {
		log_info("failover: notify.email \"%s\" to %zu recipient%s via %s: delivered",
			 m->subject, m->conf.nto, m->conf.nto == 1 ? "" : "s", relay);
		mail_free(m);
		return;
	}
	if (m->attempt >= NOTIFY_SMTP_TRIES) {
		log_error("failover: notify.email \"%s\" via %s: %s; giving up after %u attempts",
			  m->subject, relay, detail, m->attempt);
		mail_free(m);
		return;
	}
	log_warning("failover: notify.email \"%s\" via %s: %s; retrying in %d ms", m->subject,
		    relay, detail, NOTIFY_SMTP_RETRY_MS);
	ev_timer_set(&m->retry, NOTIFY_SMTP_RETRY_MS / 1000.0, 0.);
	ev_timer_start(m->n->loop, &m->retry);
}

static void mail_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	mail_attempt(container_of(w, struct notify_mail, retry));
}

static void mail_attempt(struct notify_mail *m)
{
	char err[256];

	m->attempt++;
	m->smtp = smtp_start(m->n->loop, &m->conf.smtp, m->conf.from, m->conf.to, m->conf.nto,
			     m->text, NOTIFY_SMTP_TIMEOUT_MS, mail_done, m, err, sizeof(err));
	if (!m->smtp)
		mail_done(false, err, m);
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
	buf_printf(&subj, "%s: %s -> %s", ev->node, ev->old_state, ev->new_state);
	m->subject = xstrdup(subj.data);
	buf_free(&subj);
	ev_timer_init(&m->retry, mail_retry_cb, 0., 0.);
	m->next = n->mails;
	n->mails = m;
	mail_attempt(m);
}

/* ---- both ---- */

void notify_send(struct notify *n, const struct notify_conf *c, const struct notify_event *ev)
{
	if (!n)
		return;
	if (c->exec)
		run_exec(n, c->exec, ev);
	if (c->has_email && c->nto)
		send_mail(n, c, ev);
}

size_t notify_pending(const struct notify *n)
{
	size_t k = 0;

	for (struct notify_job *j = n->jobs; j; j = j->next)
		k++;
	for (struct notify_mail *m = n->mails; m; m = m->next)
		k++;
	return k;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	while (n->jobs) {
		kill(n->jobs->pid, SIGKILL);
		job_free(n->jobs);
	}
	while (n->mails)
		mail_free(n->mails);
	free(n);
}
