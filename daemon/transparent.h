/* transparent.h - the daemon's wiring of source: client: the policy rules
 * (vip/rules_nl) that the configuration and the open connections (lb/) need.
 * Installed whatever the failover state: on both nodes of a pair.
 */
#ifndef VIGIL_TRANSPARENT_H
#define VIGIL_TRANSPARENT_H

#include <stddef.h>

#include "config/config.h"
#include "daemon/vigild.h"

/* Remove the tagged leftovers of a crashed run, then install cfg's rules
 * (before the listeners open). 0, or -1 after logging why. */
int transparent_start(struct vigild *d, const struct config *cfg);
/* Install exactly what cfg and the open transparent connections need (a
 * reload: call before lb_apply; again with the old cfg if the reload fails).
 * 0, or -1 with err naming the missing capability or kernel feature. */
int transparent_apply(struct vigild *d, const struct config *cfg, char *err, size_t errlen);
/* At exit, after the last connection: remove every rule, log what failed. */
void transparent_stop(struct vigild *d);

#endif
