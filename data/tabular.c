#include "tabular.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"

/* pandas 2.x read_csv default na_values (pandas._libs.parsers.STR_NA_VALUES).
 * "None" joined the list in pandas 2.0; it is why the Kaggle house features
 * number 330 and not the book's 331 (docs/KAGGLE.md), and what
 * `missing_strings: pandas1` takes out. */
static const char *const na_values[] = {
    "",    "#N/A", "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA",       "NULL", "NaN",     "None",     "n/a",  "nan",  "null",
};

int tabular_is_missing(const char *cell, bool none_is_value)
{
    if (none_is_value && strcmp(cell, "None") == 0)
        return 0;
    for (size_t i = 0; i < sizeof na_values / sizeof na_values[0]; i++)
        if (strcmp(cell, na_values[i]) == 0)
            return 1;
    return 0;
}

/* A number as pandas' read_csv reads one: decimal, where overflow gives
 * +-inf and underflow 0 or a subnormal (as Python's float()), or inf /
 * infinity in any case with an optional sign; no hex. Whether training can
 * use it is checked apart (usable_feature, read_labels). */
static int parse_number(const char *s, double *v)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0) {
        *v = *s == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    if (!((*p >= '0' && *p <= '9') || *p == '.') || strpbrk(p, "xX"))
        return 0;
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0';
}

/* One input file and where its id, label and feature columns are. */
struct source {
    const char *path;
    struct csv_table t;
    int id_col, label_col; /* -1: absent */
    int *features;         /* n_features column indices, in file order */
    int n_features;
};

/* A feature column of all_features: numeric with its statistics, or
 * categorical with its sorted distinct values. */
struct column {
    int numeric;
    double mean, std;
    const char **cats;
    size_t n_cats;
};

static int find_column(const struct csv_table *t, const char *name)
{
    for (int j = 0; j < t->n_cols; j++)
        if (strcmp(t->header[j], name) == 0)
            return j;
    return -1;
}

static int map_columns(struct source *s, const struct preprocess_spec *p, int need_label,
                       struct err *e)
{
    s->id_col = p->id_column[0] ? find_column(&s->t, p->id_column) : -1;
    if (p->id_column[0] && s->id_col < 0)
        return err_set(e, EXIT_DATA, "%s: no id column '%s'", s->path, p->id_column);
    s->label_col = find_column(&s->t, p->label_column);
    if (need_label && s->label_col < 0)
        return err_set(e, EXIT_DATA, "%s: no label column '%s'", s->path, p->label_column);
    s->features = malloc((size_t)s->t.n_cols * sizeof *s->features);
    if (!s->features)
        return err_set(e, EXIT_RUNTIME, "%s: out of memory", s->path);
    s->n_features = 0;
    for (int j = 0; j < s->t.n_cols; j++)
        if (j != s->id_col && j != s->label_col)
            s->features[s->n_features++] = j;
    if (s->n_features == 0)
        return err_set(e, EXIT_DATA, "%s: no feature columns", s->path);
    return 0;
}

/* The test file must carry the train file's features, in the same order
 * (d2l concatenates them by position). */
static int check_same_features(const struct source *train, const struct source *test,
                               struct err *e)
{
    if (test->n_features != train->n_features)
        return err_set(e, EXIT_DATA, "%s has %d feature columns but %s has %d", test->path,
                       test->n_features, train->path, train->n_features);
    for (int k = 0; k < train->n_features; k++) {
        const char *a = train->t.header[train->features[k]];
        const char *b = test->t.header[test->features[k]];
        if (strcmp(a, b) != 0)
            return err_set(e, EXIT_DATA, "%s: feature column %d is '%s' but in %s it is '%s'",
                           test->path, k + 1, b, train->path, a);
    }
    return 0;
}

static int read_labels(const struct source *s, float **y, struct err *e)
{
    size_t n = s->t.n_rows;
    *y = malloc((n ? n : 1) * sizeof **y);
    if (!*y)
        return err_set(e, EXIT_RUNTIME, "%s: out of memory", s->path);
    for (size_t i = 0; i < n; i++) {
        const char *cell = csv_cell(&s->t, i, s->label_col);
        double v;
        const char *wrong = !parse_number(cell, &v) ? "is not a number"
                            : !(fabs(v) <= FLT_MAX) ? "is not a finite float32 (training computes in float32)"
                                                    : NULL;
        if (wrong)
            return err_set(e, EXIT_DATA, "%s:%zu: label column '%s': '%s' %s", s->path, s->t.lines[i],
                           s->t.header[s->label_col], cell, wrong);
        (*y)[i] = (float)v;
    }
    return 0;
}

