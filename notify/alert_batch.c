/* alert_batch.c - windows, rate limit and texts of the alerts (see alert_batch.h). */
#include "notify/alert_batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/events.h"
#include "common/text.h"
#include "common/util.h"

static const char *const kind_names[ALERT__COUNT] = {
	"backend-down", "backend-up", "service-down", "service-up", "failover", "sync-refused",
};

const char *alert_kind_str(enum alert_kind k)
{
	return (unsigned)k < ALERT__COUNT ? kind_names[k] : "unknown";
}

void alert_batcher_init(struct alert_batcher *b, uint32_t batch_ms, uint32_t max_per_hour)
{
	memset(b, 0, sizeof(*b));
	b->items = xcalloc(ALERTS_BATCH_MAX, sizeof(*b->items));
	alert_batcher_set(b, batch_ms, max_per_hour);
}

void alert_batcher_set(struct alert_batcher *b, uint32_t batch_ms, uint32_t max_per_hour)
{
	b->batch_ms = batch_ms;
	b->max_per_hour = max_per_hour ? max_per_hour : 1;
	if (b->nsent > b->max_per_hour) {      /* keep the newest, then shrink */
		memmove(b->sent, b->sent + (b->nsent - b->max_per_hour),
			b->max_per_hour * sizeof(*b->sent));
		b->nsent = b->max_per_hour;
	}
	b->sent = xrealloc(b->sent, b->max_per_hour * sizeof(*b->sent));
}

void alert_batcher_free(struct alert_batcher *b)
{
	free(b->items);
	free(b->sent);
	memset(b, 0, sizeof(*b));
}

bool alert_batcher_add(struct alert_batcher *b, const struct alert *a, double now)
{
	bool opened = !b->open;
	struct alert_item *it;

	b->events_total++;
	if (opened) {
		b->open = true;
		b->due = now + b->batch_ms / 1000.0;
	}
	if (b->n == ALERTS_BATCH_MAX) {
		b->more++;
		return opened;
	}
	it = &b->items[b->n++];
	memset(it, 0, sizeof(*it));
	it->kind = a->kind;
	it->when = a->when;
	it->group = a->group;
	text_clean(it->service, sizeof(it->service), a->service ? a->service : "",
		   ALERTS_NAME_MAX);
	text_clean(it->backend, sizeof(it->backend), a->backend ? a->backend : "",
		   ALERTS_NAME_MAX);
	text_clean(it->text, sizeof(it->text), a->text ? a->text : "", 4 * ALERTS_TEXT_MAX);
	return opened;
}

/* Forget deliveries older than an hour before now. */
static void expire_sent(struct alert_batcher *b, double now)
{
	size_t k = 0;

	while (k < b->nsent && b->sent[k] <= now - ALERTS_HOUR)
		k++;
	memmove(b->sent, b->sent + k, (b->nsent - k) * sizeof(*b->sent));
	b->nsent -= k;
}

bool alert_batcher_flush(struct alert_batcher *b, double now, struct alert_batch *out)
{
	uint64_t count = b->n + b->more;

	memset(out, 0, sizeof(*out));
	b->open = false;
	if (count == 0)
		return false;
	expire_sent(b, now);
	if (b->nsent >= b->max_per_hour) {
		if (b->suppressed == 0)
			b->suppressed_since = b->n ? b->items[0].when : 0;
		b->suppressed += count;
		b->suppressed_total += count;
		b->n = 0;
		b->more = 0;
		return false;
	}
	b->sent[b->nsent++] = now;
	b->batches_total++;
	out->items = xcalloc(b->n ? b->n : 1, sizeof(*out->items));
	memcpy(out->items, b->items, b->n * sizeof(*out->items));
	out->n = b->n;
	out->more = b->more;
	out->suppressed = b->suppressed;
	out->suppressed_since = b->suppressed_since;
	out->max_per_hour = b->max_per_hour;
	b->n = 0;
	b->more = 0;
	b->suppressed = 0;
	return true;
}

