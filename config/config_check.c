/* config_check.c - rules that need several values at once: check keys that
 * belong to another check type, timeout against interval, backend ports,
 * source_mask, unique names and VIP:port pairs. Positions come from the tree.
 */
#include "config/cfg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"

static bool check_is_http(enum check_type t)
{
	return t == CHECK_HTTP || t == CHECK_HTTPS;
}

static bool check_can_starttls(enum check_type t)
{
	return t == CHECK_SMTP || t == CHECK_IMAP || t == CHECK_POP3;
}

static bool check_is_tls(const struct check_conf *ck)
{
	return ck->type == CHECK_HTTPS || ck->type == CHECK_IMAPS || ck->type == CHECK_POP3S ||
	       (check_can_starttls(ck->type) && ck->starttls) ||
	       (ck->type == CHECK_EXPECT && ck->tls);
}

/* Write ms as "1h30m", "2s", "250ms" or "0". */
static char *dur_str(uint32_t ms, char *buf, size_t len)
{
	static const struct { const char *unit; uint32_t mult; } units[] = {
		{ "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
	};
	size_t used = 0;

	buf[0] = '\0';
	if (ms == 0)
		snprintf(buf, len, "0");
	for (size_t i = 0; i < ARRAY_SIZE(units) && ms && used < len; i++) {
		if (ms / units[i].mult == 0)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%u%s", ms / units[i].mult,
					 units[i].unit);
		ms %= units[i].mult;
	}
	return buf;
}

/* Keys written in the check map ckn that its type does not take. */
static void check_keys_fit(struct cfg_ctx *c, const struct ynode *ckn, const char *path,
			   const struct check_conf *ck)
{
	static const char *const http_keys[] = { "path", "expect_status", "expect_body", NULL };
	static const char *const tls_keys[] = { "verify", "ca_file", NULL };
	const char *type = cfg_check_type_name(ck->type);
	const struct ynode *k;
	char kpath[256];

	for (int i = 0; http_keys[i]; i++) {
		k = ymap_key(ckn, http_keys[i]);
		cfg_path_key(kpath, sizeof(kpath), path, http_keys[i]);
		if (k && !check_is_http(ck->type))
			errlist_at(c->el, k, kpath, "not valid for check type %s (expected "
				   "type http or https)", type);
	}
	/* host: the Host header of http(s), and the TLS server name of any TLS check */
	k = ymap_key(ckn, "host");
	cfg_path_key(kpath, sizeof(kpath), path, "host");
	if (k && !check_is_http(ck->type) && !check_is_tls(ck))
		errlist_at(c->el, k, kpath, "not valid for check type %s (expected type http, "
			   "https, imaps, pop3s, starttls: true, or tls: true)", type);
	k = ymap_key(ckn, "ehlo");
	cfg_path_key(kpath, sizeof(kpath), path, "ehlo");
	if (k && ck->type != CHECK_SMTP)
		errlist_at(c->el, k, kpath, "not valid for check type %s (expected type smtp)",
			   type);
	k = ymap_key(ckn, "starttls");
	cfg_path_key(kpath, sizeof(kpath), path, "starttls");
	if (k && !check_can_starttls(ck->type))
		errlist_at(c->el, k, kpath, "not valid for check type %s (expected type smtp, "
			   "imap or pop3)", type);
	for (int i = 0; tls_keys[i]; i++) {
		k = ymap_key(ckn, tls_keys[i]);
		cfg_path_key(kpath, sizeof(kpath), path, tls_keys[i]);
		if (k && !check_is_tls(ck))
			errlist_at(c->el, k, kpath, "not valid for a check without TLS (expected "
				   "type https, imaps, pop3s, starttls: true, or tls: true)");
	}
}

