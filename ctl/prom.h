/* prom.h - the one Prometheus text writer of ctl/: every metric family is
 * opened here (HELP and TYPE), by the one function that writes its samples. */
#ifndef VIGIL_PROM_H
#define VIGIL_PROM_H

#include <stdint.h>

#include "common/buf.h"

/* "# HELP name help" and "# TYPE name type". */
void prom_family(struct buf *out, const char *name, const char *type, const char *help);
/* A family of one unlabelled integer sample. */
void prom_scalar(struct buf *out, const char *name, const char *type, const char *help,
		 uint64_t v);
/* One integer sample of family name: "name{labels} v", or "name v" when
 * labels is NULL. labels is what goes between the braces, its values
 * already escaped (buf_prom_label): `group="51",state="init"`. */
void prom_sample(struct buf *out, const char *name, const char *labels, uint64_t v);

#endif
