/* d2ltrain run SPEC: train once, print a line per epoch, write outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/checkpoint.h"
#include "../core/clock.h"
#include "../core/curves.h"
#include "../core/model_print.h"
#include "../core/outfile.h"
#include "../core/report.h"
#include "cmd.h"

static const char usage[] =
    "usage: d2ltrain run SPEC.yaml [options]\n"
    "Trains the experiment SPEC describes and prints one line per epoch.\n"
    "  --device D      auto | cpu | cuda | cuda:N (overrides the spec's device)\n"
    "  --set KEY=VAL   override a spec key, e.g. --set optimizer.sgd.lr=0.3 (repeatable)\n"
    "  --out DIR       write metrics.jsonl, config.yaml, model.safetensors, curves.svg (and\n"
    "                  submission.csv for an unlabelled test set) to DIR\n"
    "  --data-dir DIR  dataset cache (default $D2L_DATA_DIR or ~/.cache/d2ltrain)\n"
    "  --mirror URL    try this base URL first for downloads ($D2L_DATA_URL)\n"
    "  --cacert FILE   CA bundle for HTTPS downloads\n"
    "  --threads N     CPU threads for the GEMMs (default: the cores available to the process)\n"
    "  -q, --quiet     no fetch progress on stderr\n"
    "  --timing        say on stderr where the time went (data, device, training)\n"
    "  --init-from F   start from the parameters of the safetensors file F (names and shapes\n"
    "                  must match the spec's model, as load_state_dict)\n"
    "  --freeze GLOB   keep the parameters whose names match GLOB fixed, e.g. '0.*' (repeatable)\n"
    "  --print-model   print the module tree and the parameters, then exit without training\n"
    "Exit status: 0 ok, 1 training/runtime failure, 2 usage or spec error, 3 data error.\n";

struct run_ctx {
    struct outset out;
    struct outfile metrics;
    bool metrics_failed; /* a line could not be encoded: metrics.jsonl is not committed */
    bool printed_nonfinite; /* an epoch line showed an inf or a NaN: the run fails */
    struct epoch_report *epochs; /* for curves.svg */
    struct epoch_report last;    /* for --timing */
};

static void on_epoch(const struct epoch_report *r, void *arg)
{
    struct run_ctx *c = arg;
    if (report_epoch_line(stdout, r, ""))
        c->printed_nonfinite = true;
    if (c->metrics.f && report_epoch_json(c->metrics.f, r, -1))
        c->metrics_failed = true;
    if (c->epochs)
        c->epochs[r->epoch - 1] = *r;
    c->last = *r;
}

/* d2l 3.2 ends by comparing the learned parameters with the truth. */
static void print_linear_recovery(const struct spec *s, const struct model *m, const float *params)
{
    const struct layer *l = &m->layers[0];
    if (s->data.kind != DATASET_SYNTHETIC_LINEAR || m->n_layers != 1 || l->kind != LAYER_LINEAR || l->out != 1)
        return;
    int shown = l->in < 8 ? l->in : 8;
    printf("w");
    for (int j = 0; j < shown; j++)
        printf(" %.6f", params[l->w_off + j]);
    printf("%s\nerror in estimating w:", shown < l->in ? " ..." : "");
    for (int j = 0; j < shown; j++)
        printf(" %.6f", s->data.w[j] - params[l->w_off + j]);
    printf("%s\n", shown < l->in ? " ..." : "");
    if (l->bias)
        printf("b %.6f\nerror in estimating b: %.6f\n", params[l->b_off], s->data.b - params[l->b_off]);
}

/* The symmetry problem (d2l 5.4): hidden units that start equal stay equal. */
static void print_symmetry(const struct model *m, const float *params)
{
    for (int i = 0; i < m->n_layers; i++) {
        const struct layer *l = &m->layers[i];
        if (l->kind != LAYER_LINEAR || l->out < 2 || i == m->n_layers - 1)
            continue;
        const float *w = params + l->w_off;
        bool same = true;
        for (int r = 1; r < l->out && same; r++)
            same = !memcmp(w, w + (size_t)r * l->in, (size_t)l->in * sizeof *w) &&
                   (!l->bias || params[l->b_off + r] == params[l->b_off]);
        if (same)
            printf("symmetry: all %d units of layer %d (linear) have identical weights; the layer acts as one "
                   "unit\n",
                   l->out, i);
    }
}

/* d2l 4.10's log RMSE, for tabular regression when every label is positive
 * (it takes their log); a label that is not is named on stderr and the
 * metric left out. */
static bool reports_log_rmse(const struct data_split *d)
{
    if (!train_is_tabular_regression(&d->train))
        return false;
    const struct dataset *sets[] = {&d->train, &d->test};
    for (int i = 0; i < 2; i++) {
        size_t row = dataset_first_nonpositive_label(sets[i]);
        if (row < sets[i]->n) {
            char origin[1100];
            dataset_row_origin(sets[i], row, origin, sizeof origin);
            fprintf(stderr,
                    "notice: %s: label %g is not positive, so train_log_rmse and valid_log_rmse (the log of "
                    "each label) are left out\n",
                    origin, sets[i]->y[row * (size_t)sets[i]->y_width]);
            return false;
        }
    }
    return true;
}

