/* notify.c - the outbox: programs (posix_spawn into their own process group,
 * timeout, ev_child) and mails (mail.c, retried), never blocking the loop;
 * and failover.notify on top of them.
 */
#include "notify/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "checks/probe.h"
#include "common/log.h"
#include "common/util.h"
#include "notify/mail.h"
#include "notify/mail_text.h"

extern char **environ;

/* A running program; its pid is also its process group. */
struct notify_job {
	struct notify *n;
	LIST_ENTRY(notify_job) link;
	pid_t pid;
	bool exited;                  /* the program itself was reaped */
	bool terminating;             /* the timeout fired: SIGTERM sent to the group */
	bool ok;                      /* exit 0 */
	ev_child child;
	ev_timer timeout;             /* the timeout, then the grace before SIGKILL */
	char *what;
	notify_done_fn *done;
	void *arg;
};

/* One e-mail: its attempts and the pause between them. */
struct notify_mail {
	struct notify *n;
	LIST_ENTRY(notify_mail) link;
	struct notify_conf conf;
	char *text;
	char *subject;
	char *msgid;
	unsigned attempt;
	struct mail_send *send;       /* the attempt in flight (or just ended), or NULL */
	bool ended;                   /* send ended: handle the outcome on the timer */
	bool ok;
	bool permanent;
	char detail[REPLY_TEXT_MAX];
	ev_timer timer;               /* outcome of an attempt, or the pause before a retry */
	notify_done_fn *done;
	void *arg;
};

struct notify {
	struct ev_loop *loop;
	const char *name;             /* "failover: notify", "alerts" */
	struct probe_ctx *probes;     /* the client core's shared state (TLS, closers) */
	struct notify_conf conf;
	uint64_t mails;               /* Message-ID sequence */
	char quiet[REPLY_TEXT_MAX];   /* the permanent failure logged once, "" when none */
	LIST_HEAD(, notify_job) jobs;
	LIST_HEAD(, notify_mail) mails_out;
};

/* ---- settings ---- */

