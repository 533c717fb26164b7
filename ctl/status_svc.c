/* status_svc.c - services and backends as JSON, table rows and metrics. */
#include "ctl/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/text.h"
#include "common/util.h"
#include "ctl/prom.h"
#include "config/config.h"
#include "checks/check.h"
#include "lb/persist.h"
#include "lb/backend.h"
#include "lb/service.h"

static const struct service_conf status_no_conf;

/* A removed service has no configuration any more: show it empty. */
static const struct service_conf *svc_conf(const struct service *s)
{
	return s->conf ? s->conf : &status_no_conf;
}

/* The port a backend is shown with: its own, else the service's first. */
static unsigned be_port(const struct service *s, const struct backend *b)
{
	const struct service_conf *sc = svc_conf(s);

	if (b->port)
		return b->port;
	return sc->nports ? sc->ports[0] : 0;
}

/* Copy a fixed-size field written by others, NUL-terminated whatever it holds. */
static void field_copy(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen);

	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The check's result and its detail. A server's reply is remote text: the
 * reply parsers clean it (text_clean) where it enters, before it reaches a log
 * line; it is checked again here, the edge of the JSON, the dashboard and the
 * table, and cleaned if anything else ever put raw bytes in it. */
static void be_check(const struct backend *b, char *last, size_t lastlen,
		     char *detail, size_t detaillen)
{
	field_copy(last, lastlen, b->check_last, sizeof(b->check_last));
	if (!last[0])
		field_copy(last, lastlen, "none", 5);
	if (text_is_printable(b->check_detail, sizeof(b->check_detail)))
		field_copy(detail, detaillen, b->check_detail, sizeof(b->check_detail));
	else
		text_clean(detail, detaillen, b->check_detail, sizeof(b->check_detail));
}

static struct check_stats be_check_stats(const struct backend *b)
{
	struct check_stats st = { 0 };

	if (b->check)
		check_get_stats(b->check, &st);
	return st;
}

/* The weight the scheduler uses now: weighted-response-time's own, else the
 * configured (or vigilctl) weight times the agent's percentage. */
static uint32_t be_effective_weight(const struct service *s, const struct backend *b)
{
	if (s->sched_kind == SCHED_WEIGHTED_RESPONSE_TIME && b->rt_weight)
		return b->rt_weight;
	return b->weight;
}

/* ---- JSON ---- */

/* effective_weight, response_ms (the probes' moving average, null before the
 * first passing probe) and the agent's state and percentage. */
static void json_backend_classic(const struct service *s, const struct backend *b,
				 struct buf *out)
{
	buf_printf(out, ", \"effective_weight\": %" PRIu32, be_effective_weight(s, b));
	if (b->rtt_us)
		buf_printf(out, ", \"response_ms\": %.3f", b->rtt_us / 1000.);
	else
		buf_puts(out, ", \"response_ms\": null");
	buf_puts(out, ", \"agent\": ");
	buf_json_str(out, backend_agent_str(b->agent));
	buf_printf(out, ", \"agent_percent\": %" PRIu32, b->agent_pct);
}

