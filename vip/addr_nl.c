/* addr_nl.c - VIPs on an interface through libnl-3 rtnl_addr, and netlink events. */
#include "vip/addr_nl.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/rtnl.h>

#include "common/util.h"

/* What a dump or an event read hands to the parser. */
struct parse_ctx {
	addr_nl_event_fn *fn;
	void *arg;
	int ifindex;                  /* 0: every interface */
};

static bool label_is_ours(const char *label)
{
	size_t n = strlen(label), s = strlen(ADDR_NL_LABEL_SUFFIX);

	return n > s && strcmp(label + n - s, ADDR_NL_LABEL_SUFFIX) == 0;
}

static int parse_addr(struct nlmsghdr *h, struct addr_nl_event *ev)
{
	struct ifaddrmsg *ifa = nlmsg_data(h);
	struct nlattr *tb[IFA_MAX + 1];
	struct nlattr *ip;
	size_t len = ifa->ifa_family == AF_INET ? 4 : 16;
	uint8_t raw[16];

	if (nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return -1;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return -1;
	ip = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!ip || nla_len(ip) < (int)len)
		return -1;
	memcpy(raw, nla_data(ip), len);
	ev->kind = h->nlmsg_type == RTM_DELADDR ? ADDR_NL_ADDR_DEL : ADDR_NL_ADDR_NEW;
	ev->ifindex = (int)ifa->ifa_index;
	memset(&ev->vip, 0, sizeof(ev->vip));
	ev->vip.ip.ss.ss_family = ifa->ifa_family;
	if (ifa->ifa_family == AF_INET) {
		memcpy(&((struct sockaddr_in *)&ev->vip.ip.ss)->sin_addr, raw, 4);
		ev->vip.ip.len = sizeof(struct sockaddr_in);
	} else {
		memcpy(&((struct sockaddr_in6 *)&ev->vip.ip.ss)->sin6_addr, raw, 16);
		ev->vip.ip.len = sizeof(struct sockaddr_in6);
	}
	ev->vip.prefix = ifa->ifa_prefixlen;
	ev->tagged = (tb[IFA_PROTO] && nla_get_u8(tb[IFA_PROTO]) == ADDR_NL_PROTO) ||
		     (tb[IFA_LABEL] && label_is_ours(nla_get_string(tb[IFA_LABEL])));
	return 0;
}

static int parse_cb(struct nl_msg *msg, void *arg)
{
	struct parse_ctx *c = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct addr_nl_event ev;

	memset(&ev, 0, sizeof(ev));
	switch (h->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK: {
		struct ifinfomsg *ifi = nlmsg_data(h);

		ev.kind = ADDR_NL_LINK;
		ev.ifindex = ifi->ifi_index;
		ev.link_flags = h->nlmsg_type == RTM_DELLINK ? 0 : ifi->ifi_flags;
		break;
	}
	case RTM_NEWADDR:
	case RTM_DELADDR:
		if (parse_addr(h, &ev) < 0)
			return NL_OK;
		break;
	default:
		return NL_OK;
	}
	if (!c->ifindex || ev.ifindex == c->ifindex)
		c->fn(&ev, c->arg);
	return NL_OK;
}

int addr_nl_open(struct addr_nl *a, const char *ifname, char *err, size_t errlen)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (strlen(ifname) >= sizeof(a->ifname)) {
		snprintf(err, errlen, "interface name %s too long", ifname);
		return -1;
	}
	strcpy(a->ifname, ifname);
	a->ifindex = (int)if_nametoindex(ifname);
	if (a->ifindex == 0) {
		snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
		return -1;
	}
	if (strlen(ifname) + strlen(ADDR_NL_LABEL_SUFFIX) < sizeof(a->label))
		snprintf(a->label, sizeof(a->label), "%s%s", ifname, ADDR_NL_LABEL_SUFFIX);
	a->sk = nl_socket_alloc();
	if (!a->sk) {
		snprintf(err, errlen, "netlink: out of memory");
		return -1;
	}
	rc = nl_connect(a->sk, NETLINK_ROUTE);
	if (rc < 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(rc));
		nl_socket_free(a->sk);
		a->sk = NULL;
		return -1;
	}
	return 0;
}

