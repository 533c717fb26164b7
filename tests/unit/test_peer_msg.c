/* test_peer_msg.c - the failover advert wire format: fixed vectors, hostile input, replay. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "vip/peer_msg.h"

static const uint8_t key[] = "0123456789abcdef0123456789abcdef";
#define KEYLEN 32

/* Computed independently (Python hmac/hashlib) from the layout in peer_msg.h. */
static const uint8_t vector[PEER_MSG_LEN] = {
	0x56, 0x47, 0x02, 0x01, 0x33, 0x96, 0x02, 0x00, 0x00, 0x64, 0x00, 0x00,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x2a, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x6c, 0x62, 0x31, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x8e, 0x83, 0x20, 0x1d, 0x03, 0x59, 0xaf, 0x20,
	0x89, 0xae, 0xe4, 0x8d, 0x59, 0x8b, 0x67, 0xf4, 0xcb, 0x64, 0x4b, 0xa1,
	0x06, 0xf2, 0x07, 0x7c, 0x56, 0x5a, 0x93, 0xc9, 0x51, 0x8f, 0xdd, 0x1e,
};

static void vector_msg(struct peer_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->group = 51;
	m->priority = 150;
	m->state = PEER_MASTER;
	m->advert_ms = 100;
	m->boot = 0x0102030405060708ULL;
	m->seq = 42;
	for (int i = 0; i < PEER_DIGEST_LEN; i++)
		m->vip_digest[i] = (uint8_t)i;
	strcpy(m->node, "lb1");
}

static void test_encode_vector(void **state)
{
	struct peer_msg m;
	uint8_t out[PEER_MSG_LEN];

	vector_msg(&m);
	assert_int_equal(peer_msg_encode(&m, key, KEYLEN, out), PEER_MSG_LEN);
	assert_memory_equal(out, vector, PEER_MSG_LEN);
}

static void test_decode_vector(void **state)
{
	struct peer_msg m, want;
	char err[128] = "";

	vector_msg(&want);
	want.version = PEER_MSG_VERSION;
	assert_int_equal(peer_msg_decode(vector, sizeof(vector), key, KEYLEN, &m, err, sizeof(err)),
			 PEER_OK);
	assert_int_equal(m.version, 2);
	assert_int_equal(m.group, 51);
	assert_int_equal(m.priority, 150);
	assert_int_equal(m.state, PEER_MASTER);
	assert_int_equal(m.advert_ms, 100);
	assert_true(m.boot == 0x0102030405060708ULL);
	assert_true(m.seq == 42);
	assert_memory_equal(m.vip_digest, want.vip_digest, PEER_DIGEST_LEN);
	assert_string_equal(m.node, "lb1");
}

static void test_roundtrip_long_node(void **state)
{
	struct peer_msg m, got;
	uint8_t out[PEER_MSG_LEN];
	char err[128];

	vector_msg(&m);
	memset(m.node, 'x', PEER_NODE_MAX);
	m.node[PEER_NODE_MAX] = '\0';
	m.flags = PEER_F_STANDBY;
	m.priority = 0;
	peer_msg_encode(&m, key, KEYLEN, out);
	assert_int_equal(peer_msg_decode(out, sizeof(out), key, KEYLEN, &got, err, sizeof(err)),
			 PEER_OK);
	assert_int_equal(strlen(got.node), PEER_NODE_MAX);
	assert_int_equal(got.flags, PEER_F_STANDBY);
	assert_int_equal(got.priority, 0);
}

/* The flags byte (offset 7) carries standby, forced and yield; vigilctl
 * standby relies on the peer's standby bit. Every combination survives, with
 * the state beside it. */
static void test_flags_roundtrip(void **state)
{
	struct peer_msg m, got;
	uint8_t out[PEER_MSG_LEN];
	char err[128];

	for (unsigned fl = 0; fl < 8; fl++) {
		vector_msg(&m);
		m.flags = (uint8_t)fl;
		m.state = (fl & PEER_F_STANDBY) ? PEER_BACKUP : PEER_MASTER;
		m.priority = (fl & PEER_F_STANDBY) ? 0 : (fl & PEER_F_FORCED) ? 255 : 150;
		peer_msg_encode(&m, key, KEYLEN, out);
		assert_int_equal(out[7], fl);
		assert_int_equal(peer_msg_decode(out, sizeof(out), key, KEYLEN, &got, err,
						 sizeof(err)), PEER_OK);
		assert_int_equal(got.flags, fl);
		assert_int_equal(got.state, m.state);
		assert_int_equal(got.priority, m.priority);
	}
	/* a flipped standby bit does not pass the MAC */
	vector_msg(&m);
	peer_msg_encode(&m, key, KEYLEN, out);
	out[7] ^= PEER_F_STANDBY;
	assert_int_equal(peer_msg_decode(out, sizeof(out), key, KEYLEN, &got, err, sizeof(err)),
			 PEER_REJ_BAD_MAC);
}

