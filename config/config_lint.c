/* config_lint.c - warnings about a valid configuration that is probably not
 * what the operator meant (vigild -t prints them; the daemon logs them):
 *
 * 1. An HTTPS service without a check: a service with port 443 whose file
 *    names no `check:` (neither the service nor defaults). It is probed by
 *    a bare TCP connect, which cannot see Exchange's Managed Availability
 *    taking a virtual directory out (its healthcheck.htm answers 503 while
 *    port 443 still accepts).
 * 2. A long-lived protocol with a short idle timeout: a service on one of
 *    the ports below whose timeouts.client_idle is under 30 minutes. Clients
 *    of these protocols stay idle longer than that on purpose, and vigil
 *    would cut them: ActiveSync direct push and Outlook hold HTTPS requests
 *    up to ~60 min (443), Lync/Skype SIP registrations sit idle between
 *    keep-alives (5061; Microsoft asks for at least 1800 s), IMAP IDLE lasts
 *    up to 29 min (RFC 9051; 143, 993), RPC/TCP Outlook sessions (135).
 *    SMTP (25, 587) and POP3 (110, 995) sessions are short, but a server
 *    may wait 10 min per command (RFC 5321 4.5.3.2, RFC 1939): they are
 *    listed too, so a client_idle under 30 min on a mail VIP is questioned.
 *
 * Pure: reads the tree and the loaded configuration, records warnings. */
#include "config/cfg_internal.h"

#include <stdio.h>

#define LINT_IDLE_MIN_MS (30u * 60u * 1000u)

static const struct {
	uint16_t port;
	const char *why;
} lint_long_lived[] = {
	{ 443, "ActiveSync and Outlook hold HTTPS requests idle up to ~60 min" },
	{ 5061, "SIP/TLS registrations idle between keep-alives (Microsoft: at least 1800 s)" },
	{ 143, "IMAP IDLE lasts up to 29 min" },
	{ 993, "IMAP IDLE lasts up to 29 min" },
	{ 135, "Outlook RPC/TCP sessions idle for long" },
	{ 25, "SMTP servers may wait 10 min per command" },
	{ 587, "SMTP servers may wait 10 min per command" },
	{ 110, "POP3 servers may keep a session 10 min idle" },
	{ 995, "POP3 servers may keep a session 10 min idle" },
};

/* Index in ports of port, or -1. */
static int port_index(const struct service_conf *s, uint16_t port)
{
	for (size_t i = 0; i < s->nports; i++)
		if (s->ports[i] == port)
			return (int)i;
	return -1;
}

static void lint_https_unchecked(struct errlist *wl, const struct ynode *node,
				 const struct ynode *defaults, const char *path,
				 const struct service_conf *s)
{
	const struct ynode *pn = ymap_get(node, "ports");
	int k = port_index(s, 443);
	char kpath[256];

	if (k < 0 || ymap_key(node, "check") || ymap_key(defaults, "check") || !pn ||
	    pn->kind != YNODE_SEQ || (size_t)k >= pn->n)
		return;
	snprintf(kpath, sizeof(kpath), "%s.ports[%d]", path, k);
	errlist_at(wl, pn->kids[k], kpath, "warning: HTTPS port 443 without a check: only a TCP "
		   "connect is probed (expected check: with type https, e.g. path "
		   "/owa/healthcheck.htm for Exchange)");
}

static void lint_idle(struct errlist *wl, const struct ynode *node, const struct ynode *defaults,
		      const char *path, const struct service_conf *s)
{
	const struct ynode *v = ymap_get(ymap_get(node, "timeouts"), "client_idle");
	char kpath[256];

	if (s->timeouts.client_idle_ms >= LINT_IDLE_MIN_MS || s->timeouts.client_idle_ms == 0)
		return;
	snprintf(kpath, sizeof(kpath), "%s.timeouts.client_idle", path);
	if (!v) {
		v = ymap_get(ymap_get(defaults, "timeouts"), "client_idle");
		snprintf(kpath, sizeof(kpath), "defaults.timeouts.client_idle");
	}
	if (!v)
		return;
	for (size_t i = 0; i < sizeof(lint_long_lived) / sizeof(lint_long_lived[0]); i++) {
		if (port_index(s, lint_long_lived[i].port) < 0)
			continue;
		errlist_at(wl, v, kpath, "warning: %s is below 30m for service \"%s\" on port %u "
			   "(%s; expected client_idle of at least 30m)",
			   v->kind == YNODE_SCALAR ? v->text : "this", s->name ? s->name : "?",
			   lint_long_lived[i].port, lint_long_lived[i].why);
		return;
	}
}

void cfg_lint(struct errlist *wl, const struct ynode *root, const struct config *cfg)
{
	const struct ynode *services = ymap_get(root, "services");
	const struct ynode *defaults = ymap_get(root, "defaults");
	char path[64];

	for (size_t i = 0; services && services->kind == YNODE_SEQ && i < services->n &&
	     i < cfg->nservices; i++) {
		const struct ynode *node = services->kids[i];

		if (node->kind != YNODE_MAP)
			continue;
		snprintf(path, sizeof(path), "services[%zu]", i);
		lint_https_unchecked(wl, node, defaults, path, &cfg->services[i]);
		lint_idle(wl, node, defaults, path, &cfg->services[i]);
	}
}
