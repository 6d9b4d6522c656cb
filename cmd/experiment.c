#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/comm.h"
#include "../core/data_open.h"
#include "cmd.h"

/* The data, loaded beside the device's start-up. */
struct data_job {
    const struct spec *spec;
    const struct fetch_options *fetch;
    struct data_split *out;
    double seconds;
    struct err e;
};

static void *load_data(void *arg)
{
    struct data_job *j = arg;
    double t0 = clock_seconds();
    dataset_open(&j->spec->data, j->spec->seed, j->fetch, j->out, &j->e);
    j->seconds = clock_seconds() - t0;
    return NULL;
}

int experiment_open(struct experiment *x, const struct run_options *o, struct err *e)
{
    memset(x, 0, sizeof *x);
    if (spec_load(&x->spec, o->spec_path, o->sets, o->n_sets, e))
        return e->code;
    if (o->device) /* the flag gets the same check as the spec key */
        snprintf(x->spec.device, sizeof x->spec.device, "%s", o->device);

    /* Reading and inflating the data and starting a GPU (context, cuBLAS)
     * each take a few hundred milliseconds and need nothing of each other:
     * the data loads on a thread of its own while this one starts the
     * device, which stays on the thread that uses it. */
    struct data_job job = {.spec = &x->spec, .fetch = &o->fetch, .out = &x->data};
    pthread_t loader;
    bool threaded = !pthread_create(&loader, NULL, load_data, &job);
    if (!threaded)
        load_data(&job);
    double t0 = clock_seconds();
    struct err device_err = {0};
    cpu_threads_set(o->threads);
    x->be = backend_select(x->spec.device, (struct gemm_precision){.tf32 = x->spec.tf32, .cpu_bf16 = x->spec.cpu_bf16},
                           &device_err);
    x->device_seconds = clock_seconds() - t0;
    if (threaded)
        pthread_join(loader, NULL);
    x->data_seconds = job.seconds;

    if (job.e.code) /* a data error first, as when one came after the other */
        *e = job.e;
    else if (!spec_check_fit(&x->spec, (int)x->data.train.d, x->data.train.n_classes, x->data.train.y_width, e))
        *e = device_err;
    return e->code;
}

void notice_checkpoints_unkept(int checkpoint_every, const char *why)
{
    if (checkpoint_every && comm_rank() == 0)
        fprintf(stderr, "notice: train.checkpoint_every %d: %s\n", checkpoint_every, why);
}

void experiment_print_timing(const struct experiment *x, const char *work, double work_seconds, double started)
{
    fprintf(stderr,
            "timing: data %.3f s and device %.3f s side by side, %s %.3f s; %.3f s since the command started\n",
            x->data_seconds, x->device_seconds, work, work_seconds, clock_seconds() - started);
    const int *uses = x->data.raw_cache_uses;
    if (uses[RAW_CACHE_READ] + uses[RAW_CACHE_WRITTEN] + uses[RAW_CACHE_UNWRITABLE] + uses[RAW_CACHE_NONE])
        fprintf(stderr,
                "timing: compressed data files: %d read from their raw cache, %d inflated and cached, %d inflated "
                "(raw cache not writable), %d inflated (no verified stamp)\n",
                uses[RAW_CACHE_READ], uses[RAW_CACHE_WRITTEN], uses[RAW_CACHE_UNWRITABLE], uses[RAW_CACHE_NONE]);
}

void experiment_close(struct experiment *x)
{
    if (x->be)
        x->be->destroy(x->be);
    data_split_free(&x->data);
    memset(x, 0, sizeof *x);
}