int notify_password_read(const char *path, char **out, char *err, size_t errlen)
{
	char buf[NOTIFY_PASSWORD_MAX + 2];
	size_t n = 0, len;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	if (fd < 0) {
		snprintf(err, errlen, "email.password_file %s: cannot read: %s", path,
			 strerror(errno));
		return -1;
	}
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "email.password_file %s: cannot read: %s", path,
				 strerror(errno));
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			return -1;
		}
		n += (size_t)r;
	}
	close(fd);
	len = 0;
	while (len < n && buf[len] != '\n')
		len++;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || len > NOTIFY_PASSWORD_MAX || memchr(buf, '\0', len)) {
		snprintf(err, errlen, "email.password_file %s: %s (expected the password on its "
			 "first line, 1..%d bytes)", path, len == 0 ? "empty" : len >
			 NOTIFY_PASSWORD_MAX ? "too long" : "holds a NUL byte", NOTIFY_PASSWORD_MAX);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	*out = xmalloc(len + 1);
	memcpy(*out, buf, len);
	(*out)[len] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

int notify_conf_load(struct notify_conf *dst, const char *exec, bool has_email,
		     const struct email_conf *e, char *err, size_t errlen)
{
	memset(dst, 0, sizeof(*dst));
	dst->exec = exec ? xstrdup(exec) : NULL;
	dst->has_email = has_email;
	if (!has_email)
		return 0;
	dst->smtp = e->smtp;
	dst->from = xstrdup(e->from ? e->from : "vigil@localhost");
	dst->to = xcalloc(e->nto ? e->nto : 1, sizeof(*dst->to));
	for (size_t i = 0; i < e->nto; i++)
		dst->to[i] = xstrdup(e->to[i]);
	dst->nto = e->nto;
	dst->implicit_tls = e->tls == EMAIL_TLS_IMPLICIT;
	dst->verify = e->verify;
	dst->ca_file = e->ca_file ? xstrdup(e->ca_file) : NULL;
	dst->host = e->host ? xstrdup(e->host) : NULL;
	if (!e->username)
		return 0;
	dst->username = xstrdup(e->username);
	if (notify_password_read(e->password_file, &dst->password, err, errlen) < 0) {
		notify_conf_free(dst);
		return -1;
	}
	return 0;
}

static void conf_dup(struct notify_conf *dst, const struct notify_conf *src)
{
	*dst = *src;
	dst->exec = src->exec ? xstrdup(src->exec) : NULL;
	dst->from = src->from ? xstrdup(src->from) : NULL;
	dst->to = xcalloc(src->nto ? src->nto : 1, sizeof(*dst->to));
	for (size_t i = 0; i < src->nto; i++)
		dst->to[i] = xstrdup(src->to[i]);
	dst->username = src->username ? xstrdup(src->username) : NULL;
	dst->password = src->password ? xstrdup(src->password) : NULL;
	dst->ca_file = src->ca_file ? xstrdup(src->ca_file) : NULL;
	dst->host = src->host ? xstrdup(src->host) : NULL;
}

void notify_conf_free(struct notify_conf *c)
{
	free(c->exec);
	free(c->from);
	for (size_t i = 0; i < c->nto; i++)
		free(c->to[i]);
	free(c->to);
	free(c->username);
	if (c->password)
		OPENSSL_cleanse(c->password, strlen(c->password));
	free(c->password);
	free(c->ca_file);
	free(c->host);
	memset(c, 0, sizeof(*c));
}

struct notify *notify_new(struct ev_loop *loop, const char *name)
{
	struct notify *n = xcalloc(1, sizeof(*n));

	n->loop = loop;
	n->name = name;
	n->probes = probe_ctx_new(loop);
	LIST_INIT(&n->jobs);
	LIST_INIT(&n->mails_out);
	return n;
}

void notify_set_conf(struct notify *n, struct notify_conf *c)
{
	notify_conf_free(&n->conf);
	n->conf = *c;
	memset(c, 0, sizeof(*c));
}

const struct notify_conf *notify_get_conf(const struct notify *n)
{
	return &n->conf;
}

/* ---- programs ---- */

static void job_free(struct notify_job *j)
{
	LIST_REMOVE(j, link);
	ev_child_stop(j->n->loop, &j->child);
	ev_timer_stop(j->n->loop, &j->timeout);
	free(j->what);
	free(j);
}

/* The job is over (the program reaped, its group killed if it timed out). */
static void job_end(struct notify_job *j)
{
	notify_done_fn *done = j->done;
	void *arg = j->arg;
	bool ok = j->ok;

	job_free(j);
	if (done)
		done(arg, ok);
}

static void job_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct notify_job *j = container_of(w, struct notify_job, child);
	int st = w->rstatus;

	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_info("%s.exec %s: exit 0", j->n->name, j->what);
	else if (WIFEXITED(st))
		log_warning("%s.exec %s: exit %d", j->n->name, j->what, WEXITSTATUS(st));
	else
		log_warning("%s.exec %s: killed by signal %d", j->n->name, j->what,
			    WTERMSIG(st));
	j->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	j->exited = true;
	ev_child_stop(loop, w);
	/* after a timeout, what the program started gets its SIGKILL too:
	 * the job ends when the grace timer sent it (or now, if it did) */
	if (!j->terminating || !ev_is_active(&j->timeout))
		job_end(j);
}

/* The timeout: SIGTERM to the group; after the grace: SIGKILL to the group. */
static void job_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notify_job *j = container_of(w, struct notify_job, timeout);

	if (!j->terminating) {
		log_warning("%s.exec %s: still running after %d ms, killing its process group "
			    "(SIGTERM, SIGKILL after %d ms)", j->n->name, j->what,
			    NOTIFY_EXEC_TIMEOUT_MS, NOTIFY_EXEC_GRACE_MS);
		j->terminating = true;
		kill(-j->pid, SIGTERM);
		ev_timer_set(w, NOTIFY_EXEC_GRACE_MS / 1000.0, 0.);
		ev_timer_start(loop, w);
		return;
	}
	if (kill(-j->pid, SIGKILL) == 0)
		log_warning("%s.exec %s: process group still there after SIGTERM, sent SIGKILL",
			    j->n->name, j->what);
	if (j->exited)
		job_end(j);
}

/* input in an anonymous file, read from its start: the child's stdin, with
 * no pipe to feed from the loop. The fd, or -1 with errno. */
