/* addr_nl.h - VIPs on an interface through rtnetlink (libnl-3), and the
 * netlink events failover reacts to (link up/down, address removed).
 *
 * Our addresses are tagged so a later run, or the watcher, recognises them:
 * IFA_PROTO = ADDR_NL_PROTO on both families (kept by Linux >= 6.1), plus, on
 * IPv4, the label "<ifname>:vgl" when it fits in IFNAMSIZ. IPv6 VIPs are added
 * with IFA_F_NODAD (we do our own duplicate check before claiming).
 */
#ifndef VIGIL_ADDR_NL_H
#define VIGIL_ADDR_NL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "vip/peer_vip.h"

#define ADDR_NL_PROTO 0x76        /* 'v': our value of IFA_PROTO */
#define ADDR_NL_LABEL_SUFFIX ":vgl"

struct nl_sock;

struct addr_nl {
	struct nl_sock *sk;
	int ifindex;
	char ifname[IF_NAMESIZE];
	char label[IF_NAMESIZE];      /* "" when ifname is too long for a label */
};

enum addr_nl_kind { ADDR_NL_LINK, ADDR_NL_ADDR_NEW, ADDR_NL_ADDR_DEL };

/* One parsed rtnetlink notification or dump entry. */
struct addr_nl_event {
	enum addr_nl_kind kind;
	int ifindex;
	unsigned int link_flags;      /* ADDR_NL_LINK: IFF_* */
	struct peer_vip vip;          /* ADDR_NL_ADDR_*: the address */
	bool tagged;                  /* ADDR_NL_ADDR_*: one of ours */
};

typedef void addr_nl_event_fn(const struct addr_nl_event *ev, void *arg);

/* Open a request socket for interface ifname. 0, or -1 with err. */
int addr_nl_open(struct addr_nl *a, const char *ifname, char *err, size_t errlen);
void addr_nl_close(struct addr_nl *a);

/* Add v, tagged; already present counts as success. 0, or -1 with err. */
int addr_nl_add(struct addr_nl *a, const struct peer_vip *v, char *err, size_t errlen);
/* Remove v; already absent counts as success. 0, or -1 with err. */
int addr_nl_del(struct addr_nl *a, const struct peer_vip *v, char *err, size_t errlen);
/* Is v on the interface now? 1, 0, or -1 with err. */
int addr_nl_has(struct addr_nl *a, const struct peer_vip *v, char *err, size_t errlen);
/* Remove every tagged address from the interface; *removed counts them.
 * 0, or -1 with err. */
int addr_nl_flush_tagged(struct addr_nl *a, size_t *removed, char *err, size_t errlen);
/* The first IPv4 (or IPv6 if family says so) address on the interface that
 * is not tagged: the node's own address. 0, or -1 when there is none. */
int addr_nl_primary(struct addr_nl *a, int family, struct addr *out);
/* IFF_* flags of the interface, or -1 with err. */
int addr_nl_link_flags(const struct addr_nl *a, char *err, size_t errlen);

/* A non-blocking socket subscribed to link and address events; its fd is in
 * *fd. NULL with err on failure. Free with addr_nl_watch_close(). */
struct nl_sock *addr_nl_watch_open(int *fd, char *err, size_t errlen);
void addr_nl_watch_close(struct nl_sock *sk);
/* Read what is pending and call fn for each event. 0, or -1 when events were
 * lost (ENOBUFS): the caller should re-read the state it depends on. */
int addr_nl_watch_read(struct nl_sock *sk, addr_nl_event_fn *fn, void *arg);

#endif