/* timeout <= interval, reported where this level wrote one of them. */
static void check_timing(struct cfg_ctx *c, const struct ynode *ckn, const char *path,
			 const struct check_conf *ck)
{
	const struct ynode *t = ymap_get(ckn, "timeout"), *i = ymap_get(ckn, "interval");
	char kpath[256], a[64], b[64];

	if (ck->timeout_ms <= ck->interval_ms || (!t && !i))
		return;
	dur_str(ck->timeout_ms, a, sizeof(a));
	dur_str(ck->interval_ms, b, sizeof(b));
	if (t && t->kind == YNODE_SCALAR)
		snprintf(a, sizeof(a), "%s", t->text);
	if (i && i->kind == YNODE_SCALAR)
		snprintf(b, sizeof(b), "%s", i->text);
	if (t) {
		cfg_path_key(kpath, sizeof(kpath), path, "timeout");
		errlist_at(c->el, t, kpath, "%s is longer than the interval %s (expected at "
			   "most the interval)", a, b);
	} else {
		cfg_path_key(kpath, sizeof(kpath), path, "interval");
		errlist_at(c->el, i, kpath, "%s is shorter than the timeout %s (expected at "
			   "least the timeout)", b, a);
	}
}

/* on_down given both beside check: and inside it. */
static void check_on_down_once(struct cfg_ctx *c, const struct ynode *node, const char *path)
{
	const struct ynode *outer = ymap_key(node, "on_down");
	const struct ynode *inner = ymap_key(ymap_get(node, "check"), "on_down");
	char kpath[256];

	if (!outer || !inner)
		return;
	cfg_path_key(kpath, sizeof(kpath), path, "on_down");
	errlist_at(c->el, outer, kpath, "also given as check.on_down at line %u (expected "
		   "only one of them)", inner->line);
}

void cfg_check_defaults(struct cfg_ctx *c, const struct ynode *defaults,
			const struct service_conf *tmpl)
{
	const struct ynode *ckn = ymap_get(defaults, "check");

	check_on_down_once(c, defaults, "defaults");
	if (!ckn || ckn->kind != YNODE_MAP)
		return;
	if (ymap_key(ckn, "ports"))
		errlist_at(c->el, ymap_key(ckn, "ports"), "defaults.check.ports", "not valid in "
			   "defaults (expected in a service's check, naming its ports)");
	/* without a type here, the keys wait for the services that take them */
	if (ymap_key(ckn, "type")) {
		check_keys_fit(c, ckn, "defaults.check", &tmpl->check);
		cfg_expect_keys_fit(c, ckn, "defaults.check", tmpl->check.type);
	}
	check_timing(c, ckn, "defaults.check", &tmpl->check);
}

static void set_str(char **sp, const char *val)
{
	if (!*sp)
		*sp = xstrdup(val);
}

static void clear_str(char **sp)
{
	free(*sp);
	*sp = NULL;
}

/* Drop inherited settings the type does not use; fill the type's defaults. */
static void check_normalize(struct check_conf *ck)
{
	if (check_is_http(ck->type)) {
		set_str(&ck->path, "/");
	} else {
		clear_str(&ck->path);
		clear_str(&ck->expect_body);
		ck->expect_status = 200;
	}
	if (ck->type == CHECK_SMTP)
		set_str(&ck->ehlo, "vigil");
	else
		clear_str(&ck->ehlo);
	if (!check_can_starttls(ck->type))
		ck->starttls = false;
	if (!check_is_tls(ck)) {
		ck->verify = false;
		clear_str(&ck->ca_file);
	}
	if (!check_is_http(ck->type) && !check_is_tls(ck))
		clear_str(&ck->host);
}

static void check_source_mask(struct cfg_ctx *c, const struct ynode *node, const char *path,
			      struct service_conf *s)
{
	const struct ynode *v = ymap_get(node, "source_mask");
	int max = addr_family(&s->vip) == AF_INET6 ? 128 : 32;
	char kpath[256];

	cfg_path_key(kpath, sizeof(kpath), path, "source_mask");
	if (!v || s->source_mask < 0) {
		s->source_mask = max;
		return;
	}
	if (s->scheduler != SCHED_SOURCE_HASH && !s->persist_ms) {
		/* persist masks the client with it too */
		errlist_at(c->el, ymap_key(node, "source_mask"), kpath, "only valid with "
			   "scheduler source-hash (scheduler is %s)", cfg_sched_name(s->scheduler));
	} else if (addr_family(&s->vip) && s->source_mask > max) {
		errlist_at(c->el, v, kpath, "%d is out of range (expected 0..%d for an IPv%d VIP)",
			   s->source_mask, max, max == 32 ? 4 : 6);
	}
}

