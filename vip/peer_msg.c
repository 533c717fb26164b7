/* peer_msg.c - encode / decode of the failover advert (see peer_msg.h). */
#include "vip/peer_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define OFF_MAGIC   0
#define OFF_VERSION 2
#define OFF_TYPE    3
#define OFF_GROUP   4
#define OFF_PRIO    5
#define OFF_STATE   6
#define OFF_FLAGS   7
#define OFF_ADVERT  8
#define OFF_RESV    10
#define OFF_BOOT    12
#define OFF_SEQ     20
#define OFF_DIGEST  28
#define OFF_NODE    44

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void mac_compute(const uint8_t *buf, const uint8_t *key, size_t keylen, uint8_t out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)keylen, buf, PEER_MSG_MAC_OFF, out, &len);
}

size_t peer_msg_encode(const struct peer_msg *m, const uint8_t *key, size_t keylen,
		       uint8_t out[PEER_MSG_LEN])
{
	size_t nlen = strnlen(m->node, PEER_NODE_MAX);

	memset(out, 0, PEER_MSG_LEN);
	out[OFF_MAGIC] = 'V';
	out[OFF_MAGIC + 1] = 'G';
	out[OFF_VERSION] = PEER_MSG_VERSION;
	out[OFF_TYPE] = PEER_MSG_TYPE_ADVERT;
	out[OFF_GROUP] = m->group;
	out[OFF_PRIO] = m->priority;
	out[OFF_STATE] = m->state;
	out[OFF_FLAGS] = m->flags;
	put16(out + OFF_ADVERT, m->advert_ms);
	put64(out + OFF_BOOT, m->boot);
	put64(out + OFF_SEQ, m->seq);
	memcpy(out + OFF_DIGEST, m->vip_digest, PEER_DIGEST_LEN);
	memcpy(out + OFF_NODE, m->node, nlen);
	mac_compute(out, key, keylen, out + PEER_MSG_MAC_OFF);
	return PEER_MSG_LEN;
}

/* The node name is an identity: printable ASCII (text_is_clean()), then only
 * NUL padding. */
