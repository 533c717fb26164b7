/* buf.h - a growable byte buffer for building text (JSON, metrics, replies). */
#ifndef VIGIL_BUF_H
#define VIGIL_BUF_H

#include <stddef.h>

struct buf {
	char *data;   /* always NUL-terminated when len > 0 or after buf_init */
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included, escaped per RFC 8259. */
void buf_json_str(struct buf *b, const char *s);
/* Append s escaped as a Prometheus label value (backslash, quote, newline). */
void buf_prom_label(struct buf *b, const char *s);

#endif
