/* config_load.c - the schema: which keys each map holds, their defaults, and
 * the walk from the node tree into a struct config.
 *
 * defaults: is read first into a template service; every service starts as a
 * copy of it, so a service's key overrides only that key.
 */
#include "config/cfg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define CFG_MAX_FILE (16u << 20)

#define DUR(k, st, m, mn, w) { .key = k, .fn = cfg_fld_duration, .off = offsetof(st, m), \
			       .min = mn, .what = w }
#define U32(k, st, m, lo, hi, w) { .key = k, .fn = cfg_fld_u32, .off = offsetof(st, m), \
				   .min = lo, .max = hi, .what = w }
#define STR(k, st, m, w) { .key = k, .fn = cfg_fld_str, .off = offsetof(st, m), .what = w }
#define BOOL(k, st, m) { .key = k, .fn = cfg_fld_bool, .off = offsetof(st, m), \
			 .what = "true or false" }
#define PORT(k, st, m) { .key = k, .fn = cfg_fld_port, .off = offsetof(st, m), \
			 .what = "a port 1..65535" }
#define ENUM(k, st, m, nm, w) { .key = k, .fn = cfg_fld_enum, .off = offsetof(st, m), \
				.names = nm, .what = w }

static void fld_http_path(struct cfg_ctx *c, const struct ynode *v, const char *path,
			  const struct cfg_field *f, void *dst)
{
	if (v->kind == YNODE_SCALAR && !ynode_is_null(v) && v->text[0] != '/') {
		errlist_at(c->el, v, path, "\"%s\" does not start with / (expected %s)",
			   v->text, f->what);
		return;
	}
	cfg_fld_str(c, v, path, f, dst);
}

/* check.ports: service ports, each once (that they are the service's is
 * checked with the service, cfg_check_service()). */
static void fld_gate_ports(struct cfg_ctx *c, const struct ynode *v, const char *path,
			   const struct cfg_field *f, void *dst)
{
	struct check_conf *ck = dst;     /* .off 0: the whole check */
	char ipath[256];
	uint8_t *seen;

	if (!cfg_want_list(c, v, path, f->what))
		return;
	free(ck->gate_ports);
	ck->gate_ports = xcalloc(v->n, sizeof(*ck->gate_ports));
	ck->ngate_ports = 0;
	seen = xcalloc(65536 / 8, 1);           /* one bit per port: linear in the list */
	for (size_t i = 0; i < v->n; i++) {
		long long port;

		cfg_path_idx(ipath, sizeof(ipath), path, i);
		if (cfg_scalar_int(c, v->kids[i], ipath, 1, 65535, "a port 1..65535", &port) < 0)
			continue;
		if (seen[port / 8] & (1u << (port % 8))) {
			errlist_at(c->el, v->kids[i], ipath, "duplicate port %lld (expected each "
				   "port once)", port);
			continue;
		}
		seen[port / 8] |= (uint8_t)(1u << (port % 8));
		ck->gate_ports[ck->ngate_ports++] = (uint16_t)port;
	}
	free(seen);
}

static const struct cfg_field check_fields[] = {
	ENUM("type", struct check_conf, type, cfg_check_type_names, "check type"),
	DUR("interval", struct check_conf, interval_ms, 10,
	    "a duration of at least 10ms, e.g. 2s"),
	DUR("timeout", struct check_conf, timeout_ms, 1, "a duration above 0, e.g. 1s"),
	U32("rise", struct check_conf, rise, 1, 1000, "an integer 1..1000"),
	U32("fall", struct check_conf, fall, 1, 1000, "an integer 1..1000"),
	PORT("port", struct check_conf, port),
	{ .key = "path", .fn = fld_http_path, .off = offsetof(struct check_conf, path),
	  .what = "an HTTP path starting with /" },
	STR("host", struct check_conf, host, "a host name"),
	{ .key = "expect_status", .fn = cfg_fld_int,
	  .off = offsetof(struct check_conf, expect_status), .min = 100, .max = 599,
	  .what = "an HTTP status 100..599" },
	STR("expect_body", struct check_conf, expect_body, "a text the body must contain"),
	STR("ehlo", struct check_conf, ehlo, "a host name to send in EHLO"),
	BOOL("starttls", struct check_conf, starttls),
	BOOL("verify", struct check_conf, verify),
	STR("ca_file", struct check_conf, ca_file, "a file of CA certificates"),
	ENUM("on_down", struct check_conf, on_down, cfg_on_down_names, "on_down action"),
	STR("send", struct check_conf, send, "a line to send first"),
	STR("expect", struct check_conf, expect,
	    "a prefix of the first line, or a /regular expression/"),
	STR("quit", struct check_conf, quit, "a line to send before closing"),
	BOOL("tls", struct check_conf, tls),
	{ .key = "ports", .fn = fld_gate_ports,
	  .what = "a list of the service's ports this check gates, e.g. [444]" },
	{ 0 },
};

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Bytes a copy of ck duplicates. */
static size_t check_size(const struct check_conf *ck)
{
	return str_size(ck->path) + str_size(ck->host) + str_size(ck->expect_body) +
	       str_size(ck->ehlo) + str_size(ck->ca_file) + str_size(ck->send) +
	       str_size(ck->expect) + str_size(ck->quit) +
	       ck->ngate_ports * sizeof(*ck->gate_ports);
}

