/* sync_msg.h - the wire format of the sync channel between the nodes (pure).
 *
 * Every message is one frame:
 *
 *	type:u8 ver:u8 rsv:u16 len:u32 seq:u64 | payload[len] | mac[32]
 *
 * (big endian). mac = HMAC-SHA256(key, nonce || header || payload), where
 * nonce is the 32-byte challenge the RECEIVER sent in its HELLO (all zeros for
 * the HELLO itself, which is sent before the peer's challenge is known). seq
 * is 0 for the HELLO and then counts 1, 2, ... per direction: a frame whose
 * seq is not the next one is a replay. So every frame after the HELLO proves
 * the sender knows the key AND answers this connection's challenge.
 * len is at most SYNC_MAX_PAYLOAD; a longer one is refused from the header.
 *
 * Payloads: integers big endian, strings u8 or u32 length + bytes (no NUL).
 */
#ifndef VIGIL_SYNC_MSG_H
#define VIGIL_SYNC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SYNC_WIRE_VERSION 1
#define SYNC_HDR_LEN 16
#define SYNC_MAC_LEN 32
#define SYNC_NONCE_LEN 32
#define SYNC_DIGEST_LEN 32
#define SYNC_MAX_PAYLOAD (1024 * 1024 + 4096)   /* a 1 MiB config file and its fields */
#define SYNC_NAME_MAX 64                      /* node, service, backend names, NUL included */
#define SYNC_VERSION_MAX 32
#define SYNC_REASON_MAX 512
#define SYNC_OPS_MAX 1024                     /* operator state entries in one message */
#define SYNC_KEY_MAX 256
#define SYNC_PERSIST_MAX 1024                 /* persistence entries in one message */

enum sync_type {
	SYNC_HELLO = 1,       /* challenge, node name, vigil version */
	SYNC_STATE = 2,       /* this node's config digest and clock */
	SYNC_CONFIG = 3,      /* a configuration file */
	SYNC_RESULT = 4,      /* what the receiver did with a CONFIG */
	SYNC_OPS = 5,         /* operator state entries */
	SYNC_PING = 6,        /* keepalive, empty */
	SYNC_PERSIST = 7,     /* persistence entries */
};

/* Why a frame or a connection was refused. */
enum sync_reject {
	SYNC_REJ_NONE,
	SYNC_REJ_TRUNCATED,   /* the stream ended inside a frame */
	SYNC_REJ_OVERSIZED,   /* len above SYNC_MAX_PAYLOAD */
	SYNC_REJ_BAD_MAC,
	SYNC_REJ_REPLAY,      /* seq is not the next one */
	SYNC_REJ_MALFORMED,   /* bad header or payload layout, unknown type */
	SYNC_REJ_STRANGER,    /* connection from an address that is no peer */
	SYNC_REJ__COUNT
};

/* The decoder's verdict on the bytes received so far. */
enum sync_frame_result { SYNC_FRAME_OK, SYNC_FRAME_MORE, SYNC_FRAME_BAD };

struct sync_frame {
	enum sync_type type;
	uint64_t seq;
	const uint8_t *payload;       /* points into the decoded buffer */
	uint32_t len;
};

struct sync_hello {
	uint8_t nonce[SYNC_NONCE_LEN];
	char node[SYNC_NAME_MAX];
	char version[SYNC_VERSION_MAX];
};

/* When and where a configuration was loaded: the order of two files. */
struct sync_stamp {
	uint64_t clock;               /* Lamport clock of the change, 0: loaded at start-up */
	uint64_t started_ms;          /* wall clock ms when the origin node started */
	char origin[SYNC_NAME_MAX];   /* the node where it was loaded */
};

struct sync_state {
	uint8_t digest[SYNC_DIGEST_LEN];
	struct sync_stamp stamp;
};

struct sync_config {
	uint8_t digest[SYNC_DIGEST_LEN];
	struct sync_stamp stamp;
	char version[SYNC_VERSION_MAX];
	const uint8_t *text;          /* points into the decoded buffer */
	uint32_t len;
};

enum sync_result_code {
	SYNC_RES_APPLIED,     /* written and reloaded */
	SYNC_RES_IN_SYNC,     /* same digest: nothing to do */
	SYNC_RES_OLDER,       /* the receiver's configuration is newer */
	SYNC_RES_VERSION,     /* vigil versions differ */
	SYNC_RES_INVALID,     /* the file does not pass the checks */
	SYNC_RES_WRITE,       /* cannot write the file */
	SYNC_RES_RELOAD,      /* written, but the reload refused it */
	SYNC_RES__COUNT
};

