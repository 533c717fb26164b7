/* fuzz_reply_imap.c - libFuzzer target: the IMAP reply parser of checks/reply.c.
 *
 * The input is what a server sent; replies are parsed one after the other
 * as the probe consumes them. Each complete reply of r bytes must read as
 * "incomplete" one byte earlier; a refused one says why; copied text is
 * printable and bounded.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checks/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *s)
{
	assert(strlen(s) < REPLY_TEXT_MAX);
	for (; *s; s++)
		assert(*s >= 0x20 && *s < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char err[REPLY_TEXT_MAX + 64];
	size_t off = 0;

	while (off < size) {
		struct imap_line rep, again;
		long r;

		err[0] = '\0';
		r = imap_line_parse(buf + off, size - off, &rep, err, sizeof(err));
		if (r < 0)
			assert(err[0] != '\0');
		if (r <= 0)
			break;
		assert((size_t)r <= size - off);
		printable(rep.text);
		printable(rep.tag);
		assert(rep.status <= IMAP_DATA);
		assert(!(rep.untagged && rep.continuation));
		assert(rep.untagged || rep.continuation || rep.tag[0] != '\0');
		assert(imap_line_parse(buf + off, (size_t)r - 1, &again, err, sizeof(err)) == 0);
		off += (size_t)r;
	}
	return 0;
}
