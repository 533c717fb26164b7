/* prom.c - the Prometheus text helper. */
#include "ctl/prom.h"

#include <inttypes.h>

void prom_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_scalar(struct buf *out, const char *name, const char *type, const char *help,
		 uint64_t v)
{
	prom_family(out, name, type, help);
	prom_sample(out, name, NULL, v);
}

void prom_sample(struct buf *out, const char *name, const char *labels, uint64_t v)
{
	if (labels)
		buf_printf(out, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		buf_printf(out, "%s %" PRIu64 "\n", name, v);
}
