/* The `data:` section of a spec. Which keys are valid depends on the kind
 * of dataset: a key meant for another kind is an error, not ignored. */
#include "spec.h"
#include "spec_value.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_SAMPLES 100000000 /* 10^8 rows is already tens of GB of float32 */
#define MAX_FILE_BYTES (1LL << 50)

static const char *const linear_keys[] = {"dataset", "batch_size", "shuffle", "w", "w_fill", "inputs",
                                          "b", "n_train", "n_test", "noise", NULL};
static const char *const poly_keys[] = {"dataset", "batch_size", "shuffle", "w", "coefficients", "n_train",
                                        "n_test", "noise", "max_degree", "features", NULL};
static const char *const image_keys[] = {"dataset", "batch_size", "shuffle", NULL};
static const char *const table_keys[] = {"dataset", "batch_size", "shuffle", "preprocess", NULL};
static const char *const url_keys[] = {"dataset",  "batch_size", "shuffle",     "url",       "sha1",
                                       "sha256",   "size",       "test_url",    "test_sha1", "test_sha256",
                                       "test_size", "preprocess", NULL};
/* Every data key of any kind, to tell "not for this dataset" from "unknown". */
static const char *const all_keys[] = {"dataset", "batch_size", "shuffle", "w", "w_fill", "inputs", "b",
                                       "n_train", "n_test", "noise", "coefficients", "max_degree",
                                       "features", "url", "sha1", "sha256", "size", "test_url", "test_sha1",
                                       "test_sha256", "test_size", "preprocess", NULL};

static const struct builtin {
    const char *name;
    enum dataset_kind kind;
    const char *const *keys;
} builtins[] = {
    {"synthetic_linear", DATASET_SYNTHETIC_LINEAR, linear_keys},
    {"synthetic_poly", DATASET_SYNTHETIC_POLY, poly_keys},
    {"fashion_mnist", DATASET_REGISTRY, image_keys},
    {"kaggle_house", DATASET_REGISTRY, table_keys},
};
static const char *const builtin_names[] = {"synthetic_linear", "synthetic_poly", "fashion_mnist",
                                            "kaggle_house", NULL};
enum { N_BUILTINS = sizeof builtins / sizeof builtins[0] };

/* The dataset name becomes a cache file name: keep it to a safe alphabet. */
static bool safe_name(const char *name)
{
    if (name[0] == '\0' || name[0] == '.' || name[0] == '-')
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(name);
}

static int read_kind(struct data_spec *d, const char *const **keys, const struct vctx *c, const struct ynode *map)
{
    if (need_key(c, map, "data", "dataset") != 0)
        return c->e->code;
    const struct ynode *node = map_find(map, "dataset");
    if (to_string(c, node, "data.dataset", d->dataset, sizeof d->dataset) != 0)
        return c->e->code;
    if (!safe_name(d->dataset))
        return verr(c, node->at, "data.dataset", "expected a name of letters, digits, '_', '-' and '.', got '%s'",
                    d->dataset);
    for (int i = 0; i < N_BUILTINS; i++)
        if (strcmp(d->dataset, builtins[i].name) == 0) {
            d->kind = builtins[i].kind;
            *keys = builtins[i].keys;
            return 0;
        }
    d->kind = DATASET_URL;
    *keys = url_keys;
    const char *near = suggest(d->dataset, builtin_names);
    if (near && !map_find(map, "url"))
        return verr(c, node->at, "data.dataset", "unknown dataset '%s' (did you mean '%s'?)", d->dataset, near);
    return 0;
}

static int refuse_foreign_keys(const struct data_spec *d, const char *const *keys, const struct vctx *c,
                               const struct ynode *map)
{
    for (int i = 0; i < map->n; i++) {
        bool mine = false, known = false;
        for (const char *const *k = keys; *k; k++)
            mine |= strcmp(*k, map->keys[i]) == 0;
        for (const char *const *k = all_keys; *k; k++)
            known |= strcmp(*k, map->keys[i]) == 0;
        if (known && !mine) {
            char sub[SPEC_PATH_LEN];
            path_join(sub, "data", map->keys[i]);
            return verr(c, map->key_at[i], sub, "does not apply to dataset '%s'", d->dataset);
        }
    }
    return 0;
}

