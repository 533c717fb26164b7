/* yaml_tree.c - libyaml events into a small node tree carrying line:col marks.
 *
 * Only what a configuration needs: maps, sequences and scalars of one
 * document. Aliases are refused (anchors alone are harmless and ignored).
 * Bounded: at most YTREE_MAX_DEPTH levels and YTREE_MAX_NODES nodes.
 */
#include "config/cfg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/util.h"

#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES 200000       /* keys, values and items: bounds the tree's memory */

struct ytree_parser {
	yaml_parser_t p;
	const char *text;
	size_t len;
	struct errlist *el;
	size_t nodes;                /* made so far, at most YTREE_MAX_NODES */
};

static struct ynode *ynode_new(enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	return n;
}

static void ynode_push(struct ynode *parent, struct ynode *kid, size_t count, size_t *cap)
{
	if (count == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		parent->kids = xrealloc(parent->kids, *cap * sizeof(*parent->kids));
	}
	parent->kids[count] = kid;
}

void ytree_free(struct ynode *n)
{
	size_t count;

	if (!n)
		return;
	count = n->kind == YNODE_MAP ? n->n * 2 : n->n;
	for (size_t i = 0; i < count; i++)
		ytree_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

/* Line and column of a byte offset, for reader errors that carry no mark. */
static void offset_mark(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static void syntax_error(struct ytree_parser *tp)
{
	const yaml_parser_t *p = &tp->p;
	unsigned line = (unsigned)p->problem_mark.line + 1;
	unsigned col = (unsigned)p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "unknown problem";

	if (p->error == YAML_READER_ERROR) {
		offset_mark(tp->text, tp->len, p->problem_offset, &line, &col);
		errlist_add(tp->el, line, col, "", "syntax error: %s (expected UTF-8 text)",
			    problem);
	} else if (p->context) {
		errlist_add(tp->el, line, col, "", "syntax error: %s (%s at line %u, column %u)",
			    problem, p->context, (unsigned)p->context_mark.line + 1,
			    (unsigned)p->context_mark.column + 1);
	} else {
		errlist_add(tp->el, line, col, "", "syntax error: %s", problem);
	}
}

/* Next event; false (error recorded) on a syntax error. */
static bool next_event(struct ytree_parser *tp, yaml_event_t *ev)
{
	if (yaml_parser_parse(&tp->p, ev))
		return true;
	syntax_error(tp);
	return false;
}

static struct ynode *parse_node(struct ytree_parser *tp, yaml_event_t *ev, int depth);

/* Children of a map or seq until its end event. */
static bool parse_children(struct ytree_parser *tp, struct ynode *parent,
			   yaml_event_type_t end, int depth)
{
	size_t cap = 0, count = 0;

	for (;;) {
		yaml_event_t ev;
		struct ynode *kid;

		if (!next_event(tp, &ev))
			break;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return true;
		}
		kid = parse_node(tp, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!kid)
			break;
		ynode_push(parent, kid, count++, &cap);
		parent->n = parent->kind == YNODE_MAP ? count / 2 : count;
	}
	if (parent->kind == YNODE_MAP && count % 2)
		ytree_free(parent->kids[count - 1]);   /* a key without its value */
	return false;
}

/* The node that starts with ev (consumed by the caller). NULL on error. */
static struct ynode *parse_node(struct ytree_parser *tp, yaml_event_t *ev, int depth)
{
	struct ynode *n;

	if (depth > YTREE_MAX_DEPTH) {
		errlist_add(tp->el, (unsigned)ev->start_mark.line + 1,
			    (unsigned)ev->start_mark.column + 1, "",
			    "nesting too deep (expected at most %d levels)", YTREE_MAX_DEPTH);
		return NULL;
	}
	if (++tp->nodes > YTREE_MAX_NODES) {
		errlist_add(tp->el, (unsigned)ev->start_mark.line + 1,
			    (unsigned)ev->start_mark.column + 1, "",
			    "too many values (expected at most %d keys, values and list items "
			    "in one file)", YTREE_MAX_NODES);
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = ynode_new(YNODE_SCALAR, &ev->start_mark);
		n->text = xmalloc(ev->data.scalar.length + 1);
		memcpy(n->text, ev->data.scalar.value, ev->data.scalar.length);
		n->text[ev->data.scalar.length] = '\0';
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		return n;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		n = ynode_new(ev->type == YAML_MAPPING_START_EVENT ? YNODE_MAP : YNODE_SEQ,
			      &ev->start_mark);
		if (!parse_children(tp, n, ev->type == YAML_MAPPING_START_EVENT ?
				    YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT, depth)) {
			ytree_free(n);
			return NULL;
		}
		return n;
	case YAML_ALIAS_EVENT:
		errlist_add(tp->el, (unsigned)ev->start_mark.line + 1,
			    (unsigned)ev->start_mark.column + 1, "",
			    "alias *%s is not supported (expected the value written out)",
			    (const char *)ev->data.alias.anchor);
		return NULL;
	default:
		errlist_add(tp->el, (unsigned)ev->start_mark.line + 1,
			    (unsigned)ev->start_mark.column + 1, "", "unexpected YAML event");
		return NULL;
	}
}

/* Skip events up to the first document's content; NULL if the stream is empty. */
static bool start_document(struct ytree_parser *tp, yaml_event_t *ev, bool *empty)
{
	*empty = false;
	for (;;) {
		if (!next_event(tp, ev))
			return false;
		if (ev->type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(ev);
			*empty = true;
			return true;
		}
		if (ev->type != YAML_STREAM_START_EVENT && ev->type != YAML_DOCUMENT_START_EVENT)
			return true;
		yaml_event_delete(ev);
	}
}

/* After the document's root: its end, then the stream's end only. */
static bool end_document(struct ytree_parser *tp)
{
	yaml_event_t ev;

	for (;;) {
		if (!next_event(tp, &ev))
			return false;
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			errlist_add(tp->el, (unsigned)ev.start_mark.line + 1,
				    (unsigned)ev.start_mark.column + 1, "",
				    "a second YAML document (expected one document per file)");
			yaml_event_delete(&ev);
			return false;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			return true;
		}
		yaml_event_delete(&ev);
	}
}

