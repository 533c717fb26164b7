/* rules_nl.h - the policy routing of transparent services (source: client),
 * through rtnetlink (libnl-3 rtnl_rule / rtnl_route).
 *
 * A backend connection bound to the client's address gets its replies as
 * packets from BACKEND:PORT to the client: not for this host by the main
 * table. For each backend address and port of a source: client service one
 * rule
 *     from BACKEND/32 (/128) ipproto tcp sport PORT  lookup RULES_NL_TABLE
 * hands them to a table of our own that holds only
 *     local 0.0.0.0/0 dev lo    (and local ::/0 dev lo)
 * so they are delivered to the transparent socket. Rules and routes carry
 * protocol RULES_NL_PROTO (as the VIPs carry IFA_PROTO), so a later run
 * removes the leftovers of a crashed one. Needs CAP_NET_ADMIN and Linux
 * >= 4.17 (FRA_IP_PROTO, FRA_SPORT_RANGE, FRA_PROTOCOL).
 */
#ifndef VIGIL_RULES_NL_H
#define VIGIL_RULES_NL_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "config/config.h"

#define RULES_NL_TABLE 7789       /* our routing table */
#define RULES_NL_PRIO  7789       /* our rules' priority: after local (0), before main (32766) */
#define RULES_NL_PROTO 0x76       /* 'v': FRA_PROTOCOL / rtm_protocol of our rules and routes */

/* One rule: replies from ip:port over TCP go to our table. */
struct rules_nl_key {
	struct addr ip;               /* port 0 */
	uint16_t port;
};

struct rules_nl;

/* The rules cfg needs: every backend address with every port it is reached
 * on, of each source: client service; sorted, each once. Returns the count,
 * the array in *out (NULL when 0; the caller frees it). Pure. */
size_t rules_nl_wanted(const struct config *cfg, struct rules_nl_key **out);
/* Sort keys[0..n) and drop repeats; returns the new count. */
size_t rules_nl_normalize(struct rules_nl_key *keys, size_t n);
/* Order of keys (family, address bytes, port), as rules_nl_wanted sorts. */
int rules_nl_key_cmp(const struct rules_nl_key *a, const struct rules_nl_key *b);

/* Open a netlink request socket. NULL with err. */
struct rules_nl *rules_nl_open(char *err, size_t errlen);
/* Remove every tagged rule and our table's local routes (what a crashed run
 * left); *removed counts the rules. 0, or -1 with err. */
int rules_nl_flush(struct rules_nl *r, size_t *removed, char *err, size_t errlen);
/* Make the installed rules exactly want[0..n) (sorted, as rules_nl_wanted
 * gives): remove the others, add the missing ones, and keep our table's
 * local route of a family while a rule of that family exists. On error
 * what is installed stays known (a later sync or close cleans it).
 * 0, or -1 with err naming the missing capability or kernel feature. */
int rules_nl_sync(struct rules_nl *r, const struct rules_nl_key *want, size_t n, char *err,
		  size_t errlen);
/* Rules installed now. */
size_t rules_nl_count(const struct rules_nl *r);
/* Remove every rule and route this run added, and free r (NULL: nothing).
 * 0, or -1 with err when something could not be removed (r is freed anyway). */
int rules_nl_close(struct rules_nl *r, char *err, size_t errlen);

#endif