static void json_backend(const struct service *s, const struct backend *b, struct buf *out)
{
	char ip[ADDR_STRLEN], last[sizeof(b->check_last) + 1], detail[TEXT_REMOTE_MAX + 1];

	be_check(b, last, sizeof(last), detail, sizeof(detail));
	buf_puts(out, "{\"name\": ");
	buf_json_str(out, b->name);
	buf_puts(out, ", \"address\": ");
	buf_json_str(out, addr_ip_str(&b->addr, ip, sizeof(ip)));
	buf_printf(out, ", \"port\": %u, \"state\": ", be_port(s, b));
	buf_json_str(out, backend_state_str(b->state));
	buf_printf(out, ", \"weight\": %" PRIu32 ", \"active\": %" PRIu32 ", \"total\": %" PRIu64
		   ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
		   ", \"connect_fail\": %" PRIu64 ", \"backup\": %s, \"maxconn\": %" PRIu32
		   ", \"last_change\": %.3f",
		   b->weight_cfg, b->active, b->total, b->bytes_in, b->bytes_out, b->connect_fail,
		   b->backup ? "true" : "false", b->maxconn, b->last_change);
	json_backend_classic(s, b, out);
	buf_puts(out, ", \"check\": {\"type\": ");
	buf_json_str(out, status_check_type(s, b));
	buf_puts(out, ", \"last\": ");
	buf_json_str(out, last);
	buf_puts(out, ", \"detail\": ");
	buf_json_str(out, detail);
	buf_printf(out, ", \"local_errors\": %" PRIu64 "}", be_check_stats(b).local_errors);
	status_json_checks(s, b, out);
	buf_puts(out, "}");
}

void status_json_service(const struct service *s, struct buf *out)
{
	const struct service_conf *sc = svc_conf(s);
	char ip[ADDR_STRLEN] = "";
	size_t i;

	if (s->conf)
		addr_ip_str(&sc->vip, ip, sizeof(ip));
	buf_puts(out, "{\"name\": ");
	buf_json_str(out, s->name);
	buf_puts(out, ", \"vip\": ");
	buf_json_str(out, ip);
	buf_puts(out, ", \"ports\": [");
	for (i = 0; i < sc->nports; i++)
		buf_printf(out, "%s%u", i ? ", " : "", sc->ports[i]);
	buf_puts(out, "], \"scheduler\": ");
	buf_json_str(out, cfg_sched_name(s->sched_kind));
	buf_printf(out, ", \"available\": %s, \"active\": %" PRIu32 ", \"total\": %" PRIu64
		   ", \"refused\": %" PRIu64 ", \"local_errors\": %" PRIu64 ", \"bytes_in\": %" PRIu64
		   ", \"bytes_out\": %" PRIu64 ", \"maxconn\": %" PRIu32
		   ", \"persist_ms\": %" PRIu32 ", \"persist_entries\": %zu, \"persist_full\": %"
		   PRIu64 ", \"backends\": [",
		   s->available ? "true" : "false", s->active, s->total, s->refused,
		   s->local_errors, s->bytes_in, s->bytes_out, s->maxconn, s->persist_ms,
		   service_persist_count((struct service *)s), service_persist_full((struct service *)s));
	for (i = 0; i < s->nbackends; i++) {
		buf_puts(out, i ? ",\n      " : "\n      ");
		json_backend(s, s->backends[i], out);
	}
	buf_puts(out, s->nbackends ? "\n    ]}" : "]}");
}

/* ---- table ---- */

enum { COL_NAME, COL_ADDR, COL_STATE, COL_WEIGHT, COL_ACTIVE, COL_TOTAL, COL_CHECK, NCOLS };

static const char *const col_title[NCOLS] = {
	"BACKEND", "ADDRESS", "STATE", "WEIGHT", "ACTIVE", "TOTAL", "LAST CHECK",
};
static const int col_right[NCOLS] = { 0, 0, 0, 1, 1, 1, 0 };

struct text_row {
	char cell[NCOLS][224];
};

/* Copy s for a terminal: control characters become spaces, runs of them one. */
static void term_clean(char *dst, size_t dstlen, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < dstlen; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f) {
			if (n > 0 && dst[n - 1] != ' ')
				dst[n++] = ' ';
			continue;
		}
		dst[n++] = (char)c;
	}
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

