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

/* The line style a metric asks for: what d2l's readers know it by. */
static enum chart_dash preferred_dash(const char *metric)
{
    bool acc = kind_of(metric) == KIND_ACC;
    if (held_out(metric))
        return acc ? CHART_DASH_DOT : CHART_DASHED;
    return acc ? CHART_DOTTED : CHART_SOLID;
}

/* One panel's metrics, each with a line style no other in the panel has
 * (while there are styles left): the preferred ones first, then the rest
 * take the free ones from the long dash on. */
struct panel_metrics {
    const char *name[CURVES_MAX];
    enum chart_dash dash[CURVES_MAX];
    int n;
};

static void panel_metrics_add(struct panel_metrics *m, const char *metric)
{
    for (int k = 0; k < m->n; k++)
        if (!strcmp(m->name[k], metric))
            return;
    m->name[m->n++] = metric;
}

static void panel_metrics_style(struct panel_metrics *m)
{
    bool taken[CHART_DASHES] = {false}, done[CURVES_MAX] = {false};
    for (int k = 0; k < m->n; k++) {
        enum chart_dash d = preferred_dash(m->name[k]);
        if (!taken[d])
            m->dash[k] = d, taken[d] = done[k] = true;
    }
    int next = CHART_LONG_DASH;
    for (int k = 0; k < m->n; k++) {
        if (done[k])
            continue;
        for (int tried = 0; taken[next] && tried < CHART_DASHES; tried++)
            next = (next + 1) % CHART_DASHES;
        m->dash[k] = (enum chart_dash)next; /* more metrics than styles: they come round again */
        taken[next] = true;
    }
}

static enum chart_dash panel_metrics_dash(const struct panel_metrics *m, const char *metric)
{
    int k = 0;
    while (strcmp(m->name[k], metric))
        k++;
    return m->dash[k];
}

/* Run r's look: tab10's colours, then again with a marker each round. */
static struct chart_look run_look(int r, enum chart_dash dash)
{
    return (struct chart_look){.color = r % CHART_COLORS, .dash = dash,
                               .marker = (enum chart_marker)(r / CHART_COLORS % CHART_MARKERS)};
}

/* The legend of a panel of several runs: each run drawn in it, then the
 * key of its metrics' line styles. */
static int runs_legend(struct chart_legend_entry *legend, const struct curve *const *drawn, int n_series,
                       const char *const *run_names, const struct panel_metrics *m)
{
    int n = 0;
    for (int s = 0; s < n_series; s++) {
        bool seen = false;
        for (int t = 0; t < s; t++)
            seen |= drawn[t]->run == drawn[s]->run;
        if (!seen)
            legend[n++] = (struct chart_legend_entry){run_names[drawn[s]->run], run_look(drawn[s]->run, CHART_SOLID)};
    }
    legend[n++] = (struct chart_legend_entry){NULL, {0}};
    for (int k = 0; k < m->n; k++)
        legend[n++] = (struct chart_legend_entry){m->name[k], {CHART_KEY_COLOR, m->dash[k], CHART_NO_MARKER}};
    return n;
}

void curves_draw(FILE *f, const char *title, const char *const *run_names, const struct curve *c, int n,
                 enum y_scale scale)
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
    const struct curve *drawn[CURVES_MAX];
    struct chart_panel panels[N_KINDS];
    struct chart_legend_entry legends[N_KINDS][2 * CURVES_MAX + 1];
    char ylabels[N_KINDS][64];
    int n_panels = 0, n_series = 0;
    for (int p = 0; p < N_KINDS; p++) {
        int first = n_series;
        struct panel_metrics metrics = {.n = 0};
        ylabels[n_panels][0] = '\0';
        for (int k = 0; k < N_KINDS; k++) {
            if (panel[k] != (enum kind)p || empty(r[k]))
                continue;
            size_t len = strlen(ylabels[n_panels]);
            snprintf(ylabels[n_panels] + len, sizeof ylabels[0] - len, "%s%s", len ? ", " : "", kind_label[k]);
            for (int i = 0; i < n; i++)
                if (kind_of(c[i].metric) == (enum kind)k) {
                    panel_metrics_add(&metrics, c[i].metric);
                    drawn[n_series++] = &c[i];
                }
        }
        if (n_series == first)
            continue;
        panel_metrics_style(&metrics);
        struct chart_legend_entry *legend = legends[n_panels];
        int n_legend = 0;
        for (int s = first; s < n_series; s++) {
            const struct curve *cu = drawn[s];
            enum chart_dash dash = panel_metrics_dash(&metrics, cu->metric);
            /* one run: a colour per curve, as d2l's Animator draws a run */
            struct chart_look look =
                run_names ? run_look(cu->run, dash) : (struct chart_look){s, dash, CHART_NO_MARKER};
            series[s] = (struct chart_series){.y = cu->y, .lo = cu->lo, .hi = cu->hi, .n = cu->n, .look = look};
            if (!run_names)
                legend[n_legend++] = (struct chart_legend_entry){cu->metric, look};
        }
        if (run_names)
            n_legend = runs_legend(legend, drawn + first, n_series - first, run_names, &metrics);
        panels[n_panels] = (struct chart_panel){.ylabel = ylabels[n_panels], .log_y = log[p], .series = series + first,
                                                .n_series = n_series - first, .legend = legend, .n_legend = n_legend};
        n_panels++;
    }
    chart_write_svg(f, title, panels, n_panels);
}

