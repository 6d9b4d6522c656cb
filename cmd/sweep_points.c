/* The sweep's points: --points entries crossed with the --grid axes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/spec_points.h"
#include "sweep.h"

/* Keeps str (malloc'd) until sweep_free; NULL when out of memory. */
static const char *own(struct sweep *s, char *str)
{
    if (str && s->n_owned == s->cap_owned) {
        int cap = s->cap_owned ? s->cap_owned * 2 : 64;
        char **grown = realloc(s->owned, sizeof *grown * (size_t)cap);
        if (!grown) {
            free(str);
            return NULL;
        }
        s->owned = grown;
        s->cap_owned = cap;
    }
    if (str)
        s->owned[s->n_owned++] = str;
    return str;
}

static const char *own_copy(struct sweep *s, const char *text, size_t len)
{
    return own(s, strndup(text, len));
}

static int key_index(const struct sweep *s, const char *key, size_t len)
{
    for (int k = 0; k < s->n_keys; k++)
        if (strlen(s->keys[k]) == len && !strncmp(s->keys[k], key, len))
            return k;
    return -1;
}

static int add_key(struct sweep *s, const char *key, size_t len, const char *where, struct err *e)
{
    if (len == 0)
        return err_set(e, EXIT_USAGE, "%s: expected KEY=V1,V2,..., e.g. --grid optimizer.sgd.lr=0.1,0.3", where);
    if (s->n_keys == SWEEP_MAX_KEYS)
        return err_set(e, EXIT_USAGE, "%s: at most %d keys in one sweep", where, SWEEP_MAX_KEYS);
    if (!(s->keys[s->n_keys] = strndup(key, len)))
        return err_set(e, EXIT_RUNTIME, "out of memory");
    s->n_keys++;
    return 0;
}

/* One axis: its values. */
struct axis {
    int key;
    const char **values;
    int n;
};

static int split_values(struct sweep *s, struct axis *a, const char *text, const char *grid, struct err *e)
{
    struct grid_value *spans;
    int n;
    if (spec_grid_split(text, grid, &spans, &n, e))
        return e->code;
    if ((a->values = calloc((size_t)n, sizeof *a->values)) && own(s, (char *)a->values))
        for (a->n = 0; a->n < n; a->n++)
            if (!(a->values[a->n] = own_copy(s, text + spans[a->n].start, spans[a->n].len)))
                break;
    free(spans);
    return a->values && a->n == n ? 0 : err_set(e, EXIT_RUNTIME, "out of memory");
}

static int parse_grid(struct sweep *s, struct axis *a, const char *grid, struct err *e)
{
    char where[64 + SWEEP_NAME_MAX];
    snprintf(where, sizeof where, "--grid %.*s", SWEEP_NAME_MAX, grid);
    const char *eq = strchr(grid, '=');
    if (!eq || eq == grid || !eq[1])
        return add_key(s, grid, 0, where, e);
    if (key_index(s, grid, (size_t)(eq - grid)) >= 0)
        return err_set(e, EXIT_USAGE, "%s: %.*s is set by another --grid or by --points", where, (int)(eq - grid),
                       grid);
    if (add_key(s, grid, (size_t)(eq - grid), where, e))
        return e->code;
    a->key = s->n_keys - 1;
    return split_values(s, a, eq + 1, grid, e);
}

/* The last part of a key, what a directory name shows: std of
 * init.weight.normal.std. */
