/* vigild_sync.c - sync/ wired to the daemon: reloads, operator state, rollback. */
#include "daemon/vigild_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/events.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/wire_alerts.h"
#include "lb/lb.h"
#include "sync/sync.h"
#include "vip/failover.h"
#include "vip/peer_msg.h"

#include <openssl/crypto.h>

/* One EVENT_SYNC in the event log: what, then detail. */
static void sync_event(struct vigild *d, const char *svc, const char *be, const char *what,
		       const char *detail)
{
	char text[EVENTS_TEXT_MAX];

	snprintf(text, sizeof(text), "%s%s", what, detail);
	events_add(d->events, wall_now(), EVENT_SYNC, svc, be, 0, text);
}

/* The peer replaced the configuration file: reload it. */
static int sync_reload_cb(void *arg, char *err, size_t errlen)
{
	struct vigild *d = arg;
	struct buf errs;
	int rc;

	buf_init(&errs);
	rc = vigild_reload(d, &errs);
	if (rc < 0) {
		char *nl = errs.len ? strchr(errs.data, '\n') : NULL;

		if (nl)
			*nl = '\0';
		snprintf(err, errlen, "reload refused: %s", errs.len ? errs.data : "unknown");
	}
	buf_free(&errs);
	/* a refusal reaches the event log and the alerts through sync_refused_cb */
	if (rc == 0)
		sync_event(d, NULL, NULL, "configuration from the peer installed and reloaded", "");
	return rc;
}

/* An operator decision from the peer: apply it here, without sending it back. */
static void sync_op_cb(const struct sync_op *op, void *arg)
{
	struct vigild *d = arg;
	struct service *s = lb_find_service(d->lb, op->svc);
	struct backend *b = s ? service_find_backend(s, op->be) : NULL;
	static const enum backend_admin admins[] = { ADMIN_NONE, ADMIN_DRAIN, ADMIN_MAINT };
	char why[96];

	if (!b) {
		log_warning("sync: operator state from %s for service %s backend %s: no such "
			    "backend here, kept for later", op->origin, op->svc, op->be);
		return;
	}
	snprintf(why, sizeof(why), "vigilctl on %s", op->origin);
	sync_event(d, s->name, b->name, "operator state from the peer: ", why);
	if (op->kind == SYNC_OP_ADMIN && op->value < 3) {
		if (b->admin != admins[op->value])
			backend_set_admin(b, admins[op->value], why);
	} else if (op->kind == SYNC_OP_WEIGHT && b->weight != op->value) {
		log_notice("service %s backend %s: weight %u -> %u (%s)", s->name, b->name,
			   b->weight, op->value, why);
		backend_set_weight(b, op->value);
	}
}

/* A persistence entry from the peer. */
static void sync_persist_cb(const struct sync_persist *e, void *arg)
{
	struct vigild *d = arg;
	struct persist_key k = { .len = e->keylen };

	memcpy(k.b, e->key, sizeof(k.b));
	lb_persist_learn(d->lb, e->svc, &k, e->be, e->ttl_ms);
}

/* A persistence entry made here: for the peer. */
static void lb_persist_made_cb(const char *svc, const struct persist_key *k, const char *be,
			       uint32_t ttl_ms, void *arg)
{
	struct vigild *d = arg;
	struct sync_persist e = { .keylen = k->len, .ttl_ms = ttl_ms };

	if (!d->sync || strlen(svc) >= sizeof(e.svc) || strlen(be) >= sizeof(e.be))
		return;
	memcpy(e.key, k->b, sizeof(e.key));
	memcpy(e.svc, svc, strlen(svc) + 1);
	memcpy(e.be, be, strlen(be) + 1);
	sync_persist_local(d->sync, &e);
}

/* A peer connected: it gets every persistence entry in the next batches. */
static void sync_peer_up_cb(void *arg)
{
	struct vigild *d = arg;

	sync_event(d, NULL, NULL, "a peer connected to the sync channel", "");
	lb_persist_each(d->lb, lb_persist_made_cb, d);
}

/* The peer's whole operator state is applied: failover may claim now. */
static void sync_learnt_cb(const char *node, void *arg)
{
	struct vigild *d = arg;

	if (d->fo && failover_waiting(d->fo)) {
		sync_event(d, NULL, NULL, "operator state learnt from peer ", node);
		failover_learnt(d->fo, node);
	}
}

/* A configuration refused, by this node or by the peer: an event and an alert. */
static void sync_refused_cb(void *arg, const char *peer, bool by_peer, const char *reason)
{
	wire_alert_sync_refused(arg, peer, by_peer, reason);
}

