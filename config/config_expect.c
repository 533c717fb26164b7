/* config_expect.c - the keys of check type expect (send, expect, quit, tls):
 * only valid with that type, expect required, a /regex/ compiled once here
 * with regerror's text as the error at the key. */
#include "config/cfg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

bool cfg_expect_is_regex(const char *expect)
{
	size_t n = expect ? strlen(expect) : 0;

	return n >= 2 && expect[0] == '/' && expect[n - 1] == '/';
}

/* Compile ck->expect when it is a /regex/ and not compiled yet (or this level
 * wrote it). at: the node to report an error at. */
static void expect_compile(struct cfg_ctx *c, const struct ynode *at, const char *path,
			   struct check_conf *ck, bool rewritten)
{
	char err[256], *pattern;
	size_t n;

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
	pattern = xstrdup(ck->expect + 1);
	pattern[n - 2] = '\0';
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