static const char *short_key(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

static bool short_keys_unique(const struct sweep *s)
{
    for (int i = 0; i < s->n_keys; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(short_key(s->keys[i]), short_key(s->keys[j])))
                return false;
    return true;
}

/* Characters of a name's keys and values: others become '_' (a ',' in a
 * value too: it separates the key=value pairs). */
static void put_safe(char *out, size_t cap, size_t *len, const char *text)
{
    for (; *text && *len + 1 < cap; text++)
        out[(*len)++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", *text) ? *text
                                                                                                          : '_';
    out[*len] = '\0';
}

/* key=value,key=value, safe as a file name (never starting with '.'),
 * unique among the points (-2, -3, ... appended). */
static void name_point(struct sweep *s, int i, bool short_names)
{
    struct sweep_point *p = &s->points[i];
    size_t len = 0;
    p->name[0] = '\0';
    for (int k = 0; k < s->n_keys; k++)
        if (p->values[k]) {
            put_safe(p->name, SWEEP_NAME_MAX, &len, len ? "," : "");
            if (len) /* the separator itself is safe */
                p->name[len - 1] = ',';
            put_safe(p->name, SWEEP_NAME_MAX, &len, short_names ? short_key(s->keys[k]) : s->keys[k]);
            if (len + 1 < SWEEP_NAME_MAX) {
                p->name[len++] = '=';
                p->name[len] = '\0';
            }
            put_safe(p->name, SWEEP_NAME_MAX, &len, p->values[k]);
        }
    if (len == 0)
        snprintf(p->name, sizeof p->name, "base");
    if (p->name[0] == '.')
        p->name[0] = '_';
    size_t base = strlen(p->name);
    for (int n = 2, j = 0; j < i; j++)
        if (!strcmp(s->points[j].name, p->name)) {
            snprintf(p->name + base, sizeof p->name - base, "-%d", n++);
            j = -1; /* check the new name against all again */
        }
}

/* p's overrides joined by sep as KEY=VALUE (keys shortened when
 * short_names), key skip_key (-1: none) left out. */
static void join_overrides(const struct sweep *s, const struct sweep_point *p, const char *sep, bool short_names,
                           int skip_key, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int k = 0; k < s->n_keys && len < cap; k++)
        if (p->values[k] && k != skip_key)
            len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", len ? sep : "",
                                    short_names ? short_key(s->keys[k]) : s->keys[k], p->values[k]);
    if (len == 0)
        snprintf(out, cap, "(the spec as it is)");
}

static void label_point(const struct sweep *s, struct sweep_point *p)
{
    join_overrides(s, p, " ", false, -1, p->label, sizeof p->label);
}

void sweep_point_caption(const struct sweep *s, int i, bool with_seed, char *out, size_t cap)
{
    join_overrides(s, &s->points[i], ", ", short_keys_unique(s),
                   with_seed ? -1 : s->seed_key, out, cap);
}

/* With a seed key, points equal in every key but the seed share a group;
 * without, each point is its own. */
static void group_points(struct sweep *s)
{
    for (int i = 0; i < s->n_points; i++) {
        struct sweep_point *p = &s->points[i];
        p->group = -1;
        for (int j = 0; j < i && p->group < 0 && s->seed_key >= 0; j++) {
            bool same = true;
            for (int k = 0; k < s->n_keys && same; k++) {
                const char *a = p->values[k], *b = s->points[j].values[k];
                same = k == s->seed_key || (!a && !b) || (a && b && !strcmp(a, b));
            }
            if (same)
                p->group = s->points[j].group;
        }
        if (p->group < 0)
            p->group = s->n_groups++;
    }
}

/* Point `i`: entry `entry` of the file (or none) and, for each axis, the
 * value its digit in the mixed-radix index gives (first axis outermost). */
static int make_point(struct sweep *s, int i, const struct spec_point *entry, const char *points_file,
                      const struct axis *axes, int n_axes, int combo, const char *const *sets, int n_sets,
                      struct err *e)
{
    struct sweep_point *p = &s->points[i];
    int n_entry = entry ? entry->n_sets : 0;
    p->values = calloc((size_t)s->n_keys + 1, sizeof *p->values);
    p->sets = calloc((size_t)(n_sets + n_entry + n_axes) + 1, sizeof *p->sets);
    if (!own(s, (char *)p->values) || !own(s, (char *)p->sets))
        return err_set(e, EXIT_RUNTIME, "out of memory");
    for (int j = 0; j < n_sets; j++)
        p->sets[p->n_sets++] = sets[j];
    for (int j = 0; j < n_entry; j++) {
        const char *set = entry->sets[j], *eq = strchr(set, '=');
        p->values[key_index(s, set, (size_t)(eq - set))] = eq + 1;
        p->sets[p->n_sets++] = set;
    }
    if (entry) {
        char from[4200];
        snprintf(from, sizeof from, "%s:%d:%d", points_file, entry->line, entry->col);
        if (!(p->from = own(s, strdup(from))))
            return err_set(e, EXIT_RUNTIME, "out of memory");
    }
    for (int a = n_axes - 1; a >= 0; a--) {
        const char *value = axes[a].values[combo % axes[a].n];
        combo /= axes[a].n;
        p->values[axes[a].key] = value;
        size_t len = strlen(s->keys[axes[a].key]) + strlen(value) + 2;
        char *set = malloc(len);
        if (!own(s, set))
            return err_set(e, EXIT_RUNTIME, "out of memory");
        snprintf(set, len, "%s=%s", s->keys[axes[a].key], value);
        p->sets[n_sets + n_entry + a] = set;
    }
    p->n_sets += n_axes;
    label_point(s, p);
    return 0;
}