/* dst = a copy of src, within the load's CFG_MAX_INHERITED: past it, one
 * error (at node at, path) and copies without their strings (the load fails). */
static void check_inherit(struct cfg_ctx *c, const struct ynode *at, const char *path,
			  struct check_conf *dst, const struct check_conf *src)
{
	size_t size = check_size(src);
	struct check_conf bare;

	if (c->inherited <= CFG_MAX_INHERITED && size <= CFG_MAX_INHERITED - c->inherited) {
		c->inherited += size;
		cfg_check_copy(dst, src);
		return;
	}
	if (c->inherited <= CFG_MAX_INHERITED) {
		c->inherited = CFG_MAX_INHERITED + 1;      /* report once */
		errlist_at(c->el, at, path, "the inherited check settings add up to more than "
			   "%u MiB (expected shorter check strings, or fewer services and checks "
			   "that inherit them)", CFG_MAX_INHERITED >> 20);
	}
	bare = *src;
	bare.path = bare.host = bare.expect_body = bare.ehlo = bare.ca_file = NULL;
	bare.send = bare.expect = bare.quit = NULL;
	bare.ngate_ports = 0;
	cfg_check_copy(dst, &bare);
}

/* The check strings checks/ will copy for the backends of s, within the
 * load's CFG_MAX_PROBE_COPIES: past it, one error (at node at, path). */
static void probe_copies(struct cfg_ctx *c, const struct ynode *at, const char *path,
			 const struct service_conf *s)
{
	size_t per = s->nchecks ? 0 : check_size(&s->check);

	for (size_t i = 0; i < s->nchecks; i++)
		per += check_size(&s->checks[i]);
	if (c->probe_copies > CFG_MAX_PROBE_COPIES)
		return;                               /* reported */
	if (!s->nbackends || per <= (CFG_MAX_PROBE_COPIES - c->probe_copies) / s->nbackends) {
		c->probe_copies += per * s->nbackends;
		return;
	}
	c->probe_copies = CFG_MAX_PROBE_COPIES + 1;
	errlist_at(c->el, at, path, "the checks of all backends add up to more than %u MiB of "
		   "check settings, each backend's probe having its own copy (expected shorter "
		   "check strings, or fewer backends)", CFG_MAX_PROBE_COPIES >> 20);
}

/* check: one map, or a list of maps each starting from the inherited check. */
static void fld_check(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst)
{
	struct service_conf *s = dst;
	char ipath[256];

	if (v->kind != YNODE_SEQ) {
		cfg_walk_map(c, v, path, check_fields, &s->check);
		return;
	}
	if (v->n == 0) {
		errlist_at(c->el, v, path, "empty list (expected %s)", f->what);
		return;
	}
	s->checks = xcalloc(v->n, sizeof(*s->checks));
	s->nchecks = v->n;
	for (size_t i = 0; i < v->n; i++) {
		cfg_path_idx(ipath, sizeof(ipath), path, i);
		check_inherit(c, v->kids[i], ipath, &s->checks[i], &s->check);
		cfg_walk_map(c, v->kids[i], ipath, check_fields, &s->checks[i]);
	}
}

/* TCP_KEEPIDLE counts whole seconds, up to 32767. */
#define KEEPALIVE_MAX_MS (9u * 3600u * 1000u)
#define KEEPALIVE_WHAT "0 for off, or whole seconds from 1s to 9h, e.g. 60s"

static void fld_keepalive(struct cfg_ctx *c, const struct ynode *v, const char *path,
			  const struct cfg_field *f, void *dst)
{
	uint32_t before = *(uint32_t *)dst, ms;

	cfg_fld_duration(c, v, path, f, dst);
	ms = *(uint32_t *)dst;
	if (ms % 1000 == 0)
		return;
	errlist_at(c->el, v, path, "%s is not a whole number of seconds (expected %s)",
		   v->text, f->what);
	*(uint32_t *)dst = before;
}

