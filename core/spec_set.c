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

/* One step of a key path: a mapping key, or [index] into a list. */
struct step {
    char key[SET_MAX_PATH]; /* "" for an index */
    int index;
};

static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* path: key ('[' N ']')* ('.' key ('[' N ']')*)*, as model[1].linear.out. */
static int parse_path(struct step *steps, int *n_steps, const char *path)
{
    int n = 0;
    const char *p = path;
    for (;;) {
        size_t len = 0;
        while (is_key_char(p[len]))
            len++;
        if (len == 0 || n == SET_MAX_PATH / 2)
            return -1;
        memcpy(steps[n].key, p, len);
        steps[n++].key[len] = '\0';
        p += len;
        while (*p == '[') {
            char *end;
            if (p[1] < '0' || p[1] > '9' || n == SET_MAX_PATH / 2)
                return -1;
            long index = strtol(p + 1, &end, 10);
            if (*end != ']' || index > YTREE_MAX_NODES)
                return -1;
            steps[n].key[0] = '\0';
            steps[n++].index = (int)index;
            p = end + 1;
        }
        if (*p == '\0')
            break;
        if (*p++ != '.')
            return -1;
    }
    *n_steps = n;
    return 0;
}

/* The path up to and including step `upto`, for messages. */
static void path_prefix(char *buf, size_t cap, const struct step *steps, int upto)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i <= upto && len < cap; i++)
        len += (size_t)(steps[i].key[0] ? snprintf(buf + len, cap - len, "%s%s", i ? "." : "", steps[i].key)
                                        : snprintf(buf + len, cap - len, "[%d]", steps[i].index));
}

/* Can step i be taken from node? Says what is wrong when not. */
static int check_step(const struct ynode *node, const struct step *steps, int i, const char *set, struct err *e)
{
    char at[SET_MAX_PATH * 2], parent[SET_MAX_PATH * 2];
    path_prefix(at, sizeof at, steps, i);
    if (i > 0)
        path_prefix(parent, sizeof parent, steps, i - 1);
    if (steps[i].key[0] && node->type == Y_SEQ)
        return set_error(e, set, "%s: %s is a list of %d item%s: index it, as %s[0]", at, parent, node->n,
                         node->n == 1 ? "" : "s", parent);
    if (steps[i].key[0] && node->type == Y_SCALAR)
        return set_error(e, set, "%s: %s is a single value, not a mapping with keys to set", at, parent);
    if (!steps[i].key[0] && node->type != Y_SEQ)
        return set_error(e, set, "%s: %s is not a list", at, parent);
    if (!steps[i].key[0] && steps[i].index >= node->n && node->n == 0)
        return set_error(e, set, "%s: index %d is out of range: %s is an empty list", at, steps[i].index, parent);
    if (!steps[i].key[0] && steps[i].index >= node->n)
        return set_error(e, set, "%s: index %d is out of range: %s has %d item%s (indices 0 to %d)", at,
                         steps[i].index, parent, node->n, node->n == 1 ? "" : "s", node->n - 1);
    return 0;
}

/* Walks (creating mappings for missing keys) to the node that holds the
 * last step: a mapping for a key, a list for an index. */
static int walk(struct ynode **holder, struct ynode *root, const struct step *steps, int n, const char *set,
                struct err *e)
{
    struct ypos here = {0, 0, set};
    struct ynode *node = root;
    for (int i = 0; i < n - 1; i++) {
        if (check_step(node, steps, i, set, e))
            return e->code;
        if (!steps[i].key[0]) {
            node = node->items[steps[i].index];
            continue;
        }
        int k = find_key(node, steps[i].key);
        if (k < 0 && !steps[i + 1].key[0]) {
            char at[SET_MAX_PATH * 2];
            path_prefix(at, sizeof at, steps, i);
            return set_error(e, set, "%s: no such list to index", at);
        }
        if (k < 0) {
            struct ynode *child = ytree_new(Y_MAP, here);
            if (!child || ytree_map_add(node, steps[i].key, here, child) != 0)
                return err_set(e, EXIT_RUNTIME, "--set %s: out of memory", set);
            k = node->n - 1;
        }
        node = node->items[k];
    }
    if (check_step(node, steps, n - 1, set, e))
        return e->code;
    *holder = node;
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
    struct step steps[SET_MAX_PATH / 2];
    int n_steps;
    if (parse_path(steps, &n_steps, path) != 0)
        return set_error(e, set, "'%s' is not a key path like optimizer.sgd.lr or model[1].linear.out", path);

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

    struct ynode *holder = NULL;
    if (walk(&holder, root, steps, n_steps, set, e) != 0) {
        ytree_free(value);
        return e->code;
    }
    const struct step *last = &steps[n_steps - 1];
    int i = last->key[0] ? find_key(holder, last->key) : last->index;
    if (i >= 0) {
        ytree_free(holder->items[i]);
        holder->items[i] = value;
        if (last->key[0])
            holder->key_at[i] = (struct ypos){0, 0, set};
        return 0;
    }
    if (ytree_map_add(holder, last->key, (struct ypos){0, 0, set}, value) != 0)
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
