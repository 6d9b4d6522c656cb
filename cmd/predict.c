/* d2ltrain predict SPEC --checkpoint FILE: the model a `run --out` saved,
 * applied to the spec's test set. */
#include <stdio.h>
#include <stdlib.h>

#include "../core/checkpoint.h"
#include "../core/clock.h"
#include "../core/train.h"
#include "cmd.h"

static const char usage[] =
    "usage: d2ltrain predict SPEC.yaml --checkpoint FILE [options]\n"
    "Loads the parameters `run --out DIR` saved (DIR/model.safetensors) into the model\n"
    "SPEC describes and applies it to the spec's test set: accuracy (or RMSE) when the\n"
    "test set has labels, and the first predictions of a classifier.\n"
    "  --checkpoint FILE  the model.safetensors to load (required)\n"
    "  --out DIR          write DIR/predictions.csv (row,predicted,true); for an\n"
    "                     unlabelled test set DIR/submission.csv, as run writes it\n"
    "  --device D, --set KEY=VAL, --data-dir DIR, --mirror URL, --cacert FILE, --threads N, --quiet,\n"
    "  --timing: as for run (the spec and --set must describe the saved model)\n";

int cmd_predict(int argc, char **argv)
{
    struct run_options o;
    int status = parse_run_options(&o, argc, argv, usage, TAKES_CHECKPOINT);
    if (status >= 0)
        return status;
    struct err e = {0};
    if (!o.checkpoint) {
        err_set(&e, EXIT_USAGE, "predict needs --checkpoint FILE (the model.safetensors of a run --out)");
        return report_error(&e);
    }
    struct experiment x;
    struct model m = {0};
    struct outset set = {0};
    float *params = NULL, *out = NULL;
    const struct dataset *test = &x.data.test;
    if (experiment_open(&x, &o, &e) || (o.out_dir && outset_begin(&set, o.out_dir, outset_predict_names, &e)))
        goto done;
    if (test->n == 0) {
        err_set(&e, EXIT_USAGE, "%s: the data has no test set to predict on", o.spec_path);
        goto done;
    }
    if (model_build(&m, &x.spec, x.be, (int)x.data.train.d, x.spec.data.batch_size, &e))
        goto done;
    if (!(params = malloc(m.n_params * sizeof *params))) {
        err_set(&e, EXIT_RUNTIME, "out of memory: %zu parameters", m.n_params);
        goto done;
    }
    if (checkpoint_read(o.checkpoint, &m, params, &e))
        goto done;
    x.be->upload(x.be, m.params, params, m.n_params * sizeof *params);
    double predict_start = clock_seconds();
    if (!(out = predict_test_set(&m, test, &e)))
        goto done;
    double predict_seconds = clock_seconds() - predict_start;
    print_test_metric(test, out, m.out_width);
    print_predicted_labels(test, out, m.out_width);
    if (o.out_dir) {
        if (test->y)
            write_predictions_csv(&set, test, out, m.out_width, &e);
        else /* as run writes it */
            write_submission(&set, test, out, m.out_width, &e);
        if (!e.code)
            outset_commit(&set, &e);
    }
    if (!e.code && o.timing)
        experiment_print_timing(&x, "predicting", predict_seconds, o.started);
done:
    outset_abort(&set);
    free(params);
    free(out);
    model_free(&m);
    experiment_close(&x);
    return e.code ? report_error(&e) : 0;
}
