/* cfg_failover.c - one file for the pair: failover.nodes (this node picked by
 * vigild -n, failover.node or the host name; the others are its peers),
 * failover.groups (each elected on its own) and failover.addresses (extra
 * floating addresses of a group). Without groups, one group from
 * failover.group holds every service.
 */
#include "config/cfg_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"

#define FO_NODE_NAME_MAX 32      /* the advert's node name field */
#define FO_GROUPS_MAX 16         /* groups a node advertises (vip/heartbeat.h) */
#define FO_GROUP_ID_MAX 255

/* Order of IP addresses, family first; no address sorts first. Equal exactly
 * when addr_equal_ip() (or when neither has an address). */
static int ip_cmp(const struct addr *a, const struct addr *b)
{
	int fa = addr_family(a), fb = addr_family(b);
	size_t la, lb;
	const uint8_t *pa, *pb;

	if (fa != fb)
		return fa < fb ? -1 : 1;
	if (!fa)
		return 0;
	pa = addr_bytes(a, &la);
	pb = addr_bytes(b, &lb);
	return la != lb ? (la < lb ? -1 : 1) : memcmp(pa, pb, la);
}

/* ---- nodes ---- */

static const struct cfg_field node_fields[] = {
	{ .key = "address", .fn = cfg_fld_ip, .off = offsetof(struct fo_node_conf, address),
	  .required = true, .what = "an IP address" },
	{ .key = "priority", .fn = cfg_fld_u32, .off = offsetof(struct fo_node_conf, priority),
	  .min = 1, .max = 254, .what = "an integer 1..254" },
	{ .key = "interface", .fn = cfg_fld_str, .max = 15,
	  .off = offsetof(struct fo_node_conf, interface), .what = "an interface name" },
	{ 0 },
};

static bool node_name_ok(struct cfg_ctx *c, const struct ynode *k, const char *path)
{
	size_t len = strlen(k->text);

	if (len > 0 && len <= FO_NODE_NAME_MAX &&
	    strspn(k->text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789._-") == len)
		return true;
	errlist_at(c->el, k, path, "invalid node name \"%s\" (expected 1..%d letters, digits, "
		   "'.', '_' or '-')", k->text, FO_NODE_NAME_MAX);
	return false;
}

static int node_name_cmp(size_t a, size_t b, void *arg)
{
	const struct fo_node_conf *nodes = arg;

	return strcmp(nodes[a].name, nodes[b].name);
}

static int node_addr_cmp(size_t a, size_t b, void *arg)
{
	const struct fo_node_conf *nodes = arg;

	return ip_cmp(&nodes[a].address, &nodes[b].address);
}

/* Each node name once, each address once: a repeat is reported at its key
 * (keys[k] for fo->nodes[k]) against the first node that has it. */
static void check_nodes_unique(struct cfg_ctx *c, const struct ynode *const *keys,
			       const struct failover_conf *fo)
{
	size_t n = fo->nnodes;
	size_t *by_name = xcalloc(n ? n : 1, sizeof(*by_name));
	size_t *by_addr = xcalloc(n ? n : 1, sizeof(*by_addr));
	char path[256];

	cfg_first_equal(n, node_name_cmp, fo->nodes, by_name);
	cfg_first_equal(n, node_addr_cmp, fo->nodes, by_addr);
	for (size_t k = 0; k < n; k++) {
		cfg_path_key(path, sizeof(path), "failover.nodes", keys[k]->text);
		if (by_name[k] < k)
			errlist_at(c->el, keys[k], path, "duplicate node (expected each node once)");
		else if (addr_family(&fo->nodes[k].address) && by_addr[k] < k)
			errlist_at(c->el, keys[k], path, "address of node %s too (expected one "
				   "address per node)", fo->nodes[by_addr[k]].name);
	}
	free(by_addr);
	free(by_name);
}

static void load_nodes(struct cfg_ctx *c, const struct ynode *v, struct failover_conf *fo)
{
	const struct ynode **keys;
	char path[256];

	if (v->kind != YNODE_MAP || v->n == 0) {
		errlist_at(c->el, v, "failover.nodes", "wrong type: %s (expected a map of node "
			   "names, e.g. {lb1: {address: 192.0.2.11}, lb2: {address: 192.0.2.12}})",
			   v->kind == YNODE_MAP ? "an empty map" : ynode_kind_name(v));
		return;
	}
	fo->nodes = xcalloc(v->n, sizeof(*fo->nodes));
	keys = xcalloc(v->n, sizeof(*keys));
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->kids[2 * i];
		struct fo_node_conf *n = &fo->nodes[fo->nnodes];

		cfg_path_key(path, sizeof(path), "failover.nodes", k->text ? k->text : "");
		if (k->kind != YNODE_SCALAR || !node_name_ok(c, k, path))
			continue;
		n->priority = fo->priority;
		cfg_walk_map(c, v->kids[2 * i + 1], path, node_fields, n);
		n->name = xstrdup(k->text);
		keys[fo->nnodes++] = k;
	}
	check_nodes_unique(c, keys, fo);
	free(keys);
}

/* This node's entry gives node, priority and interface; the others are peers. */
static void pick_node(struct cfg_ctx *c, const struct ynode *v, struct failover_conf *fo)
{
	const struct fo_node_conf *self = NULL;
	char names[256] = "";
	size_t k = 0;

	for (size_t i = 0; i < fo->nnodes; i++) {
		if (strcmp(fo->nodes[i].name, fo->node) == 0)
			self = &fo->nodes[i];
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 i ? ", " : "", fo->nodes[i].name);
	}
	if (!self) {
		errlist_at(c->el, v, "failover.nodes", "this node \"%s\" is not listed (expected "
			   "one of: %s; pick it with vigild -n NAME)", fo->node, names);
		return;
	}
	fo->priority = self->priority;
	if (self->interface) {
		free(fo->interface);
		fo->interface = xstrdup(self->interface);
	}
	free(fo->peers);
	fo->peers = xcalloc(fo->nnodes, sizeof(*fo->peers));
	for (size_t i = 0; i < fo->nnodes; i++)
		if (&fo->nodes[i] != self && addr_family(&fo->nodes[i].address))
			fo->peers[k++] = fo->nodes[i].address;
	fo->npeers = k;
}

