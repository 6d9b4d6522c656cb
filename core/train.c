#include "train.h"

#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "comm.h"
#include "objective.h"
#include "schedule.h"

/* A dataset on the device. */
struct device_set {
    const struct dataset *host;
    void *x;
    float *y;
};

/* Everything one epoch's ops touch; all pointers are device memory. */
struct trainer {
    struct model *m;
    const struct spec *s;
    struct backend *be;
    struct device_set train, test;
    int32_t *order; /* this epoch's row order */
    int32_t *iota;  /* 0..n-1, for evaluation */
    float *xb, *yb; /* the gathered batch */
    double *acc;    /* ACC_SLOTS */
    uint64_t *step;
    float *lr;        /* this epoch's learning rate */
    double *grad_sq;  /* the squared gradient norm, for clipping */
    bool log_rmse;
    bool data_parallel; /* each batch split over the ranks, the gradients summed... */
    bool device_sum;    /* ...by the backend's allreduce (NCCL), else over MPI */
    float *grads_host;  /* a device backend's gradients, staged in host memory for the sum */
    int graph_keys; /* first of this trainer's three graph keys */
    /* the epoch body runs the steps from first_row and says where it ended:
     * n, or the row of the step a stop request (between steps) kept it from */
    size_t first_row, end_row;
    bool stepwise;   /* stop requests are honoured between steps */
    long sigint_at;  /* test hook D2L_TEST_SIGINT_AT_STEP: raise SIGINT after this step; 0 never */
    /* set for the evaluation body */
    const struct device_set *eval_set;
};

volatile sig_atomic_t train_stop_requested;

/* The steps of every trainer the test hook is on, counted over the process,
 * so that it stops kfold's third fold as well as a run. */
static atomic_long hooked_steps;

static void on_sigint(int sig)
{
    (void)sig;
    train_stop_requested = 1;
}

