/* probe.h - the probe core shared by every protocol: connect, TLS (implicit
 * or upgraded), send a command, receive into a bounded buffer, one deadline
 * from connect to the end of the dialogue, one result.
 *
 * A protocol is a struct probe_proto of hooks. The core calls start() once
 * connected (and TLS is up for implicit-TLS types), input() whenever new
 * bytes were appended to p->rbuf, tls_up() after a STARTTLS handshake, and
 * eof() when the server closes. Hooks act through probe_send(),
 * probe_consume(), probe_starttls() and probe_finish(); a hook that needs
 * more bytes simply returns. A reply (an SMTP reply, an IMAP or POP3 line, an
 * HTTP head) may take up to PROBE_RBUF bytes with its terminator: one that
 * exactly fills the buffer is complete and judged like any other. Only when
 * the buffer is full and the protocol still waits for the end does the probe
 * fail ("reply too long"), so no line can grow without bound. Inside the
 * core, step and read results are enums and byte counts travel separately
 * as size_t, so no read size can be mistaken for a status.
 *
 * TLS sessions are resumed from one probe of a backend to the next (as
 * HAProxy does): the certificate is verified on every full handshake, and a
 * TLS failure (or a changed check) forgets the session so the next handshake
 * is a full one. A server whose certificate or ticket key changed refuses to
 * resume, which also makes the handshake a full, verified one.
 *
 * The result reaches the owner's done callback, never before probe_start()
 * returned; the callback is the last thing the core does with the probe, and
 * it may start the next probe only from a later event (a timer). Closing is
 * graceful unless the probe failed on the socket or the deadline: the
 * polite goodbye (QUIT / LOGOUT) if asked, TLS close_notify, shutdown(SHUT_WR)
 * and then the socket is drained until the server's FIN (bounded by the
 * timeout) by a closer owned by the probe_ctx, so the server never sees an
 * RST and the result is not delayed by the server's close.
 */
#ifndef VIGIL_PROBE_H
#define VIGIL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "checks/check.h"
#include "checks/reply.h"
#include "common/addr.h"
#include "common/buf.h"
#include "config/config.h"

#define PROBE_RBUF 16384

struct probe;
struct probe_ctx;

/* The result of one probe. detail: reply text or error, never NULL. */
typedef void (*probe_done_fn)(struct probe *p, enum check_result res, const char *detail);

enum probe_phase {
	PROBE_IDLE,
	PROBE_REPORT,                 /* failed before any I/O: reported next loop */
	PROBE_CONNECT,
	PROBE_HANDSHAKE,
	PROBE_SEND,
	PROBE_RECV,
};

enum probe_close {
	PROBE_CLOSE_NOW,              /* close at once (socket error, deadline) */
	PROBE_CLOSE_FIN,              /* close_notify, FIN, drain until the server's FIN */
	PROBE_CLOSE_QUIT,             /* the protocol's goodbye first, then as FIN */
};

struct probe_proto {
	const char *name;
	bool implicit_tls;
	const char *quit;             /* goodbye for PROBE_CLOSE_QUIT, or NULL */
	void (*start)(struct probe *p);
	void (*input)(struct probe *p);
	void (*tls_up)(struct probe *p);
	void (*eof)(struct probe *p); /* NULL: early close is a protocol failure */
};

/* HTTP body framing, kept in the probe while a response is read. */
enum probe_body { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };

struct probe {
	struct probe_ctx *ctx;
	probe_done_fn done;
	const struct probe_proto *proto;
	const struct check_conf *conf; /* the owner's copy; stable during a probe */
	struct addr dst;               /* address and port probed */
	enum send_proxy send_proxy;    /* set by the owner: a PROXY header first,
					  before TLS too (v2 LOCAL, v1 the probe's
					  own addresses) */
	enum probe_phase phase;
	int fd;
	SSL *ssl;
	SSL_SESSION *session;          /* to resume on the next probe, or NULL */
	bool tls;                      /* TLS is up on the connection */
	bool upgrading;                /* STARTTLS: tls_up() follows the handshake */
	ev_io io;
	ev_timer deadline;
	uint64_t started_ms;
	uint64_t started_us;           /* the same in microseconds, for response times */
	char *rbuf;                    /* PROBE_RBUF bytes while running */
	size_t rlen;
	struct buf wbuf;
	size_t woff;
	bool secret;                   /* wbuf holds a secret: wiped once sent or freed */
	const char *waiting;           /* what we wait for, for timeout messages */
	int step;                      /* the protocol's own state */
	char note[REPLY_TEXT_MAX];     /* the protocol's success detail */
	char *quit;                    /* owned: goodbye for PROBE_CLOSE_QUIT instead of
					  proto->quit (expect's quit:), or NULL */

	/* icmp (checks/icmp.c): waiting in the engine's table under icmp_seq */
	bool icmp_waiting;
	uint16_t icmp_seq;

	/* http */
	struct http_head head;
	enum probe_body body;
	uint64_t body_left;
	struct http_chunked chunked;
	struct body_match match;
	bool matching;

