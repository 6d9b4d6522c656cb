/* `--set a.b.c=value` overrides, applied to the YAML tree before validation
 * so an overridden value gets exactly the checks of one written in the
 * file. The value is parsed as YAML (a scalar, or a flow list or mapping
 * such as [0.9, 0.99]); missing intermediate mappings are created. */
#include "spec_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SET_MAX_PATH 256

static int set_error(struct err *e, const char *set, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_error(struct err *e, const char *set, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(e, EXIT_USAGE, "--set %s: %s", set, what);
}

static int find_key(const struct ynode *map, const char *key)
{
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return i;
    return -1;
}

static int valid_path(const char *path)
{
    if (*path == '\0' || *path == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
        return 0;
    return strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") == strlen(path);
}

/* Walks (creating mappings as needed) to the mapping that holds the last
 * key of `path`; path is edited in place, *last points at that key. */
static int walk(struct ynode **map, char **last, struct ynode *root, char *path, const char *set,
                struct err *e)
{
    struct ypos here = {0, 0, set};
    struct ynode *node = root;
    char *key = path;
    for (char *dot; (dot = strchr(key, '.')); key = dot + 1) {
        *dot = '\0';
        int i = find_key(node, key);
        if (i < 0) {
            struct ynode *child = ytree_new(Y_MAP, here);
            if (!child || ytree_map_add(node, key, here, child) != 0)
                return err_set(e, EXIT_RUNTIME, "--set %s: out of memory", set);
            i = node->n - 1;
        }
        node = node->items[i];
        if (node->type == Y_SEQ)
            return set_error(e, set, "%s: setting an item inside a list is not supported (set the whole list)", path);
        if (node->type == Y_SCALAR)
            return set_error(e, set, "%s: is a single value, not a mapping with keys to set", path);
        *dot = '.';
    }
    *map = node;
    *last = key;
    return 0;
}

static int apply_one(struct ynode *root, const char *file, const char *set, struct err *e)
{
    const char *eq = strchr(set, '=');
    if (!eq)
        return set_error(e, set, "expected path=value, e.g. optimizer.sgd.lr=0.1");
    char path[SET_MAX_PATH];
    size_t path_len = (size_t)(eq - set);
    if (path_len >= sizeof path)
        return set_error(e, set, "the key path is too long");
    memcpy(path, set, path_len);
    path[path_len] = '\0';
    if (!valid_path(path))
        return set_error(e, set, "'%s' is not a key path like optimizer.sgd.lr", path);

    struct ynode *value;
    const char *text = eq + 1;
    if (ytree_parse(&value, text, strlen(text), file, set, e) != 0)
        return e->code;
    if (!value && !(value = ytree_new(Y_SCALAR, (struct ypos){0, 0, set}))) /* "key=" */
        return err_set(e, EXIT_RUNTIME, "--set %s: out of memory", set);
    if (value->type == Y_SCALAR && !value->text && !(value->text = strdup(""))) {
        ytree_free(value);
        return err_set(e, EXIT_RUNTIME, "--set %s: out of memory", set);
    }

    struct ynode *map = NULL;
    char *key = NULL;
    if (walk(&map, &key, root, path, set, e) != 0) {
        ytree_free(value);
        return e->code;
    }
    int i = find_key(map, key);
    if (i >= 0) {
        ytree_free(map->items[i]);
        map->items[i] = value;
        map->key_at[i] = (struct ypos){0, 0, set};
        return 0;
    }
    if (ytree_map_add(map, key, (struct ypos){0, 0, set}, value) != 0)
        return err_set(e, EXIT_RUNTIME, "--set %s: out of memory", set);
    return 0;
}

int spec_apply_sets(struct ynode *root, const char *file, const char *const *sets, int n_sets,
                    struct err *e)
{
    for (int i = 0; i < n_sets; i++)
        if (apply_one(root, file, sets[i], e) != 0)
            return e->code;
    return 0;
}
