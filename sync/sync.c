/* sync.c - what the nodes tell each other: configuration and operator state. */
#include "sync/sync_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/text.h"
#include "common/util.h"
#include "config/config.h"

#include <openssl/crypto.h>

/* ---- set-up ---- */

/* True when a is an address of this node (it can be bound). */
static bool addr_is_local(const struct addr *a)
{
	struct addr b = *a;
	int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool local;

	if (fd < 0)
		return false;
	addr_set_port(&b, 0);
	local = bind(fd, (struct sockaddr *)&b.ss, b.len) == 0;
	close(fd);
	return local;
}

static void peers_init(struct sync *s, const struct sync_settings *set)
{
	s->peers = xcalloc(set->npeers ? set->npeers : 1, sizeof(*s->peers));
	s->npeers = set->npeers;
	for (size_t i = 0; i < set->npeers; i++) {
		struct sync_peer *p = &s->peers[i];

		p->addr = set->peers[i];
		addr_set_port(&p->addr, set->port);
		addr_ip_str(&p->addr, p->ip, sizeof(p->ip));
		snprintf(p->node, sizeof(p->node), "%s", p->ip);
		p->self = addr_is_local(&p->addr);
		if (p->self)
			log_info("sync: peer address %s is this node's own: skipped", p->ip);
	}
}