static void text_row_fill(const struct service *s, const struct backend *b, struct text_row *r)
{
	char ip[ADDR_STRLEN], last[sizeof(b->check_last) + 1], detail[TEXT_REMOTE_MAX + 1];
	char tmp[sizeof(r->cell[0])];

	snprintf(tmp, sizeof(tmp), "%s%s", b->name, b->backup ? " (backup)" : "");
	term_clean(r->cell[COL_NAME], sizeof(r->cell[0]), tmp);
	addr_ip_str(&b->addr, ip, sizeof(ip));
	snprintf(r->cell[COL_ADDR], sizeof(r->cell[0]), addr_family(&b->addr) == AF_INET6 ?
		 "[%s]:%u" : "%s:%u", ip, be_port(s, b));
	snprintf(r->cell[COL_STATE], sizeof(r->cell[0]), "%s", backend_state_str(b->state));
	snprintf(r->cell[COL_WEIGHT], sizeof(r->cell[0]), "%" PRIu32, b->weight_cfg);
	snprintf(r->cell[COL_ACTIVE], sizeof(r->cell[0]), "%" PRIu32, b->active);
	snprintf(r->cell[COL_TOTAL], sizeof(r->cell[0]), "%" PRIu64, b->total);
	be_check(b, last, sizeof(last), detail, sizeof(detail));
	snprintf(tmp, sizeof(tmp), "%s%s%s", last, detail[0] ? ": " : "", detail);
	term_clean(r->cell[COL_CHECK], sizeof(r->cell[0]), tmp);
}

static void text_rows_print(const struct text_row *rows, size_t n, struct buf *out)
{
	size_t w[NCOLS] = { 0 }, i, c;

	for (i = 0; i < n; i++)
		for (c = 0; c < NCOLS; c++)
			if (strlen(rows[i].cell[c]) > w[c])
				w[c] = strlen(rows[i].cell[c]);
	for (i = 0; i < n; i++) {
		for (c = 0; c < NCOLS; c++) {
			if (c == NCOLS - 1)
				buf_printf(out, "  %s", rows[i].cell[c]);
			else
				buf_printf(out, col_right[c] ? "  %*s" : "  %-*s", (int)w[c],
					   rows[i].cell[c]);
		}
		buf_puts(out, "\n");
	}
}

static void text_header(const struct service *s, struct buf *out)
{
	const struct service_conf *sc = svc_conf(s);
	char ip[ADDR_STRLEN] = "-", name[256];
	size_t i;

	if (s->conf)
		addr_ip_str(&sc->vip, ip, sizeof(ip));
	term_clean(name, sizeof(name), s->name);
	buf_printf(out, addr_family(&sc->vip) == AF_INET6 ? "%s  [%s]:" : "%s  %s:", name, ip);
	for (i = 0; i < sc->nports; i++)
		buf_printf(out, "%s%u", i ? "," : "", sc->ports[i]);
	buf_printf(out, "  %s  %s  active %" PRIu32 "  total %" PRIu64 "  refused %" PRIu64 "\n",
		   cfg_sched_name(s->sched_kind), s->available ? "available" : "UNAVAILABLE",
		   s->active, s->total, s->refused);
	if (s->local_errors)
		buf_printf(out, "  (%" PRIu64 " of them for local errors of this node)\n",
			   s->local_errors);
}

void status_text_service(const struct service *s, struct buf *out)
{
	struct text_row *rows = xcalloc(s->nbackends + 1, sizeof(*rows));
	size_t i, c;

	text_header(s, out);
	for (c = 0; c < NCOLS; c++)
		snprintf(rows[0].cell[c], sizeof(rows[0].cell[c]), "%s", col_title[c]);
	for (i = 0; i < s->nbackends; i++)
		text_row_fill(s, s->backends[i], &rows[i + 1]);
	text_rows_print(rows, s->nbackends + 1, out);
	free(rows);
}

/* ---- metrics ---- */

struct be_metric {
	const char *name, *type, *help;
	uint64_t (*get)(const struct backend *b);
};