void alert_batch_free(struct alert_batch *bt)
{
	free(bt->items);
	memset(bt, 0, sizeof(*bt));
}

/* ---- texts ---- */

/* "web/h1", "web", "group:51" or "-". */
static void item_subject(const struct alert_item *it, char *buf, size_t len)
{
	if (it->service[0] && it->backend[0])
		snprintf(buf, len, "%s/%s", it->service, it->backend);
	else if (it->service[0])
		snprintf(buf, len, "%s", it->service);
	else if (it->group)
		snprintf(buf, len, "group:%" PRIu32, it->group);
	else
		snprintf(buf, len, "-");
}

/* A few words for the subject line. */
static void item_summary(const struct alert_item *it, char *buf, size_t len)
{
	char who[2 * ALERTS_NAME_MAX + 16];

	item_subject(it, who, sizeof(who));
	switch (it->kind) {
	case ALERT_BACKEND_DOWN:
		snprintf(buf, len, "backend %s down", who);
		break;
	case ALERT_BACKEND_UP:
		snprintf(buf, len, "backend %s up", who);
		break;
	case ALERT_SERVICE_DOWN:
		snprintf(buf, len, "service %s has no backend", who);
		break;
	case ALERT_SERVICE_UP:
		snprintf(buf, len, "service %s has a backend again", who);
		break;
	case ALERT_FAILOVER:
		snprintf(buf, len, "failover %s: %.80s", who, it->text);
		break;
	default:
		snprintf(buf, len, "configuration sync refused");
		break;
	}
}

void alert_batch_subject(const struct alert_batch *bt, const char *node, char *buf,
			 size_t len)
{
	char first[ALERTS_TEXT_MAX];
	uint64_t count = bt->n + bt->more;

	if (bt->n == 0) {
		snprintf(buf, len, "[vigil] %s: %" PRIu64 " alerts", node, count);
		return;
	}
	item_summary(&bt->items[0], first, sizeof(first));
	if (count == 1)
		snprintf(buf, len, "[vigil] %s: 1 alert: %s", node, first);
	else
		snprintf(buf, len, "[vigil] %s: %" PRIu64 " alerts: %s (+%" PRIu64 " more)", node,
			 count, first, count - 1);
}

void alert_batch_body(const struct alert_batch *bt, const char *node, struct buf *out)
{
	char when[40], who[2 * ALERTS_NAME_MAX + 16];
	uint64_t count = bt->n + bt->more;

	buf_printf(out, "vigil on %s: %" PRIu64 " alert%s\n\n", node, count,
		   count == 1 ? "" : "s");
	for (size_t i = 0; i < bt->n; i++) {
		const struct alert_item *it = &bt->items[i];

		item_subject(it, who, sizeof(who));
		buf_printf(out, "%s  %-12s  %s  %s\n", events_iso_time(it->when, when, sizeof(when)),
			   alert_kind_str(it->kind), who, it->text);
	}
	if (bt->more)
		buf_printf(out, "\n... and %" PRIu64 " more alert%s in the same window, not "
			   "listed\n", bt->more, bt->more == 1 ? "" : "s");
	if (bt->suppressed)
		buf_printf(out, "\n%" PRIu64 " alert%s suppressed since %s: alerts.max_per_hour "
			   "(%" PRIu32 ") was reached\n", bt->suppressed,
			   bt->suppressed == 1 ? " was" : "s were",
			   events_iso_time(bt->suppressed_since, when, sizeof(when)),
			   bt->max_per_hour);
	buf_puts(out, "\n-- \nvigil alerts (alerts: in vigil.yaml)\n");
}

void alert_batch_lines(const struct alert_batch *bt, struct buf *out)
{
	char when[40], who[2 * ALERTS_NAME_MAX + 16];

	for (size_t i = 0; i < bt->n; i++) {
		const struct alert_item *it = &bt->items[i];

		item_subject(it, who, sizeof(who));
		buf_printf(out, "%s\t%s\t%s\t%s\n", events_iso_time(it->when, when, sizeof(when)),
			   alert_kind_str(it->kind), who, it->text);
	}
}
