#include "spec_points.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/read_all.h"
#include "spec_tree.h"

/* A growing string; `failed` once out of memory. */
struct text {
    char *s;
    size_t len, cap;
    int failed;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *grown = realloc(t->s, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->s = grown;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void put_str(struct text *t, const char *s) { put(t, s, strlen(s)); }

static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* The escape, in a double-quoted scalar, of the character at s (*n bytes
 * long), or NULL when it goes as it is. Escaped: what YAML refuses raw
 * (C0 and C1 controls, DEL, BOM, U+FFFE/F) and the line breaks it would
 * fold into a space (NEL, LS, PS). */
static const char *escape_of(const unsigned char *s, int *n, char buf[8])
{
    *n = 1;
    if (*s == '"' || *s == '\\')
        snprintf(buf, 8, "\\%c", *s);
    else if (*s < 0x20 || *s == 0x7f)
        snprintf(buf, 8, "\\x%02x", *s);
    else if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0 && (*n = 2))
        snprintf(buf, 8, "\\x%02x", s[1]);
    else if (s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9) && (*n = 3))
        snprintf(buf, 8, "\\%c", s[2] == 0xa8 ? 'L' : 'P');
    else if (s[0] == 0xef && ((s[1] == 0xbb && s[2] == 0xbf) || (s[1] == 0xbf && s[2] >= 0xbe)) && (*n = 3))
        snprintf(buf, 8, "\\u%04x", (s[0] & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f));
    else
        return NULL;
    return buf;
}

/* A scalar as YAML that reads back as the same text: plain where that is
 * safe, else double-quoted. */
static void put_scalar(struct text *t, const char *s)
{
    /* "- x" would be a list; a '?' first starts a key inside {...} */
    bool indicator = s[0] == '?' || (s[0] == '-' && (s[1] == ' ' || !s[1]));
    if (*s && printable_ascii(s) && !strpbrk(s, ",[]{}:#&*!|>'\"%@`\\") && s[0] != ' ' && !indicator &&
        s[strlen(s) - 1] != ' ') {
        put_str(t, s);
        return;
    }
    put_str(t, "\"");
    while (*s) {
        char buf[8];
        int n;
        const char *esc = escape_of((const unsigned char *)s, &n, buf);
        if (esc)
            put_str(t, esc);
        else
            put(t, s, 1);
        s += n;
    }
    put_str(t, "\"");
}

/* A node as flow YAML: 0.1, [0.9, 0.99], {adam: {lr: 0.01}}. */
static void put_flow(struct text *t, const struct ynode *n)
{
    switch (n->type) {
    case Y_SCALAR:
        put_scalar(t, n->text ? n->text : "");
        return;
    case Y_SEQ:
    case Y_MAP:
        put_str(t, n->type == Y_SEQ ? "[" : "{");
        for (int i = 0; i < n->n; i++) {
            put_str(t, i ? ", " : "");
            if (n->type == Y_MAP) {
                put_scalar(t, n->keys[i]);
                put_str(t, ": ");
            }
            put_flow(t, n->items[i]);
        }
        put_str(t, n->type == Y_SEQ ? "]" : "}");
        return;
    }
}

