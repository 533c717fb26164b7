/* ctl.c - the control socket server and the commands it runs. */
#include "ctl/ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "ctl/oneshot.h"
#include "ctl/status.h"
#include "common/events.h"
#include "common/log.h"
#include "lb/lb.h"

#define CTL_BACKLOG 128

struct ctl_server {
	const struct ctl_daemon *dm;
	struct oneshot *os;
	char *path;
	dev_t dev;                    /* the socket file we made: unlinked only if still ours */
	ino_t ino;
};

static size_t ctl_complete(const char *in, size_t len)
{
	const char *nl = memchr(in, '\n', len);

	return nl ? (size_t)(nl - in) + 1 : 0;
}

static void ctl_handle(void *arg, enum oneshot_event ev, const char *in, size_t len,
		       const char *peer, struct buf *out);

static const struct oneshot_ops ctl_ops = {
	.name = "control socket",
	.max_request = CTL_LINE_MAX,
	.head_deadline_s = CTL_HEAD_DEADLINE_S,
	.deadline_s = CTL_DEADLINE_S,
	.max_clients = CTL_MAX_CLIENTS,
	.linger = true,
	.reserve_fd = true,
	.complete = ctl_complete,
	.handle = ctl_handle,
};

/* Find SVC and BE of cmd; NULL with the error answer appended to out. */
static struct backend *ctl_find_backend(struct lb *lb, const struct ctl_cmd *cmd,
					struct buf *out)
{
	struct service *s = lb ? lb_find_service(lb, cmd->svc) : NULL;
	struct backend *b;

	if (!s) {
		buf_puts(out, "error: no service ");
		buf_json_str(out, cmd->svc);
		buf_puts(out, "\n");
		return NULL;
	}
	b = service_find_backend(s, cmd->be);
	if (!b) {
		buf_printf(out, "error: service %s has no backend ", s->name);
		buf_json_str(out, cmd->be);
		buf_puts(out, "\n");
	}
	return b;
}

static int ctl_exec_backend(const struct ctl_daemon *dm, const struct ctl_view *v,
			    const struct ctl_cmd *cmd, const char *origin, struct buf *out)
{
	struct backend *b = ctl_find_backend(v->lb, cmd, out);
	char why[128];

	if (!b)
		return 0;
	/* the socket's reason stays "vigilctl" (the log's word since 0.1) */
	snprintf(why, sizeof(why), "%s", strcmp(origin, CTL_ORIGIN_SOCKET) ? origin : "vigilctl");
	switch (cmd->op) {
	case CTL_DRAIN:
		backend_set_admin(b, ADMIN_DRAIN, why);
		break;
	case CTL_DISABLE:
		backend_set_admin(b, ADMIN_MAINT, why);
		break;
	case CTL_ENABLE:
		backend_set_admin(b, ADMIN_NONE, why);
		break;
	default:
		backend_set_weight(b, cmd->weight);
		break;
	}
	if (dm->operator_changed)
		dm->operator_changed(dm->arg, cmd->op, b->svc->name, b->name, cmd->weight);
	buf_puts(out, "ok\n");
	return 1;
}

static int ctl_exec_reload(const struct ctl_daemon *dm, struct buf *out)
{
	struct buf errs;
	int ok;

	buf_init(&errs);
	ok = dm->reload(dm->arg, &errs) == 0;
	if (ok) {
		buf_puts(out, "ok\n");
	} else {
		buf_puts(out, "error: configuration not reloaded, the running one stays\n");
		buf_append(out, errs.data, errs.len);
		if (errs.len && errs.data[errs.len - 1] != '\n')
			buf_puts(out, "\n");
	}
	buf_free(&errs);
	return ok;
}

static int ctl_exec_sync(const struct ctl_daemon *dm, const struct ctl_cmd *cmd,
			 struct buf *out)
{
	char err[256] = "";
	struct buf errs;
	int ok;

