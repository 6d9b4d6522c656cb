/* d2ltrain run SPEC: train once, print a line per epoch, write outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/checkpoint.h"
#include "../core/clock.h"
#include "../core/comm.h"
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
    "  --data-parallel under mpirun (docs/MPI.md): one model, each batch split over the\n"
    "                  ranks and their gradients summed; rank 0 prints and writes --out\n"
    "  --log-y, --linear-y  force curves.svg's y axis (default: logarithmic for regression\n"
    "                  losses, log-RMSE and values spanning two decades)\n"
    "Exit status: 0 ok, 1 training/runtime failure, 2 usage or spec error, 3 data error.\n";

struct run_ctx {
    const struct experiment *x;
    struct model *m;
    struct outset out;       /* held from the start: each checkpoint commits it and goes on */
    bool has_out;
    enum y_scale y_scale;
    bool printed_nonfinite;  /* an epoch line showed an inf or a NaN: the run fails */
    struct epoch_report *epochs; /* every epoch's, from 1 (a resumed run's earlier ones read back) */
    int n_epochs;                /* of them reported (early stopping ends sooner) */
    struct epoch_report last;    /* for --timing */
    int checkpoint_every;
    const struct best_epoch *best; /* early stopping's, live (train_model keeps it up to date) */
    struct resume_state resume; /* the last checkpoint's state */
    struct err checkpoint_err;  /* the first checkpoint that failed; none are taken after it */
};

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

/* metrics.jsonl of epochs 1..n. */
static int write_metrics(const struct outset *set, const struct epoch_report *epochs, int n, struct err *e)
{
    struct outfile o;
    if (outfile_open(&o, set, "metrics.jsonl", e))
        return e->code;
    for (int i = 0; i < n; i++)
        if (report_epoch_json(o.f, &epochs[i], -1)) {
            outfile_abort(&o);
            return err_set(e, EXIT_RUNTIME, "cannot encode the metrics of epoch %d for %s", i + 1, o.path);
        }
    return outfile_close(&o, e);
}

int run_write_outputs(const struct outset *set, const struct run_files *f, struct err *e)
{
    struct outfile o = {0};
    if (write_metrics(set, f->epochs, f->n_epochs, e))
        return e->code;
    if (!outfile_open(&o, set, "curves.svg", e)) {
        if (curves_write_svg(o.f, f->epochs, f->n_epochs, f->spec->name, f->y_scale))
            err_set(e, EXIT_RUNTIME, "out of memory drawing %s", o.path);
        else
            outfile_close(&o, e);
    }
    if (!e->code && !outfile_open(&o, set, "config.yaml", e)) {
        if (spec_write(f->spec, o.f))
            err_set(e, EXIT_RUNTIME, "cannot write %s", o.path);
        else
            outfile_close(&o, e);
    }
    outfile_abort(&o);
    if (!e->code && !outfile_open(&o, set, "model.safetensors", e) && !checkpoint_write(o.f, f->m, f->params, e))
        outfile_close(&o, e);
    outfile_abort(&o);
    if (!e->code && f->resume && f->resume->params && !outfile_open(&o, set, "resume.safetensors", e) &&
        !resume_write(o.f, f->resume, f->m->n_params, e))
        outfile_close(&o, e);
    outfile_abort(&o);
    const struct dataset *test = f->test;
    if (!e->code && f->predictions && test->n > 0 && !test->y) {
        float *out = predict_test_set(f->m, test, e);
        if (out)
            write_submission(set, test, out, f->m->out_width, e);
        free(out);
    }
    return e->code;
}

/* The output set of this run so far, with the model `params` (host). */
static int write_outputs(const struct outset *set, const struct run_ctx *c, const float *params,
                         bool predictions, struct err *e)
{
    struct run_files f = {.spec = &c->x->spec, .test = &c->x->data.test, .m = c->m, .params = params,
                          .epochs = c->epochs, .n_epochs = c->n_epochs, .y_scale = c->y_scale,
                          .resume = &c->resume, .predictions = predictions};
    return run_write_outputs(set, &f, e);
}

/* The state after this epoch, and with --out the output set so far
 * committed to DIR: a killed run loses only the epochs after it. */
static void take_checkpoint(struct run_ctx *c, int epoch)
{
    struct train_position at = {.epoch = epoch};
    if (!resume_snapshot(&c->resume, c->m, &at, c->best, &c->checkpoint_err) && c->has_out &&
        !write_outputs(&c->out, c, c->resume.params, false, &c->checkpoint_err))
        outset_checkpoint(&c->out, &c->checkpoint_err);
}

static void on_epoch(const struct epoch_report *r, void *arg)
{
    struct run_ctx *c = arg;
    if (report_epoch_line(stdout, r, ""))
        c->printed_nonfinite = true;
    if (c->epochs)
        c->epochs[r->epoch - 1] = *r;
    c->n_epochs = r->epoch;
    c->last = *r;
    if (c->checkpoint_every && r->epoch % c->checkpoint_every == 0 && !c->checkpoint_err.code &&
        !c->printed_nonfinite)
        take_checkpoint(c, r->epoch);
}

