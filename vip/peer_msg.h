/* peer_msg.h - the failover advert on the wire: pure encode / decode, HMAC-SHA256.
 *
 * One fixed-size UDP payload (PEER_MSG_LEN bytes, network byte order):
 *
 *   off len field
 *     0   2 magic "VG"
 *     2   1 version (2; version 1 had the wall-clock epoch at offset 12)
 *     3   1 type (1 = advert)
 *     4   1 group (1..255)
 *     5   1 priority (0 = resigning, 1..254, 255 = forced by vigilctl takeover)
 *     6   1 state (enum peer_state)
 *     7   1 flags (PEER_F_*; unknown bits are ignored)
 *     8   2 advert interval, ms
 *    10   2 reserved, zero
 *    12   8 boot ID (random, from getrandom() at start, never 0)
 *    20   8 sequence number (starts at 1 each boot, +1 per message)
 *    28  16 digest of the sender's VIP set (SHA-256, truncated)
 *    44  32 node name (the sender's identity), printable ASCII, NUL padded
 *    76  32 HMAC-SHA256 over bytes 0..75 with the shared key
 *
 * A node with several failover groups sends one advert per group (the group
 * byte says which), all numbered from the one sequence counter of its boot;
 * the layout is the same for one group or many, so it stays version 2.
 *
 * The sender's identity (node name, boot ID) is inside the authenticated
 * bytes: the receiver refuses an advert that names itself (a reflection) and
 * keeps replay state per claimed node and boot (vip/peer_table.h).
 * Nothing here does I/O; the decoder authenticates before it trusts a field.
 */
#ifndef VIGIL_PEER_MSG_H
#define VIGIL_PEER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "vip/peer_vip.h"

#define PEER_MSG_VERSION 2
#define PEER_MSG_TYPE_ADVERT 1
#define PEER_MSG_LEN 108
#define PEER_MSG_MAC_OFF 76
#define PEER_NODE_MAX 32
#define PEER_DIGEST_LEN 16
#define PEER_KEY_MAX 256
#define PEER_DEFAULT_MCAST "224.0.0.118"

enum peer_state { PEER_INIT, PEER_BACKUP, PEER_MASTER, PEER_FAULT, PEER_STATE__COUNT };

#define PEER_F_STANDBY  0x01   /* sender is in standby (vigilctl standby): do not ask it to take over */
#define PEER_F_FORCED   0x02   /* sender claimed by vigilctl takeover */
#define PEER_F_YIELD    0x04   /* sender just left master for a better one */

/* Why a received datagram was not accepted; PEER_OK when it was. */
enum peer_reject {
	PEER_OK,
	PEER_REJ_TRUNCATED,
	PEER_REJ_OVERSIZED,
	PEER_REJ_BAD_MAC,
	PEER_REJ_VERSION,      /* wrong magic, version or type, malformed field */
	PEER_REJ_GROUP,
	PEER_REJ_REPLAY,       /* sequence not newer within the boot, or a retired boot */
	PEER_REJ_UNKNOWN,      /* sender not among the configured peers */
	PEER_REJ_TTL,          /* not sent with TTL / hop limit 255 */
	PEER_REJ_REFLECTED,    /* names this node (node name or boot ID) */
	PEER_REJ_ADDRESS,      /* source address is not the claimed node's */
	PEER_REJ_TABLE_FULL,   /* a new sender, but the sender table is full */
	PEER_REJ__COUNT
};

struct peer_msg {
	uint8_t version;
	uint8_t group;
	uint8_t priority;
	uint8_t state;             /* enum peer_state */
	uint8_t flags;
	uint16_t advert_ms;
	uint64_t boot;             /* random boot ID of the sender */
	uint64_t seq;
	uint8_t vip_digest[PEER_DIGEST_LEN];
	char node[PEER_NODE_MAX + 1];
};

/* Write m as PEER_MSG_LEN bytes into out (version and type are set here),
 * authenticated with key. Returns PEER_MSG_LEN. */
size_t peer_msg_encode(const struct peer_msg *m, const uint8_t *key, size_t keylen,
		       uint8_t out[PEER_MSG_LEN]);

/* Authenticate and parse buf. Returns PEER_OK with *out filled, or the reason
 * (truncated, oversized, bad MAC, version / malformed: boot ID 0, empty node
 * name or one with bytes outside printable ASCII) with a message in err. The
 * group, sender and replay checks are the caller's (peer_table_admit()). */
enum peer_reject peer_msg_decode(const uint8_t *buf, size_t len, const uint8_t *key,
				 size_t keylen, struct peer_msg *out, char *err, size_t errlen);

/* Digest of a VIP set, independent of order and duplicates. */
void peer_vip_digest(const struct peer_vip *vips, size_t n, uint8_t out[PEER_DIGEST_LEN]);

/* Read a shared key file: its bytes with one trailing newline removed; at
 * least 16 bytes. Returns the length, or -1 with err filled. */
int peer_key_load(const char *path, uint8_t *key, size_t keymax, char *err, size_t errlen);

const char *peer_state_str(enum peer_state s);
const char *peer_reject_str(enum peer_reject r);

#endif