static int input_fd(const char *input)
{
	size_t len = strlen(input), off = 0;
	int fd = memfd_create("vigil-notify", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t r = write(fd, input + off, len - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		off += (size_t)r;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

char **notify_env_merge(char *const base[], char *const env[])
{
	size_t ne = 0, nx = 0, k = 0;
	char **out;

	while (base && base[ne])
		ne++;
	while (env && env[nx])
		nx++;
	out = xcalloc(ne + nx + 1, sizeof(*out));
	for (size_t i = 0; i < ne; i++) {
		bool overridden = false;

		for (size_t x = 0; x < nx && !overridden; x++) {
			size_t kl = strcspn(env[x], "=");

			overridden = strncmp(base[i], env[x], kl) == 0 && base[i][kl] == '=';
		}
		if (!overridden)
			out[k++] = base[i];
	}
	for (size_t x = 0; x < nx; x++)
		out[k++] = env[x];
	return out;
}

/* Start argv[0] in a new process group, signals at their defaults and
 * unblocked, stdin from infd (or /dev/null when -1). The pid, or -1 with errno. */
static pid_t spawn_group(char *const argv[], char *const envp[], int infd)
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
	if (infd >= 0)
		posix_spawn_file_actions_adddup2(&fa, infd, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return pid;
}

void notify_run(struct notify *n, char *const argv[], char *const env[], const char *input,
		const char *what, notify_done_fn *done, void *arg)
{
	struct notify_job *j;
	char **envp = notify_env_merge(environ, env);
	int infd = input ? input_fd(input) : -1;
	pid_t pid = -1;

	if (!input || infd >= 0)
		pid = spawn_group(argv, envp, infd);
	if (infd >= 0)
		close(infd);
	free(envp);
	if (pid < 0) {
		log_error("%s.exec %s: cannot start: %s", n->name, what, strerror(errno));
		if (done)
			done(arg, false);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->n = n;
	j->pid = pid;
	j->what = xstrdup(what);
	j->done = done;
	j->arg = arg;
	ev_child_init(&j->child, job_child_cb, pid, 0);
	ev_child_start(n->loop, &j->child);
	ev_timer_init(&j->timeout, job_timeout_cb, NOTIFY_EXEC_TIMEOUT_MS / 1000.0, 0.);
	ev_timer_start(n->loop, &j->timeout);
	LIST_INSERT_HEAD(&n->jobs, j, link);
}

/* ---- mails ---- */

static void mail_free(struct notify_mail *m)
{
	LIST_REMOVE(m, link);
	ev_timer_stop(m->n->loop, &m->timer);
	mail_send_free(m->send);
	notify_conf_free(&m->conf);
	free(m->text);
	free(m->subject);
	free(m->msgid);
	free(m);
}

static void mail_end(struct notify_mail *m, bool ok)
{
	notify_done_fn *done = m->done;
	void *arg = m->arg;

	mail_free(m);
	if (done)
		done(arg, ok);
}

/* From inside the client core: note the outcome, act on it from the loop. */
static void mail_ended(struct mail_send *s, bool ok, bool permanent, const char *detail,
		       void *arg)
{
	struct notify_mail *m = arg;

	m->ended = true;
	m->ok = ok;
	m->permanent = permanent;
	snprintf(m->detail, sizeof(m->detail), "%s", detail);
	ev_timer_set(&m->timer, 0., 0.);
	ev_timer_start(m->n->loop, &m->timer);
}

/* A failure that trying again cannot mend: logged once until a mail goes through. */
static void mail_permanent(struct notify_mail *m, const char *relay)
{
	struct notify *n = m->n;

	if (strcmp(n->quiet, m->detail) == 0) {
		log_debug("%s.email \"%s\" via %s: %s (again)", n->name, m->subject, relay,
			  m->detail);
		return;
	}
	snprintf(n->quiet, sizeof(n->quiet), "%s", m->detail);
	log_error("%s.email \"%s\" via %s: %s; not retried (logged once: the same failure "
		  "again is not logged until a mail goes through)", n->name, m->subject, relay,
		  m->detail);
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
		m->n->quiet[0] = '\0';
		log_info("%s.email \"%s\" %s to %zu recipient%s via %s: delivered (%s)",
			 m->n->name, m->subject, m->msgid, m->conf.nto, m->conf.nto == 1 ? "" : "s",
			 relay, m->detail);
		mail_end(m, true);
		return;
	}
	if (m->permanent) {
		mail_permanent(m, relay);
		mail_end(m, false);
		return;
	}
	if (m->attempt >= NOTIFY_SMTP_TRIES) {
		log_error("%s.email \"%s\" via %s: %s; giving up after %u attempts", m->n->name,
			  m->subject, relay, m->detail, m->attempt);
		mail_end(m, false);
		return;
	}
	log_warning("%s.email \"%s\" via %s: %s; retrying in %d ms", m->n->name, m->subject,
		    relay, m->detail, NOTIFY_SMTP_RETRY_MS);
	ev_timer_set(&m->timer, NOTIFY_SMTP_RETRY_MS / 1000.0, 0.);
	ev_timer_start(m->n->loop, &m->timer);
}

static void mail_attempt(struct notify_mail *m)
{
	struct mail_msg msg = { .relay = m->conf.smtp, .from = m->conf.from, .to = m->conf.to,
				.nto = m->conf.nto, .text = m->text,
				.username = m->conf.username, .password = m->conf.password,
				.implicit_tls = m->conf.implicit_tls, .verify = m->conf.verify,
				.ca_file = m->conf.ca_file, .host = m->conf.host };

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

void notify_mail(struct notify *n, const char *subject, const char *msgid, const char *text,
		 notify_done_fn *done, void *arg)
{
	struct notify_mail *m;

	if (!n->conf.has_email || !n->conf.nto) {
		if (done)
			done(arg, false);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->n = n;
	conf_dup(&m->conf, &n->conf);
	m->text = xstrdup(text);
	m->subject = xstrdup(subject);
	m->msgid = xstrdup(msgid);
	m->done = done;
	m->arg = arg;
	ev_timer_init(&m->timer, mail_timer_cb, 0., 0.);
	LIST_INSERT_HEAD(&n->mails_out, m, link);
	mail_attempt(m);
}

/* ---- failover.notify ---- */

void notify_mail_text(const struct notify_conf *c, const struct notify_event *ev,
		      const char *msgid, struct buf *out)
{
	char when[64], subject[256];
	time_t t = (time_t)ev->when;
	struct tm tm;
	struct buf body;
	struct mail_head h = { .from = c->from, .to = c->to, .nto = c->nto, .subject = subject,
			       .when = ev->when, .msgid = msgid };

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(subject, sizeof(subject), "[vigil] %s group %u: %s -> %s", ev->node, ev->group,
		 ev->old_state, ev->new_state);
	buf_init(&body);
	buf_printf(&body, "node:   %s\ngroup:  %u\nchange: %s -> %s\nreason: %s\ntime:   %s\n",
		   ev->node, ev->group, ev->old_state, ev->new_state, ev->reason, when);
	mail_compose(&h, body.data, out);
	buf_free(&body);
}

static uint64_t random64(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	return r;
}

static void send_failover_mail(struct notify *n, const struct notify_event *ev)
{
	char msgid[MAIL_MSGID_MAX], subject[256];
	struct buf text;

	notify_message_id(n, ev->when, msgid, sizeof(msgid));
	buf_init(&text);
	notify_mail_text(&n->conf, ev, msgid, &text);
	snprintf(subject, sizeof(subject), "%s: %s -> %s", ev->node, ev->old_state,
		 ev->new_state);
	notify_mail(n, subject, msgid, text.data, NULL, NULL);
	buf_free(&text);
}

void notify_send(struct notify *n, const struct notify_event *ev)
{
	char what[512];

	if (!n)
		return;
	if (n->conf.exec) {
		char *argv[] = { n->conf.exec, (char *)ev->new_state, (char *)ev->old_state,
				 (char *)ev->node, NULL };

		char group[32], reason[512];
		char *env[] = { group, reason, NULL };

		snprintf(group, sizeof(group), "VIGIL_GROUP=%u", ev->group);
		snprintf(reason, sizeof(reason), "VIGIL_REASON=%s", ev->reason ? ev->reason : "");
		snprintf(what, sizeof(what), "%s %s %s %s (group %u)", n->conf.exec, ev->new_state,
			 ev->old_state, ev->node, ev->group);
		notify_run(n, argv, env, NULL, what, NULL, NULL);
	}
	if (n->conf.has_email && n->conf.nto)
		send_failover_mail(n, ev);
}

void notify_message_id(struct notify *n, double when, char *buf, size_t len)
{
	mail_message_id(buf, len, n->conf.from, when, random64(), ++n->mails);
}

size_t notify_pending(const struct notify *n)
{
	const struct notify_job *j;
	const struct notify_mail *m;
	size_t k = 0;

	LIST_FOREACH(j, &n->jobs, link)
		k++;
	LIST_FOREACH(m, &n->mails_out, link)
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
	while (!LIST_EMPTY(&n->mails_out))
		mail_free(LIST_FIRST(&n->mails_out));
	probe_ctx_free(n->probes);
	notify_conf_free(&n->conf);
	free(n);
}
