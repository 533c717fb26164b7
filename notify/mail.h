/* mail.h - one delivery attempt of a notification mail, spoken through the
 * project's one outbound client core (checks/probe.h): the SMTP dialogue is a
 * set of probe hooks, the core does connect, line I/O, the TLS upgrade and
 * the single deadline.
 *
 * Dialogue: 220 banner, EHLO, STARTTLS when the relay offers it
 * (opportunistic; the certificate is verified only with msg.verify; or TLS
 * from the first byte with implicit_tls), EHLO again, AUTH when the message has a user
 * name and the relay offers AUTH, MAIL FROM, RCPT TO for every recipient,
 * DATA, the text and ".", then QUIT.
 *
 * AUTH: PLAIN when offered, else LOGIN, and only over TLS: a relay that
 * offers AUTH on a clear-text connection (no STARTTLS) gets no credentials,
 * the attempt fails at once as permanent ("not sent in clear text"). So does
 * a relay offering only mechanisms vigil does not speak, or refusing the
 * credentials (5xx). A relay that offers no AUTH gets none (it did not ask).
 * The client
 * never pipelines, so a relay that sends bytes beyond the complete reply to
 * the last command (e.g. pipelined after its 220 to STARTTLS: response
 * injection) is refused: the attempt fails and nothing more is sent.
 */
#ifndef VIGIL_NOTIFY_MAIL_H
#define VIGIL_NOTIFY_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

struct probe_ctx;
struct mail_send;

/* What to deliver; borrowed: must stay valid until the attempt ends. */
struct mail_msg {
	struct addr relay;            /* host:port of the relay */
	const char *from;
	char *const *to;
	size_t nto;                   /* at least 1 */
	const char *text;             /* headers + body, CRLF, dot-stuffed, no final "." */
	const char *username;         /* SMTP AUTH, NULL: none */
	const char *password;         /* with username */
	bool implicit_tls;            /* TLS from the first byte (SMTPS, port 465) */
	bool verify;                  /* check the relay's certificate: against ca_file
					 (NULL: the system store), for host (NULL: the
					 relay's IP address) */
	const char *ca_file;
	const char *host;
};

/* EHLO's AUTH extension (mail_ehlo_auth). */
#define MAIL_AUTH_OFFERED 1u          /* an AUTH line was there */
#define MAIL_AUTH_PLAIN 2u
#define MAIL_AUTH_LOGIN 4u

/* The end of an attempt; permanent: trying again cannot help (credentials
 * refused or never to be sent in clear text). Called from inside the
 * client core: free s only from a later event (a timer), never from here. */
typedef void mail_done_fn(struct mail_send *s, bool ok, bool permanent, const char *detail,
			  void *arg);

/* Start one attempt on ctx's loop; the result reaches done, never before
 * this returned. */
struct mail_send *mail_send_start(struct probe_ctx *ctx, const struct mail_msg *msg,
				  uint32_t timeout_ms, mail_done_fn *done, void *arg);
/* Abandon the attempt if it still runs (done is not called), free. NULL is fine. */
void mail_send_free(struct mail_send *s);

/* Pure: true if the EHLO reply reply[0..len) (complete, every line ending in
 * LF) announces keyword as an extension ("250-KEYWORD ..." or "250 KEYWORD").
 * Reads nothing outside reply[0..len). */
bool mail_ehlo_offers(const char *reply, size_t len, const char *keyword);
/* Pure: the AUTH mechanisms the EHLO reply reply[0..len) announces, as
 * MAIL_AUTH_* bits: "250-AUTH PLAIN LOGIN", the old "250-AUTH=LOGIN" too,
 * without case; 0 when no line offers AUTH. Same reading rules as above. */
unsigned mail_ehlo_auth(const char *reply, size_t len);

#endif
