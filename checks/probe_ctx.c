/* probe_ctx.c - what the probes of one checker share: the loop, TLS client
 * contexts, and the closers that finish connections gracefully. */
#include "checks/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/util.h"

#define CLOSER_READS 16

/* One TLS client context per (verify, ca_file). */
struct tls_entry {
	bool verify;
	char *ca_file;
	SSL_CTX *ssl_ctx;
};

/* A finished connection waiting for the server's FIN. */
struct closer {
	struct probe_ctx *ctx;
	struct closer *prev, *next;
	int fd;
	ev_io io;
	ev_timer timer;
};

struct probe_ctx {
	struct ev_loop *loop;
	struct tls_entry *tls;
	size_t ntls;
	struct closer *closers;
	unsigned nclosers;
	struct icmp_engine *icmp;     /* icmp.c: created by the first ICMP probe */
};

struct probe_ctx *probe_ctx_new(struct ev_loop *loop)
{
	struct probe_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->loop = loop;
	return ctx;
}

struct ev_loop *probe_ctx_loop(const struct probe_ctx *ctx)
{
	return ctx->loop;
}

unsigned probe_ctx_closers(const struct probe_ctx *ctx)
{
	return ctx->nclosers;
}

void probe_ctx_flush_tls(struct probe_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->ntls; i++) {
		SSL_CTX_free(ctx->tls[i].ssl_ctx);
		free(ctx->tls[i].ca_file);
	}
	free(ctx->tls);
	ctx->tls = NULL;
	ctx->ntls = 0;
}

static void closer_free(struct closer *cl)
{
	struct probe_ctx *ctx = cl->ctx;

	ev_io_stop(ctx->loop, &cl->io);
	ev_timer_stop(ctx->loop, &cl->timer);
	close(cl->fd);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ctx->closers = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	ctx->nclosers--;
	free(cl);
}

void probe_ctx_free(struct probe_ctx *ctx)
{
	if (!ctx)
		return;
	while (ctx->closers)
		closer_free(ctx->closers);
	probe_ctx_flush_tls(ctx);
	icmp_engine_free(ctx->icmp);
	free(ctx);
}

struct icmp_engine **probe_ctx_icmp(struct probe_ctx *ctx)
{
	return &ctx->icmp;
}

/* A session ticket or ID from the server: keep it in the probe to resume. */
static int tls_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct probe *p = SSL_get_app_data(ssl);

	if (!p)
		return 0;
	SSL_SESSION_free(p->session);
	p->session = sess;
	return 1;                       /* we keep the reference */
}

static SSL_CTX *tls_ctx_build(const struct check_conf *conf, char *err, size_t errlen)
{
	SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
	int ok;

	if (!sc) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_options(sc, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(sc, tls_new_session_cb);
	if (!conf->verify) {
		SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
		return sc;
	}
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
	ERR_clear_error();
	ok = conf->ca_file ? SSL_CTX_load_verify_locations(sc, conf->ca_file, NULL)
			   : SSL_CTX_set_default_verify_paths(sc);
	if (ok != 1) {
		snprintf(err, errlen, "cannot load ca_file %s: %s",
			 conf->ca_file ? conf->ca_file : "(default)",
			 ERR_reason_error_string(ERR_peek_last_error()));
		SSL_CTX_free(sc);
		return NULL;
	}
	return sc;
}

static SSL_CTX *tls_ctx_get(struct probe_ctx *ctx, const struct check_conf *conf,
			    char *err, size_t errlen)
{
	const char *ca = conf->verify ? conf->ca_file : NULL;
	struct tls_entry *e;
	SSL_CTX *sc;
	size_t i;

	for (i = 0; i < ctx->ntls; i++) {
		e = &ctx->tls[i];
		if (e->verify == conf->verify &&
		    ((!e->ca_file && !ca) || (e->ca_file && ca && strcmp(e->ca_file, ca) == 0)))
			return e->ssl_ctx;
	}
	sc = tls_ctx_build(conf, err, errlen);
	if (!sc)
		return NULL;
	ctx->tls = xrealloc(ctx->tls, (ctx->ntls + 1) * sizeof(*ctx->tls));
	e = &ctx->tls[ctx->ntls++];
	e->verify = conf->verify;
	e->ca_file = xstrdup(ca);
	e->ssl_ctx = sc;
	return sc;
}

static bool is_ip_literal(const char *s)
{
	unsigned char tmp[16];

	return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

SSL *probe_tls_new(struct probe *p, char *err, size_t errlen)
{
	const struct check_conf *conf = p->conf;
	SSL_CTX *sc = tls_ctx_get(p->ctx, conf, err, errlen);
	SSL *ssl;

	if (!sc)
		return NULL;
	ssl = SSL_new(sc);
	if (!ssl || SSL_set_fd(ssl, p->fd) != 1) {
		SSL_free(ssl);
		snprintf(err, errlen, "cannot create a TLS session");
		return NULL;
	}
	if (conf->host && conf->host[0] && !is_ip_literal(conf->host))
		SSL_set_tlsext_host_name(ssl, conf->host);
	if (conf->verify && conf->host && conf->host[0]) {
		if (is_ip_literal(conf->host))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), conf->host);
		else
			SSL_set1_host(ssl, conf->host);
	}
	SSL_set_app_data(ssl, p);
	if (p->session && SSL_set_session(ssl, p->session) != 1)
		probe_forget_session(p);
	SSL_set_connect_state(ssl);
	return ssl;
}

