/* Internal to the spec loader: reading checked values out of the YAML tree.
 * Every failure is "where: key.path: what was expected, got 'value'" with
 * EXIT_USAGE (core/spec_value.c). */
#ifndef D2L_SPEC_VALUE_H
#define D2L_SPEC_VALUE_H

#include <stdbool.h>

#include "spec.h"
#include "spec_tree.h"
#include "suggest.h"

#define SPEC_PATH_LEN 256

struct vctx {
    const char *file; /* the name used in messages */
    struct err *e;
};

/* The allowed range of a real number, each with its wording. */
enum num_range { NUM_ANY, NUM_POSITIVE, NUM_NONNEG, NUM_UNIT /* [0, 1) */ };

int verr(const struct vctx *c, struct ypos at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "expected WHAT, got 'text'" (or "got a list", "got a mapping"). */
int verr_expected(const struct vctx *c, const struct ynode *node, const char *path, const char *what);
void path_join(char out[SPEC_PATH_LEN], const char *path, const char *key);
void path_index(char out[SPEC_PATH_LEN], const char *path, int i);

/* The value under key in a mapping, NULL when absent. */
const struct ynode *map_find(const struct ynode *map, const char *key);
/* Refuses keys outside the NULL-terminated list (naming the nearest valid
 * one; a NULL list allows any key) and keys given twice. */
int check_keys(const struct vctx *c, const struct ynode *map, const char *path, const char *const *allowed);
int need_map(const struct vctx *c, const struct ynode *node, const char *path);
int need_key(const struct vctx *c, const struct ynode *map, const char *path, const char *key);
/* Exactly one key: the one-key mappings such as `linear: {out: 10}`. */
int need_one_key(const struct vctx *c, const struct ynode *map, const char *path, const char *what);
/* The index in `names` of the one key of a one-key mapping such as
 * `linear: {out: 10}`; any other key is unknown. */
int one_key(int *index, const struct vctx *c, const struct ynode *map, const char *path, const char *const *names,
            const char *what);

int to_number(const struct vctx *c, const struct ynode *node, const char *path, enum num_range r, double *out);
int to_int(const struct vctx *c, const struct ynode *node, const char *path, long long lo, long long hi,
           long long *out);
int to_bool(const struct vctx *c, const struct ynode *node, const char *path, bool *out);
int to_string(const struct vctx *c, const struct ynode *node, const char *path, char *out, size_t cap);
/* The index of the node's text in the NULL-terminated list. */
int to_choice(const struct vctx *c, const struct ynode *node, const char *path, const char *const *names,
              int *out);
/* A list of at most max numbers in r. */
int to_numbers(const struct vctx *c, const struct ynode *node, const char *path, enum num_range r,
               double *out, int max, int *n);

/* The same for map[key], leaving *out (the default) when the key is absent. */
int opt_number(const struct vctx *c, const struct ynode *map, const char *path, const char *key,
               enum num_range r, double *out);
int opt_int(const struct vctx *c, const struct ynode *map, const char *path, const char *key, int lo, int hi,
            int *out);
int opt_bool(const struct vctx *c, const struct ynode *map, const char *path, const char *key, bool *out);
int opt_string(const struct vctx *c, const struct ynode *map, const char *path, const char *key, char *out,
               size_t cap);

/* The struct spec form of a position (line 0 and the --set: from --set). */
static inline struct mark spec_mark(struct ypos at)
{
    return (struct mark){at.origin ? 0 : at.line, at.origin ? 0 : at.col, at.origin};
}

/* The initialisers by name, with their settings (shared by reader and writer). */
struct init_name {
    const char *name;
    int kind;                  /* enum init_kind */
    const char *params[3];     /* NULL-terminated: a, b */
    double defaults[2];
    enum num_range ranges[2];
    bool needs_params;         /* no scalar form: uniform, constant */
};
extern const struct init_name spec_inits[];
extern const int spec_n_inits;

/* An initializer: a name or a one-key mapping such as normal: {std: 0.01}. */
int spec_read_init(struct init_spec *out, const struct vctx *c, const struct ynode *node, const char *path);
/* `blocks:` (may be NULL) and `model:` into s->items, s->blocks and the
 * expanded s->layers (core/spec_model.c). */
int spec_read_model(struct spec *s, const struct vctx *c, const struct ynode *blocks, const struct ynode *model);

/* The `data:` section (core/spec_data.c). */
int spec_read_data(struct data_spec *d, const struct vctx *c, const struct ynode *node);

/* The `train:` section (core/spec_train.c). */
int spec_read_train(struct spec *s, const struct vctx *c, const struct ynode *node);

#endif