#define IDLE_WHAT "a duration above 0, e.g. 30m"
static const struct cfg_field timeouts_fields[] = {
	DUR("connect", struct timeouts_conf, connect_ms, 1, "a duration above 0, e.g. 5s"),
	DUR("client_idle", struct timeouts_conf, client_idle_ms, 1, IDLE_WHAT),
	DUR("server_idle", struct timeouts_conf, server_idle_ms, 1, IDLE_WHAT),
	DUR("drain", struct timeouts_conf, drain_ms, 0, "a duration, e.g. 60s"),
	{ .key = "keepalive", .fn = fld_keepalive, .off = offsetof(struct timeouts_conf, keepalive_ms),
	  .min = 0, .max = KEEPALIVE_MAX_MS, .what = KEEPALIVE_WHAT },
	{ 0 },
};

#define SEND_PROXY_WHAT "PROXY protocol version"

/* A backend's own send_proxy: (dst: the backend), overriding the service's. */
static void fld_backend_send_proxy(struct cfg_ctx *c, const struct ynode *v, const char *path,
				   const struct cfg_field *f, void *dst)
{
	struct backend_conf *b = dst;

	cfg_fld_enum(c, v, path, f, &b->send_proxy);
	b->send_proxy_set = true;
}

static const struct cfg_field agent_fields[] = {
	{ .key = "port", .fn = cfg_fld_port, .off = offsetof(struct backend_conf, agent_port),
	  .required = true, .what = "a port 1..65535" },
	DUR("interval", struct backend_conf, agent_interval_ms, 100,
	    "a duration of at least 100ms, e.g. 2s"),
	{ 0 },
};

/* agent: {port, interval} (dst: the backend). */
static void fld_agent(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst)
{
	struct backend_conf *b = dst;

	b->has_agent = true;
	b->agent_interval_ms = 2000;
	if (v->kind != YNODE_MAP) {
		errlist_at(c->el, v, path, "wrong type: %s (expected %s)", ynode_kind_name(v),
			   f->what);
		return;
	}
	cfg_walk_map(c, v, path, agent_fields, b);
}

static const struct cfg_field backend_fields[] = {
	{ .key = "name", .fn = cfg_fld_name, .off = offsetof(struct backend_conf, name),
	  .required = true, .what = "a backend name" },
	{ .key = "address", .fn = cfg_fld_ip, .off = offsetof(struct backend_conf, addr),
	  .required = true, .what = "an IP address, e.g. 198.51.100.11" },
	PORT("port", struct backend_conf, port),
	U32("weight", struct backend_conf, weight, 0, 256, "an integer 0..256"),
	U32("maxconn", struct backend_conf, maxconn, 0, UINT32_MAX,
	    "an integer 0..4294967295, 0 for unlimited"),
	BOOL("backup", struct backend_conf, backup),
	{ .key = "send_proxy", .fn = fld_backend_send_proxy, .names = cfg_send_proxy_names,
	  .what = SEND_PROXY_WHAT },
	{ .key = "agent", .fn = fld_agent, .what = "a map {port, interval}" },
	{ 0 },
};

/* "IP" or "IP/PREFIX" into vip and vip_prefix (dst: the service). */
static void fld_vip(struct cfg_ctx *c, const struct ynode *v, const char *path,
		    const struct cfg_field *f, void *dst)
{
	struct service_conf *s = dst;
	struct ynode ip = *v;
	char *slash, *buf;
	long long prefix = -1;
	int max;

	if (!cfg_want_scalar(c, v, path, f->what))
		return;
	buf = xstrdup(v->text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	ip.text = buf;
	if (cfg_scalar_ip(c, &ip, path, f->what, &s->vip) == 0 && slash) {
		char *end;

		max = addr_family(&s->vip) == AF_INET ? 32 : 128;
		errno = 0;
		prefix = strtoll(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end || errno || prefix < 1 ||
		    prefix > max) {
			errlist_at(c->el, v, path, "prefix /%s is out of range (expected 1..%d "
				   "for an IPv%d address)", slash + 1, max, max == 32 ? 4 : 6);
			prefix = -1;
		}
	}
	if (addr_family(&s->vip))
		s->vip_prefix = prefix >= 0 ? (int)prefix :
				addr_family(&s->vip) == AF_INET ? 32 : 128;
	free(buf);
}

void cfg_fld_prefix_ip(struct cfg_ctx *c, const struct ynode *v, const char *path,
		       const struct cfg_field *f, void *dst)
{
	struct fo_address_conf *a = dst;
	struct service_conf s = { 0 };

	fld_vip(c, v, path, f, &s);
	a->address = s.vip;
	a->prefix = s.vip_prefix;
}

static void fld_ports(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst)
{
	struct service_conf *s = dst;
	char ipath[256];
	uint8_t *seen;

	if (!cfg_want_list(c, v, path, f->what))
		return;
	free(s->ports);
	s->ports = xcalloc(v->n, sizeof(*s->ports));
	s->nports = 0;
	seen = xcalloc(65536 / 8, 1);           /* one bit per port: linear in the list */
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *item = v->kids[i];
		long long port;

		cfg_path_idx(ipath, sizeof(ipath), path, i);
		if (cfg_scalar_int(c, item, ipath, 1, 65535, "a port 1..65535", &port) < 0)
			continue;
		if (seen[port / 8] & (1u << (port % 8))) {
			errlist_at(c->el, item, ipath, "duplicate port %lld (expected each port "
				   "once)", port);
			continue;
		}
		seen[port / 8] |= (uint8_t)(1u << (port % 8));
		s->ports[s->nports++] = (uint16_t)port;
	}
	free(seen);
}

