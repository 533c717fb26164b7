/* vigild.c - start-up, reload and graceful stop of the daemon. */
#include "daemon/vigild.h"
#include "daemon/transparent.h"
#include "daemon/vigild_sync.h"
#include "common/privs.h"
#include "checks/check.h"
#include "checks/agent.h"
#include "common/events.h"
#include "common/log.h"
#include "common/util.h"
#include "ctl/ctl.h"
#include "ctl/http.h"
#include "daemon/wire_alerts.h"
#include "daemon/wire_checks.h"
#include "daemon/sdnotify.h"
#include "lb/lb.h"
#include "notify/alerts.h"
#include "notify/notify.h"
#include "sync/sync.h"
#include "vip/failover.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define DRAIN_POLL 0.05         /* seconds between checks for the last connection */

/* As many file descriptors as the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warning("cannot raise the open file limit: %s", strerror(errno));
	}
}

/* Clamp global.maxconn to what the open file limit allows, and say so: a
 * warning when the file asked for more, a notice for the default. */
static void fit_maxconn(struct vigild *d, struct config *cfg)
{
	struct rlimit rl;
	char msg[256];
	uint32_t want = cfg->global.maxconn;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	d->nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	cfg->global.maxconn = cfg_maxconn_fit(want, d->nofile, cfg_probe_count(cfg), msg,
					      sizeof(msg));
	if (!msg[0])
		return;
	if (cfg->global.maxconn_set)
		log_warning("global.%s; raise LimitNOFILE / ulimit -n to allow more", msg);
	else
		log_notice("global.%s (the default; set global.maxconn to choose)", msg);
}

static void log_cfg_errors(const struct cfg_errors *errs, struct buf *out)
{
	for (size_t i = 0; i < errs->count; i++) {
		log_error("%s", errs->msgs[i]);
		if (out) {
			buf_puts(out, errs->msgs[i]);
			buf_puts(out, "\n");
		}
	}
}

/* (Re)create the HTTP status endpoint when status_listen changed. */
/* What vigild -t warns about, once per load (config_lint.c). */
static void log_cfg_warnings(const struct config *cfg)
{
	for (size_t i = 0; cfg->warnings && i < cfg->warnings->count; i++)
		log_warning("%s", cfg->warnings->msgs[i]);
}

static void apply_status_listen(struct vigild *d, const struct config *old)
{
	char err[256];
	const struct global_conf *g = &d->cfg->global;

	if (old && old->global.has_status_listen == g->has_status_listen &&
	    (!g->has_status_listen ||
	     (addr_equal_ip(&old->global.status_listen, &g->status_listen) &&
	      addr_port(&old->global.status_listen) == addr_port(&g->status_listen))))
		return;
	status_http_free(d->http);
	d->http = NULL;
	if (!g->has_status_listen)
		return;
	d->http = status_http_new(&d->ctl_dm, &g->status_listen, err, sizeof(err));
	if (!d->http)
		log_error("status_listen: %s", err);
}

/* The admin token of cfg (global.admin_token_file) as a digest: 0 with
 * *has set when there is one, or -1 with err. */
static int load_token(const struct config *cfg, uint8_t digest[32], bool *has, char *err,
		      size_t errlen)
{
	*has = false;
	if (!cfg->global.admin_token_file)
		return 0;
	if (http_token_load(cfg->global.admin_token_file, digest, err, errlen) < 0)
		return -1;
	*has = true;
	return 0;
}

/* The event of a reload, done or refused. */
static void reload_event(struct vigild *d, bool ok, const char *why)
{
	char text[EVENTS_TEXT_MAX];

	if (ok)
		snprintf(text, sizeof(text), "reload done: %zu services", d->cfg->nservices);
	else
		snprintf(text, sizeof(text), "reload refused: %s", why);
	events_add(d->events, wall_now(), EVENT_RELOAD, NULL, NULL, 0, text);
}

static void failover_sync_avail(struct vigild *d);

