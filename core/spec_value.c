/* Checked conversions from YAML tree nodes to C values, and the messages
 * that say what was expected where. Numbers are parsed strictly: the whole
 * text, decimal only, finite. */
#include "spec_value.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int verr(const struct vctx *c, struct ypos at, const char *path, const char *fmt, ...)
{
    char where[1200], what[2048];
    ypos_format(where, sizeof where, c->file, at);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (path && *path)
        return err_set(c->e, EXIT_USAGE, "%s: %s: %s", where, path, what);
    return err_set(c->e, EXIT_USAGE, "%s: %s", where, what);
}

void path_join(char out[SPEC_PATH_LEN], const char *path, const char *key)
{
    snprintf(out, SPEC_PATH_LEN, "%s%s%s", path, *path ? "." : "", key);
}

void path_index(char out[SPEC_PATH_LEN], const char *path, int i)
{
    snprintf(out, SPEC_PATH_LEN, "%s[%d]", path, i);
}

/* "'text'" for a scalar (shortened), else what kind of node it is. */
static const char *shown(const struct ynode *node, char *buf, size_t cap)
{
    if (node->type == Y_MAP)
        return "a mapping";
    if (node->type == Y_SEQ)
        return "a list";
    if (strlen(node->text) > 60)
        snprintf(buf, cap, "'%.60s...'", node->text);
    else
        snprintf(buf, cap, "'%s'", node->text);
    return buf;
}

int verr_expected(const struct vctx *c, const struct ynode *node, const char *path, const char *what)
{
    char buf[80];
    return verr(c, node->at, path, "expected %s, got %s", what, shown(node, buf, sizeof buf));
}

const struct ynode *map_find(const struct ynode *map, const char *key)
{
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

static bool listed(const char *word, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(word, *names) == 0)
            return true;
    return false;
}

int check_keys(const struct vctx *c, const struct ynode *map, const char *path, const char *const *allowed)
{
    for (int i = 0; i < map->n; i++) {
        char sub[SPEC_PATH_LEN];
        path_join(sub, path, map->keys[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(map->keys[j], map->keys[i]) == 0) {
                if (map->key_at[j].origin)
                    return verr(c, map->key_at[i], sub, "duplicate key");
                return verr(c, map->key_at[i], sub, "duplicate key (first given at line %d)",
                            map->key_at[j].line);
            }
        if (!allowed || listed(map->keys[i], allowed))
            continue;
        const char *near = suggest(map->keys[i], allowed);
        if (near)
            return verr(c, map->key_at[i], sub, "unknown key (did you mean '%s'?)", near);
        return verr(c, map->key_at[i], sub, "unknown key");
    }
    return 0;
}

int one_key(int *index, const struct vctx *c, const struct ynode *map, const char *path, const char *const *names,
            const char *what)
{
    if (need_one_key(c, map, path, what) != 0)
        return c->e->code;
    for (int i = 0; names[i]; i++)
        if (strcmp(map->keys[0], names[i]) == 0) {
            *index = i;
            return 0;
        }
    return check_keys(c, map, path, names);
}

int need_map(const struct vctx *c, const struct ynode *node, const char *path)
{
    return node->type == Y_MAP ? 0 : verr_expected(c, node, path, "a mapping of keys");
}

int need_key(const struct vctx *c, const struct ynode *map, const char *path, const char *key)
{
    if (map_find(map, key))
        return 0;
    return verr(c, map->at, path, "missing required key '%s'", key);
}

int need_one_key(const struct vctx *c, const struct ynode *node, const char *path, const char *what)
{
    if (node->type == Y_MAP && node->n == 1)
        return 0;
    if (node->type == Y_MAP && node->n > 1) {
        char sub[SPEC_PATH_LEN];
        path_join(sub, path, node->keys[1]);
        return verr(c, node->key_at[1], sub, "expected exactly one %s, got '%s' and '%s'", what, node->keys[0],
                    node->keys[1]);
    }
    char buf[80];
    return verr(c, node->at, path, "expected exactly one %s, got %s", what,
                node->type == Y_MAP ? "an empty mapping" : shown(node, buf, sizeof buf));
}

static const char *const range_words[] = {
    [NUM_ANY] = "a number",
    [NUM_POSITIVE] = "a positive number",
    [NUM_NONNEG] = "a number >= 0",
    [NUM_UNIT] = "a number in [0, 1)",
};

static bool in_range(double v, enum num_range r)
{
    switch (r) {
    case NUM_POSITIVE:
        return v > 0;
    case NUM_NONNEG:
        return v >= 0;
    case NUM_UNIT:
        return v >= 0 && v < 1;
    default:
        return true;
    }
}

int to_number(const struct vctx *c, const struct ynode *node, const char *path, enum num_range r, double *out)
{
    if (node->type != Y_SCALAR)
        return verr_expected(c, node, path, "a number");
    const char *text = node->text;
    /* Decimal digits only: strtod would also take hex, "inf" and "nan". */
    if (*text == '\0' || strspn(text, "0123456789+-.eE") != strlen(text))
        return verr_expected(c, node, path, "a number");
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end != '\0' || end == text)
        return verr_expected(c, node, path, "a number");
    if ((errno == ERANGE && fabs(v) > 1) || !isfinite(v))
        return verr(c, node->at, path, "expected %s, got %s (too large)", range_words[r], text);
    if (!in_range(v, r))
        return verr(c, node->at, path, "expected %s, got %s", range_words[r], text);
    *out = v;
    return 0;
}

