/* watcher.h - a tiny process that outlives a killed vigild just long enough
 * to take its VIPs off the interface.
 *
 * Forked at start-up (before the privilege drop), in its own session, holding
 * the read end of a pipe whose write end only vigild has. When vigild exits
 * for any reason - kill -9, crash, OOM - the pipe closes and the watcher
 * removes every tagged address (see addr_nl.h) from the interface, then exits.
 * It runs as global.user with the same three capabilities as vigild.
 */
#ifndef VIGIL_WATCHER_H
#define VIGIL_WATCHER_H

#include <stddef.h>
#include <sys/types.h>

struct watcher {
	int fd;                       /* write end of the pipe, close-on-exec; -1 if none */
	pid_t pid;
};

/* Fork the watcher for interface ifname; user may be NULL (stay root).
 * 0, or -1 with err. */
int watcher_start(struct watcher *w, const char *ifname, const char *user, char *err,
		  size_t errlen);
/* Let the watcher go (it cleans up and exits); does not wait for it. */
void watcher_stop(struct watcher *w);

#endif
