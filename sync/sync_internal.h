/* sync_internal.h - the sync module's state, shared by sync.c (what is said)
 * and sync_conn.c (the channel: listener, connections, frames). */
#ifndef VIGIL_SYNC_INTERNAL_H
#define VIGIL_SYNC_INTERNAL_H

#include <sys/queue.h>

#include "sync/sync.h"

#define SYNC_TICK_S 0.5             /* reconnect, ping and timeout checks */
#define SYNC_RECONNECT_S 1.0
#define SYNC_PING_S 1.0
#define SYNC_SILENT_S 5.0           /* an authenticated peer silent this long is gone */
#define SYNC_HANDSHAKE_S 5.0        /* HELLO + first authenticated frame */
#define SYNC_LOG_EVERY_S 60.0       /* rate of repeated rejection logs */
#define SYNC_OUT_MAX (8u << 20)     /* queued bytes before a slow peer is dropped */
#define SYNC_PENDING_MAX 4          /* unauthenticated connections per peer */
#define SYNC_STRANGER_SLOTS 16

struct sync_conn {
	TAILQ_ENTRY(sync_conn) link;
	struct sync *s;
	int fd;
	ev_io rio, wio;
	int peer;                     /* index in s->peers */
	bool outbound, connecting, got_hello, authed, closing;
	uint8_t my_nonce[SYNC_NONCE_LEN], peer_nonce[SYNC_NONCE_LEN];
	uint64_t tx_seq, rx_seq;
	struct buf in, out;
	size_t out_off;
	ev_tstamp opened, last_rx, last_tx;
	char peer_node[SYNC_NAME_MAX], peer_version[SYNC_VERSION_MAX];
	const char *why;              /* why the last handler asked to close */
};

struct sync_peer {
	struct addr addr;             /* port: sync_port */
	char ip[ADDR_STRLEN];
	bool self;                    /* an address of this node: skipped */
	struct sync_conn *conn;       /* the authenticated connection, NULL while none */
	ev_tstamp next_connect;
	char node[SYNC_NAME_MAX], version[SYNC_VERSION_MAX];
	bool has_state;               /* digest and stamp below are known */
	uint8_t digest[SYNC_DIGEST_LEN];
	struct sync_stamp stamp;
	bool has_result;
	enum sync_result_code result; /* its answer to our last push */
	char reason[SYNC_REASON_MAX];
	ev_tstamp logged[SYNC_REJ__COUNT];
	uint64_t configs_sent, configs_received, ops_sent, ops_received;
};

struct sync_stranger {
	struct addr ip;
	ev_tstamp logged;
};

struct sync {
	struct ev_loop *loop;
	struct sync_hooks hooks;
	char node[SYNC_NAME_MAX], version[SYNC_VERSION_MAX];
	uint8_t key[SYNC_KEY_MAX];
	size_t keylen;
	char *config_path;
	uint16_t port;
	struct sync_peer *peers;
	size_t npeers;
	int lfd;
	ev_io lio;
	ev_timer tick;
	TAILQ_HEAD(, sync_conn) conns;
	struct sync_stranger strangers[SYNC_STRANGER_SLOTS];

	/* the loaded configuration */
	char *text;
	size_t len;
	bool loaded;
	uint8_t digest[SYNC_DIGEST_LEN];
	struct sync_stamp stamp;
	bool adopting;                /* a peer's file is being reloaded ... */
	uint8_t adopt_digest[SYNC_DIGEST_LEN];
	struct sync_stamp adopt_stamp;  /* ... with this stamp */
	uint64_t lamport;             /* the highest clock seen */
	uint64_t started_ms;

	/* operator state, one entry per (kind, service, backend) */
	struct sync_op *ops;
	size_t nops, capops;

	/* persistence entries waiting for the next batch */
	struct sync_persist *pq;
	size_t npq;
	uint64_t persist_sent, persist_received;

	uint64_t rejected[SYNC_REJ__COUNT];
	uint64_t applied, refused;    /* received configurations */
};

/* sync_conn.c */
int sync_listen_start(struct sync *s, const struct addr *where, char *err, size_t errlen);
void sync_conns_free(struct sync *s);
void sync_tick_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* Queue one frame on c (never closes c: errors surface in its callbacks). */
void sync_conn_send(struct sync_conn *c, enum sync_type type, const struct buf *payload);

/* sync.c: what the channel tells the logic */
/* c just proved it holds the key: send the state this side owes the peer. */
void sync_on_authed(struct sync *s, struct sync_conn *c);
/* One authenticated frame (not HELLO). 0, or -1 to close the connection. */
int sync_on_frame(struct sync *s, struct sync_conn *c, const struct sync_frame *f);
/* Send the queued persistence entries to the connected peers. */
void sync_persist_flush(struct sync *s);
/* Log a rejection on peer p (rate-limited per reason). */
void sync_log_reject(struct sync *s, struct sync_peer *p, enum sync_reject why,
		     const char *detail);
/* The STATE payload of this node. */
void sync_state_payload(const struct sync *s, struct buf *out);

#endif
