/* cfg_walk.c - the table-driven map walker and the scalar field handlers:
 * every value is checked here and every problem recorded with its position.
 */
#include "config/cfg_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"

#define NAME_MAX_LEN 63

const char *const cfg_sched_names[] = {
	"roundrobin", "weighted-roundrobin", "leastconn", "weighted-leastconn",
	"source-hash", "fixed-weight", "weighted-response-time", NULL,
};
const char *const cfg_check_type_names[] = {
	"tcp", "http", "https", "smtp", "imap", "imaps", "pop3", "pop3s", "expect", "icmp", NULL,
};
const char *const cfg_on_down_names[] = { "keep", "close", NULL };
const char *const cfg_send_proxy_names[] = { "none", "v1", "v2", NULL };
const char *const cfg_log_level_names[] = {
	"debug", "info", "notice", "warning", "error", NULL,
};

enum dur_result { DUR_OK, DUR_INVALID, DUR_NO_UNIT, DUR_NEGATIVE, DUR_TOO_LONG };

/* One "<digits><unit>" group at *sp; its value in ms and the unit's rank. */
static enum dur_result dur_group(const char **sp, uint64_t *ms, int *rank)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return DUR_INVALID;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return DUR_TOO_LONG;
	}
	if (!*s)
		return DUR_NO_UNIT;
	for (int i = 0; i < (int)ARRAY_SIZE(units); i++) {
		size_t ul = strlen(units[i].unit);

		if (strncmp(s, units[i].unit, ul) == 0 &&
		    (s[ul] == '\0' || (s[ul] >= '0' && s[ul] <= '9'))) {
			*ms = v * units[i].mult;
			*rank = i;
			*sp = s + ul;
			return DUR_OK;
		}
	}
	return DUR_INVALID;
}

/* "0", or groups of <digits><unit> with units getting smaller: "1h30m". */
static enum dur_result dur_parse(const char *s, uint32_t *out)
{
	uint64_t total = 0;
	int last = 4;

	if (*s == '-')
		return s[1] >= '0' && s[1] <= '9' ? DUR_NEGATIVE : DUR_INVALID;
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return DUR_OK;
	}
	if (!*s)
		return DUR_INVALID;
	while (*s) {
		uint64_t ms;
		int rank;
		enum dur_result r = dur_group(&s, &ms, &rank);

		if (r != DUR_OK)
			return r;
		if (rank >= last)
			return DUR_INVALID;
		last = rank;
		total += ms;
		if (total > UINT32_MAX)
			return DUR_TOO_LONG;
	}
	*out = (uint32_t)total;
	return DUR_OK;
}

int cfg_parse_duration(const char *s, uint32_t *ms)
{
	return s && dur_parse(s, ms) == DUR_OK ? 0 : -1;
}

const char *cfg_sched_name(enum sched_kind k)
{
	return (unsigned)k <= SCHED_KIND_LAST ? cfg_sched_names[k] : "?";
}

const char *cfg_check_type_name(enum check_type t)
{
	return (unsigned)t <= CHECK_TYPE_LAST ? cfg_check_type_names[t] : "?";
}

const char *cfg_send_proxy_name(enum send_proxy p)
{
	return (unsigned)p <= SEND_PROXY_V2 ? cfg_send_proxy_names[p] : "?";
}

uint16_t cfg_backend_port(const struct backend_conf *b, uint16_t svc_port)
{
	return b->port ? b->port : svc_port;
}

void cfg_path_idx(char *buf, size_t len, const char *path, size_t i)
{
	snprintf(buf, len, "%s[%zu]", path, i);
}

void cfg_path_key(char *buf, size_t len, const char *path, const char *key)
{
	snprintf(buf, len, "%s%s%s", path, *path ? "." : "", key);
}

static const struct cfg_field *field_find(const struct cfg_field *fields, const char *key)
{
	for (const struct cfg_field *f = fields; f->key; f++)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

static void field_list(const struct cfg_field *fields, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct cfg_field *f = fields; f->key && used < len; f++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 f == fields ? "" : ", ", f->key);
}

