/* test_sync_msg.c - the sync channel's frames: MAC, replay, framing limits, payloads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>

#include "sync/sync_msg.h"

static const uint8_t key[] = "0123456789abcdef0123456789abcdef";
#define KEYLEN 32

static const uint8_t nonce[SYNC_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static enum sync_frame_result dec(const struct buf *b, const uint8_t *n, uint64_t seq,
				  struct sync_frame *f, size_t *used, enum sync_reject *why)
{
	return sync_frame_decode((const uint8_t *)b->data, b->len, key, KEYLEN, n, seq, f, used,
				 why);
}

/* The MAC is HMAC-SHA256(key, nonce || header || payload), checked against
 * OpenSSL's one-shot HMAC() so the layout in sync_msg.h holds. */
static void test_frame_layout(void **state)
{
	struct buf b;
	uint8_t in[SYNC_NONCE_LEN + SYNC_HDR_LEN + 3], mac[32];
	unsigned int maclen = 0;

	buf_init(&b);
	sync_frame_encode(&b, SYNC_PING, 7, "abc", 3, key, KEYLEN, nonce);
	assert_int_equal(b.len, SYNC_HDR_LEN + 3 + SYNC_MAC_LEN);
	assert_int_equal((uint8_t)b.data[0], SYNC_PING);
	assert_int_equal((uint8_t)b.data[1], SYNC_WIRE_VERSION);
	assert_int_equal((uint8_t)b.data[7], 3);
	assert_int_equal((uint8_t)b.data[15], 7);
	memcpy(in, nonce, SYNC_NONCE_LEN);
	memcpy(in + SYNC_NONCE_LEN, b.data, SYNC_HDR_LEN + 3);
	HMAC(EVP_sha256(), key, KEYLEN, in, sizeof(in), mac, &maclen);
	assert_int_equal(maclen, 32);
	assert_memory_equal(mac, b.data + SYNC_HDR_LEN + 3, 32);
	buf_free(&b);
}

static void test_frame_roundtrip_and_more(void **state)
{
	struct buf b;
	struct sync_frame f;
	size_t used = 0;
	enum sync_reject why;

	buf_init(&b);
	sync_frame_encode(&b, SYNC_STATE, 1, "xyz", 3, key, KEYLEN, nonce);
	for (size_t cut = 0; cut < b.len; cut++)
		assert_int_equal(sync_frame_decode((const uint8_t *)b.data, cut, key, KEYLEN, nonce,
						   1, &f, &used, &why), SYNC_FRAME_MORE);
	assert_int_equal(dec(&b, nonce, 1, &f, &used, &why), SYNC_FRAME_OK);
	assert_int_equal(used, b.len);
	assert_int_equal(f.type, SYNC_STATE);
	assert_int_equal(f.len, 3);
	assert_memory_equal(f.payload, "xyz", 3);
	buf_free(&b);
}

static void test_bad_mac(void **state)
{
	struct buf b;
	struct sync_frame f;
	size_t used = 0;
	enum sync_reject why;
	uint8_t other[SYNC_NONCE_LEN] = { 9 };

	buf_init(&b);
	sync_frame_encode(&b, SYNC_STATE, 1, "xyz", 3, key, KEYLEN, nonce);
	/* another connection's challenge: the frame is not for us */
	assert_int_equal(dec(&b, other, 1, &f, &used, &why), SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_BAD_MAC);
	/* one flipped payload bit */
	b.data[SYNC_HDR_LEN] ^= 1;
	assert_int_equal(dec(&b, nonce, 1, &f, &used, &why), SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_BAD_MAC);
	b.data[SYNC_HDR_LEN] ^= 1;
	/* another key */
	assert_int_equal(sync_frame_decode((const uint8_t *)b.data, b.len,
					   (const uint8_t *)"another key of 32 bytes........", 32,
					   nonce, 1, &f, &used, &why), SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_BAD_MAC);
	buf_free(&b);
}

