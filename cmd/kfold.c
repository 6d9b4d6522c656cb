/* d2ltrain kfold SPEC: k-fold cross-validation (d2l 4.10's k_fold). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/comm.h"
#include "../core/curves.h"
#include "../core/kfold.h"
#include "../core/outfile.h"
#include "../core/report.h"
#include "cmd.h"

static const char usage[] =
    "usage: d2ltrain kfold SPEC.yaml [options]\n"
    "Trains a fresh model on each of kfold.k folds and prints each fold's\n"
    "train and valid metric and their averages.\n"
    "  --device D      auto | cpu | cuda | cuda:N\n"
    "  --set KEY=VAL   override a spec key, e.g. --set kfold.k=10 (repeatable)\n"
    "  --out DIR       write every fold's per-epoch metrics to DIR/metrics.jsonl and\n"
    "                  fold 1's curves to DIR/curves.svg (d2l's plot; interrupted:\n"
    "                  the first finished fold's)\n"
    "  --verbose       print every fold's epoch lines (\"fold 1 epoch 3/100 ...\")\n"
    "  --log-y, --linear-y  force curves.svg's y axis (default: logarithmic for regression\n"
    "                  losses, log-RMSE and values spanning two decades)\n"
    "  --threads N     CPU threads (default: the cores available): up to N folds run side\n"
    "                  by side, their GEMMs sharing what is left over\n"
    "Under mpirun (docs/MPI.md) the folds go round-robin over the ranks and rank 0\n"
    "prints what one process would.\n"
    "  --data-dir DIR, --mirror URL, --cacert FILE, --quiet, --timing: as for run\n"
    "Ctrl-C (to any rank under mpirun) starts no new fold and stops the training ones\n"
    "after their step (a GPU's: its epoch). They are left out: the averages and --out\n"
    "cover the finished folds, and the last line says how many of k finished.\n"
    "Exit status: 0 every fold trained, 1 a fold failed, 2 usage or spec error, 3 data\n"
    "error, 130 interrupted.\n";

static const char *metric_name(enum kfold_metric m)
{
    return m == KFOLD_LOG_RMSE ? "log_rmse" : m == KFOLD_ACCURACY ? "acc" : "loss";
}

/* metrics.jsonl (every finished fold) and curves.svg (the first finished
 * fold, fold 1 unless interrupted, as d2l draws it). */
static int write_outputs(struct outset *set, const struct fold_result *res, int k, const char *name,
                         enum y_scale scale, struct err *e)
{
    struct outfile o;
    char title[SPEC_NAME_LEN + 32];
    int first = 0;
    while (res[first].state != FOLD_FINISHED)
        first++;
    snprintf(title, sizeof title, "%s, fold %d", name, first + 1);
    if (outfile_open(&o, set, "curves.svg", e))
        return e->code;
    if (curves_write_svg(o.f, res[first].epochs, res[first].n_epochs, title, scale)) {
        outfile_abort(&o);
        return err_set(e, EXIT_RUNTIME, "out of memory drawing %s", o.path);
    }
    if (outfile_close(&o, e) || outfile_open(&o, set, "metrics.jsonl", e))
        return e->code;
    for (int f = 0; f < k && !e->code; f++)
        for (int i = 0; res[f].state == FOLD_FINISHED && i < res[f].n_epochs && !e->code; i++)
            if (report_epoch_json(o.f, &res[f].epochs[i], f + 1))
                err_set(e, EXIT_RUNTIME, "cannot encode fold %d's metrics for %s", f + 1, o.path);
    if (e->code) {
        outfile_abort(&o);
        return e->code;
    }
    if (!outfile_close(&o, e))
        outset_commit(set, e);
    return e->code;
}

