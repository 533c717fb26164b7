/* fuzz_peer_msg.c - libFuzzer target: failover advert decode + verify.
 *
 * The first input byte picks a mode:
 *   even: the rest is a datagram as received, decoded with a fixed key;
 *   odd:  the rest is signed with that key first (HMAC at PEER_MSG_MAC_OFF),
 *         so the field checks behind the MAC are reached too.
 * A decoded advert must encode and decode back to the same fields, and the
 * replay state must accept its (boot, seq) once and only move forward.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "vip/peer_msg.h"
#include "vip/peer_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[] = "fuzz-shared-key-0123456789";

static void roundtrip(const struct peer_msg *m)
{
	uint8_t wire[PEER_MSG_LEN];
	struct peer_msg back;
	char err[128];

	assert(peer_msg_encode(m, key, sizeof(key) - 1, wire) == PEER_MSG_LEN);
	assert(peer_msg_decode(wire, sizeof(wire), key, sizeof(key) - 1, &back, err,
			       sizeof(err)) == PEER_OK);
	assert(back.group == m->group && back.priority == m->priority);
	assert(back.state == m->state && back.flags == m->flags);
	assert(back.advert_ms == m->advert_ms);
	assert(back.boot == m->boot && back.seq == m->seq);
	assert(memcmp(back.vip_digest, m->vip_digest, PEER_DIGEST_LEN) == 0);
	assert(strcmp(back.node, m->node) == 0);
}

/* The replay state: a fresh one accepts (boot, seq), the same again is a
 * replay (state unchanged), the next sequence is accepted; a new boot is a
 * restart, and the first boot stays live beside it. */
static void replay(const struct peer_msg *m)
{
	struct peer_replay r = { 0 }, before;
	bool restarted = false;

	assert(peer_replay_check(&r, m->boot, m->seq, 1.0, 1.0, &restarted) == PEER_OK);
	assert(!restarted && r.boot == m->boot && r.seq == m->seq);
	assert(peer_replay_is_live(&r, m->boot));
	before = r;
	assert(peer_replay_check(&r, m->boot, m->seq, 1.0, 1.0, &restarted) == PEER_REJ_REPLAY);
	assert(memcmp(&r, &before, sizeof(r)) == 0);
	if (m->seq < UINT64_MAX)
		assert(peer_replay_check(&r, m->boot, m->seq + 1, 1.0, 1.0, &restarted) == PEER_OK);
	if (m->boot + 1 != 0) {
		assert(peer_replay_check(&r, m->boot + 1, 0, 1.0, 1.0, &restarted) == PEER_OK);
		assert(restarted && peer_replay_is_live(&r, m->boot));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[PEER_MSG_LEN + 64];
	struct peer_msg m;
	enum peer_reject rc;
	char err[128];
	size_t len;

	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	len = size - 1;
	memcpy(buf, data + 1, len);
	if ((data[0] & 1) && len >= PEER_MSG_LEN) {
		unsigned int maclen = 32;

		HMAC(EVP_sha256(), key, (int)sizeof(key) - 1, buf, PEER_MSG_MAC_OFF,
		     buf + PEER_MSG_MAC_OFF, &maclen);
	}
	err[0] = '\0';
	rc = peer_msg_decode(buf, len, key, sizeof(key) - 1, &m, err, sizeof(err));
	assert(rc < PEER_REJ__COUNT && peer_reject_str(rc));
	if (rc != PEER_OK) {
		assert(err[0] != '\0');
		return 0;
	}
	assert(len == PEER_MSG_LEN && m.state < PEER_STATE__COUNT);
	assert(strlen(m.node) <= PEER_NODE_MAX);
	for (const char *c = m.node; *c; c++)
		assert(*c >= 0x20 && *c <= 0x7e);
	assert(peer_state_str((enum peer_state)m.state));
	roundtrip(&m);
	replay(&m);
	return 0;
}
