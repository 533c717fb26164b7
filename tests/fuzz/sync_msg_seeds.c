/* sync_msg_seeds.c - write the seed corpus of fuzz_sync_msg.c from the encoders.
 *
 *	cc -I. $(pkg-config --cflags openssl) tests/fuzz/sync_msg_seeds.c \
 *	   sync/sync_msg.c common/buf.c common/util.c -lcrypto -o /tmp/seeds
 *	/tmp/seeds tests/fuzz/corpus/sync_msg
 */
#include <stdio.h>
#include <string.h>

#include "sync/sync_msg.h"

#define FUZZ_SYNC_KEY "vigil-fuzz-key-0123456789abcdef"

static int put(const char *dir, const char *name, uint8_t mode, const struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(&mode, 1, 1, f);
	fwrite(b->data, 1, b->len, f);
	return fclose(f);
}

int main(int argc, char **argv)
{
	const uint8_t *key = (const uint8_t *)FUZZ_SYNC_KEY;
	size_t klen = strlen(FUZZ_SYNC_KEY);
	static const char text[] = "services: []\nfailover: {group: 1}\n";
	struct sync_hello h = { .node = "lb1", .version = "0.1.0" };
	struct sync_state s = { .stamp = { .clock = 3, .started_ms = 1, .origin = "lb2" } };
	struct sync_config c = { .stamp = { .clock = 4, .origin = "lb1" }, .version = "0.1.0",
				 .text = (const uint8_t *)text, .len = sizeof(text) - 1 };
	struct sync_result r = { .code = SYNC_RES_VERSION, .reason = "versions differ" };
	struct sync_op ops[2] = {
		{ .kind = SYNC_OP_ADMIN, .value = 1, .clock = 5, .origin = "lb1", .svc = "web",
		  .be = "w1" },
		{ .kind = SYNC_OP_WEIGHT, .value = 7, .clock = 6, .origin = "lb2", .svc = "web",
		  .be = "w2" },
	};
	struct sync_persist pe[1] = {
		{ .svc = "web", .keylen = 4, .key = { 192, 0, 2, 0 }, .be = "w1", .ttl_ms = 60000 },
	};
	struct buf p, fr;
	int rc = 0;

	if (argc != 2)
		return 2;
	sync_digest(text, sizeof(text) - 1, c.digest);
	buf_init(&p);
	buf_init(&fr);
	sync_hello_encode(&p, &h);
	rc |= put(argv[1], "hello", 1, &p);
	sync_frame_encode(&fr, SYNC_HELLO, 0, p.data, p.len, key, klen, NULL);
	buf_reset(&p);
	sync_state_encode(&p, &s);
	rc |= put(argv[1], "state", 2, &p);
	sync_frame_encode(&fr, SYNC_STATE, 1, p.data, p.len, key, klen, NULL);
	buf_reset(&p);
	sync_config_encode(&p, &c);
	rc |= put(argv[1], "config", 3, &p);
	sync_frame_encode(&fr, SYNC_CONFIG, 2, p.data, p.len, key, klen, NULL);
	buf_reset(&p);
	sync_result_encode(&p, &r);
	rc |= put(argv[1], "result", 4, &p);
	sync_frame_encode(&fr, SYNC_RESULT, 3, p.data, p.len, key, klen, NULL);
	buf_reset(&p);
	sync_ops_encode(&p, true, ops, 2);
	rc |= put(argv[1], "ops", 5, &p);
	sync_frame_encode(&fr, SYNC_OPS, 4, p.data, p.len, key, klen, NULL);
	buf_reset(&p);
	sync_persist_encode(&p, pe, 1);
	rc |= put(argv[1], "persist", 6, &p);
	sync_frame_encode(&fr, SYNC_PERSIST, 5, p.data, p.len, key, klen, NULL);
	sync_frame_encode(&fr, SYNC_PING, 6, NULL, 0, key, klen, NULL);
	rc |= put(argv[1], "frames", 0, &fr);
	buf_free(&p);
	buf_free(&fr);
	return rc ? 1 : 0;
}
