/* sync_view.h - what the sync channel shows, as plain data: its clocks and
 * counters, each peer, the rejections by reason, taken at one moment. sync/
 * fills it; ctl/ renders it (status JSON, Prometheus metrics).
 *
 * Names, versions, digests and reasons are copies; the result and reason
 * names are static strings. The peers are allocated by sync_view() and
 * released by sync_view_free().
 */
#ifndef VIGIL_SYNC_VIEW_H
#define VIGIL_SYNC_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

struct sync;

#define SYNC_VIEW_NAME_MAX 64         /* node names, NUL included */
#define SYNC_VIEW_VERSION_MAX 32      /* vigil versions, NUL included */
#define SYNC_VIEW_REASON_MAX 512      /* a peer's answer, NUL included */
#define SYNC_VIEW_DIGEST_HEX 65       /* SHA-256 in lowercase hex, NUL included */
#define SYNC_VIEW_REJECTS 6           /* the reasons a connection is closed for */

/* One peer (this node's own addresses are left out). */
struct sync_view_peer {
	char address[ADDR_STRLEN];
	char node[SYNC_VIEW_NAME_MAX];         /* as it introduced itself, "" before */
	char version[SYNC_VIEW_VERSION_MAX];
	bool connected;                        /* an authenticated connection is up */
	bool has_digest;                       /* its configuration is known: */
	char digest[SYNC_VIEW_DIGEST_HEX];
	bool in_sync;                          /* it runs this node's configuration */
	uint64_t clock;                        /* Lamport clock of its configuration */
	const char *last_result;               /* its answer to our last push, NULL: none */
	char last_reason[SYNC_VIEW_REASON_MAX];
	uint64_t configs_sent, configs_received, ops_sent, ops_received;
};

/* A counter by reason. */
struct sync_view_count {
	const char *reason;
	uint64_t n;
};

struct sync_view {
	uint16_t port;
	uint64_t clock;                        /* the highest Lamport clock seen */
	uint64_t config_clock;                 /* that of the loaded configuration */
	char config_origin[SYNC_VIEW_NAME_MAX]; /* the node it was loaded on */
	uint64_t configs_applied, configs_refused; /* received from the peers */
	size_t operator_entries;
	uint64_t persist_sent, persist_received;
	struct sync_view_peer *peers;
	size_t npeers;
	struct sync_view_count rejected[SYNC_VIEW_REJECTS]; /* wire order */
};

/* Fill out with what s shows now. Release with sync_view_free(). */
void sync_view(const struct sync *s, struct sync_view *out);
/* Free what sync_view() allocated. */
void sync_view_free(struct sync_view *v);

#endif