/* ---- groups ---- */

static void fld_group_services(struct cfg_ctx *c, const struct ynode *v, const char *path,
			       const struct cfg_field *f, void *dst)
{
	struct fo_group_conf *g = dst;
	static const struct cfg_field item = { .fn = cfg_fld_name, .what = "a service name" };

	cfg_fld_list(c, v, path, f->what, &item, &g->services, &g->nservices);
}

static void fld_group_prio(struct cfg_ctx *c, const struct ynode *v, const char *path,
			   const struct cfg_field *f, void *dst)
{
	struct fo_group_conf *g = dst;
	char kpath[256];

	if (v->kind != YNODE_MAP) {
		errlist_at(c->el, v, path, "wrong type: %s (expected %s)", ynode_kind_name(v),
			   f->what);
		return;
	}
	g->prios = xcalloc(v->n ? v->n : 1, sizeof(*g->prios));
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->kids[2 * i];
		long long p;

		cfg_path_key(kpath, sizeof(kpath), path, k->text ? k->text : "");
		if (k->kind != YNODE_SCALAR || !node_name_ok(c, k, kpath))
			continue;
		if (cfg_scalar_int(c, v->kids[2 * i + 1], kpath, 1, 254, "an integer 1..254",
				   &p) < 0)
			continue;
		g->prios[g->nprios].node = xstrdup(k->text);
		g->prios[g->nprios++].priority = (uint32_t)p;
	}
}

static const struct cfg_field group_track_fields[] = {
	{ .key = "services", .fn = cfg_fld_bool,
	  .off = offsetof(struct fo_group_conf, track_services), .what = "true or false" },
	{ .key = "weight", .fn = cfg_fld_u32, .off = offsetof(struct fo_group_conf, track_weight),
	  .min = 0, .max = 254, .what = "an integer 0..254" },
	{ 0 },
};

static const struct cfg_field group_fields[] = {
	{ .key = "id", .fn = cfg_fld_u32, .off = offsetof(struct fo_group_conf, id),
	  .min = 1, .max = 255, .required = true, .what = "an integer 1..255" },
	{ .key = "services", .fn = fld_group_services, .required = true,
	  .what = "a list of service names" },
	{ .key = "priority", .fn = fld_group_prio,
	  .what = "a map of node name to priority 1..254, e.g. {lb1: 150, lb2: 100}" },
	{ .key = "preempt", .fn = cfg_fld_bool, .off = offsetof(struct fo_group_conf, preempt),
	  .what = "true or false" },
	{ .key = "preempt_delay", .fn = cfg_fld_duration,
	  .off = offsetof(struct fo_group_conf, preempt_delay_ms), .min = 0, .what = "a duration, e.g. 30s" },
	{ .key = "track", .fn = cfg_fld_map, .sub = group_track_fields,
	  .what = "a map with services, weight" },
	{ 0 },
};