static void test_truncated_and_oversized(void **state)
{
	uint8_t big[PEER_MSG_LEN + 1];
	struct peer_msg m;
	char err[128];

	for (size_t len = 0; len < PEER_MSG_LEN; len++)
		assert_int_equal(peer_msg_decode(vector, len, key, KEYLEN, &m, err, sizeof(err)),
				 PEER_REJ_TRUNCATED);
	assert_non_null(strstr(err, "truncated"));
	memcpy(big, vector, PEER_MSG_LEN);
	big[PEER_MSG_LEN] = 0;
	assert_int_equal(peer_msg_decode(big, sizeof(big), key, KEYLEN, &m, err, sizeof(err)),
			 PEER_REJ_OVERSIZED);
}

static void test_bad_mac(void **state)
{
	uint8_t buf[PEER_MSG_LEN];
	struct peer_msg m;
	char err[128];
	static const uint8_t other[] = "another key of thirty-two bytes!";

	/* every single flipped bit anywhere is caught */
	for (size_t i = 0; i < PEER_MSG_LEN; i++) {
		memcpy(buf, vector, sizeof(buf));
		buf[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &m, err, sizeof(err)),
				 PEER_REJ_BAD_MAC);
	}
	assert_int_equal(peer_msg_decode(vector, sizeof(vector), other, 32, &m, err, sizeof(err)),
			 PEER_REJ_BAD_MAC);
	/* a shorter prefix of the right key is another key */
	assert_int_equal(peer_msg_decode(vector, sizeof(vector), key, 31, &m, err, sizeof(err)),
			 PEER_REJ_BAD_MAC);
}

/* Sign buf as the encoder does, after a test changed a field. */
static void resign(uint8_t *buf)
{
	unsigned int l = 32;

	HMAC(EVP_sha256(), key, KEYLEN, buf, PEER_MSG_MAC_OFF, buf + PEER_MSG_MAC_OFF, &l);
}

static void test_version(void **state)
{
	struct peer_msg m;
	uint8_t buf[PEER_MSG_LEN];
	char err[128];

	memcpy(buf, vector, sizeof(buf));
	buf[2] = 1;     /* authentic, but the old version 1 (wall-clock epoch) */
	resign(buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &m, err, sizeof(err)),
			 PEER_REJ_VERSION);
	assert_non_null(strstr(err, "version 1"));
	assert_non_null(strstr(err, "version 2"));     /* names both */
	buf[2] = 3;     /* and a future one */
	resign(buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &m, err, sizeof(err)),
			 PEER_REJ_VERSION);
	assert_non_null(strstr(err, "version 3"));
	memcpy(buf, vector, sizeof(buf));
	buf[0] = 'X';   /* not our magic */
	resign(buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &m, err, sizeof(err)),
			 PEER_REJ_VERSION);
	vector_msg(&m);
	m.state = 7;    /* the encoder writes what it is given: an unknown state */
	peer_msg_encode(&m, key, KEYLEN, buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &m, err, sizeof(err)),
			 PEER_REJ_VERSION);
	assert_non_null(strstr(err, "state"));
}

/* The identity is authenticated, and must be usable as one. */
static void test_identity_malformed(void **state)
{
	struct peer_msg m, out;
	uint8_t buf[PEER_MSG_LEN];
	char err[128];

	vector_msg(&m);
	m.boot = 0;
	peer_msg_encode(&m, key, KEYLEN, buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &out, err, sizeof(err)),
			 PEER_REJ_VERSION);
	assert_non_null(strstr(err, "boot ID"));
	vector_msg(&m);
	strcpy(m.node, "lb1\r\nforged");   /* a control character in the name */
	peer_msg_encode(&m, key, KEYLEN, buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &out, err, sizeof(err)),
			 PEER_REJ_VERSION);
	assert_non_null(strstr(err, "node name"));
	vector_msg(&m);
	m.node[0] = '\0';
	peer_msg_encode(&m, key, KEYLEN, buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &out, err, sizeof(err)),
			 PEER_REJ_VERSION);
	memcpy(buf, vector, sizeof(buf));
	buf[44 + 5] = 'x';                 /* bytes after the NUL of "lb1" */
	resign(buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &out, err, sizeof(err)),
			 PEER_REJ_VERSION);
	/* the flags byte is carried as is (standby, forced, yield) */
	vector_msg(&m);
	m.flags = PEER_F_STANDBY | PEER_F_YIELD;
	peer_msg_encode(&m, key, KEYLEN, buf);
	assert_int_equal(peer_msg_decode(buf, sizeof(buf), key, KEYLEN, &out, err, sizeof(err)),
			 PEER_OK);
	assert_int_equal(out.flags, PEER_F_STANDBY | PEER_F_YIELD);
	assert_true(out.boot == 0x0102030405060708ULL);
}