/* The IP a connect to a reaches: an IPv4-mapped IPv6 address is IPv4. */
static const uint8_t *reached_ip(const struct addr *a, size_t *len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *b = addr_bytes(a, len);

	if (*len == 16 && memcmp(b, v4mapped, sizeof(v4mapped)) == 0) {
		*len = 4;
		return b + 12;
	}
	return b;
}

static bool same_ip(const struct addr *a, const struct addr *b)
{
	size_t la, lb;
	const uint8_t *ba = reached_ip(a, &la), *bb = reached_ip(b, &lb);

	return la == lb && memcmp(ba, bb, la) == 0;
}

/* A backend at the service's own VIP:port sends each client back to vigild:
 * a proxy loop. Without port: the backend's port is each service port in
 * turn, so every one of them loops. (A VIP is never the unspecified address,
 * and a backend never is: so a loop means the same IP, family aside.)
 * portset: a bit per port of s->ports (made by the caller when some backend
 * is at the VIP), so that a backend costs O(1), not O(ports). */
static void check_backend_loop(struct cfg_ctx *c, const struct ynode *bn, const char *path,
			       const struct service_conf *s, const struct backend_conf *b,
			       const uint8_t *portset)
{
	const struct ynode *v = ymap_get(bn, "address");
	char kpath[256], ip[ADDR_STRLEN], ports[128];
	size_t used = 0, nloop = 0;

	if (!v || !addr_family(&b->addr) || !addr_family(&s->vip) || !same_ip(&b->addr, &s->vip))
		return;
	ports[0] = '\0';
	if (b->port) {                    /* s->ports holds each port once */
		if (portset[b->port / 8] & (1u << (b->port % 8))) {
			nloop = 1;
			snprintf(ports, sizeof(ports), "%u", b->port);
		}
	} else {
		nloop = s->nports;
		for (size_t k = 0; k < s->nports && used < sizeof(ports); k++)
			used += (size_t)snprintf(ports + used, sizeof(ports) - used, "%s%u",
						 k ? ", " : "", s->ports[k]);
	}
	if (!nloop)
		return;
	addr_ip_str(&b->addr, ip, sizeof(ip));
	cfg_path_key(kpath, sizeof(kpath), path, "address");
	if (b->port)
		errlist_at(c->el, v, kpath, "%s port %s is the service's own VIP:port, a proxy "
			   "loop (expected another address, or another port:)", ip, ports);
	else
		errlist_at(c->el, v, kpath, "%s is the service's own VIP, and without port: the "
			   "backend's port is the client's: a proxy loop on port%s %s (expected "
			   "another address, or a port: the service does not serve)", ip,
			   nloop > 1 ? "s" : "", ports);
}

/* Names, NULL (not given) first; for cfg_first_equal over an array of names. */
static int name_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return !a && !b ? 0 : !a ? -1 : 1;
	return strcmp(a, b);
}

static int backend_name_cmp(size_t a, size_t b, void *arg)
{
	const struct backend_conf *be = arg;

	return name_cmp(be[a].name, be[b].name);
}

/* source: client binds the backend connection to the client's address, so
 * the backend must be of the VIP's family (the clients'). */
static void check_backend_client_family(struct cfg_ctx *c, const struct ynode *v,
					const char *path, const struct service_conf *s,
					const struct backend_conf *b)
{
	int vfam = addr_family(&s->vip), bfam = addr_family(&b->addr);
	char kpath[256], ip[ADDR_STRLEN], vip[ADDR_STRLEN];

	if (!vfam || !bfam || vfam == bfam)
		return;
	cfg_path_key(kpath, sizeof(kpath), path, "address");
	errlist_at(c->el, v, kpath, "IPv%d backend %s cannot be reached from the IPv%d clients "
		   "of VIP %s with source: client (expected an IPv%d address)",
		   bfam == AF_INET ? 4 : 6, addr_ip_str(&b->addr, ip, sizeof(ip)),
		   vfam == AF_INET ? 4 : 6, addr_ip_str(&s->vip, vip, sizeof(vip)),
		   vfam == AF_INET ? 4 : 6);
}