static void group_defaults(struct fo_group_conf *g, const struct failover_conf *fo)
{
	memset(g, 0, sizeof(*g));
	g->preempt = fo->preempt;
	g->preempt_delay_ms = fo->preempt_delay_ms;
	g->track_services = fo->track_services;
	g->track_weight = fo->track_weight;
}

/* The group's priority on this node: its priority map, else the node's.
 * nodes: the names of fo->nodes, sorted. */
static void group_resolve_prio(struct cfg_ctx *c, const struct ynode *gn, const char *path,
			       struct fo_group_conf *g, const struct failover_conf *fo,
			       const struct cfg_names *nodes)
{
	const struct ynode *pn = ymap_get(gn, "priority");

	g->priority = fo->priority;
	for (size_t i = 0; i < g->nprios; i++) {
		bool known = fo->nnodes == 0 ||
			     cfg_names_find(nodes, g->prios[i].node) != SIZE_MAX;

		if (!known)
			errlist_at(c->el, pn, path, "priority for unknown "
				   "node \"%s\" (expected a node of failover.nodes)",
				   g->prios[i].node);
		if (strcmp(g->prios[i].node, fo->node) == 0)
			g->priority = g->prios[i].priority;
	}
}

static void load_groups(struct cfg_ctx *c, const struct ynode *v, struct failover_conf *fo,
			const struct cfg_names *nodes)
{
	bool seen[FO_GROUP_ID_MAX + 1] = { false };
	char path[64];

	if (!cfg_want_seq(c, v, "failover.groups", "a list of groups") || v->kind != YNODE_SEQ ||
	    v->n == 0) {
		if (v->kind != YNODE_MAP)
			errlist_at(c->el, v, "failover.groups", "empty list (expected a list of "
				   "groups, e.g. [{id: 51, services: [smtp]}])");
		return;
	}
	if (v->n > FO_GROUPS_MAX)
		errlist_at(c->el, v, "failover.groups", "%zu groups (expected at most %d)", v->n,
			   FO_GROUPS_MAX);
	fo->groups_given = true;
	fo->groups = xcalloc(v->n, sizeof(*fo->groups));
	for (size_t i = 0; i < v->n; i++) {
		struct fo_group_conf *g = &fo->groups[fo->ngroups++];

		cfg_path_idx(path, sizeof(path), "failover.groups", i);
		group_defaults(g, fo);
		cfg_walk_map(c, v->kids[i], path, group_fields, g);
		group_resolve_prio(c, v->kids[i], path, g, fo, nodes);
		if (!g->id || g->id > FO_GROUP_ID_MAX)
			continue;
		if (seen[g->id])
			errlist_at(c->el, v->kids[i], path, "duplicate group id %u (expected "
				   "each id once)", g->id);
		seen[g->id] = true;
	}
}

/* No groups: one from failover.group holding every service. */
static void implicit_group(struct failover_conf *fo, const struct config *cfg)
{
	struct fo_group_conf *g;

	fo->groups = xcalloc(1, sizeof(*fo->groups));
	fo->ngroups = 1;
	g = &fo->groups[0];
	group_defaults(g, fo);
	g->id = fo->group;
	g->priority = fo->priority;
	g->services = xcalloc(cfg->nservices ? cfg->nservices : 1, sizeof(*g->services));
	for (size_t i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].name)
			g->services[g->nservices++] = xstrdup(cfg->services[i].name);
}

static int str_at_cmp(size_t a, size_t b, void *arg)
{
	char *const *v = arg;

	return strcmp(v[a], v[b]);
}

/* Group i's services: each exists, is listed once, and in no earlier group.
 * svcs: the service names; grouped: every group's services, by group index. */
static void check_one_group(struct cfg_ctx *c, const struct ynode *gn, size_t i,
			    const struct failover_conf *fo, const struct cfg_names *svcs,
			    const struct cfg_names *grouped)
{
	const struct fo_group_conf *g = &fo->groups[i];
	const struct ynode *sn = ymap_get(gn, "services");
	size_t *first = xcalloc(g->nservices ? g->nservices : 1, sizeof(*first));
	char path[96];

	cfg_first_equal(g->nservices, str_at_cmp, g->services, first);
	for (size_t j = 0; j < g->nservices; j++) {
		size_t in = cfg_names_find(grouped, g->services[j]);

		snprintf(path, sizeof(path), "failover.groups[%zu].services[%zu]", i, j);
		if (cfg_names_find(svcs, g->services[j]) == SIZE_MAX)
			errlist_at(c->el, sn->kids[j], path, "unknown service \"%s\" "
				   "(expected a name from services)", g->services[j]);
		if (first[j] < j)
			errlist_at(c->el, sn->kids[j], path, "duplicate service \"%s\"",
				   g->services[j]);
		if (in != i)
			errlist_at(c->el, sn->kids[j], path, "service \"%s\" is already in "
				   "group %u (expected each service in at most one group)",
				   g->services[j], fo->groups[in].id);
	}
	free(first);
}

