/* d2ltrain plot RUN_DIR... -o FILE.svg: the curves of saved runs
 * (their metrics.jsonl), overlaid, as d2l compares lambda = 0 with 3. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/curves.h"
#include "../core/svg.h"
#include "../data/read_all.h"
#include "args.h"
#include "cmd.h"

static const char usage[] =
    "usage: d2ltrain plot RUN_DIR... -o FILE.svg [options]\n"
    "Draws the per-epoch metrics that `run --out RUN_DIR` (or kfold: its fold 1) saved in\n"
    "RUN_DIR/metrics.jsonl; several runs are overlaid, each in a colour of its own (after\n"
    "ten, the colours again with a marker shape), the legend naming each by its directory\n"
    "(by its path where two directories share a name),\n"
    "then the line style of each metric (train solid, test/validation dashed, train\n"
    "accuracy dotted, test accuracy dash-dotted). A RUN_DIR may also be a .jsonl file.\n"
    "  -o FILE.svg       the picture (required)\n"
    "  --metric NAME     draw only this metric (repeatable), e.g. --metric test_loss\n"
    "  --log-y           logarithmic y axis for the losses (the default for regression\n"
    "                    losses, log-RMSE and values spanning two decades)\n"
    "  --linear-y        linear y axis everywhere\n"
    "  --title TEXT      a title (default: the run's name when there is one run)\n"
    "Exit status: 0 ok, 2 usage error, 3 a missing or unreadable metrics file.\n";

enum { MAX_RUNS = 16, MAX_METRICS = 16, MAX_EPOCHS = 1000000, MAX_BYTES = 256 << 20 };

enum { RUN_NAME_LEN = 256 };

struct run_metrics {
    char name[RUN_NAME_LEN];
    char path[RUN_NAME_LEN]; /* the argument, less trailing slashes: the name when two runs share the last part */
    char file[4096];
    int n_metrics, epochs;
    char *metric[MAX_METRICS];
    double *y[MAX_METRICS]; /* [epochs], NAN where a line had no value */
};

static void run_metrics_free(struct run_metrics *r)
{
    for (int m = 0; m < r->n_metrics; m++)
        free(r->metric[m]), free(r->y[m]);
}

/* Every series to `epochs` epochs, new ones NAN. */
static int grow(struct run_metrics *r, int epochs, struct err *e)
{
    for (int m = 0; m < r->n_metrics; m++) {
        double *y = realloc(r->y[m], sizeof *y * (size_t)epochs);
        if (!y)
            return err_set(e, EXIT_RUNTIME, "out of memory: %d epochs", epochs);
        for (int i = r->epochs; i < epochs; i++)
            y[i] = NAN;
        r->y[m] = y;
    }
    r->epochs = epochs;
    return 0;
}

/* The index of metric `name`, its series made (all NAN) on first sight;
 * -1 after setting *e. */
static int metric_index(struct run_metrics *r, const char *name, int line, struct err *e)
{
    for (int m = 0; m < r->n_metrics; m++)
        if (!strcmp(r->metric[m], name))
            return m;
    if (r->n_metrics == MAX_METRICS) {
        err_set(e, EXIT_DATA, "%s:%d: more than %d metrics", r->file, line, MAX_METRICS);
        return -1;
    }
    int m = r->n_metrics;
    r->metric[m] = strdup(name);
    r->y[m] = malloc(sizeof *r->y[m] * (size_t)r->epochs);
    if (!r->metric[m] || !r->y[m]) {
        free(r->metric[m]), free(r->y[m]);
        err_set(e, EXIT_RUNTIME, "out of memory");
        return -1;
    }
    for (int i = 0; i < r->epochs; i++)
        r->y[m][i] = NAN;
    r->n_metrics++;
    return m;
}