static int reload_config(struct vigild *d, struct buf *err)
{
	struct cfg_errors errs;
	struct config *cfg, *old = d->cfg;
	char why[512];
	char *text = NULL;
	size_t len = 0;
	uint8_t token[32];
	bool has_token;
	struct wire_notify wn;

	if (d->stopping) {
		log_warning("reload refused: vigild is stopping");
		if (err)
			buf_puts(err, "vigild is stopping\n");
		return -1;
	}
	log_notice("reloading %s", d->config_path);
	cfg = cfg_load_bytes(d->config_path, d->node, &errs, &text, &len);
	if (!cfg) {
		log_cfg_errors(&errs, err);
		cfg_errors_free(&errs);
		log_error("reload refused: %s is invalid, the running configuration stays",
			  d->config_path);
		d->reload_failures++;
		reload_event(d, false, "the configuration file is invalid");
		return -1;
	}
	cfg_errors_free(&errs);
	log_cfg_warnings(cfg);
	if (load_token(cfg, token, &has_token, why, sizeof(why)) < 0 ||
	    wire_notify_prepare(cfg, &wn, why, sizeof(why)) < 0) {
		log_error("reload refused: %s; the running configuration stays", why);
		if (err)
			buf_printf(err, "%s\n", why);
		cfg_free(cfg);
		free(text);
		d->reload_failures++;
		reload_event(d, false, why);
		return -1;
	}
	fit_maxconn(d, cfg);
	if (transparent_apply(d, cfg, why, sizeof(why)) < 0 ||
	    lb_apply(d->lb, cfg, why, sizeof(why)) < 0) {
		char again[512];

		log_error("reload refused: %s; the running configuration stays", why);
		if (err)
			buf_printf(err, "%s\n", why);
		if (transparent_apply(d, old, again, sizeof(again)) < 0)
			log_error("source: client: %s", again);
		wire_notify_discard(&wn);
		cfg_free(cfg);
		free(text);
		d->reload_failures++;
		reload_event(d, false, why);
		return -1;
	}
	d->cfg = cfg;
	vigild_sync_check_reload(old, cfg);
	wire_checks_sync(d->checker, d->lb);
	agents_sync(d->agents, d->lb);
	wire_notify_commit(d, &wn);
	if (d->fo && failover_apply(d->fo, cfg, why, sizeof(why)) < 0)
		log_error("failover: %s; its previous settings stay", why);
	else if (!d->fo && cfg->has_failover)
		log_warning("failover section added: takes effect at the next restart");
	failover_sync_avail(d);
	log_set_level((enum log_level)cfg->global.log_level);
	if (strcmp(old->global.control_socket, cfg->global.control_socket) != 0)
		log_warning("global.control_socket changed: takes effect at the next restart");
	apply_status_listen(d, old);
	status_http_set_token(d->http, has_token ? token : NULL);
	cfg_free(old);
	d->reloads++;
	log_notice("reload done: %zu services", cfg->nservices);
	vigild_sync_loaded(d, text, len);
	free(text);
	reload_event(d, true, NULL);
	return 0;
}

/* systemd hears RELOADING=1 before and READY=1 after (refused or not). */
int vigild_reload(struct vigild *d, struct buf *err)
{
	int rc;

	if (!d->stopping)
		sdnotify_reloading(d->sdn);
	rc = reload_config(d, err);
	if (!d->stopping)
		sdnotify_reloaded(d->sdn, rc == 0);
	return rc;
}

const char *vigild_failover_state(const struct vigild *d)
{
	return d->fo ? failover_state_str(d->fo) : "standalone";
}

int vigild_failover_priority(const struct vigild *d)
{
	return d->fo ? failover_priority(d->fo) : 0;
}

int vigild_standby(struct vigild *d, uint32_t group, char *err, size_t errlen)
{
	if (d->fo)
		return failover_standby(d->fo, group, err, errlen);
	snprintf(err, errlen, "no failover configured");
	return -1;
}

int vigild_takeover(struct vigild *d, uint32_t group, char *err, size_t errlen)
{
	if (d->fo)
		return failover_takeover(d->fo, group, err, errlen);
	snprintf(err, errlen, "no failover configured");
	return -1;
}

int vigild_resume(struct vigild *d, uint32_t group, char *err, size_t errlen)
{
	if (d->fo)
		return failover_resume(d->fo, group, err, errlen);
	snprintf(err, errlen, "no failover configured");
	return -1;
}

/* Every failover state change is notified (failover.notify), logged as an
 * event, and alerted (alerts). */
static void failover_changed_cb(const struct failover_change *c, void *arg)
{
	struct vigild *d = arg;
	char text[EVENTS_TEXT_MAX];

	snprintf(text, sizeof(text), "%s -> %s (%s)", c->old_state, c->new_state, c->reason);
	events_add(d->events, c->when, EVENT_FAILOVER, NULL, NULL, c->group, text);
	struct notify_event ev = { .node = c->node, .new_state = c->new_state,
				   .old_state = c->old_state, .reason = c->reason,
				   .when = c->when, .group = c->group };

	notify_send(d->notify, &ev);
	wire_alert_failover(d, c);
}

/* The checks tell failover (track.services) and the alerts when a
 * service's last backend goes down or its first comes back. */
static void failover_avail_cb(struct service *svc, bool available, void *arg)
{
	struct vigild *d = arg;

	wire_alert_service(d, svc, available);
	if (d->fo)
		failover_service_avail(d->fo, svc->name, available);
}

