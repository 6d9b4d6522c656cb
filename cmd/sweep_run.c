/* A sweep's points, prepared all before any trains, then trained side by
 * side on the CPU as kfold trains its folds. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/data_open.h"
#include "../core/report.h"
#include "../core/workers.h"
#include "sweep.h"

/* The data of two specs is the same when their data sections (but the
 * batch size and shuffling, which the training reads) and seeds are. */
static bool same_data(const struct spec *a, const struct spec *b)
{
    struct data_spec x = a->data, y = b->data;
    x.batch_size = y.batch_size = 0;
    x.shuffle = y.shuffle = false;
    x.at = y.at = (struct mark){0};
    return a->seed == b->seed && !memcmp(&x, &y, sizeof x);
}

/* "point 3/12 (lr=0.1 std=1): " before what went wrong with it. */
static int point_error(struct err *e, const struct sweep *s, int i, const struct err *cause)
{
    const struct sweep_point *p = &s->points[i];
    return err_set(e, cause->code, "point %d/%d (%s%s%s): %s", i + 1, s->n_points, p->label, p->from ? ", " : "",
                   p->from ? p->from : "", cause->msg);
}

static int load_specs(struct sweep_plan *p, const struct sweep *s, const struct run_options *o, struct err *e)
{
    for (int i = 0; i < s->n_points; i++) {
        struct err pe = {0};
        if (spec_load(&p->specs[i], o->spec_path, s->points[i].sets, s->points[i].n_sets, &pe))
            return point_error(e, s, i, &pe);
        if (o->device)
            snprintf(p->specs[i].device, sizeof p->specs[i].device, "%s", o->device);
        const struct spec *a = &p->specs[0], *b = &p->specs[i];
        if (strcmp(a->device, b->device) || a->tf32 != b->tf32 || a->cpu_bf16 != b->cpu_bf16) {
            pe = (struct err){.code = EXIT_USAGE};
            snprintf(pe.msg, sizeof pe.msg,
                     "device, tf32 and cpu_bf16 must be the same for every point (one backend runs them all)");
            return point_error(e, s, i, &pe);
        }
    }
    return 0;
}

/* Each distinct data once; `first` has room for a point index per data. */
static int load_data(struct sweep_plan *p, const struct sweep *s, const struct run_options *o, int *first,
                     struct err *e)
{
    for (int i = 0; i < s->n_points; i++) {
        int d = 0;
        while (d < p->n_data && !same_data(&p->specs[i], &p->specs[first[d]]))
            d++;
        if (d == p->n_data) {
            if (dataset_open(&p->specs[i].data, p->specs[i].seed, &o->fetch, &p->data[d], e))
                return e->code;
            first[d] = i;
            p->n_data++;
        }
        p->data_of[i] = d;
    }
    return 0;
}

int sweep_prepare(struct sweep_plan *p, const struct sweep *s, const struct run_options *o, struct err *e)
{
    memset(p, 0, sizeof *p);
    size_t n = (size_t)s->n_points;
    p->specs = calloc(n, sizeof *p->specs);
    p->data = calloc(n, sizeof *p->data);
    p->log_rmse = calloc(n, sizeof *p->log_rmse);
    p->data_of = calloc(n, sizeof *p->data_of);
    if (!p->specs || !p->data || !p->log_rmse || !p->data_of)
        return err_set(e, EXIT_RUNTIME, "out of memory: %d points", s->n_points);
    int *first = calloc(n, sizeof *first);
    if (!first)
        return err_set(e, EXIT_RUNTIME, "out of memory: %d points", s->n_points);
    if (!load_specs(p, s, o, e))
        load_data(p, s, o, first, e);
    free(first);
    if (e->code)
        return e->code;
    for (int i = 0; i < s->n_points; i++) {
        const struct dataset *train = &p->data[p->data_of[i]].train;
        struct err pe = {0};
        if (spec_check_fit(&p->specs[i], (int)train->d, train->n_classes, train->y_width, &pe))
            return point_error(e, s, i, &pe);
    }
    for (int d = 0; d < p->n_data; d++)
        p->log_rmse[d] = run_reports_log_rmse(&p->data[d]);
    cpu_threads_set(o->threads);
    p->be = backend_select(p->specs[0].device,
                           (struct gemm_precision){.tf32 = p->specs[0].tf32, .cpu_bf16 = p->specs[0].cpu_bf16}, e);
    return e->code;
}

void sweep_plan_free(struct sweep_plan *p)
{
    if (p->be)
        p->be->destroy(p->be);
    for (int d = 0; d < p->n_data; d++)
        data_split_free(&p->data[d]);
    free(p->specs);
    free(p->data);
    free(p->log_rmse);
    free(p->data_of);
    memset(p, 0, sizeof *p);
}

struct sweep_job {
    const struct sweep_plan *plan;
    const struct sweep *s;
    const struct sweep_output *out;
    struct sweep_result *results;
    int first, stride;
    atomic_int next; /* the next of this process's points: index first + next * stride */
    int gemm_threads;
    sweep_done_fn done;
    void *arg;
    pthread_mutex_t lock; /* serializes done */
};

