/* sync.h - the authenticated channel between the nodes (failover.sync).
 *
 * One TCP connection per peer on failover.sync_port: each node connects out
 * to every configured peer and accepts in; a connection from any other
 * address is closed at once (counted, logged once a minute per address).
 * Frames are those of sync_msg.h: a HELLO each way carries a random
 * challenge, every later frame is MACed over the receiver's challenge with a
 * per-direction sequence, so a frame from another connection or a replayed
 * one fails. The first bad frame (MAC, size, sequence, layout, truncation)
 * closes the connection: nothing after it is read. When both nodes connected
 * to each other, the connection opened by the node with the smaller name stays.
 *
 * Configuration: every loaded file carries a stamp (Lamport clock, the wall
 * time its node started, the node's name). A local change (start or reload
 * with new bytes) takes clock max(all seen)+1 — 0 at start-up, so a running
 * peer's configuration wins over a starting node's (then the earlier started
 * node, then the greater name). On connect the nodes exchange digest + stamp
 * and the later one is pushed; a received file is checked as `vigild -t`
 * would, refused when the vigil versions differ, else installed (FILE.prev
 * kept, atomic replace) and reloaded through hooks.reload; its stamp is
 * adopted, so the peer's reload is not sent back.
 *
 * Operator state (drain, disable, enable, weight): each decision is stamped
 * and kept per service/backend; the later stamp wins on both nodes. A peer
 * gets the whole table when it connects (its last message flagged as the end
 * of the snapshot, sent even when the table is empty, so a starting node
 * knows when it has learnt everything: hooks.learnt), and every new decision
 * at once.
 *
 * What it shows (status, metrics): sync_view.h.
 */
#ifndef VIGIL_SYNC_H
#define VIGIL_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/addr.h"
#include "sync/sync_msg.h"

struct sync;

struct sync_hooks {
	/* The file at path was replaced by the peer's: reload it. 0, or -1
	 * with the reason in err (the peer is told). */
	int (*reload)(void *arg, char *err, size_t errlen);
	/* Apply an operator decision that came from the peer (not to be sent back). */
	void (*op_apply)(const struct sync_op *op, void *arg);
	/* Remember a persistence entry that came from the peer. */
	void (*persist_apply)(const struct sync_persist *e, void *arg);
	/* A peer connected: queue what it should learn (sync_persist_local). */
	void (*peer_up)(void *arg);
	/* The whole operator state of peer node arrived (its snapshot, every
	 * entry applied through op_apply before this call). NULL: not told. */
	void (*learnt)(const char *node, void *arg);
	/* A configuration was refused: the peer's by this node (by_peer false),
	 * or this node's by the peer; after the log line. May be NULL. */
	void (*refused)(void *arg, const char *peer, bool by_peer, const char *reason);
	void *arg;
};

struct sync_settings {
	const char *node;             /* this node's name */
	const char *version;          /* this node's vigil version */
	const uint8_t *key;           /* auth_key_file contents */
	size_t keylen;
	const struct addr *peers;     /* the peers' addresses (cfg_peer_addrs) */
	size_t npeers;
	uint16_t port;                /* failover.sync_port */
	const struct addr *listen;    /* failover.sync_listen, NULL: every address */
	const char *config_path;      /* the file that is pushed and replaced */
};

/* Listen and start connecting to the peers. NULL with err on failure. */
struct sync *sync_new(struct ev_loop *loop, const struct sync_settings *set,
		      const struct sync_hooks *hooks, char *err, size_t errlen);
/* Close every connection and the listener, free. NULL is fine. */
void sync_free(struct sync *s);

/* The daemon loaded text (start or reload) from the configuration file:
 * a file received from the peer keeps the peer's stamp and is not sent back;
 * other new bytes are a local change, pushed to the connected peers. */
void sync_config_loaded(struct sync *s, const char *text, size_t len);
/* vigilctl sync: send the loaded configuration to every connected peer now.
 * The number of peers it went to, or -1 with err (no peer connected). */
int sync_push(struct sync *s, char *err, size_t errlen);
/* An operator decision taken on this node: stamp it, keep it, send it. */
void sync_op_local(struct sync *s, enum sync_op_kind kind, const char *svc, const char *be,
		   uint32_t value);

/* A persistence entry made on this node: sent to the peers in batches (at
 * the next tick, or when a batch is full); dropped while no peer is connected. */
void sync_persist_local(struct sync *s, const struct sync_persist *e);

/* Append the loaded file's SHA-256 (lowercase hex), "" before the first load. */
void sync_config_digest_hex(const struct sync *s, char out[2 * SYNC_DIGEST_LEN + 1]);
/* Install text as path atomically: the current file is kept as path.prev
 * (unless there is none), the new one written to a temporary file in the
 * same directory, fsynced, renamed over path, and the directory fsynced.
 * 0, or -1 with err. */
int sync_file_install(const char *path, const char *text, size_t len, char *err,
		      size_t errlen);
/* Read all of path (at most SYNC_MAX_PAYLOAD bytes) into a new buffer. 0 or -1 with err. */
int sync_file_read(const char *path, char **text, size_t *len, char *err, size_t errlen);

#endif
