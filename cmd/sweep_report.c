/* What a sweep shows and writes, from the whole result array: the point
 * lines, the ranked table (mean ± std over seeds), sweep.jsonl, sweep.svg. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/curves.h"
#include "../core/report.h"
#include "sweep.h"

static double metric_value(const struct epoch_report *r, const char *name)
{
    struct report_metric m[REPORT_METRICS];
    int n = report_metrics_of(r, m);
    for (int k = 0; k < n; k++)
        if (!strcmp(m[k].name, name))
            return m[k].value;
    return NAN;
}

const char *sweep_default_rank(const struct sweep_result *results, int n)
{
    static const char *const order[] = {"test_acc", "valid_log_rmse", "test_loss", "loss"};
    for (size_t k = 0; k < sizeof order / sizeof *order; k++)
        for (int i = 0; i < n; i++)
            if (results[i].finished && !isnan(metric_value(&results[i].final, order[k])))
                return order[k];
    return "loss";
}

bool sweep_higher_is_better(const char *metric)
{
    size_t len = strlen(metric);
    return len >= 3 && !strcmp(metric + len - 3, "acc");
}

int sweep_print_point(FILE *f, const struct sweep *s, int i, const struct sweep_result *r)
{
    char prefix[1200];
    snprintf(prefix, sizeof prefix, "point %d/%d %s: ", i + 1, s->n_points, s->points[i].label);
    if (r->finished)
        return report_epoch_line(f, &r->final, prefix);
    if (r->interrupted)
        fprintf(f, "%sinterrupted after epoch %d (left out)\n", prefix, r->n_epochs);
    else
        fprintf(f, "%sfailed: %s\n", prefix, r->error);
    fflush(f);
    return 0;
}

/* A group's points that finished: the mean and sample standard deviation
 * (n - 1; 0 for one point) of `metric`, or of the seconds for NULL. */
struct stat {
    double mean, std;
    int n;
};

static struct stat group_stat(const struct sweep *s, const struct sweep_result *res, int g, const char *metric)
{
    struct stat st = {0};
    double sum = 0, sq = 0;
    for (int i = 0; i < s->n_points; i++)
        if (s->points[i].group == g && res[i].finished) {
            double v = metric ? metric_value(&res[i].final, metric) : res[i].seconds;
            sum += v;
            st.n++;
        }
    st.mean = st.n ? sum / st.n : NAN;
    for (int i = 0; i < s->n_points; i++)
        if (s->points[i].group == g && res[i].finished) {
            double v = metric ? metric_value(&res[i].final, metric) : res[i].seconds;
            sq += (v - st.mean) * (v - st.mean);
        }
    st.std = st.n > 1 ? sqrt(sq / (st.n - 1)) : 0;
    return st;
}

/* The first point of group g that did not finish, or -1. */
static int group_failure(const struct sweep *s, const struct sweep_result *res, int g)
{
    for (int i = 0; i < s->n_points; i++)
        if (s->points[i].group == g && res[i].ran && !res[i].finished)
            return i;
    return -1;
}

static int first_of_group(const struct sweep *s, int g)
{
    int i = 0;
    while (s->points[i].group != g)
        i++;
    return i;
}

/* The metrics of the first finished point, the ranking one first. */
static int table_metrics(const struct sweep_result *res, int n, const char *rank_by,
                         const char *names[REPORT_METRICS + 1])
{
    int count = 0;
    names[count++] = rank_by;
    for (int i = 0; i < n; i++)
        if (res[i].finished) {
            struct report_metric m[REPORT_METRICS];
            int k = report_metrics_of(&res[i].final, m);
            for (int j = 0; j < k; j++)
                if (strcmp(m[j].name, rank_by))
                    names[count++] = m[j].name;
            break;
        }
    return count;
}

struct ranked {
    int group;
    double value; /* NAN: failed or not run */
    bool higher_better;
};

static int by_rank(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (isnan(x->value) != isnan(y->value))
        return isnan(x->value) ? 1 : -1;
    if (!isnan(x->value) && x->value != y->value)
        return (x->value < y->value) == x->higher_better ? 1 : -1;
    return x->group - y->group;
}