static void test_replay(void **state)
{
	struct buf b;
	struct sync_frame f;
	size_t used = 0;
	enum sync_reject why;

	buf_init(&b);
	sync_frame_encode(&b, SYNC_PING, 3, NULL, 0, key, KEYLEN, nonce);
	assert_int_equal(dec(&b, nonce, 3, &f, &used, &why), SYNC_FRAME_OK);
	/* the same frame again: the receiver expects 4 now */
	assert_int_equal(dec(&b, nonce, 4, &f, &used, &why), SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_REPLAY);
	/* a skipped one is refused too */
	assert_int_equal(dec(&b, nonce, 2, &f, &used, &why), SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_REPLAY);
	buf_free(&b);
	/* a HELLO only as the first frame, and the first frame only a HELLO */
	buf_init(&b);
	sync_frame_encode(&b, SYNC_HELLO, 0, NULL, 0, key, KEYLEN, NULL);
	assert_int_equal(sync_frame_decode((const uint8_t *)b.data, b.len, key, KEYLEN, NULL, 0,
					   &f, &used, &why), SYNC_FRAME_OK);
	buf_reset(&b);
	sync_frame_encode(&b, SYNC_PING, 0, NULL, 0, key, KEYLEN, NULL);
	assert_int_equal(sync_frame_decode((const uint8_t *)b.data, b.len, key, KEYLEN, NULL, 0,
					   &f, &used, &why), SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_MALFORMED);
	buf_free(&b);
}

/* An oversized length is refused from the header alone, before the body. */
static void test_oversized_and_malformed(void **state)
{
	uint8_t h[SYNC_HDR_LEN] = { SYNC_CONFIG, SYNC_WIRE_VERSION, 0, 0 };
	struct sync_frame f;
	size_t used = 0;
	enum sync_reject why;
	uint32_t big = SYNC_MAX_PAYLOAD + 1;

	h[4] = (uint8_t)(big >> 24);
	h[5] = (uint8_t)(big >> 16);
	h[6] = (uint8_t)(big >> 8);
	h[7] = (uint8_t)big;
	assert_int_equal(sync_frame_decode(h, sizeof(h), key, KEYLEN, nonce, 1, &f, &used, &why),
			 SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_OVERSIZED);
	memset(h + 4, 0, 4);
	h[0] = 99;
	assert_int_equal(sync_frame_decode(h, sizeof(h), key, KEYLEN, nonce, 1, &f, &used, &why),
			 SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_MALFORMED);
	h[0] = SYNC_PING;
	h[1] = 9;
	assert_int_equal(sync_frame_decode(h, sizeof(h), key, KEYLEN, nonce, 1, &f, &used, &why),
			 SYNC_FRAME_BAD);
	assert_int_equal(why, SYNC_REJ_MALFORMED);
}

static void test_hello_state(void **state)
{
	struct sync_hello h = { .node = "lb1", .version = "0.1.0" }, h2;
	struct sync_state s = { .stamp = { .clock = 0x0102030405060708ULL, .started_ms = 77,
					   .origin = "lb2" } }, s2;
	struct buf b;
	char err[128];

	memset(h.nonce, 0xab, sizeof(h.nonce));
	memset(s.digest, 0xcd, sizeof(s.digest));
	buf_init(&b);
	sync_hello_encode(&b, &h);
	assert_int_equal(sync_hello_decode((uint8_t *)b.data, b.len, &h2, err, sizeof(err)), 0);
	assert_string_equal(h2.node, "lb1");
	assert_string_equal(h2.version, "0.1.0");
	assert_memory_equal(h2.nonce, h.nonce, SYNC_NONCE_LEN);
	for (size_t cut = 0; cut < b.len; cut++)
		assert_int_equal(sync_hello_decode((uint8_t *)b.data, cut, &h2, err, sizeof(err)),
				 -1);
	buf_append(&b, "x", 1);
	assert_int_equal(sync_hello_decode((uint8_t *)b.data, b.len, &h2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "after the last field"));
	/* a control byte in the node name */
	buf_reset(&b);
	h.node[1] = '\n';
	sync_hello_encode(&b, &h);
	assert_int_equal(sync_hello_decode((uint8_t *)b.data, b.len, &h2, err, sizeof(err)), -1);
	buf_reset(&b);
	sync_state_encode(&b, &s);
	assert_int_equal(sync_state_decode((uint8_t *)b.data, b.len, &s2, err, sizeof(err)), 0);
	assert_true(s2.stamp.clock == s.stamp.clock);
	assert_true(s2.stamp.started_ms == 77);
	assert_string_equal(s2.stamp.origin, "lb2");
	assert_memory_equal(s2.digest, s.digest, SYNC_DIGEST_LEN);
	buf_free(&b);
}