/* One line: {"epoch": N, ["fold": F,] "metric": number, ...}. */
static int read_line(struct run_metrics *r, const char *text, size_t len, int line, struct err *e)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return err_set(e, EXIT_DATA, "%s:%d: not a JSON object%s%s", r->file, line, o ? "" : ": ", o ? "" : je.text);
    }
    json_t *epoch = json_object_get(o, "epoch"), *fold = json_object_get(o, "fold");
    int status = 0;
    if (!json_is_integer(epoch) || json_integer_value(epoch) < 1 || json_integer_value(epoch) > MAX_EPOCHS)
        status = err_set(e, EXIT_DATA, "%s:%d: \"epoch\" must be an integer from 1 to %d", r->file, line, MAX_EPOCHS);
    else if (fold && !json_is_integer(fold))
        status = err_set(e, EXIT_DATA, "%s:%d: \"fold\" must be an integer", r->file, line);
    if (status || (fold && json_integer_value(fold) != 1)) { /* kfold: fold 1, as d2l draws it */
        json_decref(o);
        return status;
    }
    int i = (int)json_integer_value(epoch) - 1;
    if (i >= r->epochs && grow(r, i + 1, e)) {
        json_decref(o);
        return e->code;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (!strcmp(key, "epoch") || !strcmp(key, "fold") || !strcmp(key, "time_s"))
            continue;
        if (!json_is_number(v)) {
            status = err_set(e, EXIT_DATA, "%s:%d: \"%s\" is not a number", r->file, line, key);
            break;
        }
        int m = metric_index(r, key, line, e);
        if (m < 0)
            break;
        r->y[m][i] = json_number_value(v);
    }
    json_decref(o);
    return e->code;
}

static int read_run(struct run_metrics *r, const char *arg, struct err *e)
{
    memset(r, 0, sizeof *r);
    struct stat st;
    if (stat(arg, &st))
        return err_set(e, EXIT_DATA, "%s: no such run directory", arg);
    snprintf(r->file, sizeof r->file, S_ISDIR(st.st_mode) ? "%s/metrics.jsonl" : "%s", arg);
    snprintf(r->path, sizeof r->path, "%s", arg);
    for (size_t len = strlen(r->path); len > 1 && r->path[len - 1] == '/'; len--)
        r->path[len - 1] = '\0';
    const char *base = strrchr(r->path, '/');
    snprintf(r->name, sizeof r->name, "%s", base ? base + 1 : r->path);
    uint8_t *text;
    size_t len;
    if (read_all(r->file, MAX_BYTES, "metrics file", &text, &len, e))
        return e->code;
    int line = 1;
    for (size_t at = 0; at < len && !e->code; line++) {
        const char *start = (const char *)text + at, *nl = memchr(start, '\n', len - at);
        size_t n = nl ? (size_t)(nl - start) : len - at;
        if (n > 0)
            read_line(r, start, n, line, e);
        at += n + 1;
    }
    free(text);
    if (!e->code && r->epochs == 0)
        err_set(e, EXIT_DATA, "%s: no epochs in it", r->file);
    return e->code;
}

/* Runs named alike by their last part (a/wd0, b/wd0) are named by their
 * whole paths; the same path twice, by its place on the command line too. */
static void name_runs_apart(struct run_metrics *runs, int n_runs)
{
    bool clash[MAX_RUNS] = {false};
    for (int a = 0; a < n_runs; a++)
        for (int b = a + 1; b < n_runs; b++)
            if (!strcmp(runs[a].name, runs[b].name))
                clash[a] = clash[b] = true;
    for (int r = 0; r < n_runs; r++)
        if (clash[r]) {
            struct run_metrics *run = &runs[r];
            memcpy(run->name, run->path, sizeof run->name);
        }
    for (int a = 0; a < n_runs; a++)
        for (int b = a + 1; b < n_runs; b++)
            if (!strcmp(runs[a].path, runs[b].path)) {
                char name[sizeof runs[b].name];
                snprintf(name, sizeof name, "%.200s (#%d)", runs[b].path, b + 1);
                memcpy(runs[b].name, name, sizeof name);
            }
}

static bool wanted(const char *metric, const char *const *only, int n_only)
{
    for (int i = 0; i < n_only; i++)
        if (!strcmp(metric, only[i]))
            return true;
    return n_only == 0;
}

