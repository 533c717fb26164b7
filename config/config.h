/* config.h - the configuration as the file says it: plain data, no runtime state.
 *
 * cfg_load() turns one YAML file into a struct config, validating every value.
 * A reload builds a whole new struct config and swaps it in; nothing here is
 * changed after loading. Every duration is in milliseconds.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

enum sched_kind {
	SCHED_ROUNDROBIN,
	SCHED_WEIGHTED_ROUNDROBIN,
	SCHED_LEASTCONN,
	SCHED_WEIGHTED_LEASTCONN,
	SCHED_SOURCE_HASH,
	SCHED_FIXED_WEIGHT,           /* the usable backend of highest weight, then the next */
	SCHED_WEIGHTED_RESPONSE_TIME, /* weights follow the probes' response times */
};
#define SCHED_KIND_LAST SCHED_WEIGHTED_RESPONSE_TIME

enum check_type {
	CHECK_TCP,
	CHECK_HTTP,
	CHECK_HTTPS,
	CHECK_SMTP,
	CHECK_IMAP,
	CHECK_IMAPS,
	CHECK_POP3,
	CHECK_POP3S,
	CHECK_EXPECT,                 /* send / expect on the first line */
	CHECK_ICMP,                   /* ICMP / ICMPv6 echo */
};
#define CHECK_TYPE_LAST CHECK_ICMP

enum on_down { ON_DOWN_KEEP, ON_DOWN_CLOSE };

/* PROXY protocol header sent to a backend before the client's bytes. */
enum send_proxy { SEND_PROXY_NONE, SEND_PROXY_V1, SEND_PROXY_V2 };

struct check_conf {
	enum check_type type;        /* default tcp */
	uint32_t interval_ms;        /* default 2000 */
	uint32_t timeout_ms;         /* default 1000 */
	uint32_t rise;               /* default 2 */
	uint32_t fall;               /* default 3 */
	uint16_t port;               /* 0: the backend's port */
	char *path;                  /* http(s): default "/" */
	char *host;                  /* http(s): Host header and SNI; NULL: backend address */
	int expect_status;           /* http(s): default 200 */
	char *expect_body;           /* http(s): substring, NULL if none */
	char *ehlo;                  /* smtp: default "vigil" */
	bool starttls;               /* smtp, imap, pop3 */
	bool verify;                 /* TLS: verify the certificate against ca_file */
	char *ca_file;               /* NULL: system default store */
	enum on_down on_down;        /* default keep */
	char *send;                  /* expect: sent first, CR LF appended; NULL: none */
	char *expect;                /* expect: a prefix, or a /regex/ as written */
	struct cfg_regex *expect_re; /* expect: compiled when expect is /regex/, else NULL */
	char *quit;                  /* expect: sent, CR LF appended, before closing; NULL: none */
	bool tls;                    /* expect: TLS from the first byte */
	uint16_t *gate_ports;        /* ports: the service ports this check gates; NULL: all */
	size_t ngate_ports;
};

/* A compiled POSIX extended regular expression (REG_NOSUB), shared by
 * reference between a config and the checks that copy its check: a reload
 * never compiles it twice. */
struct cfg_regex;
#define CFG_REGEX_MAX_LEN 1024       /* characters of a pattern */
#define CFG_REGEX_MAX_DEPTH 32       /* nested groups */
#define CFG_REGEX_MAX_COST 1024      /* atoms once repetitions {m,n} are expanded */
/* Compile pattern; NULL with regerror's text in err when it is invalid, or
 * "too large ..." when it is past the limits above. */
struct cfg_regex *cfg_regex_new(const char *pattern, char *err, size_t errlen);
/* What compiling pattern costs (atoms after expansion: glibc's memory grows
 * with its square at worst, 8 MB at the limit), SIZE_MAX when past the
 * limits above. */
size_t cfg_regex_cost(const char *pattern);
struct cfg_regex *cfg_regex_ref(struct cfg_regex *re);
/* Drop one reference (NULL is fine); frees on the last one. */
void cfg_regex_unref(struct cfg_regex *re);
/* True when the NUL-terminated text matches. */
bool cfg_regex_match(const struct cfg_regex *re, const char *text);
/* The pattern as compiled (without the slashes). */
const char *cfg_regex_pattern(const struct cfg_regex *re);

struct timeouts_conf {
	uint32_t connect_ms;         /* default 5000 */
	uint32_t client_idle_ms;     /* default 30 min */
	uint32_t server_idle_ms;     /* default 30 min */
	uint32_t drain_ms;           /* default 60000 */
	uint32_t keepalive_ms;       /* TCP keepalive idle time, whole seconds; default 60000, 0: off */
};