	if (cmd->op == CTL_SYNC) {
		ok = dm->sync_push(dm->arg, err, sizeof(err)) == 0;
		if (ok)
			buf_puts(out, "ok\n");
		else
			buf_printf(out, "error: %s\n", err[0] ? err : "refused");
		return ok;
	}
	buf_init(&errs);
	ok = dm->rollback(dm->arg, &errs) == 0;
	if (ok) {
		buf_puts(out, "ok\n");
	} else {
		buf_puts(out, "error: rollback failed, the running configuration stays\n");
		buf_append(out, errs.data, errs.len);
		if (errs.len && errs.data[errs.len - 1] != '\n')
			buf_puts(out, "\n");
	}
	buf_free(&errs);
	return ok;
}

static int ctl_exec_failover(const struct ctl_daemon *dm, const struct ctl_cmd *cmd,
			     struct buf *out)
{
	char err[256] = "";

	if (dm->failover(dm->arg, cmd->op, cmd->group, err, sizeof(err)) == 0) {
		buf_puts(out, "ok\n");
		return 1;
	}
	buf_printf(out, "error: %s\n", err[0] ? err : "refused");
	return 0;
}

/* The event log, oldest first, after seq since. */
static void ctl_exec_events(const struct ctl_view *v, uint64_t since, struct buf *out)
{
	size_t i = events_count(v->events);
	char when[40];

	buf_puts(out, "ok\n");
	while (i-- > 0) {
		const struct event *e = events_get(v->events, i);

		if (e->seq <= since)
			continue;
		buf_printf(out, "%" PRIu64 " %s %s ", e->seq,
			   events_iso_time(e->when, when, sizeof(when)), events_kind_str(e->kind));
		if (e->service[0])
			buf_printf(out, "%s/%s", e->service, e->backend[0] ? e->backend : "-");
		else if (e->group)
			buf_printf(out, "group:%" PRIu32, e->group);
		else
			buf_puts(out, "-");
		buf_printf(out, " %s\n", e->text);
	}
}

/* A command that changes something goes into the event log: the line, where
 * it came from, and the first line of its answer. */
static void ctl_record(const struct ctl_view *v, const struct ctl_cmd *cmd, const char *origin,
		       const struct buf *answer, size_t from)
{
	struct buf line;
	const char *a = answer->data + from;
	size_t alen = answer->len - from;
	const char *nl = memchr(a, '\n', alen);

	buf_init(&line);
	ctl_format(cmd, &line);
	buf_printf(&line, " (%s): %.*s", origin, (int)(nl ? (size_t)(nl - a) : alen), a);
	events_add(v->events, wall_now(), EVENT_COMMAND, cmd->svc[0] ? cmd->svc : NULL,
		   cmd->be[0] ? cmd->be : NULL, cmd->group, line.data);
	/* the one log line of the command itself (its effects log their own) */
	log_notice("command %s", events_get(v->events, 0) ? events_get(v->events, 0)->text : "");
	buf_free(&line);
}

int ctl_exec(const struct ctl_daemon *dm, const struct ctl_cmd *cmd, const char *origin,
	     struct buf *out)
{
	struct ctl_view v;
	size_t from = out->len;
	int ok = 1;

	dm->view(dm->arg, &v);
	switch (cmd->op) {
	case CTL_STATUS:
		buf_puts(out, "ok\n");
		if (cmd->json) {
			status_json(&v, out);
			buf_puts(out, "\n");
		} else {
			status_text(&v, out);
		}
		return 1;
	case CTL_EVENTS:
		ctl_exec_events(&v, cmd->since, out);
		return 1;
	case CTL_DRAIN:
	case CTL_DISABLE:
	case CTL_ENABLE:
	case CTL_WEIGHT:
		ok = ctl_exec_backend(dm, &v, cmd, origin, out);
		break;
	case CTL_STANDBY:
	case CTL_TAKEOVER:
	case CTL_RESUME:
		ok = ctl_exec_failover(dm, cmd, out);
		break;
	case CTL_RELOAD:
		ok = ctl_exec_reload(dm, out);
		break;
	case CTL_SYNC:
	case CTL_ROLLBACK:
		ok = ctl_exec_sync(dm, cmd, out);
		break;
	}
	dm->view(dm->arg, &v);          /* a reload made a new configuration */
	ctl_record(&v, cmd, origin, out, from);
	return ok;
}