struct ynode *ytree_parse(const char *text, size_t len, struct errlist *el)
{
	struct ytree_parser tp = { .text = text, .len = len, .el = el };
	struct ynode *root = NULL;
	yaml_event_t ev;
	bool empty;

	if (!yaml_parser_initialize(&tp.p)) {
		errlist_plain(el, "cannot initialise the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(&tp.p, (const unsigned char *)text, len);
	if (start_document(&tp, &ev, &empty)) {
		if (empty) {
			errlist_add(el, 1, 1, "", "empty configuration (expected a map with "
				    "global, defaults, services, failover, alerts)");
		} else {
			root = parse_node(&tp, &ev, 0);
			yaml_event_delete(&ev);
			if (root && !end_document(&tp)) {
				ytree_free(root);
				root = NULL;
			}
		}
	}
	yaml_parser_delete(&tp.p);
	return root;
}

const struct ynode *ymap_key(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->kids[2 * i];

		if (k->kind == YNODE_SCALAR && strcmp(k->text, key) == 0)
			return k;
	}
	return NULL;
}

const struct ynode *ymap_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->kids[2 * i];

		if (k->kind == YNODE_SCALAR && strcmp(k->text, key) == 0)
			return map->kids[2 * i + 1];
	}
	return NULL;
}

bool ynode_is_null(const struct ynode *n)
{
	if (!n || n->kind != YNODE_SCALAR || n->quoted)
		return false;
	return !*n->text || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
	       !strcmp(n->text, "Null") || !strcmp(n->text, "NULL");
}

const char *ynode_kind_name(const struct ynode *n)
{
	switch (n->kind) {
	case YNODE_MAP:
		return "a map";
	case YNODE_SEQ:
		return "a list";
	default:
		return "a single value";
	}
}