void addr_nl_close(struct addr_nl *a)
{
	if (a->sk)
		nl_socket_free(a->sk);
	a->sk = NULL;
}

/* A libnl address object for v on our interface. */
static struct rtnl_addr *addr_obj(const struct addr_nl *a, const struct peer_vip *v)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local;
	const uint8_t *bytes;
	size_t n;
	int fam = addr_family(&v->ip);

	if (!ra)
		return NULL;
	bytes = addr_bytes(&v->ip, &n);
	local = nl_addr_build(fam, bytes, n);
	if (!local) {
		rtnl_addr_put(ra);
		return NULL;
	}
	nl_addr_set_prefixlen(local, v->prefix);
	rtnl_addr_set_ifindex(ra, a->ifindex);
	rtnl_addr_set_family(ra, fam);
	rtnl_addr_set_local(ra, local);
	rtnl_addr_set_prefixlen(ra, v->prefix);
	nl_addr_put(local);
	return ra;
}

static int send_ack(struct addr_nl *a, struct nl_msg *msg)
{
	int rc = nl_send_auto_complete(a->sk, msg);

	nlmsg_free(msg);
	if (rc < 0)
		return rc;
	return nl_wait_for_ack(a->sk);
}

int addr_nl_add(struct addr_nl *a, const struct peer_vip *v, char *err, size_t errlen)
{
	struct rtnl_addr *ra = addr_obj(a, v);
	struct nl_msg *msg = NULL;
	char ip[ADDR_STRLEN];
	int rc;

	if (!ra) {
		snprintf(err, errlen, "netlink: out of memory");
		return -1;
	}
	if (addr_family(&v->ip) == AF_INET && a->label[0])
		rtnl_addr_set_label(ra, a->label);
	if (addr_family(&v->ip) == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	rc = rtnl_addr_build_add_request(ra, NLM_F_CREATE | NLM_F_REPLACE, &msg);
	rtnl_addr_put(ra);
	if (rc >= 0 && nla_put_u8(msg, IFA_PROTO, ADDR_NL_PROTO) < 0)
		rc = -NLE_NOMEM;
	if (rc >= 0)
		rc = send_ack(a, msg);
	else if (msg)
		nlmsg_free(msg);
	if (rc < 0 && rc != -NLE_EXIST) {
		snprintf(err, errlen, "add %s/%d on %s: %s", addr_ip_str(&v->ip, ip, sizeof(ip)),
			 v->prefix, a->ifname, nl_geterror(rc));
		return -1;
	}
	return 0;
}

int addr_nl_del(struct addr_nl *a, const struct peer_vip *v, char *err, size_t errlen)
{
	struct rtnl_addr *ra = addr_obj(a, v);
	struct nl_msg *msg = NULL;
	char ip[ADDR_STRLEN];
	int rc;

	if (!ra) {
		snprintf(err, errlen, "netlink: out of memory");
		return -1;
	}
	rc = rtnl_addr_build_delete_request(ra, 0, &msg);
	rtnl_addr_put(ra);
	if (rc >= 0)
		rc = send_ack(a, msg);
	if (rc < 0 && rc != -NLE_NOADDR && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NODEV) {
		snprintf(err, errlen, "remove %s/%d from %s: %s",
			 addr_ip_str(&v->ip, ip, sizeof(ip)), v->prefix, a->ifname, nl_geterror(rc));
		return -1;
	}
	return 0;
}

/* Dump the addresses of our interface through fn. 0, or -1 with err. */
static int dump_addrs(struct addr_nl *a, addr_nl_event_fn *fn, void *arg, char *err,
		      size_t errlen)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	struct parse_ctx c = { .fn = fn, .arg = arg, .ifindex = a->ifindex };
	int rc;

	nl_socket_modify_cb(a->sk, NL_CB_VALID, NL_CB_CUSTOM, parse_cb, &c);
	rc = nl_send_simple(a->sk, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	if (rc >= 0)
		rc = nl_recvmsgs_default(a->sk);
	nl_socket_modify_cb(a->sk, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "list addresses of %s: %s", a->ifname, nl_geterror(rc));
		return -1;
	}
	return 0;
}

