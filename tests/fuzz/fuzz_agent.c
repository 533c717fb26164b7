/* fuzz_agent.c - libFuzzer target: agent_line_parse() on any line. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checks/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_reply r;
	char err[128];

	if (agent_line_parse((const char *)data, size, &r, err, sizeof(err)) == 0) {
		if (r.has_pct && r.pct > 100)
			__builtin_trap();
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		__builtin_trap();
	}
	return 0;
}