/* Groups best first; the caller frees. */
static struct ranked *rank_groups(const struct sweep *s, const struct sweep_result *res, const char *rank_by)
{
    struct ranked *order = calloc((size_t)s->n_groups, sizeof *order);
    for (int g = 0; order && g < s->n_groups; g++) {
        struct stat st = group_stat(s, res, g, rank_by);
        order[g] = (struct ranked){g, group_failure(s, res, g) >= 0 || st.n == 0 ? NAN : st.mean,
                                   sweep_higher_is_better(rank_by)};
    }
    if (order)
        qsort(order, (size_t)s->n_groups, sizeof *order, by_rank);
    return order;
}

enum { CELL = 48, MAX_COLS = SWEEP_MAX_KEYS + REPORT_METRICS + 4 };

/* A value as the epoch lines print it: fixed decimals, 4 significant
 * digits below 1e-3. */
static int format_value(char *cell, size_t cap, double v, int decimals)
{
    if (v != 0 && fabs(v) < 1e-3)
        return snprintf(cell, cap, "%.4g", v);
    return snprintf(cell, cap, "%.*f", decimals, v);
}

static void format_stat(char *cell, struct stat st, bool seeded, int decimals)
{
    int len = format_value(cell, CELL, st.mean, decimals);
    if (seeded && len < CELL - 4) {
        memcpy(cell + len, " ± ", 5);
        format_value(cell + len + 4, CELL - (size_t)len - 4, st.std, decimals);
    }
}

int sweep_print_table(FILE *f, const struct sweep *s, const struct sweep_result *res, const char *rank_by)
{
    const char *metrics[REPORT_METRICS + 1];
    int n_metrics = table_metrics(res, s->n_points, rank_by, metrics);
    struct ranked *order = rank_groups(s, res, rank_by);
    if (!order)
        return 0;
    bool seeded = s->seed_key >= 0;
    int n_rows = s->n_groups + 1, n_cols = 0;
    char(*cells)[MAX_COLS][CELL] = calloc((size_t)n_rows, sizeof *cells);
    if (!cells) {
        free(order);
        return 0;
    }
    /* the header */
    snprintf(cells[0][n_cols++], CELL, "rank");
    for (int k = 0; k < s->n_keys; k++)
        if (k != s->seed_key)
            snprintf(cells[0][n_cols++], CELL, "%s", s->keys[k]);
    if (seeded)
        snprintf(cells[0][n_cols++], CELL, "seeds");
    for (int m = 0; m < n_metrics; m++)
        snprintf(cells[0][n_cols++], CELL, "%s", metrics[m]);
    snprintf(cells[0][n_cols++], CELL, "time_s");
    int status = 0;
    bool regression = true; /* then losses print with 6 decimals, as the epoch lines do */
    for (int i = 0; i < s->n_points; i++)
        regression &= !res[i].finished || isnan(metric_value(&res[i].final, "train_acc"));
    for (int r = 1; r < n_rows; r++) {
        int g = order[r - 1].group, first = first_of_group(s, g), c = 0;
        snprintf(cells[r][c++], CELL, "%d", r);
        for (int k = 0; k < s->n_keys; k++)
            if (k != s->seed_key)
                snprintf(cells[r][c++], CELL, "%s", s->points[first].values[k] ? s->points[first].values[k] : "");
        if (seeded)
            snprintf(cells[r][c++], CELL, "%d", group_stat(s, res, g, NULL).n);
        int failed = group_failure(s, res, g);
        for (int m = 0; m < n_metrics; m++) {
            struct stat st = group_stat(s, res, g, metrics[m]);
            if (failed >= 0 || st.n == 0)
                snprintf(cells[r][c++], CELL, "%s", m ? "" : failed >= 0 ? "failed" : "not run");
            else
                format_stat(cells[r][c++], st, seeded, strstr(metrics[m], "acc") || !regression ? 4 : 6);
            status |= st.n && (!isfinite(st.mean) || !isfinite(st.std)) ? -1 : 0;
        }
        struct stat t = group_stat(s, res, g, NULL);
        snprintf(cells[r][c++], CELL, t.n ? "%.3f" : "", t.mean);
    }
    int width[MAX_COLS] = {0};
    for (int r = 0; r < n_rows; r++)
        for (int c = 0; c < n_cols; c++) {
            int w = 0; /* in characters: ± is two bytes */
            for (const char *p = cells[r][c]; *p; p++)
                w += ((unsigned char)*p & 0xC0) != 0x80;
            width[c] = w > width[c] ? w : width[c];
        }
    for (int r = 0; r < n_rows; r++) {
        for (int c = 0; c < n_cols; c++) {
            int w = 0;
            for (const char *p = cells[r][c]; *p; p++)
                w += ((unsigned char)*p & 0xC0) != 0x80;
            fprintf(f, "%s%s%*s", c ? "  " : "", cells[r][c], c < n_cols - 1 ? width[c] - w : 0, "");
        }
        fputc('\n', f);
    }
    for (int r = 1; r < n_rows; r++) { /* why the failed rows failed */
        int failed = group_failure(s, res, order[r - 1].group);
        if (failed >= 0 && !res[failed].interrupted)
            fprintf(f, "rank %d failed: point %d (%s): %s\n", r, failed + 1, s->points[failed].label,
                    res[failed].error);
    }
    fflush(f);
    free(cells);
    free(order);
    return status;
}