static int read_ids(const struct source *s, int32_t **ids, struct err *e)
{
    size_t n = s->t.n_rows;
    *ids = malloc((n ? n : 1) * sizeof **ids);
    if (!*ids)
        return err_set(e, EXIT_RUNTIME, "%s: out of memory", s->path);
    for (size_t i = 0; i < n; i++) {
        const char *cell = csv_cell(&s->t, i, s->id_col);
        char *end;
        errno = 0;
        long v = strtol(cell, &end, 10);
        if (end == cell || *end != '\0' || errno == ERANGE || v < INT32_MIN || v > INT32_MAX)
            return err_set(e, EXIT_DATA, "%s:%zu: id column '%s': '%s' is not a 32-bit integer",
                           s->path, s->t.lines[i], s->t.header[s->id_col], cell);
        (*ids)[i] = (int32_t)v;
    }
    return 0;
}

/* all_features: train rows, then test rows. */
struct all_rows {
    const struct source *train, *test;
    size_t n_train, n;
    bool none_is_value; /* missing_strings: pandas1 */
};

/* The file and its row that row `row` of all_features comes from. */
static const struct source *locate(const struct all_rows *a, size_t row, size_t *file_row)
{
    *file_row = row < a->n_train ? row : row - a->n_train;
    return row < a->n_train ? a->train : a->test;
}

static const char *all_cell(const struct all_rows *a, size_t row, int feature)
{
    size_t r;
    const struct source *s = locate(a, row, &r);
    return csv_cell(&s->t, r, s->features[feature]);
}

/* "FILE:LINE: column 3 'LotArea': 'inf' WHAT" */
static int cell_error(const struct all_rows *a, size_t row, int feature, const char *what, struct err *e)
{
    size_t r;
    const struct source *s = locate(a, row, &r);
    int col = s->features[feature];
    return err_set(e, EXIT_DATA, "%s:%zu: column %d '%s': '%s' %s", s->path, s->t.lines[r], col + 1,
                   s->t.header[col], csv_cell(&s->t, r, col), what);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Types a column as pandas would (numeric when every present cell is a
 * number) and gathers its statistics over rows [0, n_stats) or its sorted
 * distinct values over all rows. */
static int describe_column(const struct all_rows *a, int feature, size_t n_stats,
                           struct column *c)
{
    c->numeric = 1;
    for (size_t i = 0; i < a->n && c->numeric; i++) {
        const char *cell = all_cell(a, i, feature);
        double v;
        c->numeric = tabular_is_missing(cell, a->none_is_value) || parse_number(cell, &v);
    }
    if (c->numeric) {
        double sum = 0, v;
        size_t count = 0;
        for (size_t i = 0; i < n_stats; i++)
            if (parse_number(all_cell(a, i, feature), &v))
                sum += v, count++;
        c->mean = sum / (double)count;
        double ss = 0;
        for (size_t i = 0; i < n_stats; i++)
            if (parse_number(all_cell(a, i, feature), &v))
                ss += (v - c->mean) * (v - c->mean);
        /* pandas gives NaN here too; standardized() then writes 0 */
        c->std = count > 1 ? sqrt(ss / (double)(count - 1)) : NAN;
        return 0;
    }
    c->cats = malloc(a->n * sizeof *c->cats);
    if (!c->cats)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        const char *cell = all_cell(a, i, feature);
        if (!tabular_is_missing(cell, a->none_is_value))
            c->cats[n++] = cell;
    }
    qsort(c->cats, n, sizeof *c->cats, cmp_str);
    c->n_cats = 0;
    for (size_t i = 0; i < n; i++)
        if (c->n_cats == 0 || strcmp(c->cats[c->n_cats - 1], c->cats[i]) != 0)
            c->cats[c->n_cats++] = c->cats[i];
    return 0;
}

