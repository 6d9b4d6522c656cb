#include "curves.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "report.h"

enum kind { KIND_LOSS, KIND_ACC, KIND_LOG_RMSE, N_KINDS };

static enum kind kind_of(const char *metric)
{
    size_t len = strlen(metric);
    if (len >= 3 && !strcmp(metric + len - 3, "acc"))
        return KIND_ACC;
    return strstr(metric, "log_rmse") ? KIND_LOG_RMSE : KIND_LOSS;
}

static bool held_out(const char *metric)
{
    return !strncmp(metric, "test", 4) || !strncmp(metric, "valid", 5);
}

struct range {
    double min, max; /* of the finite values; min > max when none */
    bool positive;   /* every finite value > 0 */
};

static struct range range_of(const struct curve *c, int n, enum kind k)
{
    struct range r = {INFINITY, -INFINITY, true};
    for (int i = 0; i < n; i++)
        for (int j = 0; kind_of(c[i].metric) == k && j < c[i].n; j++)
            if (isfinite(c[i].y[j])) {
                r.min = fmin(r.min, c[i].y[j]);
                r.max = fmax(r.max, c[i].y[j]);
                r.positive &= c[i].y[j] > 0;
            }
    return r;
}

static bool empty(struct range r)
{
    return r.min > r.max;
}

static bool wants_log(enum kind k, struct range r, bool regression, enum y_scale scale)
{
    if (k == KIND_ACC || scale == Y_SCALE_LINEAR)
        return false;
    if (scale == Y_SCALE_LOG)
        return true;
    return r.positive && (k == KIND_LOG_RMSE || (k == KIND_LOSS && regression) || r.max >= 100 * r.min);
}

static const char *const kind_label[N_KINDS] = {"loss", "accuracy", "log rmse"};

void curves_draw(FILE *f, const char *title, const struct curve *c, int n, enum y_scale scale)
{
    n = n < CURVES_MAX ? n : CURVES_MAX;
    struct range r[N_KINDS];
    for (int k = 0; k < N_KINDS; k++)
        r[k] = range_of(c, n, (enum kind)k);
    bool regression = empty(r[KIND_ACC]);
    bool log[N_KINDS];
    for (int k = 0; k < N_KINDS; k++)
        log[k] = wants_log((enum kind)k, r[k], regression, scale);
    /* panel[k]: the kind whose panel kind k is drawn on */
    enum kind panel[N_KINDS] = {KIND_LOSS, KIND_ACC, KIND_LOG_RMSE};
    if (!empty(r[KIND_LOSS]) && !log[KIND_LOSS] && r[KIND_LOSS].max <= 1.5 && r[KIND_LOSS].min >= 0)
        panel[KIND_ACC] = KIND_LOSS;
    if (!empty(r[KIND_LOSS]) && !empty(r[KIND_LOG_RMSE]) && log[KIND_LOSS] == log[KIND_LOG_RMSE] &&
        fmax(r[KIND_LOSS].max, r[KIND_LOG_RMSE].max) <= 1000 * fmin(r[KIND_LOSS].min, r[KIND_LOG_RMSE].min))
        panel[KIND_LOG_RMSE] = KIND_LOSS;

    struct chart_series series[CURVES_MAX];
    char names[CURVES_MAX][160];
    struct chart_panel panels[N_KINDS];
    char ylabels[N_KINDS][64];
    int n_panels = 0, n_series = 0;
    for (int p = 0; p < N_KINDS; p++) {
        int first = n_series;
        ylabels[n_panels][0] = '\0';
        for (int k = 0; k < N_KINDS; k++) {
            if (panel[k] != (enum kind)p || empty(r[k]))
                continue;
            size_t len = strlen(ylabels[n_panels]);
            snprintf(ylabels[n_panels] + len, sizeof ylabels[0] - len, "%s%s", len ? ", " : "", kind_label[k]);
            for (int i = 0; i < n; i++) {
                if (kind_of(c[i].metric) != (enum kind)k)
                    continue;
                snprintf(names[n_series], sizeof names[0], "%s%s%s", c[i].run ? c[i].run : "",
                         c[i].run ? ": " : "", c[i].metric);
                series[n_series] = (struct chart_series){.name = names[n_series], .y = c[i].y, .n = c[i].n,
                                                         .color = n_series, .dashed = held_out(c[i].metric)};
                n_series++;
            }
        }
        if (n_series > first) {
            panels[n_panels] = (struct chart_panel){.ylabel = ylabels[n_panels], .log_y = log[p],
                                                    .series = series + first, .n_series = n_series - first};
            n_panels++;
        }
    }
    chart_write_svg(f, title, panels, n_panels);
}

int curves_write_runs_svg(FILE *f, const struct curves_run *runs, int n_runs, const char *only, const char *title,
                          enum y_scale scale)
{
    int longest = 1;
    for (int r = 0; r < n_runs; r++)
        longest = runs[r].n > longest ? runs[r].n : longest;
    double *values = malloc(sizeof *values * REPORT_METRICS * (size_t)longest * (size_t)(n_runs > 0 ? n_runs : 1));
    if (!values)
        return -1;
    struct curve c[CURVES_MAX];
    int n_curves = 0;
    for (int r = 0; r < n_runs; r++)
        for (int m = 0; m < REPORT_METRICS; m++) {
            double *y = values + ((size_t)r * REPORT_METRICS + (size_t)m) * (size_t)longest;
            bool any = false;
            for (int i = 0; i < runs[r].n; i++) {
                y[i] = *(const double *)((const char *)&runs[r].epochs[i] + report_metrics[m].offset);
                any |= !isnan(y[i]);
            }
            if (any && (!only || !strcmp(only, report_metrics[m].name)) && n_curves < CURVES_MAX)
                c[n_curves++] = (struct curve){.run = runs[r].name, .metric = report_metrics[m].name, .y = y,
                                               .n = runs[r].n};
        }
    curves_draw(f, title, c, n_curves, scale);
    free(values);
    return 0;
}

int curves_write_svg(FILE *f, const struct epoch_report *epochs, int n, const char *title, enum y_scale scale)
{
    struct curves_run run = {.epochs = epochs, .n = n};
    return curves_write_runs_svg(f, &run, 1, NULL, title, scale);
}

int y_scale_choose(enum y_scale *scale, enum y_scale wanted, struct err *e)
{
    if (*scale != Y_SCALE_AUTO && *scale != wanted)
        return err_set(e, EXIT_USAGE, "--log-y and --linear-y exclude each other");
    *scale = wanted;
    return 0;
}
