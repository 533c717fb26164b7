/* rules_nl.c - policy rules and the local routes of our table for
 * transparent services, through libnl-3 rtnl_rule / rtnl_route. */
#include "vip/rules_nl.h"

#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "common/util.h"

enum { FAM_V4, FAM_V6, NFAM };

struct rules_nl {
	struct nl_sock *sk;
	struct rules_nl_key *keys;    /* installed, sorted */
	size_t n, cap;
	bool route[NFAM];             /* our table's local route is installed */
};

/* ---- the wanted set (pure) ---- */

int rules_nl_key_cmp(const struct rules_nl_key *a, const struct rules_nl_key *b)
{
	size_t la, lb;
	const uint8_t *ba = addr_bytes(&a->ip, &la), *bb = addr_bytes(&b->ip, &lb);
	int d;

	if (addr_family(&a->ip) != addr_family(&b->ip))
		return addr_family(&a->ip) < addr_family(&b->ip) ? -1 : 1;
	d = memcmp(ba, bb, la < lb ? la : lb);
	if (d)
		return d;
	return a->port == b->port ? 0 : a->port < b->port ? -1 : 1;
}

static int key_qcmp(const void *a, const void *b)
{
	return rules_nl_key_cmp(a, b);
}

size_t rules_nl_wanted(const struct config *cfg, struct rules_nl_key **out)
{
	struct rules_nl_key *k = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct service_conf *s = &cfg->services[i];

		for (size_t b = 0; s->source_client && b < s->nbackends; b++) {
			for (size_t p = 0; p < s->nports; p++) {
				if (n == cap) {
					cap = cap ? cap * 2 : 8;
					k = xrealloc(k, cap * sizeof(*k));
				}
				k[n].ip = s->backends[b].addr;
				addr_set_port(&k[n].ip, 0);
				k[n].port = cfg_backend_port(&s->backends[b], s->ports[p]);
				n++;
			}
		}
	}
	*out = k;
	return rules_nl_normalize(k, n);
}

size_t rules_nl_normalize(struct rules_nl_key *keys, size_t n)
{
	size_t w = 0;

	if (n)
		qsort(keys, n, sizeof(*keys), key_qcmp);
	for (size_t i = 0; i < n; i++)
		if (!w || rules_nl_key_cmp(&keys[w - 1], &keys[i]) != 0)
			keys[w++] = keys[i];
	return w;
}

/* ---- netlink objects ---- */

static int fam_idx(int family) { return family == AF_INET6 ? FAM_V6 : FAM_V4; }

/* Text for a failed request: what the kernel's answer means for the operator. */
static void nl_err(char *err, size_t errlen, const char *what, int rc)
{
	const char *hint = "";

	if (rc == -NLE_PERM)
		hint = " (vigild needs CAP_NET_ADMIN for source: client)";
	else if (rc == -NLE_OPNOTSUPP || rc == -NLE_INVAL || rc == -NLE_AF_NOSUPPORT ||
		 rc == -NLE_PROTO_MISMATCH)
		hint = " (source: client needs Linux >= 4.17 policy routing: FRA_IP_PROTO, "
		       "FRA_SPORT_RANGE; for IPv6 CONFIG_IPV6_MULTIPLE_TABLES)";
	snprintf(err, errlen, "%s: %s%s", what, nl_geterror(rc), hint);
}

static struct rtnl_rule *rule_obj(const struct rules_nl_key *k)
{
	struct rtnl_rule *ru = rtnl_rule_alloc();
	struct nl_addr *src;
	const uint8_t *bytes;
	size_t len;

	if (!ru)
		return NULL;
	bytes = addr_bytes(&k->ip, &len);
	src = nl_addr_build(addr_family(&k->ip), bytes, len);
	if (!src) {
		rtnl_rule_put(ru);
		return NULL;
	}
	nl_addr_set_prefixlen(src, (int)len * 8);
	rtnl_rule_set_family(ru, addr_family(&k->ip));
	rtnl_rule_set_prio(ru, RULES_NL_PRIO);
	rtnl_rule_set_table(ru, RULES_NL_TABLE);
	rtnl_rule_set_action(ru, FR_ACT_TO_TBL);
	rtnl_rule_set_src(ru, src);
	rtnl_rule_set_ipproto(ru, IPPROTO_TCP);
	rtnl_rule_set_sport(ru, k->port);
	rtnl_rule_set_protocol(ru, RULES_NL_PROTO);
	nl_addr_put(src);
	return ru;
}