int ctl_run(const struct ctl_daemon *dm, const char *in, size_t len, const char *origin,
	    struct buf *out)
{
	char line[CTL_LINE_MAX + 1], err[256];
	struct ctl_cmd cmd;

	if (len > CTL_LINE_MAX) {
		buf_printf(out, "error: request longer than %d bytes\n", CTL_LINE_MAX);
		return 0;
	}
	if (memchr(in, '\0', len)) {
		buf_puts(out, "error: NUL byte in request\n");
		return 0;
	}
	memcpy(line, in, len);
	line[len] = '\0';
	if (ctl_parse(line, &cmd, err, sizeof(err)) < 0) {
		buf_printf(out, "error: %s\n", err);
		return 0;
	}
	return ctl_exec(dm, &cmd, origin, out);
}

/* One request from a client. Nothing touches s after ctl_run(): a reload may
 * free the server (the connection itself lives on until we return). */
static void ctl_handle(void *arg, enum oneshot_event ev, const char *in, size_t len,
		       const char *peer, struct buf *out)
{
	struct ctl_server *s = arg;

	if (ev == ONESHOT_TOO_LONG) {
		buf_printf(out, "error: request longer than %d bytes\n", CTL_LINE_MAX);
		return;
	}
	if (len == 0)
		return;
	ctl_run(s->dm, in, len, CTL_ORIGIN_SOCKET, out);
}

static int ctl_mkdir(const char *dir, const char *path, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create directory %s: %s",
			 path, dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* mkdir -p of path's parent directory, mode 0755. 0 or -1 with err. */
static int ctl_make_parent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (ctl_mkdir(dir, path, err, errlen) < 0)
			return -1;
		*p = '/';
	}
	return ctl_mkdir(dir, path, err, errlen);
}

/* Remove a stale socket at sa; refuse a live one or a non-socket. 0 or -1. */
static int ctl_clear_stale(const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(sa->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", sa->sun_path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0 || errno == EAGAIN) {
		snprintf(err, errlen, "%s: another vigild is answering there",
			 sa->sun_path);
		return -1;
	}
	if (errno != ECONNREFUSED && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", sa->sun_path, strerror(errno));
		return -1;
	}
	if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove stale socket: %s",
			 sa->sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Bind and listen on sa with mode 0600; the fd, or -1 with err. */
static int ctl_listen(const struct sockaddr_un *sa, struct stat *st, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old;
	int rc;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "%s: bind: %s", sa->sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(sa->sun_path, 0600) < 0 || lstat(sa->sun_path, st) < 0 ||
	    listen(fd, CTL_BACKLOG) < 0) {
		snprintf(err, errlen, "%s: %s", sa->sun_path, strerror(errno));
		unlink(sa->sun_path);
		close(fd);
		return -1;
	}
	return fd;
}

struct ctl_server *ctl_server_new(const struct ctl_daemon *dm, const char *path, char *err,
				  size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *s;
	struct stat st;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "\"%s\": empty or longer than %zu bytes",
			 path ? path : "", sizeof(sa.sun_path) - 1);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (ctl_make_parent(path, err, errlen) < 0 || ctl_clear_stale(&sa, err, errlen) < 0)
		return NULL;
	fd = ctl_listen(&sa, &st, err, errlen);
	if (fd < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->dm = dm;
	s->path = xstrdup(path);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->os = oneshot_new(dm->loop, fd, &ctl_ops, s);
	if (!s->os) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		free(s->path);
		free(s);
		return NULL;
	}
	return s;
}

void ctl_server_free(struct ctl_server *s)
{
	struct stat st;

	if (!s)
		return;
	oneshot_free(s->os);
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	free(s);
}

void ctl_server_get_stats(const struct ctl_server *s, struct oneshot_stats *out)
{
	oneshot_get_stats(s ? s->os : NULL, out);
}