/* synthetic_linear: w, or `inputs` copies of w_fill. */
static int read_linear_weights(struct data_spec *d, const struct vctx *c, const struct ynode *map)
{
    const struct ynode *w = map_find(map, "w"), *fill = map_find(map, "w_fill");
    if (w && fill)
        return verr(c, map->at, "data", "give either w or w_fill with inputs, not both");
    if (w)
        return to_numbers(c, w, "data.w", NUM_ANY, d->w, SPEC_MAX_VALUES, &d->n_w);
    if (!fill)
        return verr(c, map->at, "data", "missing required key 'w' (or w_fill with inputs)");
    if (need_key(c, map, "data", "inputs") != 0)
        return c->e->code;
    double value;
    if (to_number(c, fill, "data.w_fill", NUM_ANY, &value) != 0 ||
        opt_int(c, map, "data", "inputs", 1, SPEC_MAX_VALUES, &d->n_w) != 0)
        return c->e->code;
    for (int i = 0; i < d->n_w; i++)
        d->w[i] = value;
    return 0;
}

/* synthetic_poly: coefficients (also spelt w), max_degree, features. */
static int read_poly(struct data_spec *d, const struct vctx *c, const struct ynode *map)
{
    const struct ynode *w = map_find(map, "w"), *coef = map_find(map, "coefficients");
    if (w && coef)
        return verr(c, map->at, "data", "give either coefficients or w, not both");
    if (!w && !coef)
        return verr(c, map->at, "data", "missing required key 'coefficients'");
    if (to_numbers(c, coef ? coef : w, coef ? "data.coefficients" : "data.w", NUM_ANY, d->w, SPEC_MAX_VALUES,
                   &d->n_w) != 0 ||
        opt_int(c, map, "data", "max_degree", 1, SPEC_MAX_VALUES, &d->max_degree) != 0)
        return c->e->code;
    if (d->n_w > d->max_degree)
        return verr(c, (coef ? coef : w)->at, coef ? "data.coefficients" : "data.w",
                    "expected at most max_degree = %d coefficients, got %d", d->max_degree, d->n_w);
    d->features = d->n_w;
    return opt_int(c, map, "data", "features", 1, d->max_degree, &d->features);
}

static int read_synthetic(struct data_spec *d, const struct vctx *c, const struct ynode *map)
{
    int rc = d->kind == DATASET_SYNTHETIC_LINEAR ? read_linear_weights(d, c, map) : read_poly(d, c, map);
    if (rc != 0 || need_key(c, map, "data", "n_train") != 0)
        return c->e->code;
    if (opt_number(c, map, "data", "b", NUM_ANY, &d->b) != 0 ||
        opt_int(c, map, "data", "n_train", 1, MAX_SAMPLES, &d->n_train) != 0 ||
        opt_int(c, map, "data", "n_test", 0, MAX_SAMPLES, &d->n_test) != 0 ||
        opt_number(c, map, "data", "noise", NUM_NONNEG, &d->noise) != 0)
        return c->e->code;
    return 0;
}

static int read_hash(char *out, size_t cap, const struct vctx *c, const struct ynode *map, const char *key)
{
    const struct ynode *node = map_find(map, key);
    if (!node)
        return 0;
    size_t digits = cap - 1;
    char path[SPEC_PATH_LEN];
    path_join(path, "data", key);
    bool hex = node->type == Y_SCALAR && strlen(node->text) == digits &&
               strspn(node->text, "0123456789abcdefABCDEF") == digits;
    if (!hex) {
        char what[64];
        snprintf(what, sizeof what, "a %s of %zu hex digits", digits == 40 ? "SHA-1" : "SHA-256", digits);
        return verr_expected(c, node, path, what);
    }
    for (size_t i = 0; i < digits; i++)
        out[i] = (char)tolower((unsigned char)node->text[i]);
    out[digits] = '\0';
    return 0;
}

static bool is_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0 || strncmp(s, "file://", 7) == 0;
}

/* data.size / data.test_size: the file's size in bytes, when given. */
static int read_size(long long *out, const struct vctx *c, const struct ynode *map, const char *key)
{
    const struct ynode *node = map_find(map, key);
    char path[32];
    snprintf(path, sizeof path, "data.%s", key);
    return node ? to_int(c, node, path, 1, MAX_FILE_BYTES, out) : 0;
}

