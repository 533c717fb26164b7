/* fuzz_config.c - libFuzzer target: YAML text -> struct config or errors.
 *
 * Invariants: a config comes back exactly when no error does; every error
 * names the file; everything is freed (LeakSanitizer). The loader must stay
 * within -malloc_limit_mb and -timeout for any input (tests/fuzz/run.sh).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "fuzz.yaml";
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string(name, (const char *)data, size, &errs);

	assert((cfg != NULL) == (errs.count == 0));
	for (size_t i = 0; i < errs.count; i++)
		assert(strncmp(errs.msgs[i], name, sizeof(name) - 1) == 0);
	if (cfg) {
		for (size_t i = 0; i < cfg->nservices; i++)
			assert(cfg->services[i].name && cfg->services[i].nports > 0);
	}
	cfg_free(cfg);
	cfg_errors_free(&errs);
	return 0;
}