/* A fold's line: its metrics when it finished, else why it has none. */
static int print_fold(const struct fold_result *r, int fold, int k, const char *name)
{
    switch (r->state) {
    case FOLD_FINISHED:
        return report_fold_line(stdout, fold, k, name, r->train_metric, r->valid_metric, r->seconds);
    case FOLD_INTERRUPTED:
        printf("fold %d/%d interrupted after epoch %d (left out)\n", fold, k, r->n_epochs);
        return 0;
    case FOLD_NOT_STARTED:
        return 0;
    }
    return 0;
}

/* The fold lines and the averages over the finished folds; *finished
 * counts them. Nonzero when a printed value is not finite. */
static int print_folds(const struct fold_result *res, int k, const char *name, bool verbose, int *finished)
{
    double train_sum = 0, valid_sum = 0;
    int printed = 0;
    *finished = 0;
    for (int f = 0; verbose && f < k; f++) { /* the folds ran side by side: their lines come after */
        char prefix[32];
        snprintf(prefix, sizeof prefix, "fold %d ", f + 1);
        for (int i = 0; res[f].state == FOLD_FINISHED && i < res[f].n_epochs; i++)
            printed |= report_epoch_line(stdout, &res[f].epochs[i], prefix);
    }
    for (int f = 0; f < k; f++) {
        printed |= print_fold(&res[f], f + 1, k, name);
        if (res[f].state == FOLD_FINISHED) {
            train_sum += res[f].train_metric;
            valid_sum += res[f].valid_metric;
            ++*finished;
        }
    }
    if (*finished > 0)
        printed |= report_folds_average(stdout, *finished, k, name, train_sum, valid_sum);
    if (*finished < k)
        printf("interrupted: %d of %d folds finished%s\n", *finished, k,
               *finished > 0 ? "; averages over those" : "");
    return printed;
}

int cmd_kfold(int argc, char **argv)
{
    struct run_options o;
    int status = parse_run_options(&o, argc, argv, usage, TAKES_VERBOSE | TAKES_Y_SCALE);
    if (status >= 0)
        return status;
    struct err e = {0};
    struct experiment x;
    struct outset set = {0};
    struct fold_result *res = NULL;
    int k = 0, finished = 0;
    bool gathered = false; /* every rank reached the end of the folds together: all exit with rank 0's status */
    /* in an MPI job rank 0 alone prints and writes --out */
    bool lead = comm_rank() == 0;
    /* Ctrl-C: no new fold, the training ones stop after their step */
    train_stop_on_sigint();
    if (experiment_open(&x, &o, &e) || (o.out_dir && lead && outset_begin(&set, o.out_dir, outset_all_names, &e)) ||
        comm_agree(&e))
        goto done;
    k = x.spec.kfold.k;
    notice_checkpoints_unkept(x.spec.train.checkpoint_every, "kfold keeps no checkpoints (run --out does)");
    if (!(res = calloc((size_t)k, sizeof *res))) {
        err_set(&e, EXIT_RUNTIME, "out of memory");
        goto done;
    }
    double folds_start = clock_seconds();
    int failed = kfold_run(&x.spec, x.be, &x.data.train, o.threads, res, &e);
    gathered = true;
    if (failed || !lead)
        goto done;
    double folds_seconds = clock_seconds() - folds_start;
    const char *name = metric_name(kfold_metric_of(&x.spec, &x.data.train));
    if (print_folds(res, k, name, o.verbose, &finished)) {
        err_set(&e, EXIT_RUNTIME, "a fold's %s is not finite", name);
        goto done;
    }
    /* interrupted before any fold finished: nothing is written */
    if (o.out_dir && finished > 0)
        write_outputs(&set, res, k, x.spec.name, o.y_scale, &e);
    if (!e.code && o.timing)
        experiment_print_timing(&x, "folds", folds_seconds, o.started);
    fflush(stdout);
done:
    outset_abort(&set);
    if (res)
        kfold_results_free(res, k);
    free(res);
    experiment_close(&x);
    status = e.code ? report_error(&e) : finished < k ? 130 : 0;
    return gathered ? comm_exit_together(status) : status;
}
