/* text.h - the one cleaner for remote text (peer node names, server replies,
 * relay answers) before it reaches a log line, the status JSON or the
 * dashboard: bounded length, nothing that could forge a line or a terminal
 * sequence.
 */
#ifndef VIGIL_TEXT_H
#define VIGIL_TEXT_H

#include <stddef.h>

/* Longest text (output bytes) a caller should keep from a remote reply. */
#define TEXT_REMOTE_MAX 200

/* Copy at most srclen bytes of src (stops at a NUL) into dst (dstlen > 0,
 * always NUL-terminated): printable ASCII as is, backslash as "\\", every
 * other byte (control characters, DEL, bytes >= 0x80) as "\xNN". When it
 * does not fit, the output ends with "..." and stays within dstlen. Returns dst. */
char *text_clean(char *dst, size_t dstlen, const void *src, size_t srclen);

/* True when s (up to n bytes, or its NUL) is printable ASCII without a backslash:
 * text_clean() would copy it unchanged. */
int text_is_clean(const char *s, size_t n);

/* True when s (up to n bytes, or its NUL) is printable ASCII: text that
 * text_clean() produced, or that needs no cleaning to be shown. */
int text_is_printable(const char *s, size_t n);

#endif
