/* --set overrides, sweep --grid values and --points files on any bytes. An
 * input is a spec, then sections: after a line "%%set" each line is one
 * --set; after "%%grid" each line is one --grid KEY=V1,V2,...; after
 * "%%points" the lines are a points file. The spec is loaded with the --sets
 * (and with the --sets and each of the first values of a grid, or of the
 * first points), as run and sweep do. Oracles: no crash, no sanitizer
 * report; a spec that loads round-trips (fuzz/round_trip.c); a refusal is a
 * usage error (exit 2) that names the --set when the spec alone loads; a
 * grid's values are non-empty and, joined with commas, its text, its error
 * names the --grid; a points file's error names the file; and each point's
 * "key=value" text gives back the key and, parsed as a --set value is, the
 * file's value node. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/spec.h"
#include "../core/spec_points.h"
#include "../core/spec_tree.h"
#include "input_file.h"
#include "round_trip.h"

#define MAX_SETS 16
#define MAX_GRIDS 4
#define MAX_LOADED 4 /* points or values of a grid, each a load */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    char *spec, *points; /* points NULL without a %%points section */
    const char *sets[MAX_SETS];
    int n_sets;
    const char *grids[MAX_GRIDS];
    int n_grids;
};

/* Splits text (NUL-terminated, edited in place) into its parts. */
static void split_input(struct input *in, char *text)
{
    *in = (struct input){.spec = text};
    enum { SPEC, SETS, GRIDS, POINTS } part = SPEC;
    for (char *line = text; line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!strcmp(line, "%%set") || !strcmp(line, "%%grid") || !strcmp(line, "%%points")) {
            if (part == SPEC && line > text)
                line[-1] = '\0'; /* the spec ends before the header */
            else
                *line = '\0';
            part = line[2] == 's' ? SETS : line[2] == 'g' ? GRIDS : POINTS;
            if (part == POINTS)
                in->points = next ? next : line; /* its lines follow, '\n' kept */
        } else if (part == SETS && in->n_sets < MAX_SETS) {
            in->sets[in->n_sets++] = line;
        } else if (part == GRIDS && in->n_grids < MAX_GRIDS) {
            in->grids[in->n_grids++] = line;
        }
        if (part == POINTS)
            return;
        line = next;
    }
}

static int same_tree(const struct ynode *a, const struct ynode *b)
{
    if (a->type != b->type || a->n != b->n)
        return 0;
    if (a->type == Y_SCALAR)
        return !strcmp(a->text ? a->text : "", b->text ? b->text : "");
    for (int i = 0; i < a->n; i++)
        if ((a->type == Y_MAP && strcmp(a->keys[i], b->keys[i])) || !same_tree(a->items[i], b->items[i]))
            return 0;
    return 1;
}

/* The spec with these --sets: it round-trips, or it is refused for a reason
 * that names a --set (when the spec alone loads). */
static void check_load(const char *spec, const char *const *sets, int n_sets, int spec_alone_loads)
{
    static struct spec loaded;
    struct err e = {0};
    if (!spec_load_string(&loaded, "fuzz.yaml", spec, strlen(spec), sets, n_sets, &e)) {
        fuzz_check_round_trip(&loaded);
        return;
    }
    if (e.code != EXIT_USAGE || !e.msg[0]) {
        fprintf(stderr, "refused with exit %d, not a usage error: %s\n", e.code, e.msg);
        abort();
    }
    if (spec_alone_loads && n_sets && !strstr(e.msg, "--set ")) {
        fprintf(stderr, "the spec loads, with its --sets it does not, and the error names no --set: %s\n", e.msg);
        abort();
    }
}

/* Each point's i-th text is "key=value" of the file's i-th key, the value
 * reading back (as apply_one reads it) as the file's node. */