struct sync *sync_new(struct ev_loop *loop, const struct sync_settings *set,
		      const struct sync_hooks *hooks, char *err, size_t errlen)
{
	struct sync *s;

	if (set->keylen > SYNC_KEY_MAX || set->keylen == 0) {
		snprintf(err, errlen, "sync: key of %zu bytes (1..%d)", set->keylen, SYNC_KEY_MAX);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->hooks = *hooks;
	s->lfd = -1;
	snprintf(s->node, sizeof(s->node), "%s", set->node);
	snprintf(s->version, sizeof(s->version), "%s", set->version);
	memcpy(s->key, set->key, set->keylen);
	s->keylen = set->keylen;
	s->config_path = xstrdup(set->config_path);
	s->port = set->port;
	s->started_ms = (uint64_t)(wall_now() * 1000);
	s->pq = xcalloc(SYNC_PERSIST_MAX, sizeof(*s->pq));
	TAILQ_INIT(&s->conns);
	peers_init(s, set);
	if (sync_listen_start(s, set->listen, err, errlen) < 0) {
		sync_free(s);
		return NULL;
	}
	ev_timer_init(&s->tick, sync_tick_cb, 0., SYNC_TICK_S);
	ev_timer_again(loop, &s->tick);
	ev_feed_event(loop, &s->tick, EV_TIMER);
	log_notice("sync: listening on port %u for %zu peer(s)", s->port, s->npeers);
	return s;
}

void sync_free(struct sync *s)
{
	if (!s)
		return;
	ev_timer_stop(s->loop, &s->tick);
	sync_conns_free(s);
	free(s->peers);
	free(s->ops);
	free(s->pq);
	free(s->text);
	free(s->config_path);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	free(s);
}

/* ---- logging ---- */

void sync_log_reject(struct sync *s, struct sync_peer *p, enum sync_reject why,
		     const char *detail)
{
	ev_tstamp now = ev_now(s->loop);

	if (p->logged[why] && now - p->logged[why] < SYNC_LOG_EVERY_S)
		return;
	p->logged[why] = now;
	log_warning("sync: connection with peer %s (%s) closed: %s%s%s (%" PRIu64 " so far)",
		    p->node, p->ip, sync_reject_str(why), detail ? ", " : "",
		    detail ? detail : "", s->rejected[why]);
}

static void short_hex(const uint8_t *d, char out[13])
{
	char hex[2 * SYNC_DIGEST_LEN + 1];

	sync_digest_hex(d, hex);
	memcpy(out, hex, 12);
	out[12] = '\0';
}

/* ---- configuration ---- */

void sync_state_payload(const struct sync *s, struct buf *out)
{
	struct sync_state st;

	memset(&st, 0, sizeof(st));
	memcpy(st.digest, s->digest, sizeof(st.digest));
	st.stamp = s->stamp;
	sync_state_encode(out, &st);
}

static void send_config(struct sync *s, struct sync_conn *c)
{
	struct sync_config m;
	struct buf b;

	if (s->len > SYNC_MAX_PAYLOAD - 4096) {
		log_error("sync: %s is larger than %d bytes: not sent to peer %s", s->config_path,
			  SYNC_MAX_PAYLOAD - 4096, s->peers[c->peer].node);
		return;
	}
	memset(&m, 0, sizeof(m));
	memcpy(m.digest, s->digest, sizeof(m.digest));
	m.stamp = s->stamp;
	snprintf(m.version, sizeof(m.version), "%s", s->version);
	m.text = (const uint8_t *)s->text;
	m.len = (uint32_t)s->len;
	buf_init(&b);
	sync_config_encode(&b, &m);
	sync_conn_send(c, SYNC_CONFIG, &b);
	buf_free(&b);
	s->peers[c->peer].configs_sent++;
}

static void send_all(struct sync *s, enum sync_type type, const struct buf *b)
{
	for (size_t i = 0; i < s->npeers; i++)
		if (s->peers[i].conn)
			sync_conn_send(s->peers[i].conn, type, b);
}

void sync_config_loaded(struct sync *s, const char *text, size_t len)
{
	uint8_t d[SYNC_DIGEST_LEN];
	char hex[13];
	struct buf b;

	sync_digest(text, len, d);
	if (s->loaded && memcmp(d, s->digest, sizeof(d)) == 0 && !s->adopting)
		return;
	free(s->text);
	s->text = xmalloc(len + 1);
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	memcpy(s->digest, d, sizeof(d));
	short_hex(d, hex);
	buf_init(&b);
	if (s->adopting && memcmp(d, s->adopt_digest, sizeof(d)) == 0) {
		/* the peer's file: its stamp, and only our state goes back */
		s->stamp = s->adopt_stamp;
		sync_state_payload(s, &b);
		send_all(s, SYNC_STATE, &b);
	} else {
		s->stamp.clock = s->loaded ? ++s->lamport : 0;
		s->stamp.started_ms = s->started_ms;
		snprintf(s->stamp.origin, sizeof(s->stamp.origin), "%s", s->node);
		size_t sent = 0;

		for (size_t i = 0; i < s->npeers; i++)
			if (s->peers[i].conn) {
				send_config(s, s->peers[i].conn);
				sent++;
			}
		log_notice("sync: configuration %s (clock %" PRIu64 ") loaded%s", hex,
			   s->stamp.clock, sent ? ", sent to the peer" :
			   ", for the peer when it connects");
	}
	s->loaded = true;
	s->adopting = false;
	buf_free(&b);
}

int sync_push(struct sync *s, char *err, size_t errlen)
{
	int n = 0;

	if (!s->loaded) {
		snprintf(err, errlen, "no configuration loaded yet");
		return -1;
	}
	for (size_t i = 0; i < s->npeers; i++)
		if (s->peers[i].conn) {
			send_config(s, s->peers[i].conn);
			n++;
		}
	if (n == 0)
		snprintf(err, errlen, "no peer connected");
	return n ? n : -1;
}

static void send_result(struct sync_conn *c, const uint8_t *digest, enum sync_result_code code,
			const char *reason)
{
	struct sync_result r;
	struct buf b;

	memset(&r, 0, sizeof(r));
	memcpy(r.digest, digest, sizeof(r.digest));
	r.code = code;
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	buf_init(&b);
	sync_result_encode(&b, &r);
	sync_conn_send(c, SYNC_RESULT, &b);
	buf_free(&b);
}

/* Refuse the peer's file: log here, tell the peer. */
static void refuse(struct sync *s, struct sync_conn *c, const struct sync_config *m,
		   enum sync_result_code code, const char *reason)
{
	struct sync_peer *p = &s->peers[c->peer];
	char hex[13];

	short_hex(m->digest, hex);
	s->refused++;
	log_error("sync: configuration %s from peer %s refused: %s", hex, p->node, reason);
	send_result(c, m->digest, code, reason);
	if (s->hooks.refused)
		s->hooks.refused(s->hooks.arg, p->node, false, reason);
}

/* Check the peer's file as `vigild -t` would. 0, or -1 with the first error. */
static int check_text(const struct sync *s, const struct sync_config *m, char *err,
		      size_t errlen)
{
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string_node(s->config_path, (const char *)m->text, m->len,
						  s->node, &errs);

	if (!cfg)
		snprintf(err, errlen, "%s%s", errs.count ? errs.msgs[0] : "invalid",
			 errs.count > 1 ? " (and more errors)" : "");
	cfg_free(cfg);
	cfg_errors_free(&errs);
	return cfg ? 0 : -1;
}

/* Install and reload the peer's file. */
static void apply_config(struct sync *s, struct sync_conn *c, const struct sync_config *m)
{
	struct sync_peer *p = &s->peers[c->peer];
	char err[SYNC_REASON_MAX - 64], hex[13];

	if (check_text(s, m, err, sizeof(err)) < 0) {
		refuse(s, c, m, SYNC_RES_INVALID, err);
		return;
	}
	if (sync_file_install(s->config_path, (const char *)m->text, m->len, err,
			      sizeof(err)) < 0) {
		refuse(s, c, m, SYNC_RES_WRITE, err);
		return;
	}
	short_hex(m->digest, hex);
	log_notice("sync: configuration %s (clock %" PRIu64 ") from peer %s written to %s "
		   "(previous kept as %s.prev), reloading", hex, m->stamp.clock, p->node,
		   s->config_path, s->config_path);
	s->adopting = true;
	memcpy(s->adopt_digest, m->digest, sizeof(s->adopt_digest));
	s->adopt_stamp = m->stamp;
	if (s->hooks.reload(s->hooks.arg, err, sizeof(err)) < 0) {
		s->adopting = false;
		refuse(s, c, m, SYNC_RES_RELOAD, err);
		return;
	}
	s->adopting = false;
	s->applied++;
	memcpy(p->digest, m->digest, sizeof(p->digest));
	p->stamp = m->stamp;
	p->has_state = true;
	send_result(c, m->digest, SYNC_RES_APPLIED, "");
}

static void on_config(struct sync *s, struct sync_conn *c, const struct sync_config *m)
{
	struct sync_peer *p = &s->peers[c->peer];
	char reason[SYNC_REASON_MAX], mine[13], theirs[13];

	p->configs_received++;
	if (m->stamp.clock > s->lamport)
		s->lamport = m->stamp.clock;
	if (strcmp(m->version, s->version) != 0) {
		snprintf(reason, sizeof(reason), "vigil versions differ: %s runs %s, %s runs %s",
			 p->node, m->version, s->node, s->version);
		refuse(s, c, m, SYNC_RES_VERSION, reason);
		return;
	}
	memcpy(p->digest, m->digest, sizeof(p->digest));
	p->stamp = m->stamp;
	p->has_state = true;
	if (s->loaded && memcmp(m->digest, s->digest, sizeof(s->digest)) == 0) {
		send_result(c, m->digest, SYNC_RES_IN_SYNC, "");
		return;
	}
	if (s->loaded && sync_stamp_cmp(&s->stamp, &m->stamp) > 0) {
		short_hex(s->digest, mine);
		short_hex(m->digest, theirs);
		snprintf(reason, sizeof(reason), "%s has a newer configuration %s (clock %" PRIu64
			 ", from %s) than %s (clock %" PRIu64 ", from %s)", s->node, mine,
			 s->stamp.clock, s->stamp.origin, theirs, m->stamp.clock, m->stamp.origin);
		log_notice("sync: both nodes changed the configuration: %s; keeping ours and "
			   "sending it to %s", reason, p->node);
		send_result(c, m->digest, SYNC_RES_OLDER, reason);
		send_config(s, c);
		return;
	}
	apply_config(s, c, m);
}

static void on_result(struct sync *s, struct sync_conn *c, const struct sync_result *r)
{
	struct sync_peer *p = &s->peers[c->peer];
	char hex[13], reason[SYNC_REASON_MAX];

	short_hex(r->digest, hex);
	text_clean(reason, sizeof(reason), r->reason, strlen(r->reason));
	p->has_result = true;
	p->result = r->code;
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	switch (r->code) {
	case SYNC_RES_APPLIED:
	case SYNC_RES_IN_SYNC:
		if (r->code == SYNC_RES_APPLIED)
			log_notice("sync: peer %s applied configuration %s", p->node, hex);
		memcpy(p->digest, r->digest, sizeof(p->digest));
		p->has_state = true;
		break;
	case SYNC_RES_OLDER:
		log_notice("sync: peer %s kept its own configuration: %s", p->node, reason);
		break;
	default:
		log_error("sync: peer %s refused configuration %s (%s): %s", p->node, hex,
			  sync_result_str(r->code), reason);
		if (s->hooks.refused)
			s->hooks.refused(s->hooks.arg, p->node, true, reason);
		break;
	}
}

static void on_state(struct sync *s, struct sync_conn *c, const struct sync_state *st)
{
	struct sync_peer *p = &s->peers[c->peer];

	memcpy(p->digest, st->digest, sizeof(p->digest));
	p->stamp = st->stamp;
	p->has_state = true;
	if (st->stamp.clock > s->lamport)
		s->lamport = st->stamp.clock;
	if (!s->loaded || memcmp(st->digest, s->digest, sizeof(s->digest)) == 0)
		return;
	if (sync_stamp_cmp(&s->stamp, &st->stamp) > 0)
		send_config(s, c);
}

/* ---- operator state ---- */

static struct sync_op *op_find(struct sync *s, enum sync_op_kind kind, const char *svc,
			       const char *be)
{
	for (size_t i = 0; i < s->nops; i++)
		if (s->ops[i].kind == kind && !strcmp(s->ops[i].svc, svc) &&
		    !strcmp(s->ops[i].be, be))
			return &s->ops[i];
	return NULL;
}

static struct sync_op *op_add(struct sync *s, const struct sync_op *op)
{
	if (s->nops == s->capops) {
		s->capops = s->capops ? 2 * s->capops : 16;
		s->ops = xrealloc(s->ops, s->capops * sizeof(*s->ops));
	}
	s->ops[s->nops] = *op;
	return &s->ops[s->nops++];
}

static void send_ops(struct sync *s, struct sync_conn *c, bool snapshot, const struct sync_op *ops,
		     size_t n)
{
	struct buf b;
	size_t off = 0;

	buf_init(&b);
	do {
		size_t k = n - off > SYNC_OPS_MAX ? SYNC_OPS_MAX : n - off;

		buf_reset(&b);
		/* a snapshot's end is flagged: the receiver then has it all */
		sync_ops_encode(&b, snapshot && off + k == n, ops + off, k);
		sync_conn_send(c, SYNC_OPS, &b);
		s->peers[c->peer].ops_sent += k;
		off += k;
	} while (off < n);
	buf_free(&b);
}

void sync_op_local(struct sync *s, enum sync_op_kind kind, const char *svc, const char *be,
		   uint32_t value)
{
	struct sync_op op = { .kind = kind, .value = value, .clock = ++s->lamport };
	struct sync_op *cur;

	snprintf(op.origin, sizeof(op.origin), "%s", s->node);
	snprintf(op.svc, sizeof(op.svc), "%s", svc);
	snprintf(op.be, sizeof(op.be), "%s", be);
	cur = op_find(s, kind, op.svc, op.be);
	if (cur)
		*cur = op;
	else
		cur = op_add(s, &op);
	for (size_t i = 0; i < s->npeers; i++)
		if (s->peers[i].conn)
			send_ops(s, s->peers[i].conn, false, &op, 1);
}

static void on_ops(struct sync *s, struct sync_conn *c, const struct sync_ops *o)
{
	struct sync_peer *p = &s->peers[c->peer];

	p->ops_received += o->n;
	for (size_t i = 0; i < o->n; i++) {
		const struct sync_op *op = &o->op[i];
		struct sync_op *cur = op_find(s, op->kind, op->svc, op->be);

		if (op->clock > s->lamport)
			s->lamport = op->clock;
		if (cur && sync_clock_cmp(op->clock, op->origin, cur->clock, cur->origin) <= 0)
			continue;
		if (cur)
			*cur = *op;
		else
			op_add(s, op);
		s->hooks.op_apply(op, s->hooks.arg);
	}
	if (o->snapshot && s->hooks.learnt)
		s->hooks.learnt(p->node, s->hooks.arg);
}

/* ---- persistence entries ---- */

void sync_persist_flush(struct sync *s)
{
	struct buf b;
	size_t sent = 0;

	if (!s->npq)
		return;
	buf_init(&b);
	sync_persist_encode(&b, s->pq, s->npq);
	for (size_t i = 0; i < s->npeers; i++)
		if (s->peers[i].conn) {
			sync_conn_send(s->peers[i].conn, SYNC_PERSIST, &b);
			sent++;
		}
	if (sent)
		s->persist_sent += s->npq;
	s->npq = 0;
	buf_free(&b);
}

void sync_persist_local(struct sync *s, const struct sync_persist *e)
{
	s->pq[s->npq++] = *e;
	if (s->npq == SYNC_PERSIST_MAX)
		sync_persist_flush(s);
}

/* ---- the channel's calls ---- */

void sync_on_authed(struct sync *s, struct sync_conn *c)
{
	struct sync_peer *p = &s->peers[c->peer];

	if (strcmp(c->peer_version, s->version) != 0)
		log_warning("sync: peer %s runs vigil %s, this node runs vigil %s: configurations "
			    "will not be exchanged", p->node, c->peer_version, s->version);
	send_ops(s, c, true, s->ops, s->nops);
	if (s->hooks.peer_up)
		s->hooks.peer_up(s->hooks.arg);
}

static int frame_error(struct sync *s, struct sync_conn *c, const char *err)
{
	s->rejected[SYNC_REJ_MALFORMED]++;
	sync_log_reject(s, &s->peers[c->peer], SYNC_REJ_MALFORMED, err);
	c->why = "malformed message";
	return -1;
}

int sync_on_frame(struct sync *s, struct sync_conn *c, const struct sync_frame *f)
{
	char err[256];

	switch (f->type) {
	case SYNC_STATE: {
		struct sync_state st;

		if (sync_state_decode(f->payload, f->len, &st, err, sizeof(err)) < 0)
			return frame_error(s, c, err);
		on_state(s, c, &st);
		return 0;
	}
	case SYNC_CONFIG: {
		struct sync_config m;

		if (sync_config_decode(f->payload, f->len, &m, err, sizeof(err)) < 0)
			return frame_error(s, c, err);
		on_config(s, c, &m);
		return 0;
	}
	case SYNC_RESULT: {
		struct sync_result r;

		if (sync_result_decode(f->payload, f->len, &r, err, sizeof(err)) < 0)
			return frame_error(s, c, err);
		on_result(s, c, &r);
		return 0;
	}
	case SYNC_OPS: {
		struct sync_ops *o = xmalloc(sizeof(*o));
		int rc = sync_ops_decode(f->payload, f->len, o, err, sizeof(err));

		if (rc == 0)
			on_ops(s, c, o);
		free(o);
		return rc < 0 ? frame_error(s, c, err) : 0;
	}
	case SYNC_PERSIST: {
		struct sync_persists *o = xmalloc(sizeof(*o));
		int rc = sync_persist_decode(f->payload, f->len, o, err, sizeof(err));

		for (size_t i = 0; rc == 0 && i < o->n; i++)
			s->hooks.persist_apply(&o->e[i], s->hooks.arg);
		if (rc == 0)
			s->persist_received += o->n;
		free(o);
		return rc < 0 ? frame_error(s, c, err) : 0;
	}
	case SYNC_PING:
		return 0;
	default:
		return frame_error(s, c, "unexpected message");
	}
}

/* ---- status ---- */

void sync_config_digest_hex(const struct sync *s, char out[2 * SYNC_DIGEST_LEN + 1])
{
	if (s && s->loaded)
		sync_digest_hex(s->digest, out);
	else
		out[0] = '\0';
}