	/* a result found before any I/O (PROBE_REPORT) */
	enum check_result early_res;
	char early_detail[REPLY_TEXT_MAX];
};

/* Shared state of every probe of one checker: the loop, TLS contexts (one per
 * verify/ca_file combination) and the closers draining finished sockets. */
struct probe_ctx *probe_ctx_new(struct ev_loop *loop);
/* Free the contexts and close every closer's socket. No probe may be running. */
void probe_ctx_free(struct probe_ctx *ctx);
/* Forget cached TLS contexts (a reload may have changed a ca_file). */
void probe_ctx_flush_tls(struct probe_ctx *ctx);
struct ev_loop *probe_ctx_loop(const struct probe_ctx *ctx);
/* Sockets currently held by closers. */
unsigned probe_ctx_closers(const struct probe_ctx *ctx);

/* Prepare an idle probe; done is called with each result. */
void probe_init(struct probe *p, struct probe_ctx *ctx, probe_done_fn done);
/* Start a probe of type conf->type to dst (port set), optionally bound to
 * src. conf must stay valid until the result. The probe must be idle. */
void probe_start(struct probe *p, const struct check_conf *conf,
		 const struct addr *dst, const struct addr *src);
/* The same with the caller's own protocol hooks (a client dialogue other
 * than a check, e.g. notification mail); conf gives the deadline
 * (timeout_ms) and the TLS settings (verify, ca_file, host). */
void probe_start_proto(struct probe *p, const struct probe_proto *proto,
		       const struct check_conf *conf, const struct addr *dst,
		       const struct addr *src);
/* Stop a running probe without a result, closing at once; an idle probe's
 * buffers are released too (safe before teardown or before a new start). */
void probe_abort(struct probe *p);
/* Free what probe_init() made (a probe that never ran holds a buffer too):
 * abort, forget the session; the probe is unusable until probe_init(). */
void probe_cleanup(struct probe *p);
/* Drop the saved TLS session: the next handshake is a full, verified one. */
void probe_forget_session(struct probe *p);
bool probe_running(const struct probe *p);
/* The protocol hooks of a check type. */
const struct probe_proto *probe_proto_for(enum check_type t);

/* Microseconds since the probe started (its response time when it just ended). */
uint32_t probe_rtt_us(const struct probe *p);
/* Fail a probe that did no I/O yet: reported from the next loop iteration,
 * never before the start function returned. */
void probe_fail_soon(struct probe *p, enum check_result res, const char *detail);
/* For protocols: queue a command (printf-like) and wait for the reply. */
void probe_send(struct probe *p, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for a line holding a secret (SMTP AUTH): len bytes of data as
 * they are (no formatting copy), and the write buffer is wiped once sent. */
void probe_send_secret(struct probe *p, const char *what, const char *data, size_t len);
/* Drop the first n bytes of p->rbuf. */
void probe_consume(struct probe *p, size_t n);
/* Begin the TLS handshake on the connection (STARTTLS); tls_up() follows. */
void probe_starttls(struct probe *p);
/* End the probe with a result; detail is printf-like. */
void probe_finish(struct probe *p, enum check_result res, enum probe_close how,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* TLS helpers (probe_ctx.c). A new SSL for p's connection, resuming
 * p->session if there is one; sessions the server issues land in p->session. */
SSL *probe_tls_new(struct probe *p, char *err, size_t errlen);
/* Describe the failure of an SSL call that returned ret (for details). */
void probe_tls_error(SSL *ssl, int ret, const char *what, char *err, size_t errlen);
/* Hand a finished connection to a closer: goodbye, close_notify, FIN, drain.
 * Takes ownership of fd and ssl. */
void probe_closer_start(struct probe_ctx *ctx, int fd, SSL *ssl, const char *quit,
			uint32_t timeout_ms);

extern const struct probe_proto probe_proto_tcp;
extern const struct probe_proto probe_proto_http;
extern const struct probe_proto probe_proto_https;
extern const struct probe_proto probe_proto_smtp;
extern const struct probe_proto probe_proto_imap;
extern const struct probe_proto probe_proto_imaps;
extern const struct probe_proto probe_proto_pop3;
extern const struct probe_proto probe_proto_pop3s;
extern const struct probe_proto probe_proto_expect;
extern const struct probe_proto probe_proto_expect_tls;

/* ICMP echo probes (icmp.c): no connection, one shared socket per family in
 * the probe_ctx; the probe's deadline and done callback as for the others. */
void icmp_probe_start(struct probe *p, const struct check_conf *conf,
		      const struct addr *dst, const struct addr *src);
/* Remove a waiting echo from the engine's table (probe_release). */
void icmp_probe_cancel(struct probe *p);
struct icmp_engine;
struct icmp_engine *icmp_engine_new(struct ev_loop *loop);
/* Close the sockets; no probe may be waiting. */
void icmp_engine_free(struct icmp_engine *e);
/* The probe_ctx's ICMP engine slot (NULL until the first ICMP probe). */
struct icmp_engine **probe_ctx_icmp(struct probe_ctx *ctx);

#endif