/* Every group's services exist, and every service is in exactly one group. */
static void check_group_services(struct cfg_ctx *c, const struct ynode *v,
				 const struct config *cfg)
{
	const struct failover_conf *fo = &cfg->failover;
	struct cfg_names svcs = { 0 }, grouped = { 0 };

	for (size_t k = 0; k < cfg->nservices; k++)
		cfg_names_add(&svcs, cfg->services[k].name, k);
	for (size_t i = 0; i < fo->ngroups; i++)
		for (size_t j = 0; j < fo->groups[i].nservices; j++)
			cfg_names_add(&grouped, fo->groups[i].services[j], i);
	cfg_names_sort(&svcs);
	cfg_names_sort(&grouped);
	for (size_t i = 0; i < fo->ngroups; i++)
		check_one_group(c, v->kids[i], i, fo, &svcs, &grouped);
	for (size_t k = 0; k < cfg->nservices; k++)
		if (cfg->services[k].name &&
		    cfg_names_find(&grouped, cfg->services[k].name) == SIZE_MAX)
			errlist_at(c->el, v, "failover.groups", "service \"%s\" is in no group "
				   "(expected every service in one group)", cfg->services[k].name);
	cfg_names_free(&grouped);
	cfg_names_free(&svcs);
}

const struct fo_group_conf *cfg_service_group(const struct failover_conf *fo, const char *name)
{
	for (size_t i = 0; i < fo->ngroups; i++)
		for (size_t j = 0; j < fo->groups[i].nservices; j++)
			if (strcmp(fo->groups[i].services[j], name) == 0)
				return &fo->groups[i];
	return NULL;
}

/* ---- addresses ---- */

static const struct cfg_field address_fields[] = {
	{ .key = "address", .fn = cfg_fld_prefix_ip, .required = true,
	  .what = "an IP address with an optional prefix length, e.g. 198.51.100.1/24" },
	{ .key = "interface", .fn = cfg_fld_str, .max = 15,
	  .off = offsetof(struct fo_address_conf, interface), .what = "an interface name" },
	{ .key = "group", .fn = cfg_fld_u32, .off = offsetof(struct fo_address_conf, group),
	  .min = 1, .max = 255, .required = true, .what = "an integer 1..255" },
	{ 0 },
};

/* A service's VIP, for the lookup of the first service with an IP. */
struct vip_ref {
	const struct addr *ip;
	size_t svc;
};

static int vip_ref_cmp(const void *a, const void *b)
{
	const struct vip_ref *x = a, *y = b;
	int r = ip_cmp(x->ip, y->ip);

	if (r)
		return r;
	return x->svc < y->svc ? -1 : x->svc > y->svc;
}

/* The services' VIPs sorted by IP, then service index; *n gets the count. */
static struct vip_ref *vips_sorted(const struct config *cfg, size_t *n)
{
	struct vip_ref *v = xcalloc(cfg->nservices ? cfg->nservices : 1, sizeof(*v));

	*n = 0;
	for (size_t j = 0; j < cfg->nservices; j++)
		if (addr_family(&cfg->services[j].vip))
			v[(*n)++] = (struct vip_ref){ .ip = &cfg->services[j].vip, .svc = j };
	qsort(v, *n, sizeof(*v), vip_ref_cmp);
	return v;
}