static int draw(const char *out, struct run_metrics *runs, int n_runs, const char *const *only, int n_only,
                const char *title, enum y_scale scale, struct err *e)
{
    struct curve c[CURVES_MAX];
    int n = 0;
    for (int r = 0; r < n_runs; r++)
        for (int m = 0; m < runs[r].n_metrics; m++) {
            if (!wanted(runs[r].metric[m], only, n_only))
                continue;
            if (n == CURVES_MAX)
                return err_set(e, EXIT_USAGE, "more than %d curves in one plot: choose some with --metric",
                               CURVES_MAX);
            c[n++] = (struct curve){.run = r, .metric = runs[r].metric[m], .y = runs[r].y[m], .n = runs[r].epochs};
        }
    for (int i = 0; i < n_only; i++) {
        bool found = false;
        for (int k = 0; k < n; k++)
            found |= !strcmp(c[k].metric, only[i]);
        if (found)
            continue;
        char have[1024] = "";
        for (int m = 0; m < runs[0].n_metrics; m++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", m ? ", " : "", runs[0].metric[m]);
        return err_set(e, EXIT_USAGE, "--metric %s: no run has it (%s has %s)", only[i], runs[0].file, have);
    }
    struct svg_file f;
    if (svg_file_open(&f, out, e))
        return e->code;
    const char *names[MAX_RUNS];
    for (int r = 0; r < n_runs; r++)
        names[r] = runs[r].name;
    /* one run: a colour per metric, as its curves.svg; several: a colour per run */
    curves_draw(f.f, title ? title : n_runs == 1 ? runs[0].name : NULL, n_runs > 1 ? names : NULL, c, n, scale);
    return svg_file_commit(&f, e);
}

enum plot_option { PLOT_OUT, PLOT_TITLE, PLOT_METRIC, PLOT_LOG_Y, PLOT_LINEAR_Y };

static const struct arg_option plot_options[] = {
    {"-o", NULL, true, PLOT_OUT},          {"--title", NULL, true, PLOT_TITLE},
    {"--metric", NULL, true, PLOT_METRIC}, {"--log-y", NULL, false, PLOT_LOG_Y},
    {"--linear-y", NULL, false, PLOT_LINEAR_Y}, {NULL},
};

int cmd_plot(int argc, char **argv)
{
    const char *dirs[MAX_RUNS], *only[MAX_METRICS], *out = NULL, *title = NULL;
    int n_dirs = 0, n_only = 0;
    enum y_scale scale = Y_SCALE_AUTO;
    struct err e = {0};
    struct args a = args_start(plot_options, argc, argv);
    const char *v;
    for (int id; !e.code && (id = args_next(&a, &v, &e)) != ARG_DONE;) {
        if (id == ARG_HELP) {
            fputs(usage, stdout);
            return 0;
        } else if (id == PLOT_OUT)
            out = v;
        else if (id == PLOT_TITLE)
            title = v;
        else if (id == PLOT_METRIC && n_only == MAX_METRICS)
            err_set(&e, EXIT_USAGE, "at most %d --metric options", MAX_METRICS);
        else if (id == PLOT_METRIC)
            only[n_only++] = v;
        else if (id == PLOT_LOG_Y || id == PLOT_LINEAR_Y)
            y_scale_choose(&scale, id == PLOT_LOG_Y ? Y_SCALE_LOG : Y_SCALE_LINEAR, &e);
        else if (id == ARG_OPERAND && n_dirs == MAX_RUNS)
            err_set(&e, EXIT_USAGE, "at most %d runs in one plot", MAX_RUNS);
        else if (id == ARG_OPERAND)
            dirs[n_dirs++] = v;
    }
    if (!e.code && n_dirs == 0)
        err_set(&e, EXIT_USAGE, "plot needs at least one RUN_DIR (see d2ltrain plot --help)");
    if (!e.code && !out)
        err_set(&e, EXIT_USAGE, "plot needs -o FILE.svg");
    if (e.code)
        return report_error(&e);
    struct run_metrics runs[MAX_RUNS];
    int n_runs = 0;
    while (n_runs < n_dirs && !read_run(&runs[n_runs], dirs[n_runs], &e))
        n_runs++;
    if (n_runs < n_dirs)
        run_metrics_free(&runs[n_runs]);
    else {
        name_runs_apart(runs, n_runs);
        draw(out, runs, n_runs, only, n_only, title, scale, &e);
    }
    for (int r = 0; r < n_runs; r++)
        run_metrics_free(&runs[r]);
    return e.code ? report_error(&e) : 0;
}
