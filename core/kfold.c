#include "kfold.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm.h"
#include "workers.h"

static size_t x_elem_size(const struct dataset *ds) { return ds->x_type == X_U8 ? 1 : sizeof(float); }

static int alloc_like(struct dataset *out, const struct dataset *all, size_t n, struct err *e)
{
    *out = *all;
    out->n = n;
    out->ids = NULL;
    out->source = NULL;
    out->lines = NULL;
    out->x = malloc(n * all->d * x_elem_size(all) + 1);
    out->y = malloc(n * all->y_width * sizeof(float) + 1);
    if (!out->x || !out->y)
        return err_set(e, EXIT_RUNTIME, "out of memory: a fold of %zu rows", n);
    return 0;
}

static void copy_row(struct dataset *dst, size_t to, const struct dataset *src, size_t from)
{
    size_t xs = src->d * x_elem_size(src);
    memcpy((char *)dst->x + to * xs, (const char *)src->x + from * xs, xs);
    memcpy(dst->y + to * src->y_width, src->y + from * src->y_width, src->y_width * sizeof(float));
}

int kfold_split(const struct dataset *all, int k, int fold, const int32_t *order, struct dataset *train,
                struct dataset *valid, struct err *e)
{
    size_t fold_size = all->n / (size_t)k;
    if (fold_size == 0)
        return err_set(e, EXIT_USAGE, "kfold.k: %d folds need at least %d rows, the data has %zu", k, k, all->n);
    if (alloc_like(train, all, fold_size * (size_t)(k - 1), e) || alloc_like(valid, all, fold_size, e))
        return e->code;
    size_t t = 0, v = 0;
    for (size_t i = 0; i < fold_size * (size_t)k; i++) {
        size_t row = order ? (size_t)order[i] : i;
        if (i / fold_size == (size_t)fold)
            copy_row(valid, v++, all, row);
        else
            copy_row(train, t++, all, row);
    }
    return 0;
}

enum kfold_metric kfold_metric_of(const struct spec *s, const struct dataset *all)
{
    if (s->kfold.metric_set)
        return s->kfold.metric;
    return all->n_classes > 0 ? KFOLD_ACCURACY : train_is_tabular_regression(all) ? KFOLD_LOG_RMSE : KFOLD_LOSS;
}

int kfold_check_metric(const struct spec *s, const struct dataset *all, struct err *e)
{
    enum kfold_metric metric = kfold_metric_of(s, all);
    char what[1600];
    if (metric == KFOLD_ACCURACY && all->n_classes == 0)
        return spec_fit_error(s, s->kfold.metric_at, "kfold.metric",
                              "accuracy needs class labels, but the data has real-valued targets "
                              "(use log_rmse or loss)",
                              e);
    if (metric == KFOLD_LOG_RMSE && all->n_classes > 0) {
        snprintf(what, sizeof what,
                 "log_rmse needs real-valued targets, but the data has %d classes (use accuracy or loss)",
                 all->n_classes);
        return spec_fit_error(s, s->kfold.metric_at, "kfold.metric", what, e);
    }
    size_t row = metric == KFOLD_LOG_RMSE ? dataset_first_nonpositive_label(all) : all->n;
    if (row == all->n)
        return 0;
    char origin[1100];
    dataset_row_origin(all, row, origin, sizeof origin);
    double label = all->y[row * (size_t)all->y_width];
    if (all->source) /* a value in a file */
        return err_set(e, EXIT_DATA,
                       "%s: label %g is not positive, and kfold.metric log_rmse takes the log of every label "
                       "(use kfold.metric: loss)",
                       origin, label);
    snprintf(what, sizeof what,
             "log_rmse takes the log of every label, but the %s data's label at %s is %g (use loss)",
             s->data.dataset, origin, label);
    return spec_fit_error(s, s->kfold.metric_at, "kfold.metric", what, e);
}

struct kfold_job {
    const struct spec *s;
    struct backend *be;
    const struct dataset *all;
    const int32_t *order;
    struct fold_result *results;
    atomic_int next_fold; /* of this rank's folds: rank, rank + size, ... */
    int gemm_threads;     /* each worker's */
    pthread_mutex_t lock; /* guards err and busy */
    pthread_cond_t idle;  /* signalled as a worker ends */
    int busy;             /* workers not ended (read over ranks) */
    struct err *err;
    /* a fold failed (on this rank, or over ranks on any): no fold starts
     * after it, since the command fails whatever the others give */
    atomic_bool failed;
};

static void collect_epoch(const struct epoch_report *r, void *arg)
{
    struct fold_result *res = arg;
    res->epochs[r->epoch - 1] = *r;
    res->n_epochs = r->epoch;
}

/* A fold's error names the fold: "fold 2/5: the loss became NaN ...". */
static void name_fold(struct err *e, int fold, int k)
{
    char msg[sizeof e->msg + 32];
    snprintf(msg, sizeof msg, "fold %d/%d: %s", fold + 1, k, e->msg);
    size_t n = strnlen(msg, sizeof e->msg - 1);
    memcpy(e->msg, msg, n);
    e->msg[n] = '\0';
}