static void collect_epoch(const struct epoch_report *r, void *arg)
{
    struct sweep_result *res = arg;
    res->epochs[r->epoch - 1] = *r;
    res->n_epochs = r->epoch;
}

int sweep_write_point(const struct sweep_plan *p, const struct sweep *s, const struct sweep_output *out, int i,
                      struct model *m, const float *params, const struct sweep_result *r, struct err *e)
{
    struct outset dir;
    if (outset_subdir(out->set, s->points[i].name, &dir, e))
        return e->code;
    struct run_files f = {.spec = &p->specs[i], .test = &p->data[p->data_of[i]].test, .m = m, .params = params,
                          .epochs = r->epochs, .n_epochs = r->n_epochs, .y_scale = out->y_scale,
                          .predictions = true};
    return run_write_outputs(&dir, &f, e);
}

/* The parameters on the host: written into out's set, or kept in r for
 * rank 0 to write. */
static int finish_point(const struct sweep_job *job, int i, struct model *m, struct sweep_result *r, struct err *e)
{
    float *params = malloc(m->n_params * sizeof *params);
    if (!params)
        return err_set(e, EXIT_RUNTIME, "out of memory: %zu parameters", m->n_params);
    m->be->download(m->be, params, m->params, m->n_params * sizeof *params);
    if (job->out->set) {
        sweep_write_point(job->plan, job->s, job->out, i, m, params, r, e);
        free(params);
    } else {
        r->params = params;
        r->n_params = m->n_params;
    }
    return e->code;
}

static int check_finite(const struct epoch_report *r, struct err *e)
{
    struct report_metric m[REPORT_METRICS];
    int n = report_metrics_of(r, m);
    for (int k = 0; k < n; k++)
        if (!isfinite(m[k].value))
            return err_set(e, EXIT_RUNTIME, "epoch %d: %s is not finite", r->epoch, m[k].name);
    return 0;
}

static void train_point(struct sweep_job *job, int i)
{
    const struct sweep_plan *plan = job->plan;
    const struct spec *spec = &plan->specs[i];
    const struct data_split *data = &plan->data[plan->data_of[i]];
    struct sweep_result *r = &job->results[i];
    struct err e = {0};
    struct model m = {0};
    struct train_summary sum = {0};
    double start = clock_seconds();
    *r = (struct sweep_result){.ran = true};
    if (!(r->epochs = calloc((size_t)spec->epochs, sizeof *r->epochs)))
        err_set(&e, EXIT_RUNTIME, "out of memory: %d epoch reports", spec->epochs);
    else if (!model_build(&m, spec, plan->be, (int)data->train.d, spec->data.batch_size, &e))
        train_model(&m, spec, &data->train, &data->test, plan->log_rmse[plan->data_of[i]], collect_epoch, r, &sum,
                    &e);
    if (!e.code && (sum.interrupted || r->n_epochs == 0))
        r->interrupted = true;
    else if (!e.code) {
        r->final = r->epochs[(sum.restored_epoch ? sum.restored_epoch : r->n_epochs) - 1];
        if (!check_finite(&r->final, &e) && job->out)
            finish_point(job, i, &m, r, &e);
        r->finished = !e.code;
    }
    model_free(&m);
    r->seconds = clock_seconds() - start;
    r->status = e.code;
    snprintf(r->error, sizeof r->error, "%s", e.code ? e.msg : "");
    pthread_mutex_lock(&job->lock);
    if (job->done)
        job->done(i, r, job->arg);
    pthread_mutex_unlock(&job->lock);
}

/* Takes this process's points until none is left or SIGINT came. */
static void *sweep_worker(void *arg)
{
    struct sweep_job *job = arg;
    cpu_threads_set(job->gemm_threads);
    for (int i; !train_stop_requested &&
                (i = job->first + atomic_fetch_add(&job->next, 1) * job->stride) < job->s->n_points;)
        train_point(job, i);
    return NULL;
}

void sweep_run_points(const struct sweep_plan *p, const struct sweep *s, int first, int stride, int threads,
                      const struct sweep_output *out, sweep_done_fn done, void *arg, struct sweep_result *results)
{
    struct sweep_job job = {.plan = p, .s = s, .out = out, .results = results, .first = first, .stride = stride,
                            .done = done, .arg = arg};
    atomic_init(&job.next, 0);
    pthread_mutex_init(&job.lock, NULL);
    int mine = first < s->n_points ? (s->n_points - first + stride - 1) / stride : 0;
    /* As kfold: a backend shared by threads (the CPU's) trains points side
     * by side, threads left over going to each worker's GEMMs; a GPU's
     * trains one after another on this thread. */
    int workers = p->be->shared_by_threads ? (threads < mine ? threads : mine) : 0;
    if (workers > 64)
        workers = 64;
    job.gemm_threads = workers > 0 ? threads / workers : threads;
    workers_run(sweep_worker, &job, workers);
    pthread_mutex_destroy(&job.lock);
}

void sweep_results_free(struct sweep_result *results, int n)
{
    for (int i = 0; results && i < n; i++) {
        free(results[i].epochs);
        free(results[i].params);
        results[i].epochs = NULL;
        results[i].params = NULL;
    }
}
