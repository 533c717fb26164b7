/* status_checks.c - a backend's list of checks in the JSON and the metrics. */
#include "ctl/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "checks/check.h"
#include "common/text.h"
#include "common/util.h"
#include "config/config.h"
#include "lb/backend.h"
#include "lb/service.h"

const char *status_check_type(const struct service *s, const struct backend *b)
{
	struct check_entry_info e;

	if (check_entries(b->check)) {
		check_entry_get(b->check, check_shown(b->check), &e);
		return cfg_check_type_name(e.type);
	}
	return cfg_check_type_name(s->conf ? s->conf->check.type : CHECK_TCP);
}

/* [p1, p2]: the service ports of mask. */
static void json_ports(const struct service *s, uint64_t mask, struct buf *out)
{
	const char *sep = "";

	buf_puts(out, "[");
	for (size_t i = 0; s->conf && i < s->conf->nports && i < 64; i++) {
		if (mask >> i & 1u) {
			buf_printf(out, "%s%u", sep, s->conf->ports[i]);
			sep = ", ";
		}
	}
	buf_puts(out, "]");
}

/* A server's reply is remote text: cleaned again at this edge. */
static void json_detail(const char *detail, struct buf *out)
{
	char clean[TEXT_REMOTE_MAX + 1];

	if (text_is_printable(detail, strlen(detail) + 1)) {
		buf_json_str(out, detail);
		return;
	}
	text_clean(clean, sizeof(clean), detail, strlen(detail));
	buf_json_str(out, clean);
}

void status_json_checks(const struct service *s, const struct backend *b, struct buf *out)
{
	size_t n = check_entries(b->check);
	struct check_entry_info e;

	buf_puts(out, ", \"gated_ports\": ");
	json_ports(s, b->gated_down, out);
	buf_puts(out, ", \"checks\": [");
	for (size_t i = 0; i < n; i++) {
		check_entry_get(b->check, i, &e);
		buf_printf(out, "%s{\"type\": ", i ? ", " : "");
		buf_json_str(out, cfg_check_type_name(e.type));
		buf_printf(out, ", \"port\": %u, \"ports\": ", e.port);
		json_ports(s, e.ports_mask, out);
		buf_puts(out, ", \"state\": ");
		buf_json_str(out, e.up ? "up" : "down");
		buf_puts(out, ", \"last\": ");
		buf_json_str(out, e.last);
		buf_puts(out, ", \"detail\": ");
		json_detail(e.detail, out);
		buf_printf(out, ", \"probes\": %" PRIu64 ", \"failures\": %" PRIu64 "}",
			   e.stats.probes, e.stats.failures);
	}
	buf_puts(out, "]");
}

struct entry_metric {
	const char *name, *type, *help;
	uint64_t (*get)(const struct check_entry_info *e);
};

static uint64_t en_up(const struct check_entry_info *e) { return e->up; }
static uint64_t en_probes(const struct check_entry_info *e) { return e->stats.probes; }
static uint64_t en_failures(const struct check_entry_info *e) { return e->stats.failures; }
static uint64_t en_timeouts(const struct check_entry_info *e) { return e->stats.timeouts; }
static uint64_t en_ms(const struct check_entry_info *e) { return e->stats.last_ms; }

static const struct entry_metric entry_metrics[] = {
	{ "vigil_check_up", "gauge", "1 while this check of the backend passes (rise/fall applied).",
	  en_up },
	{ "vigil_check_entry_probes_total", "counter", "Probes of this check completed.",
	  en_probes },
	{ "vigil_check_entry_failures_total", "counter", "Probes of this check that failed.",
	  en_failures },
	{ "vigil_check_entry_timeouts_total", "counter",
	  "Probes of this check that hit their timeout.", en_timeouts },
	{ "vigil_check_entry_duration_milliseconds", "gauge",
	  "Duration of this check's last probe.", en_ms },
};

void status_metrics_checks(struct service *const *svcs, size_t n, struct buf *out)
{
	struct check_entry_info e;

	for (size_t m = 0; m < ARRAY_SIZE(entry_metrics); m++) {
		const struct entry_metric *em = &entry_metrics[m];

		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", em->name, em->help, em->name,
			   em->type);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < svcs[i]->nbackends; j++) {
				const struct backend *b = svcs[i]->backends[j];

				for (size_t k = 0; k < check_entries(b->check); k++) {
					check_entry_get(b->check, k, &e);
					buf_printf(out, "%s{service=\"", em->name);
					buf_prom_label(out, svcs[i]->name);
					buf_puts(out, "\",backend=\"");
					buf_prom_label(out, b->name);
					buf_printf(out, "\",check=\"%zu\",type=\"%s\",port=\"%u\"} %"
						   PRIu64 "\n", k + 1, cfg_check_type_name(e.type),
						   e.port, em->get(&e));
				}
			}
	}
}