struct backend_conf {
	char *name;
	struct addr addr;            /* port 0 unless the backend names port: */
	uint16_t port;               /* 0: use the port the client connected to */
	uint32_t weight;             /* 0..256, default 1 */
	uint32_t maxconn;            /* 0: unlimited */
	bool backup;
	enum send_proxy send_proxy;    /* in effect: its own send_proxy:, else the service's */
	bool send_proxy_set;         /* the backend names send_proxy: itself */
	bool has_agent;              /* agent: {port, interval} given */
	uint16_t agent_port;         /* the agent's TCP port on the backend's address */
	uint32_t agent_interval_ms;  /* default 2000 */
};

struct service_conf {
	char *name;
	struct addr vip;             /* port 0 */
	int vip_prefix;              /* 32 / 128 when not given */
	uint16_t *ports;
	size_t nports;
	enum sched_kind scheduler;   /* default roundrobin */
	int source_mask;             /* source-hash: prefix bits, default 32 / 128 */
	uint32_t persist_ms;         /* persistence of a client to its backend, 0: off */
	uint32_t maxconn;            /* 0: unlimited */
	uint32_t backlog;            /* listen(2) backlog, default 1024 */
	bool has_source;
	struct addr source;          /* optional source address for backend connections */
	bool source_client;          /* source: client: transparent, from the client's address */
	enum send_proxy send_proxy;  /* default none; backends may override */
	struct timeouts_conf timeouts;
	struct check_conf check;     /* the check; with a list, what each entry started
					from (defaults) and the service's on_down */
	struct check_conf *checks;   /* check: as a list (NULL: just `check`) */
	size_t nchecks;              /* entries of checks, 0 for a single check */
	struct backend_conf *backends;
	size_t nbackends;
};

/* How the mail client reaches the relay (email.tls). */
enum email_tls {
	EMAIL_TLS_STARTTLS,          /* STARTTLS when the relay offers it (default) */
	EMAIL_TLS_IMPLICIT,          /* TLS from the first byte (port 465) */
};

/* failover.notify.email and alerts.email (cfg_mail.c). */
struct email_conf {
	struct addr smtp;            /* host:port of the relay */
	char *from;
	char **to;
	size_t nto;
	char *username;              /* SMTP AUTH user, NULL: no AUTH */
	char *password_file;         /* with username: the file holding the password */
	enum email_tls tls;          /* default starttls */
	bool verify;                 /* check the relay's certificate (default false) */
	char *ca_file;               /* with verify: NULL is the system store */
	char *host;                  /* the name the certificate must carry (and SNI);
					NULL: the relay's IP address */
};

/* alerts: backend, service, failover and sync events, batched into one
 * mail and one program run per window, rate-limited (cfg_mail.c). */
struct alerts_conf {
	char *exec;                  /* NULL if none */
	bool has_email;
	struct email_conf email;
	uint32_t batch_ms;           /* the window opened by the first event, default 10s */
	uint32_t max_per_hour;       /* batches delivered per hour at most, default 30 */
};

/* failover.nodes: one entry per node of the pair (the same file on both). */
struct fo_node_conf {
	char *name;
	struct addr address;         /* where its adverts come from; port 0 */
	uint32_t priority;           /* 1..254, default failover.priority */
	char *interface;             /* NULL: failover.interface */
};

/* A group's priority on one node (failover.groups[].priority). */
struct fo_prio_conf {
	char *node;
	uint32_t priority;
};

/* failover.groups[]: elected on its own. Without groups, the loader makes
 * one from failover.group holding every service (cfg_failover_group_count). */
struct fo_group_conf {
	uint32_t id;                 /* 1..255 */
	char **services;             /* names, each in at most one group */
	size_t nservices;
	struct fo_prio_conf *prios;
	size_t nprios;
	uint32_t priority;           /* this node's, resolved */
	bool preempt;                /* default failover.preempt */
	uint32_t preempt_delay_ms;   /* default failover.preempt_delay */
	bool track_services;         /* default failover.track.services */
	uint32_t track_weight;       /* default failover.track.weight */
};

/* failover.addresses[]: an extra floating address moving with a group. */
struct fo_address_conf {
	struct addr address;         /* port 0 */
	int prefix;                  /* 32 / 128 when not given */
	char *interface;             /* NULL: failover.interface */
	uint32_t group;
};

struct failover_conf {
	char *node;                  /* default: host name */
	uint32_t group;              /* 1..255 */
	uint32_t priority;           /* 1..254, default 100 */
	char *interface;             /* required */
	struct addr *peers;          /* unicast peers; none: multicast */
	size_t npeers;
	uint16_t port;               /* UDP port of adverts, default 7788 */
	uint32_t advert_interval_ms; /* default 100 */
	bool preempt;                /* default true */
	uint32_t preempt_delay_ms;   /* default 0 */
	char *auth_key_file;         /* required */
	uint32_t garp_count;         /* default 5 */
	uint32_t garp_interval_ms;   /* default 200 */
	uint32_t garp_refresh_ms;    /* 0: no periodic refresh */
	bool track_services;         /* default false */
	uint32_t track_weight;       /* default 50 */
	char *notify_exec;           /* NULL if none */
	bool has_email;
	struct email_conf email;
	bool sync;                   /* failover.sync: configuration and operator state sync */
	uint16_t sync_port;          /* TCP port of the sync channel, default 7789 */
	bool has_sync_listen;        /* failover.sync_listen given */
	struct addr sync_listen;     /* this node's sync address (listen and connect from) */
	/* one file for the pair (cfg_failover.c); node, priority, peers and
	 * interface above are resolved from nodes for this node */
	struct fo_node_conf *nodes;  /* none: the single-node form */
	size_t nnodes;
	struct fo_group_conf *groups; /* always at least one after loading */
	size_t ngroups;
	bool groups_given;           /* failover.groups was written */
	struct fo_address_conf *addresses;
	size_t naddresses;
};

