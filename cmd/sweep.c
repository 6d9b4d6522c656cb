/* d2ltrain sweep SPEC --grid KEY=V1,V2,...: one training per point of a
 * grid of --set overrides, a line per point, a ranked table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/comm.h"
#include "sweep.h"

static const char usage[] =
    "usage: d2ltrain sweep SPEC.yaml --grid KEY=V1,V2,... [--grid ...] [options]\n"
    "Trains the spec once per point of a grid of overrides and ranks the points.\n"
    "  --grid KEY=V1,V2,...  an axis: KEY is any --set path (model[1].linear.out too),\n"
    "                    the values split at commas outside brackets, so\n"
    "                    optimizer.adam.betas=[0.9,0.99],[0.8,0.9] is two values; the points\n"
    "                    are the cartesian product of the axes, the first outermost.\n"
    "                    --grid seed=1,2,3 repeats every point over the seeds: the table\n"
    "                    shows mean ± std over them\n"
    "  --points FILE.yaml  a list of points, each a mapping {key.path: value, ...}; with\n"
    "                    --grid, every point of the file is crossed with the grid\n"
    "  --rank-by METRIC  the table's order: loss, train_acc, test_loss, test_acc,\n"
    "                    train_log_rmse, valid_log_rmse (default: test_acc for\n"
    "                    classification, else valid_log_rmse, test_loss, loss); accuracies\n"
    "                    higher first, the others lower first\n"
    "  --out DIR         DIR/sweep.jsonl (one line per point, one per seed group),\n"
    "                    DIR/sweep.svg (the points' curves) and each point's `run --out`\n"
    "                    files in DIR/<point>/ (lr=0.1,std=0.01); DIR must be new, empty or\n"
    "                    an earlier sweep's, and is replaced as a whole\n"
    "  --threads N       CPU threads (default: the cores available): up to N points train\n"
    "                    side by side, their GEMMs sharing what is left over\n"
    "  --device D, --set KEY=VAL, --data-dir DIR, --mirror URL, --cacert FILE, --quiet,\n"
    "  --timing          as for run (--set applies to every point, before the grid's)\n"
    "Every point's spec is loaded and checked before any trains. A point that fails\n"
    "is shown as failed and the others go on; Ctrl-C starts no new point, lets the\n"
    "running ones finish their epoch and writes the finished ones.\n"
    "Exit status: 0 every point trained, 1 a point failed (its exit status), 2 usage or\n"
    "spec error, 3 data error, 130 interrupted.\n";

struct progress {
    const struct sweep *s;
    bool printed_nonfinite;
};

/* Points end in any order when they train side by side: each line names
 * its point. */
static void on_point_done(int i, const struct sweep_result *r, void *arg)
{
    struct progress *p = arg;
    if (sweep_print_point(stdout, p->s, i, r))
        p->printed_nonfinite = true;
}

static int check_rank_by(const char *metric, struct err *e)
{
    static const char *const known[] = {"loss", "train_acc", "test_loss", "test_acc", "train_log_rmse",
                                        "valid_log_rmse"};
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
        if (!strcmp(metric, known[k]))
            return 0;
    return err_set(e, EXIT_USAGE, "--rank-by %s: not a metric (loss, train_acc, test_loss, test_acc, "
                   "train_log_rmse, valid_log_rmse)", metric);
}

/* The exit status: the first failed point's, in point order. */
static int first_failure(const struct sweep *s, const struct sweep_result *results)
{
    for (int i = 0; i < s->n_points; i++)
        if (results[i].status)
            return results[i].status;
    return 0;
}

int cmd_sweep(int argc, char **argv)
{
    struct run_options o;
    int status = parse_run_options(&o, argc, argv, usage, TAKES_SWEEP | TAKES_Y_SCALE);
    if (status >= 0)
        return status;
    struct err e = {0};
    struct sweep s = {0};
    struct sweep_plan plan = {0};
    struct sweep_result *results = NULL;
    struct outset set = {0};
    bool gathered = false; /* every rank reached the end together */
    /* in an MPI job rank 0 alone prints and writes --out */
    bool lead = comm_rank() == 0, ranks = comm_size() > 1;
    train_stop_on_sigint();
    if ((o.rank_by && check_rank_by(o.rank_by, &e)) ||
        sweep_build(&s, o.grids, o.n_grids, o.points_file, o.sets, o.n_sets, &e) || sweep_prepare(&plan, &s, &o, &e))
        goto done;
    for (int i = 0; i < s.n_points; i++)
        if (plan.specs[i].train.checkpoint_every) {
            notice_checkpoints_unkept(plan.specs[i].train.checkpoint_every, "sweep keeps no checkpoints (run --out does)");
            break;
        }
    /* --out is locked now: a second writer is refused before anything trains */
    if ((o.out_dir && lead && outset_begin_whole(&set, o.out_dir, &e)) ||
        (!(results = calloc((size_t)s.n_points, sizeof *results)) &&
         err_set(&e, EXIT_RUNTIME, "out of memory: %d points", s.n_points)) ||
        comm_agree(&e))
        goto done;
    struct progress progress = {.s = &s};
    double start = clock_seconds();
    struct sweep_output out = {.set = lead ? &set : NULL, .y_scale = o.y_scale};
    /* over ranks, rank 0 prints every point's line after the gather, in
     * point order */
    sweep_run_points(&plan, &s, comm_rank(), comm_size(), o.threads, o.out_dir ? &out : NULL,
                     ranks ? NULL : on_point_done, &progress, results);
    if (ranks) {
        train_stop_requested = comm_any(train_stop_requested);
        gathered = true;
        if (sweep_gather(&plan, &s, o.out_dir ? &out : NULL, results, &e) || !lead)
            goto done;
        for (int i = 0; i < s.n_points; i++)
            if (results[i].ran)
                on_point_done(i, &results[i], &progress);
    }
    double seconds = clock_seconds() - start;
    const char *rank_by = o.rank_by ? o.rank_by : sweep_default_rank(results, s.n_points);
    if (sweep_print_table(stdout, &s, results, rank_by) || progress.printed_nonfinite) {
        err_set(&e, EXIT_RUNTIME, "a point's metrics are not finite");
        goto done;
    }
    char title[SPEC_NAME_LEN + 16];
    snprintf(title, sizeof title, "%s sweep", plan.specs[0].name);
    if (o.out_dir && !sweep_write_outputs(&set, &s, results, rank_by, title, o.y_scale, &e))
        outset_commit(&set, &e);
    if (!e.code && train_stop_requested)
        printf("interrupted: the points that finished are in the table%s\n",
               o.out_dir ? " and the output directory" : "");
    if (!e.code && o.timing)
        fprintf(stderr, "timing: %d points in %.3f s; %.3f s since the command started\n", s.n_points, seconds,
                clock_seconds() - o.started);
    fflush(stdout);
done:
    outset_abort(&set);
    int failed = e.code || !results ? 0 : first_failure(&s, results);
    sweep_results_free(results, s.n_points);
    free(results);
    sweep_plan_free(&plan);
    sweep_free(&s);
    status = e.code ? report_error(&e) : train_stop_requested ? 130 : failed;
    return gathered ? comm_exit_together(status) : status;
}
