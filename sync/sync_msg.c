/* sync_msg.c - encode and decode the sync channel's frames and payloads (pure). */
#include "sync/sync_msg.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* ---- big endian helpers ---- */

static void put_u8(struct buf *b, uint8_t v)
{
	buf_append(b, &v, 1);
}

static void put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	buf_append(b, x, 4);
}

static void put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)(v >> 32));
	put_u32(b, (uint32_t)v);
}

/* A string with a u8 length (cut at 255 bytes). */
static void put_str8(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (n > 255)
		n = 255;
	put_u8(b, (uint8_t)n);
	buf_append(b, s, n);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

/* A reading position in a payload; every getter fails once it would overrun. */
struct rd {
	const uint8_t *p;
	size_t left;
	const char *fail;             /* the first field that did not fit */
};

static const uint8_t *rd_take(struct rd *r, size_t n, const char *what)
{
	const uint8_t *p = r->p;

	if (r->fail)
		return NULL;
	if (n > r->left) {
		r->fail = what;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static uint64_t rd_u64(struct rd *r, const char *what)
{
	const uint8_t *p = rd_take(r, 8, what);

	return p ? get_u64(p) : 0;
}

static uint32_t rd_u32(struct rd *r, const char *what)
{
	const uint8_t *p = rd_take(r, 4, what);

	return p ? get_u32(p) : 0;
}

static uint8_t rd_u8(struct rd *r, const char *what)
{
	const uint8_t *p = rd_take(r, 1, what);

	return p ? *p : 0;
}

/* A u8-length string into dst[cap]: no NUL, no control bytes, fits. */
static void rd_str8(struct rd *r, char *dst, size_t cap, const char *what)
{
	uint8_t n = rd_u8(r, what);
	const uint8_t *p = rd_take(r, n, what);

	dst[0] = '\0';
	if (!p)
		return;
	if ((size_t)n >= cap || memchr(p, '\0', n)) {
		r->fail = what;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f) {
			r->fail = what;
			return;
		}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void rd_bytes(struct rd *r, uint8_t *dst, size_t n, const char *what)
{
	const uint8_t *p = rd_take(r, n, what);

	if (p)
		memcpy(dst, p, n);
}

/* 0 when the whole payload was read, else -1 with err. */
static int rd_end(struct rd *r, const char *msg, char *err, size_t errlen)
{
	if (r->fail) {
		snprintf(err, errlen, "%s: bad or truncated %s", msg, r->fail);
		return -1;
	}
	if (r->left) {
		snprintf(err, errlen, "%s: %zu bytes after the last field", msg, r->left);
		return -1;
	}
	return 0;
}

/* ---- frames ---- */

static const uint8_t zero_nonce[SYNC_NONCE_LEN];

static void frame_mac(const uint8_t *key, size_t keylen, const uint8_t *nonce,
		      const uint8_t *frame, size_t len, uint8_t mac[SYNC_MAC_LEN])
{
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t out = 0;

	memset(mac, 0, SYNC_MAC_LEN);
	if (c && EVP_MAC_init(c, key, keylen, params) == 1 &&
	    EVP_MAC_update(c, nonce ? nonce : zero_nonce, SYNC_NONCE_LEN) == 1 &&
	    EVP_MAC_update(c, frame, len) == 1)
		EVP_MAC_final(c, mac, &out, SYNC_MAC_LEN);
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
}

void sync_frame_encode(struct buf *out, enum sync_type type, uint64_t seq,
		       const void *payload, size_t len, const uint8_t *key, size_t keylen,
		       const uint8_t *nonce)
{
	size_t start = out->len;
	uint8_t mac[SYNC_MAC_LEN];

	put_u8(out, (uint8_t)type);
	put_u8(out, SYNC_WIRE_VERSION);
	put_u8(out, 0);
	put_u8(out, 0);
	put_u32(out, (uint32_t)len);
	put_u64(out, seq);
	if (len)
		buf_append(out, payload, len);
	frame_mac(key, keylen, nonce, (const uint8_t *)out->data + start, out->len - start, mac);
	buf_append(out, mac, sizeof(mac));
}

static bool type_known(uint8_t t)
{
	return t >= SYNC_HELLO && t <= SYNC_PERSIST;
}

enum sync_frame_result sync_frame_decode(const uint8_t *buf, size_t len, const uint8_t *key,
					 size_t keylen, const uint8_t *nonce,
					 uint64_t expect_seq, struct sync_frame *out,
					 size_t *used, enum sync_reject *why)
{
	uint8_t mac[SYNC_MAC_LEN];
	uint32_t plen;
	size_t total;

	*why = SYNC_REJ_NONE;
	if (len < SYNC_HDR_LEN)
		return SYNC_FRAME_MORE;
	plen = get_u32(buf + 4);
	if (plen > SYNC_MAX_PAYLOAD) {
		*why = SYNC_REJ_OVERSIZED;
		return SYNC_FRAME_BAD;
	}
	if (!type_known(buf[0]) || buf[1] != SYNC_WIRE_VERSION || buf[2] || buf[3]) {
		*why = SYNC_REJ_MALFORMED;
		return SYNC_FRAME_BAD;
	}
	total = SYNC_HDR_LEN + (size_t)plen + SYNC_MAC_LEN;
	if (len < total)
		return SYNC_FRAME_MORE;
	frame_mac(key, keylen, nonce, buf, SYNC_HDR_LEN + plen, mac);
	if (CRYPTO_memcmp(mac, buf + SYNC_HDR_LEN + plen, SYNC_MAC_LEN) != 0) {
		*why = SYNC_REJ_BAD_MAC;
		return SYNC_FRAME_BAD;
	}
	out->seq = get_u64(buf + 8);
	if (out->seq != expect_seq) {
		*why = SYNC_REJ_REPLAY;
		return SYNC_FRAME_BAD;
	}
	if ((buf[0] == SYNC_HELLO) != (expect_seq == 0)) {
		*why = SYNC_REJ_MALFORMED;
		return SYNC_FRAME_BAD;
	}
	out->type = (enum sync_type)buf[0];
	out->payload = buf + SYNC_HDR_LEN;
	out->len = plen;
	*used = total;
	return SYNC_FRAME_OK;
}

/* ---- payloads ---- */

void sync_hello_encode(struct buf *out, const struct sync_hello *h)
{
	buf_append(out, h->nonce, SYNC_NONCE_LEN);
	put_str8(out, h->node);
	put_str8(out, h->version);
}

int sync_hello_decode(const uint8_t *p, size_t len, struct sync_hello *h, char *err,
		      size_t errlen)
{
	struct rd r = { .p = p, .left = len };

	rd_bytes(&r, h->nonce, SYNC_NONCE_LEN, "nonce");
	rd_str8(&r, h->node, sizeof(h->node), "node");
	rd_str8(&r, h->version, sizeof(h->version), "version");
	if (rd_end(&r, "hello", err, errlen) < 0)
		return -1;
	if (!h->node[0]) {
		snprintf(err, errlen, "hello: empty node name");
		return -1;
	}
	return 0;
}

static void put_stamp(struct buf *out, const struct sync_stamp *st)
{
	put_u64(out, st->clock);
	put_u64(out, st->started_ms);
	put_str8(out, st->origin);
}

static void rd_stamp(struct rd *r, struct sync_stamp *st)
{
	st->clock = rd_u64(r, "clock");
	st->started_ms = rd_u64(r, "start time");
	rd_str8(r, st->origin, sizeof(st->origin), "origin");
}

void sync_state_encode(struct buf *out, const struct sync_state *s)
{
	buf_append(out, s->digest, SYNC_DIGEST_LEN);
	put_stamp(out, &s->stamp);
}

int sync_state_decode(const uint8_t *p, size_t len, struct sync_state *s, char *err,
		      size_t errlen)
{
	struct rd r = { .p = p, .left = len };

	rd_bytes(&r, s->digest, SYNC_DIGEST_LEN, "digest");
	rd_stamp(&r, &s->stamp);
	return rd_end(&r, "state", err, errlen);
}

void sync_config_encode(struct buf *out, const struct sync_config *c)
{
	buf_append(out, c->digest, SYNC_DIGEST_LEN);
	put_stamp(out, &c->stamp);
	put_str8(out, c->version);
	put_u32(out, c->len);
	buf_append(out, c->text, c->len);
}

int sync_config_decode(const uint8_t *p, size_t len, struct sync_config *c, char *err,
		       size_t errlen)
{
	struct rd r = { .p = p, .left = len };
	uint8_t d[SYNC_DIGEST_LEN];

	rd_bytes(&r, c->digest, SYNC_DIGEST_LEN, "digest");
	rd_stamp(&r, &c->stamp);
	rd_str8(&r, c->version, sizeof(c->version), "version");
	c->len = rd_u32(&r, "file length");
	c->text = rd_take(&r, c->len, "file");
	if (rd_end(&r, "config", err, errlen) < 0)
		return -1;
	sync_digest(c->text, c->len, d);
	if (memcmp(d, c->digest, sizeof(d)) != 0) {
		snprintf(err, errlen, "config: the file does not match its SHA-256 digest");
		return -1;
	}
	return 0;
}

void sync_result_encode(struct buf *out, const struct sync_result *r)
{
	size_t n = strnlen(r->reason, SYNC_REASON_MAX - 1);

	buf_append(out, r->digest, SYNC_DIGEST_LEN);
	put_u8(out, (uint8_t)r->code);
	put_u32(out, (uint32_t)n);
	buf_append(out, r->reason, n);
}

int sync_result_decode(const uint8_t *p, size_t len, struct sync_result *r, char *err,
		       size_t errlen)
{
	struct rd rd = { .p = p, .left = len };
	uint32_t n;
	const uint8_t *s;

	rd_bytes(&rd, r->digest, SYNC_DIGEST_LEN, "digest");
	r->code = (enum sync_result_code)rd_u8(&rd, "code");
	n = rd_u32(&rd, "reason");
	if (!rd.fail && n >= SYNC_REASON_MAX)
		rd.fail = "reason";
	s = rd_take(&rd, n, "reason");
	if (rd_end(&rd, "result", err, errlen) < 0)
		return -1;
	if ((unsigned)r->code >= SYNC_RES__COUNT) {
		snprintf(err, errlen, "result: unknown code %u", (unsigned)r->code);
		return -1;
	}
	memcpy(r->reason, s, n);
	r->reason[n] = '\0';
	return 0;
}

void sync_ops_encode(struct buf *out, bool snapshot, const struct sync_op *ops, size_t n)
{
	put_u8(out, snapshot ? 1 : 0);
	put_u32(out, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_u8(out, (uint8_t)ops[i].kind);
		put_u32(out, ops[i].value);
		put_u64(out, ops[i].clock);
		put_str8(out, ops[i].origin);
		put_str8(out, ops[i].svc);
		put_str8(out, ops[i].be);
	}
}

static int op_valid(const struct sync_op *o)
{
	if (o->kind == SYNC_OP_ADMIN)
		return o->value <= 2;
	if (o->kind == SYNC_OP_WEIGHT)
		return o->value <= 256;
	return 0;
}

int sync_ops_decode(const uint8_t *p, size_t len, struct sync_ops *o, char *err,
		    size_t errlen)
{
	struct rd r = { .p = p, .left = len };
	uint8_t snap = rd_u8(&r, "snapshot flag");
	uint32_t n = rd_u32(&r, "count");

	o->n = 0;
	if (!r.fail && (snap > 1 || n > SYNC_OPS_MAX))
		r.fail = snap > 1 ? "snapshot flag" : "count";
	for (uint32_t i = 0; i < n && !r.fail; i++) {
		struct sync_op *op = &o->op[i];

		op->kind = (enum sync_op_kind)rd_u8(&r, "kind");
		op->value = rd_u32(&r, "value");
		op->clock = rd_u64(&r, "clock");
		rd_str8(&r, op->origin, sizeof(op->origin), "origin");
		rd_str8(&r, op->svc, sizeof(op->svc), "service");
		rd_str8(&r, op->be, sizeof(op->be), "backend");
		if (!r.fail && (!op_valid(op) || !op->svc[0] || !op->be[0]))
			r.fail = "entry";
		o->n = i + 1;
	}
	o->snapshot = snap == 1;
	if (rd_end(&r, "ops", err, errlen) < 0) {
		o->n = 0;
		return -1;
	}
	return 0;
}

void sync_persist_encode(struct buf *out, const struct sync_persist *e, size_t n)
{
	put_u32(out, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_str8(out, e[i].svc);
		put_u8(out, e[i].keylen);
		buf_append(out, e[i].key, e[i].keylen <= 16 ? e[i].keylen : 16);
		put_str8(out, e[i].be);
		put_u32(out, e[i].ttl_ms);
	}
}

int sync_persist_decode(const uint8_t *p, size_t len, struct sync_persists *o, char *err,
			size_t errlen)
{
	struct rd r = { .p = p, .left = len };
	uint32_t n = rd_u32(&r, "count");

	o->n = 0;
	if (!r.fail && n > SYNC_PERSIST_MAX)
		r.fail = "count";
	for (uint32_t i = 0; i < n && !r.fail; i++) {
		struct sync_persist *e = &o->e[i];

		memset(e->key, 0, sizeof(e->key));
		rd_str8(&r, e->svc, sizeof(e->svc), "service");
		e->keylen = rd_u8(&r, "key length");
		if (!r.fail && e->keylen != 4 && e->keylen != 16)
			r.fail = "key length";
		rd_bytes(&r, e->key, e->keylen, "key");
		rd_str8(&r, e->be, sizeof(e->be), "backend");
		e->ttl_ms = rd_u32(&r, "ttl");
		if (!r.fail && (!e->svc[0] || !e->be[0]))
			r.fail = "entry";
		o->n = i + 1;
	}
	if (rd_end(&r, "persist", err, errlen) < 0) {
		o->n = 0;
		return -1;
	}
	return 0;
}

/* ---- digests, clocks, names ---- */

void sync_digest(const void *data, size_t len, uint8_t out[SYNC_DIGEST_LEN])
{
	unsigned int n = 0;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void sync_digest_hex(const uint8_t d[SYNC_DIGEST_LEN], char out[2 * SYNC_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < SYNC_DIGEST_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * SYNC_DIGEST_LEN] = '\0';
}

int sync_clock_cmp(uint64_t ca, const char *na, uint64_t cb, const char *nb)
{
	int c;

	if (ca != cb)
		return ca > cb ? 1 : -1;
	c = strcmp(na, nb);
	return c > 0 ? 1 : c < 0 ? -1 : 0;
}

int sync_stamp_cmp(const struct sync_stamp *a, const struct sync_stamp *b)
{
	if (a->clock == 0 && b->clock == 0 && a->started_ms != b->started_ms)
		return a->started_ms < b->started_ms ? 1 : -1;
	return sync_clock_cmp(a->clock, a->origin, b->clock, b->origin);
}

const char *sync_type_str(enum sync_type t)
{
	static const char *const names[] = { "?", "hello", "state", "config", "result", "ops",
					     "ping", "persist" };

	return (unsigned)t <= SYNC_PERSIST ? names[t] : "?";
}

const char *sync_reject_str(enum sync_reject r)
{
	static const char *const names[] = { "none", "truncated", "oversized", "bad_mac",
					     "replay", "malformed", "stranger" };

	return (unsigned)r < SYNC_REJ__COUNT ? names[r] : "?";
}

const char *sync_result_str(enum sync_result_code c)
{
	static const char *const names[] = { "applied", "in_sync", "older", "version",
					     "invalid", "write", "reload" };

	return (unsigned)c < SYNC_RES__COUNT ? names[c] : "?";
}