static bool node_ok(const uint8_t *p)
{
	size_t n = strnlen((const char *)p, PEER_NODE_MAX);

	if (!text_is_clean((const char *)p, n))
		return false;
	for (size_t i = n; i < PEER_NODE_MAX; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static enum peer_reject reject(enum peer_reject r, char *err, size_t errlen, const char *fmt,
			       size_t a, size_t b)
{
	snprintf(err, errlen, fmt, a, b);
	return r;
}

enum peer_reject peer_msg_decode(const uint8_t *buf, size_t len, const uint8_t *key,
				 size_t keylen, struct peer_msg *out, char *err, size_t errlen)
{
	uint8_t mac[32];

	if (len < PEER_MSG_LEN)
		return reject(PEER_REJ_TRUNCATED, err, errlen, "truncated: %zu bytes, expected %zu",
			      len, PEER_MSG_LEN);
	if (len > PEER_MSG_LEN)
		return reject(PEER_REJ_OVERSIZED, err, errlen, "oversized: %zu bytes, expected %zu",
			      len, PEER_MSG_LEN);
	mac_compute(buf, key, keylen, mac);
	if (CRYPTO_memcmp(mac, buf + PEER_MSG_MAC_OFF, sizeof(mac)) != 0)
		return reject(PEER_REJ_BAD_MAC, err, errlen, "bad MAC (wrong key or altered)", 0, 0);
	if (buf[OFF_MAGIC] != 'V' || buf[OFF_MAGIC + 1] != 'G' || buf[OFF_TYPE] != PEER_MSG_TYPE_ADVERT)
		return reject(PEER_REJ_VERSION, err, errlen, "not a vigil advert (type %zu)",
			      buf[OFF_TYPE], 0);
	if (buf[OFF_VERSION] != PEER_MSG_VERSION)
		return reject(PEER_REJ_VERSION, err, errlen, "advert format version %zu, this "
			      "vigild speaks version %zu (upgrade both nodes)", buf[OFF_VERSION],
			      PEER_MSG_VERSION);
	if (buf[OFF_STATE] >= PEER_STATE__COUNT)
		return reject(PEER_REJ_VERSION, err, errlen, "unknown state %zu", buf[OFF_STATE], 0);
	if (get64(buf + OFF_BOOT) == 0)
		return reject(PEER_REJ_VERSION, err, errlen, "boot ID 0", 0, 0);
	if (buf[OFF_NODE] == '\0' || !node_ok(buf + OFF_NODE))
		return reject(PEER_REJ_VERSION, err, errlen,
			      "node name empty or not printable ASCII", 0, 0);
	memset(out, 0, sizeof(*out));
	out->version = buf[OFF_VERSION];
	out->group = buf[OFF_GROUP];
	out->priority = buf[OFF_PRIO];
	out->state = buf[OFF_STATE];
	out->flags = buf[OFF_FLAGS];
	out->advert_ms = get16(buf + OFF_ADVERT);
	out->boot = get64(buf + OFF_BOOT);
	out->seq = get64(buf + OFF_SEQ);
	memcpy(out->vip_digest, buf + OFF_DIGEST, PEER_DIGEST_LEN);
	memcpy(out->node, buf + OFF_NODE, PEER_NODE_MAX);
	out->node[PEER_NODE_MAX] = '\0';
	return PEER_OK;
}

/* Canonical bytes of one VIP: family, prefix, 16 address bytes. */
static void vip_key(const struct peer_vip *v, uint8_t out[18])
{
	size_t n;
	const uint8_t *b = addr_bytes(&v->ip, &n);

	memset(out, 0, 18);
	out[0] = (uint8_t)addr_family(&v->ip);
	out[1] = (uint8_t)v->prefix;
	memcpy(out + 2, b, n);
}

static int vip_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 18);
}

void peer_vip_digest(const struct peer_vip *vips, size_t n, uint8_t out[PEER_DIGEST_LEN])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	uint8_t (*keys)[18] = n ? calloc(n, 18) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t i;

	if (!ctx || (n && !keys))
		abort();
	for (i = 0; i < n; i++)
		vip_key(&vips[i], keys[i]);
	if (n)
		qsort(keys, n, 18, vip_cmp);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (i = 0; i < n; i++)
		if (i == 0 || memcmp(keys[i], keys[i - 1], 18) != 0)
			EVP_DigestUpdate(ctx, keys[i], 18);
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	free(keys);
	memcpy(out, md, PEER_DIGEST_LEN);
}

int peer_key_load(const char *path, uint8_t *key, size_t keymax, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	uint8_t extra;

	if (fd < 0) {
		snprintf(err, errlen, "auth_key_file %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, key, keymax);
	if (n >= 0 && (size_t)n == keymax && read(fd, &extra, 1) > 0)
		n = -2;
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "auth_key_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (n == -2) {
		snprintf(err, errlen, "auth_key_file %s: longer than %zu bytes", path, keymax);
		return -1;
	}
	if (n > 0 && key[n - 1] == '\n')
		n--;
	if (n > 0 && key[n - 1] == '\r')
		n--;
	if (n < 16) {
		snprintf(err, errlen, "auth_key_file %s: key too short (%zd bytes, need 16 or more)",
			 path, n);
		return -1;
	}
	return (int)n;
}

const char *peer_state_str(enum peer_state s)
{
	static const char *const names[] = { "init", "backup", "master", "fault" };

	return (unsigned)s < PEER_STATE__COUNT ? names[s] : "?";
}

const char *peer_reject_str(enum peer_reject r)
{
	static const char *const names[] = {
		"ok", "truncated", "oversized", "bad_mac", "version", "group", "replay",
		"unknown_sender", "ttl", "reflected", "wrong_address", "table_full",
	};

	return (unsigned)r < PEER_REJ__COUNT ? names[r] : "?";
}