#define CFG_MAX_FIELDS 32                 /* keys of the largest map of the schema */

/* The key k of a map: a plain string given once, else reported. A known key
 * (field number fi, else -1) given before is found in seen[fi], the line it
 * was first given at, so that a map of any size is walked in linear time;
 * an unknown key is reported as such each time. */
static bool key_ok(struct cfg_ctx *c, const struct ynode *k, int fi, unsigned *seen,
		   const char *path)
{
	char kpath[256];

	if (k->kind != YNODE_SCALAR) {
		errlist_at(c->el, k, path, "%s as a key (expected a plain name)",
			   ynode_kind_name(k));
		return false;
	}
	if (fi >= 0 && seen[fi]) {
		cfg_path_key(kpath, sizeof(kpath), path, k->text);
		errlist_at(c->el, k, kpath, "duplicate key (already given at line %u)", seen[fi]);
		return false;
	}
	if (fi >= 0)
		seen[fi] = k->line ? k->line : 1;
	return true;
}

void cfg_walk_map(struct cfg_ctx *c, const struct ynode *map, const char *path,
		  const struct cfg_field *fields, void *base)
{
	char kpath[256], keys[512];
	unsigned seen[CFG_MAX_FIELDS] = { 0 };

	if (map->kind != YNODE_MAP && !ynode_is_null(map)) {
		errlist_at(c->el, map, path, "wrong type: %s (expected a map)",
			   ynode_kind_name(map));
		return;
	}
	for (size_t i = 0; map->kind == YNODE_MAP && i < map->n; i++) {
		const struct ynode *k = map->kids[2 * i];
		const struct cfg_field *f = k->kind == YNODE_SCALAR ? field_find(fields, k->text) :
					    NULL;
		int fi = f ? (int)(f - fields) : -1;

		if (fi >= CFG_MAX_FIELDS)
			abort();                /* the schema outgrew seen[] */
		if (!key_ok(c, k, fi, seen, path))
			continue;
		cfg_path_key(kpath, sizeof(kpath), path, k->text);
		if (!f) {
			field_list(fields, keys, sizeof(keys));
			errlist_at(c->el, k, kpath, "unknown key (expected one of: %s)", keys);
			continue;
		}
		f->fn(c, map->kids[2 * i + 1], kpath, f, (char *)base + f->off);
	}
	for (const struct cfg_field *f = fields; f->key; f++)
		if (f->required && !seen[f - fields])
			errlist_at(c->el, map, path, "missing required key \"%s\" (expected %s)",
				   f->key, f->what);
}

bool cfg_want_seq(struct cfg_ctx *c, const struct ynode *v, const char *path, const char *what)
{
	if (v->kind == YNODE_SEQ || ynode_is_null(v))
		return true;
	errlist_at(c->el, v, path, "wrong type: %s (expected %s)", ynode_kind_name(v), what);
	return false;
}

bool cfg_want_list(struct cfg_ctx *c, const struct ynode *v, const char *path, const char *what)
{
	if (!cfg_want_seq(c, v, path, what))
		return false;
	if (v->kind != YNODE_SEQ || v->n == 0) {
		errlist_at(c->el, v, path, "empty list (expected %s)", what);
		return false;
	}
	return true;
}

void cfg_fld_list(struct cfg_ctx *c, const struct ynode *v, const char *path, const char *what,
		  const struct cfg_field *item, char ***arr, size_t *n)
{
	char ipath[256];

	if (!cfg_want_list(c, v, path, what))
		return;
	*arr = xcalloc(v->n, sizeof(**arr));
	for (size_t i = 0; i < v->n; i++) {
		cfg_path_idx(ipath, sizeof(ipath), path, i);
		item->fn(c, v->kids[i], ipath, item, &(*arr)[*n]);
		if ((*arr)[*n])
			(*n)++;
	}
}

