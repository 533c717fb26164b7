/* peer_table.c - sender table and replay state (see peer_table.h). */
#include "vip/peer_table.h"

#include <stdio.h>
#include <string.h>

static bool retired(const struct peer_replay *r, uint64_t boot)
{
	for (size_t i = 0; i < r->nretired; i++)
		if (r->retired[i] == boot)
			return true;
	return false;
}

static struct peer_boot *live(const struct peer_replay *r, uint64_t boot)
{
	for (size_t i = 0; i < r->nlive; i++)
		if (r->live[i].id == boot)
			return (struct peer_boot *)&r->live[i];
	return NULL;
}

bool peer_replay_is_live(const struct peer_replay *r, uint64_t boot)
{
	return live(r, boot) != NULL;
}

/* Where a new boot goes: a free slot, else the live boot silent the longest
 * if that is `stale` seconds or more; -1 when every slot is in use. */
static int new_slot(const struct peer_replay *r, double now, double stale)
{
	int best = -1;

	if (r->nlive < PEER_BOOTS_LIVE)
		return (int)r->nlive;
	for (size_t i = 0; i < r->nlive; i++)
		if (now - r->live[i].last >= stale &&
		    (best < 0 || r->live[i].last < r->live[best].last))
			best = (int)i;
	return best;
}

enum peer_reject peer_replay_peek(const struct peer_replay *r, uint64_t boot, uint64_t seq,
				  double now, double stale, const char **why)
{
	const struct peer_boot *b = live(r, boot);

	*why = "";
	if (b) {
		*why = "sequence not newer";
		return seq > b->seq ? PEER_OK : PEER_REJ_REPLAY;
	}
	if (retired(r, boot)) {
		*why = "retired boot";
		return PEER_REJ_REPLAY;
	}
	if (new_slot(r, now, stale) < 0) {
		*why = "a new boot while the node's last boots are still heard";
		return PEER_REJ_REPLAY;
	}
	return PEER_OK;
}

enum peer_reject peer_replay_check(struct peer_replay *r, uint64_t boot, uint64_t seq,
				   double now, double stale, bool *restarted)
{
	struct peer_boot *b = live(r, boot);
	const char *why;
	int slot;

	*restarted = false;
	if (peer_replay_peek(r, boot, seq, now, stale, &why) != PEER_OK)
		return PEER_REJ_REPLAY;
	if (!b) {
		slot = new_slot(r, now, stale);
		if ((size_t)slot < r->nlive) {        /* retire the stale boot for good */
			r->retired[r->next] = r->live[slot].id;
			r->next = (r->next + 1) % PEER_BOOTS_RETIRED;
			if (r->nretired < PEER_BOOTS_RETIRED)
				r->nretired++;
		} else {
			r->nlive++;
		}
		*restarted = r->boot != 0;
		r->restarts += *restarted;
		b = &r->live[slot];
		b->id = boot;
	}
	b->seq = seq;
	b->last = now;
	r->boot = boot;
	r->seq = seq;
	return PEER_OK;
}

struct peer_sender *peer_table_find_addr(struct peer_table *t, const struct addr *a)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].node[0] || t->s[i].configured)
			if (addr_equal_ip(&t->s[i].addr, a))
				return &t->s[i];
	return NULL;
}

static struct peer_sender *find_node(struct peer_table *t, const char *node)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].node[0] && strcmp(t->s[i].node, node) == 0)
			return &t->s[i];
	return NULL;
}

void peer_table_sync(struct peer_table *t, const struct addr *peers, size_t npeers,
		     char *const *names, double boot_stale_s)
{
	struct peer_table old = *t;
	size_t n = 0;

	t->multicast = npeers == 0;
	t->boot_stale_s = boot_stale_s;
	for (size_t i = 0; i < npeers && n < PEER_MAX_SENDERS; i++) {
		struct peer_sender *o = peer_table_find_addr(&old, &peers[i]);
		const char *name = names && names[i] ? names[i] : NULL;

		if (o && o->configured && (!name || strcmp(o->node, name) == 0)) {
			t->s[n] = *o;
		} else {
			memset(&t->s[n], 0, sizeof(t->s[n]));
			t->s[n].addr = peers[i];
			addr_set_port(&t->s[n].addr, 0);
			t->s[n].configured = true;
		}
		t->s[n].bound = name != NULL;
		if (name)
			snprintf(t->s[n].node, sizeof(t->s[n].node), "%s", name);
		n++;
	}
	if (t->multicast)             /* keep what we learnt */
		for (size_t i = 0; i < old.n && n < PEER_MAX_SENDERS; i++)
			if (!old.s[i].configured)
				t->s[n++] = old.s[i];
	t->n = n;
}

/* Multicast: a slot for a new node - a free one, or the learnt entry silent
 * the longest if that is PEER_STALE_S or more; NULL when none. */
static struct peer_sender *free_slot(struct peer_table *t, double now)
{
	struct peer_sender *best = NULL;

