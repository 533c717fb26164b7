/* config_expect.c - the keys of check type expect (send, expect, quit, tls):
 * only valid with that type, expect required, a /regex/ compiled once here
 * with regerror's text as the error at the key. */
#include "config/cfg_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

bool cfg_expect_is_regex(const char *expect)
{
	size_t n = expect ? strlen(expect) : 0;

	return n >= 2 && expect[0] == '/' && expect[n - 1] == '/';
}

/* Take the room for a regex of cost (not SIZE_MAX) from the load's budget. */
static bool regex_room(struct cfg_ctx *c, size_t cost)
{
	size_t load = cost * cost;

	if (c->regex_load > CFG_MAX_REGEX_LOAD || load > CFG_MAX_REGEX_LOAD - c->regex_load)
		return false;
	c->regex_load += load;
	return true;
}

/* The pattern between ck->expect's slashes, in a new string. */
static char *expect_pattern(const struct check_conf *ck)
{
	size_t n = strlen(ck->expect);
	char *pattern = xstrdup(ck->expect + 1);

	pattern[n - 2] = '\0';
	return pattern;
}

void cfg_expect_share(struct cfg_ctx *c, struct check_conf *ck)
{
	char err[256], *pattern;
	size_t cost;

	if (ck->expect_re || !cfg_expect_is_regex(ck->expect) || strlen(ck->expect) == 2)
		return;
	pattern = expect_pattern(ck);
	cost = cfg_regex_cost(pattern);
	if (cost != SIZE_MAX && regex_room(c, cost))
		ck->expect_re = cfg_regex_new(pattern, err, sizeof(err));
	free(pattern);
}

/* Compile ck->expect when it is a /regex/ and not compiled yet (or this level
 * wrote it). at: the node to report an error at. */
static void expect_compile(struct cfg_ctx *c, const struct ynode *at, const char *path,
			   struct check_conf *ck, bool rewritten)
{
	char err[256], *pattern;
	size_t n, cost;

	if (rewritten) {
		cfg_regex_unref(ck->expect_re);
		ck->expect_re = NULL;
	}
	if (ck->expect_re || !cfg_expect_is_regex(ck->expect))
		return;
	n = strlen(ck->expect);
	if (n == 2) {
		errlist_at(c->el, at, path, "empty regular expression (expected a prefix, or "
			   "/REGEX/ with a POSIX extended regular expression)");
		return;
	}
	pattern = expect_pattern(ck);
	cost = cfg_regex_cost(pattern);
	if (cost != SIZE_MAX && !regex_room(c, cost)) {
		if (c->regex_load <= CFG_MAX_REGEX_LOAD) {
			c->regex_load = CFG_MAX_REGEX_LOAD + 1;    /* report once */
			errlist_at(c->el, at, path, "the regular expressions of this file add up "
				   "to too much to compile (expected at most %u of the largest size, "
				   "%d atoms, or more smaller ones)",
				   CFG_MAX_REGEX_LOAD / CFG_REGEX_MAX_COST / CFG_REGEX_MAX_COST,
				   CFG_REGEX_MAX_COST);
		}
		free(pattern);
		return;
	}
	ck->expect_re = cfg_regex_new(pattern, err, sizeof(err));
	if (!ck->expect_re)
		errlist_at(c->el, at, path, "invalid regular expression %s: %s (expected a POSIX "
			   "extended regular expression)", ck->expect, err);
	free(pattern);
}

void cfg_expect_keys_fit(struct cfg_ctx *c, const struct ynode *ckn, const char *path,
			 enum check_type type)
{
	static const char *const keys[] = { "send", "expect", "quit", "tls", NULL };
	const struct ynode *k;
	char kpath[256];

	if (type == CHECK_EXPECT || !ckn)
		return;
	for (int i = 0; keys[i]; i++) {
		k = ymap_key(ckn, keys[i]);
		cfg_path_key(kpath, sizeof(kpath), path, keys[i]);
		if (k)
			errlist_at(c->el, k, kpath, "not valid for check type %s (expected "
				   "type expect)", cfg_check_type_name(type));
	}
}

void cfg_check_expect(struct cfg_ctx *c, const struct ynode *ckn, const struct ynode *at,
		      const char *path, struct check_conf *ck)
{
	const struct ynode *ev = ymap_get(ckn, "expect");
	char kpath[256];

	if (ck->type != CHECK_EXPECT) {
		cfg_expect_keys_fit(c, ckn, path, ck->type);
		return;
	}
	if (!ck->expect || !ck->expect[0]) {
		if (!ev)
			errlist_at(c->el, ckn ? ckn : at, path, "missing required key \"expect\" "
				   "for check type expect (expected a prefix of the first line, "
				   "or /REGEX/)");
		return;
	}
	cfg_path_key(kpath, sizeof(kpath), path, "expect");
	expect_compile(c, ev ? ev : (ckn ? ckn : at), kpath, ck, ev != NULL);
}

void cfg_expect_normalize(struct check_conf *ck)
{
	if (ck->type == CHECK_EXPECT)
		return;
	free(ck->send);
	free(ck->expect);
	free(ck->quit);
	cfg_regex_unref(ck->expect_re);
	ck->send = ck->expect = ck->quit = NULL;
	ck->expect_re = NULL;
	ck->tls = false;
}