static int train_fold(struct kfold_job *job, int fold, struct err *e)
{
    const struct spec *s = job->s;
    struct dataset train = {0}, valid = {0};
    struct model m = {0};
    struct fold_result *res = &job->results[fold];
    enum kfold_metric metric = kfold_metric_of(s, job->all);
    struct train_summary sum = {0};
    if (!kfold_split(job->all, s->kfold.k, fold, job->order, &train, &valid, e) &&
        !model_build(&m, s, job->be, (int)train.d, s->data.batch_size, e) &&
        train_model(&m, s, &train, &valid, metric == KFOLD_LOG_RMSE, collect_epoch, res, &sum, e))
        name_fold(e, fold, s->kfold.k);
    if (e->code)
        atomic_store(&job->failed, true);
    else
        res->state = sum.interrupted || res->n_epochs == 0 ? FOLD_INTERRUPTED : FOLD_FINISHED;
    if (res->state == FOLD_FINISHED) {
        /* the epoch whose parameters the fold ends with */
        const struct epoch_report *last = &res->epochs[(sum.restored_epoch ? sum.restored_epoch : res->n_epochs) - 1];
        res->train_metric = metric == KFOLD_LOG_RMSE ? last->train_log_rmse
                            : metric == KFOLD_ACCURACY ? last->train_acc
                                                       : last->loss;
        res->valid_metric = metric == KFOLD_LOG_RMSE ? last->test_log_rmse
                            : metric == KFOLD_ACCURACY ? last->test_acc
                                                       : last->test_loss;
        for (int i = 0; i < res->n_epochs; i++)
            res->seconds += res->epochs[i].seconds;
    }
    model_free(&m);
    dataset_free(&train);
    dataset_free(&valid);
    return e->code;
}

/* The next of this rank's folds, or -1 when none is left, a stop was
 * requested (SIGINT) or a fold failed. */
static int next_fold(struct kfold_job *job)
{
    if (train_stop_requested || atomic_load(&job->failed))
        return -1;
    int fold = comm_rank() + comm_size() * atomic_fetch_add(&job->next_fold, 1);
    return fold < job->s->kfold.k ? fold : -1;
}

/* The first error of any thread is the job's. */
static void keep_error(struct kfold_job *job, const struct err *e)
{
    pthread_mutex_lock(&job->lock);
    if (e->code && !job->err->code)
        *job->err = *e;
    pthread_mutex_unlock(&job->lock);
}

/* Takes folds until none is left, one fails or a stop was requested. */
static void *kfold_worker(void *arg)
{
    struct kfold_job *job = arg;
    struct err e = {0};
    cpu_threads_set(job->gemm_threads);
    for (int fold; !e.code && (fold = next_fold(job)) >= 0;)
        train_fold(job, fold, &e);
    keep_error(job, &e);
    pthread_mutex_lock(&job->lock);
    job->busy--;
    pthread_cond_signal(&job->idle);
    pthread_mutex_unlock(&job->lock);
    return NULL;
}

/* One round of the ranks' agreement while they train: a stop requested on
 * any rank is requested on all (their folds stop as this rank's do), and
 * a fold failed on any rank starts no fold on any; false once no rank is
 * training. */
static bool ranks_go_on(struct kfold_job *job, bool training)
{
    if (comm_any(train_stop_requested))
        train_stop_requested = 1;
    if (comm_any(atomic_load(&job->failed)))
        atomic_store(&job->failed, true);
    return comm_any(training);
}

/* Waits up to a tenth of a second for this rank's workers to end; true
 * while some are training. */
static bool workers_training(struct kfold_job *job)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&job->lock);
    while (job->busy > 0 && pthread_cond_timedwait(&job->idle, &job->lock, &until) != ETIMEDOUT)
        ;
    bool training = job->busy > 0;
    pthread_mutex_unlock(&job->lock);
    return training;
}

/* This rank's folds in an MPI job. Collectives are the main thread's, so
 * it holds the rounds of the ranks' agreement while the folds train: every
 * tenth of a second beside worker threads, else (a GPU's folds, trained on
 * this thread) after each fold. Every rank takes part until none trains. */
static void train_over_ranks(struct kfold_job *job, int workers)
{
    struct workers w;
    job->busy = workers; /* before they start: one may end at once */
    int started = workers_start(&w, kfold_worker, job, workers);
    pthread_mutex_lock(&job->lock);
    job->busy -= workers - started;
    pthread_mutex_unlock(&job->lock);
    if (started > 0) {
        while (ranks_go_on(job, workers_training(job)))
            ;
        workers_join(&w);
        return;
    }
    struct err e = {0};
    cpu_threads_set(job->gemm_threads);
    bool training;
    do {
        int fold = e.code ? -1 : next_fold(job);
        if ((training = fold >= 0))
            train_fold(job, fold, &e);
    } while (ranks_go_on(job, training));
    keep_error(job, &e);
}

