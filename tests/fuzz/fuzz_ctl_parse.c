/* fuzz_ctl_parse.c - libFuzzer target: the control socket's request line
 * (ctl/ctl_parse.c), as ctl.c hands it over: at most CTL_LINE_MAX - 1 bytes,
 * NUL-terminated.
 *
 * A refused line says why; an accepted one formats (ctl_format(), what
 * vigilctl sends) into a line that parses back to the same request.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "ctl/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[CTL_LINE_MAX], err[256];
	struct ctl_cmd cmd, back;
	struct buf out;

	if (size > CTL_LINE_MAX - 1)
		size = CTL_LINE_MAX - 1;
	memcpy(line, data, size);
	line[size] = '\0';
	err[0] = '\0';
	if (ctl_parse(line, &cmd, err, sizeof(err)) < 0) {
		assert(err[0] != '\0');
		return 0;
	}
	assert(cmd.op <= CTL_OP_LAST && cmd.weight <= 256 && cmd.group <= 255);
	assert(strlen(cmd.svc) < CTL_NAME_MAX && strlen(cmd.be) < CTL_NAME_MAX);
	buf_init(&out);
	ctl_format(&cmd, &out);
	buf_append(&out, "\n", 1);
	assert(ctl_parse(out.data, &back, err, sizeof(err)) == 0);
	assert(back.op == cmd.op && back.json == cmd.json && back.weight == cmd.weight);
	assert(back.group == cmd.group && back.since == cmd.since);
	assert(strcmp(back.svc, cmd.svc) == 0 && strcmp(back.be, cmd.be) == 0);
	buf_free(&out);
	return 0;
}