int to_int(const struct vctx *c, const struct ynode *node, const char *path, long long lo, long long hi,
           long long *out)
{
    char what[96];
    if (hi == INT64_MAX)
        snprintf(what, sizeof what, "an integer >= %lld", lo);
    else
        snprintf(what, sizeof what, "an integer in %lld..%lld", lo, hi);
    if (node->type != Y_SCALAR)
        return verr_expected(c, node, path, "an integer");
    const char *text = node->text;
    if (*text == '\0' || strspn(text, "0123456789+-") != strlen(text))
        return verr_expected(c, node, path, "an integer");
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*end != '\0' || end == text)
        return verr_expected(c, node, path, "an integer");
    if (errno == ERANGE || v < lo || v > hi)
        return verr(c, node->at, path, "expected %s, got %s", what, text);
    *out = v;
    return 0;
}

int to_bool(const struct vctx *c, const struct ynode *node, const char *path, bool *out)
{
    if (node->type == Y_SCALAR && strcmp(node->text, "true") == 0)
        *out = true;
    else if (node->type == Y_SCALAR && strcmp(node->text, "false") == 0)
        *out = false;
    else
        return verr_expected(c, node, path, "true or false");
    return 0;
}

int to_string(const struct vctx *c, const struct ynode *node, const char *path, char *out, size_t cap)
{
    if (node->type != Y_SCALAR)
        return verr_expected(c, node, path, "a string");
    if (strlen(node->text) >= cap) {
        char what[64];
        snprintf(what, sizeof what, "a string of at most %zu bytes", cap - 1);
        return verr_expected(c, node, path, what);
    }
    strcpy(out, node->text);
    return 0;
}

int to_choice(const struct vctx *c, const struct ynode *node, const char *path, const char *const *names,
              int *out)
{
    char what[512] = "one of ";
    for (int i = 0; names[i]; i++) {
        size_t used = strlen(what);
        snprintf(what + used, sizeof what - used, "%s%s", i ? ", " : "", names[i]);
    }
    if (node->type != Y_SCALAR)
        return verr_expected(c, node, path, what);
    for (int i = 0; names[i]; i++)
        if (strcmp(node->text, names[i]) == 0) {
            *out = i;
            return 0;
        }
    const char *near = suggest(node->text, names);
    if (near) {
        char buf[80];
        return verr(c, node->at, path, "expected %s, got %s (did you mean '%s'?)", what,
                    shown(node, buf, sizeof buf), near);
    }
    return verr_expected(c, node, path, what);
}

int to_numbers(const struct vctx *c, const struct ynode *node, const char *path, enum num_range r,
               double *out, int max, int *n)
{
    char what[64];
    snprintf(what, sizeof what, "a list of 1 to %d numbers", max);
    if (node->type != Y_SEQ || node->n == 0 || node->n > max)
        return verr_expected(c, node, path, what);
    for (int i = 0; i < node->n; i++) {
        char sub[SPEC_PATH_LEN];
        path_index(sub, path, i);
        if (to_number(c, node->items[i], sub, r, &out[i]) != 0)
            return c->e->code;
    }
    *n = node->n;
    return 0;
}

int opt_number(const struct vctx *c, const struct ynode *map, const char *path, const char *key,
               enum num_range r, double *out)
{
    const struct ynode *node = map_find(map, key);
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, key);
    return node ? to_number(c, node, sub, r, out) : 0;
}

int opt_int(const struct vctx *c, const struct ynode *map, const char *path, const char *key, int lo, int hi,
            int *out)
{
    const struct ynode *node = map_find(map, key);
    if (!node)
        return 0;
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, key);
    long long v;
    if (to_int(c, node, sub, lo, hi, &v) != 0)
        return c->e->code;
    *out = (int)v;
    return 0;
}

int opt_bool(const struct vctx *c, const struct ynode *map, const char *path, const char *key, bool *out)
{
    const struct ynode *node = map_find(map, key);
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, key);
    return node ? to_bool(c, node, sub, out) : 0;
}

int opt_string(const struct vctx *c, const struct ynode *map, const char *path, const char *key, char *out,
               size_t cap)
{
    const struct ynode *node = map_find(map, key);
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, key);
    return node ? to_string(c, node, sub, out, cap) : 0;
}