/* Backend i against the service: port: with several ports, source family,
 * a proxy loop, a name used before (by backends[first], first < i). */
static void check_backend(struct cfg_ctx *c, const struct ynode *bn, const char *path,
			  const struct service_conf *s, size_t i, size_t first, size_t nports,
			  const uint8_t *portset)
{
	const struct backend_conf *b = &s->backends[i];
	const struct ynode *v;
	char kpath[256], ip[ADDR_STRLEN], src[ADDR_STRLEN];
	int fam = addr_family(&s->source);

	v = ymap_key(bn, "port");
	if (v && nports > 1) {
		cfg_path_key(kpath, sizeof(kpath), path, "port");
		errlist_at(c->el, v, kpath, "not allowed when the service has %zu ports "
			   "(expected port: only with exactly one service port)", nports);
	}
	v = ymap_get(bn, "address");
	if (v && s->has_source && addr_family(&b->addr) && addr_family(&b->addr) != fam) {
		cfg_path_key(kpath, sizeof(kpath), path, "address");
		errlist_at(c->el, v, kpath, "IPv%d backend %s cannot be reached from the IPv%d "
			   "source %s (expected an IPv%d address)", fam == AF_INET ? 6 : 4,
			   addr_ip_str(&b->addr, ip, sizeof(ip)), fam == AF_INET ? 4 : 6,
			   addr_ip_str(&s->source, src, sizeof(src)), fam == AF_INET ? 4 : 6);
	}
	if (v && s->source_client)
		check_backend_client_family(c, v, path, s, b);
	check_backend_loop(c, bn, path, s, b, portset);
	v = ymap_get(bn, "name");
	if (v && b->name && first < i) {
		cfg_path_key(kpath, sizeof(kpath), path, "name");
		errlist_at(c->el, v, kpath, "duplicate backend name \"%s\" (already used by "
			   "backends[%zu])", b->name, first);
	}
}

/* check.ports: each one a port of the service (among its first 64). */
static void check_gate_ports(struct cfg_ctx *c, const struct ynode *ckn, const char *path,
			     const struct service_conf *s, const struct check_conf *ck)
{
	const struct ynode *pn = ymap_get(ckn, "ports");
	char kpath[256], ipath[256];

	if (!pn || pn->kind != YNODE_SEQ || !s->nports)
		return;
	cfg_path_key(kpath, sizeof(kpath), path, "ports");
	for (size_t i = 0, k = 0; i < pn->n && k < ck->ngate_ports; i++) {
		size_t j;

		if (pn->kids[i]->kind != YNODE_SCALAR ||
		    strtol(pn->kids[i]->text, NULL, 10) != ck->gate_ports[k])
			continue;
		for (j = 0; j < s->nports && j < 64 && s->ports[j] != ck->gate_ports[k]; j++)
			;
		if (j == s->nports || j == 64) {
			cfg_path_idx(ipath, sizeof(ipath), kpath, i);
			errlist_at(c->el, pn->kids[i], ipath, "%u is not one of the service's ports "
				   "(expected one of its first 64 ports)", ck->gate_ports[k]);
		}
		k++;
	}
}

/* A bit per port of s, if some backend is at its VIP (else NULL: none needs it). */
static uint8_t *port_set(const struct service_conf *s)
{
	uint8_t *set;
	size_t i;

	for (i = 0; i < s->nbackends; i++)
		if (addr_family(&s->backends[i].addr) && addr_family(&s->vip) &&
		    same_ip(&s->backends[i].addr, &s->vip))
			break;
	if (i == s->nbackends)
		return NULL;
	set = xcalloc(65536 / 8, 1);
	for (i = 0; i < s->nports; i++)
		set[s->ports[i] / 8] |= (uint8_t)(1u << (s->ports[i] % 8));
	return set;
}