static json_t *overrides_json(const struct sweep *s, int i, bool with_seed)
{
    json_t *o = json_object();
    for (int k = 0; o && k < s->n_keys; k++)
        if (s->points[i].values[k] && (with_seed || k != s->seed_key) &&
            json_object_set_new(o, s->keys[k], json_string(s->points[i].values[k]))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

static json_t *metrics_json(const struct epoch_report *r)
{
    struct report_metric m[REPORT_METRICS];
    int n = report_metrics_of(r, m);
    json_t *o = json_object();
    for (int k = 0; o && k < n; k++)
        if (json_object_set_new(o, m[k].name, json_real(m[k].value))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* {"point": 3, "name": ..., "overrides": {...}, "status": "finished" or
 * "failed", "error", "epochs", "final": {...}, "seconds"} */
static json_t *point_json(const struct sweep *s, int i, const struct sweep_result *r)
{
    json_t *o = json_object();
    int bad = !o;
    bad |= json_object_set_new(o, "point", json_integer(i + 1));
    bad |= json_object_set_new(o, "name", json_string(s->points[i].name));
    bad |= json_object_set_new(o, "overrides", overrides_json(s, i, true));
    bad |= json_object_set_new(o, "status", json_string(r->finished ? "finished" : "failed"));
    if (!r->finished)
        bad |= json_object_set_new(o, "error", json_string(r->error));
    bad |= json_object_set_new(o, "epochs", json_integer(r->n_epochs));
    if (r->finished)
        bad |= json_object_set_new(o, "final", metrics_json(&r->final));
    bad |= json_object_set_new(o, "seconds", json_real(r->seconds));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* {"group": 1, "overrides": {... but the seed}, "seeds": [...], "points":
 * [...], "finished": n, "mean": {...}, "std": {...}}: over its finished
 * points, whose seeds and numbers it lists */
static json_t *group_json(const struct sweep *s, const struct sweep_result *res, int g)
{
    int first = first_of_group(s, g);
    json_t *o = json_object(), *seeds = json_array(), *points = json_array(), *mean = json_object(),
           *std = json_object();
    int bad = !o || !seeds || !points || !mean || !std;
    for (int i = 0; !bad && i < s->n_points; i++)
        if (s->points[i].group == g && res[i].finished) {
            bad |= json_array_append_new(seeds, json_string(s->points[i].values[s->seed_key]));
            bad |= json_array_append_new(points, json_integer(i + 1));
        }
    struct report_metric m[REPORT_METRICS];
    int n = 0;
    for (int i = 0; i < s->n_points && !n; i++)
        if (s->points[i].group == g && res[i].finished)
            n = report_metrics_of(&res[i].final, m);
    for (int k = 0; !bad && k < n; k++) {
        struct stat st = group_stat(s, res, g, m[k].name);
        bad |= json_object_set_new(mean, m[k].name, json_real(st.mean));
        bad |= json_object_set_new(std, m[k].name, json_real(st.std));
    }
    if (!bad) {
        bad |= json_object_set_new(o, "group", json_integer(g + 1));
        bad |= json_object_set_new(o, "overrides", overrides_json(s, first, false));
        bad |= json_object_set_new(o, "seeds", seeds);
        bad |= json_object_set_new(o, "points", points);
        bad |= json_object_set_new(o, "finished", json_integer(group_stat(s, res, g, NULL).n));
        bad |= json_object_set_new(o, "mean", mean);
        bad |= json_object_set_new(o, "std", std);
    } else {
        json_decref(seeds), json_decref(points), json_decref(mean), json_decref(std);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Every point that finished or failed (not those interrupted or never
 * started), then with seeds every group. */
static int write_jsonl(const struct outset *set, const struct sweep *s, const struct sweep_result *res,
                       struct err *e)
{
    struct outfile o;
    if (outfile_open(&o, set, "sweep.jsonl", e))
        return e->code;
    int bad = 0;
    for (int i = 0; i < s->n_points && !bad; i++)
        if (res[i].finished || (res[i].ran && !res[i].interrupted))
            bad = report_json_line(o.f, point_json(s, i, &res[i]));
    for (int g = 0; g < s->n_groups && !bad && s->seed_key >= 0; g++)
        if (group_stat(s, res, g, NULL).n > 0)
            bad = report_json_line(o.f, group_json(s, res, g));
    if (bad) {
        outfile_abort(&o);
        return err_set(e, EXIT_RUNTIME, "cannot encode the sweep's results for %s", o.path);
    }
    return outfile_close(&o, e);
}

/* One line of sweep.svg: a point, or with seeds a group drawn as the mean
 * of its finished points with their spread (std) as a band. */
struct drawn_run {
    char caption[1100];
    struct epoch_report *mean, *std; /* a group's, [n]; NULL for a point */
    int n;
};

static void drawn_runs_free(struct drawn_run *d, int n)
{
    for (int k = 0; d && k < n; k++)
        if (d[k].std) /* a group's own arrays; a point's are its result's */
            free(d[k].mean), free(d[k].std);
    free(d);
}

/* Group g's finished points epoch by epoch: each metric's mean, and its
 * sample standard deviation (NAN with fewer than two values). */
static int group_curves(const struct sweep *s, const struct sweep_result *res, int g, struct drawn_run *d)
{
    for (int i = 0; i < s->n_points; i++)
        if (s->points[i].group == g && res[i].finished && res[i].n_epochs > d->n)
            d->n = res[i].n_epochs;
    d->mean = calloc((size_t)(d->n > 0 ? d->n : 1), sizeof *d->mean);
    d->std = calloc((size_t)(d->n > 0 ? d->n : 1), sizeof *d->std);
    if (!d->mean || !d->std) {
        free(d->mean), free(d->std);
        d->mean = d->std = NULL;
        return -1;
    }
    for (int e = 0; e < d->n; e++)
        for (int m = 0; m < REPORT_METRICS; m++) {
            double sum = 0, sq = 0;
            int n = 0;
            for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < s->n_points; i++) {
                    if (s->points[i].group != g || !res[i].finished || e >= res[i].n_epochs)
                        continue;
                    double v = *(const double *)((const char *)&res[i].epochs[e] + report_metrics[m].offset);
                    if (isnan(v))
                        continue;
                    if (pass == 0)
                        sum += v, n++;
                    else
                        sq += (v - sum / n) * (v - sum / n);
                }
            *(double *)((char *)&d->mean[e] + report_metrics[m].offset) = n ? sum / n : NAN;
            *(double *)((char *)&d->std[e] + report_metrics[m].offset) = n > 1 ? sqrt(sq / (n - 1)) : NAN;
        }
    return 0;
}

/* The points (with seeds: the groups) that finished, best first, each
 * named by its overrides; NULL when out of memory. */
static struct drawn_run *drawn_runs(const struct sweep *s, const struct sweep_result *res, const char *rank_by,
                                    int *n_drawn)
{
    bool seeded = s->seed_key >= 0;
    int n_items = seeded ? s->n_groups : s->n_points;
    struct ranked *order = seeded ? rank_groups(s, res, rank_by) : calloc((size_t)n_items, sizeof *order);
    struct drawn_run *d = calloc((size_t)(n_items > 0 ? n_items : 1), sizeof *d);
    *n_drawn = 0;
    if (!order || !d) {
        free(order), free(d);
        return NULL;
    }
    if (!seeded) {
        int n = 0;
        for (int i = 0; i < s->n_points; i++)
            if (res[i].finished)
                order[n++] = (struct ranked){i, metric_value(&res[i].final, rank_by), sweep_higher_is_better(rank_by)};
        qsort(order, (size_t)n, sizeof *order, by_rank);
        n_items = n;
    }
    int bad = 0;
    for (int k = 0; k < n_items && !bad; k++) {
        int g = order[k].group, seeds = seeded ? group_stat(s, res, g, NULL).n : 1;
        if (seeds == 0)
            continue;
        struct drawn_run *r = &d[(*n_drawn)++];
        int first = seeded ? first_of_group(s, g) : g;
        sweep_point_caption(s, first, !seeded, r->caption, sizeof r->caption - 16);
        if (seeded) {
            size_t len = strlen(r->caption);
            snprintf(r->caption + len, sizeof r->caption - len, " (%d seed%s)", seeds, seeds > 1 ? "s" : "");
            bad = group_curves(s, res, g, r);
        } else {
            r->mean = res[g].epochs;
            r->n = res[g].n_epochs;
        }
    }
    free(order);
    if (bad) {
        drawn_runs_free(d, *n_drawn);
        return NULL;
    }
    return d;
}

/* The finished points' curves overlaid, a colour each, best first (with
 * seeds: each group's mean ± std); every metric when they fit in one
 * plot, else the ranking metric alone. */
static int write_svg(const struct outset *set, const struct sweep *s, const struct sweep_result *res,
                     const char *rank_by, const char *title, enum y_scale y_scale, struct err *e)
{
    int n = 0, n_curves = 0;
    struct drawn_run *d = drawn_runs(s, res, rank_by, &n);
    struct curves_run *runs = calloc((size_t)(n > 0 ? n : 1), sizeof *runs);
    for (int k = 0; d && runs && k < n; k++) {
        runs[k] = (struct curves_run){d[k].caption, d[k].mean, d[k].std, d[k].n};
        struct report_metric m[REPORT_METRICS];
        n_curves += d[k].n > 0 ? report_metrics_of(&d[k].mean[d[k].n - 1], m) : 0;
    }
    struct outfile o = {0};
    if (!d || !runs)
        err_set(e, EXIT_RUNTIME, "out of memory drawing the sweep");
    else if (!outfile_open(&o, set, "sweep.svg", e)) {
        if (curves_write_runs_svg(o.f, runs, n, n_curves > CURVES_MAX ? rank_by : NULL, title, y_scale))
            err_set(e, EXIT_RUNTIME, "out of memory drawing %s", o.path);
        else
            outfile_close(&o, e);
    }
    outfile_abort(&o);
    drawn_runs_free(d, n);
    free(runs);
    return e->code;
}

int sweep_write_outputs(const struct outset *set, const struct sweep *s, const struct sweep_result *results,
                        const char *rank_by, const char *title, enum y_scale y_scale, struct err *e)
{
    if (!write_jsonl(set, s, results, e))
        write_svg(set, s, results, rank_by, title, y_scale, e);
    return e->code;
}