static void key_str(const struct rules_nl_key *k, char *out, size_t len)
{
	char ip[ADDR_STRLEN];

	snprintf(out, len, "rule from %s sport %u ipproto tcp lookup %d",
		 addr_ip_str(&k->ip, ip, sizeof(ip)), k->port, RULES_NL_TABLE);
}

static int rule_change(struct rules_nl *r, const struct rules_nl_key *k, bool add, char *err,
		       size_t errlen)
{
	struct rtnl_rule *ru = rule_obj(k);
	char what[160], desc[128];
	int rc;

	if (!ru) {
		snprintf(err, errlen, "netlink: out of memory");
		return -1;
	}
	rc = add ? rtnl_rule_add(r->sk, ru, NLM_F_CREATE | NLM_F_EXCL)
		 : rtnl_rule_delete(r->sk, ru, 0);
	rtnl_rule_put(ru);
	if (add ? rc == -NLE_EXIST : rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NOADDR)
		rc = 0;
	if (rc < 0) {
		key_str(k, desc, sizeof(desc));
		snprintf(what, sizeof(what), "%s %s", add ? "add" : "remove", desc);
		nl_err(err, errlen, what, rc);
		return -1;
	}
	return 0;
}

/* Our table's "local 0.0.0.0/0 dev lo" (or ::/0). */
static struct rtnl_route *route_obj(int family)
{
	static const uint8_t zero[16];
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh;
	struct nl_addr *dst;
	int lo = (int)if_nametoindex("lo");

	if (!rt)
		return NULL;
	dst = nl_addr_build(family, zero, family == AF_INET6 ? 16 : 4);
	nh = rtnl_route_nh_alloc();
	if (!dst || !nh || !lo) {
		if (dst)
			nl_addr_put(dst);
		if (nh)
			rtnl_route_nh_free(nh);
		rtnl_route_put(rt);
		return NULL;
	}
	nl_addr_set_prefixlen(dst, 0);
	rtnl_route_set_family(rt, (uint8_t)family);
	rtnl_route_set_table(rt, RULES_NL_TABLE);
	rtnl_route_set_type(rt, RTN_LOCAL);
	rtnl_route_set_scope(rt, RT_SCOPE_HOST);
	rtnl_route_set_protocol(rt, RULES_NL_PROTO);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_nh_set_ifindex(nh, lo);
	rtnl_route_add_nexthop(rt, nh);
	nl_addr_put(dst);
	return rt;
}

static int route_change(struct rules_nl *r, int family, bool add, char *err, size_t errlen)
{
	struct rtnl_route *rt = route_obj(family);
	char what[96];
	int rc;

	if (!rt) {
		snprintf(err, errlen, "netlink: out of memory (or no loopback interface)");
		return -1;
	}
	rc = add ? rtnl_route_add(r->sk, rt, NLM_F_CREATE | NLM_F_REPLACE)
		 : rtnl_route_delete(r->sk, rt, 0);
	rtnl_route_put(rt);
	if (!add && (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NOADDR))
		rc = 0;
	if (rc < 0) {
		snprintf(what, sizeof(what), "%s local %s dev lo table %d", add ? "add" : "remove",
			 family == AF_INET6 ? "::/0" : "0.0.0.0/0", RULES_NL_TABLE);
		nl_err(err, errlen, what, rc);
		return -1;
	}
	r->route[fam_idx(family)] = add;
	return 0;
}

/* ---- the interface ---- */

struct rules_nl *rules_nl_open(char *err, size_t errlen)
{
	struct rules_nl *r = xcalloc(1, sizeof(*r));
	int rc;

	r->sk = nl_socket_alloc();
	if (!r->sk) {
		snprintf(err, errlen, "netlink: out of memory");
		free(r);
		return NULL;
	}
	rc = nl_connect(r->sk, NETLINK_ROUTE);
	if (rc < 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(rc));
		nl_socket_free(r->sk);
		free(r);
		return NULL;
	}
	return r;
}

struct flush_ctx {
	struct nl_sock *sk;
	size_t removed;
	int rc;
};

