/* fuzz_sync_msg.c - libFuzzer target for the sync channel's decoders (sync/sync_msg.c).
 *
 * The first input byte picks the decoder: 0 a frame (fixed key, zero nonce,
 * seq 0 then 1 on what follows), 1 hello, 2 state, 3 config, 4 result, 5 ops,
 * 6 persist;
 * the rest is its input. Seeds: tests/fuzz/corpus/sync_msg/, written by
 * tests/fuzz/sync_msg_seeds.c from the encoders.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_msg.h"

#define FUZZ_SYNC_KEY "vigil-fuzz-key-0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_frames(const uint8_t *p, size_t n)
{
	uint64_t seq = 0;

	while (n) {
		struct sync_frame f;
		size_t used = 0;
		enum sync_reject why;

		if (sync_frame_decode(p, n, (const uint8_t *)FUZZ_SYNC_KEY,
				      strlen(FUZZ_SYNC_KEY), NULL, seq, &f, &used,
				      &why) != SYNC_FRAME_OK)
			return;
		if (used == 0 || used > n || f.len > n)
			abort();
		p += used;
		n -= used;
		seq++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	const uint8_t *p = data + 1;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	switch (data[0]) {
	case 0:
		fuzz_frames(p, n);
		break;
	case 1: {
		struct sync_hello h;

		sync_hello_decode(p, n, &h, err, sizeof(err));
		break;
	}
	case 2: {
		struct sync_state s;

		sync_state_decode(p, n, &s, err, sizeof(err));
		break;
	}
	case 3: {
		struct sync_config c;

		if (sync_config_decode(p, n, &c, err, sizeof(err)) == 0 &&
		    (c.text < p || c.text + c.len > p + n))
			abort();
		break;
	}
	case 4: {
		struct sync_result r;

		if (sync_result_decode(p, n, &r, err, sizeof(err)) == 0 &&
		    strlen(r.reason) >= sizeof(r.reason))
			abort();
		break;
	}
	case 5: {
		struct sync_ops *o = malloc(sizeof(*o));

		if (o && sync_ops_decode(p, n, o, err, sizeof(err)) == 0 && o->n > SYNC_OPS_MAX)
			abort();
		free(o);
		break;
	}
	case 6: {
		struct sync_persists *o = malloc(sizeof(*o));

		if (o && sync_persist_decode(p, n, o, err, sizeof(err)) == 0 &&
		    o->n > SYNC_PERSIST_MAX)
			abort();
		free(o);
		break;
	}
	default:
		break;
	}
	return 0;
}