static int point_of(struct spec_point *p, const struct ynode *map, int index, const char *path, struct err *e)
{
    *p = (struct spec_point){.line = map->at.line, .col = map->at.col};
    if (map->type != Y_MAP)
        return err_set(e, EXIT_USAGE, "%s:%d:%d: point %d: expected a mapping of key.path: value, e.g. "
                       "{optimizer.sgd.lr: 0.1}", path, map->at.line, map->at.col, index);
    if (!(p->sets = calloc((size_t)map->n + 1, sizeof *p->sets)))
        return err_set(e, EXIT_RUNTIME, "out of memory");
    for (int i = 0; i < map->n; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(map->keys[i], map->keys[j]))
                return err_set(e, EXIT_USAGE, "%s:%d:%d: point %d: %s is given twice", path, map->key_at[i].line,
                               map->key_at[i].col, index, map->keys[i]);
        if (!map->keys[i][0] || strchr(map->keys[i], '='))
            return err_set(e, EXIT_USAGE, "%s:%d:%d: point %d: '%s' is not a key path like optimizer.sgd.lr", path,
                           map->key_at[i].line, map->key_at[i].col, index, map->keys[i]);
        struct text t = {0};
        put_str(&t, map->keys[i]);
        put_str(&t, "=");
        put_flow(&t, map->items[i]);
        if (t.failed) {
            free(t.s);
            return err_set(e, EXIT_RUNTIME, "out of memory");
        }
        p->sets[p->n_sets++] = t.s;
    }
    return 0;
}

int spec_points_load(const char *path, struct spec_point **points, int *n_points, struct err *e)
{
    *points = NULL;
    *n_points = 0;
    uint8_t *text;
    size_t len;
    if (read_all(path, YTREE_MAX_BYTES, "points file", &text, &len, e)) {
        e->code = EXIT_USAGE; /* a file the user names on the command line */
        return e->code;
    }
    struct ynode *root = NULL;
    int rc = ytree_parse(&root, (const char *)text, len, path, NULL, e);
    free(text);
    if (rc)
        return rc;
    if (!root || root->type != Y_SEQ || root->n == 0) {
        if (root)
            err_set(e, EXIT_USAGE, "%s:%d:%d: expected a list of points, each a mapping {key.path: value, ...}",
                    path, root->at.line, root->at.col);
        else
            err_set(e, EXIT_USAGE, "%s: no points in it (expected a list of mappings {key.path: value, ...})", path);
        ytree_free(root);
        return e->code;
    }
    if (!(*points = calloc((size_t)root->n, sizeof **points)))
        err_set(e, EXIT_RUNTIME, "out of memory");
    for (int i = 0; i < root->n && !e->code; i++, ++*n_points)
        point_of(&(*points)[i], root->items[i], i + 1, path, e);
    ytree_free(root);
    if (e->code) {
        spec_points_free(*points, *n_points);
        *points = NULL;
        *n_points = 0;
    }
    return e->code;
}

void spec_points_free(struct spec_point *points, int n_points)
{
    for (int i = 0; points && i < n_points; i++) {
        for (int j = 0; j < points[i].n_sets; j++)
            free(points[i].sets[j]);
        free(points[i].sets);
    }
    free(points);
}

int spec_grid_split(const char *text, const char *grid, struct grid_value **values, int *n, struct err *e)
{
    *n = 0;
    int cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    if (!(*values = calloc((size_t)cap, sizeof **values)))
        return err_set(e, EXIT_RUNTIME, "out of memory");
    int depth = 0;
    char quote = 0;
    const char *start = text;
    for (const char *c = text; !e->code; c++) {
        if (quote == '"' && *c == '\\' && c[1]) /* "a\",b" is one value */
            c++;
        else if (quote && *c == quote)
            quote = 0;
        else if (!quote && (*c == '\'' || *c == '"'))
            quote = *c;
        else if (!quote && (*c == '[' || *c == '{'))
            depth++;
        else if (!quote && (*c == ']' || *c == '}') && --depth < 0) {
            err_set(e, EXIT_USAGE, "--grid %s: a bracket is closed that was not opened", grid);
            break;
        }
        if (*c && (quote || depth > 0 || *c != ','))
            continue;
        if (c == start) {
            err_set(e, EXIT_USAGE, "--grid %s: value %d is empty", grid, *n + 1);
            break;
        }
        (*values)[(*n)++] = (struct grid_value){(size_t)(start - text), (size_t)(c - start)};
        if (!*c)
            return 0;
        start = c + 1;
    }
    free(*values);
    *values = NULL;
    *n = 0;
    return e->code;
}
