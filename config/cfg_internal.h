/* cfg_internal.h - private to config/: the YAML node tree, the error list,
 * and the table-driven map walker that turns tree nodes into config fields.
 */
#ifndef VIGIL_CFG_INTERNAL_H
#define VIGIL_CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* ---- the node tree (yaml_tree.c) ---- */

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode {
	enum ynode_kind kind;
	unsigned line, col;          /* 1-based position of the node's first character */
	char *text;                  /* scalar: the value */
	bool quoted;                 /* scalar: written in quotes or block style */
	size_t n;                    /* map: pairs; seq: items */
	struct ynode **kids;         /* map: key, value, key, value...; seq: items */
};

/* ---- collected errors (cfg_errors.c) ---- */

#define CFG_MAX_ERRORS 100           /* listed per load; one more line says so */

struct cfg_err {
	unsigned line, col;
	size_t seq;                  /* order of discovery, for a stable sort */
	char *msg;                   /* the whole "FILE:LINE:COL: path: what" line */
};

struct errlist {
	const char *file;
	struct cfg_err *v;
	size_t n, cap;
};

/* Record "FILE:LINE:COL: PATH: MESSAGE"; an empty path is left out. */
void errlist_add(struct errlist *el, unsigned line, unsigned col, const char *path,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Same at node n's position. */
void errlist_at(struct errlist *el, const struct ynode *n, const char *path,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Record a line without position: "FILE: MESSAGE". */
void errlist_plain(struct errlist *el, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sort into file order and move every message into out. */
void errlist_finish(struct errlist *el, struct cfg_errors *out);

/* Parse one YAML document. NULL with an error recorded on a syntax error, an
 * empty stream or too deep a nesting. */
struct ynode *ytree_parse(const char *text, size_t len, struct errlist *el);
void ytree_free(struct ynode *n);
/* The value (or key node) stored under key in map, NULL if absent or not a map. */
const struct ynode *ymap_get(const struct ynode *map, const char *key);
const struct ynode *ymap_key(const struct ynode *map, const char *key);
/* A plain empty, "~" or "null" scalar. */
bool ynode_is_null(const struct ynode *n);
/* "a map", "a list", "a value" for messages. */
const char *ynode_kind_name(const struct ynode *n);

/* ---- duplicates (cfg_dup.c) ---- */

/* Order items a and b (indexes into the caller's list): <0, 0 (equal), >0. */
typedef int (*cfg_dup_cmp_fn)(size_t a, size_t b, void *arg);
/* first[i] = the lowest index of an item equal to item i (i itself when no
 * earlier one is). O(n log n), for lists of any length. */
void cfg_first_equal(size_t n, cfg_dup_cmp_fn cmp, void *arg, size_t *first);

/* Names looked up by value in O(log n): add (name, index) pairs (names are
 * borrowed, not copied; NULL ones are skipped), sort once, then find. */
struct cfg_name_ref {
	const char *name;
	size_t idx;
};
struct cfg_names {
	struct cfg_name_ref *v;
	size_t n, cap;
};
void cfg_names_add(struct cfg_names *t, const char *name, size_t idx);
void cfg_names_sort(struct cfg_names *t);
/* The lowest index added with name, or SIZE_MAX if none (after cfg_names_sort). */
size_t cfg_names_find(const struct cfg_names *t, const char *name);
void cfg_names_free(struct cfg_names *t);

/* ---- warnings about a valid configuration (config_lint.c) ---- */

/* Record in wl what cfg (loaded from root without error) probably gets wrong. */
void cfg_lint(struct errlist *wl, const struct ynode *root, const struct config *cfg);

/* ---- the map walker (cfg_walk.c) ---- */

/* Inherited check strings (defaults into services, a service's check into
 * its list entries) copied in one load, at most: a long string inherited by
 * every service would otherwise cost services x its length. */
#define CFG_MAX_INHERITED (16u << 20)
/* checks/ gives every backend its own copy of its service's checks: their
 * strings over all backends, at most (a 1 MB expect_body and 40,000 backends
 * would be 40 GB once vigild starts). */
#define CFG_MAX_PROBE_COPIES (64u << 20)
/* Regular expressions compiled in one load: the sum of their costs squared
 * (cfg_regex_cost(); glibc's memory grows with the square at worst), at most
 * that of 16 of the largest. An inherited one is compiled once. */
#define CFG_MAX_REGEX_LOAD (16u * CFG_REGEX_MAX_COST * CFG_REGEX_MAX_COST)

struct cfg_ctx {
	struct errlist *el;
	const char *node;            /* vigild -n NAME, or NULL */
	size_t inherited;            /* bytes of check strings copied so far */
	size_t probe_copies;         /* bytes the backends' probes will copy */
	size_t regex_load;           /* cost squared of the regexes compiled so far */
};

struct cfg_field;
typedef void (*cfg_field_fn)(struct cfg_ctx *c, const struct ynode *v, const char *path,
			     const struct cfg_field *f, void *dst);

/* One key of a map: its handler writes the value at base + off. */
struct cfg_field {
	const char *key;
	cfg_field_fn fn;
	size_t off;
	long long min, max;          /* integers and durations (ms) */
	const char *what;            /* what is expected, for messages */
	bool required;
	const char *const *names;    /* enums: the accepted words, in enum order */
	const struct cfg_field *sub; /* nested maps: their fields */
};

/* Walk map (a map, or null meaning empty): report unknown, duplicate and
 * missing required keys, and call each field's handler on its value. */
void cfg_walk_map(struct cfg_ctx *c, const struct ynode *map, const char *path,
		  const struct cfg_field *fields, void *base);
/* A seq (or null meaning empty); else report the wrong type and return false. */
bool cfg_want_seq(struct cfg_ctx *c, const struct ynode *v, const char *path, const char *what);
/* A non-null scalar; else report and return false. */
/* A non-empty sequence (else an error naming what); false: skip it. */
bool cfg_want_list(struct cfg_ctx *c, const struct ynode *v, const char *path, const char *what);
/* A non-empty sequence of strings, each parsed by item->fn (which leaves
 * NULL on error) into a new *arr; *n counts those kept. */
void cfg_fld_list(struct cfg_ctx *c, const struct ynode *v, const char *path, const char *what,
		  const struct cfg_field *item, char ***arr, size_t *n);
bool cfg_want_scalar(struct cfg_ctx *c, const struct ynode *v, const char *path, const char *what);
/* Parse an integer scalar within [min, max]; report and return -1 if not. */
int cfg_scalar_int(struct cfg_ctx *c, const struct ynode *v, const char *path,
		   long long min, long long max, const char *what, long long *out);
/* Parse a bare IP address (not the unspecified one); report and return -1 if not. */
int cfg_scalar_ip(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const char *what, struct addr *out);
/* Append "[i]" or ".key" to a path. */
void cfg_path_idx(char *buf, size_t len, const char *path, size_t i);
void cfg_path_key(char *buf, size_t len, const char *path, const char *key);

/* Field handlers; dst is base + off. */
void cfg_fld_str(struct cfg_ctx *c, const struct ynode *v, const char *path,
		 const struct cfg_field *f, void *dst);
void cfg_fld_name(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const struct cfg_field *f, void *dst);
void cfg_fld_bool(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const struct cfg_field *f, void *dst);
void cfg_fld_u32(struct cfg_ctx *c, const struct ynode *v, const char *path,
		 const struct cfg_field *f, void *dst);
void cfg_fld_int(struct cfg_ctx *c, const struct ynode *v, const char *path,
		 const struct cfg_field *f, void *dst);
void cfg_fld_port(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const struct cfg_field *f, void *dst);
void cfg_fld_duration(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst);
void cfg_fld_enum(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const struct cfg_field *f, void *dst);
void cfg_fld_ip(struct cfg_ctx *c, const struct ynode *v, const char *path,
		const struct cfg_field *f, void *dst);
void cfg_fld_hostport(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst);
void cfg_fld_map(struct cfg_ctx *c, const struct ynode *v, const char *path,
		 const struct cfg_field *f, void *dst);
void cfg_fld_ignore(struct cfg_ctx *c, const struct ynode *v, const char *path,
		    const struct cfg_field *f, void *dst);

/* Enum word tables, NULL-terminated, in enum order. */
extern const char *const cfg_sched_names[];
extern const char *const cfg_check_type_names[];
extern const char *const cfg_on_down_names[];
extern const char *const cfg_send_proxy_names[];
extern const char *const cfg_log_level_names[];

/* ---- the schema (config_load.c) and cross-field checks (config_check.c) ---- */

/* "IP" or "IP/PREFIX" into a struct fo_address_conf (dst). */
void cfg_fld_prefix_ip(struct cfg_ctx *c, const struct ynode *v, const char *path,
		       const struct cfg_field *f, void *dst);
/* failover.nodes, groups, addresses (cfg_failover.c), after the other
 * failover keys and the services are loaded. */
void cfg_failover_pair(struct cfg_ctx *c, const struct ynode *v, struct config *cfg);
void cfg_failover_clear(struct failover_conf *fo);

/* cfg_mail.c: an e-mail map (failover.notify.email, alerts.email) into e,
 * with its cross-key rules; release what an email_conf owns. */
void cfg_email_walk(struct cfg_ctx *c, const struct ynode *v, const char *path,
		    struct email_conf *e);
void cfg_email_clear(struct email_conf *e);
/* The alerts section: defaults, loading, release. */
void cfg_alerts_builtin(struct alerts_conf *a);
void cfg_alerts_load(struct cfg_ctx *c, const struct ynode *v, struct config *cfg);
void cfg_alerts_clear(struct alerts_conf *a);

/* Built-in defaults of a service (everything defaults: may set). */
void cfg_service_builtin(struct service_conf *s);
/* Release what a service_conf owns (not the struct itself). */
void cfg_service_clear(struct service_conf *s);

/* Checks needing several values: defaults level, then each service, then
 * across services. defaults/services: the tree nodes (may be NULL). */
void cfg_check_defaults(struct cfg_ctx *c, const struct ynode *defaults,
			const struct service_conf *tmpl);
void cfg_check_service(struct cfg_ctx *c, const struct ynode *node, const char *path,
		       struct service_conf *s);
void cfg_check_services(struct cfg_ctx *c, const struct ynode *services,
			const struct config *cfg);

/* config_expect.c. Check type expect's keys in the check map ckn (NULL if this
 * level has none; at: where to report then): only with that type, expect
 * required, a /regex/ compiled into ck->expect_re (errors at the key). */
void cfg_check_expect(struct cfg_ctx *c, const struct ynode *ckn, const struct ynode *at,
		      const char *path, struct check_conf *ck);
/* Report expect's keys written in ckn when type is another. */
void cfg_expect_keys_fit(struct cfg_ctx *c, const struct ynode *ckn, const char *path,
			 enum check_type type);
/* Compile the /regex/ of a template check (defaults) once, for the services
 * that inherit it; nothing reported: each service reports its own. */
void cfg_expect_share(struct cfg_ctx *c, struct check_conf *ck);
/* Drop the expect keys of a check of another type. */
void cfg_expect_normalize(struct check_conf *ck);
/* "/.../" with at least the two slashes. */
bool cfg_expect_is_regex(const char *expect);

#endif