/* One check map of a service (the single one, or list entry `path`). */
static void check_one(struct cfg_ctx *c, const struct ynode *ckn, const char *path,
		      const struct service_conf *s, struct check_conf *ck, bool entry)
{
	const struct ynode *od = ymap_key(ckn, "on_down");
	char kpath[256];

	check_keys_fit(c, ckn, path, ck);
	check_timing(c, ckn, path, ck);
	check_gate_ports(c, ckn, path, s, ck);
	check_normalize(ck);
	if (entry && od) {
		cfg_path_key(kpath, sizeof(kpath), path, "on_down");
		errlist_at(c->el, od, kpath, "not valid in a list of checks (expected on_down "
			   "beside check:, for the whole service)");
	}
}

void cfg_check_service(struct cfg_ctx *c, const struct ynode *node, const char *path,
		       struct service_conf *s)
{
	const struct ynode *ckn = ymap_get(node, "check");
	const struct ynode *pn = ymap_get(node, "ports");
	const struct ynode *bn = ymap_get(node, "backends");
	size_t nports = pn && pn->kind == YNODE_SEQ ? pn->n : 0;
	char kpath[256], bpath[256];
	uint8_t *portset;
	size_t *first;

	if (node->kind != YNODE_MAP)
		return;
	cfg_path_key(kpath, sizeof(kpath), path, "check");
	if (ckn && ckn->kind == YNODE_MAP)
		check_one(c, ckn, kpath, s, &s->check, false);
	if (!ckn || ckn->kind != YNODE_SEQ) {
		/* one check, written here or inherited: expect's keys and regex */
		cfg_check_expect(c, ckn && ckn->kind == YNODE_MAP ? ckn : NULL, node, kpath,
				 &s->check);
		cfg_expect_normalize(&s->check);
	}
	check_normalize(&s->check);
	for (size_t i = 0; ckn && ckn->kind == YNODE_SEQ && i < s->nchecks && i < ckn->n; i++) {
		cfg_path_idx(bpath, sizeof(bpath), kpath, i);
		if (ckn->kids[i]->kind != YNODE_MAP)
			continue;
		check_one(c, ckn->kids[i], bpath, s, &s->checks[i], true);
		cfg_check_expect(c, ckn->kids[i], ckn->kids[i], bpath, &s->checks[i]);
		cfg_expect_normalize(&s->checks[i]);
	}
	check_on_down_once(c, node, path);
	check_source_mask(c, node, path, s);
	cfg_path_key(kpath, sizeof(kpath), path, "backends");
	first = xcalloc(s->nbackends ? s->nbackends : 1, sizeof(*first));
	cfg_first_equal(s->nbackends, backend_name_cmp, s->backends, first);
	portset = port_set(s);
	for (size_t i = 0; bn && bn->kind == YNODE_SEQ && i < s->nbackends; i++) {
		cfg_path_idx(bpath, sizeof(bpath), kpath, i);
		if (bn->kids[i]->kind == YNODE_MAP)
			check_backend(c, bn->kids[i], bpath, s, i, first[i], nports, portset);
	}
	free(portset);
	free(first);
}

/* One port a service serves on its VIP. */
struct vip_port {
	const struct addr *vip;
	uint16_t port;
	size_t svc;                   /* index into cfg->services */
};

/* By VIP, then port, then service: a run's first entry is its first service. */
static int vip_port_cmp(const void *a, const void *b)
{
	const struct vip_port *x = a, *y = b;
	size_t xl, yl;
	const uint8_t *xb = addr_bytes(x->vip, &xl), *yb = addr_bytes(y->vip, &yl);
	int r;

	if (xl != yl)
		return xl < yl ? -1 : 1;
	r = memcmp(xb, yb, xl);
	if (r)
		return r;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->svc < y->svc ? -1 : x->svc > y->svc;
}

/* Every (VIP, port, service) of cfg, sorted; *n gets the count. */
static struct vip_port *vip_ports_sorted(const struct config *cfg, size_t *n)
{
	struct vip_port *v;
	size_t total = 0;