/* A dataset declared in the spec: a CSV URL, always with a hash to check. */
static int read_url(struct data_spec *d, const struct vctx *c, const struct ynode *map)
{
    if (need_key(c, map, "data", "url") != 0 || opt_string(c, map, "data", "url", d->url, sizeof d->url) != 0 ||
        read_hash(d->sha1, sizeof d->sha1, c, map, "sha1") != 0 ||
        read_hash(d->sha256, sizeof d->sha256, c, map, "sha256") != 0 ||
        opt_string(c, map, "data", "test_url", d->test_url, sizeof d->test_url) != 0 ||
        read_hash(d->test_sha1, sizeof d->test_sha1, c, map, "test_sha1") != 0 ||
        read_hash(d->test_sha256, sizeof d->test_sha256, c, map, "test_sha256") != 0 ||
        read_size(&d->size, c, map, "size") != 0 || read_size(&d->test_size, c, map, "test_size") != 0)
        return c->e->code;
    if (!is_url(d->url))
        return verr_expected(c, map_find(map, "url"), "data.url", "a URL starting with https://, http:// or file://");
    if (d->test_url[0] && !is_url(d->test_url))
        return verr_expected(c, map_find(map, "test_url"), "data.test_url",
                             "a URL starting with https://, http:// or file://");
    if (!d->sha1[0] && !d->sha256[0])
        return verr(c, map->at, "data", "missing required key 'sha1' or 'sha256' (a downloaded file is always verified)");
    bool test_hash = d->test_sha1[0] || d->test_sha256[0];
    if (d->test_url[0] && !test_hash)
        return verr(c, map->at, "data", "missing required key 'test_sha1' or 'test_sha256' for test_url");
    if (!d->test_url[0] && (test_hash || d->test_size))
        return verr(c, map->at, "data", "a test hash or size is given without test_url");
    return 0;
}

static int read_preprocess(struct preprocess_spec *p, const struct vctx *c, const struct ynode *node)
{
    static const char *const keys[] = {"id_column", "label", "standardize", "stats", "dummy_na", "missing_strings", NULL};
    static const char *const stats[] = {"all", "train", NULL};
    static const char *const readings[] = {"pandas2", "pandas1", NULL};
    const char *path = "data.preprocess";
    if (need_map(c, node, path) != 0 || check_keys(c, node, path, keys) != 0 ||
        need_key(c, node, path, "label") != 0 ||
        opt_string(c, node, path, "id_column", p->id_column, sizeof p->id_column) != 0 ||
        opt_string(c, node, path, "label", p->label_column, sizeof p->label_column) != 0 ||
        opt_bool(c, node, path, "standardize", &p->standardize) != 0 ||
        opt_bool(c, node, path, "dummy_na", &p->dummy_na) != 0)
        return c->e->code;
    if (!p->label_column[0])
        return verr(c, map_find(node, "label")->at, "data.preprocess.label", "expected a column name, got ''");
    const struct ynode *s = map_find(node, "stats");
    int which;
    if (s && to_choice(c, s, "data.preprocess.stats", stats, &which) != 0)
        return c->e->code;
    p->stats_from_train_only = s && which == 1;
    const struct ynode *m = map_find(node, "missing_strings");
    if (m && to_choice(c, m, "data.preprocess.missing_strings", readings, &which) != 0)
        return c->e->code;
    p->none_is_value = m && which == 1;
    return 0;
}

int spec_read_data(struct data_spec *d, const struct vctx *c, const struct ynode *map)
{
    const char *const *keys;
    d->at = spec_mark(map->at);
    if (need_map(c, map, "data") != 0 || read_kind(d, &keys, c, map) != 0 ||
        refuse_foreign_keys(d, keys, c, map) != 0 || check_keys(c, map, "data", keys) != 0 ||
        opt_int(c, map, "data", "batch_size", 1, 10000000, &d->batch_size) != 0 ||
        opt_bool(c, map, "data", "shuffle", &d->shuffle) != 0)
        return c->e->code;
    if (d->kind == DATASET_SYNTHETIC_LINEAR || d->kind == DATASET_SYNTHETIC_POLY)
        return read_synthetic(d, c, map);
    if (d->kind == DATASET_URL && read_url(d, c, map) != 0)
        return c->e->code;
    const struct ynode *pre = map_find(map, "preprocess");
    return pre ? read_preprocess(&d->preprocess, c, pre) : 0;
}