static void check_point_texts(const char *text, const struct spec_point *points, int n_points)
{
    struct ynode *root = NULL, *value = NULL;
    struct err e = {0};
    if (ytree_parse(&root, text, strlen(text), "points.yaml", NULL, &e) || !root || root->n != n_points)
        abort(); /* spec_points_load read this very text */
    for (int p = 0; p < n_points; p++)
        for (int i = 0; i < points[p].n_sets; i++) {
            const struct ynode *map = root->items[p];
            const char *set = points[p].sets[i];
            size_t key_len = strlen(map->keys[i]);
            if (strncmp(set, map->keys[i], key_len) || set[key_len] != '=') {
                fprintf(stderr, "point %d's text %s is not of key %s\n", p + 1, set, map->keys[i]);
                abort();
            }
            struct ynode empty = {.type = Y_SCALAR};
            if (ytree_parse(&value, set + key_len + 1, strlen(set + key_len + 1), "points.yaml", set, &e) ||
                !same_tree(value ? value : &empty, map->items[i])) {
                fprintf(stderr, "point %d's text %s does not read back as the file's value%s%s\n", p + 1, set,
                        e.code ? ": " : "", e.msg);
                abort();
            }
            ytree_free(value);
        }
    ytree_free(root);
}

static void check_points(const struct input *in, int spec_alone_loads)
{
    const char *path = fuzz_input_file(0, (const uint8_t *)in->points, strlen(in->points));
    struct spec_point *points;
    int n_points;
    struct err e = {0};
    if (spec_points_load(path, &points, &n_points, &e)) {
        if (e.code != EXIT_USAGE || strncmp(e.msg, path, strlen(path))) {
            fprintf(stderr, "a points file's error is not a usage error naming the file: exit %d: %s\n", e.code,
                    e.msg);
            abort();
        }
        return;
    }
    check_point_texts(in->points, points, n_points);
    for (int p = 0; p < n_points && p < MAX_LOADED; p++) {
        const char *sets[MAX_SETS + 64];
        int n_sets = in->n_sets;
        memcpy(sets, in->sets, sizeof *sets * (size_t)n_sets);
        for (int i = 0; i < points[p].n_sets && n_sets < (int)(sizeof sets / sizeof *sets); i++)
            sets[n_sets++] = points[p].sets[i];
        check_load(in->spec, sets, n_sets, spec_alone_loads);
    }
    spec_points_free(points, n_points);
}

/* A grid's values cover its text, comma-separated; each is a --set. */
static void check_grid(const struct input *in, const char *grid, int spec_alone_loads)
{
    const char *eq = strchr(grid, '='), *text = eq ? eq + 1 : grid;
    struct grid_value *values;
    int n;
    struct err e = {0};
    if (spec_grid_split(text, grid, &values, &n, &e)) {
        if (e.code != EXIT_USAGE || strncmp(e.msg, "--grid ", 7)) {
            fprintf(stderr, "a --grid's error is not a usage error naming it: exit %d: %s\n", e.code, e.msg);
            abort();
        }
        return;
    }
    size_t at = 0;
    for (int i = 0; i < n; at += values[i++].len + 1)
        if (values[i].start != at || !values[i].len || text[at + values[i].len] != (i + 1 < n ? ',' : '\0')) {
            fprintf(stderr, "--grid %s: value %d is not the text between two commas\n", grid, i + 1);
            abort();
        }
    for (int i = 0; i < n && i < MAX_LOADED && eq; i++) {
        char *set = NULL;
        if (asprintf(&set, "%.*s=%.*s", (int)(eq - grid), grid, (int)values[i].len, text + values[i].start) < 0)
            abort();
        const char *sets[MAX_SETS + 1];
        memcpy(sets, in->sets, sizeof *sets * (size_t)in->n_sets);
        sets[in->n_sets] = set;
        check_load(in->spec, sets, in->n_sets + 1, spec_alone_loads);
        free(set);
    }
    free(values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct spec alone;
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    struct input in;
    split_input(&in, text);
    struct err e = {0};
    int spec_alone_loads = !spec_load_string(&alone, "fuzz.yaml", in.spec, strlen(in.spec), NULL, 0, &e);
    check_load(in.spec, in.sets, in.n_sets, spec_alone_loads);
    for (int g = 0; g < in.n_grids; g++)
        check_grid(&in, in.grids[g], spec_alone_loads);
    if (in.points)
        check_points(&in, spec_alone_loads);
    free(text);
    return 0;
}