static void fld_backends(struct cfg_ctx *c, const struct ynode *v, const char *path,
			 const struct cfg_field *f, void *dst)
{
	struct service_conf *s = dst;
	char ipath[256];

	if (!cfg_want_list(c, v, path, f->what))
		return;
	s->backends = xcalloc(v->n, sizeof(*s->backends));
	s->nbackends = v->n;
	for (size_t i = 0; i < v->n; i++) {
		s->backends[i].weight = 1;
		cfg_path_idx(ipath, sizeof(ipath), path, i);
		cfg_walk_map(c, v->kids[i], ipath, backend_fields, &s->backends[i]);
	}
}

static void fld_source(struct cfg_ctx *c, const struct ynode *v, const char *path,
		       const struct cfg_field *f, void *dst)
{
	struct service_conf *s = dst;

	s->has_source = s->source_client = false;
	if (v->kind == YNODE_SCALAR && strcmp(v->text, "client") == 0)
		s->source_client = true;
	else if (cfg_scalar_ip(c, v, path, f->what, &s->source) == 0)
		s->has_source = true;
}

static void fld_sync_listen(struct cfg_ctx *c, const struct ynode *v, const char *path,
			    const struct cfg_field *f, void *dst)
{
	struct failover_conf *fo = dst;

	if (cfg_scalar_ip(c, v, path, f->what, &fo->sync_listen) == 0)
		fo->has_sync_listen = true;
}

static void fld_source_mask(struct cfg_ctx *c, const struct ynode *v, const char *path,
			    const struct cfg_field *f, void *dst)
{
	long long n;

	if (cfg_scalar_int(c, v, path, 0, 128, f->what, &n) == 0)
		*(int *)dst = (int)n;
}

#define SVC_ON_DOWN ENUM("on_down", struct service_conf, check.on_down, cfg_on_down_names, \
			 "on_down action")
#define SVC_CHECK { .key = "check", .fn = cfg_fld_map, .off = offsetof(struct service_conf, \
		    check), .sub = check_fields, .what = "a map of check settings" }
#define SVC_TIMEOUTS { .key = "timeouts", .fn = cfg_fld_map, \
		       .off = offsetof(struct service_conf, timeouts), .sub = timeouts_fields, \
		       .what = "a map of timeouts" }
#define SVC_SCHED ENUM("scheduler", struct service_conf, scheduler, cfg_sched_names, \
		       "scheduler")
#define SVC_MAXCONN U32("maxconn", struct service_conf, maxconn, 0, UINT32_MAX, \
			"an integer 0..4294967295, 0 for unlimited")
#define SVC_BACKLOG U32("backlog", struct service_conf, backlog, 1, 65535, \
			"an integer 1..65535")

static const struct cfg_field service_fields[] = {
	{ .key = "name", .fn = cfg_fld_name, .off = offsetof(struct service_conf, name),
	  .required = true, .what = "a service name" },
	{ .key = "vip", .fn = fld_vip, .required = true,
	  .what = "an IP address with an optional /prefix, e.g. 192.0.2.10" },
	{ .key = "ports", .fn = fld_ports, .required = true,
	  .what = "a list of ports, e.g. [25, 587]" },
	SVC_SCHED,
	{ .key = "source_mask", .fn = fld_source_mask,
	  .off = offsetof(struct service_conf, source_mask),
	  .what = "a prefix length 0..32 (IPv4) or 0..128 (IPv6)" },
	DUR("persist", struct service_conf, persist_ms, 0, "a duration, e.g. 30m (0: off)"),
	SVC_MAXCONN,
	SVC_BACKLOG,
	{ .key = "source", .fn = fld_source,
	  .what = "an IP address, e.g. 198.51.100.1, or client" },
	ENUM("send_proxy", struct service_conf, send_proxy, cfg_send_proxy_names, SEND_PROXY_WHAT),
	SVC_ON_DOWN,
	SVC_TIMEOUTS,
	{ .key = "check", .fn = fld_check, .what = "a map of check settings, or a list of them" },
	{ .key = "backends", .fn = fld_backends, .required = true,
	  .what = "a list of backends, e.g. [{name: a, address: 198.51.100.11}]" },
	{ 0 },
};