/* The first service whose VIP is ip, or NULL. */
static const struct service_conf *vip_service(const struct config *cfg,
					      const struct vip_ref *vips, size_t n,
					      const struct addr *ip)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {                     /* the first entry not below ip */
		size_t mid = lo + (hi - lo) / 2;

		if (ip_cmp(vips[mid].ip, ip) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ip_cmp(vips[lo].ip, ip) == 0 ? &cfg->services[vips[lo].svc] : NULL;
}

static int address_cmp(size_t a, size_t b, void *arg)
{
	const struct fo_address_conf *v = arg;

	return ip_cmp(&v[a].address, &v[b].address);
}

/* Each floating address once, and none a service's VIP. */
static void check_addresses(struct cfg_ctx *c, const struct ynode *v, const struct config *cfg)
{
	const struct failover_conf *fo = &cfg->failover;
	size_t nvips, *first = xcalloc(fo->naddresses ? fo->naddresses : 1, sizeof(*first));
	struct vip_ref *vips = vips_sorted(cfg, &nvips);
	char path[64];

	cfg_first_equal(fo->naddresses, address_cmp, fo->addresses, first);
	for (size_t i = 0; i < fo->naddresses; i++) {
		const struct fo_address_conf *a = &fo->addresses[i];
		const struct service_conf *s;

		if (!addr_family(&a->address))
			continue;
		cfg_path_idx(path, sizeof(path), "failover.addresses", i);
		if (first[i] < i)
			errlist_at(c->el, v->kids[i], path, "duplicate address (expected "
				   "each address once)");
		s = vip_service(cfg, vips, nvips, &a->address);
		if (s)
			errlist_at(c->el, v->kids[i], path, "is the VIP of service %s "
				   "(expected an address that is no VIP)", s->name);
	}
	free(vips);
	free(first);
}

static void load_addresses(struct cfg_ctx *c, const struct ynode *v, struct config *cfg)
{
	struct failover_conf *fo = &cfg->failover;
	bool known[FO_GROUP_ID_MAX + 1] = { false };
	char path[64];

	if (!cfg_want_seq(c, v, "failover.addresses", "a list of addresses") ||
	    v->kind != YNODE_SEQ)
		return;
	for (size_t j = 0; j < fo->ngroups; j++)
		if (fo->groups[j].id <= FO_GROUP_ID_MAX)
			known[fo->groups[j].id] = true;
	fo->addresses = xcalloc(v->n ? v->n : 1, sizeof(*fo->addresses));
	for (size_t i = 0; i < v->n; i++) {
		struct fo_address_conf *a = &fo->addresses[fo->naddresses++];

		cfg_path_idx(path, sizeof(path), "failover.addresses", i);
		cfg_walk_map(c, v->kids[i], path, address_fields, a);
		if (a->group && (a->group > FO_GROUP_ID_MAX || !known[a->group]))
			errlist_at(c->el, ymap_get(v->kids[i], "group"), path, "unknown group %u "
				   "(expected the id of a failover group)", a->group);
	}
	check_addresses(c, v, cfg);
}

/* ---- the whole pair section ---- */

void cfg_failover_pair(struct cfg_ctx *c, const struct ynode *v, struct config *cfg)
{
	struct failover_conf *fo = &cfg->failover;
	const struct ynode *n = ymap_get(v, "nodes"), *g = ymap_get(v, "groups");
	const struct ynode *a = ymap_get(v, "addresses");
	struct cfg_names nodes = { 0 };

	if (n && ymap_get(v, "peers"))
		errlist_at(c->el, ymap_key(v, "peers"), "failover.peers", "not with failover.nodes "
			   "(expected either nodes, or node + priority + peers)");
	if (n && ymap_get(v, "priority"))
		errlist_at(c->el, ymap_key(v, "priority"), "failover.priority", "not with "
			   "failover.nodes (expected the priority in each node's entry)");
	if (g && ymap_get(v, "group"))
		errlist_at(c->el, ymap_key(v, "group"), "failover.group", "not with "
			   "failover.groups (expected either groups, or group)");
	if (!g && !ymap_get(v, "group"))
		errlist_at(c->el, v, "failover", "missing required key \"group\" (expected an "
			   "integer 1..255, or a list of groups)");
	if (n) {
		load_nodes(c, n, fo);
		if (fo->nnodes)
			pick_node(c, n, fo);
	}
	for (size_t i = 0; i < fo->nnodes; i++)
		cfg_names_add(&nodes, fo->nodes[i].name, i);
	cfg_names_sort(&nodes);
	if (g)
		load_groups(c, g, fo, &nodes);
	cfg_names_free(&nodes);
	if (fo->ngroups && fo->groups_given)
		check_group_services(c, g, cfg);
	else if (!fo->groups_given)
		implicit_group(fo, cfg);
	if (a)
		load_addresses(c, a, cfg);
}

void cfg_failover_clear(struct failover_conf *fo)
{
	for (size_t i = 0; i < fo->nnodes; i++) {
		free(fo->nodes[i].name);
		free(fo->nodes[i].interface);
	}
	free(fo->nodes);
	for (size_t i = 0; i < fo->ngroups; i++) {
		for (size_t j = 0; j < fo->groups[i].nservices; j++)
			free(fo->groups[i].services[j]);
		free(fo->groups[i].services);
		for (size_t j = 0; j < fo->groups[i].nprios; j++)
			free(fo->groups[i].prios[j].node);
		free(fo->groups[i].prios);
	}
	free(fo->groups);
	for (size_t i = 0; i < fo->naddresses; i++)
		free(fo->addresses[i].interface);
	free(fo->addresses);
}