	for (size_t j = 0; j < cfg->nservices; j++)
		total += cfg->services[j].nports;
	v = xcalloc(total ? total : 1, sizeof(*v));
	*n = 0;
	for (size_t j = 0; j < cfg->nservices; j++) {
		const struct service_conf *o = &cfg->services[j];

		for (size_t k = 0; addr_family(&o->vip) && k < o->nports; k++)
			v[(*n)++] = (struct vip_port){ .vip = &o->vip, .port = o->ports[k], .svc = j };
	}
	qsort(v, *n, sizeof(*v), vip_port_cmp);
	return v;
}

/* The first service before upto with the same VIP that also serves port. */
static const struct service_conf *vip_port_user(const struct config *cfg,
						const struct vip_port *users, size_t nusers,
						size_t upto, const struct service_conf *s,
						uint16_t port)
{
	struct vip_port key = { .vip = &s->vip, .port = port, .svc = 0 };
	size_t lo = 0, hi = nusers;

	while (lo < hi) {                     /* the first entry not below key */
		size_t mid = lo + (hi - lo) / 2;

		if (vip_port_cmp(&users[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < nusers && users[lo].svc < upto && addr_equal_ip(users[lo].vip, &s->vip) &&
	    users[lo].port == port)
		return &cfg->services[users[lo].svc];
	return NULL;
}

static void check_vip_ports(struct cfg_ctx *c, const struct ynode *node, const char *path,
			    const struct config *cfg, const struct vip_port *users, size_t nusers,
			    size_t i)
{
	const struct service_conf *s = &cfg->services[i];
	const struct ynode *pn = ymap_get(node, "ports");
	char kpath[256], ipath[256], ip[ADDR_STRLEN];

	if (!addr_family(&s->vip) || !pn || pn->kind != YNODE_SEQ)
		return;
	cfg_path_key(kpath, sizeof(kpath), path, "ports");
	addr_ip_str(&s->vip, ip, sizeof(ip));
	for (size_t k = 0; k < pn->n; k++) {
		const struct service_conf *o;
		long port;

		if (pn->kids[k]->kind != YNODE_SCALAR)
			continue;
		port = strtol(pn->kids[k]->text, NULL, 10);
		if (port < 1 || port > 65535)
			continue;
		o = vip_port_user(cfg, users, nusers, i, s, (uint16_t)port);
		if (!o)
			continue;
		cfg_path_idx(ipath, sizeof(ipath), kpath, k);
		errlist_at(c->el, pn->kids[k], ipath, "%s%s%s:%ld is already used by service "
			   "\"%s\" (expected each VIP:port in one service only)",
			   addr_family(&s->vip) == AF_INET6 ? "[" : "", ip,
			   addr_family(&s->vip) == AF_INET6 ? "]" : "", port,
			   o->name ? o->name : "?");
	}
}

static int service_name_cmp(size_t a, size_t b, void *arg)
{
	const struct service_conf *sv = arg;

	return name_cmp(sv[a].name, sv[b].name);
}

void cfg_check_services(struct cfg_ctx *c, const struct ynode *services,
			const struct config *cfg)
{
	char path[64], kpath[128];
	struct vip_port *users;
	size_t nusers, *first;

	if (!services || services->kind != YNODE_SEQ)
		return;
	first = xcalloc(cfg->nservices ? cfg->nservices : 1, sizeof(*first));
	cfg_first_equal(cfg->nservices, service_name_cmp, cfg->services, first);
	users = vip_ports_sorted(cfg, &nusers);
	for (size_t i = 0; i < cfg->nservices && i < services->n; i++) {
		const struct ynode *node = services->kids[i];
		const struct service_conf *s = &cfg->services[i];

		if (node->kind != YNODE_MAP)
			continue;
		cfg_path_idx(path, sizeof(path), "services", i);
		if (s->name && first[i] < i) {
			cfg_path_key(kpath, sizeof(kpath), path, "name");
			errlist_at(c->el, ymap_get(node, "name"), kpath, "duplicate service "
				   "name \"%s\" (already used by services[%zu])", s->name, first[i]);
		}
		check_vip_ports(c, node, path, cfg, users, nusers, i);
	}
	free(users);
	free(first);
}