static void flush_one(struct nl_object *obj, void *arg)
{
	struct rtnl_rule *ru = (struct rtnl_rule *)obj;
	struct flush_ctx *f = arg;
	uint8_t proto = 0;
	int rc;

	if (f->rc < 0 || rtnl_rule_get_protocol(ru, &proto) < 0 || proto != RULES_NL_PROTO)
		return;
	rc = rtnl_rule_delete(f->sk, ru, 0);
	if (rc < 0 && rc != -NLE_OBJ_NOTFOUND)
		f->rc = rc;
	else
		f->removed++;
}

int rules_nl_flush(struct rules_nl *r, size_t *removed, char *err, size_t errlen)
{
	static const int fams[NFAM] = { AF_INET, AF_INET6 };
	struct flush_ctx f = { .sk = r->sk };
	struct nl_cache *cache = NULL;

	*removed = 0;
	for (int i = 0; i < NFAM; i++) {
		int rc = rtnl_rule_alloc_cache(r->sk, fams[i], &cache);

		if (rc < 0) {
			if (fams[i] == AF_INET6 && rc == -NLE_AF_NOSUPPORT)
				continue;     /* no IPv6 here: no IPv6 leftovers */
			nl_err(err, errlen, "list policy rules", rc);
			return -1;
		}
		nl_cache_foreach(cache, flush_one, &f);
		nl_cache_free(cache);
		if (f.rc < 0) {
			nl_err(err, errlen, "remove a policy rule left by an earlier run", f.rc);
			return -1;
		}
		/* the table is ours: its local route goes too; absent (or, without
		 * the capability, not removable) is harmless with no rule to it */
		route_change(r, fams[i], false, err, errlen);
	}
	*removed = f.removed;
	return 0;
}

static bool key_in(const struct rules_nl_key *k, const struct rules_nl_key *set, size_t n)
{
	return n && bsearch(k, set, n, sizeof(*set), key_qcmp) != NULL;
}

static bool family_wanted(int family, const struct rules_nl_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (addr_family(&keys[i].ip) == family)
			return true;
	return false;
}

/* Insert k into the installed set, keeping it sorted. */
static void installed_add(struct rules_nl *r, const struct rules_nl_key *k)
{
	size_t i = r->n;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->keys = xrealloc(r->keys, r->cap * sizeof(*r->keys));
	}
	while (i > 0 && rules_nl_key_cmp(&r->keys[i - 1], k) > 0) {
		r->keys[i] = r->keys[i - 1];
		i--;
	}
	r->keys[i] = *k;
	r->n++;
}

/* Routes follow the rules: present for a family while it has a rule. */
static int routes_sync(struct rules_nl *r, const struct rules_nl_key *keys, size_t n, bool add,
		       char *err, size_t errlen)
{
	static const int fams[NFAM] = { AF_INET, AF_INET6 };

	for (int i = 0; i < NFAM; i++) {
		bool want = family_wanted(fams[i], keys, n);

		if (add && want && !r->route[i] && route_change(r, fams[i], true, err, errlen) < 0)
			return -1;
		if (!add && !want && r->route[i] &&
		    route_change(r, fams[i], false, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int rules_nl_sync(struct rules_nl *r, const struct rules_nl_key *want, size_t n, char *err,
		  size_t errlen)
{
	size_t w = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (key_in(&r->keys[i], want, n)) {
			r->keys[w++] = r->keys[i];
		} else if (rule_change(r, &r->keys[i], false, err, errlen) < 0) {
			while (i < r->n)      /* keep what is still installed */
				r->keys[w++] = r->keys[i++];
			r->n = w;
			return -1;
		}
	}
	r->n = w;
	if (routes_sync(r, want, n, true, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (key_in(&want[i], r->keys, r->n))
			continue;
		if (rule_change(r, &want[i], true, err, errlen) < 0)
			return -1;
		installed_add(r, &want[i]);
	}
	return routes_sync(r, want, n, false, err, errlen);
}

size_t rules_nl_count(const struct rules_nl *r)
{
	return r ? r->n : 0;
}

int rules_nl_close(struct rules_nl *r, char *err, size_t errlen)
{
	int rc;

	if (!r)
		return 0;
	rc = rules_nl_sync(r, NULL, 0, err, errlen);
	nl_socket_free(r->sk);
	free(r->keys);
	free(r);
	return rc;
}
