/* privs.c - switch to an unprivileged user with libcap. */
#include "common/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

static const cap_value_t kept[] = { CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE };
#define NKEPT ((int)(sizeof(kept) / sizeof(kept[0])))

static int is_kept(cap_value_t v)
{
	for (int i = 0; i < NKEPT; i++)
		if (kept[i] == v)
			return 1;
	return 0;
}

int privs_drop_bounding(char *err, size_t errlen)
{
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
		if (is_kept(v) || !CAP_IS_SUPPORTED(v))
			continue;
		if (cap_drop_bound(v) < 0 && errno != EINVAL) {
			snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s",
				 (int)v, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int set_caps(char *err, size_t errlen)
{
	cap_t caps = cap_init();
	int rc = -1;

	if (!caps) {
		snprintf(err, errlen, "cap_init: %s", strerror(errno));
		return -1;
	}
	if (cap_set_flag(caps, CAP_PERMITTED, NKEPT, kept, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, NKEPT, kept, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		snprintf(err, errlen, "cannot set capabilities: %s", strerror(errno));
	else
		rc = 0;
	cap_free(caps);
	return rc;
}

int privs_drop(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "global.user: no such user \"%s\"%s%s", user,
			 errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	/* Started as that user already (systemd's User= with the capabilities in
	 * AmbientCapabilities=): nothing to switch, and no right to drop more. */
	if (pw->pw_uid != 0 && getuid() == pw->pw_uid && geteuid() == pw->pw_uid)
		return 0;
	if (privs_drop_bounding(err, errlen) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0 ||
	    setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot switch to user %s: %s", user, strerror(errno));
		return -1;
	}
	if (set_caps(err, errlen) < 0)
		return -1;
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (setuid(0) == 0) {
		snprintf(err, errlen, "privilege drop failed: could regain root");
		return -1;
	}
	return 0;
}