bool cfg_want_scalar(struct cfg_ctx *c, const struct ynode *v, const char *path, const char *what)
{
	if (v->kind != YNODE_SCALAR) {
		errlist_at(c->el, v, path, "wrong type: %s (expected %s)", ynode_kind_name(v),
			   what);
		return false;
	}
	if (ynode_is_null(v)) {
		errlist_at(c->el, v, path, "missing value (expected %s)", what);
		return false;
	}
	return true;
}

int cfg_scalar_int(struct cfg_ctx *c, const struct ynode *v, const char *path,
		   long long min, long long max, const char *what, long long *out)
{
	const char *s;
	char *end;
	long long n;

	if (!cfg_want_scalar(c, v, path, what))
		return -1;
	s = v->text;
	if (v->quoted) {
		errlist_at(c->el, v, path, "\"%s\" is a quoted string (expected %s)", s, what);
		return -1;
	}
	errno = 0;
	n = strtoll(s, &end, 10);
	if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')) || *end) {
		errlist_at(c->el, v, path, "\"%s\" is not an integer (expected %s)", s, what);
		return -1;
	}
	if (errno == ERANGE || n < min || n > max) {
		errlist_at(c->el, v, path, "%s is out of range (expected %s)", s, what);
		return -1;
	}
	*out = n;
	return 0;
}

int cfg_scalar_ip(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const char *what, struct addr *out)
{
	static const uint8_t zero[16];
	const uint8_t *b;
	size_t blen;

	if (!cfg_want_scalar(c, v, path, what))
		return -1;
	if (addr_parse_ip(v->text, out) < 0) {
		errlist_at(c->el, v, path, "\"%s\" is not an IP address (expected %s)",
			   v->text, what);
		return -1;
	}
	b = addr_bytes(out, &blen);
	if (memcmp(b, zero, blen) == 0) {
		errlist_at(c->el, v, path, "%s is the unspecified address (expected %s)",
			   v->text, what);
		return -1;
	}
	return 0;
}

void cfg_fld_str(struct cfg_ctx *c, const struct ynode *v, const char *path,
		 const struct cfg_field *f, void *dst)
{
	char **sp = dst;

	if (!cfg_want_scalar(c, v, path, f->what))
		return;
	if (!*v->text) {
		errlist_at(c->el, v, path, "empty string (expected %s)", f->what);
		return;
	}
	if (f->max && (long long)strlen(v->text) > f->max) {
		errlist_at(c->el, v, path, "\"%s\" is too long (expected at most %lld characters)",
			   v->text, f->max);
		return;
	}
	free(*sp);
	*sp = xstrdup(v->text);
}

void cfg_fld_name(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const struct cfg_field *f, void *dst)
{
	char **sp = dst;
	size_t len;

	if (!cfg_want_scalar(c, v, path, f->what))
		return;
	len = strlen(v->text);
	if (len == 0 || len > NAME_MAX_LEN ||
	    strspn(v->text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789._-") != len) {
		errlist_at(c->el, v, path, "invalid name \"%s\" (expected 1..%d letters, digits, "
			   "'.', '_' or '-')", v->text, NAME_MAX_LEN);
		return;
	}
	free(*sp);
	*sp = xstrdup(v->text);
}

void cfg_fld_bool(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const struct cfg_field *f, void *dst)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					   "on", "On", "ON", NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO",
					  "off", "Off", "OFF", NULL };
	bool *bp = dst;

	if (!cfg_want_scalar(c, v, path, "true or false"))
		return;
	for (int i = 0; !v->quoted && yes[i]; i++) {
		if (strcmp(v->text, yes[i]) == 0) {
			*bp = true;
			return;
		}
		if (strcmp(v->text, no[i]) == 0) {
			*bp = false;
			return;
		}
	}
	errlist_at(c->el, v, path, "\"%s\" is not a boolean (expected true or false)", v->text);
}