static uint64_t be_up(const struct backend *b) { return b->state == BACKEND_UP; }
static uint64_t be_active(const struct backend *b) { return b->active; }
static uint64_t be_total(const struct backend *b) { return b->total; }
static uint64_t be_bytes_in(const struct backend *b) { return b->bytes_in; }
static uint64_t be_bytes_out(const struct backend *b) { return b->bytes_out; }
static uint64_t be_connect_fail(const struct backend *b) { return b->connect_fail; }
static uint64_t be_weight(const struct backend *b) { return b->weight_cfg; }
static uint64_t be_eff_weight(const struct backend *b)
{
	return b->svc ? be_effective_weight(b->svc, b) : b->weight;
}
static uint64_t be_agent_pct(const struct backend *b) { return b->agent_pct; }
static uint64_t be_rtt_us(const struct backend *b) { return b->rtt_us; }
static uint64_t be_transitions(const struct backend *b) { return b->transitions; }

static uint64_t be_probes(const struct backend *b) { return be_check_stats(b).probes; }
static uint64_t be_probe_fail(const struct backend *b) { return be_check_stats(b).failures; }
static uint64_t be_probe_timeouts(const struct backend *b) { return be_check_stats(b).timeouts; }
static uint64_t be_passive(const struct backend *b) { return be_check_stats(b).passive; }
static uint64_t be_probe_ms(const struct backend *b) { return be_check_stats(b).last_ms; }
static uint64_t be_local_errors(const struct backend *b) { return be_check_stats(b).local_errors; }

static const struct be_metric be_metrics[] = {
	{ "vigil_backend_up", "gauge", "1 if the backend is up (healthy and in rotation).", be_up },
	{ "vigil_backend_active_connections", "gauge", "Open proxied connections to the backend.",
	  be_active },
	{ "vigil_backend_connections_total", "counter", "Connections sent to the backend.",
	  be_total },
	{ "vigil_backend_bytes_in_total", "counter", "Bytes from clients to the backend.",
	  be_bytes_in },
	{ "vigil_backend_bytes_out_total", "counter", "Bytes from the backend to clients.",
	  be_bytes_out },
	{ "vigil_backend_connect_failures_total", "counter", "Failed connects to the backend.",
	  be_connect_fail },
	{ "vigil_backend_weight", "gauge", "The backend's runtime weight.", be_weight },
	{ "vigil_backend_effective_weight", "gauge",
	  "The weight the scheduler uses now (agent percentage, response times).",
	  be_eff_weight },
	{ "vigil_backend_agent_percent", "gauge",
	  "The agent's weight percentage (100 without an agent).", be_agent_pct },
	{ "vigil_backend_response_microseconds", "gauge",
	  "Moving average of passing probes' response times (0: none yet).", be_rtt_us },
	{ "vigil_backend_transitions_total", "counter", "State changes of the backend.",
	  be_transitions },
	{ "vigil_backend_check_probes_total", "counter", "Health probes completed.", be_probes },
	{ "vigil_backend_check_failures_total", "counter", "Health probes that failed.",
	  be_probe_fail },
	{ "vigil_backend_check_timeouts_total", "counter", "Health probes that hit their timeout.",
	  be_probe_timeouts },
	{ "vigil_backend_check_passive_failures_total", "counter",
	  "Client connects that failed and counted as failed probes.", be_passive },
	{ "vigil_backend_check_duration_milliseconds", "gauge", "Duration of the last probe.",
	  be_probe_ms },
	{ "vigil_backend_check_local_errors_total", "counter",
	  "Probes that could not start on this node (not counted against the backend).",
	  be_local_errors },
};

struct svc_metric {
	const char *name, *type, *help;
	uint64_t (*get)(const struct service *s);
};

static uint64_t svc_active(const struct service *s) { return s->active; }
static uint64_t svc_total(const struct service *s) { return s->total; }
static uint64_t svc_refused(const struct service *s) { return s->refused; }
static uint64_t svc_local_errors(const struct service *s) { return s->local_errors; }
static uint64_t svc_bytes_in(const struct service *s) { return s->bytes_in; }
static uint64_t svc_bytes_out(const struct service *s) { return s->bytes_out; }
static uint64_t svc_available(const struct service *s) { return s->available; }
static uint64_t svc_persist_entries(const struct service *s)
{
	return service_persist_count((struct service *)s);   /* locks: workers write it */
}
static uint64_t svc_persist_full(const struct service *s)
{
	return service_persist_full((struct service *)s);
}