/* The files beside metrics.jsonl, into the output set. */
static int write_outputs(const struct outset *set, const struct experiment *x, struct model *m, const float *params,
                         const struct epoch_report *epochs, struct err *e)
{
    struct outfile o = {0};
    if (!outfile_open(&o, set, "curves.svg", e)) {
        curves_write_svg(o.f, epochs, x->spec.epochs, x->spec.name);
        outfile_close(&o, e);
    }
    if (!e->code && !outfile_open(&o, set, "config.yaml", e)) {
        if (spec_write(&x->spec, o.f))
            err_set(e, EXIT_RUNTIME, "cannot write %s", o.path);
        else
            outfile_close(&o, e);
    }
    outfile_abort(&o);
    if (!e->code && !outfile_open(&o, set, "model.safetensors", e) && !checkpoint_write(o.f, m, params, e))
        outfile_close(&o, e);
    outfile_abort(&o);
    const struct dataset *test = &x->data.test;
    if (!e->code && test->n > 0 && !test->y) {
        float *out = predict_test_set(m, test, e);
        if (out)
            write_submission(set, test, out, m->out_width, e);
        free(out);
    }
    return e->code;
}

/* --init-from and --freeze on a built model. */
static int apply_model_options(struct model *m, const struct run_options *o, struct err *e)
{
    if (o->init_from) {
        float *params = malloc(m->n_params * sizeof *params);
        if (!params)
            return err_set(e, EXIT_RUNTIME, "out of memory: %zu parameters", m->n_params);
        if (!checkpoint_read(o->init_from, m, params, e))
            m->be->upload(m->be, m->params, params, m->n_params * sizeof *params);
        free(params);
        if (e->code)
            return e->code;
    }
    for (int i = 0; i < o->n_freeze; i++)
        if (model_freeze(m, o->freeze[i]) == 0)
            return err_set(e, EXIT_USAGE, "--freeze '%s' matches no parameter name (see --print-model)", o->freeze[i]);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    struct run_options o;
    int status = parse_run_options(&o, argc, argv, usage, TAKES_MODEL_OPTIONS);
    if (status >= 0)
        return status;
    struct err e = {0};
    struct experiment x;
    struct model m = {0};
    struct run_ctx ctx = {0};
    float *params = NULL;
    if (experiment_open(&x, &o, &e) || model_build(&m, &x.spec, x.be, (int)x.data.train.d, x.spec.data.batch_size, &e) ||
        apply_model_options(&m, &o, &e))
        goto done;
    if (o.print_model) {
        model_print_tree(stdout, &m);
        model_print_parameters(stdout, &m);
        goto done;
    }
    /* --out is locked now: a second writer is refused before it trains */
    if (o.out_dir && (outset_begin(&ctx.out, o.out_dir, outset_all_names, &e) ||
                      outfile_open(&ctx.metrics, &ctx.out, "metrics.jsonl", &e)))
        goto done;
    if (o.out_dir && !(ctx.epochs = calloc((size_t)x.spec.epochs, sizeof *ctx.epochs))) {
        err_set(&e, EXIT_RUNTIME, "out of memory: %d epoch reports", x.spec.epochs);
        goto done;
    }
    bool log_rmse = reports_log_rmse(&x.data);
    double train_start = clock_seconds();
    if (train_model(&m, &x.spec, &x.data.train, &x.data.test, log_rmse, on_epoch, &ctx, &e))
        goto done;
    double train_seconds = clock_seconds() - train_start;
    if (!(params = malloc(m.n_params * sizeof *params))) {
        err_set(&e, EXIT_RUNTIME, "out of memory: %zu parameters", m.n_params);
        goto done;
    }
    x.be->download(x.be, params, m.params, m.n_params * sizeof *params);
    print_linear_recovery(&x.spec, &m, params);
    print_symmetry(&m, params);
    if (print_first_predictions(&x, &m, &e))
        goto done;
    if (ctx.printed_nonfinite) {
        err_set(&e, EXIT_RUNTIME, "an epoch's metrics are not finite");
        goto done;
    }
    if (ctx.metrics_failed) {
        err_set(&e, EXIT_RUNTIME, "cannot encode an epoch's metrics for %s", ctx.metrics.path);
        goto done;
    }
    if (o.out_dir && !outfile_close(&ctx.metrics, &e) && !write_outputs(&ctx.out, &x, &m, params, ctx.epochs, &e))
        outset_commit(&ctx.out, &e);
    if (!e.code && o.timing) {
        experiment_print_timing(&x, "training", train_seconds, o.started);
        fprintf(stderr, "timing: last epoch %.2f ms: training steps %.2f ms, evaluation %.2f ms\n",
                ctx.last.seconds * 1e3, ctx.last.steps_seconds * 1e3,
                (ctx.last.seconds - ctx.last.steps_seconds) * 1e3);
    }
done:
    outfile_abort(&ctx.metrics);
    outset_abort(&ctx.out);
    free(ctx.epochs);
    free(params);
    model_free(&m);
    experiment_close(&x);
    return e.code ? report_error(&e) : 0;
}