void train_stop_on_sigint(void)
{
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

void shuffle_indices(int32_t *idx, size_t n, uint64_t seed, uint64_t epoch)
{
    uint64_t key = philox_key(seed, RNG_SHUFFLE);
    for (size_t i = 0; i < n; i++)
        idx[i] = (int32_t)i;
    for (size_t i = n; i > 1; i--) {
        struct philox4 r = philox4x32(epoch, i, key);
        uint64_t wide = ((uint64_t)r.v[0] << 32) | r.v[1];
        size_t j = (size_t)(((unsigned __int128)wide * i) >> 64); /* uniform in [0, i) */
        int32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* dst[i] = i for i < n, on the device. */
static int upload_identity(struct backend *be, int32_t *dst, size_t n, struct err *e)
{
    int32_t *host = malloc((n ? n : 1) * sizeof *host);
    if (!host)
        return err_set(e, EXIT_RUNTIME, "out of memory: %zu row indices", n);
    for (size_t i = 0; i < n; i++)
        host[i] = (int32_t)i;
    be->upload(be, dst, host, n * sizeof *host);
    free(host);
    return 0;
}

static int upload_set(struct backend *be, struct device_set *d, const struct dataset *ds, struct err *e)
{
    d->host = ds;
    size_t xbytes = ds->n * ds->d * (ds->x_type == X_U8 ? 1 : sizeof(float));
    if (!(d->x = be->alloc(be, xbytes, e)))
        return e->code;
    be->upload(be, d->x, ds->x, xbytes);
    if (ds->y) {
        size_t ybytes = ds->n * ds->y_width * sizeof(float);
        if (!(d->y = be->alloc(be, ybytes, e)))
            return e->code;
        be->upload(be, d->y, ds->y, ybytes);
    }
    return 0;
}

/* The inputs of rows idx[0..rows) into xb, as float. */
static void gather_x(struct backend *be, float *xb, const struct device_set *d, const int32_t *idx, int rows)
{
    const struct dataset *h = d->host;
    if (h->x_type == X_U8)
        be->gather_u8(be, xb, d->x, idx, rows, (int)h->d, h->x_scale);
    else
        be->gather_f32(be, xb, d->x, idx, rows, (int)h->d);
}

static void gather_batch(struct trainer *t, const struct device_set *d, const int32_t *idx, int rows)
{
    gather_x(t->be, t->xb, d, idx, rows);
    if (d->y)
        t->be->gather_f32(t->be, t->yb, d->y, idx, rows, d->host->y_width);
}

static int batch_rows(const struct trainer *t, size_t start, size_t n)
{
    size_t b = (size_t)t->s->data.batch_size;
    return (int)(n - start < b ? n - start : b);
}

/* Sums the ranks' gradients: on the device where it has its own link, in
 * place where the backend's memory is the host's, else through a host
 * copy. */
static void reduce_grads(struct trainer *t)
{
    struct model *m = t->m;
    if (t->device_sum) {
        t->be->allreduce(t->be, m->grads, m->n_params);
        return;
    }
    if (t->be->host_memory) {
        comm_allreduce_f32(m->grads, m->n_params);
        return;
    }
    t->be->download(t->be, t->grads_host, m->grads, m->n_params * sizeof *t->grads_host);
    comm_allreduce_f32(t->grads_host, m->n_params);
    t->be->upload(t->be, m->grads, t->grads_host, m->n_params * sizeof *t->grads_host);
}

/* One optimizer step on the batch at `start`. Data parallel, this rank
 * takes the contiguous rows [rows * rank / size, rows * (rank + 1) / size)
 * of it (none when the ranks outnumber the rows), its gradient a part of
 * the batch's mean, and the ranks' parts are summed before the update. */
static void train_step(struct trainer *t, size_t start)
{
    struct model *m = t->m;
    int rows = batch_rows(t, start, t->train.host->n), lo = 0, hi = rows;
    if (t->data_parallel) {
        lo = (int)((long long)rows * comm_rank() / comm_size());
        hi = (int)((long long)rows * (comm_rank() + 1) / comm_size());
    }
    if (hi > lo) {
        m->batch_row0 = lo;
        gather_batch(t, &t->train, t->order + start + (size_t)lo, hi - lo);
        const float *out = model_forward(m, t->xb, hi - lo, true, t->step);
        loss_apply(m, &t->s->loss, t->acc, out, t->yb, hi - lo, rows, true);
        model_backward(m, t->xb, hi - lo);
        m->batch_row0 = 0;
    } else
        t->be->fill(t->be, m->grads, 0, m->n_params);
    penalty_apply(m, &t->s->penalty, t->acc, hi - lo, t->data_parallel && comm_rank() > 0 ? 0.0f : 1.0f);
    if (t->data_parallel)
        reduce_grads(t);
    if (t->s->train.clip_grad_norm > 0)
        clip_grads(m, t->s->train.clip_grad_norm, t->grad_sq);
    optim_step(m, &t->s->optim, t->lr, t->step);
    t->be->step_advance(t->be, t->step);
}

/* The epoch's steps from first_row on; a resumed epoch (first_row > 0)
 * goes on from the sums already in acc. */
static void train_epoch_body(void *arg)
{
    struct trainer *t = arg;
    if (t->first_row == 0)
        t->be->fill_f64(t->be, t->acc, 0, ACC_SLOTS);
    size_t start = t->first_row;
    for (; start < t->train.host->n && !(t->stepwise && train_stop_requested);
         start += (size_t)t->s->data.batch_size) {
        train_step(t, start);
        if (t->sigint_at && atomic_fetch_add(&hooked_steps, 1) + 1 == t->sigint_at)
            raise(SIGINT);
    }
    t->end_row = start;
}

static void eval_body(void *arg)
{
    struct trainer *t = arg;
    const struct device_set *d = t->eval_set;
    t->be->fill_f64(t->be, t->acc, 0, ACC_SLOTS);
    for (size_t start = 0; start < d->host->n; start += (size_t)t->s->data.batch_size) {
        int rows = batch_rows(t, start, d->host->n);
        gather_batch(t, d, t->iota + start, rows);
        const float *out = model_forward(t->m, t->xb, rows, false, t->step);
        loss_apply(t->m, &t->s->loss, t->acc, out, t->yb, rows, rows, false);
        if (t->log_rmse)
            t->be->log_sq_error(t->be, t->acc, out, t->yb, rows * t->m->out_width);
    }
}

static void read_acc(struct trainer *t, double acc[ACC_SLOTS])
{
    t->be->download(t->be, acc, t->acc, ACC_SLOTS * sizeof(double));
}

/* The training steps' metrics: data parallel, every rank's summed. */
static void read_train_acc(struct trainer *t, double acc[ACC_SLOTS])
{
    read_acc(t, acc);
    if (t->data_parallel)
        comm_allreduce_f64(acc, ACC_SLOTS);
}

/* Data parallel, the steps hold an MPI call, which no recorded graph can
 * replay: they run as they are issued. */
static void run_epoch_steps(struct trainer *t)
{
    if (t->data_parallel)
        train_epoch_body(t);
    else
        t->be->graph_run(t->be, t->graph_keys, train_epoch_body, t);
}

/* Loss, accuracy and log-RMSE of a whole set in eval mode. */
static void evaluate(struct trainer *t, const struct device_set *d, int key, double *loss, double *accuracy,
                     double *log_rmse)
{
    double acc[ACC_SLOTS];
    t->eval_set = d;
    t->be->graph_run(t->be, key, eval_body, t);
    read_acc(t, acc);
    *loss = acc[ACC_LOSS] / acc[ACC_COUNT];
    *accuracy = acc[ACC_CORRECT] / acc[ACC_COUNT];
    *log_rmse = sqrt(acc[ACC_SQERR] / ((double)d->host->n * t->m->out_width));
}

/* Keys must never be reused: a device backend replays what it recorded. */
static int next_graph_keys(void)
{
    static atomic_int next = 1;
    return atomic_fetch_add(&next, 3);
}

static void trainer_free(struct trainer *t)
{
    struct backend *be = t->be;
    void *bufs[] = {t->train.x, t->train.y, t->test.x, t->test.y, t->order, t->iota,
                    t->xb,      t->yb,      t->acc,     t->step,    t->lr,    t->grad_sq};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            be->release(be, bufs[i]);
    free(t->grads_host);
}

/* Data parallel: every rank starts from rank 0's parameters (the same seed
 * draws the same ones; --init-from and --resume read the same file: this
 * makes sure), and the gradient sum is readied. */
static int data_parallel_start(struct trainer *t, struct err *e)
{
    struct model *m = t->m;
    size_t bytes = m->n_params * sizeof(float);
    if (!(t->grads_host = malloc(bytes ? bytes : 1)))
        return err_set(e, EXIT_RUNTIME, "out of memory: %zu gradients to sum over the ranks", m->n_params);
    t->be->download(t->be, t->grads_host, m->params, bytes);
    comm_bcast(t->grads_host, bytes, 0);
    t->be->upload(t->be, m->params, t->grads_host, bytes);
    /* every rank asks its backend, or none does (a rank on the CPU beside GPUs) */
    if (!comm_any(!t->be->allreduce_start))
        t->device_sum = t->be->allreduce_start(t->be);
    return 0;
}

static int trainer_init(struct trainer *t, struct model *m, const struct spec *s, const struct dataset *train,
                        const struct dataset *test, bool log_rmse, bool data_parallel, struct err *e)
{
    struct backend *be = m->be;
    const char *hook = getenv("D2L_TEST_SIGINT_AT_STEP");
    /* data parallel, a stop request waits for the epoch's end, where the
     * ranks agree on it: one rank alone cannot leave the steps' sums */
    *t = (struct trainer){.m = m, .s = s, .be = be, .log_rmse = log_rmse, .data_parallel = data_parallel,
                          .graph_keys = next_graph_keys(), .stepwise = !be->replays_graphs && !data_parallel,
                          .sigint_at = hook ? atol(hook) : 0};
    size_t n_max = train->n;
    if (test && test->n > n_max)
        n_max = test->n;
    size_t b = (size_t)s->data.batch_size;
    if (upload_set(be, &t->train, train, e) || (test && test->y && upload_set(be, &t->test, test, e)) ||
        !(t->order = be->alloc(be, train->n * sizeof(int32_t), e)) ||
        !(t->iota = be->alloc(be, n_max * sizeof(int32_t), e)) ||
        !(t->xb = be->alloc(be, b * train->d * sizeof(float), e)) ||
        !(t->yb = be->alloc(be, b * train->y_width * sizeof(float), e)) ||
        !(t->acc = be->alloc(be, ACC_SLOTS * sizeof(double), e)) || !(t->step = be->alloc(be, sizeof(uint64_t), e)) ||
        !(t->lr = be->alloc(be, sizeof(float), e)) || !(t->grad_sq = be->alloc(be, sizeof(double), e)))
        return e->code;
    /* without shuffling every epoch reads the rows in order */
    if (upload_identity(be, t->iota, n_max, e) || (!s->data.shuffle && upload_identity(be, t->order, train->n, e)))
        return e->code;
    uint64_t zero = 0;
    be->upload(be, t->step, &zero, sizeof zero);
    return data_parallel ? data_parallel_start(t, e) : 0;
}

/* This epoch's learning rate and, when the spec shuffles, row order. */
static int begin_epoch(struct trainer *t, int epoch, struct err *e)
{
    size_t n = t->train.host->n;
    float lr = (float)lr_at_epoch(&t->s->train.lr_schedule, t->s->optim.lr, epoch, t->s->epochs);
    t->be->upload(t->be, t->lr, &lr, sizeof lr);
    if (!t->s->data.shuffle)
        return 0;
    int32_t *order = malloc(n * sizeof *order);
    if (!order)
        return err_set(e, EXIT_RUNTIME, "out of memory: %zu row indices", n);
    shuffle_indices(order, n, t->s->seed, (uint64_t)epoch);
    t->be->upload(t->be, t->order, order, n * sizeof *order);
    free(order);
    return 0;
}

/* After a non-finite epoch: train again from the same start, one step at a
 * time, to name the first step whose loss is not finite. Deterministic, so
 * it meets the same step; paid only on failure. */
static int name_bad_step(struct trainer *t, int bad_epoch, struct err *e)
{
    struct model fresh;
    struct model *orig = t->m;
    if (model_build(&fresh, t->s, t->be, orig->in_width, orig->max_batch, e))
        return e->code;
    t->m = &fresh;
    uint64_t zero = 0;
    t->be->upload(t->be, t->step, &zero, sizeof zero);
    size_t n = t->train.host->n, b = (size_t)t->s->data.batch_size;
    int found_epoch = bad_epoch;
    long found_step = -1;
    for (int epoch = 1; epoch <= bad_epoch && found_step < 0 && !e->code; epoch++) {
        begin_epoch(t, epoch, e);
        for (size_t start = 0; start < n && !e->code; start += b) {
            double acc[ACC_SLOTS];
            t->be->fill_f64(t->be, t->acc, 0, ACC_SLOTS);
            train_step(t, start);
            read_train_acc(t, acc);
            if (!isfinite(acc[ACC_LOSS])) {
                found_epoch = epoch;
                found_step = (long)(start / b) + 1;
                break;
            }
        }
    }
    model_free(&fresh);
    t->m = orig;
    if (e->code)
        return e->code;
    char lr_key[64];
    snprintf(lr_key, sizeof lr_key, "optimizer.%s.lr", optim_kind_name(t->s->optim.kind));
    if (found_step < 0)
        return err_set(e, EXIT_RUNTIME,
                       "the loss became NaN or infinite in epoch %d (the parameters diverged); try a smaller "
                       "learning rate, e.g. --set %s=%g",
                       bad_epoch, lr_key, t->s->optim.lr / 10);
    if (found_epoch == 1 && found_step == 1) /* before any update: not the learning rate */
        return err_set(e, EXIT_RUNTIME,
                       "the loss is NaN or infinite at the very first step, before any update: the initial "
                       "outputs overflow (a large init?)%s",
                       t->s->loss.kind == LOSS_NLL ? ", or a softmax probability underflowed to 0 and nll "
                                                     "took log(0): loss: cross_entropy fuses the two stably"
                                                   : "");
    return err_set(e, EXIT_RUNTIME,
                   "the loss became NaN or infinite at epoch %d, step %ld of %ld; the model diverged: try a "
                   "smaller learning rate, e.g. --set %s=%g",
                   found_epoch, found_step, train_steps_per_epoch(n, t->s->data.batch_size), lr_key,
                   t->s->optim.lr / 10);
}

long train_steps_per_epoch(size_t rows, int batch_size)
{
    return (long)((rows + (size_t)batch_size - 1) / (size_t)batch_size);
}

bool train_is_tabular_regression(const struct dataset *train)
{
    return train->n_classes == 0 && train->ids;
}

/* The first metric of r that applies but is not finite, or NULL. */
static const char *nonfinite_metric(const struct epoch_report *r, bool classify, bool has_test, bool log_rmse)
{
    const struct {
        const char *name;
        double value;
        bool applies;
    } metrics[] = {{"loss", r->loss, true},
                   {"train_acc", r->train_acc, classify},
                   {"test_loss", r->test_loss, has_test},
                   {"test_acc", r->test_acc, has_test && classify},
                   {"train_log_rmse", r->train_log_rmse, log_rmse},
                   {"valid_log_rmse", r->test_log_rmse, log_rmse && has_test}};
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (metrics[i].applies && !isfinite(metrics[i].value))
            return metrics[i].name;
    return NULL;
}

/* The metric early stopping watches, lower is better (accuracy negated). */
static double stop_value(enum early_stop_metric k, const struct epoch_report *r)
{
    switch (k) {
    case STOP_TEST_LOSS:
        return r->test_loss;
    case STOP_TEST_ACC:
        return -r->test_acc;
    case STOP_TRAIN_LOSS:
    case STOP_METRIC_COUNT:
        break;
    }
    return r->loss;
}

/* Keeps the parameters of an improving epoch; true when the metric has not
 * improved for `patience` epochs. */
static bool should_stop(struct trainer *t, struct best_epoch *b, const struct epoch_report *r)
{
    const struct early_stop_spec *es = &t->s->train.early_stop;
    double v = stop_value(es->metric, r);
    if (b->epoch == 0 || v < b->value) {
        b->epoch = r->epoch;
        b->value = v;
        t->be->download(t->be, b->params, t->m->params, t->m->n_params * sizeof *b->params);
        return false;
    }
    return r->epoch - b->epoch >= es->patience;
}

int train_model(struct model *m, const struct spec *s, const struct dataset *train, const struct dataset *test,
                bool log_rmse, epoch_fn on_epoch, void *arg, struct train_summary *sum, struct err *e)
{
    struct trainer t;
    bool classify = train->n_classes > 0;
    bool has_test = test && test->n > 0 && test->y;
    const struct early_stop_spec *es = &s->train.early_stop;
    struct train_summary none = {0};
    if (!sum)
        sum = &none;
    /* the summary is live: the epoch callback may read the best epoch so far */
    *sum = (struct train_summary){.start = sum->start, .best = sum->best, .data_parallel = sum->data_parallel};
    struct best_epoch *best = &sum->best;
    float *own = NULL; /* the best parameters, when the caller gives no memory for them */
    if (es->on && es->metric != STOP_TRAIN_LOSS && !has_test)
        err_set(e, EXIT_USAGE, "%s:%d:%d: train.early_stop: metric %s needs a labelled test set; this data has none "
                "(use train_loss)", s->path, es->at.line, es->at.col, early_stop_metric_name(es->metric));
    else if (es->on && es->metric == STOP_TEST_ACC && !classify)
        err_set(e, EXIT_USAGE, "%s:%d:%d: train.early_stop: metric test_acc needs a classification dataset "
                "(use test_loss)", s->path, es->at.line, es->at.col);
    else if (es->on && !best->params && !(best->params = own = malloc(m->n_params * sizeof *best->params)))
        err_set(e, EXIT_RUNTIME, "out of memory: %zu parameters for early stopping", m->n_params);
    if (!e->code && trainer_init(&t, m, s, train, has_test ? test : NULL, log_rmse, sum->data_parallel, e))
        trainer_free(&t);
    if (e->code) {
        free(own);
        if (own)
            best->params = NULL;
        return e->code;
    }
    /* a resumed run's step counter: one step per batch of every step before */
    const struct train_position *at = &sum->start;
    long steps = train_steps_per_epoch(train->n, s->data.batch_size);
    uint64_t step = (uint64_t)at->epoch * (uint64_t)steps + (uint64_t)at->step;
    t.be->upload(t.be, t.step, &step, sizeof step);
    sum->epochs_run = at->epoch;
    for (int epoch = at->epoch + 1; epoch <= s->epochs && !e->code; epoch++) {
        double t0 = clock_seconds(), acc[ACC_SLOTS], unused;
        if (begin_epoch(&t, epoch, e))
            break;
        if (epoch == at->epoch + 1 && at->step > 0) { /* the rest of an epoch: not the epoch's graph */
            t.first_row = (size_t)at->step * (size_t)s->data.batch_size;
            /* the sums so far, once: data parallel, rank 0's */
            static const double zero_acc[ACC_SLOTS];
            t.be->upload(t.be, t.acc, t.data_parallel && comm_rank() > 0 ? zero_acc : at->acc, sizeof at->acc);
            train_epoch_body(&t);
            t.first_row = 0;
        } else
            run_epoch_steps(&t);
        read_train_acc(&t, acc);
        if (t.end_row < train->n) { /* stopped between two steps */
            sum->interrupted = true;
            sum->stop = (struct train_position){.epoch = epoch - 1,
                                                   .step = (long)(t.end_row / (size_t)s->data.batch_size)};
            memcpy(sum->stop.acc, acc, sizeof acc);
            break;
        }
        struct epoch_report r = {.epoch = epoch, .epochs = s->epochs, .train_acc = NAN, .test_acc = NAN,
                                 .test_loss = NAN, .train_log_rmse = NAN, .test_log_rmse = NAN,
                                 .steps_seconds = clock_seconds() - t0};
        r.loss = acc[ACC_LOSS] / acc[ACC_COUNT];
        r.penalty = acc[ACC_PENALTY] / acc[ACC_COUNT];
        if (!isfinite(r.loss)) {
            name_bad_step(&t, epoch, e);
            break;
        }
        if (classify)
            r.train_acc = acc[ACC_CORRECT] / acc[ACC_COUNT];
        else
            evaluate(&t, &t.train, t.graph_keys + 1, &r.loss, &unused, &r.train_log_rmse);
        if (has_test)
            evaluate(&t, &t.test, t.graph_keys + 2, &r.test_loss, &r.test_acc, &r.test_log_rmse);
        if (!classify)
            r.test_acc = NAN;
        if (!log_rmse)
            r.train_log_rmse = r.test_log_rmse = NAN;
        const char *bad = nonfinite_metric(&r, classify, has_test, log_rmse);
        if (bad) {
            err_set(e, EXIT_RUNTIME,
                    "epoch %d: %s is not finite: the model's outputs overflowed (try a smaller learning rate)",
                    epoch, bad);
            break;
        }
        r.seconds = clock_seconds() - t0;
        bool stop = es->on && should_stop(&t, best, &r); /* before the callback, which may keep the best */
        if (on_epoch)
            on_epoch(&r, arg);
        sum->epochs_run = epoch;
        if (stop) {
            sum->stopped_early = true;
            break;
        }
        /* data parallel, the ranks stop together, when any of them was told to */
        bool stop_requested = t.data_parallel ? comm_any(train_stop_requested) : train_stop_requested;
        if (stop_requested && epoch < s->epochs) {
            sum->interrupted = true;
            sum->stop = (struct train_position){.epoch = epoch};
            break;
        }
    }
    /* an interrupted run keeps where it is: its resume goes on from there */
    if (!e->code && es->on && !sum->interrupted && best->epoch != sum->epochs_run) {
        t.be->upload(t.be, m->params, best->params, m->n_params * sizeof *best->params);
        sum->restored_epoch = best->epoch;
        sum->best_value = es->metric == STOP_TEST_ACC ? -best->value : best->value;
    }
    trainer_free(&t);
    free(own);
    if (own)
        best->params = NULL;
    return e->code;
}

int model_predict(struct model *m, const struct dataset *ds, float *out, struct err *e)
{
    struct backend *be = m->be;
    struct device_set d = {0};
    int32_t *iota = NULL;
    float *xb = NULL;
    size_t b = (size_t)m->max_batch;
    if (upload_set(be, &d, ds, e) || !(iota = be->alloc(be, ds->n * sizeof *iota, e)) ||
        !(xb = be->alloc(be, b * ds->d * sizeof *xb, e)))
        goto done;
    if (upload_identity(be, iota, ds->n, e))
        goto done;
    uint64_t *no_step = NULL; /* eval mode draws no dropout masks */
    for (size_t start = 0; start < ds->n; start += b) {
        int rows = (int)(ds->n - start < b ? ds->n - start : b);
        gather_x(be, xb, &d, iota + start, rows);
        const float *y = model_forward(m, xb, rows, false, no_step);
        be->download(be, out + start * m->out_width, y, (size_t)rows * m->out_width * sizeof *out);
    }
done:
    if (d.x)
        be->release(be, d.x);
    if (d.y)
        be->release(be, d.y);
    if (iota)
        be->release(be, iota);
    if (xb)
        be->release(be, xb);
    return e->code;
}
