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
    "                  fold 1's curves to DIR/curves.svg (d2l's plot)\n"
    "  --verbose       print every fold's epoch lines (\"fold 1 epoch 3/100 ...\")\n"
    "  --log-y, --linear-y  force curves.svg's y axis (default: logarithmic for regression\n"
    "                  losses, log-RMSE and values spanning two decades)\n"
    "  --threads N     CPU threads (default: the cores available): up to N folds run side\n"
    "                  by side, their GEMMs sharing what is left over\n"
    "Under mpirun (docs/MPI.md) the folds go round-robin over the ranks and rank 0\n"
    "prints what one process would.\n"
    "  --data-dir DIR, --mirror URL, --cacert FILE, --quiet, --timing: as for run\n";

static const char *metric_name(enum kfold_metric m)
{
    return m == KFOLD_LOG_RMSE ? "log_rmse" : m == KFOLD_ACCURACY ? "acc" : "loss";
}

/* metrics.jsonl (every fold) and curves.svg (fold 1, as d2l draws it). */
static int write_outputs(struct outset *set, const struct fold_result *res, int k, const char *name,
                         enum y_scale scale, struct err *e)
{
    struct outfile o;
    char title[SPEC_NAME_LEN + 16];
    snprintf(title, sizeof title, "%s, fold 1", name);
    if (outfile_open(&o, set, "curves.svg", e))
        return e->code;
    if (curves_write_svg(o.f, res[0].epochs, res[0].n_epochs, title, scale)) {
        outfile_abort(&o);
        return err_set(e, EXIT_RUNTIME, "out of memory drawing %s", o.path);
    }
    if (outfile_close(&o, e) || outfile_open(&o, set, "metrics.jsonl", e))
        return e->code;
    for (int f = 0; f < k && !e->code; f++)
        for (int i = 0; i < res[f].n_epochs && !e->code; i++)
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
    int k = 0;
    /* in an MPI job rank 0 alone prints and writes --out */
    bool lead = comm_rank() == 0;
    if (experiment_open(&x, &o, &e) || (o.out_dir && lead && outset_begin(&set, o.out_dir, outset_all_names, &e)) ||
        comm_agree(&e))
        goto done;
    k = x.spec.kfold.k;
    if (!(res = calloc((size_t)k, sizeof *res))) {
        err_set(&e, EXIT_RUNTIME, "out of memory");
        goto done;
    }
    double folds_start = clock_seconds();
    if (kfold_run(&x.spec, x.be, &x.data.train, o.threads, res, &e) || !lead)
        goto done;
    double folds_seconds = clock_seconds() - folds_start;
    const char *name = metric_name(kfold_metric_of(&x.spec, &x.data.train));
    double train_sum = 0, valid_sum = 0;
    int printed = 0;
    for (int f = 0; o.verbose && f < k; f++) { /* the folds ran side by side: their lines come after */
        char prefix[32];
        snprintf(prefix, sizeof prefix, "fold %d ", f + 1);
        for (int i = 0; i < res[f].n_epochs; i++)
            printed |= report_epoch_line(stdout, &res[f].epochs[i], prefix);
    }
    for (int f = 0; f < k; f++) {
        printed |= report_fold_line(stdout, f + 1, k, name, res[f].train_metric, res[f].valid_metric, res[f].seconds);
        train_sum += res[f].train_metric;
        valid_sum += res[f].valid_metric;
    }
    printed |= report_folds_average(stdout, k, name, train_sum, valid_sum);
    if (printed) {
        err_set(&e, EXIT_RUNTIME, "a fold's %s is not finite", name);
        goto done;
    }
    if (o.out_dir)
        write_outputs(&set, res, k, x.spec.name, o.y_scale, &e);
    if (!e.code && o.timing)
        experiment_print_timing(&x, "folds", folds_seconds, o.started);
done:
    outset_abort(&set);
    if (res)
        kfold_results_free(res, k);
    free(res);
    experiment_close(&x);
    return e.code ? report_error(&e) : 0;
}
