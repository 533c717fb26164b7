/* privs.h - dropping root after start-up, keeping only the capabilities
 * vigil needs: cap_net_admin (addresses), cap_net_raw (ARP/NA),
 * cap_net_bind_service (ports below 1024 on reload). */
#ifndef VIGIL_PRIVS_H
#define VIGIL_PRIVS_H

#include <stddef.h>

/* Switch to user (its primary group, no supplementary groups) keeping the
 * three capabilities permitted and effective, and drop every other one from
 * the bounding set. Already running as user (not root): nothing to do, 0.
 * 0, or -1 with err filled. */
int privs_drop(const char *user, char *err, size_t errlen);
/* Drop every capability but those three from the calling thread's bounding
 * set (the bounding set is per thread: a thread started before privs_drop()
 * calls this itself). 0, or -1 with err filled. */
int privs_drop_bounding(char *err, size_t errlen);

#endif
