/* ctl.c - the control socket server and the commands it runs. */
#include "ctl/ctl.h"

#include <errno.h>
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
#include "daemon/vigild.h"
#include "lb/lb.h"

#define CTL_BACKLOG 128

struct ctl_server {
	struct vigild *d;
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
		       struct buf *out);

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
static struct backend *ctl_find_backend(struct vigild *d, const struct ctl_cmd *cmd,
					struct buf *out)
{
	struct service *s = lb_find_service(d->lb, cmd->svc);
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

static void ctl_exec_backend(struct vigild *d, const struct ctl_cmd *cmd, struct buf *out)
{
	struct backend *b = ctl_find_backend(d, cmd, out);

	if (!b)
		return;
	switch (cmd->op) {
	case CTL_DRAIN:
		backend_set_admin(b, ADMIN_DRAIN, "vigilctl");
		break;
	case CTL_DISABLE:
		backend_set_admin(b, ADMIN_MAINT, "vigilctl");
		break;
	case CTL_ENABLE:
		backend_set_admin(b, ADMIN_NONE, "vigilctl");
		break;
	default:
		backend_set_weight(b, cmd->weight);
		break;
	}
	vigild_operator_changed(d, cmd->op == CTL_ENABLE ? 0 : cmd->op == CTL_DRAIN ? 1 :
				cmd->op == CTL_DISABLE ? 2 : 3, b->svc->name, b->name, cmd->weight);
	buf_puts(out, "ok\n");
}

static void ctl_exec_reload(struct vigild *d, struct buf *out)
{
	struct buf errs;

	buf_init(&errs);
	if (vigild_reload(d, &errs) == 0) {
		buf_puts(out, "ok\n");
	} else {
		buf_puts(out, "error: configuration not reloaded, the running one stays\n");
		buf_append(out, errs.data, errs.len);
		if (errs.len && errs.data[errs.len - 1] != '\n')
			buf_puts(out, "\n");
	}
	buf_free(&errs);
}

static void ctl_exec_sync(struct vigild *d, const struct ctl_cmd *cmd, struct buf *out)
{
	char err[256] = "";
	struct buf errs;

	if (cmd->op == CTL_SYNC) {
		if (vigild_sync_push(d, err, sizeof(err)) == 0)
			buf_puts(out, "ok\n");
		else
			buf_printf(out, "error: %s\n", err);
		return;
	}
	buf_init(&errs);
	if (vigild_rollback(d, &errs) == 0) {
		buf_puts(out, "ok\n");
	} else {
		buf_puts(out, "error: rollback failed, the running configuration stays\n");
		buf_append(out, errs.data, errs.len);
	}
	buf_free(&errs);
}

static void ctl_exec_failover(struct vigild *d, const struct ctl_cmd *cmd, struct buf *out)
{
	char err[256] = "";
	int rc;

	if (cmd->op == CTL_STANDBY)
		rc = vigild_standby(d, cmd->group, err, sizeof(err));
	else if (cmd->op == CTL_RESUME)
		rc = vigild_resume(d, cmd->group, err, sizeof(err));
	else
		rc = vigild_takeover(d, cmd->group, err, sizeof(err));
	if (rc == 0)
		buf_puts(out, "ok\n");
	else
		buf_printf(out, "error: %s\n", err[0] ? err : "refused");
}

void ctl_exec(struct vigild *d, const struct ctl_cmd *cmd, struct buf *out)
{
	switch (cmd->op) {
	case CTL_STATUS:
		buf_puts(out, "ok\n");
		if (cmd->json) {
			status_json(d, out);
			buf_puts(out, "\n");
		} else {
			status_text(d, out);
		}
		break;
	case CTL_DRAIN:
	case CTL_DISABLE:
	case CTL_ENABLE:
	case CTL_WEIGHT:
		ctl_exec_backend(d, cmd, out);
		break;
	case CTL_STANDBY:
	case CTL_TAKEOVER:
	case CTL_RESUME:
		ctl_exec_failover(d, cmd, out);
		break;
	case CTL_RELOAD:
		ctl_exec_reload(d, out);
		break;
	case CTL_SYNC:
	case CTL_ROLLBACK:
		ctl_exec_sync(d, cmd, out);
		break;
	}
}

/* One request from a client. Nothing touches s after ctl_exec(): a reload may
 * free the server (the connection itself lives on until we return). */
static void ctl_handle(void *arg, enum oneshot_event ev, const char *in, size_t len,
		       struct buf *out)
{
	struct ctl_server *s = arg;
	char line[CTL_LINE_MAX + 1], err[256];
	struct ctl_cmd cmd;

	if (ev == ONESHOT_TOO_LONG) {
		buf_printf(out, "error: request longer than %d bytes\n", CTL_LINE_MAX);
		return;
	}
	if (len == 0)
		return;
	if (memchr(in, '\0', len)) {
		buf_puts(out, "error: NUL byte in request\n");
		return;
	}
	memcpy(line, in, len);
	line[len] = '\0';
	if (ctl_parse(line, &cmd, err, sizeof(err)) < 0) {
		buf_printf(out, "error: %s\n", err);
		return;
	}
	ctl_exec(s->d, &cmd, out);
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

struct ctl_server *ctl_server_new(struct vigild *d, const char *path, char *err, size_t errlen)
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
	s->d = d;
	s->path = xstrdup(path);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->os = oneshot_new(d->loop, fd, &ctl_ops, s);
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