struct addr_list {
	struct addr_nl_event *e;
	size_t n, cap;
};

static void collect_cb(const struct addr_nl_event *ev, void *arg)
{
	struct addr_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	l->e[l->n++] = *ev;
}

int addr_nl_has(struct addr_nl *a, const struct peer_vip *v, char *err, size_t errlen)
{
	struct addr_list l = { 0 };
	int found = 0;

	if (dump_addrs(a, collect_cb, &l, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++)
		if (addr_equal_ip(&l.e[i].vip.ip, &v->ip))
			found = 1;
	free(l.e);
	return found;
}

int addr_nl_flush_tagged(struct addr_nl *a, size_t *removed, char *err, size_t errlen)
{
	struct addr_list l = { 0 };
	int rc = 0;

	*removed = 0;
	if (dump_addrs(a, collect_cb, &l, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		if (!l.e[i].tagged)
			continue;
		if (addr_nl_del(a, &l.e[i].vip, err, errlen) < 0)
			rc = -1;
		else
			(*removed)++;
	}
	free(l.e);
	return rc;
}

static bool usable_own(const struct peer_vip *v)
{
	const uint8_t *b;
	size_t n;

	b = addr_bytes(&v->ip, &n);
	if (n == 4)
		return b[0] != 127;
	return !(b[0] == 0xfe && (b[1] & 0xc0) == 0x80);   /* not link-local */
}

int addr_nl_primary(struct addr_nl *a, int family, struct addr *out)
{
	struct addr_list l = { 0 };
	char err[256];
	int rc = -1;

	if (dump_addrs(a, collect_cb, &l, err, sizeof(err)) < 0)
		return -1;
	for (size_t i = 0; i < l.n && rc < 0; i++) {
		if (!l.e[i].tagged && addr_family(&l.e[i].vip.ip) == family &&
		    usable_own(&l.e[i].vip)) {
			*out = l.e[i].vip.ip;
			rc = 0;
		}
	}
	free(l.e);
	return rc;
}

int addr_nl_link_flags(const struct addr_nl *a, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->ifname);
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc < 0)
		snprintf(err, errlen, "interface %s: %s", a->ifname, strerror(errno));
	close(fd);
	return rc < 0 ? -1 : (unsigned short)ifr.ifr_flags;
}

static int seq_ok_cb(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

struct nl_sock *addr_nl_watch_open(int *fd, char *err, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();
	int rc;

	if (!sk) {
		snprintf(err, errlen, "netlink: out of memory");
		return NULL;
	}
	nl_socket_disable_seq_check(sk);
	rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc >= 0)
		rc = nl_socket_add_memberships(sk, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
					       RTNLGRP_IPV6_IFADDR, 0);
	if (rc >= 0)
		rc = nl_socket_set_nonblocking(sk);
	if (rc < 0) {
		snprintf(err, errlen, "netlink events: %s", nl_geterror(rc));
		nl_socket_free(sk);
		return NULL;
	}
	nl_socket_set_buffer_size(sk, 1 << 20, 0);
	*fd = nl_socket_get_fd(sk);
	return sk;
}

void addr_nl_watch_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

int addr_nl_watch_read(struct nl_sock *sk, addr_nl_event_fn *fn, void *arg)
{
	struct parse_ctx c = { .fn = fn, .arg = arg };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int rc = 0;

	if (!cb)
		return -1;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, parse_cb, &c);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, seq_ok_cb, NULL);
	for (int i = 0; i < 256; i++) {
		rc = nl_recvmsgs_report(sk, cb);
		if (rc <= 0)
			break;
	}
	nl_cb_put(cb);
	return rc == -NLE_NOMEM ? -1 : 0;
}