static void test_config_payload(void **state)
{
	const char *text = "global: {}\n";
	struct sync_config c = { .stamp = { .clock = 5, .origin = "lb1" }, .version = "0.1.0",
				 .text = (const uint8_t *)text, .len = 11 }, c2;
	struct buf b;
	char err[128], hex[65];

	sync_digest(text, 11, c.digest);
	sync_digest_hex(c.digest, hex);
	assert_int_equal(strlen(hex), 64);
	buf_init(&b);
	sync_config_encode(&b, &c);
	assert_int_equal(sync_config_decode((uint8_t *)b.data, b.len, &c2, err, sizeof(err)), 0);
	assert_int_equal(c2.len, 11);
	assert_memory_equal(c2.text, text, 11);
	assert_string_equal(c2.stamp.origin, "lb1");
	assert_true(c2.stamp.clock == 5);
	/* the digest must match the bytes */
	b.data[b.len - 1] ^= 1;
	assert_int_equal(sync_config_decode((uint8_t *)b.data, b.len, &c2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "digest"));
	/* a file length beyond the payload */
	b.data[b.len - 1] ^= 1;
	b.data[b.len - 11 - 4] = 0x7f;
	assert_int_equal(sync_config_decode((uint8_t *)b.data, b.len, &c2, err, sizeof(err)), -1);
	buf_free(&b);
}

static void test_result_payload(void **state)
{
	struct sync_result r = { .code = SYNC_RES_VERSION,
				 .reason = "vigil versions differ: lb1 0.1.0, lb2 0.2.0" }, r2;
	struct buf b;
	char err[128];

	buf_init(&b);
	sync_result_encode(&b, &r);
	assert_int_equal(sync_result_decode((uint8_t *)b.data, b.len, &r2, err, sizeof(err)), 0);
	assert_int_equal(r2.code, SYNC_RES_VERSION);
	assert_string_equal(r2.reason, r.reason);
	b.data[SYNC_DIGEST_LEN] = SYNC_RES__COUNT;
	assert_int_equal(sync_result_decode((uint8_t *)b.data, b.len, &r2, err, sizeof(err)), -1);
	buf_free(&b);
}

static void test_ops_payload(void **state)
{
	struct sync_op ops[2] = {
		{ .kind = SYNC_OP_ADMIN, .value = 1, .clock = 9, .origin = "lb1", .svc = "web",
		  .be = "w1" },
		{ .kind = SYNC_OP_WEIGHT, .value = 256, .clock = 10, .origin = "lb2", .svc = "web",
		  .be = "w2" },
	};
	struct sync_ops *o = calloc(1, sizeof(*o));
	struct buf b;
	char err[128];

	buf_init(&b);
	sync_ops_encode(&b, true, ops, 2);
	assert_int_equal(sync_ops_decode((uint8_t *)b.data, b.len, o, err, sizeof(err)), 0);
	assert_true(o->snapshot);
	assert_int_equal(o->n, 2);
	assert_int_equal(o->op[1].kind, SYNC_OP_WEIGHT);
	assert_int_equal(o->op[1].value, 256);
	assert_string_equal(o->op[1].be, "w2");
	assert_string_equal(o->op[0].origin, "lb1");
	/* a weight above 256 */
	buf_reset(&b);
	ops[1].value = 257;
	sync_ops_encode(&b, false, ops, 2);
	assert_int_equal(sync_ops_decode((uint8_t *)b.data, b.len, o, err, sizeof(err)), -1);
	assert_int_equal(o->n, 0);
	/* a count above the limit, with no entries behind it */
	buf_reset(&b);
	sync_ops_encode(&b, false, ops, 0);
	b.data[1] = 0x7f;
	assert_int_equal(sync_ops_decode((uint8_t *)b.data, b.len, o, err, sizeof(err)), -1);
	buf_free(&b);
	free(o);
}