struct global_conf {
	char *user;                  /* NULL: keep running as started */
	char *control_socket;        /* default /run/vigil/control.sock */
	bool has_status_listen;
	struct addr status_listen;
	int log_level;               /* enum log_level, default info */
	uint32_t maxconn;            /* default 100000; the daemon clamps it to the fd limit */
	bool maxconn_set;            /* maxconn given in the file */
	char *admin_token_file;      /* NULL: POST /api/ctl answers 403 */
	uint32_t workers;            /* proxy threads; 0: auto (CPUs available) */
};

#define CFG_WORKERS_MAX 64

/* All errors of one load, each "FILE:LINE:COL: path.to.key: message". */
struct cfg_errors {
	char **msgs;
	size_t count;
};

struct config {
	char *path;                  /* the file it was loaded from */
	struct global_conf global;
	struct service_conf *services;
	size_t nservices;
	bool has_failover;
	struct failover_conf failover;
	bool has_alerts;
	struct alerts_conf alerts;
	struct cfg_errors *warnings; /* "FILE:LINE:COL: path: warning: ..." (config_lint.c) */
};


/* Load and validate FILE. Returns a config, or NULL with every error in errs.
 * errs is always filled (count 0 on success) and must be released with
 * cfg_errors_free(). */
struct config *cfg_load(const char *path, struct cfg_errors *errs);
/* cfg_load as node NAME of failover.nodes (vigild -n NAME); NULL node: failover.node,
 * else the host name. */
struct config *cfg_load_node(const char *path, const char *node, struct cfg_errors *errs);
/* cfg_load_node(), and on success the file's bytes in *bytes (caller frees), so
 * what was checked is what is kept (bytes may be NULL). */
struct config *cfg_load_bytes(const char *path, const char *node, struct cfg_errors *errs,
			      char **bytes, size_t *nbytes);
/* Same, from a string in memory; name is used in messages. */
struct config *cfg_load_string(const char *name, const char *text, size_t len,
			       struct cfg_errors *errs);
struct config *cfg_load_string_node(const char *name, const char *text, size_t len,
				    const char *node, struct cfg_errors *errs);
/* The failover group holding service name, or NULL. */
const struct fo_group_conf *cfg_service_group(const struct failover_conf *fo, const char *name);
void cfg_free(struct config *cfg);

/* The addresses of this node's failover peers (the sync channel's and the
 * adverts' partners): *n entries, owned by cfg. */
const struct addr *cfg_peer_addrs(const struct config *cfg, size_t *n);
void cfg_errors_free(struct cfg_errors *errs);

/* True for an e-mail address vigil will put in an SMTP command: LOCAL@DOMAIN,
 * printable ASCII without blanks, quotes, brackets, commas or semicolons. */
bool cfg_mail_addr_ok(const char *s);

/* Parse "250ms", "5s", "30m", "1h" (and "0") into milliseconds. 0 or -1. */
int cfg_parse_duration(const char *s, uint32_t *ms);

/* Deep copy, free and compare of one check's settings (every field, so a new
 * check key is handled here only). */
void cfg_check_copy(struct check_conf *dst, const struct check_conf *src);
void cfg_check_clear(struct check_conf *c);
bool cfg_check_equal(const struct check_conf *a, const struct check_conf *b);

const char *cfg_sched_name(enum sched_kind k);
const char *cfg_check_type_name(enum check_type t);
/* "none", "v1", "v2". */
const char *cfg_send_proxy_name(enum send_proxy p);
/* The backend's port for a client that connected to service port svc_port. */
uint16_t cfg_backend_port(const struct backend_conf *b, uint16_t svc_port);

/* File descriptors vigild keeps for itself besides connections and probes
 * (sockets, netlink, log, control and status clients). */
#define CFG_FD_RESERVE 64

/* The maxconn that nofile open files allow: 2 descriptors a connection, 1 a
 * probe, CFG_FD_RESERVE. Returns maxconn with msg "" when it fits, else the
 * largest value that fits (at least 1) with the reason in msg. */
uint32_t cfg_maxconn_fit(uint32_t maxconn, uint64_t nofile, size_t nprobes, char *msg,
			 size_t msglen);
/* Probes running at once: one per check of every backend of every service. */
size_t cfg_probe_count(const struct config *cfg);

#endif