int vigild_sync_start(struct vigild *d, char *err, size_t errlen)
{
	const struct failover_conf *fc = &d->cfg->failover;
	uint8_t key[SYNC_KEY_MAX];
	int klen;
	const char *ver = getenv(VIGIL_TEST_VERSION_ENV);
	struct sync_hooks hooks = { .reload = sync_reload_cb, .op_apply = sync_op_cb,
				    .persist_apply = sync_persist_cb, .peer_up = sync_peer_up_cb,
				    .learnt = sync_learnt_cb, .refused = sync_refused_cb, .arg = d };
	struct sync_settings set = {
		.node = fc->node, .version = ver && *ver ? ver : VIGIL_VERSION, .port = fc->sync_port,
		.listen = fc->has_sync_listen ? &fc->sync_listen : NULL,
		.config_path = d->config_path,
	};
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (sync_file_read(d->config_path, &text, &len, err, errlen) == 0) {
		sync_digest(text, len, d->config_digest);
		d->has_digest = true;
	}
	if (!d->cfg->has_failover || !fc->sync) {
		free(text);
		return 0;
	}
	if (!text)
		return -1;
	klen = peer_key_load(fc->auth_key_file, key, sizeof(key), err, errlen);
	if (klen >= 0) {
		set.key = key;
		set.keylen = (size_t)klen;
		set.peers = cfg_peer_addrs(d->cfg, &set.npeers);
		d->sync = sync_new(d->loop, &set, &hooks, err, errlen);
		OPENSSL_cleanse(key, sizeof(key));
	}
	if (d->sync) {
		lb_set_persist_hook(d->lb, lb_persist_made_cb, d);
		sync_config_loaded(d->sync, text, len);
		rc = 0;
	}
	free(text);
	return rc;
}

void vigild_sync_loaded(struct vigild *d, const char *text, size_t len)
{
	sync_digest(text, len, d->config_digest);
	d->has_digest = true;
	if (d->sync)
		sync_config_loaded(d->sync, text, len);
}

void vigild_sync_check_reload(const struct config *old, const struct config *cfg)
{
	const struct failover_conf *a = &old->failover, *b = &cfg->failover;
	bool changed = a->sync != b->sync || a->sync_port != b->sync_port ||
		       a->npeers != b->npeers || a->has_sync_listen != b->has_sync_listen;

	for (size_t i = 0; !changed && i < a->npeers; i++)
		changed = !addr_equal_ip(&a->peers[i], &b->peers[i]);
	if (old->has_failover && cfg->has_failover && changed && (a->sync || b->sync))
		log_warning("failover.sync settings changed: take effect at the next restart");
}

void vigild_operator_changed(struct vigild *d, int op, const char *svc, const char *be,
			     uint32_t weight)
{
	if (!d->sync)
		return;
	if (op == 3)
		sync_op_local(d->sync, SYNC_OP_WEIGHT, svc, be, weight);
	else
		sync_op_local(d->sync, SYNC_OP_ADMIN, svc, be, (uint32_t)op);
}

int vigild_sync_push(struct vigild *d, char *err, size_t errlen)
{
	if (!d->sync) {
		snprintf(err, errlen, "failover.sync is off");
		return -1;
	}
	return sync_push(d->sync, err, errlen) < 0 ? -1 : 0;
}

int vigild_rollback(struct vigild *d, struct buf *err)
{
	char prev[4096], why[512];
	char *text;
	size_t len;
	int rc;

	snprintf(prev, sizeof(prev), "%s.prev", d->config_path);
	if (sync_file_read(prev, &text, &len, why, sizeof(why)) < 0) {
		buf_printf(err, "no previous configuration: %s\n", why);
		return -1;
	}
	{
		struct cfg_errors errs;
		struct config *cfg = cfg_load_string_node(prev, text, len, d->node, &errs);

		for (size_t i = 0; i < errs.count; i++)
			buf_printf(err, "%s\n", errs.msgs[i]);
		cfg_errors_free(&errs);
		if (!cfg) {
			free(text);
			return -1;
		}
		cfg_free(cfg);
	}
	rc = sync_file_install(d->config_path, text, len, why, sizeof(why));
	free(text);
	if (rc < 0) {
		buf_printf(err, "%s\n", why);
		return -1;
	}
	log_notice("rollback: %s reinstalled as %s (the replaced file is now %s)", prev,
		   d->config_path, prev);
	return vigild_reload(d, err);
}

void vigild_config_digest_hex(const struct vigild *d, char out[65])
{
	if (d->has_digest)
		sync_digest_hex(d->config_digest, out);
	else
		out[0] = '\0';
}
