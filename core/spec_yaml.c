/* YAML text -> struct ynode tree, with libyaml's event parser. The input is
 * untrusted: aliases are refused (no billion laughs), depth, node count and
 * size are bounded, and every libyaml error becomes a message with a
 * position. */
#include "spec_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

void ypos_format(char *buf, size_t cap, const char *file, struct ypos at)
{
    if (at.origin)
        snprintf(buf, cap, "--set %s", at.origin);
    else
        snprintf(buf, cap, "%s:%d:%d", file, at.line, at.col);
}

struct ynode *ytree_new(enum ytype type, struct ypos at)
{
    struct ynode *node = calloc(1, sizeof *node);
    if (node) {
        node->type = type;
        node->at = at;
    }
    return node;
}

void ytree_free(struct ynode *node)
{
    if (!node)
        return;
    for (int i = 0; i < node->n; i++) {
        ytree_free(node->items[i]);
        if (node->keys)
            free(node->keys[i]);
    }
    free(node->items);
    free(node->keys);
    free(node->key_at);
    free(node->text);
    free(node);
}

static int grow(struct ynode *node)
{
    if (node->n < node->cap)
        return 0;
    int cap = node->cap ? 2 * node->cap : 4;
    struct ynode **items = realloc(node->items, cap * sizeof *items);
    if (!items)
        return -1;
    node->items = items;
    if (node->type == Y_MAP) {
        char **keys = realloc(node->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        node->keys = keys;
        struct ypos *key_at = realloc(node->key_at, cap * sizeof *key_at);
        if (!key_at)
            return -1;
        node->key_at = key_at;
    }
    node->cap = cap;
    return 0;
}

static int seq_add(struct ynode *seq, struct ynode *item)
{
    if (grow(seq) != 0) {
        ytree_free(item);
        return -1;
    }
    seq->items[seq->n++] = item;
    return 0;
}

int ytree_map_add(struct ynode *map, const char *key, struct ypos key_at, struct ynode *value)
{
    char *copy = strdup(key);
    if (!copy || grow(map) != 0) {
        free(copy);
        ytree_free(value);
        return -1;
    }
    map->keys[map->n] = copy;
    map->key_at[map->n] = key_at;
    map->items[map->n++] = value;
    return 0;
}

/* The builder's state: the open collections, and for the innermost mapping
 * the key waiting for its value. */
struct builder {
    const char *file, *origin;
    struct err *e;
    struct ynode *root;
    struct ynode *open[YTREE_MAX_DEPTH];
    int depth;
    char *key; /* pending key of open[depth-1] when it is a mapping */
    struct ypos key_at;
    int n_nodes;
};

static struct ypos pos_of(const struct builder *b, yaml_mark_t m)
{
    if (b->origin)
        return (struct ypos){0, 0, b->origin};
    return (struct ypos){(int)m.line + 1, (int)m.column + 1, NULL};
}

static int fail_at(struct builder *b, struct ypos at, const char *what)
{
    char where[1200];
    ypos_format(where, sizeof where, b->file, at);
    return err_set(b->e, EXIT_USAGE, "%s: %s", where, what);
}

static int out_of_memory(struct builder *b)
{
    return err_set(b->e, EXIT_RUNTIME, "%s: out of memory while reading the spec", b->file);
}

/* Hangs a new node under the innermost open collection (or makes it the
 * root); collections are then opened. */
static int attach(struct builder *b, const yaml_event_t *ev, enum ytype type)
{
    struct ypos at = pos_of(b, ev->start_mark);
    if (++b->n_nodes > YTREE_MAX_NODES)
        return fail_at(b, at, "too many YAML nodes (the limit is 10000)");
    struct ynode *parent = b->depth ? b->open[b->depth - 1] : NULL;
    if (parent && parent->type == Y_MAP && !b->key) {
        if (type != Y_SCALAR)
            return fail_at(b, at, "mapping keys must be plain scalars");
        b->key = strdup((const char *)ev->data.scalar.value);
        b->key_at = at;
        return b->key ? 0 : out_of_memory(b);
    }
    if (type != Y_SCALAR && b->depth == YTREE_MAX_DEPTH)
        return fail_at(b, at, "nesting deeper than 32 levels");
    struct ynode *node = ytree_new(type, at);
    if (!node)
        return out_of_memory(b);
    if (type == Y_SCALAR && !(node->text = strdup((const char *)ev->data.scalar.value))) {
        ytree_free(node);
        return out_of_memory(b);
    }
    int rc = 0;
    if (!parent)
        b->root = node;
    else if (parent->type == Y_SEQ)
        rc = seq_add(parent, node);
    else {
        rc = ytree_map_add(parent, b->key, b->key_at, node);
        free(b->key);
        b->key = NULL;
    }
    if (rc != 0)
        return out_of_memory(b);
    if (type != Y_SCALAR)
        b->open[b->depth++] = node;
    return 0;
}

/* 1-based line and column of a byte offset (reader errors give only that). */
static struct ypos pos_of_offset(const struct builder *b, const char *text, size_t len, size_t offset)
{
    if (b->origin)
        return (struct ypos){0, 0, b->origin};
    struct ypos at = {1, 1, NULL};
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            at.line++;
            at.col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            at.col++;
        }
    }
    return at;
}