struct sync_result {
	uint8_t digest[SYNC_DIGEST_LEN];
	enum sync_result_code code;
	char reason[SYNC_REASON_MAX];
};

enum sync_op_kind { SYNC_OP_ADMIN = 1, SYNC_OP_WEIGHT = 2 };

/* One operator decision: admin (0 none, 1 drain, 2 maint) or weight. */
struct sync_op {
	enum sync_op_kind kind;
	uint32_t value;
	uint64_t clock;
	char origin[SYNC_NAME_MAX];
	char svc[SYNC_NAME_MAX];
	char be[SYNC_NAME_MAX];
};

struct sync_ops {
	bool snapshot;                /* the last message of the sender's whole table */
	size_t n;
	struct sync_op op[SYNC_OPS_MAX];
};

/* One persistence entry: a client (masked) of a service goes to a backend
 * for ttl_ms more. */
struct sync_persist {
	char svc[SYNC_NAME_MAX];
	uint8_t keylen;               /* 4 or 16 */
	uint8_t key[16];
	char be[SYNC_NAME_MAX];
	uint32_t ttl_ms;
};

struct sync_persists {
	size_t n;
	struct sync_persist e[SYNC_PERSIST_MAX];
};

/* Append one frame (header, payload, MAC) to out. nonce NULL: zeros. */
void sync_frame_encode(struct buf *out, enum sync_type type, uint64_t seq,
		       const void *payload, size_t len, const uint8_t *key, size_t keylen,
		       const uint8_t *nonce);

/* Decode the frame at the start of buf[0..len): MORE while incomplete (the
 * header is judged as soon as it is in: an oversized len is BAD at once),
 * BAD with *why set, or OK with out filled and *used = the frame's size.
 * nonce NULL: zeros. expect_seq: the seq the next frame must carry. */
enum sync_frame_result sync_frame_decode(const uint8_t *buf, size_t len, const uint8_t *key,
					 size_t keylen, const uint8_t *nonce,
					 uint64_t expect_seq, struct sync_frame *out,
					 size_t *used, enum sync_reject *why);

/* Payload encoders (append to out) and decoders (0, or -1 with err). */
void sync_hello_encode(struct buf *out, const struct sync_hello *h);
int sync_hello_decode(const uint8_t *p, size_t len, struct sync_hello *h, char *err,
		      size_t errlen);
void sync_state_encode(struct buf *out, const struct sync_state *s);
int sync_state_decode(const uint8_t *p, size_t len, struct sync_state *s, char *err,
		      size_t errlen);
void sync_config_encode(struct buf *out, const struct sync_config *c);
int sync_config_decode(const uint8_t *p, size_t len, struct sync_config *c, char *err,
		       size_t errlen);
void sync_result_encode(struct buf *out, const struct sync_result *r);
int sync_result_decode(const uint8_t *p, size_t len, struct sync_result *r, char *err,
		       size_t errlen);
/* ops[0..n) with n <= SYNC_OPS_MAX. */
void sync_ops_encode(struct buf *out, bool snapshot, const struct sync_op *ops, size_t n);
int sync_ops_decode(const uint8_t *p, size_t len, struct sync_ops *o, char *err,
		    size_t errlen);

/* e[0..n) with n <= SYNC_PERSIST_MAX. */
void sync_persist_encode(struct buf *out, const struct sync_persist *e, size_t n);
int sync_persist_decode(const uint8_t *p, size_t len, struct sync_persists *o, char *err,
			size_t errlen);

/* SHA-256 of data, and its lowercase hex (out: 65 bytes). */
void sync_digest(const void *data, size_t len, uint8_t out[SYNC_DIGEST_LEN]);
void sync_digest_hex(const uint8_t d[SYNC_DIGEST_LEN], char out[2 * SYNC_DIGEST_LEN + 1]);

/* Lamport order of two stamped changes: >0 when (ca, na) is the later one
 * (higher clock; equal clocks: the greater node name), <0 when earlier, 0 same. */
int sync_clock_cmp(uint64_t ca, const char *na, uint64_t cb, const char *nb);
/* Order of two configurations' stamps: >0 when a wins. The higher clock;
 * both 0 (neither changed since start-up): the earlier started node; then
 * the greater origin name. */
int sync_stamp_cmp(const struct sync_stamp *a, const struct sync_stamp *b);

const char *sync_type_str(enum sync_type t);
const char *sync_reject_str(enum sync_reject r);
const char *sync_result_str(enum sync_result_code c);

#endif