/* Failover let go of a VIP: the connections that came in on it are dead
 * (the clients' packets go to the peer now), so close them at once. */
static void vip_released_cb(const struct addr *ip, void *arg)
{
	struct vigild *d = arg;

	lb_close_vip(d->lb, ip, "this node no longer holds the VIP");
}

/* The start-up gate opened (failover.sync): the lb serves from now on. */
static void gate_opened_cb(const char *why, void *arg)
{
	struct vigild *d = arg;

	lb_hold(d->lb, false);
	events_add(d->events, wall_now(), EVENT_FAILOVER, NULL, NULL, 0, why);
}

/* Every backend state change goes into the event log (lb/ logged it), and
 * up <-> down into the alerts. */
static void backend_state_cb(struct service *svc, struct backend *b, enum backend_state old,
			     const char *reason, void *arg)
{
	struct vigild *d = arg;
	char text[EVENTS_TEXT_MAX];

	snprintf(text, sizeof(text), "%s -> %s (%s)", backend_state_str(old),
		 backend_state_str(b->state), reason);
	events_add(d->events, wall_now(), EVENT_BACKEND, svc->name, b->name, 0, text);
	wire_alert_backend(d, svc, b, old, reason);
}

/* ---- what ctl/ sees of the daemon ---- */

static void ctl_view_cb(void *arg, struct ctl_view *out)
{
	struct vigild *d = arg;

	*out = (struct ctl_view){
		.cfg = d->cfg, .lb = d->lb, .checker = d->checker, .fo = d->fo,
		.events = d->events, .ctl = d->ctl, .http = d->http, .started = d->started,
		.reloads = d->reloads, .reload_failures = d->reload_failures,
		.nofile = d->nofile, .sync = d->sync,
	};
	alerts_get_stats(d->alerts, &out->alerts);
	vigild_config_digest_hex(d, out->config_digest);
}

static int ctl_reload_cb(void *arg, struct buf *err)
{
	return vigild_reload(arg, err);
}

static int ctl_failover_cb(void *arg, enum ctl_op op, uint32_t group, char *err, size_t errlen)
{
	struct vigild *d = arg;

	if (op == CTL_STANDBY)
		return vigild_standby(d, group, err, errlen);
	if (op == CTL_RESUME)
		return vigild_resume(d, group, err, errlen);
	return vigild_takeover(d, group, err, errlen);
}

static int ctl_sync_cb(void *arg, char *err, size_t errlen)
{
	return vigild_sync_push(arg, err, errlen);
}

static int ctl_rollback_cb(void *arg, struct buf *err)
{
	return vigild_rollback(arg, err);
}

static void ctl_operator_cb(void *arg, enum ctl_op op, const char *svc, const char *be,
			    uint32_t weight)
{
	vigild_operator_changed(arg, op == CTL_ENABLE ? 0 : op == CTL_DRAIN ? 1 :
				op == CTL_DISABLE ? 2 : 3, svc, be, weight);
}

static void failover_sync_avail(struct vigild *d)
{
	for (size_t i = 0; d->fo && i < lb_nservices(d->lb); i++)
		failover_service_avail(d->fo, lb_service(d->lb, i)->name,
				       lb_service(d->lb, i)->available);
}

/* ---- signals and stopping ---- */

static uint32_t max_drain_ms(const struct config *cfg)
{
	uint32_t ms = 0;

	for (size_t i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].timeouts.drain_ms > ms)
			ms = cfg->services[i].timeouts.drain_ms;
	return ms;
}