static int push_name(struct tabular_info *info, const char *col, const char *suffix)
{
    char *name;
    int len = suffix ? asprintf(&name, "%s_%s", col, suffix) : asprintf(&name, "%s", col);
    if (len < 0)
        return -1;
    info->names[info->n_features++] = name;
    return 0;
}

/* Names the output features: numeric columns in order, then each
 * categorical column's dummies (categories, then _nan). */
static int name_features(const struct all_rows *a, const struct column *cols, int dummy_na,
                         struct tabular_info *info)
{
    const struct source *s = a->train;
    size_t d = 0;
    for (int k = 0; k < s->n_features; k++)
        d += cols[k].numeric ? 1 : cols[k].n_cats + (dummy_na ? 1 : 0);
    if (d > INT_MAX || !(info->names = calloc(d ? d : 1, sizeof *info->names)))
        return -1;
    for (int k = 0; k < s->n_features; k++)
        if (cols[k].numeric && push_name(info, s->t.header[s->features[k]], NULL))
            return -1;
    info->n_numeric = info->n_features;
    for (int k = 0; k < s->n_features; k++) {
        if (cols[k].numeric)
            continue;
        for (size_t c = 0; c < cols[k].n_cats; c++)
            if (push_name(info, s->t.header[s->features[k]], cols[k].cats[c]))
                return -1;
        if (dummy_na && push_name(info, s->t.header[s->features[k]], "nan"))
            return -1;
    }
    return 0;
}

/* What a present numeric value becomes: (v - mean) / std, or v as it is. */
static double feature_value(const struct column *c, double v, int standardize)
{
    if (!standardize)
        return v;
    if (!(c->std > 0))
        return 0; /* std 0 or NaN: pandas gives NaN, then fillna(0) */
    return (v - c->mean) / c->std;
}

static float standardized(const struct column *c, const char *cell, int standardize)
{
    double v;
    if (!parse_number(cell, &v))
        return 0.0f; /* missing: fillna(0) */
    return (float)feature_value(c, v, standardize);
}

/* Refuses what float32 training cannot use: a value that is not finite,
 * statistics that overflow a double (every value would become 0), a value
 * outside float32's range as it will be trained on. */
static int check_numeric_column(const struct all_rows *a, int feature, const struct column *c, int standardize,
                                struct err *e)
{
    double v;
    for (size_t i = 0; i < a->n; i++)
        if (parse_number(all_cell(a, i, feature), &v) && !isfinite(v))
            return cell_error(a, i, feature, "is not a finite number", e);
    if (standardize && (isinf(c->mean) || isinf(c->std))) {
        int col = a->train->features[feature];
        return err_set(e, EXIT_DATA, "%s: column %d '%s': values too large to standardize (the %s overflows a double)",
                       a->train->path, col + 1, a->train->t.header[col],
                       isinf(c->mean) ? "mean" : "standard deviation");
    }
    for (size_t i = 0; i < a->n; i++)
        if (parse_number(all_cell(a, i, feature), &v) && !(fabs(feature_value(c, v, standardize)) <= FLT_MAX))
            return cell_error(a, i, feature,
                              standardize ? "is too far from the column's mean for float32 once standardized"
                                          : "is outside float32's range (training computes in float32)",
                              e);
    return 0;
}

/* Writes row `row` of all_features into x (d floats). */
static void encode_row(const struct all_rows *a, const struct column *cols, size_t row,
                       const struct preprocess_spec *p, float *x, size_t d)
{
    memset(x, 0, d * sizeof *x);
    size_t at = 0;
    for (int k = 0; k < a->train->n_features; k++)
        if (cols[k].numeric)
            x[at++] = standardized(&cols[k], all_cell(a, row, k), p->standardize);
    for (int k = 0; k < a->train->n_features; k++) {
        if (cols[k].numeric)
            continue;
        const char *cell = all_cell(a, row, k);
        if (tabular_is_missing(cell, a->none_is_value)) {
            if (p->dummy_na)
                x[at + cols[k].n_cats] = 1.0f;
        } else {
            const char **hit = bsearch(&cell, cols[k].cats, cols[k].n_cats, sizeof *cols[k].cats,
                                       cmp_str);
            x[at + (size_t)(hit - cols[k].cats)] = 1.0f;
        }
        at += cols[k].n_cats + (p->dummy_na ? 1 : 0);
    }
}