static const struct cfg_field defaults_fields[] = {
	SVC_SCHED, SVC_MAXCONN, SVC_BACKLOG, SVC_ON_DOWN, SVC_TIMEOUTS, SVC_CHECK,
	{ 0 },
};

static void fld_status_listen(struct cfg_ctx *c, const struct ynode *v, const char *path,
			      const struct cfg_field *f, void *dst)
{
	struct global_conf *g = dst;

	g->has_status_listen = false;
	cfg_fld_hostport(c, v, path, f, &g->status_listen);
	g->has_status_listen = addr_family(&g->status_listen) != 0;
}

/* workers: auto (0: the CPUs this process may run on) or 1..CFG_WORKERS_MAX. */
static void fld_workers(struct cfg_ctx *c, const struct ynode *v, const char *path,
			const struct cfg_field *f, void *dst)
{
	long long n;

	if (!cfg_want_scalar(c, v, path, f->what))
		return;
	if (strcmp(v->text, "auto") == 0) {
		*(uint32_t *)dst = 0;
		return;
	}
	if (cfg_scalar_int(c, v, path, 1, CFG_WORKERS_MAX, f->what, &n) == 0)
		*(uint32_t *)dst = (uint32_t)n;
}

static const struct cfg_field global_fields[] = {
	STR("user", struct global_conf, user, "a user name"),
	{ .key = "control_socket", .fn = cfg_fld_str, .max = 107,
	  .off = offsetof(struct global_conf, control_socket), .what = "a socket path" },
	{ .key = "status_listen", .fn = fld_status_listen,
	  .what = "IP:PORT, e.g. 127.0.0.1:8404 or [::1]:8404" },
	ENUM("log_level", struct global_conf, log_level, cfg_log_level_names, "log level"),
	U32("maxconn", struct global_conf, maxconn, 1, UINT32_MAX,
	    "an integer 1..4294967295"),
	STR("admin_token_file", struct global_conf, admin_token_file, "a file path"),
	{ .key = "workers", .fn = fld_workers, .off = offsetof(struct global_conf, workers),
	  .what = "auto or an integer 1..64" },
	{ 0 },
};

static int peer_cmp(size_t a, size_t b, void *arg)
{
	const struct addr *pa = arg;
	size_t al, bl;
	const uint8_t *ab = addr_bytes(&pa[a], &al), *bb = addr_bytes(&pa[b], &bl);

	if (al != bl)
		return al < bl ? -1 : 1;
	return memcmp(ab, bb, al);
}

static void fld_peers(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst)
{
	struct failover_conf *fo = dst;
	char ipath[256];
	size_t *first, *item, n = 0;

	if (!cfg_want_seq(c, v, path, f->what) || v->kind != YNODE_SEQ)
		return;
	free(fo->peers);
	fo->peers = xcalloc(v->n ? v->n : 1, sizeof(*fo->peers));
	fo->npeers = 0;
	item = xcalloc(v->n ? v->n : 1, sizeof(*item));   /* list index of each address */
	for (size_t i = 0; i < v->n; i++) {
		cfg_path_idx(ipath, sizeof(ipath), path, i);
		if (cfg_scalar_ip(c, v->kids[i], ipath, "an IP address", &fo->peers[n]) == 0)
			item[n++] = i;
	}
	first = xcalloc(n ? n : 1, sizeof(*first));
	cfg_first_equal(n, peer_cmp, fo->peers, first);
	for (size_t k = 0; k < n; k++) {
		if (first[k] < k) {
			cfg_path_idx(ipath, sizeof(ipath), path, item[k]);
			errlist_at(c->el, v->kids[item[k]], ipath, "duplicate peer %s (expected "
				   "each peer once)", v->kids[item[k]]->text);
			continue;
		}
		fo->peers[fo->npeers++] = fo->peers[k];
	}
	free(first);
	free(item);
}

static void fld_email(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst)
{
	struct failover_conf *fo = dst;

	fo->has_email = true;
	cfg_email_walk(c, v, path, &fo->email);
}

static const struct cfg_field garp_fields[] = {
	U32("count", struct failover_conf, garp_count, 0, 100, "an integer 0..100"),
	DUR("interval", struct failover_conf, garp_interval_ms, 1,
	    "a duration above 0, e.g. 200ms"),
	DUR("refresh", struct failover_conf, garp_refresh_ms, 0,
	    "a duration, e.g. 60s (0: off)"),
	{ 0 },
};

static const struct cfg_field track_fields[] = {
	BOOL("services", struct failover_conf, track_services),
	U32("weight", struct failover_conf, track_weight, 0, 254, "an integer 0..254"),
	{ 0 },
};

static const struct cfg_field notify_fields[] = {
	STR("exec", struct failover_conf, notify_exec, "a program path"),
	{ .key = "email", .fn = fld_email,
	  .what = "a map with smtp, from, to, username, password_file, tls" },
	{ 0 },
};