void probe_tls_error(SSL *ssl, int ret, const char *what, char *err, size_t errlen)
{
	long vr = SSL_get_verify_result(ssl);
	int e = SSL_get_error(ssl, ret);
	unsigned long le = ERR_peek_last_error();

	if (vr != X509_V_OK)
		snprintf(err, errlen, "%s: certificate verify failed: %s", what,
			 X509_verify_cert_error_string(vr));
	else if (le)
		snprintf(err, errlen, "%s: %s", what, ERR_reason_error_string(le));
	else if (e == SSL_ERROR_SYSCALL && errno)
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
	else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
		snprintf(err, errlen, "%s: connection closed by server", what);
	else
		snprintf(err, errlen, "%s: error %d", what, e);
	ERR_clear_error();
}

static void closer_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct closer *cl = container_of(w, struct closer, io);
	char scratch[4096];
	ssize_t n;
	int i;

	for (i = 0; i < CLOSER_READS; i++) {
		n = recv(cl->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			closer_free(cl);
			return;
		}
	}
}

static void closer_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct closer *cl = container_of(w, struct closer, timer);
	char scratch[4096];
	int i;

	for (i = 0; i < CLOSER_READS; i++)
		if (recv(cl->fd, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0)
			break;
	closer_free(cl);
}

/* Goodbye and close_notify, best effort: one non-blocking attempt each. */
static void say_goodbye(int fd, SSL *ssl, const char *quit)
{
	if (ssl) {
		ERR_clear_error();
		if (quit)
			SSL_write(ssl, quit, (int)strlen(quit));
		SSL_shutdown(ssl);
		ERR_clear_error();
		SSL_free(ssl);
	} else if (quit) {
		if (send(fd, quit, strlen(quit), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			return;
	}
}

void probe_closer_start(struct probe_ctx *ctx, int fd, SSL *ssl, const char *quit,
			uint32_t timeout_ms)
{
	struct closer *cl = xcalloc(1, sizeof(*cl));

	say_goodbye(fd, ssl, quit);
	shutdown(fd, SHUT_WR);
	cl->ctx = ctx;
	cl->fd = fd;
	cl->next = ctx->closers;
	if (cl->next)
		cl->next->prev = cl;
	ctx->closers = cl;
	ctx->nclosers++;
	ev_io_init(&cl->io, closer_io_cb, fd, EV_READ);
	ev_io_start(ctx->loop, &cl->io);
	ev_timer_init(&cl->timer, closer_timer_cb, (timeout_ms ? timeout_ms : 1000) / 1000., 0.);
	ev_timer_start(ctx->loop, &cl->timer);
}