/* Fills one split's X (rows [first, first + ds->n) of all_features). */
static int encode_split(const struct all_rows *a, const struct column *cols, size_t first,
                        const struct preprocess_spec *p, size_t d, struct dataset *ds)
{
    ds->d = d;
    ds->x_type = X_F32;
    ds->x_scale = 1.0f;
    ds->y_width = 1;
    if (d && ds->n > SIZE_MAX / sizeof(float) / d)
        return -1;
    size_t bytes = ds->n * d * sizeof(float);
    float *x = malloc(bytes ? bytes : 1);
    if (!x)
        return -1;
    for (size_t i = 0; i < ds->n; i++)
        encode_row(a, cols, first + i, p, x + i * d, d);
    ds->x = x;
    return 0;
}

static int load_source(struct source *s, const char *path, const struct preprocess_spec *p,
                       int need_label, struct dataset *ds, struct err *e)
{
    s->path = path;
    if (csv_read(path, &s->t, e) || map_columns(s, p, need_label, e))
        return e->code;
    ds->n = s->t.n_rows;
    if (s->t.n_rows == 0)
        return err_set(e, EXIT_DATA, "%s: no data rows (only a header)", path);
    if (!(ds->source = strdup(path)) || !(ds->lines = malloc(ds->n * sizeof *ds->lines)))
        return err_set(e, EXIT_RUNTIME, "%s: out of memory", path);
    memcpy(ds->lines, s->t.lines, ds->n * sizeof *ds->lines);
    if (s->label_col >= 0 && read_labels(s, &ds->y, e))
        return e->code;
    if (s->id_col >= 0 && read_ids(s, &ds->ids, e))
        return e->code;
    return 0;
}

int tabular_load_info(const char *train_csv, const char *test_csv,
                      const struct preprocess_spec *p, struct data_split *out,
                      struct tabular_info *info, struct err *e)
{
    memset(out, 0, sizeof *out);
    struct source train = {0}, test = {0};
    struct column *cols = NULL;
    struct tabular_info names = {0};
    int n_cols = 0, rc;

    if (!p->label_column[0]) {
        rc = err_set(e, EXIT_DATA, "%s: no label column given (preprocess.label_column)",
                     train_csv);
        goto done;
    }
    if ((rc = load_source(&train, train_csv, p, 1, &out->train, e)))
        goto done;
    if (test_csv && ((rc = load_source(&test, test_csv, p, 0, &out->test, e)) ||
                     (rc = check_same_features(&train, &test, e))))
        goto done;

    struct all_rows a = {&train, &test, train.t.n_rows, train.t.n_rows + test.t.n_rows, p->none_is_value};
    size_t n_stats = p->stats_from_train_only ? a.n_train : a.n;
    cols = calloc((size_t)train.n_features, sizeof *cols);
    bool out_of_memory = !cols;
    for (; !out_of_memory && !e->code && n_cols < train.n_features; n_cols++) {
        out_of_memory = describe_column(&a, n_cols, n_stats, &cols[n_cols]) != 0;
        if (!out_of_memory && cols[n_cols].numeric)
            check_numeric_column(&a, n_cols, &cols[n_cols], p->standardize, e);
    }
    out_of_memory = out_of_memory ||
                    (!e->code && (name_features(&a, cols, p->dummy_na, &names) ||
                                  encode_split(&a, cols, 0, p, (size_t)names.n_features, &out->train) ||
                                  (test_csv && encode_split(&a, cols, a.n_train, p, (size_t)names.n_features,
                                                            &out->test))));
    rc = out_of_memory ? err_set(e, EXIT_RUNTIME, "%s: out of memory", train_csv) : e->code;

done:
    for (int k = 0; k < n_cols; k++)
        free(cols[k].cats);
    free(cols);
    free(train.features);
    free(test.features);
    /* The feature names are copies, so the tables can go. */
    csv_free(&train.t);
    csv_free(&test.t);
    if (rc) {
        data_split_free(out);
        tabular_info_free(&names);
        return rc;
    }
    if (info)
        *info = names;
    else
        tabular_info_free(&names);
    return 0;
}

void tabular_info_free(struct tabular_info *info)
{
    if (info->names)
        for (int i = 0; i < info->n_features; i++)
            free(info->names[i]);
    free(info->names);
    memset(info, 0, sizeof *info);
}