static int parser_error(struct builder *b, const yaml_parser_t *p, const char *text, size_t len)
{
    char what[512];
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return out_of_memory(b);
    case YAML_READER_ERROR:
        if (p->problem_value != -1)
            snprintf(what, sizeof what, "invalid YAML: %s (byte 0x%02x)", p->problem, p->problem_value);
        else
            snprintf(what, sizeof what, "invalid YAML: %s", p->problem);
        return fail_at(b, pos_of_offset(b, text, len, p->problem_offset), what);
    default:
        if (p->context)
            snprintf(what, sizeof what, "invalid YAML: %s (%s at line %d, column %d)",
                     p->problem ? p->problem : "syntax error", p->context,
                     (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
        else
            snprintf(what, sizeof what, "invalid YAML: %s", p->problem ? p->problem : "syntax error");
        return fail_at(b, pos_of(b, p->problem_mark), what);
    }
}

/* Handles one event; *done is set at the end of the stream. */
static int on_event(struct builder *b, const yaml_event_t *ev, int *n_docs, int *done)
{
    struct ypos at = pos_of(b, ev->start_mark);
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*n_docs > 1)
            return fail_at(b, at, "more than one YAML document; a spec is one document");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_at(b, at, "YAML aliases are not supported");
    case YAML_SCALAR_EVENT:
        if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
            return fail_at(b, at, "a NUL character in a scalar is not supported");
        return attach(b, ev, Y_SCALAR);
    case YAML_SEQUENCE_START_EVENT:
        return attach(b, ev, Y_SEQ);
    case YAML_MAPPING_START_EVENT:
        return attach(b, ev, Y_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        b->depth--;
        return 0;
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return 0;
    default:
        return 0;
    }
}

int ytree_parse(struct ynode **root, const char *text, size_t len, const char *file,
                const char *origin, struct err *e)
{
    *root = NULL;
    struct builder b = {.file = file, .origin = origin, .e = e};
    if (len > YTREE_MAX_BYTES)
        return fail_at(&b, (struct ypos){1, 1, origin}, "larger than 1 MiB; a spec is a small text file");
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return out_of_memory(&b);
    /* libyaml asserts on a NULL input, which an empty file reads as */
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    int rc = 0, n_docs = 0, done = 0;
    while (rc == 0 && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&b, &parser, text, len);
            break;
        }
        rc = on_event(&b, &ev, &n_docs, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    free(b.key);
    if (rc != 0) {
        ytree_free(b.root);
        return rc;
    }
    *root = b.root;
    return 0;
}