#define FO_MAP(k, sb, w) { .key = k, .fn = cfg_fld_map, .sub = sb, .what = w }
static const struct cfg_field failover_fields[] = {
	{ .key = "node", .fn = cfg_fld_name, .off = offsetof(struct failover_conf, node),
	  .what = "a node name" },
	{ .key = "group", .fn = cfg_fld_u32, .off = offsetof(struct failover_conf, group),
	  .min = 1, .max = 255, .what = "an integer 1..255" },
	U32("priority", struct failover_conf, priority, 1, 254, "an integer 1..254"),
	{ .key = "interface", .fn = cfg_fld_str, .max = 15, .required = true,
	  .off = offsetof(struct failover_conf, interface), .what = "an interface name" },
	{ .key = "peers", .fn = fld_peers, .what = "a list of IP addresses" },
	PORT("port", struct failover_conf, port),
	DUR("advert_interval", struct failover_conf, advert_interval_ms, 10,
	    "a duration of at least 10ms, e.g. 100ms"),
	BOOL("preempt", struct failover_conf, preempt),
	DUR("preempt_delay", struct failover_conf, preempt_delay_ms, 0, "a duration, e.g. 30s"),
	{ .key = "auth_key_file", .fn = cfg_fld_str, .required = true,
	  .off = offsetof(struct failover_conf, auth_key_file), .what = "a file path" },
	FO_MAP("garp", garp_fields, "a map with count, interval, refresh"),
	FO_MAP("track", track_fields, "a map with services, weight"),
	FO_MAP("notify", notify_fields, "a map with exec, email"),
	BOOL("sync", struct failover_conf, sync),
	PORT("sync_port", struct failover_conf, sync_port),
	{ .key = "sync_listen", .fn = fld_sync_listen,
	  .what = "an IP address of this node, e.g. 192.0.2.11" },
	{ .key = "nodes", .fn = cfg_fld_ignore },       /* cfg_failover.c */
	{ .key = "groups", .fn = cfg_fld_ignore },
	{ .key = "addresses", .fn = cfg_fld_ignore },
	{ 0 },
};

void cfg_service_builtin(struct service_conf *s)
{
	memset(s, 0, sizeof(*s));
	s->scheduler = SCHED_ROUNDROBIN;
	s->source_mask = -1;
	s->backlog = 1024;
	s->timeouts = (struct timeouts_conf){
		.connect_ms = 5000, .client_idle_ms = 30 * 60000,
		.server_idle_ms = 30 * 60000, .drain_ms = 60000, .keepalive_ms = 60000,
	};
	s->check = (struct check_conf){
		.type = CHECK_TCP, .interval_ms = 2000, .timeout_ms = 1000, .rise = 2,
		.fall = 3, .expect_status = 200, .on_down = ON_DOWN_KEEP,
	};
}