/* "interrupted after epoch 5" or "interrupted in epoch 6 after step 7 of 13", and how to go on. */
static void print_interrupted(const struct run_options *o, const struct train_position *at, long steps)
{
    if (at->step)
        printf("interrupted in epoch %d after step %ld of %ld", at->epoch + 1, at->step, steps);
    else
        printf("interrupted after epoch %d", at->epoch);
    if (!o->out_dir) {
        printf("; without --out no state was kept\n");
        return;
    }
    printf("; the state is in %s/resume.safetensors; continue with: %sd2ltrain run '%s'", o->out_dir,
           o->data_parallel ? "mpirun -np N " : "", o->spec_path);
    for (int i = 0; i < o->n_sets; i++)
        printf(" --set '%s'", o->sets[i]);
    printf("%s --resume '%s'\n", o->data_parallel ? " --data-parallel" : "", o->out_dir);
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
    int status = parse_run_options(&o, argc, argv, usage, TAKES_MODEL_OPTIONS | TAKES_Y_SCALE);
    if (status >= 0)
        return status;
    struct err e = {0};
    struct experiment x;
    struct model m = {0};
    struct run_ctx ctx = {.x = &x, .m = &m, .y_scale = o.y_scale};
    float *params = NULL;
    struct train_summary summary = {0};
    if (o.data_parallel && !comm_built_in())
        err_set(&e, EXIT_USAGE, "--data-parallel needs d2ltrain built with MPI: install libopenmpi-dev "
                "(scripts/install-deps.sh) and rebuild (make)");
    else if (comm_size() > 1 && !o.data_parallel && !o.print_model)
        err_set(&e, EXIT_USAGE, "run under an MPI launcher with %d ranks needs --data-parallel (else every rank "
                "would train the same model alone)", comm_size());
    if (e.code)
        return report_error(&e);
    /* Ctrl-C: finish the step (the epoch where a GPU replays it as one
     * graph), keep a resume state, say how to resume */
    train_stop_on_sigint();
    if (experiment_open(&x, &o, &e) || model_build(&m, &x.spec, x.be, (int)x.data.train.d, x.spec.data.batch_size, &e) ||
        apply_model_options(&m, &o, &e))
        goto done;
    if (o.print_model) {
        model_print_tree(stdout, &m);
        model_print_parameters(stdout, &m);
        goto done;
    }
    long steps = train_steps_per_epoch(x.data.train.n, x.spec.data.batch_size);
    bool early_stop = x.spec.train.early_stop.on;
    if (early_stop && !(summary.best.params = malloc(m.n_params * sizeof *summary.best.params))) {
        err_set(&e, EXIT_RUNTIME, "out of memory: %zu parameters for early stopping", m.n_params);
        goto done;
    }
    ctx.best = &summary.best;
    if (o.resume && resume_load(o.resume, &m, steps, &summary.start, early_stop ? &summary.best : NULL, &e))
        goto done;
    if (o.resume && summary.start.epoch >= x.spec.epochs) {
        err_set(&e, EXIT_USAGE, "--resume %s: it holds epoch %d of train.epochs %d: nothing left to train (raise "
                "it with --set train.epochs=N)", o.resume, summary.start.epoch, x.spec.epochs);
        goto done;
    }
    if (o.resume && !o.out_dir)
        o.out_dir = o.resume;
    if (comm_rank() > 0) /* rank 0 writes the outputs */
        o.out_dir = NULL;
    ctx.checkpoint_every = x.spec.train.checkpoint_every;
    if (!o.out_dir)
        notice_checkpoints_unkept(ctx.checkpoint_every, "no checkpoint is kept without --out DIR");
    ctx.n_epochs = summary.start.epoch;
    /* --out is locked now: a second writer is refused before it trains */
    if (o.out_dir && outset_begin(&ctx.out, o.out_dir, outset_all_names, &e))
        goto done;
    ctx.has_out = o.out_dir != NULL;
    if (o.out_dir && !(ctx.epochs = calloc((size_t)x.spec.epochs, sizeof *ctx.epochs))) {
        err_set(&e, EXIT_RUNTIME, "out of memory: %d epoch reports", x.spec.epochs);
        goto done;
    }
    /* the earlier epochs' metrics, so that the outputs hold the whole run */
    if (o.resume && ctx.epochs && resume_read_metrics(o.resume, summary.start.epoch, ctx.epochs, &e))
        goto done;
    bool log_rmse = run_reports_log_rmse(&x.data);
    summary.data_parallel = o.data_parallel;
    double train_start = clock_seconds();
    if ((o.data_parallel && comm_agree(&e)) ||
        train_model(&m, &x.spec, &x.data.train, &x.data.test, log_rmse, on_epoch, &ctx, &summary, &e))
        goto done;
    if (comm_rank() > 0) /* the rest is rank 0's: the same model on every rank */
        goto done;
    const struct train_position *kept = &ctx.resume.at;
    if (!ctx.checkpoint_err.code && summary.interrupted &&
        (!ctx.resume.params || kept->epoch != summary.stop.epoch || kept->step != summary.stop.step))
        resume_snapshot(&ctx.resume, &m, &summary.stop, &summary.best, &ctx.checkpoint_err);
    if (ctx.checkpoint_err.code) {
        e = ctx.checkpoint_err;
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
    if (o.out_dir && !write_outputs(&ctx.out, &ctx, params, true, &e))
        outset_commit(&ctx.out, &e);
    if (!e.code && summary.interrupted) {
        print_interrupted(&o, &summary.stop, steps);
        fflush(stdout);
    }
    if (!e.code && o.timing) {
        experiment_print_timing(&x, "training", train_seconds, o.started);
        fprintf(stderr, "timing: last epoch %.2f ms: training steps %.2f ms, evaluation %.2f ms\n",
                ctx.last.seconds * 1e3, ctx.last.steps_seconds * 1e3,
                (ctx.last.seconds - ctx.last.steps_seconds) * 1e3);
    }
done:
    outset_abort(&ctx.out);
    free(ctx.epochs);
    resume_free(&ctx.resume);
    free(summary.best.params);
    free(params);
    model_free(&m);
    experiment_close(&x);
    return e.code ? report_error(&e) : summary.interrupted ? 130 : 0;
}