static int build(struct sweep *s, const char *const *grids, int n_grids, const char *points_file,
                 struct spec_point *entries, int n_entries, const char *const *sets, int n_sets, struct err *e)
{
    for (int i = 0; i < n_entries; i++) /* the file's keys first, in order of appearance */
        for (int j = 0; j < entries[i].n_sets; j++) {
            const char *set = entries[i].sets[j];
            size_t len = (size_t)(strchr(set, '=') - set);
            if (key_index(s, set, len) < 0 && add_key(s, set, len, points_file, e))
                return e->code;
        }
    struct axis axes[SWEEP_MAX_KEYS] = {{0}};
    long long combos = 1;
    if (n_grids > SWEEP_MAX_KEYS)
        return err_set(e, EXIT_USAGE, "at most %d --grid axes", SWEEP_MAX_KEYS);
    for (int g = 0; g <= n_grids; g++) { /* checked as it grows: no overflow */
        if (g < n_grids && parse_grid(s, &axes[g], grids[g], e))
            return e->code;
        combos *= g < n_grids ? axes[g].n : 1;
        if (combos * (n_entries ? n_entries : 1) > SWEEP_MAX_POINTS)
            return err_set(e, EXIT_USAGE, "%lld points: at most %d in one sweep",
                           combos * (n_entries ? n_entries : 1), (int)SWEEP_MAX_POINTS);
    }
    s->seed_key = key_index(s, "seed", 4);
    int n_points = (int)combos * (n_entries ? n_entries : 1);
    if (!(s->points = calloc((size_t)n_points, sizeof *s->points)))
        return err_set(e, EXIT_RUNTIME, "out of memory");
    s->n_points = n_points;
    for (int i = 0; i < n_points; i++)
        if (make_point(s, i, n_entries ? &entries[i / (int)combos] : NULL, points_file, axes, n_grids,
                       i % (int)combos, sets, n_sets, e))
            return e->code;
    bool short_names = short_keys_unique(s);
    for (int i = 0; i < n_points; i++)
        name_point(s, i, short_names);
    group_points(s);
    return 0;
}

int sweep_build(struct sweep *s, const char *const *grids, int n_grids, const char *points_file,
                const char *const *sets, int n_sets, struct err *e)
{
    memset(s, 0, sizeof *s);
    s->seed_key = -1;
    struct spec_point *entries = NULL;
    int n_entries = 0;
    if (!n_grids && !points_file)
        return err_set(e, EXIT_USAGE, "a sweep needs --grid KEY=V1,V2,... or --points FILE.yaml (see --help)");
    if (points_file && spec_points_load(points_file, &entries, &n_entries, e))
        return e->code;
    build(s, grids, n_grids, points_file, entries, n_entries, sets, n_sets, e);
    /* the file's --set texts now belong to the sweep */
    for (int i = 0; i < n_entries; i++) {
        for (int j = 0; j < entries[i].n_sets; j++)
            if (!e->code && !own(s, entries[i].sets[j]))
                err_set(e, EXIT_RUNTIME, "out of memory");
            else if (e->code)
                free(entries[i].sets[j]);
        entries[i].n_sets = 0;
    }
    spec_points_free(entries, n_entries);
    if (e->code)
        sweep_free(s);
    return e->code;
}

void sweep_free(struct sweep *s)
{
    for (int i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    for (int k = 0; k < s->n_keys; k++)
        free(s->keys[k]);
    free(s->owned);
    free(s->points);
    memset(s, 0, sizeof *s);
    s->seed_key = -1;
}