static char *strdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void cfg_check_copy(struct check_conf *dst, const struct check_conf *src)
{
	*dst = *src;
	dst->path = strdup_or_null(src->path);
	dst->host = strdup_or_null(src->host);
	dst->expect_body = strdup_or_null(src->expect_body);
	dst->ehlo = strdup_or_null(src->ehlo);
	dst->ca_file = strdup_or_null(src->ca_file);
	dst->send = strdup_or_null(src->send);
	dst->expect = strdup_or_null(src->expect);
	dst->quit = strdup_or_null(src->quit);
	dst->expect_re = cfg_regex_ref(src->expect_re);
	dst->gate_ports = NULL;
	if (src->ngate_ports) {
		dst->gate_ports = xcalloc(src->ngate_ports, sizeof(*dst->gate_ports));
		memcpy(dst->gate_ports, src->gate_ports, src->ngate_ports * sizeof(*dst->gate_ports));
	}
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool cfg_check_equal(const struct check_conf *a, const struct check_conf *b)
{
	return a->type == b->type && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->rise == b->rise && a->fall == b->fall &&
	       a->port == b->port && str_eq(a->path, b->path) && str_eq(a->host, b->host) &&
	       a->expect_status == b->expect_status && str_eq(a->expect_body, b->expect_body) &&
	       str_eq(a->ehlo, b->ehlo) && a->starttls == b->starttls &&
	       a->verify == b->verify && str_eq(a->ca_file, b->ca_file) &&
	       a->on_down == b->on_down && str_eq(a->send, b->send) &&
	       str_eq(a->expect, b->expect) && str_eq(a->quit, b->quit) && a->tls == b->tls &&
	       a->ngate_ports == b->ngate_ports &&
	       (!a->ngate_ports || memcmp(a->gate_ports, b->gate_ports,
					  a->ngate_ports * sizeof(*a->gate_ports)) == 0);
}

void cfg_check_clear(struct check_conf *c)
{
	free(c->path);
	free(c->host);
	free(c->expect_body);
	free(c->ehlo);
	free(c->ca_file);
	free(c->send);
	free(c->expect);
	free(c->quit);
	cfg_regex_unref(c->expect_re);
	free(c->gate_ports);
	c->path = c->host = c->expect_body = c->ehlo = c->ca_file = NULL;
	c->send = c->expect = c->quit = NULL;
	c->expect_re = NULL;
	c->gate_ports = NULL;
	c->ngate_ports = 0;
}

void cfg_service_clear(struct service_conf *s)
{
	free(s->name);
	free(s->ports);
	cfg_check_clear(&s->check);
	for (size_t i = 0; i < s->nchecks; i++)
		cfg_check_clear(&s->checks[i]);
	free(s->checks);
	for (size_t i = 0; i < s->nbackends; i++)
		free(s->backends[i].name);
	free(s->backends);
	memset(s, 0, sizeof(*s));
}

/* Backends without a send_proxy: of their own take the service's. */
static void inherit_send_proxy(struct service_conf *s)
{
	for (size_t i = 0; i < s->nbackends; i++)
		if (!s->backends[i].send_proxy_set)
			s->backends[i].send_proxy = s->send_proxy;
}

/* services: each a copy of the defaults template, then its own keys. */
static void load_services(struct cfg_ctx *c, const struct ynode *v, struct config *cfg,
			  const struct service_conf *tmpl)
{
	char ipath[64];

	if (!cfg_want_seq(c, v, "services", "a list of services") || v->kind != YNODE_SEQ)
		return;
	cfg->services = xcalloc(v->n ? v->n : 1, sizeof(*cfg->services));
	cfg->nservices = v->n;
	for (size_t i = 0; i < v->n; i++) {
		struct service_conf *s = &cfg->services[i];

		*s = *tmpl;
		cfg_path_idx(ipath, sizeof(ipath), "services", i);
		check_inherit(c, v->kids[i], ipath, &s->check, &tmpl->check);
		cfg_walk_map(c, v->kids[i], ipath, service_fields, s);
		inherit_send_proxy(s);
		cfg_check_service(c, v->kids[i], ipath, s);
		probe_copies(c, v->kids[i], ipath, s);
	}
}

static void failover_builtin(struct failover_conf *fo)
{
	memset(fo, 0, sizeof(*fo));
	fo->priority = 100;
	fo->port = 7788;
	fo->advert_interval_ms = 100;
	fo->preempt = true;
	fo->garp_count = 5;
	fo->garp_interval_ms = 200;
	fo->track_weight = 50;
	fo->sync_port = 7789;
}

static void load_failover(struct cfg_ctx *c, const struct ynode *v, struct config *cfg)
{
	char host[256];

	cfg->has_failover = true;
	cfg_walk_map(c, v, "failover", failover_fields, &cfg->failover);
	if (c->node) {
		free(cfg->failover.node);
		cfg->failover.node = xstrdup(c->node);
	}
	if (!cfg->failover.node) {
		if (gethostname(host, sizeof(host)) < 0 || !host[0])
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		cfg->failover.node = xstrdup(host);
	}
	if (v->kind == YNODE_MAP)
		cfg_failover_pair(c, v, cfg);         /* resolves this node's peers from nodes */
	if (cfg->failover.sync) {
		size_t npeers;

		cfg_peer_addrs(cfg, &npeers);
		if (npeers == 0)
			errlist_at(c->el, ymap_get(v, "sync"), "failover.sync",
				   "needs the peers' addresses (failover.peers or failover.nodes)");
	}
}

const struct addr *cfg_peer_addrs(const struct config *cfg, size_t *n)
{
	*n = cfg->failover.npeers;
	return cfg->failover.peers;
}

static const struct cfg_field root_fields[] = {
	{ .key = "global", .fn = cfg_fld_map, .off = offsetof(struct config, global),
	  .sub = global_fields, .what = "a map of global settings" },
	{ .key = "defaults", .fn = cfg_fld_ignore },
	{ .key = "services", .fn = cfg_fld_ignore },
	{ .key = "failover", .fn = cfg_fld_ignore },
	{ .key = "alerts", .fn = cfg_fld_ignore },       /* cfg_mail.c */
	{ 0 },
};

static struct config *config_new(const char *name)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	cfg->path = xstrdup(name);
	cfg->global.control_socket = xstrdup("/run/vigil/control.sock");
	cfg->global.log_level = LOG_LVL_INFO;
	cfg->global.maxconn = 100000;
	failover_builtin(&cfg->failover);
	cfg_alerts_builtin(&cfg->alerts);
	return cfg;
}

/* defaults.check.ports is refused (cfg_check_defaults); its ports are not
 * copied into every service: that would cost services x ports. */
