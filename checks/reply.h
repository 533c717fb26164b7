/* reply.h - pure parsers for the replies of probed servers: no I/O, no state
 * beyond the structs given.
 *
 * Every parser looks at the bytes received so far, buf[0..len), and returns
 * the number of bytes making up one complete reply (> 0), 0 when the reply is
 * not complete yet (read more and call again with the longer buffer), or -1
 * when the bytes cannot be a valid reply (err says why). Lines end in CR LF
 * or a bare LF. Text copied out is sanitized (control and non-ASCII bytes
 * become '?') and truncated to REPLY_TEXT_MAX - 1 bytes.
 */
#ifndef VIGIL_REPLY_H
#define VIGIL_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLY_TEXT_MAX 160            /* == sizeof(backend.check_detail) */
#define HTTP_BODY_MAX (64 * 1024)     /* expect_body is searched in this much */

/* Length of the first line of buf including its LF (0 if no LF yet); *textlen
 * gets the length without CR LF. */
size_t reply_line(const char *buf, size_t len, size_t *textlen);
/* Copy src[0..n) into dst as printable ASCII, NUL-terminated. */
void reply_sanitize(char *dst, size_t dstlen, const char *src, size_t n);

/* SMTP: "ddd text" or "ddd-text" continuation lines ending with "ddd text". */
struct smtp_reply {
	int code;                     /* 200..599, same on every line */
	unsigned nlines;
	char text[REPLY_TEXT_MAX];    /* first line, "ddd-" shown as "ddd " */
};
long smtp_reply_parse(const char *buf, size_t len, struct smtp_reply *out,
		      char *err, size_t errlen);

/* IMAP: one response line; "* ..." untagged, "+ ..." continuation, or
 * "TAG OK|NO|BAD ...". Untagged lines carry OK/NO/BAD/BYE/PREAUTH or data
 * (IMAP_DATA, e.g. "* CAPABILITY ..."). */
enum imap_status { IMAP_OK, IMAP_NO, IMAP_BAD, IMAP_BYE, IMAP_PREAUTH, IMAP_DATA };
struct imap_line {
	bool untagged;
	bool continuation;
	char tag[16];                 /* "" when untagged or continuation */
	enum imap_status status;
	char text[REPLY_TEXT_MAX];    /* the whole line */
};
long imap_line_parse(const char *buf, size_t len, struct imap_line *out,
		     char *err, size_t errlen);

/* POP3: one status line, "+OK ..." or "-ERR ...". */
struct pop3_reply {
	bool ok;
	char text[REPLY_TEXT_MAX];
};
long pop3_reply_parse(const char *buf, size_t len, struct pop3_reply *out,
		      char *err, size_t errlen);

/* Expect: the first line of a banner or reply, judged against a prefix (the
 * bytes must start the line) or, when re is given, a POSIX regex (searched
 * in the line, as regexec does). A NUL byte in the line makes it invalid. */
struct cfg_regex;
struct expect_reply {
	bool matched;
	char text[REPLY_TEXT_MAX];    /* the line, cleaned */
};
long expect_line_parse(const char *buf, size_t len, const char *prefix,
		       const struct cfg_regex *re, struct expect_reply *out,
		       char *err, size_t errlen);

/* HTTP/1.x response head: status line and headers up to the empty line. */
struct http_head {
	int status;                   /* 100..999 */
	int minor;                    /* HTTP/1.minor */
	char text[REPLY_TEXT_MAX];    /* "503 Service Unavailable" */
	int64_t content_length;       /* -1: no Content-Length */
	bool chunked;                 /* Transfer-Encoding ends in chunked */
};
long http_head_parse(const char *buf, size_t len, struct http_head *out,
		     char *err, size_t errlen);
/* True if a response with this status to a GET carries a body. */
bool http_status_has_body(int status);

/* Chunked transfer coding, decoded one step at a time. */
struct http_chunked {
	int state;
	uint64_t left;                /* bytes left in the current chunk */
	bool done;                    /* last chunk and trailer read */
};
void http_chunked_init(struct http_chunked *c);
/* Decode from in[0..len): returns bytes consumed (0: need more input; also 0
 * once done), -1 on a malformed stream. Body bytes found in this step are
 * in[*doff .. *doff + *dlen) (dlen may be 0). */
long http_chunked_step(struct http_chunked *c, const char *in, size_t len,
		       size_t *doff, size_t *dlen, char *err, size_t errlen);

/* Streaming substring search over the first HTTP_BODY_MAX bytes of a body. */
struct body_match {
	const char *needle;           /* borrowed, NUL-terminated, non-empty */
	size_t nlen;
	char *win;                    /* 2 * nlen bytes: tail of the data so far */
	size_t wlen;
	size_t seen;                  /* body bytes searched */
	bool found;
};
void body_match_init(struct body_match *m, const char *needle);
void body_match_free(struct body_match *m);
/* Feed the next body bytes; returns m->found. */
bool body_match_feed(struct body_match *m, const char *data, size_t len);
/* True once HTTP_BODY_MAX bytes were searched (more would be ignored). */
bool body_match_full(const struct body_match *m);

#endif