	if (t->n < PEER_MAX_SENDERS) {
		memset(&t->s[t->n], 0, sizeof(t->s[t->n]));
		return &t->s[t->n];
	}
	for (size_t i = 0; i < t->n; i++) {
		struct peer_sender *s = &t->s[i];

		if (s->configured || (s->heard && now - s->last_seen < PEER_STALE_S))
			continue;
		if (!best || s->last_seen < best->last_seen)
			best = s;
	}
	return best;
}

static enum peer_reject fail(enum peer_reject r, char *err, size_t errlen, const char *fmt,
			     const char *a, const char *b)
{
	snprintf(err, errlen, fmt, a, b);
	return r;
}

/* Unicast: the configured entry for from, bound to m->node (or free to be). */
static enum peer_reject admit_unicast(struct peer_table *t, const struct addr *from,
				      const struct peer_msg *m, struct peer_sender **out,
				      char *err, size_t errlen)
{
	struct peer_sender *s = peer_table_find_addr(t, from);
	struct peer_sender *named = find_node(t, m->node);
	char ip[ADDR_STRLEN];

	if (named && named->bound && named != s)
		return fail(PEER_REJ_ADDRESS, err, errlen, "claims node %s, configured at %s",
			    m->node, addr_ip_str(&named->addr, ip, sizeof(ip)));
	if (!s)
		return fail(PEER_REJ_UNKNOWN, err, errlen, "claims node %s%s from an address not "
			    "in failover.peers", m->node, "");
	if (s->node[0] && strcmp(s->node, m->node) != 0)
		return fail(PEER_REJ_UNKNOWN, err, errlen,
			    "claims node %s, this address is node %s", m->node, s->node);
	if (named && named != s)
		return fail(PEER_REJ_ADDRESS, err, errlen, "claims node %s, which is heard from "
			    "another address%s", m->node, "");
	*out = s;
	return PEER_OK;
}

/* Multicast: the entry learnt for m->node, or a slot for it. */
static enum peer_reject admit_multicast(struct peer_table *t, const struct addr *from,
					const struct peer_msg *m, double now,
					struct peer_sender **out, char *err, size_t errlen)
{
	struct peer_sender *s = find_node(t, m->node);
	char ip[ADDR_STRLEN];

	if (s) {
		const struct peer_boot *b = live(&s->replay, m->boot);

		if (b && !addr_equal_ip(&b->from, from))
			return fail(PEER_REJ_ADDRESS, err, errlen, "claims node %s, heard from %s",
				    m->node, addr_ip_str(&b->from, ip, sizeof(ip)));
		*out = s;
		return PEER_OK;
	}
	s = free_slot(t, now);
	if (!s)
		return fail(PEER_REJ_TABLE_FULL, err, errlen, "new node %s, but %s", m->node,
			    "the sender table is full of live nodes");
	*out = s;
	return PEER_OK;
}

/* Bind a (possibly new or recycled) entry to m and from. */
static void bind_entry(struct peer_table *t, struct peer_sender *s, const struct addr *from,
		 const struct peer_msg *m)
{
	if (s == &t->s[t->n])
		t->n++;
	if (strcmp(s->node, m->node) != 0) {      /* new or recycled */
		bool configured = s->configured;
		struct addr a = s->addr;

		memset(s, 0, sizeof(*s));
		s->configured = configured;
		s->addr = a;
		snprintf(s->node, sizeof(s->node), "%s", m->node);
	}
	if (!s->configured) {
		s->addr = *from;
		addr_set_port(&s->addr, 0);
	}
}

bool peer_names_self(const struct peer_self *self, const struct peer_msg *m)
{
	return strcmp(m->node, self->node) == 0 || m->boot == self->boot;
}

enum peer_reject peer_table_admit(struct peer_table *t, const struct peer_self *self,
				  const struct addr *from, const struct peer_msg *m, double now,
				  struct peer_sender **out, bool *restarted, char *err,
				  size_t errlen)
{
	struct peer_sender *s = NULL;
	const char *why;
	enum peer_reject r;
	bool fresh;

	*restarted = false;
	if (peer_names_self(self, m))
		return fail(PEER_REJ_REFLECTED, err, errlen, "names this node (%s%s)",
			    strcmp(m->node, self->node) == 0 ? m->node : "our boot ID", "");
	r = t->multicast ? admit_multicast(t, from, m, now, &s, err, errlen)
			 : admit_unicast(t, from, m, &s, err, errlen);
	if (r != PEER_OK)
		return r;
	fresh = strcmp(s->node, m->node) != 0;
	if (!fresh &&
	    peer_replay_peek(&s->replay, m->boot, m->seq, now, t->boot_stale_s, &why) != PEER_OK) {
		snprintf(err, errlen, "node %s boot %016llx seq %llu: %s", m->node,
			 (unsigned long long)m->boot, (unsigned long long)m->seq, why);
		return PEER_REJ_REPLAY;
	}
	bind_entry(t, s, from, m);
	peer_replay_check(&s->replay, m->boot, m->seq, now, t->boot_stale_s, restarted);
	live(&s->replay, m->boot)->from = *from;
	addr_set_port(&live(&s->replay, m->boot)->from, 0);
	*out = s;
	return PEER_OK;
}