static void drop_gate_ports(struct check_conf *ck)
{
	free(ck->gate_ports);
	ck->gate_ports = NULL;
	ck->ngate_ports = 0;
}

/* The whole document: global, then defaults, services and failover. */
static void load_root(struct cfg_ctx *c, const struct ynode *root, struct config *cfg)
{
	struct service_conf tmpl;
	const struct ynode *v;

	if (root->kind != YNODE_MAP) {
		errlist_at(c->el, root, "", "wrong type: %s (expected a map with global, "
			   "defaults, services, failover, alerts)", ynode_kind_name(root));
		return;
	}
	cfg_walk_map(c, root, "", root_fields, cfg);
	cfg->global.maxconn_set = ymap_get(ymap_get(root, "global"), "maxconn") != NULL;
	cfg_service_builtin(&tmpl);
	v = ymap_get(root, "defaults");
	if (v) {
		cfg_walk_map(c, v, "defaults", defaults_fields, &tmpl);
		cfg_check_defaults(c, v, &tmpl);
		drop_gate_ports(&tmpl.check);
		cfg_expect_share(c, &tmpl.check);
	}
	v = ymap_get(root, "services");
	if (v)
		load_services(c, v, cfg, &tmpl);
	cfg_check_services(c, ymap_get(root, "services"), cfg);
	v = ymap_get(root, "failover");
	if (v)
		load_failover(c, v, cfg);
	v = ymap_get(root, "alerts");
	if (v)
		cfg_alerts_load(c, v, cfg);
	cfg_check_clear(&tmpl.check);
}

struct config *cfg_load_string(const char *name, const char *text, size_t len,
			       struct cfg_errors *errs)
{
	return cfg_load_string_node(name, text, len, NULL, errs);
}

struct config *cfg_load_string_node(const char *name, const char *text, size_t len,
				    const char *node, struct cfg_errors *errs)
{
	struct errlist el = { .file = name }, wl = { .file = name };
	struct cfg_ctx c = { .el = &el, .node = node };
	struct config *cfg = NULL;
	struct ynode *root = ytree_parse(text, len, &el);

	if (root) {
		cfg = config_new(name);
		load_root(&c, root, cfg);
		if (!el.n)
			cfg_lint(&wl, root, cfg);
		ytree_free(root);
	}
	if (cfg) {
		cfg->warnings = xcalloc(1, sizeof(*cfg->warnings));
		errlist_finish(&wl, cfg->warnings);
	} else {
		struct cfg_errors none;

		errlist_finish(&wl, &none);
		cfg_errors_free(&none);
	}
	if (el.n && cfg) {
		cfg_free(cfg);
		cfg = NULL;
	}
	errlist_finish(&el, errs);
	return cfg;
}

/* Read all of path into a new buffer; -1 with errno set. */
static int read_file(const char *path, char **text, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	buf = xmalloc(cap);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap >= CFG_MAX_FILE) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*text = buf;
	*len = n;
	return 0;
}

struct config *cfg_load_node(const char *path, const char *node, struct cfg_errors *errs)
{
	return cfg_load_bytes(path, node, errs, NULL, NULL);
}

struct config *cfg_load_bytes(const char *path, const char *node, struct cfg_errors *errs,
			      char **bytes, size_t *nbytes)
{
	struct config *cfg;
	char *text;
	size_t len;

	if (read_file(path, &text, &len) < 0) {
		struct errlist el = { .file = path };

		errlist_plain(&el, "cannot read: %s", strerror(errno));
		errlist_finish(&el, errs);
		return NULL;
	}
	cfg = cfg_load_string_node(path, text, len, node, errs);
	if (cfg && bytes) {
		*bytes = text;
		*nbytes = len;
	} else {
		free(text);
	}
	return cfg;
}

struct config *cfg_load(const char *path, struct cfg_errors *errs)
{
	return cfg_load_bytes(path, NULL, errs, NULL, NULL);
}

void cfg_free(struct config *cfg)
{
	if (!cfg)
		return;
	if (cfg->warnings)
		cfg_errors_free(cfg->warnings);
	free(cfg->warnings);
	free(cfg->path);
	free(cfg->global.user);
	free(cfg->global.control_socket);
	free(cfg->global.admin_token_file);
	for (size_t i = 0; i < cfg->nservices; i++)
		cfg_service_clear(&cfg->services[i]);
	free(cfg->services);
	free(cfg->failover.node);
	free(cfg->failover.interface);
	free(cfg->failover.peers);
	free(cfg->failover.auth_key_file);
	free(cfg->failover.notify_exec);
	cfg_email_clear(&cfg->failover.email);
	cfg_alerts_clear(&cfg->alerts);
	cfg_failover_clear(&cfg->failover);
	free(cfg);
}
