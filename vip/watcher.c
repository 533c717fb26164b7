/* watcher.c - remove our VIPs when vigild dies (see watcher.h). */
#include "vip/watcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privs.h"
#include "vip/addr_nl.h"

#define WATCH_FD 3

/* Close everything but stdio and the pipe, which ends up on WATCH_FD. */
static void watcher_fds(int rfd)
{
	if (rfd != WATCH_FD) {
		dup2(rfd, WATCH_FD);
		close(rfd);
	}
	fcntl(WATCH_FD, F_SETFD, 0);
	close_range(WATCH_FD + 1, ~0U, 0);
}

static void watcher_signals(void)
{
	sigset_t none;
	int ign[] = { SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGUSR1, SIGUSR2 };

	for (size_t i = 0; i < sizeof(ign) / sizeof(ign[0]); i++)
		signal(ign[i], SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The child: wait for EOF on the pipe, then flush tagged addresses. */
static void __attribute__((noreturn)) watcher_main(int rfd, const char *ifname, const char *user)
{
	struct addr_nl a;
	char err[256], c;
	size_t removed = 0;
	ssize_t n;

	setsid();
	prctl(PR_SET_NAME, "vigil-watcher", 0, 0, 0);
	watcher_signals();
	watcher_fds(rfd);
	if (user && privs_drop(user, err, sizeof(err)) < 0) {
		log_error("watcher: %s", err);
		_exit(1);
	}
	do
		n = read(WATCH_FD, &c, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	if (addr_nl_open(&a, ifname, err, sizeof(err)) < 0) {
		log_error("watcher: vigild is gone but %s", err);
		_exit(1);
	}
	if (addr_nl_flush_tagged(&a, &removed, err, sizeof(err)) < 0)
		log_error("watcher: vigild is gone; removing VIPs: %s", err);
	if (removed)
		log_warning("watcher: vigild is gone, removed %zu VIP%s from %s", removed,
			    removed == 1 ? "" : "s", ifname);
	addr_nl_close(&a);
	_exit(0);
}

int watcher_start(struct watcher *w, const char *ifname, const char *user, char *err,
		  size_t errlen)
{
	int p[2];
	pid_t pid;

	w->fd = -1;
	w->pid = -1;
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "watcher pipe: %s", strerror(errno));
		return -1;
	}
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "watcher fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		watcher_main(p[0], ifname, user);
	}
	close(p[0]);
	w->fd = p[1];
	w->pid = pid;
	return 0;
}

void watcher_stop(struct watcher *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
