/* vigild_sync.h - the daemon's wiring of sync/ (failover.sync) to lb/ and the
 * configuration file. Internal to daemon/. */
#ifndef VIGIL_VIGILD_SYNC_H
#define VIGIL_VIGILD_SYNC_H

#include <stddef.h>

#include "daemon/vigild.h"

/* Start the sync channel when failover.sync is on. 0, or -1 with err. */
int vigild_sync_start(struct vigild *d, char *err, size_t errlen);
/* The running configuration was loaded from text (start or reload): keep its
 * digest and tell sync/. */
void vigild_sync_loaded(struct vigild *d, const char *text, size_t len);
/* A reload changed failover.sync settings: say they wait for a restart. */
void vigild_sync_check_reload(const struct config *old, const struct config *cfg);

#endif