/* A fold's metrics and its epochs, as rank 0 receives them. */
static size_t fold_record_bytes(const struct spec *s)
{
    return sizeof(struct fold_result) + (size_t)s->epochs * sizeof(struct epoch_report);
}

static void fold_pack(char *rec, const struct fold_result *r, int epochs)
{
    memcpy(rec, r, sizeof *r);
    memcpy(rec + sizeof *r, r->epochs, (size_t)epochs * sizeof *r->epochs);
}

static void fold_unpack(struct fold_result *r, const char *rec, int epochs)
{
    struct epoch_report *keep = r->epochs; /* the pointer sent is the sender's */
    memcpy(r, rec, sizeof *r);
    r->epochs = keep;
    memcpy(r->epochs, rec + sizeof *r, (size_t)epochs * sizeof *r->epochs);
}

/* Every rank's folds to rank 0: rank r sends its folds r, r + size, ... as
 * per_rank fixed-size records (the last ones unused when size does not
 * divide k). Agreed first, so that no rank waits in the gather for one
 * that failed. */
static int gather_folds(const struct spec *s, struct fold_result *results, struct err *e)
{
    int size = comm_size(), rank = comm_rank(), k = s->kfold.k;
    int per_rank = (k + size - 1) / size;
    size_t rec = fold_record_bytes(s);
    char *mine = calloc((size_t)per_rank, rec);
    char *all = rank == 0 ? calloc((size_t)size * (size_t)per_rank, rec) : NULL;
    if (!e->code && (!mine || (rank == 0 && !all)))
        err_set(e, EXIT_RUNTIME, "out of memory: %d folds' metrics", k);
    if (!comm_agree(e)) {
        for (int j = 0; j < per_rank && rank + j * size < k; j++)
            fold_pack(mine + (size_t)j * rec, &results[rank + j * size], s->epochs);
        comm_gather(mine, (size_t)per_rank * rec, all);
        for (int f = 0; rank == 0 && f < k; f++)
            fold_unpack(&results[f], all + ((size_t)(f % size) * (size_t)per_rank + (size_t)(f / size)) * rec,
                        s->epochs);
    }
    free(mine);
    free(all);
    return e->code;
}

/* This rank's folds, side by side where the backend allows it; none when
 * e holds an error (over ranks, it still takes part in the agreement). */
static void train_folds(const struct spec *s, struct backend *be, const struct dataset *all, const int32_t *order,
                        int threads, struct fold_result *results, struct err *e)
{
    int k = s->kfold.k;
    struct kfold_job job = {.s = s, .be = be, .all = all, .order = order, .results = results, .err = e};
    atomic_init(&job.next_fold, e->code ? k : 0);
    atomic_init(&job.failed, false);
    pthread_mutex_init(&job.lock, NULL);
    pthread_cond_init(&job.idle, NULL);
    /* A backend shared by threads (the CPU's) runs folds side by side: a
     * fold's GEMMs are small (Kaggle's 1168 x 330 . 330 x 64), so whole
     * folds in parallel beat one fold's GEMM split over the threads; threads
     * left over when k < threads go to each worker's GEMMs. Another (a
     * GPU's) runs its folds one after another on this thread. */
    int mine = e->code ? 0 : (k - comm_rank() + comm_size() - 1) / comm_size(); /* this rank's folds */
    int workers = be->shared_by_threads ? (threads < mine ? threads : mine) : 0;
    if (workers > 64)
        workers = 64;
    job.gemm_threads = workers > 0 ? threads / workers : threads;
    if (comm_size() > 1)
        train_over_ranks(&job, workers);
    else
        workers_run(kfold_worker, &job, workers);
    pthread_cond_destroy(&job.idle);
    pthread_mutex_destroy(&job.lock);
}

int kfold_run(const struct spec *s, struct backend *be, const struct dataset *all, int threads,
              struct fold_result *results, struct err *e)
{
    int k = s->kfold.k;
    int32_t *order = NULL;
    if (kfold_check_metric(s, all, e)) /* the same on every rank */
        return e->code;
    for (int i = 0; i < k; i++)
        results[i] = (struct fold_result){0};
    /* from here every rank reaches the agreements, also one that cannot
     * train */
    if (s->kfold.shuffle) {
        if ((order = malloc(all->n * sizeof *order)))
            shuffle_indices(order, all->n, s->seed ^ 0x6b666f6c64ull /* "kfold" */, 0);
        else
            err_set(e, EXIT_RUNTIME, "out of memory: %zu row indices", all->n);
    }
    for (int i = 0; i < k && !e->code; i++)
        if (!(results[i].epochs = calloc((size_t)s->epochs, sizeof *results[i].epochs)))
            err_set(e, EXIT_RUNTIME, "out of memory: fold metrics");
    train_folds(s, be, all, order, threads, results, e);
    free(order);
    if (comm_size() > 1)
        gather_folds(s, results, e);
    return e->code;
}

void kfold_results_free(struct fold_result *results, int k)
{
    for (int i = 0; i < k; i++) {
        free(results[i].epochs);
        results[i].epochs = NULL;
    }
}