/* y = the metric at `offset` of each epoch report; NAN past n */
static bool metric_series(double *y, const struct epoch_report *epochs, int n, size_t offset, int longest)
{
    bool any = false;
    for (int i = 0; i < longest; i++) {
        y[i] = i < n ? *(const double *)((const char *)&epochs[i] + offset) : NAN;
        any |= !isnan(y[i]);
    }
    return any;
}

static int write_runs(FILE *f, const struct curves_run *runs, int n_runs, bool named, const char *only,
                      const char *title, enum y_scale scale)
{
    int longest = 1;
    for (int r = 0; r < n_runs; r++)
        longest = runs[r].n > longest ? runs[r].n : longest;
    /* per run and metric: y, then lo and hi */
    size_t per_curve = 3 * (size_t)longest;
    double *values = malloc(sizeof *values * REPORT_METRICS * per_curve * (size_t)(n_runs > 0 ? n_runs : 1));
    const char **names = malloc(sizeof *names * (size_t)(n_runs > 0 ? n_runs : 1));
    if (!values || !names) {
        free(values), free(names);
        return -1;
    }
    struct curve c[CURVES_MAX];
    int n_curves = 0;
    for (int r = 0; r < n_runs; r++) {
        names[r] = runs[r].name;
        for (int m = 0; m < REPORT_METRICS; m++) {
            double *y = values + ((size_t)r * REPORT_METRICS + (size_t)m) * per_curve, *lo = y + longest,
                   *hi = lo + longest;
            if (!metric_series(y, runs[r].epochs, runs[r].n, report_metrics[m].offset, longest) ||
                (only && strcmp(only, report_metrics[m].name)) || n_curves == CURVES_MAX)
                continue;
            bool band = runs[r].std && metric_series(lo, runs[r].std, runs[r].n, report_metrics[m].offset, longest);
            for (int i = 0; band && i < longest; i++) {
                double spread = lo[i];
                lo[i] = y[i] - spread;
                hi[i] = y[i] + spread;
            }
            c[n_curves++] = (struct curve){.run = r, .metric = report_metrics[m].name, .y = y, .lo = band ? lo : NULL,
                                           .hi = band ? hi : NULL, .n = runs[r].n};
        }
    }
    curves_draw(f, title, named ? names : NULL, c, n_curves, scale);
    free(values);
    free(names);
    return 0;
}

int curves_write_runs_svg(FILE *f, const struct curves_run *runs, int n_runs, const char *only, const char *title,
                          enum y_scale scale)
{
    return write_runs(f, runs, n_runs, true, only, title, scale);
}

int curves_write_svg(FILE *f, const struct epoch_report *epochs, int n, const char *title, enum y_scale scale)
{
    struct curves_run run = {.epochs = epochs, .n = n};
    return write_runs(f, &run, 1, false, NULL, title, scale);
}

int y_scale_choose(enum y_scale *scale, enum y_scale wanted, struct err *e)
{
    if (*scale != Y_SCALE_AUTO && *scale != wanted)
        return err_set(e, EXIT_USAGE, "--log-y and --linear-y exclude each other");
    *scale = wanted;
    return 0;
}
