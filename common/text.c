/* text.c - cleaning remote text (see text.h). */
#include "common/text.h"

#include <stdio.h>
#include <string.h>

static int plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\';
}

int text_is_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		if (!plain((unsigned char)s[i]))
			return 0;
	return 1;
}

int text_is_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* Escape src into dst while the output stays below limit bytes (NUL not
 * counted); returns how many input bytes went in, *olen the output length. */
static size_t emit(char *dst, size_t limit, const unsigned char *p, size_t srclen, size_t *olen)
{
	size_t o = 0, i;

	for (i = 0; i < srclen && p[i]; i++) {
		char esc[5];
		size_t n = 1;

		if (plain(p[i]))
			esc[0] = (char)p[i];
		else if (p[i] == '\\')
			memcpy(esc, "\\\\", (n = 2));
		else
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
		if (o + n > limit)
			break;
		memcpy(dst + o, esc, n);
		o += n;
	}
	*olen = o;
	return i;
}

char *text_clean(char *dst, size_t dstlen, const void *src, size_t srclen)
{
	const unsigned char *p = src;
	size_t o, i;

	if (dstlen == 0)
		return dst;
	i = emit(dst, dstlen - 1, p, srclen, &o);
	if (i < srclen && p[i] && dstlen > 4) {      /* cut: room for the mark */
		emit(dst, dstlen - 4, p, srclen, &o);
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}