static void drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct vigild *d = container_of(w, struct vigild, drain_timer);
	uint32_t left = lb_active(d->lb);

	if (left == 0) {
		log_notice("all connections finished, exiting");
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (ev_now(loop) >= d->drain_deadline) {
		log_notice("drain period over, closing %u connections", left);
		lb_close_all(d->lb, "drain period over");
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	ev_timer_again(loop, w);
}

void vigild_stop(struct vigild *d, const char *why)
{
	uint32_t drain = max_drain_ms(d->cfg);

	if (d->stopping)
		return;
	d->stopping = true;
	sdnotify_stopping(d->sdn);
	failover_shutdown(d->fo);
	log_notice("stopping (%s): no new connections, %u open ones get up to %.1f s",
		   why, lb_active(d->lb), drain / 1000.0);
	lb_stop_accepting(d->lb);
	d->drain_deadline = ev_now(d->loop) + drain / 1000.0;
	ev_timer_init(&d->drain_timer, drain_cb, 0., DRAIN_POLL);
	ev_timer_again(d->loop, &d->drain_timer);
	ev_feed_event(d->loop, &d->drain_timer, EV_TIMER);
}

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct vigild *d = w->data;

	if (w->signum == SIGHUP) {
		vigild_reload(d, NULL);
		return;
	}
	if (d->stopping && w->signum == SIGINT) {
		log_notice("second interrupt: closing every connection now");
		lb_close_all(d->lb, "interrupted");
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	vigild_stop(d, w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void signals_start(struct vigild *d)
{
	ev_signal *sigs[] = { &d->sig_hup, &d->sig_term, &d->sig_int };
	int nums[] = { SIGHUP, SIGTERM, SIGINT };

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		ev_signal_init(sigs[i], sig_cb, nums[i]);
		sigs[i]->data = d;
		ev_signal_start(d->loop, sigs[i]);
	}
}

/* ---- start-up and teardown ---- */

int vigild_start(struct vigild *d, struct config *cfg, const char *path)
{
	char err[512];
	uint8_t token[32];
	bool has_token;
	struct wire_notify wn;

	d->loop = ev_default_loop(EVFLAG_AUTO);
	d->events = events_new();
	d->ctl_dm = (struct ctl_daemon){
		.loop = d->loop, .arg = d, .view = ctl_view_cb, .reload = ctl_reload_cb,
		.failover = ctl_failover_cb, .sync_push = ctl_sync_cb, .rollback = ctl_rollback_cb,
		.operator_changed = ctl_operator_cb,
	};
	d->config_path = xstrdup(path);
	d->cfg = cfg;
	d->started = wall_now();
	log_set_level((enum log_level)cfg->global.log_level);
	log_cfg_warnings(cfg);
	raise_nofile();
	fit_maxconn(d, cfg);
	if (transparent_start(d, cfg) < 0)
		return -1;
	if (load_token(cfg, token, &has_token, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	d->notify = notify_new(d->loop, "failover: notify");
	d->alerts = alerts_new(d->loop);
	if (wire_notify_prepare(cfg, &wn, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	wire_notify_commit(d, &wn);
	d->lb = lb_new(d->loop);
	if (lb_apply(d->lb, cfg, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	d->checker = wire_checker_new(d->loop);
	wire_checks_sync(d->checker, d->lb);
	d->agents = agents_new(d->loop);
	agents_sync(d->agents, d->lb);
	lb_set_state_hook(d->lb, backend_state_cb, d);
	d->ctl = ctl_server_new(&d->ctl_dm, cfg->global.control_socket, err, sizeof(err));
	if (!d->ctl) {
		log_error("control socket: %s", err);
		return -1;
	}
	apply_status_listen(d, NULL);
	if (cfg->global.has_status_listen && !d->http)
		return -1;
	status_http_set_token(d->http, has_token ? token : NULL);
	lb_set_avail_hook(d->lb, failover_avail_cb, d);
	if (cfg->has_failover) {
		struct failover_hooks hooks = {
			.changed = failover_changed_cb, .released = vip_released_cb,
			.gate_opened = gate_opened_cb, .arg = d,
		};

		d->fo = failover_new(d->loop, cfg, &hooks, err, sizeof(err));
		if (!d->fo) {
			log_error("failover: %s", err);
			return -1;
		}
		failover_sync_avail(d);
		/* nothing served with operator state the peer has not told yet */
		if (failover_waiting(d->fo))
			lb_hold(d->lb, true);
	}
	if (vigild_sync_start(d, err, sizeof(err)) < 0) {
		log_error("failover.sync: %s", err);
		return -1;
	}
	if (cfg->global.user) {
		if (privs_drop(cfg->global.user, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return -1;
		}
		log_notice("running as user %s with cap_net_admin, cap_net_raw, "
			   "cap_net_bind_service", cfg->global.user);
	}
	if (lb_start_workers(d->lb, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	signals_start(d);
	log_notice("vigil %s started: %zu services, config %s", VIGIL_VERSION,
		   cfg->nservices, path);
	d->sdn = sdnotify_new(d);
	return 0;
}

void vigild_cleanup(struct vigild *d)
{
	if (d->loop) {
		ev_signal_stop(d->loop, &d->sig_hup);
		ev_signal_stop(d->loop, &d->sig_term);
		ev_signal_stop(d->loop, &d->sig_int);
		ev_timer_stop(d->loop, &d->drain_timer);
	}
	sync_free(d->sync);
	d->sync = NULL;
	sdnotify_free(d->sdn);
	failover_free(d->fo);
	alerts_free(d->alerts);
	notify_free(d->notify);
	status_http_free(d->http);
	ctl_server_free(d->ctl);
	checker_free(d->checker);
	agents_free(d->agents);
	lb_free(d->lb);
	transparent_stop(d);
	events_free(d->events);
	cfg_free(d->cfg);
	free(d->config_path);
	if (d->loop)
		ev_loop_destroy(d->loop);
	memset(d, 0, sizeof(*d));
}
