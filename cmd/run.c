/* d2ltrain run SPEC: train once, print a line per epoch, write outputs. */
#include <math.h>
#include <signal.h>
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
    "  --resume DIR    continue the run whose --out was DIR from its resume.safetensors\n"
    "                  (train.checkpoint_every, or Ctrl-C, writes it); --out defaults to DIR\n"
    "Exit status: 0 ok, 1 training/runtime failure, 2 usage or spec error, 3 data error.\n";

struct run_ctx {
    struct outset out;
    struct outfile metrics;
    bool metrics_failed; /* a line could not be encoded: metrics.jsonl is not committed */
    bool printed_nonfinite; /* an epoch line showed an inf or a NaN: the run fails */
    struct epoch_report *epochs; /* for curves.svg */
    int n_epochs;                /* of them reported (early stopping ends sooner) */
    struct epoch_report last;    /* for --timing */
    const struct model *m;
    int checkpoint_every;
    struct resume_state resume; /* the last checkpoint's state */
    struct err resume_err;
};

static void on_sigint(int sig)
{
    (void)sig;
    train_stop_requested = 1;
}

static void on_epoch(const struct epoch_report *r, void *arg)
{
    struct run_ctx *c = arg;
    if (report_epoch_line(stdout, r, ""))
        c->printed_nonfinite = true;
    if (c->metrics.f && report_epoch_json(c->metrics.f, r, -1))
        c->metrics_failed = true;
    if (c->epochs)
        c->epochs[r->epoch - 1] = *r;
    c->n_epochs = r->epoch;
    c->last = *r;
    if (c->checkpoint_every && r->epoch % c->checkpoint_every == 0 && !c->resume_err.code)
        resume_snapshot(&c->resume, c->m, r->epoch, &c->resume_err);
}

static void print_early_stop(const struct spec *s, const struct train_summary *sum)
{
    const char *metric = early_stop_metric_name(s->train.early_stop.metric);
    if (sum->stopped_early)
        printf("early stop: %s did not improve for %d epochs\n", metric, s->train.early_stop.patience);
    if (sum->restored_epoch)
        printf("restored the parameters of epoch %d (best %s %.6g)\n", sum->restored_epoch, metric,
               sum->best_value);
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
bool run_reports_log_rmse(const struct data_split *d)
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

int run_write_outputs(const struct outset *set, const struct spec *spec, const struct dataset *test, struct model *m,
                      const float *params, const struct epoch_report *epochs, int n_epochs,
                      const struct resume_state *resume, struct err *e)
{
    struct outfile o = {0};
    if (!outfile_open(&o, set, "curves.svg", e)) {
        if (curves_write_svg(o.f, epochs, n_epochs, spec->name, Y_SCALE_AUTO))
            err_set(e, EXIT_RUNTIME, "out of memory drawing %s", o.path);
        else
            outfile_close(&o, e);
    }
    if (!e->code && !outfile_open(&o, set, "config.yaml", e)) {
        if (spec_write(spec, o.f))
            err_set(e, EXIT_RUNTIME, "cannot write %s", o.path);
        else
            outfile_close(&o, e);
    }
    outfile_abort(&o);
    if (!e->code && !outfile_open(&o, set, "model.safetensors", e) && !checkpoint_write(o.f, m, params, e))
        outfile_close(&o, e);
    outfile_abort(&o);
    if (!e->code && resume && resume->params && !outfile_open(&o, set, "resume.safetensors", e) &&
        !resume_write(o.f, resume, m->n_params, e))
        outfile_close(&o, e);
    outfile_abort(&o);
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
    struct train_summary summary = {0};
    int first = 1;
    /* Ctrl-C: finish the epoch, keep a resume state, say how to resume */
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    if (experiment_open(&x, &o, &e) || model_build(&m, &x.spec, x.be, (int)x.data.train.d, x.spec.data.batch_size, &e) ||
        apply_model_options(&m, &o, &e))
        goto done;
    if (o.print_model) {
        model_print_tree(stdout, &m);
        model_print_parameters(stdout, &m);
        goto done;
    }
    if (o.resume && x.spec.train.early_stop.on) {
        err_set(&e, EXIT_USAGE, "--resume: a run with train.early_stop cannot be resumed (its best epoch is not saved)");
        goto done;
    }
    if (o.resume && resume_load(o.resume, &m, &first, &e))
        goto done;
    if (o.resume && first >= x.spec.epochs) {
        err_set(&e, EXIT_USAGE, "--resume %s: it holds epoch %d of train.epochs %d: nothing left to train (raise "
                "it with --set train.epochs=N)", o.resume, first, x.spec.epochs);
        goto done;
    }
    first += o.resume ? 1 : 0;
    summary.first_epoch = first;
    if (o.resume && !o.out_dir)
        o.out_dir = o.resume;
    ctx.m = &m;
    ctx.checkpoint_every = x.spec.train.checkpoint_every;
    /* --out is locked now: a second writer is refused before it trains */
    if (o.out_dir && (outset_begin(&ctx.out, o.out_dir, outset_all_names, &e) ||
                      outfile_open(&ctx.metrics, &ctx.out, "metrics.jsonl", &e)))
        goto done;
    if (o.out_dir && !(ctx.epochs = calloc((size_t)x.spec.epochs, sizeof *ctx.epochs))) {
        err_set(&e, EXIT_RUNTIME, "out of memory: %d epoch reports", x.spec.epochs);
        goto done;
    }
    bool log_rmse = run_reports_log_rmse(&x.data);
    double train_start = clock_seconds();
    if (train_model(&m, &x.spec, &x.data.train, &x.data.test, log_rmse, on_epoch, &ctx, &summary, &e))
        goto done;
    if (!ctx.resume_err.code && summary.interrupted && ctx.resume.epoch != summary.epochs_run)
        resume_snapshot(&ctx.resume, &m, summary.epochs_run, &ctx.resume_err);
    if (ctx.resume_err.code) {
        e = ctx.resume_err;
        goto done;
    }
    print_early_stop(&x.spec, &summary);
    double train_seconds = clock_seconds() - train_start;
    if (!(params = malloc(m.n_params * sizeof *params))) {
        err_set(&e, EXIT_RUNTIME, "out of memory: %zu parameters", m.n_params);
        goto done;
    }
    x.be->download(x.be, params, m.params, m.n_params * sizeof *params);
    print_report(&x.spec, &m, params);
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
    if (o.out_dir && !outfile_close(&ctx.metrics, &e) && !run_write_outputs(&ctx.out, &x.spec, &x.data.test, &m, params,
                                                                          ctx.epochs + first - 1,
                                                                          ctx.n_epochs - first + 1, &ctx.resume, &e))
        outset_commit(&ctx.out, &e);
    if (!e.code && summary.interrupted) {
        if (o.out_dir) {
            printf("interrupted after epoch %d; the state is in %s/resume.safetensors; continue with: d2ltrain run "
                   "'%s'", summary.epochs_run, o.out_dir, o.spec_path);
            for (int i = 0; i < o.n_sets; i++)
                printf(" --set '%s'", o.sets[i]);
            printf(" --resume '%s'\n", o.out_dir);
        } else
            printf("interrupted after epoch %d; without --out no state was kept\n", summary.epochs_run);
        fflush(stdout);
    }
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
    resume_free(&ctx.resume);
    free(params);
    model_free(&m);
    experiment_close(&x);
    return e.code ? report_error(&e) : summary.interrupted ? 130 : 0;
}