void cfg_fld_u32(struct cfg_ctx *c, const struct ynode *v, const char *path,
		 const struct cfg_field *f, void *dst)
{
	long long n;

	if (cfg_scalar_int(c, v, path, f->min, f->max, f->what, &n) == 0)
		*(uint32_t *)dst = (uint32_t)n;
}

void cfg_fld_int(struct cfg_ctx *c, const struct ynode *v, const char *path,
		 const struct cfg_field *f, void *dst)
{
	long long n;

	if (cfg_scalar_int(c, v, path, f->min, f->max, f->what, &n) == 0)
		*(int *)dst = (int)n;
}

void cfg_fld_port(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const struct cfg_field *f, void *dst)
{
	long long n;

	if (cfg_scalar_int(c, v, path, 1, 65535, "a port 1..65535", &n) == 0)
		*(uint16_t *)dst = (uint16_t)n;
}

void cfg_fld_duration(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst)
{
	uint32_t ms = 0;

	if (!cfg_want_scalar(c, v, path, f->what))
		return;
	switch (dur_parse(v->text, &ms)) {
	case DUR_OK:
		break;
	case DUR_NO_UNIT:
		errlist_at(c->el, v, path, "duration \"%s\" has no unit (expected %s)",
			   v->text, f->what);
		return;
	case DUR_NEGATIVE:
		errlist_at(c->el, v, path, "duration \"%s\" is negative (expected %s)",
			   v->text, f->what);
		return;
	case DUR_TOO_LONG:
		errlist_at(c->el, v, path, "duration \"%s\" is too long (expected at most 1193h)",
			   v->text);
		return;
	default:
		errlist_at(c->el, v, path, "invalid duration \"%s\" (expected %s)", v->text,
			   f->what);
		return;
	}
	if ((long long)ms < f->min || (f->max && (long long)ms > f->max)) {
		errlist_at(c->el, v, path, "%s is out of range (expected %s)", v->text, f->what);
		return;
	}
	*(uint32_t *)dst = ms;
}

void cfg_fld_enum(struct cfg_ctx *c, const struct ynode *v, const char *path,
		  const struct cfg_field *f, void *dst)
{
	char list[256], what[300];
	size_t used = 0;

	list[0] = '\0';
	for (int i = 0; f->names[i] && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
					 i ? ", " : "", f->names[i]);
	snprintf(what, sizeof(what), "one of %s", list);
	if (!cfg_want_scalar(c, v, path, what))
		return;
	for (int i = 0; f->names[i]; i++) {
		if (strcmp(v->text, f->names[i]) == 0) {
			*(int *)dst = i;
			return;
		}
	}
	errlist_at(c->el, v, path, "unknown %s \"%s\" (expected %s)", f->what, v->text, list);
}

void cfg_fld_ip(struct cfg_ctx *c, const struct ynode *v, const char *path,
		const struct cfg_field *f, void *dst)
{
	struct addr a;

	if (cfg_scalar_ip(c, v, path, f->what, &a) == 0)
		*(struct addr *)dst = a;
}

void cfg_fld_hostport(struct cfg_ctx *c, const struct ynode *v, const char *path,
		      const struct cfg_field *f, void *dst)
{
	struct addr a;

	if (!cfg_want_scalar(c, v, path, f->what))
		return;
	if (addr_parse_hostport(v->text, &a) < 0) {
		errlist_at(c->el, v, path, "\"%s\" is not IP:PORT (expected %s)", v->text,
			   f->what);
		return;
	}
	*(struct addr *)dst = a;
}

void cfg_fld_map(struct cfg_ctx *c, const struct ynode *v, const char *path,
		 const struct cfg_field *f, void *dst)
{
	cfg_walk_map(c, v, path, f->sub, dst);
}

void cfg_fld_ignore(struct cfg_ctx *c, const struct ynode *v, const char *path,
		    const struct cfg_field *f, void *dst)
{
}