static void test_persist_payload(void **state)
{
	struct sync_persist e[2] = {
		{ .svc = "web", .keylen = 4, .key = { 192, 0, 2, 0 }, .be = "w1", .ttl_ms = 60000 },
		{ .svc = "web", .keylen = 16, .key = { 0x20, 0x01, 0x0d, 0xb8 }, .be = "w2",
		  .ttl_ms = 1 },
	};
	struct sync_persists *o = calloc(1, sizeof(*o));
	struct buf b;
	char err[128];

	buf_init(&b);
	sync_persist_encode(&b, e, 2);
	assert_int_equal(sync_persist_decode((uint8_t *)b.data, b.len, o, err, sizeof(err)), 0);
	assert_int_equal(o->n, 2);
	assert_int_equal(o->e[0].keylen, 4);
	assert_memory_equal(o->e[0].key, e[0].key, 4);
	assert_string_equal(o->e[1].be, "w2");
	assert_int_equal(o->e[0].ttl_ms, 60000);
	for (size_t cut = 0; cut < b.len; cut++)
		assert_int_equal(sync_persist_decode((uint8_t *)b.data, cut, o, err, sizeof(err)),
				 -1);
	/* a key length other than 4 or 16 */
	b.data[4 + 1 + 3] = 5;
	assert_int_equal(sync_persist_decode((uint8_t *)b.data, b.len, o, err, sizeof(err)), -1);
	assert_int_equal(o->n, 0);
	buf_free(&b);
	free(o);
}

static void test_clock_order(void **state)
{
	assert_true(sync_clock_cmp(5, "lb1", 4, "lb2") > 0);
	assert_true(sync_clock_cmp(4, "lb2", 5, "lb1") < 0);
	/* equal clocks: the greater node name wins, on both nodes alike */
	assert_true(sync_clock_cmp(5, "lb2", 5, "lb1") > 0);
	assert_true(sync_clock_cmp(5, "lb1", 5, "lb2") < 0);
	assert_int_equal(sync_clock_cmp(5, "lb1", 5, "lb1"), 0);
	assert_string_equal(sync_reject_str(SYNC_REJ_BAD_MAC), "bad_mac");
}

/* Configurations: the later clock; both unchanged since start-up: the node
 * that started first (the running one); then the name. */
static void test_stamp_order(void **state)
{
	struct sync_stamp a = { .clock = 0, .started_ms = 1000, .origin = "lb1" };
	struct sync_stamp b = { .clock = 0, .started_ms = 2000, .origin = "lb2" };

	assert_true(sync_stamp_cmp(&a, &b) > 0);
	assert_true(sync_stamp_cmp(&b, &a) < 0);
	b.clock = 1;
	assert_true(sync_stamp_cmp(&b, &a) > 0);
	a.clock = 1;
	assert_true(sync_stamp_cmp(&b, &a) > 0);
	assert_true(sync_stamp_cmp(&a, &b) < 0);
	assert_int_equal(sync_stamp_cmp(&a, &a), 0);
	assert_string_equal(sync_result_str(SYNC_RES_VERSION), "version");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_layout),
		cmocka_unit_test(test_frame_roundtrip_and_more),
		cmocka_unit_test(test_bad_mac),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_oversized_and_malformed),
		cmocka_unit_test(test_hello_state),
		cmocka_unit_test(test_config_payload),
		cmocka_unit_test(test_result_payload),
		cmocka_unit_test(test_ops_payload),
		cmocka_unit_test(test_persist_payload),
		cmocka_unit_test(test_clock_order),
		cmocka_unit_test(test_stamp_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
