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
};

enum check_type {
	CHECK_TCP,
	CHECK_HTTP,
	CHECK_HTTPS,
	CHECK_SMTP,
	CHECK_IMAP,
	CHECK_IMAPS,
	CHECK_POP3,
	CHECK_POP3S,
};

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
};

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
};

struct service_conf {
	char *name;
	struct addr vip;             /* port 0 */
	int vip_prefix;              /* 32 / 128 when not given */
	uint16_t *ports;
	size_t nports;
	enum sched_kind scheduler;   /* default roundrobin */
	int source_mask;             /* source-hash: prefix bits, default 32 / 128 */
	uint32_t maxconn;            /* 0: unlimited */
	uint32_t backlog;            /* listen(2) backlog, default 1024 */
	bool has_source;
	struct addr source;          /* optional source address for backend connections */
	enum send_proxy send_proxy;  /* default none; backends may override */
	struct timeouts_conf timeouts;
	struct check_conf check;
	struct backend_conf *backends;
	size_t nbackends;
};

struct email_conf {
	struct addr smtp;            /* host:port of the relay */
	char *from;
	char **to;
	size_t nto;
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
};

struct config {
	char *path;                  /* the file it was loaded from */
	struct global_conf global;
	struct service_conf *services;
	size_t nservices;
	bool has_failover;
	struct failover_conf failover;
};

/* All errors of one load, each "FILE:LINE:COL: path.to.key: message". */
struct cfg_errors {
	char **msgs;
	size_t count;
};

/* Load and validate FILE. Returns a config, or NULL with every error in errs.
 * errs is always filled (count 0 on success) and must be released with
 * cfg_errors_free(). */
struct config *cfg_load(const char *path, struct cfg_errors *errs);
/* Same, from a string in memory; name is used in messages. */
struct config *cfg_load_string(const char *name, const char *text, size_t len,
			       struct cfg_errors *errs);
void cfg_free(struct config *cfg);
void cfg_errors_free(struct cfg_errors *errs);

/* Parse "250ms", "5s", "30m", "1h" (and "0") into milliseconds. 0 or -1. */
int cfg_parse_duration(const char *s, uint32_t *ms);

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
/* Probes running at once: one per backend of every service. */
size_t cfg_probe_count(const struct config *cfg);

#endif