static const struct svc_metric svc_metrics[] = {
	{ "vigil_service_active_connections", "gauge", "Open client connections of the service.",
	  svc_active },
	{ "vigil_service_connections_total", "counter", "Client connections accepted by the service.",
	  svc_total },
	{ "vigil_service_refused_total", "counter",
	  "Clients closed because no backend could take them.", svc_refused },
	{ "vigil_service_local_errors_total", "counter",
	  "Backend connects that failed on this node (out of fds, ports, memory); "
	  "never charged to the backend.", svc_local_errors },
	{ "vigil_service_bytes_in_total", "counter", "Bytes from clients of the service.",
	  svc_bytes_in },
	{ "vigil_service_bytes_out_total", "counter", "Bytes to clients of the service.",
	  svc_bytes_out },
	{ "vigil_service_available", "gauge", "1 if some backend of the service is up.",
	  svc_available },
	{ "vigil_service_persist_entries", "gauge",
	  "Clients remembered by persistence (services[].persist).", svc_persist_entries },
	{ "vigil_service_persist_full_total", "counter",
	  "New clients not remembered because the persistence table was full.", svc_persist_full },
};

static const enum backend_state be_states[] = {
	BACKEND_UP, BACKEND_DOWN, BACKEND_DRAIN, BACKEND_MAINT,
};

/* name{service="S",backend="B"  - the caller closes the braces. */
static void prom_labels(struct buf *out, const char *name, const struct service *s,
			const struct backend *b)
{
	buf_printf(out, "%s{service=\"", name);
	buf_prom_label(out, s->name);
	if (b) {
		buf_puts(out, "\",backend=\"");
		buf_prom_label(out, b->name);
	}
	buf_puts(out, "\"");
}

static void metrics_backend_state(struct service *const *svcs, size_t n, struct buf *out)
{
	const char *name = "vigil_backend_state";
	size_t i, j, k;

	prom_family(out, name, "gauge", "1 for the backend's current state (up, down, drain, maint).");
	for (i = 0; i < n; i++)
		for (j = 0; j < svcs[i]->nbackends; j++)
			for (k = 0; k < ARRAY_SIZE(be_states); k++) {
				const struct backend *b = svcs[i]->backends[j];

				prom_labels(out, name, svcs[i], b);
				buf_printf(out, ",state=\"%s\"} %d\n", backend_state_str(be_states[k]),
					   b->state == be_states[k]);
			}
}

void status_metrics_services(struct service *const *svcs, size_t n, struct buf *out)
{
	size_t m, i, j;

	for (m = 0; m < ARRAY_SIZE(svc_metrics); m++) {
		prom_family(out, svc_metrics[m].name, svc_metrics[m].type, svc_metrics[m].help);
		for (i = 0; i < n; i++) {
			prom_labels(out, svc_metrics[m].name, svcs[i], NULL);
			buf_printf(out, "} %" PRIu64 "\n", svc_metrics[m].get(svcs[i]));
		}
	}
	for (m = 0; m < ARRAY_SIZE(be_metrics); m++) {
		prom_family(out, be_metrics[m].name, be_metrics[m].type, be_metrics[m].help);
		for (i = 0; i < n; i++)
			for (j = 0; j < svcs[i]->nbackends; j++) {
				prom_labels(out, be_metrics[m].name, svcs[i], svcs[i]->backends[j]);
				buf_printf(out, "} %" PRIu64 "\n", be_metrics[m].get(svcs[i]->backends[j]));
			}
	}
	metrics_backend_state(svcs, n, out);
	status_metrics_checks(svcs, n, out);
}