/* Fuzz-style: every single-bit flip and random garbage of every length is
 * refused without touching memory it should not (run under ASan in CI); only
 * the untouched advert decodes. A cheap, deterministic stand-in for a fuzzer. */
static void test_mutations_refused(void **state)
{
	struct peer_msg m;
	uint8_t buf[PEER_MSG_LEN + 8];
	char err[128];
	unsigned seed = 13;

	for (size_t bit = 0; bit < PEER_MSG_LEN * 8; bit++) {
		memcpy(buf, vector, PEER_MSG_LEN);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(peer_msg_decode(buf, PEER_MSG_LEN, key, KEYLEN, &m, err,
						 sizeof(err)), PEER_REJ_BAD_MAC);
	}
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		assert_int_not_equal(peer_msg_decode(buf, len, key, KEYLEN, &m, err, sizeof(err)),
				     PEER_OK);
		assert_true(strlen(err) < sizeof(err));
	}
	assert_int_equal(peer_msg_decode(vector, PEER_MSG_LEN, key, KEYLEN, &m, err, sizeof(err)),
			 PEER_OK);
}

static void vip(struct peer_vip *v, const char *ip, int prefix)
{
	assert_int_equal(addr_parse_ip(ip, &v->ip), 0);
	v->prefix = prefix;
}

static void test_vip_digest(void **state)
{
	struct peer_vip a[3], b[4];
	uint8_t da[PEER_DIGEST_LEN], db[PEER_DIGEST_LEN], dc[PEER_DIGEST_LEN];

	vip(&a[0], "192.0.2.10", 32);
	vip(&a[1], "2001:db8::10", 128);
	vip(&a[2], "192.0.2.11", 24);
	vip(&b[0], "192.0.2.11", 24);
	vip(&b[1], "192.0.2.10", 32);
	vip(&b[2], "2001:db8::10", 128);
	vip(&b[3], "192.0.2.10", 32);   /* duplicate: shared by two services */
	peer_vip_digest(a, 3, da);
	peer_vip_digest(b, 4, db);
	assert_memory_equal(da, db, PEER_DIGEST_LEN);
	b[0].prefix = 32;
	peer_vip_digest(b, 4, dc);
	assert_memory_not_equal(da, dc, PEER_DIGEST_LEN);
	peer_vip_digest(NULL, 0, dc);
	assert_memory_not_equal(da, dc, PEER_DIGEST_LEN);
}

static void test_key_load(void **state)
{
	char path[] = "/tmp/vigil-test-key-XXXXXX";
	uint8_t k[PEER_KEY_MAX];
	char err[256];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short\n", 6), 6);
	assert_int_equal(peer_key_load(path, k, sizeof(k), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too short"));
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, "0123456789abcdef0123\n", 21, 0), 21);
	assert_int_equal(peer_key_load(path, k, sizeof(k), err, sizeof(err)), 20);
	assert_memory_equal(k, "0123456789abcdef0123", 20);
	close(fd);
	unlink(path);
	assert_int_equal(peer_key_load(path, k, sizeof(k), err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
}

static void test_names(void **state)
{
	assert_string_equal(peer_state_str(PEER_MASTER), "master");
	assert_string_equal(peer_state_str(PEER_FAULT), "fault");
	assert_string_equal(peer_reject_str(PEER_REJ_BAD_MAC), "bad_mac");
	assert_string_equal(peer_reject_str(PEER_REJ_REPLAY), "replay");
	assert_string_equal(peer_reject_str(PEER_REJ_REFLECTED), "reflected");
	assert_string_equal(peer_reject_str(PEER_REJ_UNKNOWN), "unknown_sender");
	assert_string_equal(peer_reject_str(PEER_REJ_ADDRESS), "wrong_address");
	assert_string_equal(peer_reject_str(PEER_REJ_TABLE_FULL), "table_full");
	assert_string_equal(peer_reject_str(PEER_REJ__COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_vector),
		cmocka_unit_test(test_decode_vector),
		cmocka_unit_test(test_roundtrip_long_node),
		cmocka_unit_test(test_flags_roundtrip),
		cmocka_unit_test(test_truncated_and_oversized),
		cmocka_unit_test(test_bad_mac),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_identity_malformed),
		cmocka_unit_test(test_mutations_refused),
		cmocka_unit_test(test_vip_digest),
		cmocka_unit_test(test_key_load),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
